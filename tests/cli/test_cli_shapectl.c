/* CLI tests of `shapectl simulate`, `new`, `autocorr` and the help of every
 * subcommand: the built binary is run as a user runs it, stdout and stderr
 * captured apart, and held to the CLI contract of DESIGN.md: data on stdout
 * (JSON or CSV), diagnostics on stderr, exit 0 on success and 2 on bad usage
 * or input, errors naming file, line and key (or the option), nothing
 * written when the input is bad.
 *
 * Most runs set SHP_FFTW_ESTIMATE=1: FFTW_MEASURE spends ~0.4 s planning in
 * every process, and the plan changes results only at the rounding level
 * (1e-16), far below every tolerance here. The first simulate test runs
 * with the environment a user has. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
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

#include <cmocka.h>

#include "json_check.h"

#include "spawn_run.h"

#define STACK(name) SHP_EXAMPLES_DIR "/stacks/" name
#define TARGET(name) SHP_EXAMPLES_DIR "/targets/" name

/* ---- running shapectl -------------------------------------------------- */

/* Run shapectl with args (NULL-terminated, without argv[0]) in this
 * process's environment without SHP_DATA_DIR (the binary finds the shipped
 * data itself) and SHP_FFTW_ESTIMATE, plus extra_env when not NULL. */
static spawn_result run_env(const char *extra_env, const char *const *args) {
  static const char *const unset[] = {"SHP_DATA_DIR", "SHP_FFTW_ESTIMATE",
                                      NULL};
  return spawn_run(SHAPECTL_PATH, unset, extra_env, args);
}

#define ESTIMATE "SHP_FFTW_ESTIMATE=1"
/* Quick runs (see the top of the file). */
#define run(...) run_env(ESTIMATE, (const char *const[]){__VA_ARGS__, NULL})
/* Exactly the environment a user has. */
#define run_as_user(...) run_env(NULL, (const char *const[]){__VA_ARGS__, NULL})

/* ---- helpers ----------------------------------------------------------- */

