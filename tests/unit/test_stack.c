/* Unit tests of stack files (DESIGN.md, "The stack file"): what a valid file
 * loads to, that writing and reading again changes nothing, that a save is
 * atomic, and that every malformed file is refused with the right code and a
 * message naming the file, the line and the key. Fixtures live in
 * tests/data/stacks; the last test simulates the example fan4 stack against
 * the example flat-top target. */
#include "shp/error.h"
#include "shp/material.h"
#include "shp/simulation.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <dirent.h>
#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "test_check.h"

#define STACKS SHP_TEST_DATADIR "/stacks/"
#define FAN4 SHP_SOURCE_DATADIR "/examples/stacks/fan4.yml"
#define FLAT_TOP SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml"

/* ---- helpers ------------------------------------------------------------ */

static shp_stack *load_ok(const char *path) {
  shp_stack *s = shp_stack_load(path);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  return s;
}

/* A private scratch directory, removed with everything in it. */
typedef struct {
  char path[PATH_MAX];
} scratch;

static void scratch_make(scratch *d) {
  const char *tmp = getenv("TMPDIR");
  snprintf(d->path, sizeof d->path, "%s/test_stack.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  assert_non_null(mkdtemp(d->path));
}

static void remove_tree(const char *path) {
  DIR *dir = opendir(path);
  if (dir != NULL) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char child[PATH_MAX];
      snprintf(child, sizeof child, "%s/%s", path, e->d_name);
      remove_tree(child);
    }
    closedir(dir);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static void scratch_clear(scratch *d) {
  chmod(d->path, 0700);
  remove_tree(d->path);
}

static void join(char *buf, size_t size, const char *dir, const char *name) {
  int w = snprintf(buf, size, "%s/%s", dir, name);
  assert_true(w > 0 && (size_t)w < size);
}

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  assert_non_null(in);
  FILE *out = fopen(to, "wb");
  assert_non_null(out);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* The names in a directory, sorted and joined by spaces ("" when empty). */
static void list_dir(const char *path, char *buf, size_t size) {
  char *names[64];
  size_t n = 0;
  DIR *dir = opendir(path);
  assert_non_null(dir);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n < 64)
      names[n++] = strdup(e->d_name);
  closedir(dir);
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      strncat(buf, " ", size - strlen(buf) - 1);
    strncat(buf, names[i], size - strlen(buf) - 1);
    free(names[i]);
  }
}

/* Doubles compared bit for bit: a round trip must not move a single ulp
 * (nor turn -0 into 0). */
#define assert_same_double(a, b) assert_memory_equal(&(a), &(b), sizeof(double))

static void assert_same_string(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    assert_ptr_equal(a, b);
  else
    assert_string_equal(a, b);
}

/* Every field a stack file carries, compared exactly. */
static void assert_same_stack(const shp_stack *a, const shp_stack *b) {
  assert_same_string(a->name, b->name);
  assert_int_equal(a->pulse.shape, b->pulse.shape);
  assert_same_double(a->pulse.center_wavelength_nm,
                     b->pulse.center_wavelength_nm);
  assert_same_double(a->pulse.fwhm_ps, b->pulse.fwhm_ps);
  assert_same_double(a->pulse.gdd_fs2, b->pulse.gdd_fs2);
  assert_same_double(a->pulse.tod_fs3, b->pulse.tod_fs3);
  assert_same_string(a->spectrum_file, b->spectrum_file);
  assert_int_equal(a->spectrum.count, b->spectrum.count);
  if (a->spectrum.count > 0) {
    size_t bytes = a->spectrum.count * sizeof(double);
    assert_memory_equal(a->spectrum.wavelength_nm, b->spectrum.wavelength_nm,
                        bytes);
    assert_memory_equal(a->spectrum.intensity, b->spectrum.intensity, bytes);
    assert_int_equal(a->spectrum.phase_rad == NULL,
                     b->spectrum.phase_rad == NULL);
    if (a->spectrum.phase_rad != NULL)
      assert_memory_equal(a->spectrum.phase_rad, b->spectrum.phase_rad, bytes);
  }
  assert_int_equal(a->pulse.spectrum == &a->spectrum,
                   b->pulse.spectrum == &b->spectrum);
  assert_int_equal(a->has_grid, b->has_grid);
  assert_int_equal(a->grid_points, b->grid_points);
  assert_same_double(a->grid_window_ps, b->grid_window_ps);
  assert_int_equal(a->has_input_polarizer, b->has_input_polarizer);
  assert_same_double(a->input_polarizer_deg, b->input_polarizer_deg);
  assert_int_equal(a->has_output_polarizer, b->has_output_polarizer);
  assert_same_double(a->output_polarizer_deg, b->output_polarizer_deg);
  assert_int_equal(a->double_pass, b->double_pass);
  assert_int_equal(a->crystal_count, b->crystal_count);
  assert_int_equal(a->material_count, b->material_count);
  for (size_t i = 0; i < a->crystal_count; i++) {
    const shp_stack_crystal *ca = &a->crystals[i], *cb = &b->crystals[i];
    assert_string_equal(ca->material_name, cb->material_name);
    assert_non_null(ca->material);
    assert_non_null(cb->material);
    assert_string_equal(shp_material_name(ca->material),
                        shp_material_name(cb->material));
    assert_same_double(ca->length_mm, cb->length_mm);
    assert_same_double(ca->azimuth_deg, cb->azimuth_deg);
    assert_same_double(ca->temperature_c, cb->temperature_c);
    assert_same_double(ca->phase_offset_rad, cb->phase_offset_rad);
    assert_int_equal(ca->has_temperature, cb->has_temperature);
    assert_int_equal(ca->has_phase_offset, cb->has_phase_offset);
    assert_same_double(ca->slope_correction_rad_per_k,
                       cb->slope_correction_rad_per_k);
    assert_int_equal(ca->has_slope_correction, cb->has_slope_correction);
  }
}

