/* Numerical failures are results, never a dead process, and no fixed buffer
 * meets a variable count: the optimizer with an objective that turns NaN or
 * infinite (at its start and in the middle of a simplex), the
 * autocorrelation fit with a trace whose residual cannot be finite, and a
 * search of more than 40 variables (the quasi-random starts' old fixed
 * buffer).
 *
 * This program never turns GSL's error handler off itself: GSL's default
 * handler aborts the process, so every test here would die on a library
 * that relied on its caller to turn it off. The libraries must do it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../shaper/src/optimize-private.h"

#include "shp/error.h"
#include "shp/fit.h"
#include "shp/generate.h"
#include "shp/optimize.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLES SHP_SOURCE_DATADIR "/examples"

typedef struct {
  shp_stack *stack;
  shp_target *target;
  shp_problem *problem;
} setup;

static setup load(const char *stack, unsigned vary) {
  setup s = {shp_stack_load(stack),
             shp_target_load(EXAMPLES "/targets/flat-top-5ps.yml"), NULL};
  assert_non_null(s.stack);
  assert_non_null(s.target);
  shp_problem_spec spec = {.stack = s.stack,
                           .target = s.target,
                           .vary = vary,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  s.problem = shp_problem_new(&spec);
  assert_non_null(s.problem);
  return s;
}

static void unload(setup *s) {
  shp_problem_free(s->problem);
  shp_stack_free(s->stack);
  shp_target_free(s->target);
}

/* Iterate to the end; the code it ended with. */
static int run_to_end(shp_search *s, size_t *iterations) {
  int rc;
  size_t n = 0;
  while ((rc = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE)
    n++;
  if (iterations != NULL)
    *iterations = n;
  return rc;
}

/* An objective that is a smooth bowl for its first `finite_calls` calls and
 * `bad` after: GSL's simplex meets it while reflecting and contracting. */
typedef struct {
  size_t calls, finite_calls;
  double bad;
} turning;

static double turning_objective(void *user, const double *x) {
  turning *t = user;
  t->calls++;
  return t->calls <= t->finite_calls ? x[0] * x[0] + x[1] * x[1] : t->bad;
}

/* ---- the handler -------------------------------------------------------- */

/* Making a search turns GSL's aborting default handler off (the program
 * did not). */
static void test_the_library_turns_the_gsl_handler_off(void **state) {
  setup s = load(EXAMPLES "/stacks/fan4.yml", SHP_VARY_TEMPERATURE);
  shp_search *search = shp_search_new(s.problem, NULL);
  assert_non_null(search);
  gsl_error_handler_t *now = gsl_set_error_handler(NULL);
  assert_non_null(now); /* NULL is GSL's default, which aborts */
  gsl_set_error_handler(now);
  shp_search_free(search);
  unload(&s);
}

/* ---- non-finite objectives ---------------------------------------------- */

/* An objective that is NaN from the first call (a model that cannot
 * describe the stack at all): the first start says so, naming the point,
 * before any step, and the search stays failed. With the simplex and with
 * BFGS, which meet it in their set-up. */
static void test_objective_not_finite_at_the_start_is_an_error(void **state) {
  const shp_local_type *types[] = {shp_local_simplex, shp_local_bfgs};
  for (size_t k = 0; k < 2; k++) {
    setup s = load(EXAMPLES "/stacks/fan4.yml", SHP_VARY_POLARIZER);
    shp_search_opts o = {.local = types[k], .starts = 4, .seed = 1};
    shp_search *search = shp_search_new(s.problem, &o);
    assert_non_null(search);
    turning t = {.finite_calls = 0, .bad = NAN};
    shp_search_set_objective(search, turning_objective, &t);
    size_t iterations;
    assert_int_equal(run_to_end(search, &iterations), SHP_ERR_NUMERIC);
    assert_int_equal(iterations, 0);
    assert_string_equal(shp_error_detail(),
                        "optimize: the objective is not finite at start 1 of "
                        "4: input_polarizer_deg = 0, output_polarizer_deg = "
                        "0");
    /* Failed stays failed. */
    assert_int_equal(shp_search_iterate(search), SHP_ERR_NUMERIC);
    assert_false(isfinite(shp_search_best(search, NULL)));
    shp_search_free(search);
    unload(&s);
  }
}

/* The objective turns NaN, then +inf, in the middle of the simplex runs (a
 * simplex of 3 vertices set at calls 1-3, then reflections and
 * contractions): SHP_ERR_NUMERIC naming the run and the point. */
static void
test_objective_turning_non_finite_mid_run_is_an_error(void **state) {
  const double bad[] = {NAN, INFINITY, -INFINITY};
  for (size_t k = 0; k < 3; k++) {
    setup s = load(EXAMPLES "/stacks/fan4.yml", SHP_VARY_POLARIZER);
    assert_int_equal(shp_problem_size(s.problem), 2);
    shp_search_opts o = {.starts = 4, .seed = 1, .explore_iterations = 10};
    shp_search *search = shp_search_new(s.problem, &o);
    assert_non_null(search);
    /* Start 1 takes 3 calls to set and one or two a step: call 40 falls in
     * a later start's run. */
    turning t = {.finite_calls = 40, .bad = bad[k]};
    shp_search_set_objective(search, turning_objective, &t);
    size_t iterations;
    assert_int_equal(run_to_end(search, &iterations), SHP_ERR_NUMERIC);
    assert_true(iterations >= 10); /* start 1 ran its 10 steps */
    size_t calls = t.calls;        /* GSL ends the step it was in */
    const char *detail = shp_error_detail();
    assert_non_null(strstr(detail, "optimize: the objective is not finite at "
                                   "start "));
    assert_non_null(strstr(detail, " of 4: input_polarizer_deg = "));
    assert_non_null(strstr(detail, ", output_polarizer_deg = "));
    assert_int_equal(shp_search_iterate(search), SHP_ERR_NUMERIC);
    assert_int_equal(t.calls, calls); /* and nothing runs after it */
    shp_search_free(search);
    unload(&s);
  }
}

/* A failure while polishing names the polishing run: two starts of one
 * step each take 10 to 16 calls (3 to set a simplex, 1 to 4 a step, 1 to
 * read its end), so call 17 falls in the first polishing run. */
static void test_failure_while_polishing_names_the_run(void **state) {
  setup s = load(EXAMPLES "/stacks/fan4.yml", SHP_VARY_POLARIZER);
  shp_search_opts o = {
      .starts = 2, .seed = 1, .explore_iterations = 1, .polish = 2};
  shp_search *search = shp_search_new(s.problem, &o);
  assert_non_null(search);
  turning t = {.finite_calls = 16, .bad = INFINITY};
  shp_search_set_objective(search, turning_objective, &t);
  assert_int_equal(run_to_end(search, NULL), SHP_ERR_NUMERIC);
  const char *want = "optimize: the objective is not finite at polishing run "
                     "1 of 2: input_polarizer_deg = ";
  assert_memory_equal(shp_error_detail(), want, strlen(want));
  shp_search_free(search);
  unload(&s);
}

/* A simplex whose contraction finds only NaN (every call after its set):
 * GSL's "contraction failed" aborts by default; here it is an error of the
 * first run. */
static void test_simplex_that_cannot_contract_is_an_error(void **state) {
  setup s = load(EXAMPLES "/stacks/fan4.yml", SHP_VARY_POLARIZER);
  shp_search_opts o = {.starts = 2, .seed = 3};
  shp_search *search = shp_search_new(s.problem, &o);
  assert_non_null(search);
  turning t = {.finite_calls = 3, .bad = NAN};
  shp_search_set_objective(search, turning_objective, &t);
  size_t iterations;
  assert_int_equal(run_to_end(search, &iterations), SHP_ERR_NUMERIC);
  assert_int_equal(iterations, 0);
  const char *want = "optimize: the objective is not finite at start 1 of 2: "
                     "input_polarizer_deg = ";
  assert_memory_equal(shp_error_detail(), want, strlen(want));
  shp_search_free(search);
  unload(&s);
}

/* ---- more variables than a fixed buffer held ----------------------------- */

/* 34 plates with temperature, azimuth and length vary: 102 variables, past
 * the 40 a fixed buffer of quasi-random values held (and Sobol's 40
 * dimensions). Short runs keep it quick; the result must be finite, inside
 * the bounds and the same for the same seed. */
static void test_a_search_of_102_variables_runs(void **state) {
  shp_stack *stack =
      shp_generate_solc(SHP_SOLC_FAN, 34, "alpha-BBO", 0.3, 1030, 1.0, 40);
  assert_non_null(stack);
  shp_target *target = shp_target_load(EXAMPLES "/targets/flat-top-5ps.yml");
  assert_non_null(target);
  shp_problem_spec spec = {.stack = stack,
                           .target = target,
                           .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH |
                                   SHP_VARY_LENGTH,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&spec);
  assert_non_null(p);
  size_t n = shp_problem_size(p);
  assert_int_equal(n, 102);
  double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
  double *lo = calloc(n, sizeof *lo), *hi = calloc(n, sizeof *hi);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(lo);
  assert_non_null(hi);
  shp_problem_bounds(p, lo, hi);
  double f[2];
  for (int run = 0; run < 2; run++) {
    shp_search_opts o = {.starts = 3,
                         .seed = 7,
                         .explore_iterations = 4,
                         .polish = 1,
                         .max_iterations = 4};
    shp_search *s = shp_search_new(p, &o);
    assert_non_null(s);
    assert_int_equal(run_to_end(s, NULL), SHP_SEARCH_DONE);
    f[run] = shp_search_best(s, run == 0 ? x : y);
    shp_search_free(s);
  }
  assert_true(isfinite(f[0]));
  assert_true(f[0] == f[1]);
  assert_memory_equal(x, y, n * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    assert_true(isfinite(x[i]));
    assert_true(x[i] >= lo[i] && x[i] <= hi[i]);
  }
  free(x);
  free(y);
  free(lo);
  free(hi);
  shp_problem_free(p);
  shp_target_free(target);
  shp_stack_free(stack);
}

/* Levenberg-Marquardt with GSL's finite-difference Jacobian, which hands
 * the residual function one strided column of the Jacobian at a time: the
 * residuals must go into that column (written as if contiguous, they made
 * a wrong Jacobian). From the designed stack with every oven 0.05 K off,
 * a few steps bring the error back to the design's. */
static void test_levenberg_marquardt_search_recovers_a_detuning(void **state) {
  setup s =
      load(EXAMPLES "/stacks/design-flat-top-5ps.yml", SHP_VARY_TEMPERATURE);
  shp_problem_free(s.problem);
  double design[4];
  for (size_t i = 0; i < 4; i++) {
    design[i] = s.stack->crystals[i].temperature_c;
    s.stack->crystals[i].temperature_c += i % 2 ? 0.05 : -0.05;
  }
  shp_problem_spec spec = {.stack = s.stack,
                           .target = s.target,
                           .vary = SHP_VARY_TEMPERATURE,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  s.problem = shp_problem_new(&spec);
  assert_non_null(s.problem);
  double x[4];
  shp_problem_start(s.problem, x);
  double f0 = shp_problem_eval(s.problem, x);
  shp_search_opts o = {.local = shp_local_lm,
                       .starts = 1,
                       .explore_iterations = 8,
                       .polish = 1,
                       .max_iterations = 8};
  shp_search *search = shp_search_new(s.problem, &o);
  assert_non_null(search);
  assert_int_equal(run_to_end(search, NULL), SHP_SEARCH_DONE);
  double f = shp_search_best(search, x);
  assert_true(f <= f0);
  /* Within 10 mK of the design (it lands within 2 mK; the wrong Jacobian
   * left every oven where it started, 50 mK off). */
  for (size_t i = 0; i < 4; i++)
    assert_true(fabs(x[i] - design[i]) < 0.01);
  shp_search_free(search);
  unload(&s);
}

/* ---- the measurement-model fit ------------------------------------------ */

/* A trace of finite samples whose sum and span are beyond the range of
 * doubles (+-1.7e308): every residual is NaN. The fit says so, naming the
 * trace, and fails with SHP_ERR_NUMERIC. */
static void test_fit_with_non_finite_residual_is_an_error(void **state) {
  shp_stack *stack = shp_stack_load(EXAMPLES "/stacks/fan4.yml");
  assert_non_null(stack);
  shp_fit_opts o = {.starts = 3, .max_iterations = 5};
  shp_fit *f = shp_fit_new(stack, &o);
  assert_non_null(f);
  enum { N = 32 };
  double delay[N], signal[N], temps[4];
  for (size_t k = 0; k < N; k++) {
    delay[k] = -8.0 + 0.5 * (double)k;
    signal[k] = k == 0 ? -1.7e308 : 1.7e308;
  }
  for (size_t i = 0; i < 4; i++)
    temps[i] = stack->crystals[i].temperature_c;
  shp_fit_trace t = {.model = &shp_fit_model_ac,
                     .temperatures_c = temps,
                     .crystal_count = 4,
                     .axis = delay,
                     .values = signal,
                     .count = N,
                     .noise = 0.01};
  int rc = shp_fit_add(f, &t);
  shp_fit_set set = {0};
  if (rc == SHP_OK)
    rc = shp_fit_solve(f, &set);
  assert_int_equal(rc, SHP_ERR_NUMERIC);
  assert_string_equal(shp_error_detail(),
                      "the model fit found no solution: the residual of "
                      "trace 1, sample 1 is not finite from every one of 3 "
                      "starts");
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(stack);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_library_turns_the_gsl_handler_off),
      cmocka_unit_test(test_objective_not_finite_at_the_start_is_an_error),
      cmocka_unit_test(test_objective_turning_non_finite_mid_run_is_an_error),
      cmocka_unit_test(test_failure_while_polishing_names_the_run),
      cmocka_unit_test(test_simplex_that_cannot_contract_is_an_error),
      cmocka_unit_test(test_a_search_of_102_variables_runs),
      cmocka_unit_test(test_levenberg_marquardt_search_recovers_a_detuning),
      cmocka_unit_test(test_fit_with_non_finite_residual_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