static char *temp_dir(void) {
  char *dir = strdup("/tmp/shp-cli-shapectl-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  return dir;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(char *dir) {
  assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
  free(dir);
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Number of entries in a directory besides . and .. */
static size_t dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open %s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 65536 + 1 > cap) {
      cap = 2 * cap + 65536 + 1;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  fclose(f);
  buf[n] = '\0';
  if (len != NULL)
    *len = n;
  return buf;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
  assert_true(snprintf(buf, size, "%s/%s", dir, name) < (int)size);
}

/* Bad usage or input: exit 2, a message on stderr, nothing on stdout. */
static void assert_usage_error(spawn_result r, const char *message) {
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_contains(r.err, message);
  spawn_result_free(&r);
}

/* ---- simulate ---------------------------------------------------------- */

static void
test_simulate_json_is_one_object_whose_intensity_integrates_to_the_transmission(
    void **state) {
  (void)state;
  spawn_result r = run_as_user("simulate", STACK("fan4.yml"), "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  assert_true(r.out_len == strlen(r.out)); /* no NUL bytes, text only */
  assert_true(r.out[0] == '{');
  json_t *j = parse_json(r.out);
  assert_true(json_is_object(j));
  json_t *m = json_object_get(j, "metrics");
  assert_true(json_is_object(m));
  static const char *const keys[] = {"transmission", "fwhm_ps", "rise_time_ps",
                                     "fall_time_ps", "ripple"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    assert_true(isfinite(number(m, keys[i])));
  /* No target, so no error figure. */
  assert_null(json_object_get(m, "error"));

  size_t n, ni;
  double *t = numbers(j, "time_ps", &n);
  double *in = numbers(j, "intensity", &ni);
  assert_true(n >= 16);
  assert_int_equal(ni, n);
  json_t *ac = json_object_get(j, "autocorrelation");
  assert_true(json_is_object(ac));
  size_t nd, nv;
  double *delay = numbers(ac, "delay_ps", &nd);
  double *value = numbers(ac, "value", &nv);
  assert_int_equal(nd, 2 * n); /* delays -n dt .. (n - 1) dt */
  assert_int_equal(nv, nd);
  /* Background-free autocorrelation: peak 1 at zero delay (index n). */
  assert_true(fabs(value[n] - 1.0) < 1e-12);
  assert_true(fabs(delay[n]) < 1e-12);

  /* Intensities are in units of the input energy (DESIGN), so the integral
   * of the output is the transmission. The time axis is uniform; 12
   * printed digits give the sum to ~1e-12. */
  double dt = (t[n - 1] - t[0]) / (double)(n - 1), sum = 0;
  for (size_t k = 1; k < n; k++)
    assert_true(fabs(t[k] - t[k - 1] - dt) < 1e-9 * dt);
  for (size_t k = 0; k < n; k++)
    sum += in[k];
  assert_true(fabs(sum * dt - number(m, "transmission")) < 1e-9);
  free(t);
  free(in);
  free(delay);
  free(value);
  json_decref(j);
  spawn_result_free(&r);
}

static void
test_simulate_with_target_adds_error_below_ten_percent(void **state) {
  (void)state;
  spawn_result r = run("simulate", STACK("stacker16-uv.yml"), "--target",
                       TARGET("flat-top-16ps.yml"), "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  json_t *m = json_object_get(j, "metrics");
  /* Measured 0.051: 16 Gaussian replicas against an erf-edged flat top. */
  double e = number(m, "error");
  assert_true(e >= 0 && e < 0.1);
  size_t n, nt;
  free(numbers(j, "intensity", &n));
  free(numbers(j, "target", &nt));
  assert_int_equal(nt, n);
  json_decref(j);
  spawn_result_free(&r);
}

/* The first line of a file, and the number of lines after it. */
static void csv_shape(const char *path, char *header, size_t size,
                      size_t *rows) {
  char *text = read_file(path, NULL);
  const char *nl = strchr(text, '\n');
  assert_non_null(nl);
  assert_true((size_t)(nl - text) < size);
  memcpy(header, text, (size_t)(nl - text));
  header[nl - text] = '\0';
  *rows = 0;
  for (const char *p = nl + 1; *p; p++)
    if (*p == '\n')
      (*rows)++;
  free(text);
}

static void test_simulate_csv_writes_four_files_with_headers(void **state) {
  (void)state;
  char *dir = temp_dir();
  char out[512];
  path_in(out, sizeof out, dir, "run1"); /* created by shapectl */
  spawn_result r = run("simulate", STACK("fan4.yml"), "--csv", out);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  spawn_result_free(&r);
  /* fan4 has no grid in its file; the chosen one has 1024 points. */
  r = run("simulate", STACK("fan4.yml"), "--json");
  json_t *j = parse_json(r.out);
  size_t n = (size_t)json_integer_value(
      json_object_get(json_object_get(j, "grid"), "points"));
  double transmission = number(json_object_get(j, "metrics"), "transmission");
  json_decref(j);
  spawn_result_free(&r);

  static const struct {
    const char *file, *header;
    size_t rows_per_point, extra_rows;
  } files[] = {
      {"intensity.csv", "time_ps,intensity,intensity_x,intensity_y", 1, 0},
      {"spectrum.csv", "wavelength_nm,spectral_density,input_spectral_density",
       1, 0},
      {"autocorrelation.csv", "delay_ps,autocorrelation", 2, 0},
      {"metrics.csv", "metric,value", 0, 6},
  };
  for (size_t i = 0; i < 4; i++) {
    char path[600], header[256];
    size_t rows;
    path_in(path, sizeof path, out, files[i].file);
    csv_shape(path, header, sizeof header, &rows);
    assert_string_equal(header, files[i].header);
    assert_int_equal(rows, files[i].rows_per_point * n + files[i].extra_rows);
  }
  /* Nothing else in the directory (no temporary files left behind). */
  assert_int_equal(dir_entries(out), 4);

  /* The CSV carries the same numbers: 10 printed digits. */
  char path[600];
  path_in(path, sizeof path, out, "metrics.csv");
  char *text = read_file(path, NULL);
  double row0 = NAN;
  assert_int_equal(sscanf(strchr(text, '\n') + 1, "transmission,%lf", &row0),
                   1);
  assert_true(fabs(row0 - transmission) < 1e-9);
  free(text);
  remove_dir(dir);
}

static void check_plot(const char *dir, const char *name, const char *magic,
                       const char *magic2) {
  char path[512];
  path_in(path, sizeof path, dir, name);
  spawn_result r = run("simulate", STACK("fan4.yml"), "--plot", path);
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "transmission"); /* the summary, as without --plot */
  assert_contains(r.err, path);           /* "wrote PATH" */
  spawn_result_free(&r);
  r = run("simulate", STACK("fan4.yml"), "--plot", path, "--json");
  assert_int_equal(r.status, 0);
  json_decref(parse_json(r.out)); /* the plot message stays off stdout */
  spawn_result_free(&r);
  size_t len;
  char *data = read_file(path, &len);
  assert_true(len > 1000);
  bool ok = len >= strlen(magic) && memcmp(data, magic, strlen(magic)) == 0;
  if (!ok && magic2 != NULL)
    ok = len >= strlen(magic2) && memcmp(data, magic2, strlen(magic2)) == 0;
  if (!ok)
    fail_msg("%s does not start with \"%s\"", name, magic);
  if (strcmp(magic, "<?xml") == 0)
    assert_non_null(strstr(data, "<svg"));
  free(data);
}

static void test_simulate_plot_writes_png_svg_and_pdf(void **state) {
  (void)state;
  char *dir = temp_dir();
  check_plot(dir, "x.png", "\x89PNG\r\n\x1a\n", NULL);
  check_plot(dir, "x.svg", "<?xml", "<svg");
  check_plot(dir, "x.pdf", "%PDF-", NULL);
  remove_dir(dir);
}

/* Without --json or --csv a readable summary goes to stdout. */
static void test_simulate_plain_prints_metrics_summary(void **state) {
  (void)state;
  spawn_result r = run("simulate", STACK("fan4.yml"));
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "transmission");
  assert_contains(r.out, "FWHM");
  spawn_result_free(&r);
}

static void test_simulate_plot_bmp_exits_2_and_writes_nothing(void **state) {
  (void)state;
  char *dir = temp_dir();
  char path[512];
  path_in(path, sizeof path, dir, "x.bmp");
  spawn_result r = run("simulate", STACK("fan4.yml"), "--plot", path);
  assert_int_equal(r.status, 2);
  assert_contains(r.err, ".bmp");
  spawn_result_free(&r);
  assert_int_equal(dir_entries(dir), 0);
  remove_dir(dir);
}

/* What is not a regular file is bad input, refused at once: a FIFO used to
 * block shapectl forever and /dev/zero made autocorr spin at 100 % CPU. */
static void test_fifo_and_dev_zero_exit_2_at_once(void **state) {
  (void)state;
  char *dir = temp_dir();
  char fifo[512], want[600];
  path_in(fifo, sizeof fifo, dir, "stack.yml");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  snprintf(want, sizeof want, "shapectl: %s: not a regular file\n", fifo);
  spawn_result r = run("simulate", fifo, "--json");
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, want);
  spawn_result_free(&r);
  r = run("autocorr", "/dev/zero");
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "shapectl: /dev/zero: not a regular file\n");
  spawn_result_free(&r);
  remove_dir(dir);
}

