/* Lab files (good and malformed, with exact messages) and `shapectl hw`
 * run as a user runs it. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "labfile.h"
#include "shp/error.h"
#include "shp/file.h"
#include "shp/lab.h"
#include "shp/supervisor.h"
#include "spawn_run.h"

#define LABS SHP_TEST_DATADIR "/labs/"

static void test_lab_good_file_reads_every_key(void **state) {
  shp_lab *lab = shp_lab_load(LABS "good.yml");
  if (lab == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(lab->oven_count, 4);
  assert_int_equal(lab->stack->crystal_count, 4);
  const shp_lab_oven *o = &lab->ovens[3];
  assert_string_equal(o->driver->name, "sim");
  assert_string_equal(o->connection.kind, "sim");
  assert_int_equal(o->channel, 3);
  assert_near(o->connection.timeout_s, 1.5, 0);
  assert_near(lab->ovens[0].connection.timeout_s, 2.0, 0);
  assert_near(o->min_c, 20.0, 0);
  assert_near(o->max_c, 110.0, 0);
  assert_near(o->max_ramp_k_per_min, 2.5, 0);
  assert_near(o->settle_tolerance_k, 0.1, 0);
  assert_near(o->settle_time_s, 30.0, 0);
  assert_int_equal(lab->autocorrelator.averages, 8);
  assert_near(lab->autocorrelator.delay_scale, 2.0, 0);
  assert_near(lab->autocorrelator.delay_offset_ps, 0.5, 0);
  assert_near(shp_lab_sim_speedup(lab), 0.0, 0);
  shp_lab_free(lab);
}

static void test_lab_default_sim_covers_every_crystal(void **state) {
  shp_lab *lab =
      shp_lab_default_sim(SHP_SOURCE_DATADIR "/examples/stacks/fan4.yml");
  assert_non_null(lab);
  assert_int_equal(lab->oven_count, 4);
  assert_null(lab->path);
  assert_near(lab->ovens[2].max_ramp_k_per_min, 10.0, 0);
  assert_near(shp_lab_sim_speedup(lab), 120.0, 0);
  shp_lab_free(lab);
}

/* Load text as a lab file and check the message after "PATH:". */
static void expect_error(const char *text, int code, const char *message) {
  char *path = lab_write_text(text);
  assert_non_null(path);
  shp_lab *lab = shp_lab_load(path);
  assert_null(lab);
  assert_int_equal(shp_error_last(), code);
  const char *d = shp_error_detail();
  size_t n = strlen(path);
  if (strncmp(d, path, n) != 0 || d[n] != ':' || strcmp(d + n + 1, message))
    fail_msg("got \"%s\", want \"%s:%s\"", d, path, message);
  unlink(path);
  free(path);
}

#define STACK "stack: " SHP_SOURCE_DATADIR "/examples/stacks/fan4.yml\n"
#define OVEN_ON(channel)                                                       \
  "  - {driver: sim, connection: {kind: sim}, channel: " #channel ", "         \
  "min_c: 20, max_c: 120, max_ramp_k_per_min: 5, settle_tolerance_k: 0.1, "    \
  "settle_time_s: 10}\n"
#define OVEN OVEN_ON(0)
#define OVENS "ovens:\n" OVEN_ON(0) OVEN_ON(1) OVEN_ON(2) OVEN_ON(3)
#define AC "autocorrelator: {driver: sim, connection: {kind: sim}}\n"

