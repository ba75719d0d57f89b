/* Unit tests of the tolerance analysis (shp/tolerance.h), the acceptance
 * thresholds of target files, and `shapectl tolerance` run as a user runs
 * it.
 *
 * Closed form used below: a retarder of retardance G at azimuth theta
 * between parallel polarizers transmits 1 - sin^2(2 theta) sin^2(G/2)
 * (Yariv and Yeh, Optical Waves in Crystals, Wiley 1984, section 5.1). A
 * plate thick enough that its o and e replicas of a short pulse do not
 * overlap averages sin^2(G/2) over the spectrum to 1/2, so
 *   T(theta) = 1 - sin^2(2 theta) / 2 = 3/4 + cos(4 theta) / 4,
 * the energies cos^4 + sin^4 of the two replicas. Its slope is
 * dT/dtheta = -sin(4 theta) per radian: -1 at 22.5 degrees, where the
 * curvature vanishes, and 0 at 45 degrees, where T = 3/4 - cos(4 e)/4 for an
 * error e, about 1/2 + 2 e^2.
 *
 * Statistical tolerances: the standard deviation estimated from N samples
 * has a relative standard error of 1/sqrt(2 (N - 1)), 1.1 % for N = 4000; a
 * mean of N samples of 2 e^2 (e ~ N(0, s^2)) has a relative standard error
 * of sqrt(2/N), 2.2 %. Checks allow 6 %, over four standard errors, so they
 * fail for a wrong model and not for an unlucky seed (the seed is fixed
 * anyway). */
#include "shp/error.h"
#include "shp/planning.h"
#include "shp/problem.h"
#include "shp/simulation.h"
#include "shp/stack.h"
#include "shp/target.h"
#include "shp/tolerance.h"

#include "alloc_count.h"
#include "spawn_run.h"

#include <jansson.h>
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

#define DATA SHP_TEST_DATADIR "/tolerance/"
#define FAN4 SHP_EXAMPLES_DIR "/stacks/fan4.yml"
#define FLAT_TOP_5PS SHP_EXAMPLES_DIR "/targets/flat-top-5ps.yml"
#define PI 3.14159265358979323846

/* ---- helpers ------------------------------------------------------------ */

#define assert_close(a, b, tol)                                                \
  assert_close_at((a), (b), (tol), __FILE__, __LINE__)

static void assert_close_at(double a, double b, double tol, const char *file,
                            int line) {
  if (!(fabs(a - b) <= tol)) {
    print_error("%.17g differs from %.17g by %.3g, more than %.3g\n", a, b,
                fabs(a - b), tol);
    _fail(file, line);
  }
}

static shp_stack *load_stack(const char *path) {
  shp_stack *s = shp_stack_load(path);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  return s;
}

static shp_target *load_target(const char *path) {
  shp_target *t = shp_target_load(path);
  if (t == NULL)
    fail_msg("%s", shp_error_detail());
  return t;
}

static shp_tolerance_result *run_ok(const shp_tolerance_spec *spec) {
  shp_tolerance_result *r = shp_tolerance_run(spec);
  if (r == NULL)
    fail_msg("%s", shp_error_detail());
  return r;
}

