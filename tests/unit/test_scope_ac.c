/* The scope-ac driver (hardware/drivers/scope-ac) on a scripted oscilloscope
 * behind the USBTMC transfer seam (support/usbtmc_script.h): the Rigol
 * flavour with its trigger-status polling, the Keysight scope's own
 * averaging, malformed preambles and blocks, timeouts, and the option
 * errors. Keysight BYTE and WORD sessions against libusb under umockdev,
 * through the safety supervisor, are in test_usbtmc_drivers.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_check.h"
#include "usbtmc_script.h"

#include "protocol.h" /* hardware/drivers/scope-ac */
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/yamlfile.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME "usbtmc 0957:1745 MY00000001"
#define KEYSIGHT_IDN "KEYSIGHT TECHNOLOGIES,DSO-X 2002A,MY00000001,02.50\n"
#define RIGOL_IDN "RIGOL TECHNOLOGIES,DS1104Z,DS1ZA000000001,00.04.04\n"
#define NO_ERROR "+0,\"No error\"\n"

/* Opening a Keysight scope for BYTE transfers on channel 1, the driver
 * averaging. */
#define KEYSIGHT_BYTE_OPEN                                                     \
  {"*IDN?\n", KEYSIGHT_IDN, 0, 0}, {":WAV:SOUR CHAN1\n", NULL, 0, 0},          \
      {":WAV:FORM BYTE\n", NULL, 0, 0}, {":WAV:BYT MSBF\n", NULL, 0, 0},       \
      {":WAV:UNS 1\n", NULL, 0, 0}, {":WAV:POIN:MODE NORM\n", NULL, 0, 0},     \
      {":ACQ:TYPE NORM\n", NULL, 0, 0}, {                                      \
    "SYST:ERR?\n", NO_ERROR, 0, 0                                              \
  }

/* One Keysight acquisition up to the data query. */
#define KEYSIGHT_SCAN(preamble)                                                \
  {":DIG CHAN1\n", NULL, 0, 0}, {"*OPC?\n", "1\n", 0, 0}, {                    \
    ":WAV:PRE?\n", preamble, 0, 0                                              \
  }

#define BYTE_PRE_8                                                             \
  "+0,+0,+8,+1,+1.00000000E-05,-4.00000000E-05,+0,+4.00000000E-03,"            \
  "+1.00000000E-01,+128\n"

typedef struct {
  uint8_t bytes[96];
  size_t len;
} block;

/* "#9<nine digits><data>\n", as :WAV:DATA? answers. */
static block make_block(const uint8_t *data, size_t n) {
  block b;
  assert_true(n + 12 <= sizeof b.bytes);
  snprintf((char *)b.bytes, sizeof b.bytes, "#9%09zu", n);
  memcpy(b.bytes + 11, data, n);
  b.bytes[11 + n] = '\n';
  b.len = 12 + n;
  return b;
}

static const shp_driver *driver(void) {
  const shp_driver *d = shp_hw_driver_find("scope-ac");
  assert_non_null(d);
  return d;
}

