/* Every file reader is bounded (DESIGN.md, bounded inputs): what is not a
 * regular file, what is too large, too deep, too long or too many is refused
 * within a bounded time with the error code that maps to exit 2 and a
 * message naming the file (and the line and key where there is one).
 *
 * Before these bounds a FIFO blocked the readers forever, /dev/zero made the
 * CSV reader spin, 60 000 nested levels took seconds and 10 000 crystals
 * gigabytes; the tests of those cases run under a ctest TIMEOUT so that a
 * reader that blocks again fails instead of hanging the suite. */
#include "shp/csv.h"
#include "shp/error.h"
#include "shp/file.h"
#include "shp/material.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_check.h"

static char dir[512]; /* short, so every path built from it fits */

/* The path of name in the test's directory (a static buffer per call
 * site is enough: each test uses its paths before the next call). */
static const char *in_dir(const char *name) {
  static char buf[4][PATH_MAX];
  static int slot;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
  return buf[slot];
}

static const char *write_text(const char *name, const char *text, size_t len) {
  const char *path = in_dir(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static const char *write_string(const char *name, const char *text) {
  return write_text(name, text, strlen(text));
}

/* A growing text buffer for generated files. */
typedef struct {
  char *s;
  size_t len, cap;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[512];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof tmp);
  if (b->len + (size_t)n + 1 > b->cap) {
    b->cap = (b->cap + (size_t)n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    assert_non_null(b->s);
  }
  memcpy(b->s + b->len, tmp, (size_t)n + 1);
  b->len += (size_t)n;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/test_bounds.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char stack_head[] = "name: bounds\n"
                                 "pulse:\n"
                                 "  center_wavelength_nm: 1030.0\n"
                                 "  fwhm_ps: 0.5\n";

/* ---- what is not a regular file ------------------------------------- */

/* A FIFO with no writer blocked every reader in open(2) or read(2). */
static void test_fifo_is_refused_by_every_reader(void **state) {
  (void)state;
  const char *fifo = in_dir("pipe.yml");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s: not a regular file", fifo);
  double t0 = now_s();
  assert_null(shp_stack_load(fifo));
  assert_error_is(SHP_ERR_FILE, want);
  assert_null(shp_target_load(fifo));
  assert_error_is(SHP_ERR_FILE, want);
  assert_null(shp_material_load(fifo));
  assert_error_is(SHP_ERR_FILE, want);
  shp_csv csv;
  assert_int_equal(shp_csv_load(fifo, 2, 2, "x, y", &csv), SHP_ERR_FILE);
  assert_error_is(SHP_ERR_FILE, want);
  assert_true(now_s() - t0 < 1.0);
}

/* /dev/zero never ends: the CSV reader spun on it at 100 % CPU. */
static void test_dev_zero_is_refused_at_once(void **state) {
  (void)state;
  double t0 = now_s();
  shp_csv csv;
  assert_int_equal(shp_csv_load("/dev/zero", 2, 2, "x, y", &csv), SHP_ERR_FILE);
  assert_error_is(SHP_ERR_FILE, "/dev/zero: not a regular file");
  assert_int_equal(csv.rows, 0);
  assert_null(shp_stack_load("/dev/zero"));
  assert_error_is(SHP_ERR_FILE, "/dev/zero: not a regular file");
  assert_true(now_s() - t0 < 1.0);
}

/* A YAML file over 1 MiB is refused before it is parsed. */
static void test_two_mib_yaml_file_is_refused(void **state) {
  (void)state;
  size_t n = (size_t)2 << 20;
  char *text = malloc(n);
  assert_non_null(text);
  for (size_t i = 0; i < n; i += 8)
    memcpy(text + i, "#  pad \n", 8);
  const char *path = write_text("big.yml", text, n);
  free(text);
  char want[PATH_MAX + 96];
  snprintf(want, sizeof want,
           "%s: 2097152 bytes, more than the 1048576 this reader accepts",
           path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_FILE, want);
  assert_null(shp_target_load(path));
  assert_error_is(SHP_ERR_FILE, want);
}

/* ---- YAML rules, through the stack and target readers ---------------- */

static void test_deep_nesting_in_a_stack_is_refused_quickly(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n");
  for (int i = 0; i < 60000; i++)
    put(&b, "  [\n");
  for (int i = 0; i < 60000; i++)
    put(&b, "  ]\n");
  const char *path = write_text("deep.yml", b.s, b.len);
  free(b.s);
  double t0 = now_s();
  assert_null(shp_stack_load(path));
  double elapsed = now_s() - t0;
  char want[PATH_MAX + 64];
  /* Line 6 opens level 2 (the root mapping is level 1), line 69 level 65. */
  snprintf(want, sizeof want, "%s:69: nested deeper than 64 levels", path);
  assert_error_is(SHP_ERR_PARSE, want);
  assert_true(elapsed < 1.0);
}

static void test_second_document_in_a_stack_is_refused(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n  - {material: alpha-BBO, length_mm: 1.0, "
          "azimuth_deg: 0.0}\n---\nname: other\n");
  const char *path = write_text("two.yml", b.s, b.len);
  free(b.s);
  char want[PATH_MAX + 96];
  snprintf(want, sizeof want,
           "%s:7: a second YAML document; one document per file", path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_PARSE, want);
}

/* "duration_ps: !!str 4.0" would be a string that happens to read as a
 * number; the tag is refused by name. */
static void test_tag_on_a_target_number_is_refused(void **state) {
  (void)state;
  const char *path = write_string("tag.yml", "shape: flat-top\n"
                                             "duration_ps: !!str 4.0\n"
                                             "rise_time_ps: 1.0\n");
  char want[PATH_MAX + 96];
  snprintf(want, sizeof want,
           "%s:2: duration_ps: explicit YAML tags are not supported", path);
  assert_null(shp_target_load(path));
  assert_error_is(SHP_ERR_PARSE, want);
}

static void test_empty_required_values_are_refused(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "name:\npulse:\n  center_wavelength_nm: 1030.0\n  fwhm_ps: 0.5\n"
          "crystals:\n  - {material: alpha-BBO, length_mm: 1.0, "
          "azimuth_deg: 0.0}\n");
  const char *path = write_text("noname.yml", b.s, b.len);
  free(b.s);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:1: name: must not be empty", path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_PARSE, want);

  b = (text_buf){0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n  - material: \"\"\n    length_mm: 1.0\n"
          "    azimuth_deg: 0.0\n");
  path = write_text("nomaterial.yml", b.s, b.len);
  free(b.s);
  snprintf(want, sizeof want, "%s:6: crystals[0].material: must not be empty",
           path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_PARSE, want);

  path = write_string("noshape.yml", "shape:\nduration_ps: 4.0\n");
  snprintf(want, sizeof want, "%s:1: shape: must not be empty", path);
  assert_null(shp_target_load(path));
  assert_error_is(SHP_ERR_PARSE, want);
}

/* ---- counts ------------------------------------------------------------ */

/* 10 000 crystals took 2.6 GiB and minutes; refused from the count. */
static void test_ten_thousand_crystals_are_refused_quickly(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n");
  for (int i = 0; i < 10000; i++)
    put(&b, "  - {material: alpha-BBO, length_mm: 1.0, azimuth_deg: 0.0}\n");
  const char *path = write_text("many.yml", b.s, b.len);
  free(b.s);
  double t0 = now_s();
  assert_null(shp_stack_load(path));
  double elapsed = now_s() - t0;
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:6: crystals: at most 64 crystals, got 10000",
           path);
  assert_error_is(SHP_ERR_RANGE, want);
  assert_true(elapsed < 2.0);
}

/* 64 crystals are the bound, and load. */
static void test_sixty_four_crystals_load(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n");
  for (int i = 0; i < SHP_STACK_MAX_CRYSTALS; i++)
    put(&b, "  - {material: alpha-BBO, length_mm: 1.0, azimuth_deg: 0.0}\n");
  const char *path = write_text("edge.yml", b.s, b.len);
  free(b.s);
  shp_stack *s = shp_stack_load(path);
  assert_non_null(s);
  assert_int_equal(s->crystal_count, 64);
  /* And a 65th cannot be added through the API either. */
  assert_int_equal(shp_stack_add_crystal(s, "alpha-BBO", 1.0, 0.0, 20.0),
                   SHP_ERR_RANGE);
  assert_int_equal(s->crystal_count, 64);
  shp_stack_free(s);
}

static const char *stack_with_grid(const char *name, const char *grid) {
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "grid:\n%s", grid);
  put(&b, "crystals:\n  - {material: alpha-BBO, length_mm: 1.0, "
          "azimuth_deg: 0.0}\n");
  const char *path = write_text(name, b.s, b.len);
  free(b.s);
  return path;
}