/* Save s as dir/name, read it back and compare. */
static void assert_round_trip(const shp_stack *s, const char *dir,
                              const char *name) {
  char out[PATH_MAX];
  join(out, sizeof out, dir, name);
  if (shp_stack_save(s, out) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  shp_stack *again = load_ok(out);
  assert_string_equal(again->path, out);
  assert_same_stack(s, again);
  shp_stack_free(again);
}

/* ---- valid files -------------------------------------------------------- */

/* The example is regenerated as the toolkit evolves, so its values are read
 * from its text here, independently of libyaml: the numbers after "key:" in
 * order, flow or block style alike. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static size_t numbers_after(const char *text, const char *key, double *out,
                            size_t max) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "%s:", key);
  size_t n = 0;
  for (const char *p = strstr(text, pattern); p != NULL && n < max;
       p = strstr(p + 1, pattern))
    if (p == text || strchr(" \t\n{,", p[-1]) != NULL)
      out[n++] = strtod(p + strlen(pattern), NULL);
  return n;
}

static void test_example_fan4_loads_with_the_values_in_the_file(void **state) {
  (void)state;
  const char *text = read_text(FAN4);
  shp_stack *s = load_ok(FAN4);
  assert_string_equal(s->path, FAN4);
  /* name: the rest of its line. */
  assert_int_equal(strncmp(text, "name: ", 6), 0);
  size_t len = strcspn(text + 6, "\n");
  assert_int_equal(strlen(s->name), len);
  assert_memory_equal(s->name, text + 6, len);

  double v[16];
  assert_int_equal(numbers_after(text, "center_wavelength_nm", v, 16), 1);
  assert_true(s->pulse.center_wavelength_nm == v[0]);
  assert_int_equal(numbers_after(text, "fwhm_ps", v, 16), 1);
  assert_true(s->pulse.fwhm_ps == v[0]);
  assert_int_equal(s->pulse.shape, strstr(text, "sech2") != NULL
                                       ? SHP_PULSE_SECH2
                                       : SHP_PULSE_GAUSSIAN);
  assert_true(s->pulse.gdd_fs2 ==
              (numbers_after(text, "gdd_fs2", v, 16) ? v[0] : 0.0));
  assert_null(s->spectrum_file);
  assert_int_equal(s->has_grid, strstr(text, "grid:") != NULL);
  assert_int_equal(s->has_input_polarizer,
                   numbers_after(text, "input_polarizer_deg", v, 16) == 1);
  if (s->has_input_polarizer)
    assert_true(s->input_polarizer_deg == v[0]);
  assert_int_equal(s->has_output_polarizer,
                   numbers_after(text, "output_polarizer_deg", v, 16) == 1);
  if (s->has_output_polarizer)
    assert_true(s->output_polarizer_deg == v[0]);
  assert_int_equal(s->double_pass, strstr(text, "double_pass: true") != NULL);

  /* The crystals, in beam order. */
  double length[16], azimuth[16], temperature[16];
  size_t n = numbers_after(text, "length_mm", length, 16);
  assert_int_equal(numbers_after(text, "azimuth_deg", azimuth, 16), n);
  size_t nt = numbers_after(text, "temperature_c", temperature, 16);
  assert_int_equal(s->crystal_count, n);
  for (size_t i = 0; i < n; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    assert_string_equal(c->material_name, "alpha-BBO");
    assert_string_equal(shp_material_name(c->material), "alpha-BBO");
    assert_true(c->length_mm == length[i]);
    assert_true(c->azimuth_deg == azimuth[i]);
    assert_int_equal(c->has_temperature, nt == n);
    if (nt == n)
      assert_true(c->temperature_c == temperature[i]);
    assert_false(c->has_phase_offset);
    assert_true(c->phase_offset_rad == 0.0);
  }
  /* What makes it a fan Solc stack: N = 4 equal plates at rho, 3 rho, 5 rho,
   * 7 rho with rho = 45/N degrees, between parallel polarizers. */
  assert_int_equal(n, 4);
  for (size_t i = 0; i < n; i++) {
    assert_true(s->crystals[i].length_mm == s->crystals[0].length_mm);
    assert_true(s->crystals[i].azimuth_deg == 11.25 * (double)(2 * i + 1));
  }
  assert_true(s->has_output_polarizer);
  assert_true(s->output_polarizer_deg ==
              (s->has_input_polarizer ? s->input_polarizer_deg : 0.0));
  /* One material object, shared by the four plates. */
  assert_int_equal(s->material_count, 1);
  assert_ptr_equal(s->crystals[0].material, s->crystals[3].material);
  shp_stack_free(s);
}