static void test_lab_malformed_files_name_line_and_key(void **state) {
  expect_error(STACK OVENS AC "colour: blue\n", SHP_ERR_PARSE,
               "8: colour: unknown key");
  expect_error(STACK OVENS, SHP_ERR_PARSE,
               "1: autocorrelator: missing required key");
  expect_error(
      STACK "ovens:\n" OVEN_ON(0) OVEN_ON(1)
          OVEN_ON(2) "  - {driver: sim, connection: {kind: sim}, channel: 0, "
                     "min_c: 20, max_c: hot, max_ramp_k_per_min: 5, "
                     "settle_tolerance_k: 0.1, settle_time_s: 10}\n" AC,
      SHP_ERR_PARSE, "6: ovens[3].max_c: expected a number, got \"hot\"");
  expect_error(
      STACK "ovens:\n" OVEN
            "  - {driver: sim, connection: {kind: sim}, channel: 0, "
            "min_c: 90, max_c: 80, max_ramp_k_per_min: 5, "
            "settle_tolerance_k: 0.1, settle_time_s: 10}\n" OVEN OVEN AC,
      SHP_ERR_RANGE, "4: ovens[1].max_c: must be greater than min_c, got 80");
  expect_error(
      STACK "ovens:\n" OVEN_ON(0) OVEN_ON(1)
          OVEN_ON(2) "  - {driver: tc999, connection: {kind: tty}, channel: 0, "
                     "min_c: 20, max_c: 80, max_ramp_k_per_min: 5, "
                     "settle_tolerance_k: 0.1, settle_time_s: 10}\n" AC,
      SHP_ERR_NOT_FOUND,
      "6: ovens[3].driver: unknown driver \"tc999\" (known: sim, "
      "tc200, covesion, mecom, ted4000)");
  /* An autocorrelator's list names only the drivers that have one. */
  expect_error(STACK OVENS
               "autocorrelator: {driver: ape9, connection: {kind: tcp}}\n",
               SHP_ERR_NOT_FOUND,
               "7: autocorrelator.driver: unknown driver \"ape9\" (known: "
               "sim, scope-ac, pulsecheck)");
  expect_error(
      STACK "ovens:\n" OVEN_ON(0) OVEN_ON(1)
          OVEN_ON(2) "  - {driver: pulsecheck, connection: {kind: tcp}, "
                     "channel: 0, min_c: 20, max_c: 80, "
                     "max_ramp_k_per_min: 5, settle_tolerance_k: 0.1, "
                     "settle_time_s: 10}\n" AC,
      SHP_ERR_PARSE, "6: ovens[3].driver: driver \"pulsecheck\" has no ovens");
  expect_error(STACK OVENS AC "sim:\n  phase_offset_rad: [0.1, 0.2]\n",
               SHP_ERR_PARSE,
               "9: sim.phase_offset_rad: expected 4 numbers, one per "
               "crystal, got 2");
  expect_error(STACK OVENS AC
               "sim:\n  faults: [{kind: melt, at_s: 3, crystal: 1}]\n",
               SHP_ERR_PARSE,
               "9: sim.faults[0].kind: expected timeout, disconnect, "
               "stuck_sensor or garbage, got \"melt\"");
  expect_error(STACK OVENS AC
               "sim:\n  faults: [{kind: timeout, at_s: 3, crystal: 4}]\n",
               SHP_ERR_RANGE,
               "9: sim.faults[0].crystal: must be a crystal index from 0 "
               "to 3, got 4");
  expect_error(STACK OVENS AC "sim:\n  time_constant_s: 0\n", SHP_ERR_RANGE,
               "9: sim.time_constant_s: must be from 0.01 to 1e+06, got 0");
}

/* The fourth oven with one key's value replaced (key NULL: none), on its
 * connection conn, in an otherwise good lab; the oven is on line 6. */
static char *oven_fields(const char *key, const char *value) {
  static const char *const keys[] = {"channel",
                                     "min_c",
                                     "max_c",
                                     "max_ramp_k_per_min",
                                     "settle_tolerance_k",
                                     "settle_time_s",
                                     NULL};
  static const char *const values[] = {"3", "20", "120", "5", "0.1", "10"};
  static char text[512];
  size_t len = 0;
  for (size_t k = 0; keys[k] != NULL; k++)
    len += (size_t)snprintf(
        text + len, sizeof text - len, "%s%s: %s", k ? ", " : "", keys[k],
        key != NULL && strcmp(key, keys[k]) == 0 ? value : values[k]);
  return text;
}

