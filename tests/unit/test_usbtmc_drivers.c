/* The ted4000 and scope-ac drivers through libusb and the safety
 * supervisor, against two umockdev-emulated USBTMC instruments:
 *
 *   umockdev-run -d data/umockdev/usbtmc-lab.umockdev \
 *       -i /dev/bus/usb/001/002=data/umockdev/usbtmc-lab-CASE-oven.ioctl \
 *       -i /dev/bus/usb/001/003=data/umockdev/usbtmc-lab-CASE-scope.ioctl \
 *       -- test_usbtmc_drivers CASE
 *
 * A TED4015 at 1313:8048 holds the crystal's oven, a Keysight scope at
 * 0957:1745 reads the autocorrelator (data/umockdev/usbtmc-lab*.yml). The
 * ioctl trees replay every transfer and accept only the exact messages the
 * drivers must write, so a stray write (an output switched while holding,
 * say) fails with SHP_ERR_IO instead of matching. Timeouts cannot be
 * replayed by an ioctl tree (see test_usbtmc.c): test_ted4000 and
 * test_scope_ac cover them on the transfer seam. CASE: session-byte,
 * session-word, oven-scpi-error, scope-scpi-error, scope-short-block,
 * oven-garbled, oven-wrong-btag, scope-wrong-btag, scope-unplug,
 * oven-unplug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_check.h"

#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/supervisor.h"

#include <stdio.h>
#include <string.h>

#define LAB SHP_TEST_DATADIR "/umockdev/usbtmc-lab.yml"
#define LAB_WORD SHP_TEST_DATADIR "/umockdev/usbtmc-lab-word.yml"
#define OVEN "usbtmc 1313:8048 M00500001: "
#define SCOPE "usbtmc 0957:1745 MY00000001: "
#define ABORT_IN_SENT "INITIATE_ABORT_BULK_IN answered status 0x00"

typedef struct {
  int faults, holds, hold_code, setpoints;
  double held_c, setpoint_c;
} event_log;

static void log_event(const shp_sup_event *ev, void *user) {
  event_log *l = user;
  if (ev->kind == SHP_SUP_FAULT)
    l->faults++;
  if (ev->kind == SHP_SUP_SETPOINT) {
    l->setpoints++;
    l->setpoint_c = ev->value_c;
  }
  if (ev->kind == SHP_SUP_HOLD) {
    l->holds++;
    l->hold_code = ev->code;
    l->held_c = ev->value_c;
  }
}

typedef struct {
  shp_lab *lab;
  shp_clock *clock;
  shp_supervisor *s;
  event_log log;
} session;

static void session_open(session *x, const char *path) {
  *x = (session){0};
  x->lab = shp_lab_load(path);
  if (x->lab == NULL)
    fail_msg("lab: %s", shp_error_detail());
  x->clock = shp_clock_new_sim(0);
  x->s = shp_supervisor_open(x->lab, x->clock, log_event, &x->log);
  if (x->s == NULL)
    fail_msg("supervisor: %s", shp_error_detail());
}

static void session_close(session *x) {
  shp_supervisor_close(x->s);
  shp_clock_free(x->clock);
  shp_lab_free(x->lab);
}

/* The supervisor stopped on code, blaming crystal, with the oven held
 * without a word to it (the hold's own code is SHP_OK) and at held_c; and it
 * stays latched. */
static void check_tripped(session *x, int code, int crystal, double held_c) {
  const shp_sup_fault *f = shp_supervisor_fault(x->s);
  assert_non_null(f);
  assert_int_equal(f->code, code);
  assert_int_equal(f->crystal, crystal);
  assert_int_equal(x->log.faults, 1);
  assert_int_equal(x->log.holds, 1);
  assert_int_equal(x->log.hold_code, SHP_OK);
  assert_close(x->log.held_c, held_c, 1e-12);
  assert_int_equal(shp_supervisor_request(x->s, 0, 42.0), SHP_ERR_SAFETY);
  const shp_trace *t;
  assert_int_equal(shp_supervisor_acquire(x->s, 0, &t), code);
}

/* Read, ramp one software step (1 K after 60 s at 1 K/min), acquire two
 * BYTE scans averaged by the driver. Volts (code - 128) * 4 mV + 0.1 V per
 * scan; time i * 10 us - 40 us, so 50 ps/ms gives -2 + 0.5 i ps, and the lab
 * file's calibration makes that 2 d + 0.25 ps. */