static double sample_mean(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

static double sample_sd(const double *v, size_t n) {
  double m = sample_mean(v, n), s = 0;
  for (size_t i = 0; i < n; i++)
    s += (v[i] - m) * (v[i] - m);
  return sqrt(s / (double)(n - 1));
}

/* One 10 mm alpha-BBO plate (4 ps o/e delay at 1030 nm) at azimuth_deg
 * between parallel polarizers along x, for a 0.3 ps pulse: replicas 13
 * widths apart, so the closed form at the top applies. */
static shp_stack *one_plate(double azimuth_deg) {
  shp_stack *s = shp_stack_new("one plate", 1030.0, 0.3);
  assert_non_null(s);
  if (shp_stack_add_crystal(s, "alpha-BBO", 10.0, azimuth_deg, 40.0) != 0)
    fail_msg("%s", shp_error_detail());
  s->has_input_polarizer = true;
  s->input_polarizer_deg = 0.0;
  s->has_output_polarizer = true;
  s->output_polarizer_deg = 0.0;
  return s;
}

static shp_target flat_top(double duration_ps, double rise_ps) {
  return (shp_target){.shape = SHP_TARGET_FLAT_TOP,
                      .duration_ps = duration_ps,
                      .rise_time_ps = rise_ps};
}

static size_t param_index(const shp_tolerance_result *r, const char *name) {
  for (size_t j = 0; j < r->param_count; j++)
    if (strcmp(r->params[j].name, name) == 0)
      return j;
  fail_msg("no parameter %s", name);
  return 0;
}

/* ---- Monte Carlo against the nominal stack ------------------------------ */

static void
test_zero_sigmas_give_the_nominal_metrics_in_every_sample(void **state) {
  (void)state;
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  t.has_max_error = true;
  t.max_error = 1.0; /* met */
  shp_tolerance_spec spec = {
      .stack = s, .target = &t, .samples = 64, .seed = 7, .threads = 2};
  shp_tolerance_result *r = run_ok(&spec);
  assert_int_equal(r->failed, 0);
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    assert_true(isfinite(r->nominal[m]));
    for (size_t i = 0; i < r->samples; i++)
      assert_close(r->values[m][i], r->nominal[m], 1e-12);
    assert_close(r->stats[m].p5, r->nominal[m], 1e-12);
    assert_close(r->stats[m].p95, r->nominal[m], 1e-12);
    assert_close(r->stats[m].mean, r->nominal[m], 1e-12);
    assert_int_equal(r->stats[m].count, 64);
  }
  assert_true(r->has_yield);
  assert_true(r->nominal_passes);
  assert_close(r->yield, 1.0, 0.0);
  assert_int_equal(r->ranked_count, 0);
  /* A threshold the nominal stack misses: no sample meets it. */
  t.max_error = 0.5 * r->nominal[SHP_TOL_ERROR];
  shp_tolerance_result_free(r);
  r = run_ok(&spec);
  assert_true(r->has_yield);
  assert_false(r->nominal_passes);
  assert_close(r->yield, 0.0, 0.0);
  /* Without thresholds there is no yield. */
  t.has_max_error = false;
  shp_tolerance_result_free(r);
  r = run_ok(&spec);
  assert_false(r->has_yield);
  assert_true(isnan(r->yield));
  shp_tolerance_result_free(r);
  shp_stack_free(s);
}

static void
test_same_seed_gives_the_same_samples_on_any_thread_count(void **state) {
  (void)state;
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  shp_tolerance_spec spec = {
      .stack = s,
      .target = &t,
      .samples = 301, /* not a multiple of the chunk a worker takes */
      .sigma = {.azimuth_deg = 0.3, .length_um = 0.3, .temperature_k = 0.3},
      .seed = 42,
      .threads = 1};
  shp_tolerance_result *one = run_ok(&spec);
  spec.threads = 2;
  shp_tolerance_result *two = run_ok(&spec);
  spec.threads = 3;
  shp_tolerance_result *three = run_ok(&spec);
  assert_int_equal(one->threads, 1);
  assert_int_equal(two->threads, 2);
  assert_int_equal(three->threads, 3);
  size_t bytes = spec.samples * sizeof(double);
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    assert_memory_equal(one->values[m], two->values[m], bytes);
    assert_memory_equal(one->values[m], three->values[m], bytes);
    assert_memory_equal(&one->stats[m], &two->stats[m], sizeof one->stats[m]);
  }
  /* Another seed draws other errors: (almost) every sample differs. */
  spec.seed = 43;
  shp_tolerance_result *other = run_ok(&spec);
  size_t same = 0;
  for (size_t i = 0; i < spec.samples; i++)
    same += other->values[SHP_TOL_ERROR][i] == one->values[SHP_TOL_ERROR][i];
  assert_true(same <= 1);
  assert_true(other->stats[SHP_TOL_ERROR].p50 != one->stats[SHP_TOL_ERROR].p50);
  shp_tolerance_result_free(one);
  shp_tolerance_result_free(two);
  shp_tolerance_result_free(three);
  shp_tolerance_result_free(other);
  shp_stack_free(s);
}

/* A sample's draws do not depend on the sigmas, so a run with twice the
 * sigma moves every sample's metrics twice as far, to first order: checked
 * sample by sample where the closed form is linear (22.5 degrees). */