static void expect_oven_error(const char *conn, const char *key,
                              const char *value, const char *message) {
  char text[2048];
  snprintf(text, sizeof text,
           STACK "ovens:\n" OVEN_ON(0) OVEN_ON(1)
               OVEN_ON(2) "  - {driver: sim, connection: %s, %s}\n" AC,
           conn, oven_fields(key, value));
  expect_error(text, SHP_ERR_RANGE, message);
}

static void
test_lab_oven_values_outside_physical_bounds_are_refused(void **state) {
  const char *sim = "{kind: sim}";
  /* A ramp that never ends, and one that disables crack protection. */
  expect_oven_error(sim, "max_ramp_k_per_min", "1e-300",
                    "6: ovens[3].max_ramp_k_per_min: must be from 0.01 to "
                    "100, got 1e-300");
  expect_oven_error(sim, "max_ramp_k_per_min", "1e300",
                    "6: ovens[3].max_ramp_k_per_min: must be from 0.01 to "
                    "100, got 1e+300");
  expect_oven_error(sim, "settle_tolerance_k", "1e300",
                    "6: ovens[3].settle_tolerance_k: must be from 0.001 to 5, "
                    "got 1e+300");
  expect_oven_error(sim, "settle_time_s", "1e300",
                    "6: ovens[3].settle_time_s: must be from 0 to 3600, got "
                    "1e+300");
  expect_oven_error(sim, "min_c", "-1e308",
                    "6: ovens[3].min_c: must be from -50 to 300, got "
                    "-1e+308");
  expect_oven_error(sim, "max_c", "301",
                    "6: ovens[3].max_c: must be from -50 to 300, got 301");
  /* Checked as a number before it becomes an int. */
  expect_oven_error(sim, "channel", "1e300",
                    "6: ovens[3].channel: must be a whole number from 0 to "
                    "255, got 1e+300");
  expect_oven_error(sim, "channel", "2.5",
                    "6: ovens[3].channel: must be a whole number from 0 to "
                    "255, got 2.5");
  expect_oven_error("{kind: sim, timeout_s: 1e300}", NULL, NULL,
                    "6: ovens[3].connection.timeout_s: must be from 0.01 to "
                    "120, got 1e+300");
  expect_oven_error("{kind: tty, port: /dev/ttyUSB0, baud: 1e300}", NULL, NULL,
                    "6: ovens[3].connection.baud: must be a whole number "
                    "from 1 to 4e+06, got 1e+300");
  expect_oven_error("{kind: tcp, host: h, tcp_port: -1e300}", NULL, NULL,
                    "6: ovens[3].connection.tcp_port: must be a whole number "
                    "from 1 to 65535, got -1e+300");
}

static void test_lab_two_ovens_on_one_channel_are_refused(void **state) {
  expect_oven_error("{kind: sim}", "channel", "1",
                    "6: ovens[3].channel: ovens[1] and ovens[3] are both "
                    "channel 1 of one sim device");
  /* Two controllers on two ports are two devices, each with a channel 0. */
  char text[2048];
  snprintf(text, sizeof text,
           STACK "ovens:\n" OVEN_ON(0)
               OVEN_ON(1) "  - {driver: tc200, connection: {kind: tty, port: "
                          "/dev/ttyUSB0}, %s}\n"
                          "  - {driver: tc200, connection: {kind: tty, port: "
                          "/dev/ttyUSB%s}, %s}\n" AC,
           oven_fields("channel", "0"), "1", oven_fields("channel", "0"));
  char *path = lab_write_text(text);
  shp_lab *lab = shp_lab_load(path);
  if (lab == NULL)
    fail_msg("%s", shp_error_detail());
  shp_lab_free(lab);
  unlink(path);
  free(path);
  /* The same port is one controller: refused, naming both entries. */
  snprintf(text, sizeof text,
           STACK "ovens:\n" OVEN_ON(0)
               OVEN_ON(1) "  - {driver: tc200, connection: {kind: tty, port: "
                          "/dev/ttyUSB0}, %s}\n"
                          "  - {driver: tc200, connection: {kind: tty, port: "
                          "/dev/ttyUSB0, baud: 9600}, %s}\n" AC,
           oven_fields("channel", "0"), oven_fields("channel", "0"));
  expect_error(text, SHP_ERR_RANGE,
               "6: ovens[3].channel: ovens[2] and ovens[3] are both channel 0 "
               "of one tc200 device");
}

