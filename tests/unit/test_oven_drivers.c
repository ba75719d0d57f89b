/* The Covesion and Meerstetter (MeCom) oven drivers over the tty
 * transport, run under umockdev:
 *
 *   umockdev-run -d data/umockdev/tc200.umockdev \
 *       -s /dev/ttyUSB0=data/umockdev/CASE.script -- test_oven_drivers CASE
 *
 * The script plays the instrument and checks every byte the driver writes
 * (umockdev-run aborts on a write the script does not expect). Each case
 * ends by writing the script's "end" marker, so a stray write before it (a
 * hold that sends something above all) fails the test too.
 * CASE: covesion-read, covesion-checksum, covesion-silent, covesion-alarm,
 * covesion-nolab (no script needed), mecom-read, mecom-crc, mecom-sequence,
 * mecom-silent, mecom-ramp. */
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/supervisor.h"

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

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The lab the supervisor would hand the driver: one oven on the port, whose
 * ramp limit (2 K/min) the Covesion set points must carry. The driver's
 * default baud rate (baud 0) is used. */
static shp_lab_oven lab_oven;
static shp_lab lab_one_oven;

static shp_device *open_driver(const char *name, const shp_driver **drv) {
  script_begin(PORT);
  *drv = shp_hw_driver_find(name);
  assert_non_null(*drv);
  lab_oven = (shp_lab_oven){
      .driver = *drv,
      .connection = {.kind = "tty", .port = PORT, .timeout_s = TIMEOUT_S},
      .max_ramp_k_per_min = 2.0};
  lab_one_oven = (shp_lab){.ovens = &lab_oven, .oven_count = 1};
  shp_device_config cfg = {.connection = &lab_oven.connection,
                           .lab = &lab_one_oven};
  shp_device *dev = NULL;
  if ((*drv)->open(&cfg, &dev) != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  return dev;
}

/* One oven_read that fails with code, naming the port. */
static void read_fails(const char *name, int code) {
  const shp_driver *drv;
  shp_device *dev = open_driver(name, &drv);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), code);
  assert_non_null(strstr(shp_error_detail(), PORT));
  drv->close(dev);
  script_end();
}

/* One oven_read into silence: SHP_ERR_TIMEOUT within the timeout. */
static void read_times_out(const char *name) {
  const shp_driver *drv;
  shp_device *dev = open_driver(name, &drv);
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

/* ---- covesion ----------------------------------------------------------- */

static void test_covesion_reads_and_sets_temperature(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_driver("covesion", &drv);
  shp_oven_reading r;
  assert_null(drv->oven_set_ramp); /* the supervisor ramps in software */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.312, 1e-9);
  assert_float_equal(r.setpoint_c, 40.0, 1e-9);
  assert_true(r.output_on);
  assert_false(r.has_ramp);
  assert_false(r.fault);
  /* The script pins the frame: the lab's ramp, the oven's other fields. */
  assert_int_equal(drv->oven_set(dev, 0, 45.0), SHP_OK);
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.48, 1e-9);
  assert_float_equal(r.setpoint_c, 45.0, 1e-9);
  assert_true(r.output_on);
  assert_false(r.fault);
  /* Fault bit 8 with control off. */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_false(r.output_on);
  assert_true(r.fault);
  assert_string_equal(r.fault_text, "faults 0x08 (sensor fault)");
  /* An oven already ramping slower than the lab allows keeps its ramp. */
  assert_int_equal(drv->oven_set(dev, 0, 46.5), SHP_OK);
  /* Refused before anything is sent: the script has no line for them. */
  assert_int_equal(drv->oven_set(dev, 0, 250.0), SHP_ERR_RANGE);
  assert_int_equal(drv->oven_read(dev, 1, &r), SHP_ERR_INVALID);
  /* Holding sends nothing. */
  assert_int_equal(drv->oven_hold(dev, 0), SHP_OK);
  drv->close(dev);
  script_end();
}

/* An enabled alarm is a fault only while its threshold is crossed: the
 * status's alarm field says which alarms are configured, not whether one
 * is active. */
static void test_covesion_alarm_configuration_is_not_a_fault(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_driver("covesion", &drv);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_false(r.fault);
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_true(r.fault);
  assert_string_equal(r.fault_text,
                      "alarm: 40.000 C below the alarm minimum 41.000 C");
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_true(r.fault);
  assert_string_equal(r.fault_text,
                      "alarm: 61.000 C above the alarm maximum 60.000 C");
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_false(r.fault);
  assert_float_equal(r.actual_c, 14.0, 0);
  drv->close(dev);
  script_end();
}

/* Without the lab's ramp limit no set point could be built: refused at
 * open, before the port is touched. */
static void test_covesion_needs_the_lab_ramp_limit(void **state) {
  static const shp_connection tty = {
      .kind = "tty", .port = PORT, .timeout_s = TIMEOUT_S};
  const shp_driver *drv = shp_hw_driver_find("covesion");
  shp_device_config cfg = {.connection = &tty};
  shp_device *dev = NULL;
  assert_int_equal(drv->open(&cfg, &dev), SHP_ERR_INVALID);
  assert_null(dev);
  assert_non_null(strstr(shp_error_detail(), "ramp limit"));
}