static void
test_doubling_a_small_sigma_doubles_the_metric_changes(void **state) {
  (void)state;
  shp_stack *s = one_plate(22.5);
  shp_target t = flat_top(4.0, 0.5);
  shp_tolerance_spec spec = {.stack = s,
                             .target = &t,
                             .samples = 200,
                             .sigma = {.azimuth_deg = 0.01},
                             .seed = 3};
  shp_tolerance_result *a = run_ok(&spec);
  spec.sigma.azimuth_deg = 0.02;
  shp_tolerance_result *b = run_ok(&spec);
  double t0 = a->nominal[SHP_TOL_TRANSMISSION];
  for (size_t i = 0; i < spec.samples; i++) {
    double da = a->values[SHP_TOL_TRANSMISSION][i] - t0;
    double db = b->values[SHP_TOL_TRANSMISSION][i] - t0;
    /* T = 3/4 - sin(4 e)/4: the ratio is 2 up to (4 e)^2 / 2 ~ 3e-6. */
    assert_close(db, 2 * da, 1e-5 * fabs(da) + 1e-12);
  }
  shp_tolerance_result_free(a);
  shp_tolerance_result_free(b);
  shp_stack_free(s);
}

/* ---- closed forms ------------------------------------------------------- */

static void
test_one_plate_at_22_5_deg_spreads_as_its_jacobian_predicts(void **state) {
  (void)state;
  const double sigma = 0.2; /* degrees */
  shp_stack *s = one_plate(22.5);
  shp_target t = flat_top(4.0, 0.5);
  shp_tolerance_spec spec = {.stack = s,
                             .target = &t,
                             .samples = 4000,
                             .sigma = {.azimuth_deg = sigma},
                             .seed = 11};
  shp_tolerance_result *r = run_ok(&spec);
  assert_int_equal(r->failed, 0);
  /* The closed form: T = 3/4, dT/dtheta = -1 per radian. The overlap of
   * replicas 13 widths apart is below 1e-30; 1e-9 allows the FFT's
   * rounding. */
  assert_close(r->nominal[SHP_TOL_TRANSMISSION], 0.75, 1e-9);
  size_t az = param_index(r, "crystals[0].azimuth_deg");
  double j_t = r->jacobian[SHP_TOL_TRANSMISSION * r->param_count + az];
  double expected = -sigma * PI / 180.0;
  /* Central difference with a 1e-3 degree step: truncation h^2 T'''/6 is
   * 1e-12 relative here. */
  assert_close(j_t, expected, 1e-6 * fabs(expected));
  /* No curvature at 22.5 degrees: (1 - cos(4 s)) cos(4 theta) / 4 = 0. */
  assert_close(r->curvature[SHP_TOL_TRANSMISSION * r->param_count + az], 0.0,
               1e-9);
  /* The linearised spread against the samples'. */
  double sd = sample_sd(r->values[SHP_TOL_TRANSMISSION], r->samples);
  assert_close(sd, fabs(j_t), 0.06 * fabs(j_t));
  /* Median at the nominal value, percentiles at -+1.645 sigma. */
  assert_close(r->stats[SHP_TOL_TRANSMISSION].p50, 0.75, 0.06 * fabs(j_t));
  assert_close(r->stats[SHP_TOL_TRANSMISSION].p95 -
                   r->stats[SHP_TOL_TRANSMISSION].p5,
               2 * 1.6449 * fabs(j_t), 0.06 * 2 * 1.6449 * fabs(j_t));
  shp_tolerance_result_free(r);
  shp_stack_free(s);
}

/* The Jacobian's azimuth column against a central difference of full
 * simulations (shp_simulate, another path through the code). */
static void
test_azimuth_column_matches_a_difference_of_simulations(void **state) {
  (void)state;
  const double sigma = 0.5, h = 1e-3; /* degrees */
  shp_target t = flat_top(4.0, 0.5);
  shp_stack *s = one_plate(30.0);
  shp_tolerance_spec spec = {
      .stack = s, .target = &t, .samples = 1, .sigma = {.azimuth_deg = sigma}};
  shp_tolerance_result *r = run_ok(&spec);
  double sim[2];
  for (int k = 0; k < 2; k++) {
    shp_stack *p = one_plate(30.0 + (k ? -h : h));
    shp_simulation *out = shp_simulate(p, &t, false);
    if (out == NULL)
      fail_msg("%s", shp_error_detail());
    sim[k] = out->metrics.transmission;
    shp_simulation_free(out);
    shp_stack_free(p);
  }
  double fd = (sim[0] - sim[1]) / (2 * h) * sigma;
  size_t az = param_index(r, "crystals[0].azimuth_deg");
  double j_t = r->jacobian[SHP_TOL_TRANSMISSION * r->param_count + az];
  /* Both are differences of 1e-3 degree steps on grids that may differ;
   * the closed form, -sin(120 deg) sigma pi/180, holds both to 1e-6. */
  assert_close(j_t, fd, 1e-6 * fabs(fd));
  assert_close(j_t, -sin(4 * 30.0 * PI / 180) * sigma * PI / 180,
               1e-6 * fabs(fd));
  shp_tolerance_result_free(r);
  shp_stack_free(s);
}