static void test_lab_autocorrelator_and_sim_values_are_bounded(void **state) {
  expect_error(STACK OVENS
               "autocorrelator: {driver: sim, connection: {kind: sim}, "
               "delay_calibration: {scale: 1.0, offset_ps: 1e300}}\n",
               SHP_ERR_RANGE,
               "7: autocorrelator.delay_calibration.offset_ps: must be from "
               "-1000 to 1000, got 1e+300");
  expect_error(STACK OVENS
               "autocorrelator: {driver: sim, connection: {kind: sim}, "
               "delay_calibration: {scale: 1e-300}}\n",
               SHP_ERR_RANGE,
               "7: autocorrelator.delay_calibration.scale: must be from 0.01 "
               "to 100 in magnitude, got 1e-300");
  expect_error(STACK OVENS
               "autocorrelator: {driver: sim, connection: {kind: sim}, "
               "averages: 1e300}\n",
               SHP_ERR_RANGE,
               "7: autocorrelator.averages: must be a whole number from 1 to "
               "10000, got 1e+300");
  static const struct {
    const char *line, *message;
  } sim[] = {
      {"speedup: 1e300", "sim.speedup: must be from 0 to 10000, got 1e+300"},
      {"noise: 1e300", "sim.noise: must be from 0 to 1, got 1e+300"},
      {"background: -1", "sim.background: must be from 0 to 10, got -1"},
      {"scan_range_ps: 1e300",
       "sim.scan_range_ps: must be from 0.1 to 1000, got 1e+300"},
      {"scan_time_s: 1e300",
       "sim.scan_time_s: must be from 0 to 60, got 1e+300"},
      {"time_constant_s: 1e-300",
       "sim.time_constant_s: must be from 0.01 to 1e+06, got 1e-300"},
      {"sensor_noise_k: 1e300",
       "sim.sensor_noise_k: must be from 0 to 1, got 1e+300"},
      {"phase_offset_sigma_rad: 1e300",
       "sim.phase_offset_sigma_rad: must be from 0 to 10, got 1e+300"},
      {"azimuth_error_deg: [0, 0, 90, 0]",
       "sim.azimuth_error_deg[2]: must be from -45 to 45, got 90"},
      {"start_c: [20, 20, 20, -300]",
       "sim.start_c[3]: must be from -273.15 to 1000, got -300"},
      {"faults: [{kind: timeout, at_s: 1e300, crystal: 1}]",
       "sim.faults[0].at_s: must be from 0 to 1e+09, got 1e+300"},
  };
  for (size_t k = 0; k < sizeof sim / sizeof sim[0]; k++) {
    char text[2048], message[256];
    snprintf(text, sizeof text, STACK OVENS AC "sim:\n  %s\n", sim[k].line);
    snprintf(message, sizeof message, "9: %s", sim[k].message);
    expect_error(text, SHP_ERR_RANGE, message);
  }
}

/* A driver's own number options are checked as numbers before they
 * become a byte, and named by file, line and key. */
static void test_lab_mecom_address_is_checked_before_the_cast(void **state) {
  const char *text = "options:\n  address: 1e300\n";
  shp_yaml *y = shp_yaml_load_string("lab.yml", text, strlen(text));
  assert_non_null(y);
  shp_connection tty = {
      .kind = "tty", .port = "/nonexistent/tty", .timeout_s = 1};
  shp_device_config cfg = {.connection = &tty,
                           .yaml = y,
                           .options =
                               shp_yaml_get(y, shp_yaml_root(y), "options"),
                           .options_ctx = "ovens[0]"};
  shp_device *dev = NULL;
  assert_int_equal(shp_hw_driver_find("mecom")->open(&cfg, &dev),
                   SHP_ERR_RANGE);
  assert_string_equal(shp_error_detail(),
                      "lab.yml:2: ovens[0].options.address: must be a whole "
                      "number from 0 to 255, got 1e+300");
  assert_null(dev);
  shp_yaml_free(y);
}

