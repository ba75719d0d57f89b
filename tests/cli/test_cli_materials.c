/* CLI tests of `shapectl materials`: the built binary is run as a user runs
 * it, with stdout and stderr captured separately, and held to the CLI
 * contract of DESIGN.md: data on stdout, diagnostics on stderr, exit 0 on
 * success and 2 on bad usage or input, --help on every subcommand. */
#include <jansson.h>
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

#include "spawn_run.h"

#define PI 3.14159265358979323846
/* Speed of light in mm/ps (exact SI value, 299792458 m/s). */
#define C_MM_PER_PS 0.299792458

#define FIXTURE(name) SHP_TEST_DATADIR "/materials/" name

/* Run shapectl with args (NULL-terminated, without argv[0]) in this
 * process's environment without SHP_DATA_DIR, plus SHP_DATA_DIR=data_dir
 * when data_dir is not NULL. */
static spawn_result run_with(const char *data_dir, const char *const *args) {
  static const char *const unset[] = {"SHP_DATA_DIR", NULL};
  char slot[4096];
  if (data_dir != NULL)
    snprintf(slot, sizeof slot, "SHP_DATA_DIR=%s", data_dir);
  return spawn_run(SHAPECTL_PATH, unset, data_dir != NULL ? slot : NULL, args);
}

/* SHP_DATA_DIR unset: the binary finds the shipped data by itself. */
#define run(...) run_with(NULL, (const char *const[]){__VA_ARGS__, NULL})

static json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    fail_msg("stdout is not JSON (line %d: %s): %s", e.line, e.text, text);
  return j;
}

static double number(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_number(v))
    fail_msg("\"%s\" is missing or not a number", key);
  return json_number_value(v);
}

/* ---- materials list ---------------------------------------------------- */

static bool json_list_has(const json_t *materials, const char *name) {
  size_t i;
  json_t *m;
  json_array_foreach(materials, i, m) {
    if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
      return true;
  }
  return false;
}