static shp_device *open_on(scpi_fake *f, const scpi_step *steps, size_t n,
                           shp_clock *clock, double timeout_s,
                           scope_ac_options opt) {
  shp_device *dev = NULL;
  shp_usbtmc *c = scpi_fake_open(f, steps, n, NAME, timeout_s);
  int rc = scope_ac_device_new(c, clock, timeout_s, &opt, &dev);
  if (rc != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  return dev;
}

static const scope_ac_options keysight_byte = {
    .flavour = SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT,
    .channel = 1,
    .format = 0,
    .delay_ps_per_ms = 50.0};

typedef struct {
  double delay[16], signal[16];
  shp_trace t;
} trace_buf;

static void trace_init(trace_buf *b, size_t capacity) {
  b->t = (shp_trace){
      .capacity = capacity, .delay_ps = b->delay, .signal = b->signal};
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rigol, BYTE, channel 2, two scans averaged by the driver. Each scan arms
 * with :SING and polls :TRIG:STAT? on the lab clock until it has left STOP
 * and come back to it: the second scan's first STOP is the previous
 * acquisition's and is not taken. :WAV:STAR 1 and :WAV:STOP <points> set
 * the range :WAV:DATA? sends to the preamble's count. Volts by
 * Rigol's formula (code - yorigin - yreference) * yincrement =
 * (code - 130) * 0.02; time (i - 0) * 1e-4 s - 2e-4 s, so at 10 ps/ms the
 * delays are -2, -1, 0, 1, 2 ps. */
static void test_rigol_scans_are_polled_scaled_and_averaged(void **state) {
  static const uint8_t scan1[5] = {130, 140, 180, 140, 130};
  static const uint8_t scan2[5] = {130, 150, 170, 130, 120};
  static const char pre[] = "0,0,5,1,1.000000e-04,-2.000000e-04,0,"
                            "2.000000e-02,3,127\n";
  block b1 = make_block(scan1, 5), b2 = make_block(scan2, 5);
  const scpi_step steps[] = {
      {"*IDN?\n", RIGOL_IDN, 0, 0},
      {":WAV:SOUR CHAN2\n", NULL, 0, 0},
      {":WAV:MODE NORM\n", NULL, 0, 0},
      {":WAV:FORM BYTE\n", NULL, 0, 0},
      {":ACQ:TYPE NORM\n", NULL, 0, 0},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, 0},
      {":SING\n", NULL, 0, 0},
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
      {":TRIG:STAT?\n", "TD\n", 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":WAV:PRE?\n", pre, 0, 0},
      {":WAV:STAR 1\n", NULL, 0, 0},
      {":WAV:STOP 5\n", NULL, 0, 0},
      {":WAV:DATA?\n", b1.bytes, b1.len, 0},
      {":SING\n", NULL, 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":WAV:PRE?\n", pre, 0, 0},
      {":WAV:STAR 1\n", NULL, 0, 0},
      {":WAV:STOP 5\n", NULL, 0, 0},
      {":WAV:DATA?\n", b2.bytes, b2.len, 0},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, 0},
  };
  scope_ac_options opt = {.flavour = SHP_PROTO_SCPI_WAVEFORM_RIGOL,
                          .channel = 2,
                          .format = 0,
                          .delay_ps_per_ms = 10.0};
  shp_clock *clock = shp_clock_new_sim(0);
  scpi_fake f;
  shp_device *dev =
      open_on(&f, steps, sizeof steps / sizeof steps[0], clock, 1.0, opt);
  trace_buf t;
  trace_init(&t, 16);
  assert_int_equal(driver()->acquire(dev, 2, &t.t), SHP_OK);
  assert_int_equal(t.t.count, 5);
  const double delay[5] = {-2, -1, 0, 1, 2},
               volts[5] = {0, 0.3, 0.9, 0.1, -0.1};
  for (size_t i = 0; i < 5; i++) {
    assert_close(t.delay[i], delay[i], 1e-9);
    assert_close(t.signal[i], volts[i], 1e-12);
  }
  /* Sleeps of SCOPE_AC_POLL_S on the lab clock: after WAIT and TD, then
   * after the stale STOP and WAIT. */
  assert_close(shp_clock_now_s(clock), 4 * SCOPE_AC_POLL_S, 1e-12);
  scpi_fake_done(&f);
  driver()->close(dev);
  shp_clock_free(clock);
}

/* Keysight, WORD, the scope averaging 4 acquisitions itself: :ACQ:TYPE AVER
 * and :ACQ:COUN 4 are sent once, and the preamble must say average (type 2)
 * of 4. Volts (code - 32768) * 1e-4 - 0.5 from unsigned words, most
 * significant byte first; time (i - 2) * 2 us, at 250 ps/ms -1..0.5 ps. */