static void test_lab_wrong_oven_count_is_an_error(void **state) {
  assert_null(shp_lab_load(LABS "wrong-count.yml"));
  assert_string_equal(shp_error_detail(),
                      LABS "wrong-count.yml:3: ovens: expected 4 entries, one "
                           "per crystal of " LABS
                           "../../../examples/stacks/fan4.yml, got 1");
}

/* ---- shapectl hw -----------------------------------------------------------
 */

#define run(...)                                                               \
  spawn_run(SHAPECTL_PATH, NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})

static json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    fail_msg("stdout is not JSON (line %d: %s): %s", e.line, e.text, text);
  return j;
}

static void test_cli_hw_status_json_lists_every_oven(void **state) {
  spawn_result r = run("hw", "status", "--json");
  assert_int_equal(r.status, 0);
  assert_contains(r.err, "using the simulated lab");
  json_t *j = parse_json(r.out);
  json_t *ovens = json_object_get(j, "ovens");
  assert_int_equal(json_array_size(ovens), 4);
  json_t *o = json_array_get(ovens, 3);
  const char *keys[] = {
      "crystal",          "setpoint_c", "actual_c", "output_on",
      "within_tolerance", "min_c",      "max_c",    "fault"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (json_object_get(o, keys[k]) == NULL)
      fail_msg("no \"%s\" in %s", keys[k], r.out);
  assert_near(json_number_value(json_object_get(o, "setpoint_c")), 66.7432,
              1e-9);
  assert_true(json_is_true(json_object_get(o, "output_on")));
  assert_true(json_is_true(json_object_get(j, "simulated")));
  assert_non_null(
      json_object_get(json_object_get(j, "autocorrelator"), "driver"));
  json_decref(j);
  spawn_result_free(&r);
}

static void test_cli_hw_set_refuses_and_settles(void **state) {
  char *lab = lab_write(NULL);
  spawn_result r =
      run("hw", "set", lab, "--crystal", "2", "--temperature-c", "150");
  assert_int_equal(r.status, 2);
  assert_contains(r.err, "crystal 2: setpoint 150 C refused: outside the "
                         "limits 20 to 120 C");
  spawn_result_free(&r);
  r = run("hw", "set", lab, "--crystal", "2", "--temperature-c", "70");
  assert_int_equal(r.status, 0);
  assert_contains(r.err, "crystal 2 settled at 70.000 C");
  spawn_result_free(&r);
  r = run("hw", "set", lab, "--crystal", "9", "--temperature-c", "70");
  assert_int_equal(r.status, 2);
  spawn_result_free(&r);
  unlink(lab);
  free(lab);
}

static void test_cli_hw_acquire_json_and_csv(void **state) {
  char *lab = lab_write("  points: 128\n");
  spawn_result r = run("hw", "acquire", lab, "--average", "2", "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  assert_int_equal(json_integer_value(json_object_get(j, "count")), 128);
  assert_int_equal(json_integer_value(json_object_get(j, "averages")), 2);
  assert_int_equal(json_array_size(json_object_get(j, "delay_ps")), 128);
  assert_int_equal(json_array_size(json_object_get(j, "signal")), 128);
  json_decref(j);
  spawn_result_free(&r);
  char csv[] = "/tmp/shp-ac-XXXXXX";
  close(mkstemp(csv));
  r = run("hw", "acquire", lab, "--csv", csv);
  assert_int_equal(r.status, 0);
  FILE *f = fopen(csv, "r");
  char line[128];
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "delay_ps,signal\n");
  size_t rows = 0;
  while (fgets(line, sizeof line, f))
    rows++;
  assert_int_equal(rows, 128);
  fclose(f);
  unlink(csv);
  spawn_result_free(&r);
  r = run("hw", "acquire", lab, "--json", "--csv", csv);
  assert_int_equal(r.status, 2);
  spawn_result_free(&r);
  unlink(lab);
  free(lab);
}

/* A lab value outside its bounds is bad input: exit 2 before anything
 * is opened, with the file, line and key. */
static void test_cli_hw_refuses_unphysical_lab_with_exit_two(void **state) {
  char *lab = lab_write("  noise: 1e300\n");
  spawn_result r = run("hw", "status", lab);
  assert_int_equal(r.status, 2);
  char want[512];
  snprintf(want, sizeof want,
           "%s:14: sim.noise: must be from 0 to 1, got 1e+300", lab);
  assert_contains(r.err, want);
  assert_string_equal(r.out, "");
  spawn_result_free(&r);
  unlink(lab);
  free(lab);
}

static void test_cli_hw_fault_exits_one(void **state) {
  char *lab =
      lab_write("  faults: [{kind: disconnect, at_s: 0, crystal: 1}]\n");
  spawn_result r = run("hw", "status", lab);
  assert_int_equal(r.status, 1);
  assert_contains(r.out, "crystal 1  sim:1  FAULT");
  assert_contains(r.err, "holding setpoint");
  spawn_result_free(&r);
  unlink(lab);
  free(lab);
}

/* ---- the simulated lab across commands ------------------------------------
 */

static json_t *status_json(const char *lab) {
  spawn_result r =
      lab ? run("hw", "status", lab, "--json") : run("hw", "status", "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  spawn_result_free(&r);
  return j;
}

static double oven_value(json_t *j, size_t crystal, const char *key) {
  json_t *o = json_array_get(json_object_get(j, "ovens"), crystal);
  assert_non_null(o);
  return json_number_value(json_object_get(o, key));
}

static void test_cli_hw_ovens_keep_their_setpoints_until_reset(void **state) {
  char *lab = lab_write(NULL);
  spawn_result r =
      run("hw", "set", lab, "--crystal", "1", "--temperature-c", "70");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  /* A new process finds crystal 1 where the last one left it. */
  json_t *j = status_json(lab);
  assert_near(oven_value(j, 1, "setpoint_c"), 70.0, 0);
  assert_near(oven_value(j, 1, "actual_c"), 70.0, 0.05);
  assert_near(oven_value(j, 0, "setpoint_c"), 66.7432, 0);
  json_decref(j);
  /* Library users (runs, calibrations, tests) get today's fresh lab. */
  shp_lab *l = shp_lab_load(lab);
  assert_non_null(l);
  shp_clock *clock = shp_clock_new_sim(0);
  shp_supervisor *sup = shp_supervisor_open(l, clock, NULL, NULL);
  assert_non_null(sup);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(sup, 1, &st), SHP_OK);
  assert_near(st.reading.setpoint_c, 66.7432, 0);
  shp_supervisor_close(sup);
  shp_clock_free(clock);
  /* A corrupt state is reported, naming the file, not guessed around. */
  char path[4096];
  assert_int_equal(shp_lab_sim_state_path(l, path, sizeof path), SHP_OK);
  assert_non_null(strstr(path, "/shaper/sim/"));
  char *saved = NULL;
  size_t len;
  assert_int_equal(shp_file_read(path, 1 << 16, &saved, &len), SHP_OK);
  FILE *f = fopen(path, "w");
  fputs("garbage\n", f);
  fclose(f);
  r = run("hw", "status", lab);
  assert_int_equal(r.status, 2);
  char want[4200];
  snprintf(want, sizeof want, "%s:1: not a simulated lab's state", path);
  assert_contains(r.err, want);
  spawn_result_free(&r);
  f = fopen(path, "w");
  fwrite(saved, 1, len, f);
  fclose(f);
  free(saved);
  /* reset starts afresh. */
  r = run("hw", "reset", lab);
  assert_int_equal(r.status, 0);
  assert_contains(r.err, "starts afresh");
  spawn_result_free(&r);
  assert_int_equal(access(path, F_OK), -1);
  j = status_json(lab);
  assert_near(oven_value(j, 1, "setpoint_c"), 66.7432, 0);
  json_decref(j);
  /* A lab changed since the state was kept starts afresh too. */
  r = run("hw", "set", lab, "--crystal", "2", "--temperature-c", "60");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  j = status_json(lab);
  assert_near(oven_value(j, 2, "setpoint_c"), 60.0, 0);
  json_decref(j);
  f = fopen(lab, "a");
  fputs("# edited\n", f);
  fclose(f);
  j = status_json(lab);
  assert_near(oven_value(j, 2, "setpoint_c"), 66.7432, 0);
  json_decref(j);
  shp_lab_free(l);
  unlink(lab);
  free(lab);
}

/* Between two commands the ovens move on by the wall time elapsed, at the
 * lab's speedup: 2 s at 100 x is 200 s of lab time, almost seven time
 * constants, while the commands themselves take a small part of one. */
static void test_cli_hw_ovens_move_on_between_commands(void **state) {
  char *lab = lab_write("  speedup: 100\n");
  spawn_result r = run("hw", "set", lab, "--crystal", "1", "--temperature-c",
                       "70", "--no-wait");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  usleep(2000000);
  json_t *j = status_json(lab);
  assert_near(oven_value(j, 1, "setpoint_c"), 70.0, 0);
  assert_near(oven_value(j, 1, "actual_c"), 70.0, 0.05);
  json_decref(j);
  r = run("hw", "reset", lab);
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  unlink(lab);
  free(lab);
}

/* Without a lab file, the built-in simulated lab keeps its ovens too. */
static void test_cli_hw_builtin_lab_keeps_its_ovens(void **state) {
  spawn_result r = run("hw", "set", "--crystal", "1", "--temperature-c", "70");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  json_t *j = status_json(NULL);
  assert_near(oven_value(j, 1, "setpoint_c"), 70.0, 0);
  assert_near(oven_value(j, 1, "actual_c"), 70.0, 0.05);
  json_decref(j);
  r = run("hw", "reset");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  j = status_json(NULL);
  assert_near(oven_value(j, 1, "setpoint_c"), 66.7432, 0);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lab_good_file_reads_every_key),
      cmocka_unit_test(test_lab_default_sim_covers_every_crystal),
      cmocka_unit_test(test_lab_malformed_files_name_line_and_key),
      cmocka_unit_test(
          test_lab_oven_values_outside_physical_bounds_are_refused),
      cmocka_unit_test(test_lab_two_ovens_on_one_channel_are_refused),
      cmocka_unit_test(test_lab_autocorrelator_and_sim_values_are_bounded),
      cmocka_unit_test(test_lab_mecom_address_is_checked_before_the_cast),
      cmocka_unit_test(test_lab_wrong_oven_count_is_an_error),
      cmocka_unit_test(test_cli_hw_status_json_lists_every_oven),
      cmocka_unit_test(test_cli_hw_set_refuses_and_settles),
      cmocka_unit_test(test_cli_hw_acquire_json_and_csv),
      cmocka_unit_test(test_cli_hw_refuses_unphysical_lab_with_exit_two),
      cmocka_unit_test(test_cli_hw_fault_exits_one),
      cmocka_unit_test(test_cli_hw_ovens_keep_their_setpoints_until_reset),
      cmocka_unit_test(test_cli_hw_ovens_move_on_between_commands),
      cmocka_unit_test(test_cli_hw_builtin_lab_keeps_its_ovens),
  };
  /* The simulated lab's state goes to a directory of this run's own, so
   * that runs never meet each other's ovens or the user's. */
  char dir[] = "/tmp/shp-state-XXXXXX";
  if (mkdtemp(dir) == NULL || setenv("XDG_STATE_HOME", dir, 1) != 0)
    return 1;
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0)
    return 1;
  return failed;
}