static void test_grid_beyond_its_bounds_is_refused(void **state) {
  (void)state;
  char want[PATH_MAX + 128];
  const char *path =
      stack_with_grid("points.yml", "  points: 2097152\n  window_ps: 160.0\n");
  snprintf(want, sizeof want,
           "%s:6: grid.points: must be an even whole number from 16 to "
           "1048576, got 2.09715e+06",
           path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_RANGE, want);
  path = stack_with_grid("window.yml", "  points: 16384\n  window_ps: 1e7\n");
  snprintf(want, sizeof want,
           "%s:7: grid.window_ps: must be at most 1e+06 ps, got 1e+07", path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_RANGE, want);
  path = stack_with_grid("ok.yml", "  points: 1048576\n  window_ps: 1e6\n");
  shp_stack *s = shp_stack_load(path);
  assert_non_null(s);
  assert_int_equal(s->grid_points, 1048576);
  shp_stack_free(s);
}

/* ---- physical values --------------------------------------------------- */

static void test_temperatures_beyond_physics_are_refused(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "%s", stack_head);
  put(&b, "crystals:\n  - material: alpha-BBO\n    length_mm: 1.0\n"
          "    azimuth_deg: 0.0\n    temperature_c: 1e300\n");
  const char *path = write_text("hot.yml", b.s, b.len);
  free(b.s);
  char want[PATH_MAX + 96];
  snprintf(want, sizeof want,
           "%s:9: crystals[0].temperature_c: must be at most 1000 C, got "
           "1e+300",
           path);
  assert_null(shp_stack_load(path));
  assert_error_is(SHP_ERR_RANGE, want);

  shp_material *m = shp_material_open("alpha-BBO");
  assert_non_null(m);
  double n = 0;
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 1.03, -1e308, &n),
                   SHP_ERR_RANGE);
  assert_error_is(SHP_ERR_RANGE,
                  "alpha-BBO: temperature -1e+308 C: must be above -273.15 "
                  "and at most 1000 C");
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 1.03, -273.15, &n),
                   SHP_ERR_RANGE);
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 1.03, 1000.0, &n), SHP_OK);
  shp_material_props p;
  assert_int_equal(shp_material_props_at(m, 1030.0, 1e308, 1.0, &p),
                   SHP_ERR_RANGE);
  shp_material_free(m);
}

