/* Numbers in files do not depend on the locale.
 *
 * shaper-gui runs under the user's locale (GTK calls setlocale(LC_ALL, "")),
 * and under de_DE strtod stops at the '.' of "4.0" and printf writes "4,0":
 * the GUI could open no file ("duration_ps: expected a number, got \"4.0\"").
 * Every test here runs under de_DE.UTF-8, which the test requires (run.sh
 * generates it): a missing locale is a failure, not a skip, since without it
 * nothing here would be tested. The first test shows the locale is in force
 * (plain strtod and printf use the comma), the others that every reader and
 * writer still reads and writes the decimal point, to the last bit. */
#include "shp/calibration.h"
#include "shp/csv.h"
#include "shp/error.h"
#include "shp/material.h"
#include "shp/numbers.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_check.h"

#define DATA SHP_TEST_DATADIR "/"

static char dir[512];

static int setup(void **state) {
  (void)state;
  if (setlocale(LC_ALL, "de_DE.UTF-8") == NULL) {
    fprintf(stderr, "test_locale: the de_DE.UTF-8 locale is not installed "
                    "(run.sh setup generates it)\n");
    return -1;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/test_locale.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Doubles equal to the bit. */
#define assert_same(a, b) assert_memory_equal(&(double){a}, &(double){b}, 8)

/* What the readers faced before: under de_DE the C library reads "4.0" as
 * 4 and stops at the '.', and writes 4 as "4,0". */
static void test_locale_uses_a_decimal_comma(void **state) {
  (void)state;
  char *end;
  double v = strtod("4.25", &end);
  assert_true(v == 4.0);
  assert_string_equal(end, ".25");
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f", 4.25);
  assert_string_equal(buf, "4,25");
  /* The shared parser and formatter do not. */
  assert_true(shp_strtod("4.25", &end) == 4.25);
  assert_string_equal(end, "");
  assert_true(shp_strtod("4,25", &end) == 4.0);
  assert_string_equal(end, ",25");
  double p;
  assert_int_equal(shp_parse_double(" -1250.5 ", &p), SHP_OK);
  assert_true(p == -1250.5);
  assert_int_equal(shp_parse_double("4,25", &p), SHP_ERR_PARSE);
}

static void test_formatters_write_a_decimal_point(void **state) {
  (void)state;
  char buf[64];
  shp_snprintf(buf, sizeof buf, "%.2f|%g|%.3e", 4.25, 0.5, 1250.5);
  assert_string_equal(buf, "4.25|0.5|1.250e+03");
  shp_format_shortest(buf, sizeof buf, 0.1);
  assert_string_equal(buf, "0.1");
  shp_format_shortest(buf, sizeof buf, 1.0 / 3.0);
  assert_string_equal(buf, "0.3333333333333333");
  shp_format_shortest(buf, sizeof buf, -0.7853981633974483);
  assert_string_equal(buf, "-0.7853981633974483");
  FILE *f = tmpfile();
  assert_non_null(f);
  shp_fprintf(f, "%.1f,%.10g\n", 2.5, 1e-7);
  rewind(f);
  assert_non_null(fgets(buf, sizeof buf, f));
  assert_string_equal(buf, "2.5,1e-07\n");
  fclose(f);
  /* And the thread's locale is as it was. */
  snprintf(buf, sizeof buf, "%.1f", 2.5);
  assert_string_equal(buf, "2,5");
}

/* Messages quote numbers as the files write them: "got 0.5", not "got
 * 0,5", whatever the GUI's locale. */
static void test_error_messages_write_a_decimal_point(void **state) {
  (void)state;
  shp_error_set(SHP_ERR_RANGE, "x.yml:3: length_mm: must be > 1, got %g", 0.5);
  assert_string_equal(shp_error_detail(),
                      "x.yml:3: length_mm: must be > 1, got 0.5");
  shp_error_prefix("%s (%.1f K): ", "oven", 2.5);
  assert_string_equal(shp_error_detail(),
                      "oven (2.5 K): x.yml:3: length_mm: must be > 1, got 0.5");
  shp_error_clear();
}

static void check_full_stack(const shp_stack *s) {
  assert_same(s->pulse.center_wavelength_nm, 1030.1);
  assert_same(s->pulse.fwhm_ps, 0.3333333333333333);
  assert_same(s->pulse.gdd_fs2, -1250.5);
  assert_same(s->pulse.tod_fs3, 3.0e+4);
  assert_int_equal(s->grid_points, 8192);
  assert_same(s->grid_window_ps, 96.0);
  assert_same(s->input_polarizer_deg, 0.1);
  assert_same(s->output_polarizer_deg, 90.0);
  assert_int_equal(s->crystal_count, 3);
  assert_same(s->crystals[0].length_mm, 4.000001);
  assert_same(s->crystals[0].azimuth_deg, 22.5);
  assert_same(s->crystals[0].temperature_c, 41.25);
  assert_same(s->crystals[0].phase_offset_rad, -0.7853981633974483);
  assert_same(s->crystals[0].slope_correction_rad_per_k, -0.0031);
  assert_same(s->crystals[1].phase_offset_rad, 1.0e-7);
  assert_same(s->crystals[2].temperature_c, -10.0);
}

static void test_stack_reads_and_round_trips_bit_exact(void **state) {
  (void)state;
  shp_stack *s = shp_stack_load(DATA "stacks/full.yml");
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  check_full_stack(s);
  char path[600];
  snprintf(path, sizeof path, "%s/saved.yml", dir);
  assert_int_equal(shp_stack_save(s, path), SHP_OK);
  /* The file holds decimal points ("4.000001"), no decimal comma. */
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char text[4096];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  assert_non_null(strstr(text, "length_mm: 4.000001\n"));
  assert_non_null(strstr(text, "window_ps: 96.0\n"));
  assert_non_null(strstr(text, "phase_offset_rad: -0.7853981633974483\n"));
  assert_null(strstr(text, "4,0"));
  shp_stack *again = shp_stack_load(path);
  if (again == NULL)
    fail_msg("%s", shp_error_detail());
  check_full_stack(again);
  shp_stack_free(again);
  shp_stack_free(s);
}

/* The GUI's first symptom: "duration_ps: expected a number, got "4.0"". */
static void test_target_reads_decimal_points(void **state) {
  (void)state;
  char path[600];
  snprintf(path, sizeof path, "%s/target.yml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("shape: flat-top\nduration_ps: 4.0\nrise_time_ps: 1.25\n"
        "max_error: 0.05\n",
        f);
  fclose(f);
  shp_target *t = shp_target_load(path);
  if (t == NULL)
    fail_msg("%s", shp_error_detail());
  assert_same(t->duration_ps, 4.0);
  assert_same(t->rise_time_ps, 1.25);
  assert_same(t->max_error, 0.05);
  shp_target_free(t);
  /* And a measured trace through the target's CSV reader. */
  t = shp_target_load(DATA "targets/file.yml");
  if (t == NULL)
    fail_msg("%s", shp_error_detail());
  assert_same(t->file_time_ps[0], -3.0);
  assert_same(t->file_time_ps[2], 0.5);
  shp_target_free(t);
}

static void test_csv_reads_decimal_points(void **state) {
  (void)state;
  shp_csv csv;
  assert_int_equal(
      shp_csv_load(DATA "targets/trace.csv", 2, 2, "time_ps, intensity", &csv),
      SHP_OK);
  assert_same(shp_csv_at(&csv, 0, 0), -3.0);
  assert_same(shp_csv_at(&csv, 0, 1), 0.0);
  assert_same(shp_csv_at(&csv, 2, 0), 0.5);
  assert_same(shp_csv_at(&csv, 2, 1), 4.0);
  shp_csv_clear(&csv);
  assert_int_equal(shp_csv_load(DATA "stacks/spectrum.csv", 2, 3,
                                "wavelength_nm, intensity, phase_rad", &csv),
                   SHP_OK);
  assert_int_equal(csv.columns, 3);
  assert_same(shp_csv_at(&csv, 0, 0), 1020.0);
  assert_same(shp_csv_at(&csv, 0, 1), 2.98023e-08);
  assert_same(shp_csv_at(&csv, 1, 0), 1020.5);
  assert_same(shp_csv_at(&csv, 1, 2), 0.9025);
  shp_csv_clear(&csv);
}

/* analytic.yml: n^2 - 1 = B l^2 / (l^2 - C), B = 1.2 and C = 0.01 (o). */
static void test_material_file_reads_decimal_points(void **state) {
  (void)state;
  shp_material *m = shp_material_load(DATA "materials/analytic.yml");
  if (m == NULL)
    fail_msg("%s", shp_error_detail());
  assert_same(shp_material_reference_temperature_c(m), 20.0);
  assert_same(shp_material_dn_dT(m, SHP_AXIS_O), 1.0e-5);
  assert_same(shp_material_expansion_a(m), 5.0e-6);
  double lo, hi;
  shp_material_range_um(m, &lo, &hi);
  assert_same(lo, 0.4);
  assert_same(hi, 2.0);
  double n;
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 1.0, 20.0, &n), SHP_OK);
  assert_close(n, sqrt(1 + 1.2 / 0.99), 1e-15);
  shp_material_free(m);
}

