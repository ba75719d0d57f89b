/* Unit tests of target files and their sampling: every analytic shape has a
 * peak of 1 and a FWHM of duration_ps, edges rise in rise_time_ps, a file
 * target interpolates its CSV, and malformed files are refused naming the
 * file, the line and the key. Fixtures live in tests/data/targets.
 *
 * Tolerances: shapes are sampled with a step dt of about 1 fs. Widths and
 * edge times are read by linear interpolation between samples, whose error
 * at a crossing is about dt^2 |y''| / (8 |y'|): below 1e-6 ps for every
 * shape here (an erf edge of sigma 0.3 ps gives 1.3 dt^2 / (8 sigma)). So
 * dt / 100 is a tolerance that still catches a shape off by one sample. */
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/grid.h"
#include "shp/target.h"

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

#include <cmocka.h>

#include "test_check.h"

#define TARGETS SHP_TEST_DATADIR "/targets/"
#define FLAT_TOP SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml"

/* 10-90 % time of an error-function edge in units of sigma,
 * 2 sqrt(2) erfinv(0.8) (Abramowitz and Stegun 26.2.23 tabulate the normal
 * quantile z(0.9) = 1.2815516). */
#define ERF_10_90 (2.0 * 1.2815515655446004)

/* ---- helpers ------------------------------------------------------------ */

static shp_target *load_ok(const char *path) {
  shp_target *t = shp_target_load(path);
  if (t == NULL)
    fail_msg("%s", shp_error_detail());
  return t;
}

/* A sampled target on a grid of n points over window_ps. */
typedef struct {
  shp_grid g;
  double *y, *w;
} sampled;

static void sample_ok(const shp_target *t, size_t n, double window_ps,
                      sampled *s) {
  /* A 1 fs step spans more frequencies than a 1030 nm carrier leaves room
   * for below it; targets only use the time axis, so a 400 nm carrier. */
  assert_int_equal(shp_grid_init(&s->g, n, window_ps, 400.0), SHP_OK);
  s->y = malloc(n * sizeof *s->y);
  s->w = malloc(n * sizeof *s->w);
  assert_non_null(s->y);
  assert_non_null(s->w);
  if (shp_target_sample(t, &s->g, s->y, s->w) != SHP_OK)
    fail_msg("%s", shp_error_detail());
}

static void sampled_clear(sampled *s) {
  free(s->y);
  free(s->w);
}

/* The fine grid of the shape tests: 2^16 points over 64 ps, dt = 1/1024 ps,
 * so t = 0 and every multiple of 1/1024 ps is a sample. */
#define FINE_N 65536
#define FINE_WINDOW 64.0

static double peak_of(const double *y, size_t n) {
  double p = -INFINITY;
  for (size_t j = 0; j < n; j++)
    p = fmax(p, y[j]);
  return p;
}

/* Where y first (or, with last, finally) crosses level, by linear
 * interpolation, in ps on the grid's time axis. */
static double crossing(const sampled *s, double level, bool last) {
  size_t n = s->g.n;
  for (size_t k = 1; k < n; k++) {
    size_t j = last ? n - k : k;
    size_t i = j - 1;
    double a = s->y[i], b = s->y[j];
    if ((a < level) != (b < level)) {
      double ta = shp_grid_time_ps(&s->g, i);
      return ta + (level - a) / (b - a) * s->g.dt;
    }
  }
  fail_msg("no crossing of %g", level);
  return NAN;
}

/* ---- analytic shapes ---------------------------------------------------- */