static void test_covesion_bad_checksum_is_protocol_error(void **state) {
  read_fails("covesion", SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), "checksum"));
}

static void test_covesion_silence_times_out(void **state) {
  read_times_out("covesion");
}

/* ---- mecom -------------------------------------------------------------- */

static void test_mecom_reads_and_sets_temperature(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_driver("mecom", &drv);
  shp_oven_reading r;
  assert_non_null(drv->oven_set_ramp); /* the controller ramps (3003) */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.25, 1e-9);
  assert_float_equal(r.setpoint_c, 40.0, 1e-9);
  assert_true(r.output_on);
  assert_false(r.fault);
  assert_int_equal(drv->oven_set(dev, 0, 45.0), SHP_OK);
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_float_equal(r.actual_c, 40.5, 1e-9);
  assert_float_equal(r.setpoint_c, 45.0, 1e-9);
  /* Refused before anything is sent. */
  assert_int_equal(drv->oven_read(dev, 2, &r), SHP_ERR_INVALID);
  assert_int_equal(drv->oven_hold(dev, 0), SHP_OK);
  drv->close(dev);
  script_end();
}

static void test_mecom_bad_crc_is_protocol_error(void **state) {
  read_fails("mecom", SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), "CRC"));
}

static void test_mecom_ack_out_of_step_is_protocol_error(void **state) {
  const shp_driver *drv;
  shp_device *dev = open_driver("mecom", &drv);
  assert_int_equal(drv->oven_set(dev, 0, 45.0), SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), PORT));
  drv->close(dev);
  script_end();
}

static void test_mecom_silence_times_out(void **state) {
  read_times_out("mecom");
}

typedef struct {
  int setpoints, faults;
  char fault[256];
} event_log;

static void log_event(const shp_sup_event *ev, void *user) {
  event_log *l = user;
  if (ev->kind == SHP_SUP_SETPOINT)
    l->setpoints++;
  if (ev->kind == SHP_SUP_FAULT) {
    l->faults++;
    snprintf(l->fault, sizeof l->fault, "%s", ev->message);
  }
}

/* Through the supervisor: each move writes the target once, after the
 * controller's ramp is brought down to the lab's limit (never up); the
 * script pins every byte, so a software ramp step or a ramp write while
 * the controller's ramp is already slower fails the case. The third
 * move's target write meets device error 9, which is named. */
static void test_mecom_target_written_once_per_move(void **state) {
  script_begin(PORT);
  shp_lab *lab = shp_lab_load(SHP_TEST_DATADIR "/umockdev/mecom-lab.yml");
  if (lab == NULL)
    fail_msg("lab: %s", shp_error_detail());
  shp_clock *clock = shp_clock_new_sim(0);
  event_log log = {0};
  shp_supervisor *s = shp_supervisor_open(lab, clock, log_event, &log);
  if (s == NULL)
    fail_msg("supervisor: %s", shp_error_detail());
  assert_int_equal(shp_supervisor_request(s, 0, 45.0), SHP_OK);
  assert_int_equal(log.setpoints, 1);
  shp_clock_sleep_s(clock, 60.0);
  assert_int_equal(shp_supervisor_step(s), SHP_OK);
  assert_int_equal(log.setpoints, 1);
  assert_int_equal(shp_supervisor_request(s, 0, 50.0), SHP_OK);
  assert_int_equal(log.setpoints, 2);
  assert_int_equal(shp_supervisor_request(s, 0, 55.0), SHP_ERR_PROTOCOL);
  assert_int_equal(log.setpoints, 2);
  assert_int_equal(log.faults, 1);
  assert_non_null(strstr(log.fault, "device error 9: parameter general error"));
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
      {"covesion-read",
       cmocka_unit_test(test_covesion_reads_and_sets_temperature)},
      {"covesion-checksum",
       cmocka_unit_test(test_covesion_bad_checksum_is_protocol_error)},
      {"covesion-silent", cmocka_unit_test(test_covesion_silence_times_out)},
      {"covesion-alarm",
       cmocka_unit_test(test_covesion_alarm_configuration_is_not_a_fault)},
      {"covesion-nolab",
       cmocka_unit_test(test_covesion_needs_the_lab_ramp_limit)},
      {"mecom-read", cmocka_unit_test(test_mecom_reads_and_sets_temperature)},
      {"mecom-crc", cmocka_unit_test(test_mecom_bad_crc_is_protocol_error)},
      {"mecom-sequence",
       cmocka_unit_test(test_mecom_ack_out_of_step_is_protocol_error)},
      {"mecom-silent", cmocka_unit_test(test_mecom_silence_times_out)},
      {"mecom-ramp", cmocka_unit_test(test_mecom_target_written_once_per_move)},
  };
  for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(argv[1], cases[i].name) == 0) {
      const struct CMUnitTest one[] = {cases[i].test};
      return cmocka_run_group_tests_name(cases[i].name, one, NULL, NULL);
    }
  fprintf(stderr, "usage: test_oven_drivers CASE (under umockdev-run with "
                  "the matching script; CASE: "
                  "covesion-read|checksum|silent|alarm|nolab, "
                  "mecom-read|crc|sequence|silent|ramp)\n");
  return 2;
}