/* At 45 degrees the slope is zero but the errors still matter: the second
 * order term predicts the spread and the shift of the mean. */
static void test_one_plate_at_45_deg_is_ranked_by_its_curvature(void **state) {
  (void)state;
  const double sigma = 0.5, e = sigma * PI / 180;
  shp_stack *s = one_plate(45.0);
  shp_target t = flat_top(4.0, 0.5);
  shp_tolerance_spec spec = {.stack = s,
                             .target = &t,
                             .samples = 4000,
                             .sigma = {.azimuth_deg = sigma},
                             .seed = 5};
  shp_tolerance_result *r = run_ok(&spec);
  size_t np = r->param_count, az = param_index(r, "crystals[0].azimuth_deg");
  assert_close(r->nominal[SHP_TOL_TRANSMISSION], 0.5, 1e-9);
  assert_close(r->jacobian[SHP_TOL_TRANSMISSION * np + az], 0.0, 1e-9);
  double b = r->curvature[SHP_TOL_TRANSMISSION * np + az];
  assert_close(b, (1 - cos(4 * e)) / 4, 1e-9);
  /* T - T0 = 2 e^2 has mean 2 s^2 and standard deviation 2 sqrt(2) s^2. */
  const double *v = r->values[SHP_TOL_TRANSMISSION];
  assert_close(sample_mean(v, r->samples) - 0.5, b, 0.06 * b);
  assert_close(sample_sd(v, r->samples), sqrt(2) * b, 0.06 * sqrt(2) * b);
  /* The effect counts it, though the Jacobian column is zero. */
  assert_true(r->params[az].effect >= sqrt(2) * fabs(b));
  assert_int_equal(r->ranking[0], az);
  shp_tolerance_result_free(r);
  shp_stack_free(s);
}

/* ---- ranking and SVD ---------------------------------------------------- */

static void
test_the_crystal_with_the_largest_azimuth_error_ranks_first(void **state) {
  (void)state;
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  shp_tolerance_sigma per[4];
  for (int c = 0; c < 4; c++)
    per[c] = (shp_tolerance_sigma){.azimuth_deg = c == 2 ? 1.0 : 0.02};
  shp_tolerance_spec spec = {
      .stack = s, .target = &t, .samples = 16, .crystal_sigma = per};
  shp_tolerance_result *r = run_ok(&spec);
  assert_int_equal(r->param_count, 12);
  assert_int_equal(r->ranked_count, 4); /* lengths, temperatures: sigma 0 */
  size_t first = r->ranking[0];
  assert_string_equal(r->params[first].name, "crystals[2].azimuth_deg");
  assert_close(r->params[first].sigma, 1.0, 0.0);
  for (size_t k = 1; k < r->ranked_count; k++)
    assert_true(r->params[r->ranking[k - 1]].effect >=
                r->params[r->ranking[k]].effect);
  /* The first singular direction is mostly that crystal's azimuth, and the
   * singular values are the SVD's: sum s_k^2 = |J|_F^2. */
  assert_true(r->sv_count >= 1);
  size_t np = r->param_count;
  assert_true(r->right[first] > 0.9);
  double frob = 0, sv2 = 0;
  for (size_t q = 0; q < SHP_TOL_METRICS * np; q++)
    frob += r->jacobian[q] * r->jacobian[q];
  for (size_t k = 0; k < r->sv_count; k++) {
    sv2 += r->singular_values[k] * r->singular_values[k];
    if (k > 0)
      assert_true(r->singular_values[k - 1] >= r->singular_values[k]);
  }
  assert_close(sv2, frob, 1e-12 * frob);
  shp_tolerance_result_free(r);
  shp_stack_free(s);
}

