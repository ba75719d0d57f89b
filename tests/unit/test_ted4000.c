/* The Thorlabs TED4000-series driver (hardware/drivers/ted4000) on a scripted
 * instrument behind the USBTMC transfer seam (support/usbtmc_script.h):
 * every SCPI message it writes is checked, in order. The same driver against
 * libusb under umockdev, and through the safety supervisor, is in
 * test_usbtmc_drivers.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_check.h"
#include "usbtmc_script.h"

#include "protocol.h" /* hardware/drivers/ted4000 */
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/yamlfile.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME "usbtmc 1313:8048 M00500001"
#define IDN "THORLABS,TED4015,M00500001,1.4.0/2.0.3/1.6.0\n"
#define NO_ERROR "+0,\"No error\"\n"

/* The four queries of one oven_read. */
#define READ_STEPS(setpoint, actual, outp, cond)                               \
  {"SOUR:TEMP?\n", setpoint, 0, 0}, {"MEAS:TEMP?\n", actual, 0, 0},            \
      {"OUTP?\n", outp, 0, 0}, {                                               \
    "STAT:MEAS:COND?\n", cond, 0, 0                                            \
  }

/* What opening sends: identify, clear, Celsius, error check. */
#define OPEN_STEPS                                                             \
  {"*IDN?\n", IDN, 0, 0}, {"*CLS\n", NULL, 0, 0},                              \
      {"UNIT:TEMP C\n", NULL, 0, 0}, {                                         \
    "SYST:ERR?\n", NO_ERROR, 0, 0                                              \
  }

static const shp_driver *driver(void) {
  const shp_driver *d = shp_hw_driver_find("ted4000");
  assert_non_null(d);
  return d;
}