/* A refractiveindex.info table (calcite e axis, n to 6 decimals): the
 * spline passes through its rows, and its range is the table's. */
static void test_rii_table_reads_decimal_points(void **state) {
  (void)state;
  shp_material *m = shp_material_load(DATA "materials/rii-calcite-e-table.yml");
  if (m == NULL)
    fail_msg("%s", shp_error_detail());
  double lo, hi, n;
  shp_material_range_um(m, &lo, &hi);
  assert_same(lo, 0.25);
  assert_same(hi, 2.0);
  assert_int_equal(shp_material_index(m, SHP_AXIS_E, 0.5, 20.0, &n), SHP_OK);
  assert_close(n, 1.489738, 1e-12);
  assert_int_equal(shp_material_index(m, SHP_AXIS_E, 0.35, 20.0, &n), SHP_OK);
  assert_close(n, 1.503784, 1e-12);
  shp_material_free(m);
  /* And a formula with coefficients as text ("0.2 2.0"). */
  m = shp_material_load(DATA "materials/rii-quartz-o.yml");
  if (m == NULL)
    fail_msg("%s", shp_error_detail());
  shp_material_range_um(m, &lo, &hi);
  assert_same(lo, 0.198);
  assert_same(hi, 2.0531);
  /* Ghosh's formula 2 at 1 um from the coefficients as written. */
  const double l2 = 1.0;
  double want = sqrt(1 + 0.28604141 + 1.07044083 * l2 / (l2 - 1.00585997e-2) +
                     1.10202242 * l2 / (l2 - 100));
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 1.0, 20.0, &n), SHP_OK);
  assert_close(n, want, 1e-14);
  shp_material_free(m);
}

