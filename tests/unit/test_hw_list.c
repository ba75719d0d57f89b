/* `shapectl hw list` run as a user runs it: exit status and JSON keys with
 * and without a lab file, the sim lab's devices all present, and a lab file
 * naming a tty that does not exist showing it as absent. Whatever USB
 * devices the machine has (often none) are listed, never an error. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn_run.h"

#define SIM_LAB SHP_SOURCE_DATADIR "/examples/labs/sim-fan4.yml"
#define NO_TTY "/dev/ttyUSB-shp-test-absent"

static json_t *run_json(const char *const *args) {
  spawn_result r = spawn_run(SHAPECTL_PATH, NULL, NULL, args);
  assert_int_equal(r.status, 0);
  json_error_t err;
  json_t *j = json_loads(r.out, 0, &err);
  if (j == NULL)
    fail_msg("not JSON: %s\n%s", err.text, r.out);
  spawn_result_free(&r);
  return j;
}

static void test_list_json_keys(void **state) {
  json_t *j = run_json((const char *const[]){"hw", "list", "--json", NULL});
  json_t *usb = json_object_get(j, "usb");
  assert_true(json_is_object(usb));
  assert_true(json_is_array(json_object_get(usb, "usbtmc")));
  assert_true(json_is_array(json_object_get(usb, "serial")));
  assert_non_null(json_object_get(usb, "error"));
  assert_true(json_is_null(json_object_get(j, "lab")));
  json_t *drivers = json_object_get(j, "drivers");
  assert_true(json_is_array(drivers));
  bool sim = false, tc200 = false;
  size_t i;
  json_t *d;
  json_array_foreach(drivers, i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    assert_non_null(name);
    assert_true(json_is_string(json_object_get(d, "description")));
    json_t *roles = json_object_get(d, "roles");
    assert_true(json_is_array(roles) && json_array_size(roles) > 0);
    sim = sim || strcmp(name, "sim") == 0;
    tc200 = tc200 || strcmp(name, "tc200") == 0;
  }
  assert_true(sim && tc200);
  json_decref(j);
}

static void test_list_text(void **state) {
  spawn_result r = spawn_run(SHAPECTL_PATH, NULL, NULL,
                             (const char *const[]){"hw", "list", NULL});
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "USB devices:");
  assert_contains(r.out, "drivers:");
  assert_contains(r.out, "tc200");
  spawn_result_free(&r);
}

static void test_list_sim_lab(void **state) {
  json_t *j =
      run_json((const char *const[]){"hw", "list", SIM_LAB, "--json", NULL});
  json_t *lab = json_object_get(j, "lab");
  assert_true(json_is_object(lab));
  assert_string_equal(json_string_value(json_object_get(lab, "path")), SIM_LAB);
  assert_int_equal(json_integer_value(json_object_get(lab, "missing")), 0);
  json_t *devs = json_object_get(lab, "devices");
  assert_int_equal(json_array_size(devs), 5); /* four ovens, one AC */
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    assert_string_equal(json_string_value(json_object_get(d, "driver")), "sim");
    assert_true(json_is_true(json_object_get(d, "present")));
    json_t *c = json_object_get(d, "connection");
    assert_string_equal(json_string_value(json_object_get(c, "kind")), "sim");
    assert_string_equal(json_string_value(json_object_get(d, "role")),
                        i < 4 ? "oven" : "autocorrelator");
    if (i < 4)
      assert_int_equal(json_integer_value(json_object_get(d, "crystal")),
                       (json_int_t)i);
  }
  json_decref(j);

  spawn_result r =
      spawn_run(SHAPECTL_PATH, NULL, NULL,
                (const char *const[]){"hw", "list", SIM_LAB, NULL});
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "crystal 3  oven  sim:3  sim  present");
  assert_contains(r.out, "autocorrelator  sim  sim  present");
  spawn_result_free(&r);
}

/* The sim lab with crystal 1 in a TC200 on a tty that is not there. */
static char *absent_tty_lab(void) {
  char text[4096];
  int n = snprintf(text, sizeof text,
                   "stack: %s/examples/stacks/fan4.yml\novens:\n",
                   SHP_SOURCE_DATADIR);
  for (int i = 0; i < 4; i++)
    n += snprintf(text + n, sizeof text - (size_t)n,
                  "  - {driver: %s, connection: %s, channel: %d, min_c: 20, "
                  "max_c: 120, max_ramp_k_per_min: 5, settle_tolerance_k: "
                  "0.05, settle_time_s: 20}\n",
                  i == 1 ? "tc200" : "sim",
                  i == 1 ? "{kind: tty, port: " NO_TTY ", baud: 115200}"
                         : "{kind: sim}",
                  i == 1 ? 0 : i);
  snprintf(text + n, sizeof text - (size_t)n,
           "autocorrelator: {driver: sim, connection: {kind: sim}, "
           "averages: 1, delay_calibration: {scale: 1.0, offset_ps: 0.0}}\n");
  char *path = strdup("/tmp/shp-list-XXXXXX.yml");
  int fd = path ? mkstemps(path, 4) : -1;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void test_list_absent_tty(void **state) {
  char *path = absent_tty_lab();
  json_t *j =
      run_json((const char *const[]){"hw", "list", path, "--json", NULL});
  json_t *lab = json_object_get(j, "lab");
  assert_int_equal(json_integer_value(json_object_get(lab, "missing")), 1);
  json_t *d = json_array_get(json_object_get(lab, "devices"), 1);
  assert_string_equal(json_string_value(json_object_get(d, "driver")), "tc200");
  assert_true(json_is_false(json_object_get(d, "present")));
  json_t *c = json_object_get(d, "connection");
  assert_string_equal(json_string_value(json_object_get(c, "kind")), "tty");
  assert_string_equal(json_string_value(json_object_get(c, "port")), NO_TTY);
  assert_true(json_is_true(json_object_get(
      json_array_get(json_object_get(lab, "devices"), 0), "present")));
  json_decref(j);

  /* Absent is reported, not a failure: the exit status stays 0. */
  spawn_result r = spawn_run(SHAPECTL_PATH, NULL, NULL,
                             (const char *const[]){"hw", "list", path, NULL});
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "crystal 1  oven  tc200:0  tty " NO_TTY "  ABSENT");
  assert_contains(r.out, "1 device not present");
  spawn_result_free(&r);
  unlink(path);
  free(path);
}

static void test_list_usage(void **state) {
  spawn_result r =
      spawn_run(SHAPECTL_PATH, NULL, NULL,
                (const char *const[]){"hw", "list", "--crystal", "1", NULL});
  assert_int_equal(r.status, 2);
  spawn_result_free(&r);
  r = spawn_run(
      SHAPECTL_PATH, NULL, NULL,
      (const char *const[]){"hw", "list", "/nonexistent/lab.yml", NULL});
  assert_int_equal(r.status, 2);
  spawn_result_free(&r);
  r = spawn_run(SHAPECTL_PATH, NULL, NULL,
                (const char *const[]){"hw", "list", "--help", NULL});
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "shapectl hw list [LAB.yml] [--json]");
  spawn_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_json_keys),
      cmocka_unit_test(test_list_text),
      cmocka_unit_test(test_list_sim_lab),
      cmocka_unit_test(test_list_absent_tty),
      cmocka_unit_test(test_list_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