/* ---- CSV ---------------------------------------------------------------- */

/* fgets with a 4096-byte buffer cut longer lines and read their tail as a
 * row of its own; a line longer than 64 KiB is now refused by number. */
static void test_overlong_csv_line_is_refused(void **state) {
  (void)state;
  text_buf b = {0};
  put(&b, "time_ps,intensity\n0.0,1.0\n");
  size_t pad = SHP_FILE_MAX_LINE;
  char *line = malloc(pad + 16);
  assert_non_null(line);
  memcpy(line, "1.0,", 4);
  memset(line + 4, '0', pad - 4);
  memcpy(line + pad, "1\n", 3); /* pad + 1 bytes before the newline */
  const char *path = in_dir("long.csv");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(b.s, f);
  fputs(line, f);
  assert_int_equal(fclose(f), 0);
  free(b.s);
  shp_csv csv;
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:3: line longer than 65536 bytes", path);
  assert_int_equal(shp_csv_load(path, 2, 2, "time_ps, intensity", &csv),
                   SHP_ERR_PARSE);
  assert_error_is(SHP_ERR_PARSE, want);
  assert_int_equal(csv.rows, 0);

  /* 65 536 bytes exactly is a line, "1.0,000...01" = 1.0 and 1.0. */
  line[pad - 1] = '1';
  line[pad] = '\n';
  line[pad + 1] = '\0';
  f = fopen(path, "wb");
  assert_non_null(f);
  fputs("0.0,2.0\n", f);
  fputs(line, f);
  assert_int_equal(fclose(f), 0);
  free(line);
  assert_int_equal(shp_csv_load(path, 2, 2, "time_ps, intensity", &csv),
                   SHP_OK);
  assert_int_equal(csv.rows, 2);
  assert_true(shp_csv_at(&csv, 1, 0) == 1.0);
  assert_true(shp_csv_at(&csv, 1, 1) == 1.0);
  shp_csv_clear(&csv);
}

static void test_csv_rows_are_bounded(void **state) {
  (void)state;
  const char *path = in_dir("rows.csv");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (int i = 0; i <= SHP_CSV_MAX_ROWS; i++)
    fputs("1,2\n", f);
  assert_int_equal(fclose(f), 0);
  shp_csv csv;
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:1000001: more than 1000000 rows", path);
  assert_int_equal(shp_csv_load(path, 2, 2, "x, y", &csv), SHP_ERR_PARSE);
  assert_error_is(SHP_ERR_PARSE, want);
}