/* A calibration file, read and written again. */
static void test_calibration_reads_and_round_trips(void **state) {
  (void)state;
  shp_calibration *c =
      shp_calibration_load(DATA "calibrations/two-crystals.yml");
  if (c == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(c->crystal_count, 2);
  assert_same(c->residual_rms, 0.0123);
  assert_same(c->crystals[0].length_mm, 4.000001);
  assert_same(c->crystals[0].slope_rad_per_k, 0.3333333333333333);
  assert_same(c->crystals[0].scan_from_c, 36.25);
  assert_int_equal(c->crystals[1].index, 2);
  assert_same(c->crystals[1].phase_offset_rad, 0.1);
  char path[600];
  snprintf(path, sizeof path, "%s/cal.yml", dir);
  assert_int_equal(shp_calibration_save(c, path), SHP_OK);
  shp_calibration *again = shp_calibration_load(path);
  if (again == NULL)
    fail_msg("%s", shp_error_detail());
  assert_same(again->crystals[0].slope_rad_per_k, 0.3333333333333333);
  assert_same(again->crystals[0].phase_offset_rad, -0.7853981633974483);
  assert_same(again->crystals[1].scan_to_c, 25.0);
  shp_calibration_free(again);
  shp_calibration_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locale_uses_a_decimal_comma),
      cmocka_unit_test(test_formatters_write_a_decimal_point),
      cmocka_unit_test(test_stack_reads_and_round_trips_bit_exact),
      cmocka_unit_test(test_target_reads_decimal_points),
      cmocka_unit_test(test_csv_reads_decimal_points),
      cmocka_unit_test(test_material_file_reads_decimal_points),
      cmocka_unit_test(test_rii_table_reads_decimal_points),
      cmocka_unit_test(test_calibration_reads_and_round_trips),
      cmocka_unit_test(test_error_messages_write_a_decimal_point),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
