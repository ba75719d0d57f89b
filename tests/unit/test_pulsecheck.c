/* The pulsecheck driver (an A.P.E pulseCheck-style SCPI autocorrelator over
 * TCP) against a scripted loopback instrument (support/scpi_peer.h): the
 * identity and traces in both wire forms with averaging, SCPI errors,
 * garbage and short answers, silence, a hang-up, its options, the example
 * lab file, and a fault through the safety supervisor. Each script checks
 * every line the driver sends; every wait is bounded. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scpi_peer.h"
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/supervisor.h"
#include "shp/yamlfile.h"
#include "test_check.h"

#define TIMEOUT_S 0.2
#define IDN_REPLY "A.P.E,pulseCheck NX,S09797,1.2.3\n"
#define IDN                                                                    \
  { "*IDN?\r\n", IDN_REPLY, 0, SCPI_PEER_ANSWER }
#define NX_QUERY "CALCULATE:DATA:ALL?\r\n"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- building answers ----------------------------------------------------
 */

/* An IEEE 488.2 block "#<n><len>" of the values as IEEE 754 reals of width
 * 4 or 8, least significant byte first unless big, then LF. Returns the
 * length. */
static size_t block_of(uint8_t *out, size_t size, const double *v, size_t n,
                       size_t width, bool big) {
  char head[16];
  int h = snprintf(head, sizeof head, "#%d%zu",
                   snprintf(NULL, 0, "%zu", n * width), n * width);
  assert_true((size_t)h + n * width + 1 <= size);
  memcpy(out, head, (size_t)h);
  uint8_t *p = out + h;
  for (size_t i = 0; i < n; i++, p += width) {
    uint8_t bytes[8];
    if (width == 4) {
      float f = (float)v[i];
      memcpy(bytes, &f, 4);
    } else {
      memcpy(bytes, &v[i], 8);
    }
    /* The host is little-endian (x86, arm64); big reverses. */
    for (size_t k = 0; k < width; k++)
      p[k] = bytes[big ? width - 1 - k : k];
  }
  *p++ = '\n';
  return (size_t)(p - out);
}

/* ---- a driver on a scripted peer ---------------------------------------- */

typedef struct {
  scpi_peer *peer;
  shp_yaml *yaml;
  shp_clock *clock;
  shp_device *dev;
  shp_connection conn;
  double delay[64], signal[64];
  shp_trace trace;
} rig;

static const shp_driver *driver(void) {
  const shp_driver *d = shp_hw_driver_find("pulsecheck");
  assert_non_null(d);
  return d;
}

/* Start the peer on steps and open the driver with options (YAML flow
 * text, NULL for none) and connection kind; returns open's code. */
static int rig_open_kind(rig *r, const scpi_peer_step *steps, size_t n,
                         const char *options, const char *kind) {
  char text[1024];
  memset(r, 0, sizeof *r);
  r->peer = scpi_peer_start(steps, n);
  assert_non_null(r->peer);
  snprintf(text, sizeof text, "options: %s\n", options ? options : "{}");
  r->yaml = shp_yaml_load_string("lab.yml", text, strlen(text));
  assert_non_null(r->yaml);
  r->clock = shp_clock_new_sim(0);
  r->conn = (shp_connection){.kind = kind,
                             .host = "127.0.0.1",
                             .tcp_port = scpi_peer_port(r->peer),
                             .timeout_s = TIMEOUT_S};
  r->trace = (shp_trace){
      .capacity = N_OF(r->delay), .delay_ps = r->delay, .signal = r->signal};
  shp_device_config cfg = {
      .connection = &r->conn,
      .clock = r->clock,
      .yaml = r->yaml,
      .options = options
                     ? shp_yaml_get(r->yaml, shp_yaml_root(r->yaml), "options")
                     : NULL,
      .options_ctx = "autocorrelator"};
  return driver()->open(&cfg, &r->dev);
}

static int rig_open(rig *r, const scpi_peer_step *steps, size_t n,
                    const char *options) {
  return rig_open_kind(r, steps, n, options, "tcp");
}

/* Close the driver, then check the peer saw exactly its script. */
static void rig_close(rig *r) {
  char why[512];
  if (r->dev != NULL)
    driver()->close(r->dev);
  bool ok = scpi_peer_stop(r->peer, why, sizeof why);
  shp_yaml_free(r->yaml);
  shp_clock_free(r->clock);
  if (!ok)
    fail_msg("peer: %s", why);
}