static void test_list_json_names_the_shipped_crystals(void **state) {
  (void)state;
  spawn_result r = run("materials", "list", "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_t *j = parse_json(r.out);
  json_t *list = json_object_get(j, "materials");
  assert_true(json_is_array(list));
  const char *names[] = {"alpha-BBO", "YVO4", "calcite", "quartz"};
  for (size_t i = 0; i < 4; i++)
    if (!json_list_has(list, names[i]))
      fail_msg("%s not listed", names[i]);
  size_t i;
  json_t *m;
  json_array_foreach(list, i, m) {
    assert_true(json_is_string(json_object_get(m, "description")));
    assert_true(json_is_string(json_object_get(m, "path")));
    number(m, "reference_temperature_c");
    if (strcmp(json_string_value(json_object_get(m, "name")), "alpha-BBO"))
      continue;
    /* CASIX transparency range as written in alpha-BBO.yml. */
    json_t *range = json_object_get(m, "wavelength_range_nm");
    assert_int_equal(json_array_size(range), 2);
    assert_true(fabs(json_number_value(json_array_get(range, 0)) - 189) < 1e-9);
    assert_true(fabs(json_number_value(json_array_get(range, 1)) - 3500) <
                1e-9);
  }
  json_decref(j);
  spawn_result_free(&r);
}

static void test_list_plain_prints_one_line_per_material(void **state) {
  (void)state;
  spawn_result r = run("materials", "list");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  assert_contains(r.out, "alpha-BBO ");
  assert_contains(r.out, "\nYVO4 ");
  assert_contains(r.out, "\ncalcite ");
  assert_contains(r.out, "\nquartz ");
  assert_contains(r.out, "189-3500");
  spawn_result_free(&r);
}

/* An extra data directory adds its materials to the shipped ones. */
static void test_list_includes_materials_from_shp_data_dir(void **state) {
  (void)state;
  char dir[] = "/tmp/shp-cli-materials-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char sub[256], file[300];
  snprintf(sub, sizeof sub, "%s/calibrations", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(sub, sizeof sub, "%s/calibrations/materials", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(file, sizeof file, "%s/extra-test.yml", sub);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("name: extra-test\n"
        "description: a material only this test knows\n"
        "reference_temperature_c: 25.0\n"
        "wavelength_range_um: [0.4, 2.0]\n"
        "axes:\n"
        "  o: {formula: 2, coefficients: [0, 1.2, 0.01], dn_dT_per_K: 1e-5}\n"
        "  e: {formula: 2, coefficients: [0, 1.0, 0.012], dn_dT_per_K: 3e-5}\n"
        "thermal_expansion_per_K: {a: 5.0e-6, c: 1.0e-5}\n",
        f);
  assert_int_equal(fclose(f), 0);

  const char *list[] = {"materials", "list", "--json", NULL};
  spawn_result r = run_with(dir, list);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_t *j = parse_json(r.out);
  json_t *materials = json_object_get(j, "materials");
  assert_true(json_list_has(materials, "extra-test"));
  assert_true(json_list_has(materials, "alpha-BBO"));
  assert_true(json_list_has(materials, "quartz"));
  json_decref(j);
  spawn_result_free(&r);

  /* And `show` finds it by name: n^2 = 1 + 1.2 l^2/(l^2 - 0.01) at 1 um. */
  const char *show[] = {"materials", "show",   "extra-test", "--wavelength-nm",
                        "1000",      "--json", NULL};
  r = run_with(dir, show);
  assert_int_equal(r.status, 0);
  j = parse_json(r.out);
  assert_true(fabs(number(j, "n_o") - sqrt(1 + 1.2 / 0.99)) < 1e-9);
  assert_true(fabs(number(j, "temperature_c") - 25.0) < 1e-12);
  json_decref(j);
  spawn_result_free(&r);

  /* Without it, the name is unknown again. */
  r = run("materials", "show", "extra-test", "--wavelength-nm", "1000");
  assert_int_equal(r.status, 2);
  spawn_result_free(&r);

  assert_int_equal(unlink(file), 0);
  assert_int_equal(rmdir(sub), 0);
  snprintf(sub, sizeof sub, "%s/calibrations", dir);
  assert_int_equal(rmdir(sub), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* ---- materials show ---------------------------------------------------- */

static void test_show_json_gives_all_properties(void **state) {
  (void)state;
  spawn_result r = run("materials", "show", "alpha-BBO", "--wavelength-nm",
                       "1064.2", "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_t *j = parse_json(r.out);
  static const char *const keys[] = {"n_o",
                                     "n_e",
                                     "group_index_o",
                                     "group_index_e",
                                     "group_delay_ps_per_mm",
                                     "gvd_o_fs2_per_mm",
                                     "gvd_e_fs2_per_mm",
                                     "dphase_dT_rad_per_K_per_mm",
                                     "phase_delay_rad",
                                     "full_wave_temperature_k"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    assert_true(isfinite(number(j, keys[i])));
  assert_string_equal(json_string_value(json_object_get(j, "material")),
                      "alpha-BBO");
  /* CASIX alpha-BBO table at 1064.2 nm, four decimals: 2e-4. */
  assert_true(fabs(number(j, "n_o") - 1.6579) < 2e-4);
  assert_true(fabs(number(j, "n_e") - 1.5379) < 2e-4);
  /* Defaults: the material's reference temperature and a 1 mm plate. */
  assert_true(fabs(number(j, "temperature_c") - 20.0) < 1e-12);
  assert_true(fabs(number(j, "length_mm") - 1.0) < 1e-12);
  /* The figures printed agree with each other to the 12 digits printed. */
  double ngo = number(j, "group_index_o"), nge = number(j, "group_index_e");
  assert_true(fabs(number(j, "group_delay_ps_per_mm") -
                   fabs(ngo - nge) / C_MM_PER_PS) < 1e-9);
  assert_true(fabs(number(j, "full_wave_temperature_k") *
                       fabs(number(j, "dphase_dT_rad_per_K_per_mm")) -
                   2 * PI) < 1e-9);
  json_t *sources = json_object_get(j, "sources");
  assert_contains(json_string_value(json_object_get(sources, "o")), "CASIX");
  json_decref(j);
  spawn_result_free(&r);
}

/* A temperature no crystal can have is bad input (exit 2) named by its
 * option, not a page of 1e308-sized "indices" and exit 0. */
static void test_show_refuses_unphysical_temperature(void **state) {
  (void)state;
  spawn_result r = run("materials", "show", "alpha-BBO", "--wavelength-nm",
                       "1030", "--temperature-c", "-1e308");
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "shapectl: --temperature-c: must be above "
                             "-273.15 and at most 1000 C, got -1e+308\n");
  spawn_result_free(&r);
  r = run("materials", "show", "alpha-BBO", "--wavelength-nm", "1030",
          "--temperature-c", "1000.5");
  assert_int_equal(r.status, 2);
  assert_contains(r.err, "got 1000.5");
  spawn_result_free(&r);
  r = run("materials", "show", "alpha-BBO", "--wavelength-nm", "1030",
          "--temperature-c", "1000", "--json");
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
}

static void test_show_plain_prints_indices(void **state) {
  (void)state;
  spawn_result r = run("materials", "show", "alpha-BBO", "--wavelength-nm",
                       "1064.2", "--temperature-c", "20", "--length-mm", "5");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  assert_contains(r.out, "alpha-BBO at 1064.2 nm, 20 C");
  const char *line = strstr(r.out, "n_o, n_e");
  assert_non_null(line);
  double no = 0, ne = 0;
  assert_int_equal(sscanf(line, "n_o, n_e %lf %lf", &no, &ne), 2);
  assert_true(fabs(no - 1.6579) < 2e-4);
  assert_true(fabs(ne - 1.5379) < 2e-4);
  assert_contains(r.out, "for 5 mm");
  spawn_result_free(&r);
}

/* A path works where a name does; a phase that does not move with
 * temperature has no full-wave temperature, written as JSON null. */
static void test_show_json_by_path_writes_null_for_no_full_wave(void **state) {
  (void)state;
  spawn_result r = run("materials", "show", FIXTURE("odd-zero-thermal.yml"),
                       "--wavelength-nm", "800", "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_t *j = parse_json(r.out);
  assert_true(json_is_null(json_object_get(j, "full_wave_temperature_k")));
  assert_true(number(j, "dphase_dT_rad_per_K_per_mm") == 0.0);
  json_decref(j);
  spawn_result_free(&r);
}

/* ---- help and usage errors -------------------------------------------- */

static void assert_help(spawn_result r, const char *usage) {
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  if (strncmp(r.out, usage, strlen(usage)) != 0)
    fail_msg("stdout does not start with \"%s\": %s", usage, r.out);
  spawn_result_free(&r);
}

static void test_help_on_each_command_prints_usage_on_stdout(void **state) {
  (void)state;
  assert_help(run("--help"), "usage: shapectl COMMAND");
  assert_help(run("materials", "--help"), "usage: shapectl materials COMMAND");
  assert_help(run("materials", "list", "--help"),
              "usage: shapectl materials list");
  assert_help(run("materials", "show", "--help"),
              "usage: shapectl materials show");
  /* --help wins over other arguments, even bad ones. */
  assert_help(run("materials", "show", "alpha-BBO", "--help"),
              "usage: shapectl materials show");
}

/* Bad usage: exit 2, a message on stderr, nothing on stdout. */
static void assert_usage_error(spawn_result r, const char *message) {
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_contains(r.err, message);
  spawn_result_free(&r);
}

static void test_unknown_material_exits_2_naming_it(void **state) {
  (void)state;
  spawn_result r = run("materials", "show", "unobtainium", "--wavelength-nm",
                       "800", "--json");
  assert_contains(r.err, "alpha-BBO"); /* the known ones are listed */
  assert_usage_error(r, "\"unobtainium\"");
}

static void test_missing_wavelength_exits_2(void **state) {
  (void)state;
  assert_usage_error(run("materials", "show", "alpha-BBO", "--json"),
                     "--wavelength-nm is required");
  assert_usage_error(run("materials", "show", "--wavelength-nm", "800"),
                     "expected one material name");
}

static void test_out_of_range_wavelength_exits_2_with_range(void **state) {
  (void)state;
  assert_usage_error(
      run("materials", "show", "alpha-BBO", "--wavelength-nm", "100", "--json"),
      "wavelength 100 nm is outside the valid range 189 to "
      "3500 nm");
  assert_usage_error(
      run("materials", "show", "quartz", "--wavelength-nm", "2100"),
      "198 to 2053.1 nm");
}

static void test_non_numeric_wavelength_exits_2(void **state) {
  (void)state;
  assert_usage_error(
      run("materials", "show", "alpha-BBO", "--wavelength-nm", "abc"),
      "--wavelength-nm: expected a finite number, got \"abc\"");
  assert_usage_error(
      run("materials", "show", "alpha-BBO", "--wavelength-nm", "nan"),
      "--wavelength-nm");
  assert_usage_error(
      run("materials", "show", "alpha-BBO", "--wavelength-nm", "-800"),
      "--wavelength-nm: must be > 0");
  assert_usage_error(run("materials", "show", "alpha-BBO", "--wavelength-nm",
                         "800", "--length-mm", "0"),
                     "--length-mm: must be > 0");
}

static void test_unknown_subcommand_exits_2(void **state) {
  (void)state;
  assert_usage_error(run("materials", "frobnicate"),
                     "\"materials frobnicate\"");
  assert_usage_error(run("frobnicate"), "\"frobnicate\"");
  assert_usage_error(run("materials"), "usage: shapectl materials");
  assert_usage_error(run("materials", "list", "--bogus"),
                     "usage: shapectl materials list");
  assert_usage_error(run("materials", "list", "extra"),
                     "unexpected argument \"extra\"");
}

/* A material file that does not load is bad input, named on stderr. */
static void test_bad_material_file_exits_2_naming_file_and_line(void **state) {
  (void)state;
  assert_usage_error(run("materials", "show", FIXTURE("bad-negative-range.yml"),
                         "--wavelength-nm", "800"),
                     "bad-negative-range.yml:7: wavelength_range_um: ");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_json_names_the_shipped_crystals),
      cmocka_unit_test(test_list_plain_prints_one_line_per_material),
      cmocka_unit_test(test_list_includes_materials_from_shp_data_dir),
      cmocka_unit_test(test_show_json_gives_all_properties),
      cmocka_unit_test(test_show_plain_prints_indices),
      cmocka_unit_test(test_show_refuses_unphysical_temperature),
      cmocka_unit_test(test_show_json_by_path_writes_null_for_no_full_wave),
      cmocka_unit_test(test_help_on_each_command_prints_usage_on_stdout),
      cmocka_unit_test(test_unknown_material_exits_2_naming_it),
      cmocka_unit_test(test_missing_wavelength_exits_2),
      cmocka_unit_test(test_out_of_range_wavelength_exits_2_with_range),
      cmocka_unit_test(test_non_numeric_wavelength_exits_2),
      cmocka_unit_test(test_unknown_subcommand_exits_2),
      cmocka_unit_test(test_bad_material_file_exits_2_naming_file_and_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