static void test_simulate_json_and_csv_together_exit_2(void **state) {
  (void)state;
  char *dir = temp_dir();
  char out[512];
  path_in(out, sizeof out, dir, "csv");
  assert_usage_error(run("simulate", STACK("fan4.yml"), "--json", "--csv", out),
                     "--csv");
  assert_false(exists(out));
  remove_dir(dir);
}

static void test_simulate_usage_errors_exit_2(void **state) {
  (void)state;
  assert_usage_error(run("simulate"), "expected one stack file");
  assert_usage_error(run("simulate", STACK("fan4.yml"), STACK("folded4.yml")),
                     "expected one stack file");
  assert_usage_error(run("simulate", STACK("fan4.yml"), "--bogus"),
                     "usage: shapectl simulate");
  assert_usage_error(run("simulate", "/nonexistent/stack.yml", "--json"),
                     "/nonexistent/stack.yml");
}

/* A malformed stack: exit 2, "file:line: key" on stderr, nothing on stdout
 * and no plot file, whatever the output options. */
static void
test_malformed_stack_exits_2_naming_file_line_and_key(void **state) {
  (void)state;
  static const struct {
    const char *file, *where;
  } bad[] = {
      {"bad-second-length.yml",
       "bad-second-length.yml:11: crystals[1].length_mm: must be > 0"},
      {"bad-azimuth-word.yml",
       "bad-azimuth-word.yml:8: crystals[1].azimuth_deg: expected a number"},
      {"bad-missing-material.yml",
       "bad-missing-material.yml:9: crystals[2].material: missing"},
      {"bad-temperature-key.yml",
       "bad-temperature-key.yml:10: crystals[0].temperature: unknown key"},
      {"bad-zero-fwhm.yml", "bad-zero-fwhm.yml:5: pulse.fwhm_ps: must be > 0"},
      {"bad-double-pass-text.yml",
       "bad-double-pass-text.yml:9: double_pass: expected true or false"},
  };
  char *dir = temp_dir();
  char plot[512], csv[512];
  path_in(plot, sizeof plot, dir, "plot.png");
  path_in(csv, sizeof csv, dir, "csv");
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char path[512];
    path_in(path, sizeof path, SHP_TEST_DATADIR "/cli", bad[i].file);
    assert_usage_error(run("simulate", path, "--json", "--plot", plot),
                       bad[i].where);
    assert_usage_error(run("simulate", path, "--csv", csv), bad[i].where);
    assert_usage_error(run("simulate", path), bad[i].where);
    assert_int_equal(dir_entries(dir), 0);
  }
  remove_dir(dir);
}