static void open_ok(rig *r, const scpi_peer_step *steps, size_t n,
                    const char *options) {
  if (rig_open(r, steps, n, options) != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
}

/* The port's name as the driver's messages start with it. */
static const char *port_name(const rig *r) {
  static char name[64];
  snprintf(name, sizeof name, "tcp 127.0.0.1:%d", r->conn.tcp_port);
  return name;
}

/* ---- traces ------------------------------------------------------------- */

/* Three float32 blocks of (delay, signal) pairs, the NX default, averaged
 * in the driver: the delay axis is the instrument's, the signal the mean,
 * and the scans are scan_interval_s apart on the device's clock. */
static void test_pulsecheck_nx_block_pairs_are_averaged(void **state) {
  static const double scans[3][8] = {{-1.5, 1, -0.5, 2, 0.5, 3, 1.5, 4},
                                     {-1.5, 3, -0.5, 4, 0.5, 5, 1.5, 6},
                                     {-1.5, 2, -0.5, 3, 0.5, 4, 1.5, 5}};
  uint8_t b[3][128];
  scpi_peer_step steps[4] = {IDN};
  for (int i = 0; i < 3; i++)
    steps[i + 1] = (scpi_peer_step){NX_QUERY, b[i],
                                    block_of(b[i], 128, scans[i], 8, 4, false),
                                    SCPI_PEER_ANSWER};
  rig r;
  open_ok(&r, steps, 4, "{scan_interval_s: 0.5}");
  double t0 = shp_clock_now_s(r.clock);
  assert_int_equal(driver()->acquire(r.dev, 3, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 4);
  static const double delay[4] = {-1.5, -0.5, 0.5, 1.5};
  static const double mean[4] = {2, 3, 4, 5};
  for (int k = 0; k < 4; k++) {
    assert_close(r.delay[k], delay[k], 0);
    assert_close(r.signal[k], mean[k], 1e-12);
  }
  /* Two waits between three scans. */
  assert_close(shp_clock_now_s(r.clock) - t0, 1.0, 1e-9);
  rig_close(&r);
}

/* pulseLink: float64 pairs; when the instrument averages, one query of
 * the displayed trace whatever the count asked. A falling delay axis is
 * returned rising, each point with its own signal. */
static void test_pulsecheck_pulselink_instrument_averages_once(void **state) {
  static const double pairs[10] = {2, 0.1, 1, 0.5, 0, 1, -1, 0.5, -2, 0.2};
  uint8_t b[256];
  scpi_peer_step steps[2] = {IDN,
                             {":ACF:DACF?\r\n", b,
                              block_of(b, sizeof b, pairs, 10, 8, false),
                              SCPI_PEER_ANSWER}};
  rig r;
  open_ok(&r, steps, 2,
          "{firmware: pulselink, instrument_averages: true, delay_unit: fs}");
  assert_int_equal(driver()->acquire(r.dev, 8, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 5);
  static const double signal[5] = {0.2, 0.5, 1, 0.5, 0.1};
  for (int k = 0; k < 5; k++) {
    assert_close(r.delay[k], (k - 2) * 1e-3, 1e-15); /* fs to ps */
    assert_close(r.signal[k], signal[k], 0);
  }
  rig_close(&r);
}

/* Big-endian float64 pairs from a query of the lab's choosing. */
static void test_pulsecheck_big_endian_block_and_own_query(void **state) {
  static const double pairs[6] = {-0.25, 7.5, 0, 9.25, 0.25, 7.5};
  uint8_t b[128];
  scpi_peer_step steps[2] = {IDN,
                             {"TRAC:DATA? ACF\r\n", b,
                              block_of(b, sizeof b, pairs, 6, 8, true),
                              SCPI_PEER_ANSWER}};
  rig r;
  open_ok(&r, steps, 2,
          "{trace_query: 'TRAC:DATA? ACF', block_type: float64, "
          "byte_order: big}");
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 3);
  assert_close(r.delay[0], -0.25, 0);
  assert_close(r.signal[1], 9.25, 0);
  assert_close(r.signal[2], 7.5, 0);
  rig_close(&r);
}

/* ASCII signal-only traces over LF: the delay axis spans the queried scan
 * range (15000 fs, answered as a block holding the text) centred on zero;
 * every trace is followed by an error query, which is also drained at
 * open. */
static void test_pulsecheck_ascii_signal_with_scan_range(void **state) {
  static const char range_block[] = "#15"
                                    "15000";
  scpi_peer_step steps[] = {
      {"*IDN?\n", IDN_REPLY, 0, SCPI_PEER_ANSWER},
      {"SYST:ERR?\n", "-410,\"Query INTERRUPTED\"\n", 0, SCPI_PEER_ANSWER},
      {"SYST:ERR?\n", "+0,\"No error\"\n", 0, SCPI_PEER_ANSWER},
      {":MOTOR:SCANRANGE?\n", range_block, 0, SCPI_PEER_ANSWER},
      {":ACF:TRACE?\n", "0.0,1.0,4.0,1.0,0.0\n", 0, SCPI_PEER_ANSWER},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, SCPI_PEER_ANSWER},
      {":ACF:TRACE?\n", " 0 , 3E0,6.0e+00,3,2\r\n", 0, SCPI_PEER_ANSWER},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, SCPI_PEER_ANSWER},
  };
  rig r;
  open_ok(&r, steps, N_OF(steps),
          "{trace_query: ':ACF:TRACE?', trace_format: ascii, layout: signal, "
          "scan_range_query: ':MOTOR:SCANRANGE?', error_query: 'SYST:ERR?', "
          "line_end: lf, scan_interval_s: 0}");
  assert_int_equal(driver()->acquire(r.dev, 2, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 5);
  static const double delay[5] = {-7.5, -3.75, 0, 3.75, 7.5};
  static const double mean[5] = {0, 2, 5, 2, 1};
  for (int k = 0; k < 5; k++) {
    assert_close(r.delay[k], delay[k], 1e-12);
    assert_close(r.signal[k], mean[k], 1e-12);
  }
  rig_close(&r);
}

/* NUL bytes in text answers are dropped, as A.P.E's example client does
 * (ape_device.py, receive()): a scan range ended C-style, a NUL arriving
 * before the next answer, NULs inside and after an ASCII trace. Before,
 * each was a protocol error ("expected a number"). */
static void test_pulsecheck_nul_bytes_in_text_answers_are_ignored(void **s) {
  static const char range[] = "15000\0\n";
  static const char trace1[] = "\0"
                               "0.0,1.0,\0"
                               "4.0,1.0,0.0\0\n";
  static const char trace2[] = "0,3,6,3,2\n\0";
  scpi_peer_step steps[] = {
      {"*IDN?\n", IDN_REPLY, 0, SCPI_PEER_ANSWER},
      {":MOTOR:SCANRANGE?\n", range, sizeof range - 1, SCPI_PEER_ANSWER},
      {":ACF:TRACE?\n", trace1, sizeof trace1 - 1, SCPI_PEER_ANSWER},
      {":ACF:TRACE?\n", trace2, sizeof trace2 - 1, SCPI_PEER_ANSWER},
  };
  rig r;
  open_ok(&r, steps, N_OF(steps),
          "{trace_query: ':ACF:TRACE?', trace_format: ascii, layout: signal, "
          "scan_range_query: ':MOTOR:SCANRANGE?', line_end: lf, "
          "scan_interval_s: 0}");
  assert_int_equal(driver()->acquire(r.dev, 2, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 5);
  static const double delay[5] = {-7.5, -3.75, 0, 3.75, 7.5};
  static const double mean[5] = {0, 2, 5, 2, 1};
  for (int k = 0; k < 5; k++) {
    assert_close(r.delay[k], delay[k], 1e-12);
    assert_close(r.signal[k], mean[k], 1e-12);
  }
  rig_close(&r);
}

/* A fixed scan range instead of a query, and a trace of more points than
 * the caller has room for (SHP_ERR_RANGE). */
static void test_pulsecheck_fixed_scan_range_and_capacity(void **state) {
  scpi_peer_step steps[] = {
      IDN,
      {NX_QUERY, "1,2,3\n", 0, SCPI_PEER_ANSWER},
      {NX_QUERY, "1,2,3,4\n", 0, SCPI_PEER_ANSWER},
  };
  rig r;
  open_ok(&r, steps, N_OF(steps),
          "{trace_format: ascii, layout: signal, scan_range_ps: 4}");
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_OK);
  assert_int_equal(r.trace.count, 3);
  assert_close(r.delay[0], -2.0, 1e-12);
  assert_close(r.delay[2], 2.0, 1e-12);
  r.trace.capacity = 3;
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_RANGE);
  assert_error_has(SHP_ERR_RANGE, port_name(&r), "4 points, room for 3");
  assert_int_equal(r.trace.count, 0);
  rig_close(&r);
}