static void test_full_fixture_loads_every_optional_key(void **state) {
  (void)state;
  shp_stack *s = load_ok(STACKS "full.yml");
  assert_string_equal(s->name, "full: sech2, chirped, double pass");
  assert_int_equal(s->pulse.shape, SHP_PULSE_SECH2);
  assert_true(s->pulse.center_wavelength_nm == 1030.1);
  assert_true(s->pulse.fwhm_ps == 0.3333333333333333);
  assert_true(s->pulse.gdd_fs2 == -1250.5);
  assert_true(s->pulse.tod_fs3 == 3.0e4);
  assert_true(s->has_grid);
  assert_int_equal(s->grid_points, 8192);
  assert_true(s->grid_window_ps == 96.0);
  assert_true(s->has_input_polarizer && s->input_polarizer_deg == 0.1);
  assert_true(s->has_output_polarizer && s->output_polarizer_deg == 90.0);
  assert_true(s->double_pass);
  assert_int_equal(s->crystal_count, 3);
  assert_int_equal(s->material_count, 2);
  assert_true(s->crystals[0].has_phase_offset &&
              s->crystals[0].phase_offset_rad == -0.7853981633974483);
  assert_true(s->crystals[0].has_slope_correction &&
              s->crystals[0].slope_correction_rad_per_k == -0.0031);
  assert_false(s->crystals[1].has_slope_correction);
  assert_true(s->crystals[0].length_mm == 4.000001);
  /* temperature_c absent: the material's reference, 20 C, not written back. */
  assert_false(s->crystals[1].has_temperature);
  assert_true(s->crystals[1].temperature_c ==
              shp_material_reference_temperature_c(s->crystals[1].material));
  assert_true(s->crystals[1].temperature_c == 20.0);
  assert_string_equal(shp_material_name(s->crystals[1].material), "YVO4");
  assert_true(s->crystals[2].has_temperature &&
              s->crystals[2].temperature_c == -10.0);
  assert_false(s->crystals[2].has_phase_offset);
  shp_stack_free(s);
}