/* ---- new --------------------------------------------------------------- */

#define SOLC_ARGS                                                              \
  "--crystals", "4", "--material", "alpha-BBO", "--length-mm", "2.465",        \
      "--wavelength-nm", "1030", "--fwhm-ps", "1"

/* The intensity array and transmission of `simulate FILE --json`. */
static double *simulate_intensity(const char *file, size_t *n,
                                  double *transmission) {
  spawn_result r = run("simulate", file, "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  double *v = numbers(j, "intensity", n);
  *transmission = number(json_object_get(j, "metrics"), "transmission");
  json_decref(j);
  spawn_result_free(&r);
  return v;
}

static void assert_same_intensity(const double *a, size_t na, const double *b,
                                  size_t nb, double tol) {
  assert_int_equal(na, nb);
  double worst = 0;
  for (size_t k = 0; k < na; k++)
    worst = fmax(worst, fabs(a[k] - b[k]));
  print_message("largest intensity difference %.3g\n", worst);
  assert_true(worst <= tol);
}

static void test_new_solc_writes_a_stack_that_simulate_accepts(void **state) {
  (void)state;
  char *dir = temp_dir();
  char file[512];
  path_in(file, sizeof file, dir, "fan.yml");
  spawn_result r =
      run("new", "solc", "--type", "fan", SOLC_ARGS, "--out", file);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  assert_contains(r.err, file);
  spawn_result_free(&r);
  char *text = read_file(file, NULL);
  /* rho = 45/4 degrees, fan: rho, 3 rho, 5 rho, 7 rho, parallel polarizers. */
  assert_contains(text, "azimuth_deg: 11.25\n");
  assert_contains(text, "azimuth_deg: 33.75\n");
  assert_contains(text, "azimuth_deg: 56.25\n");
  assert_contains(text, "azimuth_deg: 78.75\n");
  assert_contains(text, "output_polarizer_deg: 0.0\n");

  /* The same command to stdout writes the same document, and that too
   * reads back. */
  r = run("new", "solc", "--type", "fan", SOLC_ARGS);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  assert_string_equal(r.out, text);
  char again[512];
  path_in(again, sizeof again, dir, "from-stdout.yml");
  write_text(again, r.out);
  spawn_result_free(&r);
  free(text);

  size_t n1, n2, n3;
  double t1, t2, t3;
  double *a = simulate_intensity(file, &n1, &t1);
  double *b = simulate_intensity(again, &n2, &t2);
  assert_same_intensity(a, n1, b, n2, 0.0);
  /* examples/stacks/fan4.yml is this design (same plates, same tuned
   * temperature): the same output, to the 12 digits printed. */
  double *c = simulate_intensity(STACK("fan4.yml"), &n3, &t3);
  assert_same_intensity(a, n1, c, n3, 1e-12);
  free(a);
  free(b);
  free(c);
  remove_dir(dir);
}

static void test_new_folded_solc_uses_crossed_polarizers(void **state) {
  (void)state;
  spawn_result r = run("new", "solc", "--type", "folded", SOLC_ARGS);
  assert_int_equal(r.status, 0);
  assert_contains(r.out, "azimuth_deg: 11.25\n");
  assert_contains(r.out, "azimuth_deg: -11.25\n");
  assert_contains(r.out, "output_polarizer_deg: 90.0\n");
  spawn_result_free(&r);
}

static void test_new_stacker_writes_16_replica_flat_top(void **state) {
  (void)state;
  char *dir = temp_dir();
  char file[512];
  path_in(file, sizeof file, dir, "stacker.yml");
  spawn_result r =
      run("new", "stacker", "--crystals", "4", "--material", "alpha-BBO",
          "--wavelength-nm", "257.5", "--fwhm-ps", "1", "--out", file);
  assert_int_equal(r.status, 0);
  spawn_result_free(&r);
  r = run("simulate", file, "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  json_t *m = json_object_get(j, "metrics");
  /* No polarizers: nothing is lost (FFT rounding ~1e-15). */
  assert_true(fabs(number(m, "transmission") - 1.0) < 1e-9);
  /* 16 replicas 1 ps apart, 1 ps wide: 15 ps between the outer centres
   * plus one FWHM; measured 15.92. */
  assert_true(fabs(number(m, "fwhm_ps") - 16.0) < 1.0);
  json_decref(j);
  spawn_result_free(&r);
  remove_dir(dir);
}

static void test_new_bad_options_exit_2_naming_the_option(void **state) {
  (void)state;
  assert_usage_error(run("new", "solc", SOLC_ARGS), "--type");
  assert_usage_error(run("new", "solc", "--type", "banana", SOLC_ARGS),
                     "--type: expected fan or folded, got \"banana\"");
  assert_usage_error(run("new", "solc", "--type", "fan", "--crystals", "0",
                         "--material", "alpha-BBO", "--length-mm", "2.465",
                         "--wavelength-nm", "1030", "--fwhm-ps", "1"),
                     "--crystals");
  /* The message names the option and the material. */
  assert_usage_error(run("new", "solc", "--type", "fan", "--crystals", "4",
                         "--material", "unobtainium", "--length-mm", "2.465",
                         "--wavelength-nm", "1030", "--fwhm-ps", "1"),
                     "--material: unknown material \"unobtainium\"");
  assert_usage_error(run("new", "solc", "--type", "fan", "--crystals", "4",
                         "--material", "alpha-BBO", "--length-mm", "-2.465",
                         "--wavelength-nm", "1030", "--fwhm-ps", "1"),
                     "--length-mm");
  assert_usage_error(run("new", "solc", "--type", "fan", "--crystals", "4",
                         "--material", "alpha-BBO", "--length-mm", "2.465",
                         "--wavelength-nm", "1030"),
                     "--fwhm-ps is required");
  assert_usage_error(run("new", "stacker", "--crystals", "0", "--material",
                         "alpha-BBO", "--wavelength-nm", "257.5", "--fwhm-ps",
                         "1"),
                     "--crystals");
  assert_usage_error(run("new", "stacker", "--crystals", "4", "--material",
                         "alpha-BBO", "--wavelength-nm", "257.5", "--fwhm-ps",
                         "1", "--type", "fan"),
                     "--type");
}

/* A failed `new --out` leaves no file behind. */
static void test_new_failure_writes_no_file(void **state) {
  (void)state;
  char *dir = temp_dir();
  char file[512];
  path_in(file, sizeof file, dir, "x.yml");
  assert_usage_error(run("new", "solc", "--type", "fan", "--crystals", "4",
                         "--material", "unobtainium", "--length-mm", "2.465",
                         "--wavelength-nm", "1030", "--fwhm-ps", "1", "--out",
                         file),
                     "unobtainium");
  assert_int_equal(dir_entries(dir), 0);
  remove_dir(dir);
}

/* ---- autocorr ---------------------------------------------------------- */

#define AC_STEP 0.02 /* ps */
#define AC_PULSE 0.5 /* ps, intensity FWHM */
#define AC_ROWS 401  /* -4 .. 4 ps */

/* A Gaussian intensity trace on a uniform step; with header or not, and
 * with the time of one row moved by shift_ps (0 for none). */
static void write_gaussian_csv(const char *path, bool header, size_t bad_row,
                               double shift_ps) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  if (header)
    fputs("time_ps,intensity\n", f);
  for (size_t i = 0; i < AC_ROWS; i++) {
    double t = ((double)i - (AC_ROWS - 1) / 2.0) * AC_STEP;
    double v = exp(-4 * log(2.0) * t * t / (AC_PULSE * AC_PULSE));
    if (i + 1 == bad_row)
      t += shift_ps;
    fprintf(f, "%.6f,%.12g\n", t, v);
  }
  assert_int_equal(fclose(f), 0);
}

/* FWHM by linear interpolation between the outermost samples at or above
 * half the maximum and their outer neighbours. */
static double fwhm_of(const double *x, const double *y, size_t n) {
  size_t peak = 0;
  for (size_t i = 1; i < n; i++)
    if (y[i] > y[peak])
      peak = i;
  double half = y[peak] / 2;
  size_t lo = 0, hi = n - 1;
  while (y[lo] < half)
    lo++;
  while (y[hi] < half)
    hi--;
  assert_true(lo > 0 && hi < n - 1);
  double xl = x[lo - 1] +
              (half - y[lo - 1]) / (y[lo] - y[lo - 1]) * (x[lo] - x[lo - 1]);
  double xh =
      x[hi] + (y[hi] - half) / (y[hi] - y[hi + 1]) * (x[hi + 1] - x[hi]);
  return xh - xl;
}

/* The intensity autocorrelation of a Gaussian of FWHM w is a Gaussian of
 * FWHM sqrt(2) w (Diels & Rudolph, Ultrashort Laser Pulse Phenomena, 2nd
 * ed., table 9.1). The samples hold the exact values; what differs is the
 * linear interpolation of the half-maximum crossings: for a Gaussian its
 * error per edge is at most dt^2/8 |y''/y'| = dt^2/8 (2 ln2 - 1)/t_half
 * (t_half = 0.354 ps), i.e. 2 * 5.5e-5 ps over both edges; measured 9e-5. */
static void test_autocorr_of_gaussian_is_sqrt2_wider(void **state) {
  (void)state;
  char *dir = temp_dir();
  char csv[512];
  path_in(csv, sizeof csv, dir, "trace.csv");
  write_gaussian_csv(csv, true, 0, 0);
  spawn_result r = run("autocorr", csv);
  assert_int_equal(r.status, 0);
  assert_contains(r.err, "FWHM");
  const char *header = "delay_ps,autocorrelation\n";
  assert_true(strncmp(r.out, header, strlen(header)) == 0);
  size_t cap = 2 * AC_ROWS, n = 0;
  double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
  assert_non_null(x);
  assert_non_null(y);
  const char *p = r.out + strlen(header);
  while (*p) {
    assert_true(n < cap);
    char *end;
    x[n] = strtod(p, &end);
    assert_true(*end == ',');
    y[n] = strtod(end + 1, &end);
    assert_true(*end == '\n');
    p = end + 1;
    n++;
  }
  assert_int_equal(n, 2 * AC_ROWS);
  double t_half = sqrt(2.0) * AC_PULSE / 2;
  double tol = 2 * AC_STEP * AC_STEP / 8 * (2 * log(2.0) - 1) / t_half;
  double w = fwhm_of(x, y, n);
  print_message("autocorrelation FWHM %.6f ps, want %.6f +- %.2g\n", w,
                sqrt(2.0) * AC_PULSE, tol);
  assert_true(fabs(w - sqrt(2.0) * AC_PULSE) < tol);
  /* Zero delay at the peak, delays on the trace's step. */
  assert_true(fabs(x[AC_ROWS]) < 1e-12);
  assert_true(fabs(y[AC_ROWS] - 1.0) < 1e-9);
  assert_true(fabs(x[1] - x[0] - AC_STEP) < 1e-9);
  free(x);
  free(y);
  spawn_result_free(&r);

  r = run("autocorr", csv, "--json");
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  assert_true(fabs(number(j, "fwhm_ps") - sqrt(2.0) * AC_PULSE) < tol);
  json_t *pulse = json_object_get(j, "pulse_fwhm_ps");
  assert_true(fabs(number(pulse, "gaussian") - AC_PULSE) < tol / sqrt(2.0));
  /* The sech^2 deconvolution factor 1.5427 (Diels & Rudolph, table 9.1). */
  assert_true(fabs(number(pulse, "sech2") * 1.5427 - number(j, "fwhm_ps")) <
              1e-9);
  size_t nd, nv;
  free(numbers(j, "delay_ps", &nd));
  free(numbers(j, "value", &nv));
  assert_int_equal(nd, 2 * AC_ROWS);
  assert_int_equal(nv, nd);
  json_decref(j);
  spawn_result_free(&r);
  remove_dir(dir);
}

static void test_autocorr_bad_input_exits_2(void **state) {
  (void)state;
  char *dir = temp_dir();
  char csv[512];
  /* No header, so data row 49 is line 49 of the file: "file:49:". */
  path_in(csv, sizeof csv, dir, "uneven.csv");
  write_gaussian_csv(csv, false, 49, 0.01);
  spawn_result r = run("autocorr", csv);
  assert_int_equal(r.status, 2);
  assert_string_equal(r.out, "");
  assert_contains(r.err, csv);
  assert_contains(r.err, ":49: time_ps:");
  spawn_result_free(&r);

  char missing[512];
  path_in(missing, sizeof missing, dir, "missing.csv");
  assert_usage_error(run("autocorr", missing), missing);
  assert_usage_error(run("autocorr", missing, "--json"), missing);

  path_in(csv, sizeof csv, dir, "words.csv");
  write_text(csv, "time_ps,intensity\n0,1\n0.1,2\nabc,def\n0.3,1\n");
  assert_usage_error(run("autocorr", csv), ":4:");
  assert_usage_error(run("autocorr"), "expected one CSV file");
  remove_dir(dir);
}

/* ---- help -------------------------------------------------------------- */

static void assert_help(spawn_result r, const char *usage) {
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  if (strncmp(r.out, usage, strlen(usage)) != 0)
    fail_msg("stdout does not start with \"%s\"", usage);
  spawn_result_free(&r);
}

static void test_help_on_every_subcommand_prints_usage_on_stdout(void **state) {
  (void)state;
  assert_help(run("--help"), "usage: shapectl COMMAND");
  assert_help(run("simulate", "--help"), "usage: shapectl simulate");
  assert_help(run("new", "--help"), "usage: shapectl new COMMAND");
  assert_help(run("new", "solc", "--help"), "usage: shapectl new solc");
  assert_help(run("new", "stacker", "--help"), "usage: shapectl new stacker");
  assert_help(run("autocorr", "--help"), "usage: shapectl autocorr");
  assert_help(run("materials", "--help"), "usage: shapectl materials COMMAND");
  assert_help(run("materials", "list", "--help"),
              "usage: shapectl materials list");
  assert_help(run("materials", "show", "--help"),
              "usage: shapectl materials show");
  /* --help wins over bad arguments. */
  assert_help(run("simulate", "/nonexistent.yml", "--help"),
              "usage: shapectl simulate");
  assert_help(run("new", "solc", "--type", "banana", "--help"),
              "usage: shapectl new solc");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_simulate_json_is_one_object_whose_intensity_integrates_to_the_transmission),
      cmocka_unit_test(test_simulate_with_target_adds_error_below_ten_percent),
      cmocka_unit_test(test_simulate_csv_writes_four_files_with_headers),
      cmocka_unit_test(test_simulate_plot_writes_png_svg_and_pdf),
      cmocka_unit_test(test_simulate_plain_prints_metrics_summary),
      cmocka_unit_test(test_simulate_plot_bmp_exits_2_and_writes_nothing),
      cmocka_unit_test(test_simulate_json_and_csv_together_exit_2),
      cmocka_unit_test(test_simulate_usage_errors_exit_2),
      cmocka_unit_test(test_fifo_and_dev_zero_exit_2_at_once),
      cmocka_unit_test(test_malformed_stack_exits_2_naming_file_line_and_key),
      cmocka_unit_test(test_new_solc_writes_a_stack_that_simulate_accepts),
      cmocka_unit_test(test_new_folded_solc_uses_crossed_polarizers),
      cmocka_unit_test(test_new_stacker_writes_16_replica_flat_top),
      cmocka_unit_test(test_new_bad_options_exit_2_naming_the_option),
      cmocka_unit_test(test_new_failure_writes_no_file),
      cmocka_unit_test(test_autocorr_of_gaussian_is_sqrt2_wider),
      cmocka_unit_test(test_autocorr_bad_input_exits_2),
      cmocka_unit_test(test_help_on_every_subcommand_prints_usage_on_stdout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