/* ---- SCPI errors -------------------------------------------------------- */

static void test_pulsecheck_scpi_error_after_a_trace(void **state) {
  static const double pairs[4] = {0, 1, 1, 2};
  uint8_t b[64];
  scpi_peer_step steps[] = {
      IDN,
      {"SYST:ERR?\r\n", "0,\"No error\"\n", 0, SCPI_PEER_ANSWER},
      {NX_QUERY, b, block_of(b, sizeof b, pairs, 4, 4, false),
       SCPI_PEER_ANSWER},
      {"SYST:ERR?\r\n", "-222,\"Data out of range\"\n", 0, SCPI_PEER_ANSWER},
  };
  rig r;
  open_ok(&r, steps, N_OF(steps), "{error_query: 'SYST:ERR?'}");
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, port_name(&r),
                   "instrument error -222, \"Data out of range\" (SYST:ERR? "
                   "after CALCULATE:DATA:ALL?)");
  assert_int_equal(r.trace.count, 0);
  rig_close(&r);
}

/* An error line where the trace should be, in either form. */
static void test_pulsecheck_scpi_error_instead_of_a_trace(void **state) {
  const char *forms[2] = {"{}", "{trace_format: ascii}"};
  for (int i = 0; i < 2; i++) {
    scpi_peer_step steps[] = {
        IDN,
        {NX_QUERY, "-113,\"Undefined header\"\r\n", 0, SCPI_PEER_ANSWER},
    };
    rig r;
    open_ok(&r, steps, N_OF(steps), forms[i]);
    assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_PROTOCOL);
    assert_error_has(SHP_ERR_PROTOCOL, port_name(&r),
                     "CALCULATE:DATA:ALL?: the instrument answered error "
                     "-113, \"Undefined header\"");
    rig_close(&r);
  }
}