static void test_keysight_scope_averaging_is_set_once_and_checked(void **s) {
  static const uint8_t words[8] = {0x80, 0x00, 0x8F, 0xA0,
                                   0xA7, 0x10, 0x93, 0x88};
  static const char pre4[] = "+1,+2,+4,+4,+2.00000000E-06,+0.00000000E+00,+2,"
                             "+1.00000000E-04,-5.00000000E-01,+32768\n";
  static const char pre2[] = "+1,+2,+4,+2,+2.00000000E-06,+0.00000000E+00,+2,"
                             "+1.00000000E-04,-5.00000000E-01,+32768\n";
  block b = make_block(words, 8);
  const scpi_step steps[] = {
      {"*IDN?\n", KEYSIGHT_IDN, 0, 0},
      {":WAV:SOUR CHAN1\n", NULL, 0, 0},
      {":WAV:FORM WORD\n", NULL, 0, 0},
      {":WAV:BYT MSBF\n", NULL, 0, 0},
      {":WAV:UNS 1\n", NULL, 0, 0},
      {":WAV:POIN:MODE NORM\n", NULL, 0, 0},
      {"SYST:ERR?\n", NO_ERROR, 0, 0},
      {":ACQ:TYPE AVER\n", NULL, 0, 0},
      {":ACQ:COUN 4\n", NULL, 0, 0},
      {"SYST:ERR?\n", NO_ERROR, 0, 0},
      KEYSIGHT_SCAN(pre4),
      {":WAV:DATA?\n", b.bytes, b.len, 0},
      {"SYST:ERR?\n", NO_ERROR, 0, 0},
      /* The same count again: nothing re-sent; a preamble of 2 averages is
       * not what was asked for. */
      KEYSIGHT_SCAN(pre2),
  };
  scope_ac_options opt = {.flavour = SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT,
                          .channel = 1,
                          .format = 1,
                          .delay_ps_per_ms = 250.0,
                          .scope_averages = true};
  shp_clock *clock = shp_clock_new_sim(0);
  scpi_fake f;
  shp_device *dev =
      open_on(&f, steps, sizeof steps / sizeof steps[0], clock, 1.0, opt);
  trace_buf t;
  trace_init(&t, 16);
  assert_int_equal(driver()->acquire(dev, 4, &t.t), SHP_OK);
  assert_int_equal(t.t.count, 4);
  const double delay[4] = {-1.0, -0.5, 0.0, 0.5},
               volts[4] = {-0.5, -0.1, 0.5, 0.0};
  for (size_t i = 0; i < 4; i++) {
    assert_close(t.delay[i], delay[i], 1e-9);
    assert_close(t.signal[i], volts[i], 1e-12);
  }
  assert_int_equal(driver()->acquire(dev, 4, &t.t), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  NAME ": :WAV:PRE? gives 2 averages, 4 were set");
  scpi_fake_done(&f);
  driver()->close(dev);
  shp_clock_free(clock);
}

/* One Keysight BYTE acquisition of averages scans whose last steps are
 * given, failing with code and message. */
static void acquire_fails(const scpi_step *scan, size_t n, size_t averages,
                          size_t capacity, int code, const char *message) {
  scpi_step steps[24] = {KEYSIGHT_BYTE_OPEN};
  assert_true(8 + n <= 24);
  memcpy(steps + 8, scan, n * sizeof *scan);
  shp_clock *clock = shp_clock_new_sim(0);
  scpi_fake f;
  shp_device *dev = open_on(&f, steps, 8 + n, clock, 1.0, keysight_byte);
  trace_buf t;
  trace_init(&t, capacity);
  assert_int_equal(driver()->acquire(dev, averages, &t.t), code);
  assert_error_is(code, message);
  scpi_fake_done(&f);
  driver()->close(dev);
  shp_clock_free(clock);
}