/* ---- contracts ---------------------------------------------------------- */

/* A sample adds no allocation to the evaluation it runs. The evaluation
 * itself (shp_problem_metrics) should allocate nothing either, but FFTW's
 * execute of the propagator's batched plan allocates a scratch block on
 * some grid sizes (this stack's 600 points among them), which is the
 * optics library's to fix; so the count per sample is held to the count
 * per evaluation, measured here. */
static void test_samples_allocate_nothing_beyond_the_evaluation(void **state) {
  (void)state;
  if (!alloc_count_enabled())
    skip();
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  shp_problem_spec ps = {.stack = s,
                         .target = &t,
                         .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH |
                                 SHP_VARY_LENGTH,
                         .temperature_min_c = NAN,
                         .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&ps);
  assert_non_null(p);
  double x[12];
  shp_problem_start(p, x);
  shp_metrics m;
  assert_int_equal(shp_problem_metrics(p, x, &m), SHP_OK);
  size_t before = alloc_count();
  for (int k = 0; k < 10; k++) {
    x[1] += 0.01;
    assert_int_equal(shp_problem_metrics(p, x, &m), SHP_OK);
  }
  size_t per_eval = (alloc_count() - before) / 10;
  shp_problem_free(p);

  shp_tolerance_spec spec = {
      .stack = s,
      .target = &t,
      .samples = 32,
      .sigma = {.azimuth_deg = 0.1, .length_um = 0.1, .temperature_k = 0.1},
      .threads = 2};
  shp_tolerance_result_free(run_ok(&spec)); /* warm up: plans, threads */
  before = alloc_count();
  shp_tolerance_result_free(run_ok(&spec));
  size_t few = alloc_count() - before;
  spec.samples = 640;
  before = alloc_count();
  shp_tolerance_result_free(run_ok(&spec));
  size_t many = alloc_count() - before;
  assert_int_equal(many - few, (640 - 32) * per_eval);
  shp_stack_free(s);
}

typedef struct {
  size_t calls, last, total;
  bool monotonic;
} progress_log;

static void log_progress(size_t done, size_t total, void *user) {
  progress_log *p = user;
  p->monotonic = p->monotonic && done >= p->last && done <= total;
  p->calls++;
  p->last = done;
  p->total = total;
}

static void test_progress_ends_with_every_sample_done(void **state) {
  (void)state;
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  progress_log log = {.monotonic = true};
  shp_tolerance_spec spec = {.stack = s,
                             .target = &t,
                             .samples = 100,
                             .sigma = {.azimuth_deg = 0.1},
                             .progress = log_progress,
                             .progress_user = &log};
  shp_tolerance_result_free(run_ok(&spec));
  assert_true(log.calls >= 1);
  assert_true(log.monotonic);
  assert_int_equal(log.last, 100);
  assert_int_equal(log.total, 100);
  shp_stack_free(s);
}

static void test_bad_specs_are_refused_naming_what_is_wrong(void **state) {
  (void)state;
  shp_stack *s = load_stack(FAN4);
  shp_target t = flat_top(5.0, 1.0);
  shp_tolerance_spec spec = {.stack = s, .target = &t, .samples = 0};
  assert_null(shp_tolerance_run(&spec));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(),
                      "tolerance: at least one sample is needed");
  spec.samples = 10;
  spec.sigma.length_um = -1;
  assert_null(shp_tolerance_run(&spec));
  assert_string_equal(shp_error_detail(),
                      "tolerance: the sigma length_um: must be finite and >= "
                      "0, got -1");
  spec.sigma.length_um = 0;
  shp_tolerance_sigma per[4] = {{0}};
  per[3].temperature_k = NAN;
  spec.crystal_sigma = per;
  assert_null(shp_tolerance_run(&spec));
  assert_string_equal(shp_error_detail(),
                      "tolerance: crystals[3] sigma temperature_k: must be "
                      "finite and >= 0, got nan");
  spec.target = NULL;
  assert_null(shp_tolerance_run(&spec));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  shp_tolerance_result_free(NULL);
  shp_stack_free(s);
}

/* ---- thresholds in target files ----------------------------------------- */

