/* The Thorlabs TC200 driver over the tty transport, run under umockdev:
 *
 *   umockdev-run -d data/umockdev/tc200.umockdev \
 *       -s /dev/ttyUSB0=data/umockdev/tc200-CASE.script -- test_tc200 CASE
 *
 * The script plays the instrument and checks every byte the driver writes
 * (umockdev-run aborts on a write the script does not expect). Each case
 * ends by writing the script's "end" marker, so a stray write before it (an
 * "ens" toggle above all) fails the test too.
 * CASE: read, garbled, silent, fault. */
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/supervisor.h"
#include "shp/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tty_script.h"

#define PORT "/dev/ttyUSB0"
#define TIMEOUT_S 0.5

static const shp_connection tty = {
    .kind = "tty", .port = PORT, .baud = 115200, .timeout_s = TIMEOUT_S};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static shp_device *open_tc200(const shp_driver **drv) {
  script_begin(PORT);
  *drv = shp_hw_driver_find("tc200");
  assert_non_null(*drv);
  shp_device_config cfg = {.connection = &tty};
  shp_device *dev = NULL;
  int rc = (*drv)->open(&cfg, &dev);
  if (rc != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  return dev;
}

static void test_tc200_reads_and_sets_temperature(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_tc200(&drv);
  shp_oven_reading r;
  assert_null(drv->oven_set_ramp); /* the supervisor ramps in software */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.3, 1e-9);
  assert_float_equal(r.setpoint_c, 40.0, 1e-9);
  assert_true(r.output_on);
  assert_false(r.has_ramp);
  assert_false(r.fault);
  assert_int_equal(drv->oven_set(dev, 0, 45.0), SHP_OK);
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.4, 1e-9);
  assert_float_equal(r.setpoint_c, 45.0, 1e-9);
  assert_false(r.fault);
  /* 45.25 is a tie: sent as 45.2, half to even (the script pins it). */
  assert_int_equal(drv->oven_set(dev, 0, 45.25), SHP_OK);
  /* Status 0x41: output on, sensor alarm. */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_true(r.output_on);
  assert_true(r.fault);
  assert_string_equal(r.fault_text, "sensor alarm (status 0x41)");
  /* Refused before anything is sent: the script has no line for them. */
  assert_int_equal(drv->oven_set(dev, 0, 250.0), SHP_ERR_RANGE);
  assert_int_equal(drv->oven_read(dev, 1, &r), SHP_ERR_INVALID);
  /* Holding sends nothing. */
  assert_int_equal(drv->oven_hold(dev, 0), SHP_OK);
  drv->close(dev);
  script_end();
}

static void test_tc200_garbled_reply_is_protocol_error(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_tc200(&drv);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), PORT));
  drv->close(dev);
  script_end();
}

static void test_tc200_silence_times_out_within_timeout(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_tc200(&drv);
  shp_oven_reading r;
  double t0 = now_s();
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= TIMEOUT_S - 0.01);
  assert_true(took < TIMEOUT_S + 0.5);
  assert_non_null(strstr(shp_error_detail(), PORT));
  drv->close(dev);
  script_end();
}

typedef struct {
  int faults, holds, hold_code, setpoints;
  double held_c;
} event_log;

static void log_event(const shp_sup_event *ev, void *user) {
  event_log *l = user;
  if (ev->kind == SHP_SUP_FAULT)
    l->faults++;
  if (ev->kind == SHP_SUP_SETPOINT)
    l->setpoints++;
  if (ev->kind == SHP_SUP_HOLD) {
    l->holds++;
    l->hold_code = ev->code;
    l->held_c = ev->value_c;
  }
}

/* Read, one software ramp step of 1 K after 60 s of the simulated clock,
 * then a garbled reading: the supervisor trips with SHP_ERR_PROTOCOL and
 * holds the oven at 41.0 C, which sends nothing (the script checks it). */
static void test_tc200_fault_through_supervisor_holds_oven(void **state) {
  script_begin(PORT);
  shp_lab *lab = shp_lab_load(SHP_TEST_DATADIR "/umockdev/tc200-lab.yml");
  if (lab == NULL)
    fail_msg("lab: %s", shp_error_detail());
  shp_clock *clock = shp_clock_new_sim(0);
  event_log log = {0};
  shp_supervisor *s = shp_supervisor_open(lab, clock, log_event, &log);
  if (s == NULL)
    fail_msg("supervisor: %s", shp_error_detail());
  assert_int_equal(shp_supervisor_request(s, 0, 45.0), SHP_OK);
  shp_clock_sleep_s(clock, 60.0);
  assert_int_equal(shp_supervisor_step(s), SHP_OK);
  assert_int_equal(log.setpoints, 1);
  assert_int_equal(shp_supervisor_step(s), SHP_ERR_PROTOCOL);
  const shp_sup_fault *f = shp_supervisor_fault(s);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_PROTOCOL);
  assert_int_equal(f->crystal, 0);
  assert_int_equal(log.faults, 1);
  assert_int_equal(log.holds, 1);
  assert_int_equal(log.hold_code, SHP_OK);
  assert_float_equal(log.held_c, 41.0, 1e-9);
  /* Latched: refused without a word to the instrument. */
  assert_int_equal(shp_supervisor_request(s, 0, 42.0), SHP_ERR_SAFETY);
  shp_supervisor_close(s);
  shp_clock_free(clock);
  shp_lab_free(lab);
  script_end();
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    struct CMUnitTest test;
  } cases[] = {
      {"read", cmocka_unit_test(test_tc200_reads_and_sets_temperature)},
      {"garbled", cmocka_unit_test(test_tc200_garbled_reply_is_protocol_error)},
      {"silent", cmocka_unit_test(test_tc200_silence_times_out_within_timeout)},
      {"fault",
       cmocka_unit_test(test_tc200_fault_through_supervisor_holds_oven)},
  };
  for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(argv[1], cases[i].name) == 0) {
      const struct CMUnitTest one[] = {cases[i].test};
      return cmocka_run_group_tests_name(cases[i].name, one, NULL, NULL);
    }
  fprintf(stderr, "usage: test_tc200 read|garbled|silent|fault (under "
                  "umockdev-run with the matching script)\n");
  return 2;
}