static void test_nul_byte_in_csv_is_refused(void **state) {
  (void)state;
  const char *path = write_text("nul.csv", "1,2\n3,\0004\n", 10);
  shp_csv csv;
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:2: holds a NUL byte: not a text file", path);
  assert_int_equal(shp_csv_load(path, 2, 2, "x, y", &csv), SHP_ERR_FILE);
  assert_error_is(SHP_ERR_FILE, want);
}

/* ---- refractiveindex.info files ----------------------------------------- */

static const char *material_naming(const char *name, const char *rii) {
  text_buf b = {0};
  put(&b,
      "name: m\nreference_temperature_c: 20.0\naxes:\n"
      "  o:\n    formula: 2\n    coefficients: [0, 1.2, 0.01]\n"
      "    dn_dT_per_K: 1.0e-5\n"
      "  e:\n    refractiveindex_info: %s\n    dn_dT_per_K: 1.0e-5\n"
      "thermal_expansion_per_K: {a: 1.0e-6, c: 1.0e-6}\n",
      rii);
  const char *path = write_text(name, b.s, b.len);
  free(b.s);
  return path;
}

static void test_rii_file_bounds(void **state) {
  (void)state;
  /* A FIFO named as the data file. */
  assert_int_equal(mkfifo(in_dir("rii-pipe.yml"), 0600), 0);
  const char *path = material_naming("m-pipe.yml", "rii-pipe.yml");
  assert_null(shp_material_load(path));
  char want[2 * PATH_MAX + 96];
  snprintf(want, sizeof want,
           "%s:9: axes.e.refractiveindex_info: %s/rii-pipe.yml: not a "
           "regular file",
           path, dir);
  assert_error_is(SHP_ERR_FILE, want);

  /* "formula 2x" was read by atoi as formula 2. */
  write_string("rii-2x.yml", "DATA:\n  - type: formula 2x\n"
                             "    wavelength_range: 0.4 2.0\n"
                             "    coefficients: 0 1.0 0.012\n");
  path = material_naming("m-2x.yml", "rii-2x.yml");
  assert_null(shp_material_load(path));
  assert_error_has(SHP_ERR_PARSE, "rii-2x.yml:2: DATA[0].type: must be a "
                                  "refractiveindex.info formula 1..9, got "
                                  "\"formula 2x\"");

  /* A table row longer than 255 bytes was cut silently. */
  text_buf b = {0};
  put(&b, "DATA:\n  - type: tabulated n\n    data: |\n"
          "        0.4 1.5\n        0.5 1.49\n        0.6 1.48");
  for (int i = 0; i < 300; i++)
    put(&b, " ");
  put(&b, "\n");
  write_text("rii-long.yml", b.s, b.len);
  free(b.s);
  path = material_naming("m-long.yml", "rii-long.yml");
  assert_null(shp_material_load(path));
  assert_error_has(SHP_ERR_PARSE, "rii-long.yml:",
                   "DATA[0].data: line 3: longer than 255 bytes");

  /* A table starting at wavelength 0 loaded (found by fuzz_readers): the
   * material then claimed a valid range from 0 um. */
  write_string("rii-zero.yml", "DATA:\n  - type: tabulated n\n    data: |\n"
                               "        0 1.5\n        0.5 1.49\n"
                               "        0.6 1.48\n");
  path = material_naming("m-zero.yml", "rii-zero.yml");
  assert_null(shp_material_load(path));
  assert_error_has(SHP_ERR_PARSE, "rii-zero.yml:",
                   "DATA[0].data: row 1: a wavelength must be > 0 um, got 0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fifo_is_refused_by_every_reader),
      cmocka_unit_test(test_dev_zero_is_refused_at_once),
      cmocka_unit_test(test_two_mib_yaml_file_is_refused),
      cmocka_unit_test(test_deep_nesting_in_a_stack_is_refused_quickly),
      cmocka_unit_test(test_second_document_in_a_stack_is_refused),
      cmocka_unit_test(test_tag_on_a_target_number_is_refused),
      cmocka_unit_test(test_empty_required_values_are_refused),
      cmocka_unit_test(test_ten_thousand_crystals_are_refused_quickly),
      cmocka_unit_test(test_sixty_four_crystals_load),
      cmocka_unit_test(test_grid_beyond_its_bounds_is_refused),
      cmocka_unit_test(test_temperatures_beyond_physics_are_refused),
      cmocka_unit_test(test_overlong_csv_line_is_refused),
      cmocka_unit_test(test_csv_rows_are_bounded),
      cmocka_unit_test(test_nul_byte_in_csv_is_refused),
      cmocka_unit_test(test_rii_file_bounds),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