/* ---- garbage and short answers ------------------------------------------ */

typedef struct {
  const char *what, *options;
  const void *reply;
  size_t len; /* 0: strlen */
  const char *message;
} bad_case;

static void expect_protocol_error(const bad_case *c) {
  scpi_peer_step steps[] = {IDN,
                            {NX_QUERY, c->reply, c->len, SCPI_PEER_ANSWER}};
  rig r;
  open_ok(&r, steps, N_OF(steps), c->options);
  double t0 = now_s();
  int rc = driver()->acquire(r.dev, 1, &r.trace);
  double took = now_s() - t0;
  if (rc != SHP_ERR_PROTOCOL)
    fail_msg("%s: got %s (%s)", c->what, shp_error_name(rc),
             shp_error_detail());
  if (strstr(shp_error_detail(), c->message) == NULL ||
      strstr(shp_error_detail(), port_name(&r)) == NULL)
    fail_msg("%s: message \"%s\" lacks \"%s\"", c->what, shp_error_detail(),
             c->message);
  /* Bounded: at most one timeout (the rest of an answer without its line
   * end is waited for, the message shows it). */
  assert_true(took < TIMEOUT_S + 0.3);
  assert_int_equal(r.trace.count, 0);
  rig_close(&r);
}

static void test_pulsecheck_garbage_and_short_answers(void **state) {
  uint8_t odd[64], one[64], partial[64], nan_block[64], zigzag[64], huge[32];
  static const double v3[3] = {0, 1, 2}, v2[2] = {0, 1};
  static const double zz[6] = {0, 1, 1, 1, 0.5, 1};
  double nan_pairs[4] = {0, 1, 1, NAN};
  size_t n_odd = block_of(odd, 64, v3, 3, 4, false);
  size_t n_one = block_of(one, 64, v2, 2, 4, false);
  size_t n_nan = block_of(nan_block, 64, nan_pairs, 4, 4, false);
  size_t n_zz = block_of(zigzag, 64, zz, 6, 4, false);
  /* 12 bytes: one and a half float64 values. */
  memcpy(partial, "#212", 4);
  memset(partial + 4, 0x3f, 12);
  partial[16] = '\n';
  /* A block larger than any trace: refused before it is read. */
  int n_huge = snprintf((char *)huge, sizeof huge, "#9100000000");
  const bad_case cases[] = {
      {"text", "{}", "garbage\n", 0,
       "expected an IEEE 488.2 block ('#'), "
       "got 'garbage'"},
      {"text without a line end", "{}", "\x1b[?", 0,
       "expected an IEEE 488.2 block ('#'), got '.'"},
      {"bad digit count", "{}", "#Z12\n", 0, "non-numeric digit count"},
      {"indefinite block", "{}", "#0abc\n", 0, "indefinite-length block"},
      {"bad length digit", "{}", "#2x4abcd\n", 0, "non-numeric length digit"},
      {"huge block", "{}", huge, (size_t)n_huge,
       "a block of 100000000 bytes, more than"},
      {"partial value", "{block_type: float64}", partial, 17,
       "12 bytes is not a whole number of 8-byte values"},
      {"odd value count", "{}", odd, n_odd, "3 values, not delay and signal"},
      {"single point", "{}", one, n_one, "a trace of 1 point, at least 2"},
      {"not finite", "{}", nan_block, n_nan, "value 4 is not finite"},
      {"not monotonic", "{}", zigzag, n_zz,
       "the delay axis is not monotonic at point 2"},
      {"ascii empty field", "{trace_format: ascii}", "1.0,,2.0\n", 0,
       "field 2 is empty"},
      {"ascii garbage", "{trace_format: ascii}", "1.0,2.0,abc,4\n", 0,
       "field 3: non-numeric field 'abc'"},
      {"ascii nan", "{trace_format: ascii}", "0,9.91E37,1,2\n", 0,
       "no valid value"},
      {"ascii got a block", "{trace_format: ascii}", odd, n_odd,
       "got an IEEE 488.2 block"},
  };
  for (size_t i = 0; i < N_OF(cases); i++)
    expect_protocol_error(&cases[i]);
}