static void test_flat_top_has_peak_one_and_fwhm_duration(void **state) {
  (void)state;
  shp_target *t = load_ok(FLAT_TOP);
  assert_int_equal(t->shape, SHP_TARGET_FLAT_TOP);
  assert_true(t->duration_ps == 5.0 && t->rise_time_ps == 1.0);
  assert_false(t->has_window);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double dt = s.g.dt;
  assert_true(peak_of(s.y, FINE_N) == 1.0);
  assert_close(shp_fwhm(s.y, FINE_N, dt), 5.0, dt / 100);
  /* No weight window: every sample counts. */
  for (size_t j = 0; j < FINE_N; j++)
    assert_true(s.w[j] == 1.0);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_flat_top_edges_rise_and_fall_in_rise_time(void **state) {
  (void)state;
  shp_target *t = load_ok(FLAT_TOP);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double dt = s.g.dt, d = 5.0, r = 1.0;
  /* Closed form: an erf edge centred on -d/2 (rising) or d/2 (falling)
   * with sigma = r / ERF_10_90 crosses 10 % and 90 % at r/2 on either side
   * of its centre. */
  double sigma = r / ERF_10_90;
  double half = 0.5 * ERF_10_90 * sigma;
  assert_close(half, r / 2, 1e-12);
  assert_close(crossing(&s, 0.1, false), -d / 2 - half, dt / 100);
  assert_close(crossing(&s, 0.9, false), -d / 2 + half, dt / 100);
  assert_close(crossing(&s, 0.9, true), d / 2 - half, dt / 100);
  assert_close(crossing(&s, 0.1, true), d / 2 + half, dt / 100);
  /* And the metrics code agrees on the 10-90 % times. */
  shp_diag *diag = shp_diag_new(FINE_N);
  assert_non_null(diag);
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(diag, s.y, dt, NULL, &m), SHP_OK);
  assert_close(m.rise_time_ps, r, dt / 100);
  assert_close(m.fall_time_ps, r, dt / 100);
  shp_diag_free(diag);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_flat_top_plateau_lies_between_its_edges(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "window.yml");
  double a = 0, b = 0;
  assert_true(shp_target_plateau(t, &a, &b));
  /* d = 5, r = 0.5: the inner (90 %) ends of the edges. */
  assert_close(a, -2.25, 1e-12);
  assert_close(b, 2.25, 1e-12);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  /* 90 % at its ends; one rise time further in, 1.5 r = 3.84 sigma from
   * the edge's centre, the edge has reached 1 - 6e-5. */
  double lo = INFINITY, r = 0.5;
  for (size_t j = 0; j < FINE_N; j++) {
    double time = shp_grid_time_ps(&s.g, j);
    if (time >= a + r && time <= b - r)
      lo = fmin(lo, s.y[j]);
  }
  assert_true(lo > 1 - 1e-4 && lo < 1);
  assert_close(crossing(&s, 0.9, false), a, s.g.dt / 100);
  sampled_clear(&s);
  shp_target_free(t);

  t = load_ok(TARGETS "triangle.yml");
  assert_false(shp_target_plateau(t, &a, &b));
  shp_target_free(t);
}

static void test_ramp_has_fwhm_duration_and_falls_in_rise_time(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "ramp.yml");
  assert_int_equal(t->shape, SHP_TARGET_RAMP);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double dt = s.g.dt, d = 6.0, r = 0.8;
  /* The linear part tops out 1.5e-7 below 1 (two rise times before the
   * edge); the peak is normalised to 1 exactly. */
  assert_true(peak_of(s.y, FINE_N) == 1.0);
  assert_close(shp_fwhm(s.y, FINE_N, dt), d, dt / 100);
  /* Half maximum at 0 (mid-slope) and at d (the edge's centre). */
  assert_close(crossing(&s, 0.5, false), 0.0, dt / 100);
  assert_close(crossing(&s, 0.5, true), d, dt / 100);
  /* The steep edge is the trailing one: 90 % at d - r/2, 10 % at d + r/2. */
  assert_close(crossing(&s, 0.9, true), d - r / 2, dt / 100);
  assert_close(crossing(&s, 0.1, true), d + r / 2, dt / 100);
  /* The slope is linear: from -b to b, b = d - 2 r, so 10 % and 90 % are at
   * -0.8 b and 0.8 b. */
  double b = d - 2 * r;
  assert_close(crossing(&s, 0.1, false), -0.8 * b, dt / 100);
  assert_close(crossing(&s, 0.9, false), 0.8 * b, dt / 100);
  sampled_clear(&s);
  shp_target_free(t);
}

/* The falling ramp is the rising one mirrored about d / 2: the steep edge
 * leads (10 % at -r/2, 90 % at r/2) and the line runs down to d + b, with
 * the half maxima still at 0 and d. */
