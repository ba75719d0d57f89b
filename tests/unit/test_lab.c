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
#include "shp/lab.h"
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
#define OVEN                                                                   \
  "  - {driver: sim, connection: {kind: sim}, channel: 0, min_c: 20, "         \
  "max_c: 120, max_ramp_k_per_min: 5, settle_tolerance_k: 0.1, "               \
  "settle_time_s: 10}\n"
#define OVENS "ovens:\n" OVEN OVEN OVEN OVEN
#define AC "autocorrelator: {driver: sim, connection: {kind: sim}}\n"

static void test_lab_malformed_files_name_line_and_key(void **state) {
  expect_error(STACK OVENS AC "colour: blue\n", SHP_ERR_PARSE,
               "8: colour: unknown key");
  expect_error(STACK OVENS, SHP_ERR_PARSE,
               "1: autocorrelator: missing required key");
  expect_error(STACK "ovens:\n" OVEN OVEN OVEN
                     "  - {driver: sim, connection: {kind: sim}, channel: 0, "
                     "min_c: 20, max_c: hot, max_ramp_k_per_min: 5, "
                     "settle_tolerance_k: 0.1, settle_time_s: 10}\n" AC,
               SHP_ERR_PARSE,
               "6: ovens[3].max_c: expected a number, got \"hot\"");
  expect_error(
      STACK "ovens:\n" OVEN
            "  - {driver: sim, connection: {kind: sim}, channel: 0, "
            "min_c: 90, max_c: 80, max_ramp_k_per_min: 5, "
            "settle_tolerance_k: 0.1, settle_time_s: 10}\n" OVEN OVEN AC,
      SHP_ERR_RANGE, "4: ovens[1].max_c: must be greater than min_c, got 80");
  expect_error(STACK "ovens:\n" OVEN OVEN OVEN
                     "  - {driver: tc999, connection: {kind: tty}, channel: 0, "
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
  expect_error(STACK "ovens:\n" OVEN OVEN OVEN
                     "  - {driver: pulsecheck, connection: {kind: tcp}, "
                     "channel: 0, min_c: 20, max_c: 80, "
                     "max_ramp_k_per_min: 5, settle_tolerance_k: 0.1, "
                     "settle_time_s: 10}\n" AC,
               SHP_ERR_PARSE,
               "6: ovens[3].driver: driver \"pulsecheck\" has no ovens");
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
               "9: sim.time_constant_s: must be > 0, got 0");
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lab_good_file_reads_every_key),
      cmocka_unit_test(test_lab_default_sim_covers_every_crystal),
      cmocka_unit_test(test_lab_malformed_files_name_line_and_key),
      cmocka_unit_test(test_lab_wrong_oven_count_is_an_error),
      cmocka_unit_test(test_cli_hw_status_json_lists_every_oven),
      cmocka_unit_test(test_cli_hw_set_refuses_and_settles),
      cmocka_unit_test(test_cli_hw_acquire_json_and_csv),
      cmocka_unit_test(test_cli_hw_fault_exits_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