static void test_malformed_blocks_are_protocol_errors(void **state) {
  static const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  block ok = make_block(eight, 8), six = make_block(eight, 6);
  /* A block cut short: the header announces 8 bytes, 4 arrive. */
  static const uint8_t cut[] = "#800000008\x80\x81\x82\x83";
  const scpi_step short_block[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                                   {":WAV:DATA?\n", cut, sizeof cut - 1, 0}};
  acquire_fails(short_block, 4, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:DATA?: ieee 488.2 block: truncated block: header "
                     "announces 8 bytes, 4 received");
  /* Indefinite length and a garbled prefix. */
  const scpi_step indefinite[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                                  {":WAV:DATA?\n", "#0\x01\x02\n", 5, 0}};
  acquire_fails(indefinite, 4, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:DATA?: ieee 488.2 block: indefinite-length block "
                     "(#0) is not supported");
  const scpi_step no_hash[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                               {":WAV:DATA?\n", "1.0,2.0\n", 0, 0}};
  acquire_fails(no_hash, 4, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:DATA?: ieee 488.2 block: unexpected prefix 0x31, "
                     "expected '#'");
  /* Fewer samples than the preamble's points, and bytes after the block. */
  const scpi_step few[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                           {":WAV:DATA?\n", six.bytes, six.len, 0}};
  acquire_fails(few, 4, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:DATA?: a block of 6 bytes, the preamble "
                     "announces 8 points of 1 bytes");
  uint8_t tail[32];
  memcpy(tail, ok.bytes, ok.len - 1);
  memcpy(tail + ok.len - 1, "XY\n", 3);
  const scpi_step trailing[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                                {":WAV:DATA?\n", tail, ok.len + 2, 0}};
  acquire_fails(trailing, 4, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:DATA?: 3 bytes after the block");
}

static void test_inconsistent_preambles_are_refused(void **state) {
  static const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  block ok = make_block(eight, 8);
  const scpi_step word[] = {
      KEYSIGHT_SCAN("+1,+0,+8,+1,+1.0E-05,-4.0E-05,+0,+4.0E-03,+0.1,+128\n")};
  acquire_fails(word, 3, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:PRE? gives format 1, but BYTE (0) was set up");
  const scpi_step peak[] = {
      KEYSIGHT_SCAN("+0,+1,+8,+1,+1.0E-05,-4.0E-05,+0,+4.0E-03,+0.1,+128\n")};
  acquire_fails(peak, 3, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:PRE? gives acquisition type 1, expected 0");
  const scpi_step nine_fields[] = {
      KEYSIGHT_SCAN("+0,+0,+8,+1,+1.0E-05,-4.0E-05,+0,+4.0E-03,+0.1\n")};
  acquire_fails(nine_fields, 3, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": :WAV:PRE?: scpi preamble: 9 fields, expected 10");
  /* The time base moved between the two scans of one average. */
  const scpi_step moved[] = {
      KEYSIGHT_SCAN(BYTE_PRE_8),
      {":WAV:DATA?\n", ok.bytes, ok.len, 0},
      KEYSIGHT_SCAN("+0,+0,+8,+1,+1.0E-05,-3.0E-05,+0,+4.0E-03,+0.1,+128\n"),
      {":WAV:DATA?\n", ok.bytes, ok.len, 0},
  };
  acquire_fails(moved, 8, 2, 16, SHP_ERR_PROTOCOL,
                NAME ": the time base changed between scans 1 and 2 (8 points "
                     "from -4e-05 s by 1e-05 s, then 8 from -3e-05 s by "
                     "1e-05 s)");
  /* More points than the caller's trace holds. */
  const scpi_step big[] = {KEYSIGHT_SCAN(BYTE_PRE_8),
                           {":WAV:DATA?\n", ok.bytes, ok.len, 0}};
  acquire_fails(big, 4, 1, 4, SHP_ERR_RANGE,
                NAME ": a scan of 8 points, the trace holds 4");
  /* An instrument error after the scans. */
  const scpi_step err[] = {
      KEYSIGHT_SCAN(BYTE_PRE_8),
      {":WAV:DATA?\n", ok.bytes, ok.len, 0},
      {"SYST:ERR?\n", "-230,\"Data corrupt or stale\"\n", 0, 0}};
  acquire_fails(err, 5, 1, 16, SHP_ERR_PROTOCOL,
                NAME ": acquiring the trace: the instrument reports error "
                     "-230 \"Data corrupt or stale\"");
}

/* No trigger: Keysight's *OPC? does not answer within the timeout; a Rigol
 * reports WAIT until the lab clock passes the timeout. */
static void test_no_trigger_times_out(void **state) {
  const scpi_step opc[] = {{":DIG CHAN1\n", NULL, 0, 0},
                           {"*OPC?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT}};
  scpi_step steps[10] = {KEYSIGHT_BYTE_OPEN};
  memcpy(steps + 8, opc, sizeof opc);
  shp_clock *clock = shp_clock_new_sim(0);
  scpi_fake f;
  const double timeout_s = 0.3;
  shp_device *dev = open_on(&f, steps, 10, clock, timeout_s, keysight_byte);
  trace_buf t;
  trace_init(&t, 16);
  double t0 = now_s();
  assert_int_equal(driver()->acquire(dev, 1, &t.t), SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= timeout_s - 0.02 && took < 2 * timeout_s + 0.2);
  assert_error_has(SHP_ERR_TIMEOUT, NAME ": reading a reply: no answer");
  scpi_fake_done(&f);
  driver()->close(dev);

  const scpi_step rigol[] = {
      {"*IDN?\n", RIGOL_IDN, 0, 0},
      {":WAV:SOUR CHAN1\n", NULL, 0, 0},
      {":WAV:MODE NORM\n", NULL, 0, 0},
      {":WAV:FORM BYTE\n", NULL, 0, 0},
      {":ACQ:TYPE NORM\n", NULL, 0, 0},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, 0},
      {":SING\n", NULL, 0, 0},
      /* Polls at 0, 0.02, 0.04 and 0.06 s of the lab clock. */
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
      {":TRIG:STAT?\n", "WAIT\n", 0, 0},
  };
  scope_ac_options opt = {.flavour = SHP_PROTO_SCPI_WAVEFORM_RIGOL,
                          .channel = 1,
                          .format = 0,
                          .delay_ps_per_ms = 1.0};
  dev = open_on(&f, rigol, sizeof rigol / sizeof rigol[0], clock, 0.05, opt);
  assert_int_equal(driver()->acquire(dev, 1, &t.t), SHP_ERR_TIMEOUT);
  assert_error_is(SHP_ERR_TIMEOUT,
                  NAME ": no complete acquisition within 0.05 s (trigger "
                       "status WAIT)");
  scpi_fake_done(&f);
  driver()->close(dev);
  shp_clock_free(clock);
}

/* A Rigol whose trigger status never leaves STOP after :SING did not arm:
 * the STOP is the previous acquisition's, so nothing is read and averaged;
 * the error names the scope. Before, the first STOP was taken as the new
 * scan's end and the old record was read without an error. */
static void test_rigol_that_never_arms_is_an_error(void **state) {
  const scpi_step rigol[] = {
      {"*IDN?\n", RIGOL_IDN, 0, 0},
      {":WAV:SOUR CHAN1\n", NULL, 0, 0},
      {":WAV:MODE NORM\n", NULL, 0, 0},
      {":WAV:FORM BYTE\n", NULL, 0, 0},
      {":ACQ:TYPE NORM\n", NULL, 0, 0},
      {"SYST:ERR?\n", "0,\"No error\"\n", 0, 0},
      {":SING\n", NULL, 0, 0},
      /* Polls at 0, 0.02, 0.04 and 0.06 s of the lab clock. */
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
      {":TRIG:STAT?\n", "STOP\n", 0, 0},
  };
  scope_ac_options opt = {.flavour = SHP_PROTO_SCPI_WAVEFORM_RIGOL,
                          .channel = 1,
                          .format = 0,
                          .delay_ps_per_ms = 1.0};
  shp_clock *clock = shp_clock_new_sim(0);
  scpi_fake f;
  shp_device *dev =
      open_on(&f, rigol, sizeof rigol / sizeof rigol[0], clock, 0.05, opt);
  trace_buf t;
  trace_init(&t, 16);
  assert_int_equal(driver()->acquire(dev, 1, &t.t), SHP_ERR_TIMEOUT);
  assert_error_is(SHP_ERR_TIMEOUT,
                  NAME ": the trigger status stayed STOP for 0.05 s after "
                       ":SING (the scope did not arm; no new acquisition)");
  assert_int_equal(t.t.count, 0);
  scpi_fake_done(&f);
  driver()->close(dev);
  shp_clock_free(clock);
}

/* The format's default follows the flavour: WORD on a Keysight, BYTE on a
 * Rigol (a DS1000Z digitises 8 bits), where WORD is refused both in the
 * lab file and by the device itself. */
static void test_format_defaults_to_byte_on_a_rigol(void **state) {
  static const char *const text[2] = {
      "options: {flavour: keysight, delay_ps_per_ms: 5}\n",
      "options: {flavour: rigol, delay_ps_per_ms: 5}\n"};
  for (int k = 0; k < 2; k++) {
    shp_yaml *y = shp_yaml_load_string("lab.yml", text[k], strlen(text[k]));
    assert_non_null(y);
    shp_device_config cfg = {
        .yaml = y, .options = shp_yaml_get(y, shp_yaml_root(y), "options")};
    scope_ac_options o;
    assert_int_equal(scope_ac_read_options(&cfg, "autocorrelator", &o), SHP_OK);
    assert_int_equal(o.format, k == 0 ? 1 : 0);
    shp_yaml_free(y);
  }
  scope_ac_options word = {.flavour = SHP_PROTO_SCPI_WAVEFORM_RIGOL,
                           .channel = 1,
                           .format = 1,
                           .delay_ps_per_ms = 1.0};
  scpi_fake f;
  shp_usbtmc *c = scpi_fake_open(&f, NULL, 0, NAME, 1.0);
  shp_clock *clock = shp_clock_new_sim(0);
  shp_device *dev = NULL;
  assert_int_equal(scope_ac_device_new(c, clock, 1.0, &word, &dev),
                   SHP_ERR_INVALID);
  assert_error_is(SHP_ERR_INVALID,
                  "scope-ac: a Rigol is read in BYTE only (README, A5)");
  assert_null(dev);
  assert_int_equal(f.n_writes, 0);
  shp_clock_free(clock);
}

static void test_wrong_make_is_refused(void **state) {
  const scpi_step steps[] = {{"*IDN?\n", RIGOL_IDN, 0, 0}};
  scpi_fake f;
  shp_device *dev = NULL;
  shp_usbtmc *c = scpi_fake_open(&f, steps, 1, NAME, 1.0);
  shp_clock *clock = shp_clock_new_sim(0);
  assert_int_equal(scope_ac_device_new(c, clock, 1.0, &keysight_byte, &dev),
                   SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  NAME ": *IDN? answered \"RIGOL TECHNOLOGIES,DS1104Z,"
                       "DS1ZA000000001,00.04.04\": not a Keysight/Agilent "
                       "oscilloscope (options.flavour: keysight)");
  scpi_fake_done(&f);
  shp_clock_free(clock);
}

/* The options, each error naming the lab file, line and key. */
static void options_fail(const char *options, int code, const char *message) {
  char text[512];
  snprintf(text, sizeof text,
           "autocorrelator:\n"
           "  driver: scope-ac\n"
           "  options:\n%s",
           options);
  shp_yaml *y = shp_yaml_load_string("lab.yml", text, strlen(text));
  assert_non_null(y);
  yaml_node_t *ac = shp_yaml_get(y, shp_yaml_root(y), "autocorrelator");
  shp_connection usb = {
      .kind = "usb", .vendor = 0x0957, .product = 0x1745, .timeout_s = 1};
  shp_clock *clock = shp_clock_new_sim(0);
  shp_device_config cfg = {.connection = &usb,
                           .clock = clock,
                           .yaml = y,
                           .options = shp_yaml_get(y, ac, "options"),
                           .options_ctx = "autocorrelator"};
  shp_device *dev = NULL;
  assert_int_equal(driver()->open(&cfg, &dev), code);
  assert_error_is(code, message);
  assert_null(dev);
  shp_clock_free(clock);
  shp_yaml_free(y);
}

static void test_option_errors_name_file_line_and_key(void **state) {
  options_fail("    flavour: tek\n    delay_ps_per_ms: 50\n", SHP_ERR_PARSE,
               "lab.yml:4: autocorrelator.options.flavour: expected keysight "
               "or rigol, got \"tek\"");
  options_fail("    delay_ps_per_ms: 50\n", SHP_ERR_PARSE,
               "lab.yml:4: autocorrelator.options.flavour: missing required "
               "key");
  options_fail("    flavour: keysight\n    channel: 5\n"
               "    delay_ps_per_ms: 50\n",
               SHP_ERR_RANGE,
               "lab.yml:5: autocorrelator.options.channel: must be a whole "
               "number from 1 to 4, got 5");
  options_fail("    flavour: keysight\n    delay_ps_per_ms: 0\n", SHP_ERR_RANGE,
               "lab.yml:5: autocorrelator.options.delay_ps_per_ms: must be "
               "from 0.001 to 1e+06 in magnitude, got 0");
  options_fail("    flavour: keysight\n    delay_ps_per_ms: -1e300\n",
               SHP_ERR_RANGE,
               "lab.yml:5: autocorrelator.options.delay_ps_per_ms: must be "
               "from 0.001 to 1e+06 in magnitude, got -1e+300");
  options_fail("    flavour: keysight\n    delay_ps_per_ms: fast\n",
               SHP_ERR_PARSE,
               "lab.yml:5: autocorrelator.options.delay_ps_per_ms: expected a "
               "number, got \"fast\"");
  options_fail("    flavour: keysight\n", SHP_ERR_PARSE,
               "lab.yml:4: autocorrelator.options.delay_ps_per_ms: missing "
               "required key");
  options_fail("    flavour: keysight\n    format: ascii\n"
               "    delay_ps_per_ms: 5\n",
               SHP_ERR_PARSE,
               "lab.yml:5: autocorrelator.options.format: expected word or "
               "byte, got \"ascii\"");
  options_fail("    flavour: rigol\n    format: word\n"
               "    delay_ps_per_ms: 5\n",
               SHP_ERR_PARSE,
               "lab.yml:5: autocorrelator.options.format: word is not offered "
               "with flavour rigol: its ADC has 8 bits (README, A5)");
  options_fail("    flavour: rigol\n    averaging: scope\n"
               "    delay_ps_per_ms: 5\n",
               SHP_ERR_PARSE,
               "lab.yml:5: autocorrelator.options.averaging: scope averaging "
               "is supported with flavour keysight only (README, A6)");
  options_fail("    flavour: keysight\n    points: 100\n", SHP_ERR_PARSE,
               "lab.yml:5: autocorrelator.options.points: unknown key");
  options_fail("    {}\n", SHP_ERR_PARSE,
               "lab.yml:4: autocorrelator.options.flavour: missing required "
               "key");
}

static void test_missing_options_and_wrong_connection(void **state) {
  shp_connection usb = {
      .kind = "usb", .vendor = 0x0957, .product = 0x1745, .timeout_s = 1};
  shp_clock *clock = shp_clock_new_sim(0);
  shp_device_config cfg = {
      .connection = &usb, .clock = clock, .options_ctx = "autocorrelator"};
  shp_device *dev = NULL;
  assert_int_equal(driver()->open(&cfg, &dev), SHP_ERR_PARSE);
  assert_error_is(SHP_ERR_PARSE, "autocorrelator.options: missing required "
                                 "mapping (flavour, delay_ps_per_ms)");
  shp_connection tcp = {.kind = "tcp", .host = "scope", .tcp_port = 5025};
  cfg.connection = &tcp;
  assert_int_equal(driver()->open(&cfg, &dev), SHP_ERR_INVALID);
  assert_error_has(SHP_ERR_INVALID, "scope-ac: needs a usb connection",
                   "got kind \"tcp\"");
  shp_clock_free(clock);
}

/* The example lab parses: four TED4015 ovens told apart by serial number
 * and the scope, whose options the driver accepts. The open is pointed at
 * ids no device has (ffff:ffff), so it stops at looking for the instrument
 * and never talks to a real one that happens to be plugged in. */
static void test_example_lab_parses_and_its_options_are_accepted(void **s) {
  shp_lab *lab =
      shp_lab_load(SHP_SOURCE_DATADIR "/examples/labs/fan4-ted4015-scope.yml");
  if (lab == NULL)
    fail_msg("lab: %s", shp_error_detail());
  assert_int_equal(lab->oven_count, 4);
  for (size_t i = 0; i < 4; i++) {
    char serial[16];
    snprintf(serial, sizeof serial, "M0000000%zu", i + 1);
    assert_string_equal(lab->ovens[i].driver->name, "ted4000");
    assert_string_equal(lab->ovens[i].connection.kind, "usb");
    assert_int_equal(lab->ovens[i].connection.vendor, 0x1313);
    assert_int_equal(lab->ovens[i].connection.product, 0x8048);
    assert_string_equal(lab->ovens[i].connection.serial, serial);
  }
  const shp_lab_autocorrelator *a = &lab->autocorrelator;
  assert_string_equal(a->driver->name, "scope-ac");
  assert_int_equal(a->averages, 4);
  shp_connection nowhere = a->connection;
  nowhere.vendor = nowhere.product = 0xffff;
  shp_clock *clock = shp_clock_new_sim(0);
  shp_device_config cfg = {.connection = &nowhere,
                           .clock = clock,
                           .yaml = lab->yaml,
                           .options = a->options,
                           .options_ctx = "autocorrelator",
                           .lab = lab};
  shp_device *dev = NULL;
  int rc = a->driver->open(&cfg, &dev);
  assert_true(rc == SHP_ERR_NOT_FOUND || rc == SHP_ERR_IO);
  assert_error_has(rc, "usbtmc ffff:ffff: ");
  assert_null(dev);
  shp_clock_free(clock);
  shp_lab_free(lab);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rigol_scans_are_polled_scaled_and_averaged),
      cmocka_unit_test(test_keysight_scope_averaging_is_set_once_and_checked),
      cmocka_unit_test(test_malformed_blocks_are_protocol_errors),
      cmocka_unit_test(test_inconsistent_preambles_are_refused),
      cmocka_unit_test(test_no_trigger_times_out),
      cmocka_unit_test(test_rigol_that_never_arms_is_an_error),
      cmocka_unit_test(test_format_defaults_to_byte_on_a_rigol),
      cmocka_unit_test(test_wrong_make_is_refused),
      cmocka_unit_test(test_option_errors_name_file_line_and_key),
      cmocka_unit_test(test_missing_options_and_wrong_connection),
      cmocka_unit_test(test_example_lab_parses_and_its_options_are_accepted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