static void test_falling_ramp_is_the_rising_one_mirrored(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "ramp-falling.yml");
  assert_int_equal(t->shape, SHP_TARGET_RAMP);
  assert_true(t->falling);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double dt = s.g.dt, d = 6.0, r = 0.8, b = d - 2 * r;
  assert_true(peak_of(s.y, FINE_N) == 1.0);
  assert_close(shp_fwhm(s.y, FINE_N, dt), d, dt / 100);
  assert_close(crossing(&s, 0.5, false), 0.0, dt / 100);
  assert_close(crossing(&s, 0.5, true), d, dt / 100);
  assert_close(crossing(&s, 0.1, false), -r / 2, dt / 100);
  assert_close(crossing(&s, 0.9, false), r / 2, dt / 100);
  assert_close(crossing(&s, 0.9, true), d - 0.8 * b, dt / 100);
  assert_close(crossing(&s, 0.1, true), d + 0.8 * b, dt / 100);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_triangle_has_peak_one_and_fwhm_duration(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "triangle.yml");
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  assert_true(peak_of(s.y, FINE_N) == 1.0);
  /* Linear edges: interpolation is exact, only rounding is left. */
  assert_close(shp_fwhm(s.y, FINE_N, s.g.dt), 4.0, 1e-9);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_parabolic_is_one_minus_t_over_T_squared(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "parabolic.yml");
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double d = 8.0, T = d / sqrt(2.0);
  assert_true(peak_of(s.y, FINE_N) == 1.0);
  for (size_t j = 0; j < FINE_N; j++) {
    double x = shp_grid_time_ps(&s.g, j) / T;
    assert_close(s.y[j], fmax(0.0, 1.0 - x * x), 1e-12);
  }
  /* 1 - (t/T)^2 = 1/2 at t = T / sqrt(2) = d / 2. The curvature 2/T^2 with
   * slope sqrt(2)/T at the crossing puts the interpolation error below
   * dt^2 / (4 sqrt(2) T), 1e-8 ps. */
  assert_close(shp_fwhm(s.y, FINE_N, s.g.dt), d, 1e-6);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_gaussian_train_has_count_peaks_at_the_spacing(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "train.yml");
  assert_int_equal(t->count, 5);
  sampled s;
  sample_ok(t, FINE_N, FINE_WINDOW, &s);
  double dt = s.g.dt, spacing = 2.5, w = 0.4;
  double peaks[8];
  size_t found = 0;
  for (size_t j = 1; j + 1 < FINE_N; j++)
    if (s.y[j] > 0.5 && s.y[j] >= s.y[j - 1] && s.y[j] > s.y[j + 1]) {
      assert_true(found < 8);
      peaks[found++] = shp_grid_time_ps(&s.g, j);
      /* Each peak is 1: neighbours 2.5 ps away add exp(-4 ln2 6.25^2). */
      assert_close(s.y[j], 1.0, 1e-12);
    }
  assert_int_equal(found, 5);
  /* Centred on 0, spaced 2.5 ps (multiples of dt: exact samples). */
  for (size_t m = 0; m < 5; m++)
    assert_close(peaks[m], ((double)m - 2.0) * spacing, dt / 100);
  /* The outermost half maxima span the train plus one pulse FWHM. */
  assert_close(shp_fwhm(s.y, FINE_N, dt), 4 * spacing + w, dt / 100);
  sampled_clear(&s);
  shp_target_free(t);
}

/* ---- file targets and weights ------------------------------------------- */