static void
test_spectrum_file_is_read_relative_to_the_stack_file(void **state) {
  (void)state;
  /* From another working directory, so that only the stack file's own
   * directory can explain finding spectrum.csv. */
  char cwd[PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/"), 0);
  shp_stack *s = shp_stack_load(STACKS "spectrum.yml");
  assert_int_equal(chdir(cwd), 0);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(s->pulse.shape, SHP_PULSE_SPECTRUM);
  assert_ptr_equal(s->pulse.spectrum, &s->spectrum);
  assert_string_equal(s->spectrum_file, "spectrum.csv");
  /* 41 rows from 1020 to 1040 nm in 0.5 nm steps, with a phase column. */
  assert_int_equal(s->spectrum.count, 41);
  assert_true(s->spectrum.wavelength_nm[0] == 1020.0);
  assert_true(s->spectrum.wavelength_nm[40] == 1040.0);
  assert_true(s->spectrum.intensity[20] == 1.0);
  assert_non_null(s->spectrum.phase_rad);
  assert_true(s->spectrum.phase_rad[0] == 1.0);
  shp_stack_free(s);
}

static void test_material_path_is_relative_to_the_stack_file(void **state) {
  (void)state;
  char cwd[PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/"), 0);
  shp_stack *s = shp_stack_load(STACKS "material-path.yml");
  assert_int_equal(chdir(cwd), 0);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(s->crystal_count, 2);
  assert_string_equal(s->crystals[0].material_name,
                      "../materials/analytic.yml");
  assert_string_equal(shp_material_name(s->crystals[0].material), "analytic");
  assert_int_equal(s->material_count, 1);
  assert_ptr_equal(s->crystals[0].material, s->crystals[1].material);
  shp_stack_free(s);
}

/* "custom.yml" has no slash but is a path all the same (shp_material_open
 * takes it as one): it too must be found beside the stack file, not in the
 * working directory. */
static void
test_bare_material_file_name_is_relative_to_the_stack_file(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  char material[PATH_MAX], stack[PATH_MAX], cwd[PATH_MAX];
  join(material, sizeof material, d.path, "custom.yml");
  join(stack, sizeof stack, d.path, "bare.yml");
  copy_file(SHP_TEST_DATADIR "/materials/analytic.yml", material);
  write_text(stack, "name: bare material file name\n"
                    "pulse: {center_wavelength_nm: 800.0, fwhm_ps: 0.2}\n"
                    "crystals:\n"
                    "  - {material: custom.yml, length_mm: 1.0, "
                    "azimuth_deg: 45.0}\n");
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/"), 0);
  shp_stack *s = shp_stack_load(stack);
  assert_int_equal(chdir(cwd), 0);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  assert_string_equal(s->crystals[0].material_name, "custom.yml");
  assert_string_equal(shp_material_name(s->crystals[0].material), "analytic");
  shp_stack_free(s);
  scratch_clear(&d);
}

/* ---- writing ------------------------------------------------------------ */

static void test_round_trip_of_example_is_exact(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  shp_stack *s = load_ok(FAN4);
  assert_round_trip(s, d.path, "fan4.yml");
  shp_stack_free(s);
  scratch_clear(&d);
}

static void
test_round_trip_keeps_grid_polarizers_double_pass_and_chirp(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  shp_stack *s = load_ok(STACKS "full.yml");
  assert_round_trip(s, d.path, "full.yml");
  shp_stack_free(s);
  scratch_clear(&d);
}

static void test_round_trip_keeps_spectrum_file(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  /* The CSV is named relative to the stack file, so it goes along. */
  char csv[PATH_MAX];
  join(csv, sizeof csv, d.path, "spectrum.csv");
  copy_file(STACKS "spectrum.csv", csv);
  shp_stack *s = load_ok(STACKS "spectrum.yml");
  assert_round_trip(s, d.path, "spectrum.yml");
  shp_stack_free(s);
  scratch_clear(&d);
}

static void test_round_trip_keeps_relative_material_path(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  char sub[PATH_MAX], material[PATH_MAX], stacks[PATH_MAX];
  join(sub, sizeof sub, d.path, "materials");
  join(stacks, sizeof stacks, d.path, "stacks");
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(mkdir(stacks, 0700), 0);
  join(material, sizeof material, sub, "analytic.yml");
  copy_file(SHP_TEST_DATADIR "/materials/analytic.yml", material);
  shp_stack *s = load_ok(STACKS "material-path.yml");
  assert_round_trip(s, stacks, "material-path.yml");
  shp_stack_free(s);
  scratch_clear(&d);
}

/* Numbers that need all 17 significant digits, and extremes. */
static void test_round_trip_keeps_awkward_doubles(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  shp_stack *s =
      shp_stack_new("awkward: \"quoted\" # not a comment", 1030.0, 0.1 + 0.2);
  assert_non_null(s);
  const double az[] = {1.0 / 3.0, -0.0, 1e-300, 123456789.12345678,
                       nextafter(45.0, 90.0)};
  for (size_t i = 0; i < sizeof az / sizeof az[0]; i++)
    assert_int_equal(shp_stack_add_crystal(s, "alpha-BBO",
                                           0.1 * (double)(i + 1), az[i], 20.0),
                     SHP_OK);
  s->pulse.gdd_fs2 = -2.0 / 3.0;
  s->pulse.tod_fs3 = -1e-300;
  assert_round_trip(s, d.path, "awkward.yml");
  shp_stack_free(s);
  scratch_clear(&d);
}

static void test_new_stack_with_added_crystals_saves_and_loads(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  shp_stack *s = shp_stack_new("generated", 1030.0, 0.5);
  assert_non_null(s);
  assert_int_equal(s->crystal_count, 0);
  assert_int_equal(shp_stack_add_crystal(s, "alpha-BBO", 2.5, 11.25, 40.0),
                   SHP_OK);
  assert_int_equal(shp_stack_add_crystal(s, "alpha-BBO", 2.5, 33.75, 41.5),
                   SHP_OK);
  assert_int_equal(shp_stack_add_crystal(s, "YVO4", 1.25, -45.0, 35.0), SHP_OK);
  /* An unknown material changes nothing. */
  assert_int_equal(shp_stack_add_crystal(s, "unobtainium", 1.0, 0.0, 20.0),
                   SHP_ERR_NOT_FOUND);
  assert_int_equal(s->crystal_count, 3);
  assert_int_equal(s->material_count, 2);
  assert_true(s->crystals[1].has_temperature);
  assert_false(s->crystals[1].has_phase_offset);

  char out[PATH_MAX];
  join(out, sizeof out, d.path, "generated.yml");
  assert_int_equal(shp_stack_save(s, out), SHP_OK);
  shp_stack *again = load_ok(out);
  assert_string_equal(again->name, "generated");
  assert_int_equal(again->pulse.shape, SHP_PULSE_GAUSSIAN);
  assert_true(again->pulse.fwhm_ps == 0.5);
  assert_int_equal(again->crystal_count, 3);
  assert_true(again->crystals[1].temperature_c == 41.5);
  assert_true(again->crystals[2].azimuth_deg == -45.0);
  assert_string_equal(shp_material_name(again->crystals[2].material), "YVO4");
  assert_same_stack(s, again);
  shp_stack_free(again);
  shp_stack_free(s);
  scratch_clear(&d);
}

static void test_save_leaves_only_the_file_in_the_directory(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  char out[PATH_MAX], names[1024];
  join(out, sizeof out, d.path, "fan4.yml");
  shp_stack *s = load_ok(FAN4);
  assert_int_equal(shp_stack_save(s, out), SHP_OK);
  list_dir(d.path, names, sizeof names);
  assert_string_equal(names, "fan4.yml");
  /* Replacing an existing file is just as clean. */
  assert_int_equal(shp_stack_save(s, out), SHP_OK);
  list_dir(d.path, names, sizeof names);
  assert_string_equal(names, "fan4.yml");
  /* An ordinary document, not a private temporary file. */
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  shp_stack_free(s);
  scratch_clear(&d);
}

static void
test_save_into_unwritable_directory_fails_naming_the_path(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  shp_stack *s = load_ok(FAN4);
  char out[PATH_MAX], names[1024];
  assert_int_equal(chmod(d.path, 0500), 0);
  if (access(d.path, W_OK) == 0) {
    /* Running as root, permissions do not stop us: a procfs directory,
     * where no one can create a file, stands in. */
    snprintf(out, sizeof out, "/proc/shp-test-stack-%ld.yml", (long)getpid());
  } else {
    join(out, sizeof out, d.path, "fan4.yml");
  }
  shp_error_clear();
  assert_int_equal(shp_stack_save(s, out), SHP_ERR_WRITE);
  char expected[PATH_MAX + 32];
  snprintf(expected, sizeof expected, "%s: cannot write: ", out);
  assert_error_has(SHP_ERR_WRITE, expected);
  assert_ptr_equal(strstr(shp_error_detail(), expected), shp_error_detail());
  assert_int_equal(access(out, F_OK), -1);
  list_dir(d.path, names, sizeof names);
  assert_string_equal(names, "");
  shp_stack_free(s);
  scratch_clear(&d);
}

/* The rename is the last step: when it fails, the temporary file it would
 * have moved is removed, and what was there stays untouched. */
static void test_failed_replace_removes_the_temporary_file(void **state) {
  (void)state;
  scratch d;
  scratch_make(&d);
  char out[PATH_MAX], names[1024];
  join(out, sizeof out, d.path, "taken");
  assert_int_equal(mkdir(out, 0700), 0);
  shp_stack *s = load_ok(FAN4);
  shp_error_clear();
  assert_int_equal(shp_stack_save(s, out), SHP_ERR_WRITE);
  char expected[PATH_MAX + 32];
  snprintf(expected, sizeof expected, "%s: cannot replace: %s", out,
           strerror(EISDIR));
  assert_error_is(SHP_ERR_WRITE, expected);
  list_dir(d.path, names, sizeof names);
  assert_string_equal(names, "taken");
  shp_stack_free(s);
  scratch_clear(&d);
}

/* ---- malformed files ---------------------------------------------------- */

typedef struct {
  const char *file; /* in tests/data/stacks */
  int code;
  const char *message; /* after "PATH:", exactly */
} bad_case;

static const bad_case bad_cases[] = {
    {"bad-unknown-top-key.yml", SHP_ERR_PARSE, "8: double_pas: unknown key"},
    {"bad-unknown-crystal-key.yml", SHP_ERR_PARSE,
     "12: crystals[1].azimuth: unknown key"},
    {"bad-missing-name.yml", SHP_ERR_PARSE, "2: name: missing required key"},
    {"bad-missing-pulse.yml", SHP_ERR_PARSE, "2: pulse: missing required key"},
    {"bad-missing-crystals.yml", SHP_ERR_PARSE,
     "2: crystals: missing required key"},
    {"bad-missing-length.yml", SHP_ERR_PARSE,
     "8: crystals[1].length_mm: missing required key"},
    {"bad-missing-azimuth.yml", SHP_ERR_PARSE,
     "7: crystals[0].azimuth_deg: missing required key"},
    {"bad-missing-wavelength.yml", SHP_ERR_PARSE,
     "4: pulse.center_wavelength_nm: missing required key"},
    {"bad-missing-fwhm.yml", SHP_ERR_PARSE,
     "4: pulse.fwhm_ps: missing required key"},
    {"bad-azimuth-text.yml", SHP_ERR_PARSE,
     "14: crystals[3].azimuth_deg: expected a number, got \"abc\""},
    {"bad-quoted-number.yml", SHP_ERR_PARSE,
     "4: pulse.center_wavelength_nm: expected a number, got the quoted "
     "string \"1030.0\""},
    {"bad-crystals-mapping.yml", SHP_ERR_PARSE,
     "7: crystals: expected a list, got a mapping"},
    {"bad-pulse-list.yml", SHP_ERR_PARSE,
     "3: pulse: expected a mapping, got a list"},
    {"bad-crystal-scalar.yml", SHP_ERR_PARSE,
     "7: crystals[0]: expected a mapping, got a scalar"},
    {"bad-length-list.yml", SHP_ERR_PARSE,
     "7: crystals[0].length_mm: expected a number, got a list"},
    {"bad-double-pass.yml", SHP_ERR_PARSE,
     "8: double_pass: expected true or false, got \"twice\""},
    {"bad-negative-length.yml", SHP_ERR_RANGE,
     "10: crystals[2].length_mm: must be > 0, got -3"},
    {"bad-zero-length.yml", SHP_ERR_RANGE,
     "7: crystals[0].length_mm: must be > 0, got 0"},
    {"bad-nan-length.yml", SHP_ERR_PARSE,
     "7: crystals[0].length_mm: must be a finite number, got .nan"},
    {"bad-cold.yml", SHP_ERR_RANGE,
     "10: crystals[0].temperature_c: must be above absolute zero, got -300"},
    {"bad-wavelength-range.yml", SHP_ERR_RANGE,
     "7: crystals[0].material: the pulse's 2500 nm is outside analytic's "
     "valid range 400 to 2000 nm"},
    {"bad-odd-grid.yml", SHP_ERR_RANGE,
     "7: grid.points: must be an even whole number from 16 to 1048576, got "
     "4095"},
    {"bad-spectrum-and-fwhm.yml", SHP_ERR_PARSE,
     "6: pulse.spectrum_file: give either spectrum_file or fwhm_ps and "
     "shape"},
    {"bad-shape.yml", SHP_ERR_PARSE,
     "6: pulse.shape: expected gaussian or sech2, got \"lorentzian\""},
    {"bad-duplicate-key.yml", SHP_ERR_PARSE,
     "10: crystals[0].length_mm: duplicate key (first on line 8)"},
    {"bad-empty-crystals.yml", SHP_ERR_PARSE,
     "6: crystals: must list at least one"},
    {"bad-empty.yml", SHP_ERR_PARSE, "1: the file is empty"},
    {"bad-root-list.yml", SHP_ERR_PARSE, "2: expected a mapping, got a list"},
};

static void test_malformed_stacks_name_file_line_and_key(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *c = &bad_cases[i];
    char path[PATH_MAX], expected[PATH_MAX + 256];
    join(path, sizeof path, SHP_TEST_DATADIR "/stacks", c->file);
    snprintf(expected, sizeof expected, "%s:%s", path, c->message);
    shp_error_clear();
    shp_stack *s = shp_stack_load(path);
    if (s != NULL) {
      shp_stack_free(s);
      fail_msg("%s loaded", c->file);
    }
    assert_error_is(c->code, expected);
  }
}

static void test_unknown_material_lists_the_known_ones(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_stack_load(STACKS "bad-unknown-material.yml"));
  /* The list comes from calibrations/materials, which may grow. */
  assert_error_has(SHP_ERR_NOT_FOUND,
                   STACKS "bad-unknown-material.yml:7: crystals[0].material: "
                          "unknown material \"unobtainium\" (known: ",
                   "alpha-BBO", "calcite", "quartz", "YVO4");
}