static void umockdev_session_byte(void **state) {
  static const double scan1[8] = {0.1, 0.108, 0.148, 0.3,
                                  0.5, 0.3,   0.148, 0.108};
  static const double scan2[8] = {0.1,   0.116, 0.156, 0.308,
                                  0.492, 0.292, 0.14,  0.1};
  session x;
  session_open(&x, LAB);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(x.s, 0, &st), SHP_OK);
  assert_close(st.reading.setpoint_c, 40.0, 1e-12);
  assert_close(st.reading.actual_c, 40.125, 1e-12);
  assert_true(st.reading.output_on);
  assert_false(st.reading.fault);
  assert_int_equal(shp_supervisor_request(x.s, 0, 45.0), SHP_OK);
  assert_int_equal(x.log.setpoints, 0); /* no time to ramp yet */
  shp_clock_sleep_s(x.clock, 60.0);
  assert_int_equal(shp_supervisor_step(x.s), SHP_OK);
  assert_int_equal(x.log.setpoints, 1);
  assert_close(x.log.setpoint_c, 41.0, 1e-12);
  const shp_trace *t = NULL;
  int rc = shp_supervisor_acquire(x.s, 0, &t);
  if (rc != SHP_OK)
    fail_msg("acquire: %s", shp_error_detail());
  assert_int_equal(t->count, 8);
  for (size_t i = 0; i < 8; i++) {
    double d = -2.0 + 0.5 * (double)i;
    assert_close(t->delay_ps[i], 2.0 * d + 0.25, 1e-9);
    assert_close(t->signal[i], 0.5 * (scan1[i] + scan2[i]), 1e-12);
  }
  assert_null(shp_supervisor_fault(x.s));
  session_close(&x);
}

/* One WORD scan: unsigned 16-bit samples, most significant byte first,
 * volts (code - 32768) * 1e-4 - 0.5; time (i - 2) * 2 us at 250 ps/ms. */
static void umockdev_session_word(void **state) {
  static const double delay[4] = {-1.0, -0.5, 0.0, 0.5};
  static const double volts[4] = {-0.5, -0.1, 0.5, 0.0};
  session x;
  session_open(&x, LAB_WORD);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(x.s, 0, &st), SHP_OK);
  assert_close(st.reading.actual_c, 40.125, 1e-12);
  const shp_trace *t = NULL;
  int rc = shp_supervisor_acquire(x.s, 0, &t);
  if (rc != SHP_OK)
    fail_msg("acquire: %s", shp_error_detail());
  assert_int_equal(t->count, 4);
  for (size_t i = 0; i < 4; i++) {
    assert_close(t->delay_ps[i], delay[i], 1e-9);
    assert_close(t->signal[i], volts[i], 1e-12);
  }
  session_close(&x);
}

/* The ramp step's set point is refused by the instrument (SYST:ERR? -222):
 * a fault on crystal 0, the oven held at its last accepted 40 C. */
static void umockdev_oven_scpi_error(void **state) {
  session x;
  session_open(&x, LAB);
  assert_int_equal(shp_supervisor_request(x.s, 0, 45.0), SHP_OK);
  shp_clock_sleep_s(x.clock, 60.0);
  assert_int_equal(shp_supervisor_step(x.s), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  "crystal 0: " OVEN "SOUR:TEMP 41.000: the instrument "
                  "reports error -222 \"Data out of range\"");
  check_tripped(&x, SHP_ERR_PROTOCOL, 0, 40.0);
  session_close(&x);
}

/* Scans read, then SYST:ERR? -230: a fault of the autocorrelator. */
static void umockdev_scope_scpi_error(void **state) {
  session x;
  session_open(&x, LAB);
  const shp_trace *t;
  assert_int_equal(shp_supervisor_acquire(x.s, 0, &t), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  "autocorrelator: " SCOPE "acquiring the trace: the "
                  "instrument reports error -230 \"Data corrupt or stale\"");
  check_tripped(&x, SHP_ERR_PROTOCOL, -1, 40.0);
  session_close(&x);
}