static void test_target_thresholds_are_read_and_optional(void **state) {
  (void)state;
  shp_target *t = load_target(DATA "thresholds.yml");
  assert_true(t->has_max_error && t->has_max_ripple && t->has_min_transmission);
  assert_close(t->max_error, 0.3, 0.0);
  assert_close(t->max_ripple, 0.5, 0.0);
  assert_close(t->min_transmission, 0.35, 0.0);
  shp_target_free(t);
  t = load_target(DATA "train-transmission.yml");
  assert_false(t->has_max_error || t->has_max_ripple);
  assert_true(t->has_min_transmission);
  assert_close(t->min_transmission, 1.0, 0.0); /* (0, 1] includes 1 */
  shp_target_free(t);
  t = load_target(FLAT_TOP_5PS);
  assert_false(t->has_max_error || t->has_max_ripple ||
               t->has_min_transmission);
  shp_target_free(t);
}

static void test_bad_thresholds_name_file_line_and_key(void **state) {
  (void)state;
  static const struct {
    const char *file;
    int code;
    const char *message;
  } cases[] = {
      {"bad-max-error.yml", SHP_ERR_RANGE, "2: max_error: must be > 0, got 0"},
      {"bad-max-ripple.yml", SHP_ERR_RANGE,
       "3: max_ripple: must be > 0, got -0.1"},
      {"bad-min-transmission.yml", SHP_ERR_RANGE,
       "4: min_transmission: must be in (0, 1], got 1.5"},
      {"bad-min-transmission-text.yml", SHP_ERR_PARSE,
       "4: min_transmission: expected a number, got the quoted string "
       "\"0.5\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[PATH_MAX], expected[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s%s", DATA, cases[i].file);
    snprintf(expected, sizeof expected, "%s:%s", path, cases[i].message);
    shp_error_clear();
    shp_target *t = shp_target_load(path);
    if (t != NULL) {
      shp_target_free(t);
      fail_msg("%s loaded", cases[i].file);
    }
    assert_int_equal(shp_error_last(), cases[i].code);
    assert_string_equal(shp_error_detail(), expected);
  }
}

/* ---- shapectl tolerance ------------------------------------------------- */

/* Run shapectl with args (NULL-terminated) in this process's environment. */
#define cli(...)                                                               \
  spawn_run(SHAPECTL_PATH, NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})

static json_t *member(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (v == NULL)
    fail_msg("no \"%s\" in the JSON", key);
  return v;
}

static void test_cli_json_has_every_documented_key(void **state) {
  (void)state;
  spawn_result r = cli("tolerance", FAN4, "--target", DATA "thresholds.yml",
                       "--samples", "200", "--sigma-azimuth-deg", "0.2",
                       "--sigma-length-um", "0.1", "--sigma-temperature-k",
                       "0.1", "--seed", "5", "--threads", "2", "--json");
  assert_int_equal(r.status, 0);
  json_error_t e;
  json_t *j = json_loads(r.out, 0, &e);
  if (j == NULL)
    fail_msg("stdout is not JSON: %s", e.text);
  assert_int_equal(json_integer_value(member(j, "samples")), 200);
  assert_int_equal(json_integer_value(member(j, "threads")), 2);
  json_t *pct = member(j, "percentiles");
  static const char *const metrics[] = {"error", "ripple", "transmission"};
  for (int m = 0; m < 3; m++) {
    json_t *p = member(pct, metrics[m]);
    double p5 = json_number_value(member(p, "p5"));
    double p50 = json_number_value(member(p, "p50"));
    double p95 = json_number_value(member(p, "p95"));
    assert_true(json_is_number(member(p, "mean")));
    assert_true(p5 <= p50 && p50 <= p95);
  }
  double y = json_number_value(member(j, "yield"));
  assert_true(json_is_number(member(j, "yield")) && y >= 0 && y <= 1);
  json_t *th = member(j, "thresholds");
  assert_close(json_number_value(member(th, "max_error")), 0.3, 0.0);
  assert_close(json_number_value(member(th, "min_transmission")), 0.35, 0.0);
  json_t *ranking = member(j, "ranking");
  assert_int_equal(json_array_size(ranking), 12);
  json_t *top = json_array_get(ranking, 0);
  assert_true(json_is_string(member(top, "name")));
  assert_true(json_number_value(member(top, "effect")) > 0);
  assert_true(json_array_size(member(j, "singular_values")) == 3);
  assert_true(json_number_value(member(j, "wall_time_s")) > 0);
  json_decref(j);
  spawn_result_free(&r);
  /* A target without thresholds: yield null, and said so in the text. */
  r = cli("tolerance", FAN4, "--target", FLAT_TOP_5PS, "--samples", "20",
          "--sigma-azimuth-deg", "0.2", "--json");
  assert_int_equal(r.status, 0);
  j = json_loads(r.out, 0, &e);
  assert_non_null(j);
  assert_true(json_is_null(member(j, "yield")));
  assert_true(json_is_null(member(member(j, "thresholds"), "max_error")));
  json_decref(j);
  spawn_result_free(&r);
  r = cli("tolerance", FAN4, "--target", FLAT_TOP_5PS, "--samples", "20",
          "--sigma-azimuth-deg", "0.2");
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "no yield: the target gives no thresholds"));
  assert_non_null(strstr(r.out, "crystals["));
  spawn_result_free(&r);
}