static void test_file_target_interpolates_the_csv(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "file.yml");
  assert_int_equal(t->shape, SHP_TARGET_FILE);
  assert_string_equal(t->file, "trace.csv");
  assert_int_equal(t->file_count, 5);
  /* dt = 1/64 ps: every time below is a sample. */
  sampled s;
  sample_ok(t, 4096, 64.0, &s);
  size_t mid = 2048;
  double step = 64.0 / 4096;
  /* Rows (-3, 0) (-1, 2) (0.5, 4) (2, 1) (3, 0); the peak 4 scales to 1. */
  const struct {
    double time, value;
  } at[] = {{-3.5, 0.0},
            {-3.0, 0.0},
            {-2.0, 1.0 / 4},
            {-1.0, 2.0 / 4},
            {0.0, (2.0 + 2.0 / 1.5) / 4},
            {0.5, 1.0},
            {1.25, 2.5 / 4},
            {2.0, 1.0 / 4},
            {2.5, 0.5 / 4},
            {3.5, 0.0}};
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
    size_t j = (size_t)((double)mid + at[i].time / step);
    assert_true(shp_grid_time_ps(&s.g, j) == at[i].time);
    assert_close(s.y[j], at[i].value, 1e-12);
  }
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_weight_window_gives_zero_and_one_weights(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "window.yml");
  assert_true(t->has_window);
  assert_true(t->window_start_ps == -2.0 && t->window_end_ps == 3.0);
  sampled s;
  sample_ok(t, 4096, 64.0, &s);
  size_t ones = 0;
  for (size_t j = 0; j < 4096; j++) {
    double time = shp_grid_time_ps(&s.g, j);
    double expected = time >= -2.0 && time <= 3.0 ? 1.0 : 0.0;
    assert_true(s.w[j] == expected);
    ones += s.w[j] == 1.0;
  }
  /* -2 to 3 ps inclusive at 1/64 ps: 5 * 64 + 1 samples. */
  assert_int_equal(ones, 321);
  sampled_clear(&s);
  shp_target_free(t);
}

static void test_target_wider_than_window_is_a_range_error(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "wide.yml");
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 32.0, 1030.0), SHP_OK);
  double *y = malloc(4096 * sizeof *y);
  assert_non_null(y);
  shp_error_clear();
  assert_int_equal(shp_target_sample(t, &g, y, NULL), SHP_ERR_RANGE);
  /* A flat-top spans its duration and two rise times past each edge. */
  assert_close(shp_target_span_ps(t), 44.0, 1e-12);
  assert_error_is(SHP_ERR_RANGE,
                  TARGETS "wide.yml: the target spans 44 ps, more than the "
                          "32 ps time window");
  free(y);
  shp_target_free(t);
}

/* A trace keeps its own time axis: 0 to 10 ps does not fit in a window from
 * -6 to 6 ps, although it is shorter than the window. */
static void test_file_target_off_centre_must_fit_the_window(void **state) {
  (void)state;
  shp_target *t = load_ok(TARGETS "late.yml");
  assert_close(shp_target_span_ps(t), 20.0, 1e-12);
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 1024, 12.0, 1030.0), SHP_OK);
  double y[1024];
  shp_error_clear();
  assert_int_equal(shp_target_sample(t, &g, y, NULL), SHP_ERR_RANGE);
  assert_error_is(SHP_ERR_RANGE,
                  TARGETS "late.yml: the target spans 20 ps, more than the "
                          "12 ps time window");
  shp_target_free(t);
}

static void test_span_holds_each_shape(void **state) {
  (void)state;
  /* Each span, centred, holds the shape down to 1e-6 of its peak. */
  const char *files[] = {"ramp.yml", "triangle.yml", "parabolic.yml",
                         "window.yml", "file.yml"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", TARGETS, files[i]);
    shp_target *t = load_ok(path);
    double span = shp_target_span_ps(t);
    sampled s;
    sample_ok(t, FINE_N, FINE_WINDOW, &s);
    for (size_t j = 0; j < FINE_N; j++)
      if (fabs(shp_grid_time_ps(&s.g, j)) > span / 2 && s.y[j] > 1e-6)
        fail_msg("%s: %g at %g ps, outside its span %g ps", files[i], s.y[j],
                 shp_grid_time_ps(&s.g, j), span);
    sampled_clear(&s);
    shp_target_free(t);
  }
}

/* ---- malformed files ---------------------------------------------------- */

typedef struct {
  const char *file;
  int code;
  const char *message; /* after "PATH:", exactly */
} bad_case;