/* A second scan whose delay axis moved (the scan range was changed at the
 * instrument mid-average) is not averaged in. */
static void test_pulsecheck_changed_axis_between_scans(void **state) {
  static const double s1[4] = {0, 1, 1, 2}, s2[4] = {0, 1, 2, 2};
  static const double s3[6] = {0, 1, 1, 2, 2, 3};
  uint8_t b1[64], b2[64], b3[64];
  scpi_peer_step steps[] = {
      IDN,
      {NX_QUERY, b1, block_of(b1, 64, s1, 4, 4, false), SCPI_PEER_ANSWER},
      {NX_QUERY, b2, block_of(b2, 64, s2, 4, 4, false), SCPI_PEER_ANSWER},
      {NX_QUERY, b1, block_of(b1, 64, s1, 4, 4, false), SCPI_PEER_ANSWER},
      {NX_QUERY, b3, block_of(b3, 64, s3, 6, 4, false), SCPI_PEER_ANSWER},
  };
  rig r;
  open_ok(&r, steps, N_OF(steps), "{scan_interval_s: 0}");
  assert_int_equal(driver()->acquire(r.dev, 2, &r.trace), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, "the delay axis changed between scans");
  assert_int_equal(driver()->acquire(r.dev, 2, &r.trace), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, "scan 2 has 3 points, the first had 2");
  rig_close(&r);
}

/* ---- silence and hang-ups ----------------------------------------------- */

static void check_took_one_timeout(double took) {
  if (!(took >= TIMEOUT_S - 0.005 && took < TIMEOUT_S + 0.3))
    fail_msg("took %.3f s for a timeout of %g s", took, TIMEOUT_S);
}

static void test_pulsecheck_silent_instrument_times_out(void **state) {
  /* Nothing at all after the query. */
  scpi_peer_step silent[] = {IDN, {NX_QUERY, NULL, 0, SCPI_PEER_SILENT}};
  rig r;
  open_ok(&r, silent, N_OF(silent), NULL);
  double t0 = now_s();
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_TIMEOUT);
  check_took_one_timeout(now_s() - t0);
  assert_error_has(SHP_ERR_TIMEOUT, port_name(&r), "CALCULATE:DATA:ALL?");
  rig_close(&r);

  /* A block cut short, then silence. */
  static const char cut[] = "#216\x00\x00\x80\x3f";
  scpi_peer_step stalled[] = {
      IDN, {NX_QUERY, cut, sizeof cut - 1, SCPI_PEER_SILENT}};
  open_ok(&r, stalled, N_OF(stalled), NULL);
  t0 = now_s();
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_TIMEOUT);
  check_took_one_timeout(now_s() - t0);
  assert_error_has(SHP_ERR_TIMEOUT, "4 of 16 bytes");
  rig_close(&r);

  /* No identity: the open fails. */
  scpi_peer_step mute[] = {{"*IDN?\r\n", NULL, 0, SCPI_PEER_SILENT}};
  t0 = now_s();
  assert_int_equal(rig_open(&r, mute, N_OF(mute), NULL), SHP_ERR_TIMEOUT);
  check_took_one_timeout(now_s() - t0);
  assert_error_has(SHP_ERR_TIMEOUT, port_name(&r), "*IDN?");
  rig_close(&r);
}