static void test_cli_bad_options_and_files_exit_2_naming_them(void **state) {
  (void)state;
  static const struct {
    const char *option, *value, *message;
  } bad[] = {
      {"--samples", "0", "--samples: must be >= 1"},
      {"--samples", "many", "--samples: expected a whole number"},
      {"--sigma-azimuth-deg", "-0.1", "--sigma-azimuth-deg: must be >= 0"},
      {"--sigma-length-um", "nan", "--sigma-length-um: expected a finite"},
      {"--sigma-temperature-k", "inf",
       "--sigma-temperature-k: expected a finite"},
      {"--threads", "0", "--threads: must be >= 1"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    spawn_result r = cli("tolerance", FAN4, "--target", FLAT_TOP_5PS,
                         bad[i].option, bad[i].value);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    if (strstr(r.err, bad[i].message) == NULL)
      fail_msg("\"%s\" not in: %s", bad[i].message, r.err);
    spawn_result_free(&r);
  }
  spawn_result r = cli("tolerance", FAN4);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "--target"));
  spawn_result_free(&r);
  r = cli("tolerance", SHP_TEST_DATADIR "/cli/bad-second-length.yml",
          "--target", FLAT_TOP_5PS);
  assert_int_equal(r.status, 2);
  assert_non_null(
      strstr(r.err, SHP_TEST_DATADIR "/cli/bad-second-length.yml:"));
  assert_non_null(strstr(r.err, "crystals[1].length_mm"));
  spawn_result_free(&r);
  r = cli("tolerance", FAN4, "--target", DATA "bad-min-transmission.yml");
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, DATA "bad-min-transmission.yml:4: "
                                     "min_transmission: must be in (0, 1]"));
  spawn_result_free(&r);
  r = cli("tolerance", "--help");
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "usage: shapectl tolerance"));
  spawn_result_free(&r);
}

int main(void) {
  /* No gsl_set_error_handler_off(): the library turns GSL's aborting
   * handler off itself. */
  /* Measured plans change results only at the rounding level, far below
   * every tolerance here, and cost a second per new size. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  setenv("SHP_FFTW_ESTIMATE", "1", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_zero_sigmas_give_the_nominal_metrics_in_every_sample),
      cmocka_unit_test(
          test_same_seed_gives_the_same_samples_on_any_thread_count),
      cmocka_unit_test(test_doubling_a_small_sigma_doubles_the_metric_changes),
      cmocka_unit_test(
          test_one_plate_at_22_5_deg_spreads_as_its_jacobian_predicts),
      cmocka_unit_test(test_azimuth_column_matches_a_difference_of_simulations),
      cmocka_unit_test(test_one_plate_at_45_deg_is_ranked_by_its_curvature),
      cmocka_unit_test(
          test_the_crystal_with_the_largest_azimuth_error_ranks_first),
      cmocka_unit_test(test_samples_allocate_nothing_beyond_the_evaluation),
      cmocka_unit_test(test_progress_ends_with_every_sample_done),
      cmocka_unit_test(test_bad_specs_are_refused_naming_what_is_wrong),
      cmocka_unit_test(test_target_thresholds_are_read_and_optional),
      cmocka_unit_test(test_bad_thresholds_name_file_line_and_key),
      cmocka_unit_test(test_cli_json_has_every_documented_key),
      cmocka_unit_test(test_cli_bad_options_and_files_exit_2_naming_them),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