static void test_missing_material_file_names_the_resolved_path(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_stack_load(STACKS "bad-material-path.yml"));
  char expected[PATH_MAX * 2];
  snprintf(expected, sizeof expected,
           "%s:8: crystals[1].material: %s: cannot open: %s",
           STACKS "bad-material-path.yml", STACKS "materials/missing.yml",
           strerror(ENOENT));
  assert_error_is(SHP_ERR_FILE, expected);
}

static void test_missing_spectrum_file_names_its_line(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_stack_load(STACKS "bad-missing-spectrum.yml"));
  char expected[PATH_MAX * 2];
  snprintf(expected, sizeof expected,
           "%s:6: pulse.spectrum_file: %s: cannot open: %s",
           STACKS "bad-missing-spectrum.yml", STACKS "no-such-spectrum.csv",
           strerror(ENOENT));
  assert_error_is(SHP_ERR_FILE, expected);
}

static void test_yaml_syntax_error_names_file_and_line(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_stack_load(STACKS "bad-syntax.yml"));
  /* libyaml's own words follow; the flow mapping opened on line 7 is still
   * open at the end of the file. */
  assert_error_has(SHP_ERR_PARSE, STACKS "bad-syntax.yml:", "flow mapping");
  const char *detail = shp_error_detail();
  int line = atoi(detail + strlen(STACKS "bad-syntax.yml:"));
  assert_in_range(line, 7, 8);
}