static void test_pulsecheck_closed_instrument_is_disconnected(void **state) {
  scpi_peer_step gone[] = {IDN, {NX_QUERY, NULL, 0, SCPI_PEER_CLOSE}};
  rig r;
  open_ok(&r, gone, N_OF(gone), NULL);
  double t0 = now_s();
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_DISCONNECTED);
  assert_true(now_s() - t0 < TIMEOUT_S); /* at once, not a timeout */
  assert_error_has(SHP_ERR_DISCONNECTED, port_name(&r));
  rig_close(&r);

  /* Half a block, then the connection closes. */
  static const char cut[] = "#216\x00\x00\x80\x3f\x00\x00";
  scpi_peer_step cut_off[] = {IDN,
                              {NX_QUERY, cut, sizeof cut - 1, SCPI_PEER_CLOSE}};
  open_ok(&r, cut_off, N_OF(cut_off), NULL);
  t0 = now_s();
  assert_int_equal(driver()->acquire(r.dev, 1, &r.trace), SHP_ERR_DISCONNECTED);
  assert_true(now_s() - t0 < TIMEOUT_S);
  rig_close(&r);
}

/* ---- options ------------------------------------------------------------ */

/* Options are checked before anything is sent: the peer sees no line. */
static void expect_option_error(const char *options, int code,
                                const char *message) {
  rig r;
  assert_int_equal(rig_open(&r, NULL, 0, options), code);
  assert_error_is(code, message);
  rig_close(&r);
}

static void test_pulsecheck_options_are_checked(void **state) {
  expect_option_error("{colour: blue}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.colour: unknown key");
  expect_option_error("{trace_format: csv}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.trace_format: "
                      "expected block or ascii, got \"csv\"");
  expect_option_error("{firmware: mini}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.firmware: expected "
                      "nx or pulselink, got \"mini\"");
  expect_option_error("{delay_unit: min}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.delay_unit: "
                      "expected fs, ps, ns or s, got \"min\"");
  expect_option_error("{layout: signal}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.layout: signal "
                      "needs either scan_range_query or scan_range_ps");
  expect_option_error("{layout: signal, scan_range_ps: 5, "
                      "scan_range_query: 'R?'}",
                      SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.layout: signal "
                      "needs either scan_range_query or scan_range_ps");
  expect_option_error("{scan_range_ps: 10}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.scan_range_ps: "
                      "only used with layout: signal");
  expect_option_error("{layout: signal, scan_range_ps: 5, "
                      "scan_range_unit: fs}",
                      SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.scan_range_unit: "
                      "only used with scan_range_query");
  expect_option_error("{trace_format: ascii, block_type: float64}",
                      SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.block_type: only "
                      "used with trace_format: block");
  expect_option_error("{layout: signal, scan_range_ps: 1e-300}", SHP_ERR_RANGE,
                      "lab.yml:1: autocorrelator.options.scan_range_ps: "
                      "must be >= 0.01 and <= 1e+06, got 1e-300");
  expect_option_error("{layout: signal, scan_range_ps: 1e300}", SHP_ERR_RANGE,
                      "lab.yml:1: autocorrelator.options.scan_range_ps: "
                      "must be > 0 and <= 1e+06, got 1e+300");
  expect_option_error("{scan_interval_s: -1}", SHP_ERR_RANGE,
                      "lab.yml:1: autocorrelator.options.scan_interval_s: "
                      "must be >= 0 and <= 60, got -1");
  expect_option_error("{trace_query: \"CALC\\tDATA?\"}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options.trace_query: must "
                      "be 1 to 127 printable characters");
  expect_option_error("{instrument_averages: maybe}", SHP_ERR_PARSE,
                      "lab.yml:1: autocorrelator.options."
                      "instrument_averages: expected true or false, got "
                      "\"maybe\"");
  rig r;
  assert_int_equal(rig_open_kind(&r, NULL, 0, NULL, "tty"), SHP_ERR_INVALID);
  assert_error_is(SHP_ERR_INVALID, "pulsecheck: needs a tcp connection "
                                   "(kind: tcp, host, tcp_port), got kind "
                                   "\"tty\"");
  rig_close(&r);
}

/* ---- lab files ---------------------------------------------------------- */

/* The example lab loads, names this driver, and its options open a device
 * (here on the loopback peer instead of the lab's address) that acquires. */