static shp_device *open_on(scpi_fake *f, const scpi_step *steps, size_t n,
                           double timeout_s) {
  shp_device *dev = NULL;
  shp_usbtmc *c = scpi_fake_open(f, steps, n, NAME, timeout_s);
  int rc = ted4000_device_new(c, &dev);
  if (rc != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  return dev;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_ted4000_reads_sets_and_holds(void **state) {
  static const scpi_step steps[] = {
      OPEN_STEPS,
      READ_STEPS("+4.00000E+01\n", "+4.03125E+01\n", "1\n", "0\n"),
      {"SOUR:TEMP 45.500\n", NULL, 0, 0},
      {"SYST:ERR?\n", NO_ERROR, 0, 0},
      READ_STEPS("4.55E1\n", "40.4\n", "0\n", "+0\n"),
  };
  scpi_fake f;
  const shp_driver *drv = driver();
  shp_device *dev = open_on(&f, steps, sizeof steps / sizeof steps[0], 1.0);
  shp_oven_reading r;
  assert_null(drv->oven_set_ramp); /* the supervisor ramps in software */
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_close(r.setpoint_c, 40.0, 1e-12);
  assert_close(r.actual_c, 40.3125, 1e-12);
  assert_true(r.output_on);
  assert_false(r.has_ramp);
  assert_false(r.fault);
  assert_int_equal(drv->oven_set(dev, 0, 45.5), SHP_OK);
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_close(r.setpoint_c, 45.5, 1e-12);
  assert_close(r.actual_c, 40.4, 1e-12);
  assert_false(r.output_on);
  /* Refused before anything is sent. */
  int writes = f.n_writes;
  assert_int_equal(drv->oven_set(dev, 0, 250.0), SHP_ERR_RANGE);
  assert_error_has(SHP_ERR_RANGE, NAME ": ", "250");
  assert_int_equal(drv->oven_read(dev, 1, &r), SHP_ERR_INVALID);
  assert_error_has(SHP_ERR_INVALID, NAME ": ", "one channel (0), not 1");
  /* Holding sends nothing and reads nothing. */
  assert_int_equal(drv->oven_hold(dev, 0), SHP_OK);
  assert_int_equal(f.n_writes, writes);
  assert_int_equal(f.n_requests, 2 + 4 + 1 + 4);
  scpi_fake_done(&f);
  drv->close(dev);
}

static void test_ted4000_condition_faults_are_reported(void **state) {
  /* 256 + 1024: protection and sensor failure; 512 + 2048: window and
   * compliance, which are not faults on their own (README, A4). */
  static const scpi_step steps[] = {
      OPEN_STEPS,
      READ_STEPS("40.0\n", "40.1\n", "0\n", "1280\n"),
      READ_STEPS("40.0\n", "40.1\n", "1\n", "2560\n"),
  };
  scpi_fake f;
  const shp_driver *drv = driver();
  shp_device *dev = open_on(&f, steps, sizeof steps / sizeof steps[0], 1.0);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_true(r.fault);
  assert_false(r.output_on);
  assert_string_equal(r.fault_text,
                      "STAT:MEAS:COND? 1280: temperature protection active, "
                      "temperature sensor failure");
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_OK);
  assert_false(r.fault);
  assert_true(r.output_on);
  scpi_fake_done(&f);
  drv->close(dev);
}

static void test_ted4000_refuses_another_instrument(void **state) {
  static const scpi_step steps[] = {
      {"*IDN?\n", "THORLABS,ITC4001,M00500002,1.4.0/2.0.3/1.6.0\n", 0, 0},
  };
  scpi_fake f;
  shp_device *dev = NULL;
  shp_usbtmc *c = scpi_fake_open(&f, steps, 1, NAME, 1.0);
  assert_int_equal(ted4000_device_new(c, &dev), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  NAME ": *IDN? answered \"THORLABS,ITC4001,M00500002,1.4.0/"
                       "2.0.3/1.6.0\": not a Thorlabs TED4000-series "
                       "controller");
  assert_null(dev);
  scpi_fake_done(&f);
}

/* Some units do not answer the first command: *IDN? is sent again after a
 * silent one (and after a garbled one), and the open goes on as usual. */
static void test_ted4000_first_idn_unanswered_is_retried(void **state) {
  static const scpi_step steps[] = {
      {"*IDN?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
      {"*IDN?\n", "\xff\xfe", 0, 0}, /* not an answer at all */
      OPEN_STEPS,
  };
  scpi_fake f;
  shp_device *dev = NULL;
  shp_usbtmc *c =
      scpi_fake_open(&f, steps, sizeof steps / sizeof steps[0], NAME, 0.1);
  if (ted4000_device_new(c, &dev) != SHP_OK)
    fail_msg("open: %s", shp_error_detail());
  assert_int_equal(f.n_writes, 3 + 3); /* three *IDN?, *CLS, UNIT, SYST:ERR? */
  scpi_fake_done(&f);
  ted4000_device_free(dev);
}

/* Bounded: four silent *IDN? and the open fails with a message that says
 * so, within four timeouts (plus the aborts, answered at once). */
static void test_ted4000_idn_retries_are_bounded(void **state) {
  static const scpi_step steps[] = {
      {"*IDN?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
      {"*IDN?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
      {"*IDN?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
      {"*IDN?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
  };
  scpi_fake f;
  shp_device *dev = NULL;
  const double timeout_s = 0.1;
  shp_usbtmc *c = scpi_fake_open(&f, steps, sizeof steps / sizeof steps[0],
                                 NAME, timeout_s);
  double t0 = now_s();
  assert_int_equal(ted4000_device_new(c, &dev), SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= 4 * timeout_s - 0.02);
  assert_true(took < 4 * timeout_s + 0.5);
  assert_error_has(SHP_ERR_TIMEOUT,
                   NAME ": *IDN? got no usable answer in 4 attempts; the "
                        "last: " NAME ": reading a reply: no answer");
  assert_null(dev);
  assert_int_equal(f.n_writes, 4);
  scpi_fake_done(&f);
}

static void test_ted4000_scpi_error_at_open_is_protocol(void **state) {
  static const scpi_step steps[] = {
      {"*IDN?\n", IDN, 0, 0},
      {"*CLS\n", NULL, 0, 0},
      {"UNIT:TEMP C\n", NULL, 0, 0},
      {"SYST:ERR?\n", "-113,\"Undefined header\"\n", 0, 0},
  };
  scpi_fake f;
  shp_device *dev = NULL;
  shp_usbtmc *c = scpi_fake_open(&f, steps, 4, NAME, 1.0);
  assert_int_equal(ted4000_device_new(c, &dev), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  NAME ": UNIT:TEMP C: the instrument reports error -113 "
                       "\"Undefined header\"");
  scpi_fake_done(&f);
}

static void test_ted4000_refused_setpoint_is_protocol(void **state) {
  static const scpi_step steps[] = {
      OPEN_STEPS,
      {"SOUR:TEMP 41.000\n", NULL, 0, 0},
      {"SYST:ERR?\n", "-222,\"Data out of range\"\n", 0, 0},
  };
  scpi_fake f;
  const shp_driver *drv = driver();
  shp_device *dev = open_on(&f, steps, sizeof steps / sizeof steps[0], 1.0);
  assert_int_equal(drv->oven_set(dev, 0, 41.0), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL,
                  NAME ": SOUR:TEMP 41.000: the instrument reports error "
                       "-222 \"Data out of range\"");
  scpi_fake_done(&f);
  drv->close(dev);
}

static void test_ted4000_unreadable_answers_are_protocol(void **state) {
  static const scpi_step steps[] = {
      OPEN_STEPS,
      {"SOUR:TEMP?\n", "40.0\n", 0, 0},
      {"MEAS:TEMP?\n", "9.91E37\n", 0, 0}, /* SCPI's not-a-number */
      {"SOUR:TEMP?\n", "40.0\n", 0, 0},
      {"MEAS:TEMP?\n", "40.1\n", 0, 0},
      {"OUTP?\n", "2\n", 0, 0},
      {"SOUR:TEMP?\n", "40.0\n", 0, 0},
      {"MEAS:TEMP?\n", "40.1\n", 0, 0},
      {"OUTP?\n", "1\n", 0, 0},
      {"STAT:MEAS:COND?\n", "0,1\n", 0, 0},
  };
  scpi_fake f;
  const shp_driver *drv = driver();
  shp_device *dev = open_on(&f, steps, sizeof steps / sizeof steps[0], 1.0);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, NAME ": MEAS:TEMP?: ", "no valid value");
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_PROTOCOL);
  assert_error_is(SHP_ERR_PROTOCOL, NAME ": OUTP?: expected a whole number "
                                         "from 0 to 1, got 2");
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_PROTOCOL);
  assert_error_has(SHP_ERR_PROTOCOL, NAME ": STAT:MEAS:COND?: ", "trailing");
  scpi_fake_done(&f);
  drv->close(dev);
}

/* libusb reports a bulk-IN timeout after the transfer's timeout: the read
 * fails with SHP_ERR_TIMEOUT within the connection's timeout (plus the
 * abort's, which the script answers at once). */
static void test_ted4000_silence_times_out_within_timeout(void **state) {
  static const scpi_step steps[] = {
      OPEN_STEPS,
      {"SOUR:TEMP?\n", "40.0\n", 0, 0},
      {"MEAS:TEMP?\n", NULL, 0, LIBUSB_ERROR_TIMEOUT},
  };
  scpi_fake f;
  const double timeout_s = 0.3;
  const shp_driver *drv = driver();
  shp_device *dev =
      open_on(&f, steps, sizeof steps / sizeof steps[0], timeout_s);
  shp_oven_reading r;
  double t0 = now_s();
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= timeout_s - 0.02);
  assert_true(took < 2 * timeout_s + 0.2);
  assert_error_has(SHP_ERR_TIMEOUT, NAME ": reading a reply: no answer");
  assert_int_equal(f.n_controls, 1); /* INITIATE_ABORT_BULK_IN */
  assert_int_equal(f.n_halts, 1);
  scpi_fake_done(&f);
  drv->close(dev);
}

static void test_ted4000_unplug_is_disconnected(void **state) {
  static const scpi_step steps[] = {
      OPEN_STEPS,
      {"SOUR:TEMP?\n", NULL, 0, LIBUSB_ERROR_NO_DEVICE},
  };
  scpi_fake f;
  const shp_driver *drv = driver();
  shp_device *dev = open_on(&f, steps, sizeof steps / sizeof steps[0], 1.0);
  shp_oven_reading r;
  assert_int_equal(drv->oven_read(dev, 0, &r), SHP_ERR_DISCONNECTED);
  assert_error_has(SHP_ERR_DISCONNECTED, NAME ": ", "device unplugged");
  assert_int_equal(f.n_controls, 0);
  /* Holding after the unplug still sends nothing and succeeds. */
  assert_int_equal(drv->oven_hold(dev, 0), SHP_OK);
  scpi_fake_done(&f);
  drv->close(dev);
}

/* The connection must be usb with ids, and the driver takes no options. */
static void test_ted4000_connection_and_options_are_checked(void **state) {
  static const char lab[] = "ovens:\n"
                            "  - driver: ted4000\n"
                            "    options: {ramp_k_per_min: 1.0}\n";
  const shp_driver *drv = driver();
  shp_device *dev = NULL;
  shp_connection tty = {.kind = "tty", .port = "/dev/ttyUSB0"};
  shp_device_config cfg = {.connection = &tty, .options_ctx = "ovens[0]"};
  assert_int_equal(drv->open(&cfg, &dev), SHP_ERR_INVALID);
  assert_error_has(SHP_ERR_INVALID, "ted4000: needs a usb connection",
                   "got kind \"tty\"");
  shp_connection usb = {.kind = "usb", .timeout_s = 1.0};
  cfg.connection = &usb;
  assert_int_equal(drv->open(&cfg, &dev), SHP_ERR_INVALID);
  assert_error_is(SHP_ERR_INVALID, "ted4000: the usb connection needs its "
                                   "vendor and product ids");
  usb.vendor = 0x1313;
  usb.product = 0x8048;
  shp_yaml *y = shp_yaml_load_string("lab.yml", lab, sizeof lab - 1);
  assert_non_null(y);
  yaml_node_t *oven =
      shp_yaml_seq_item(y, shp_yaml_get(y, shp_yaml_root(y), "ovens"), 0);
  cfg.yaml = y;
  cfg.options = shp_yaml_get(y, oven, "options");
  assert_int_equal(drv->open(&cfg, &dev), SHP_ERR_PARSE);
  assert_error_is(SHP_ERR_PARSE,
                  "lab.yml:3: ovens[0].options.ramp_k_per_min: unknown key");
  assert_null(dev);
  shp_yaml_free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ted4000_reads_sets_and_holds),
      cmocka_unit_test(test_ted4000_condition_faults_are_reported),
      cmocka_unit_test(test_ted4000_refuses_another_instrument),
      cmocka_unit_test(test_ted4000_first_idn_unanswered_is_retried),
      cmocka_unit_test(test_ted4000_idn_retries_are_bounded),
      cmocka_unit_test(test_ted4000_scpi_error_at_open_is_protocol),
      cmocka_unit_test(test_ted4000_refused_setpoint_is_protocol),
      cmocka_unit_test(test_ted4000_unreadable_answers_are_protocol),
      cmocka_unit_test(test_ted4000_silence_times_out_within_timeout),
      cmocka_unit_test(test_ted4000_unplug_is_disconnected),
      cmocka_unit_test(test_ted4000_connection_and_options_are_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