/* A :WAV:DATA? block whose header announces 8 bytes but holds 4. */
static void umockdev_short_block(void **state) {
  session x;
  session_open(&x, LAB);
  const shp_trace *t;
  assert_int_equal(shp_supervisor_acquire(x.s, 0, &t), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  "autocorrelator: " SCOPE ":WAV:DATA?: ieee 488.2 block: "
                  "truncated block: header announces 8 bytes, 4 received");
  check_tripped(&x, SHP_ERR_PROTOCOL, -1, 40.0);
  session_close(&x);
}

/* The oven's answer cut short in its USBTMC header: the transfer is aborted
 * (the tree holds the INITIATE_ABORT_BULK_IN) and the supervisor trips. The
 * oven was never read, so it is held at its unknown set point (0). */
static void umockdev_garbled(void **state) {
  session x;
  session_open(&x, LAB);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(x.s, 0, &st), SHP_ERR_PROTOCOL);
  assert_int_equal(st.code, SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, "crystal 0: " OVEN,
                   "truncated header: 6 of 12", ABORT_IN_SENT);
  check_tripped(&x, SHP_ERR_PROTOCOL, 0, 0.0);
  session_close(&x);
}

static void umockdev_wrong_btag(void **state) {
  session x;
  session_open(&x, LAB);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(x.s, 0, &st), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, "crystal 0: " OVEN,
                   "bTag 13 does not match", ABORT_IN_SENT);
  check_tripped(&x, SHP_ERR_PROTOCOL, 0, 0.0);
  session_close(&x);
}

/* The scope's data answered with another transfer's bTag: aborted. */
static void umockdev_scope_wrong_btag(void **state) {
  session x;
  session_open(&x, LAB);
  const shp_trace *t;
  assert_int_equal(shp_supervisor_acquire(x.s, 0, &t), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, "autocorrelator: " SCOPE,
                   "bTag 99 does not match", ABORT_IN_SENT);
  check_tripped(&x, SHP_ERR_PROTOCOL, -1, 40.0);
  session_close(&x);
}

/* The scope unplugged while it sends its data. */
static void umockdev_scope_unplug(void **state) {
  session x;
  session_open(&x, LAB);
  const shp_trace *t;
  assert_int_equal(shp_supervisor_acquire(x.s, 0, &t), SHP_ERR_DISCONNECTED);
  assert_error_is(SHP_ERR_DISCONNECTED,
                  "autocorrelator: " SCOPE "reading a reply: device unplugged");
  check_tripped(&x, SHP_ERR_DISCONNECTED, -1, 40.0);
  session_close(&x);
}

/* The oven unplugged: holding it afterwards sends nothing and succeeds. */
static void umockdev_oven_unplug(void **state) {
  session x;
  session_open(&x, LAB);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(x.s, 0, &st), SHP_ERR_DISCONNECTED);
  assert_error_is(SHP_ERR_DISCONNECTED,
                  "crystal 0: " OVEN "reading a reply: device unplugged");
  check_tripped(&x, SHP_ERR_DISCONNECTED, 0, 0.0);
  session_close(&x);
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    struct CMUnitTest test;
  } cases[] = {
      {"session-byte", cmocka_unit_test(umockdev_session_byte)},
      {"session-word", cmocka_unit_test(umockdev_session_word)},
      {"oven-scpi-error", cmocka_unit_test(umockdev_oven_scpi_error)},
      {"scope-scpi-error", cmocka_unit_test(umockdev_scope_scpi_error)},
      {"scope-short-block", cmocka_unit_test(umockdev_short_block)},
      {"oven-garbled", cmocka_unit_test(umockdev_garbled)},
      {"oven-wrong-btag", cmocka_unit_test(umockdev_wrong_btag)},
      {"scope-wrong-btag", cmocka_unit_test(umockdev_scope_wrong_btag)},
      {"scope-unplug", cmocka_unit_test(umockdev_scope_unplug)},
      {"oven-unplug", cmocka_unit_test(umockdev_oven_unplug)},
  };
  for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(argv[1], cases[i].name) == 0) {
      const struct CMUnitTest one[] = {cases[i].test};
      return cmocka_run_group_tests_name(cases[i].name, one, NULL, NULL);
    }
  fprintf(stderr, "usage: test_usbtmc_drivers CASE (under umockdev-run with "
                  "the matching ioctl trees)\n");
  return 2;
}