static void test_pulsecheck_example_lab_parses_and_opens(void **state) {
  shp_lab *lab =
      shp_lab_load(SHP_SOURCE_DATADIR "/examples/labs/fan4-pulsecheck.yml");
  if (lab == NULL)
    fail_msg("%s", shp_error_detail());
  const shp_lab_autocorrelator *a = &lab->autocorrelator;
  assert_string_equal(a->driver->name, "pulsecheck");
  assert_string_equal(a->connection.kind, "tcp");
  assert_int_equal(a->connection.tcp_port, 5025);
  static const double pairs[4] = {-1, 0.5, 1, 0.25};
  uint8_t b[64];
  size_t n = block_of(b, sizeof b, pairs, 4, 4, false);
  scpi_peer_step steps[] = {IDN,
                            {NX_QUERY, b, n, SCPI_PEER_ANSWER},
                            {NX_QUERY, b, n, SCPI_PEER_ANSWER}};
  scpi_peer *peer = scpi_peer_start(steps, N_OF(steps));
  assert_non_null(peer);
  shp_connection c = a->connection;
  c.host = "127.0.0.1";
  c.tcp_port = scpi_peer_port(peer);
  shp_clock *clock = shp_clock_new_sim(0);
  shp_device_config cfg = {.connection = &c,
                           .clock = clock,
                           .yaml = lab->yaml,
                           .options = a->options,
                           .options_ctx = "autocorrelator",
                           .lab = lab};
  shp_device *dev = NULL;
  if (driver()->open(&cfg, &dev) != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  double delay[8], signal[8];
  shp_trace t = {.capacity = 8, .delay_ps = delay, .signal = signal};
  assert_int_equal(driver()->acquire(dev, 2, &t), SHP_OK);
  assert_int_equal(t.count, 2);
  assert_close(signal[1], 0.25, 0);
  driver()->close(dev);
  char why[512];
  if (!scpi_peer_stop(peer, why, sizeof why))
    fail_msg("peer: %s", why);
  shp_clock_free(clock);
  shp_lab_free(lab);
}

/* ---- through the safety supervisor -------------------------------------- */

typedef struct {
  size_t n, faults, holds, setpoints_after_fault;
  bool faulted;
  double last_setpoint_c[4];
} journal;

static void record(const shp_sup_event *e, void *user) {
  journal *j = user;
  j->n++;
  if (e->kind == SHP_SUP_FAULT) {
    j->faults++;
    j->faulted = true;
  }
  j->holds += e->kind == SHP_SUP_HOLD && e->code == SHP_OK;
  if (e->kind == SHP_SUP_SETPOINT) {
    j->setpoints_after_fault += j->faulted;
    if (e->crystal >= 0 && e->crystal < 4)
      j->last_setpoint_c[e->crystal] = e->value_c;
  }
}

/* A lab of four sim ovens and this autocorrelator, in a fresh directory. */
static char *write_lab(char *dir, int port) {
  char *path = malloc(strlen(dir) + 16), text[4096];
  int len = snprintf(text, sizeof text,
                     "stack: %s/examples/stacks/fan4.yml\novens:\n",
                     SHP_SOURCE_DATADIR);
  for (int i = 0; i < 4; i++)
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "  - {driver: sim, connection: {kind: sim}, channel: %d, "
                    "min_c: 20.0, max_c: 120.0, max_ramp_k_per_min: 6.0, "
                    "settle_tolerance_k: 0.05, settle_time_s: 20.0}\n",
                    i);
  snprintf(text + len, sizeof text - (size_t)len,
           "autocorrelator:\n  driver: pulsecheck\n"
           "  connection: {kind: tcp, host: 127.0.0.1, tcp_port: %d, "
           "timeout_s: %g}\n"
           "  averages: 2\n"
           "  delay_calibration: {scale: 2.0, offset_ps: 0.5}\n"
           "  options: {scan_interval_s: 0}\n"
           "sim:\n  speedup: 0\n  sensor_noise_k: 0\n  time_constant_s: 30\n",
           port, TIMEOUT_S);
  sprintf(path, "%s/lab.yml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

static void test_pulsecheck_fault_latches_and_ovens_hold(void **state) {
  static const double s1[6] = {-1, 1, 0, 3, 1, 1}, s2[6] = {-1, 3, 0, 5, 1, 3};
  uint8_t b1[64], b2[64];
  scpi_peer_step steps[] = {
      IDN,
      {NX_QUERY, b1, block_of(b1, 64, s1, 6, 4, false), SCPI_PEER_ANSWER},
      {NX_QUERY, b2, block_of(b2, 64, s2, 6, 4, false), SCPI_PEER_ANSWER},
      {NX_QUERY, "\x1b#?~\n", 0, SCPI_PEER_ANSWER},
  };
  scpi_peer *peer = scpi_peer_start(steps, N_OF(steps));
  assert_non_null(peer);
  char dir[] = "/tmp/shp-pulsecheck-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *path = write_lab(dir, scpi_peer_port(peer));
  shp_lab *lab = shp_lab_load(path);
  if (lab == NULL)
    fail_msg("%s", shp_error_detail());
  shp_clock *clock = shp_clock_new_sim(0);
  journal j = {0};
  shp_supervisor *sup = shp_supervisor_open(lab, clock, record, &j);
  if (sup == NULL)
    fail_msg("%s", shp_error_detail());

  /* A good acquisition: averaged in the driver, calibrated on top. */
  const shp_trace *tr;
  assert_int_equal(shp_supervisor_acquire(sup, 0, &tr), SHP_OK);
  assert_int_equal(tr->count, 3);
  static const double delay[3] = {-1.5, 0.5, 2.5}, mean[3] = {2, 4, 2};
  for (int k = 0; k < 3; k++) {
    assert_close(tr->delay_ps[k], delay[k], 1e-12);
    assert_close(tr->signal[k], mean[k], 1e-12);
  }
  /* Crystal 0 on its way to 80 C, then garbage from the autocorrelator. */
  assert_int_equal(shp_supervisor_request(sup, 0, 80.0), SHP_OK);
  for (int i = 0; i < 5; i++) {
    shp_clock_sleep_s(clock, 1.0);
    assert_int_equal(shp_supervisor_step(sup), SHP_OK);
  }
  shp_clock_sleep_s(clock, 1.0);
  assert_int_equal(shp_supervisor_acquire(sup, 1, &tr), SHP_ERR_PROTOCOL);
  const shp_sup_fault *f = shp_supervisor_fault(sup);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_PROTOCOL);
  assert_int_equal(f->crystal, -1);
  char want[96];
  snprintf(want, sizeof want,
           "autocorrelator: tcp 127.0.0.1:%d: ", scpi_peer_port(peer));
  if (strstr(f->message, want) == NULL)
    fail_msg("fault \"%s\" lacks \"%s\"", f->message, want);
  assert_int_equal(j.faults, 1);
  assert_int_equal(j.holds, 4);
  assert_int_equal(j.setpoints_after_fault, 0);
  /* The ovens keep their setpoints; crystal 0 where its ramp was. */
  double ramp_c = j.last_setpoint_c[0];
  assert_true(ramp_c > 66.7432 && ramp_c < 80.0);
  shp_clock_sleep_s(clock, 300.0);
  for (size_t i = 0; i < 4; i++) {
    shp_oven_status st;
    assert_int_equal(shp_supervisor_status(sup, i, &st), SHP_OK);
    assert_close(st.reading.setpoint_c, i == 0 ? ramp_c : 66.7432, 0);
  }
  /* Latched: nothing more reaches an oven or the autocorrelator. */
  assert_int_equal(shp_supervisor_request(sup, 1, 70.0), SHP_ERR_SAFETY);
  assert_int_equal(shp_supervisor_acquire(sup, 1, &tr), SHP_ERR_PROTOCOL);
  assert_int_equal(j.faults, 1);

  shp_supervisor_close(sup);
  char why[512];
  if (!scpi_peer_stop(peer, why, sizeof why))
    fail_msg("peer: %s", why);
  shp_clock_free(clock);
  shp_lab_free(lab);
  unlink(path);
  rmdir(dir);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pulsecheck_nx_block_pairs_are_averaged),
      cmocka_unit_test(test_pulsecheck_pulselink_instrument_averages_once),
      cmocka_unit_test(test_pulsecheck_big_endian_block_and_own_query),
      cmocka_unit_test(test_pulsecheck_ascii_signal_with_scan_range),
      cmocka_unit_test(test_pulsecheck_nul_bytes_in_text_answers_are_ignored),
      cmocka_unit_test(test_pulsecheck_fixed_scan_range_and_capacity),
      cmocka_unit_test(test_pulsecheck_scpi_error_after_a_trace),
      cmocka_unit_test(test_pulsecheck_scpi_error_instead_of_a_trace),
      cmocka_unit_test(test_pulsecheck_garbage_and_short_answers),
      cmocka_unit_test(test_pulsecheck_changed_axis_between_scans),
      cmocka_unit_test(test_pulsecheck_silent_instrument_times_out),
      cmocka_unit_test(test_pulsecheck_closed_instrument_is_disconnected),
      cmocka_unit_test(test_pulsecheck_options_are_checked),
      cmocka_unit_test(test_pulsecheck_example_lab_parses_and_opens),
      cmocka_unit_test(test_pulsecheck_fault_latches_and_ovens_hold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