static void test_missing_file_is_an_io_error(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_stack_load(STACKS "no-such-stack.yml"));
  char expected[PATH_MAX + 64];
  snprintf(expected, sizeof expected, "%s: cannot open: %s",
           STACKS "no-such-stack.yml", strerror(ENOENT));
  assert_error_is(SHP_ERR_FILE, expected);
}

static void test_grid_too_short_for_the_delays_is_a_grid_error(void **state) {
  (void)state;
  /* The file itself is well formed; the grid cannot hold the stack. */
  shp_stack *s = load_ok(STACKS "grid-short.yml");
  assert_true(s->has_grid);
  shp_grid g;
  shp_error_clear();
  assert_int_equal(shp_stack_grid(s, 0.0, &g), SHP_ERR_GRID);
  assert_error_has(SHP_ERR_GRID, STACKS "grid-short.yml: grid: the 2 ps "
                                        "window is shorter than");
  shp_stack_free(s);
}

static void test_grid_as_given_is_used_when_it_suffices(void **state) {
  (void)state;
  shp_stack *s = load_ok(STACKS "full.yml");
  shp_grid g;
  if (shp_stack_grid(s, 0.0, &g) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(g.n, 8192);
  assert_close(shp_grid_window_ps(&g), 96.0, 1e-12);
  assert_close(shp_grid_center_wavelength_nm(&g), 1030.1, 1e-9);
  shp_stack_free(s);
}

/* ---- simulation --------------------------------------------------------- */

static void
test_simulation_of_fan4_against_flat_top_is_consistent(void **state) {
  (void)state;
  shp_stack *s = load_ok(FAN4);
  shp_target *t = shp_target_load(FLAT_TOP);
  if (t == NULL)
    fail_msg("%s", shp_error_detail());
  shp_simulation *sim = shp_simulate(s, t, false);
  if (sim == NULL)
    fail_msg("%s", shp_error_detail());
  size_t n = sim->n;
  double dt = sim->grid.dt;
  assert_int_equal(n, sim->grid.n);

  /* Polarizers only take energy away. */
  assert_true(sim->metrics.transmission > 0.0);
  assert_true(sim->metrics.transmission <= 1.0);
  /* The grid was chosen to hold the output: the contract's limit. */
  assert_true(sim->edge_energy >= 0.0 && sim->edge_energy <= 1e-6);
  assert_true(sim->metrics.has_error);
  assert_true(isfinite(sim->metrics.error) && sim->metrics.error >= 0.0);

  /* Intensities are in units of the input energy: the transmission is the
   * integral of the output, and the input integrates to 1 (a Gaussian
   * that fills a small part of the window; the rest is rounding). */
  double out = 0, in = 0, total_error = 0;
  for (size_t j = 0; j < n; j++) {
    out += sim->intensity[j];
    in += sim->input_intensity[j];
    double sum = sim->intensity_x[j] + sim->intensity_y[j];
    total_error = fmax(total_error, fabs(sim->intensity[j] - sum));
  }
  assert_close(out * dt, sim->metrics.transmission, 1e-12);
  assert_close(in * dt, 1.0, 1e-9);
  assert_true(total_error <= 1e-12 * sim->metrics.peak);

  /* The axes: time centred with step dt, wavelengths ascending, zero delay
   * at index n where the autocorrelation peaks at 1. */
  assert_true(sim->time_ps[n / 2] == 0.0);
  assert_close(sim->time_ps[1] - sim->time_ps[0], dt, 1e-15);
  for (size_t k = 1; k < n; k++)
    assert_true(sim->wavelength_nm[k] > sim->wavelength_nm[k - 1]);
  assert_true(sim->delay_ps[n] == 0.0);
  assert_close(sim->autocorrelation[n], 1.0, 1e-12);
  double target_peak = 0;
  for (size_t j = 0; j < n; j++)
    target_peak = fmax(target_peak, sim->target[j]);
  assert_true(target_peak == 1.0);
  assert_close(sim->target_autocorrelation[n], 1.0, 1e-12);

  shp_simulation_free(sim);
  shp_target_free(t);
  shp_stack_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_example_fan4_loads_with_the_values_in_the_file),
      cmocka_unit_test(test_full_fixture_loads_every_optional_key),
      cmocka_unit_test(test_spectrum_file_is_read_relative_to_the_stack_file),
      cmocka_unit_test(test_material_path_is_relative_to_the_stack_file),
      cmocka_unit_test(
          test_bare_material_file_name_is_relative_to_the_stack_file),
      cmocka_unit_test(test_round_trip_of_example_is_exact),
      cmocka_unit_test(
          test_round_trip_keeps_grid_polarizers_double_pass_and_chirp),
      cmocka_unit_test(test_round_trip_keeps_spectrum_file),
      cmocka_unit_test(test_round_trip_keeps_relative_material_path),
      cmocka_unit_test(test_round_trip_keeps_awkward_doubles),
      cmocka_unit_test(test_new_stack_with_added_crystals_saves_and_loads),
      cmocka_unit_test(test_save_leaves_only_the_file_in_the_directory),
      cmocka_unit_test(
          test_save_into_unwritable_directory_fails_naming_the_path),
      cmocka_unit_test(test_failed_replace_removes_the_temporary_file),
      cmocka_unit_test(test_malformed_stacks_name_file_line_and_key),
      cmocka_unit_test(test_unknown_material_lists_the_known_ones),
      cmocka_unit_test(test_missing_material_file_names_the_resolved_path),
      cmocka_unit_test(test_missing_spectrum_file_names_its_line),
      cmocka_unit_test(test_yaml_syntax_error_names_file_and_line),
      cmocka_unit_test(test_missing_file_is_an_io_error),
      cmocka_unit_test(test_grid_too_short_for_the_delays_is_a_grid_error),
      cmocka_unit_test(test_grid_as_given_is_used_when_it_suffices),
      cmocka_unit_test(test_simulation_of_fan4_against_flat_top_is_consistent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