static const bad_case bad_cases[] = {
    {"bad-unknown-shape.yml", SHP_ERR_PARSE,
     "2: shape: expected flat-top, ramp, triangle, parabolic, gaussian-train "
     "or file, got \"square\""},
    {"bad-key-for-shape.yml", SHP_ERR_PARSE,
     "5: count: does not apply to shape flat-top"},
    {"bad-rise-too-long.yml", SHP_ERR_RANGE,
     "4: rise_time_ps: must be >= 0 and shorter than duration_ps, got 5"},
    {"bad-ramp-rise.yml", SHP_ERR_RANGE,
     "4: rise_time_ps: must be >= 0 and shorter than half of duration_ps for "
     "a ramp, got 3"},
    {"bad-missing-duration.yml", SHP_ERR_PARSE,
     "2: duration_ps: missing required key"},
    {"bad-unknown-key.yml", SHP_ERR_PARSE, "4: fwhm_ps: unknown key"},
    {"bad-window.yml", SHP_ERR_PARSE,
     "4: weight_window_ps: expected [start, end] with start < end"},
    {"bad-train-count.yml", SHP_ERR_RANGE,
     "3: count: must be a whole number from 1 to 4096, got 2.5"},
    {"bad-empty.yml", SHP_ERR_PARSE, "1: the file is empty"},
    {"bad-ramp-direction.yml", SHP_ERR_PARSE,
     "4: direction: expected rising or falling, got \"down\""},
    {"bad-direction-for-shape.yml", SHP_ERR_PARSE,
     "4: direction: does not apply to shape triangle"},
    /* The CSV's own file and line follow the target file's. */
    {"bad-csv.yml", SHP_ERR_PARSE,
     "3: file: " TARGETS "trace-bad.csv:4: expected \"time_ps, intensity\""},
    {"bad-csv-order.yml", SHP_ERR_PARSE,
     "3: file: " TARGETS "trace-unordered.csv:3: time_ps: must increase"},
};

static void test_malformed_targets_name_file_line_and_key(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *c = &bad_cases[i];
    char path[PATH_MAX], expected[PATH_MAX + 512];
    snprintf(path, sizeof path, "%s%s", TARGETS, c->file);
    snprintf(expected, sizeof expected, "%s:%s", path, c->message);
    shp_error_clear();
    shp_target *t = shp_target_load(path);
    if (t != NULL) {
      shp_target_free(t);
      fail_msg("%s loaded", c->file);
    }
    assert_error_is(c->code, expected);
  }
}

static void test_missing_csv_is_an_io_error_naming_both_files(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_target_load(TARGETS "bad-missing-csv.yml"));
  char expected[PATH_MAX * 2];
  snprintf(expected, sizeof expected, "%s:3: file: %s: cannot open: %s",
           TARGETS "bad-missing-csv.yml", TARGETS "no-such-trace.csv",
           strerror(ENOENT));
  assert_error_is(SHP_ERR_FILE, expected);
}

static void test_target_yaml_syntax_error_names_file_and_line(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_target_load(TARGETS "bad-syntax.yml"));
  assert_int_equal(shp_error_last(), SHP_ERR_PARSE);
  const char *detail = shp_error_detail();
  const char *prefix = TARGETS "bad-syntax.yml:";
  assert_int_equal(strncmp(detail, prefix, strlen(prefix)), 0);
  /* The flow sequence opened on line 2 is still open at the end. */
  int line = atoi(detail + strlen(prefix));
  assert_in_range(line, 2, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flat_top_has_peak_one_and_fwhm_duration),
      cmocka_unit_test(test_flat_top_edges_rise_and_fall_in_rise_time),
      cmocka_unit_test(test_flat_top_plateau_lies_between_its_edges),
      cmocka_unit_test(test_ramp_has_fwhm_duration_and_falls_in_rise_time),
      cmocka_unit_test(test_falling_ramp_is_the_rising_one_mirrored),
      cmocka_unit_test(test_triangle_has_peak_one_and_fwhm_duration),
      cmocka_unit_test(test_parabolic_is_one_minus_t_over_T_squared),
      cmocka_unit_test(test_gaussian_train_has_count_peaks_at_the_spacing),
      cmocka_unit_test(test_file_target_interpolates_the_csv),
      cmocka_unit_test(test_weight_window_gives_zero_and_one_weights),
      cmocka_unit_test(test_target_wider_than_window_is_a_range_error),
      cmocka_unit_test(test_file_target_off_centre_must_fit_the_window),
      cmocka_unit_test(test_span_holds_each_shape),
      cmocka_unit_test(test_malformed_targets_name_file_line_and_key),
      cmocka_unit_test(test_missing_csv_is_an_io_error_naming_both_files),
      cmocka_unit_test(test_target_yaml_syntax_error_names_file_and_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
