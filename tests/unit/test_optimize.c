/* The optimiser on the full model: it recovers detuned example stacks,
 * honours its bounds, is deterministic for a seed, stops on unreachable
 * targets, and its gradient agrees with finite differences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/error.h"
#include "shp/optimize.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLES SHP_SOURCE_DATADIR "/examples"
#define MAXV 32

typedef struct {
  shp_stack *stack;
  shp_target *target;
} example;

static example load_example(const char *stack, const char *target) {
  example e = {shp_stack_load(stack), shp_target_load(target)};
  assert_non_null(e.stack);
  assert_non_null(e.target);
  return e;
}

static void free_example(example *e) {
  shp_stack_free(e->stack);
  shp_target_free(e->target);
}

static double run_search(shp_problem *p, unsigned long seed, double *x) {
  shp_search_opts o = {.seed = seed};
  shp_search *s = shp_search_new(p, &o);
  assert_non_null(s);
  int rc;
  size_t iterations = 0;
  while ((rc = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE)
    iterations++;
  assert_int_equal(rc, SHP_SEARCH_DONE);
  assert_true(iterations > 0);
  double f = shp_search_best(s, x);
  shp_search_free(s);
  return f;
}

static double error_of(shp_problem *p, const double *x) {
  shp_metrics m;
  assert_int_equal(shp_problem_metrics(p, x, &m), SHP_OK);
  return m.error;
}

/* The stacker example with its flat-top target: its own (designed) error,
 * then three detunings of every temperature by up to one full phase period,
 * each brought back by optimising the temperatures. The margin, 0.005 RMS,
 * is the success criterion of bench/optimize. */
static void test_detuned_temperatures_are_recovered(void **state) {
  example e = load_example(EXAMPLES "/stacks/stacker16-uv.yml",
                           EXAMPLES "/targets/flat-top-16ps.yml");
  shp_problem_spec spec = {.stack = e.stack,
                           .target = e.target,
                           .vary = SHP_VARY_TEMPERATURE,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  shp_problem *design = shp_problem_new(&spec);
  assert_non_null(design);
  double x[MAXV];
  shp_problem_start(design, x);
  double design_error = error_of(design, x);
  shp_problem_free(design);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 42);
  for (int trial = 0; trial < 3; trial++) {
    shp_stack *s = shp_stack_load(EXAMPLES "/stacks/stacker16-uv.yml");
    for (size_t c = 0; c < s->crystal_count; c++) {
      shp_material_props props;
      assert_int_equal(shp_material_props_at(s->crystals[c].material, 257.5,
                                             s->crystals[c].temperature_c,
                                             s->crystals[c].length_mm, &props),
                       SHP_OK);
      s->crystals[c].temperature_c +=
          (2 * gsl_rng_uniform(rng) - 1) * props.full_wave_temperature_k;
    }
    spec.stack = s;
    shp_problem *p = shp_problem_new(&spec);
    assert_non_null(p);
    run_search(p, (unsigned long)trial, x);
    double err = error_of(p, x);
    assert_true(err <= design_error + 0.005);
    shp_problem_free(p);
    shp_stack_free(s);
  }
  gsl_rng_free(rng);
  free_example(&e);
}

/* The same for azimuths detuned by up to 2 degrees. */
static void test_detuned_azimuths_are_recovered(void **state) {
  example e = load_example(EXAMPLES "/stacks/stacker16-uv.yml",
                           EXAMPLES "/targets/flat-top-16ps.yml");
  shp_problem_spec spec = {.stack = e.stack,
                           .target = e.target,
                           .vary = SHP_VARY_AZIMUTH,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  double x[MAXV];
  shp_problem *design = shp_problem_new(&spec);
  shp_problem_start(design, x);
  double design_error = error_of(design, x);
  shp_problem_free(design);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 7);
  shp_stack *s = shp_stack_load(EXAMPLES "/stacks/stacker16-uv.yml");
  for (size_t c = 0; c < s->crystal_count; c++)
    s->crystals[c].azimuth_deg += 2.0 * (2 * gsl_rng_uniform(rng) - 1);
  spec.stack = s;
  shp_problem *p = shp_problem_new(&spec);
  shp_problem_start(p, x);
  double detuned_error = error_of(p, x);
  run_search(p, 1, x);
  double err = error_of(p, x);
  assert_true(err <= design_error + 0.005);
  assert_true(err < detuned_error);
  shp_problem_free(p);
  shp_stack_free(s);
  gsl_rng_free(rng);
  free_example(&e);
}

/* Bounds come from the lab's temperature limits (narrower than a phase
 * period here) and the result lies inside them. The search maps an
 * unbounded variable into each interval, so no point it evaluates can lie
 * outside; the result is what reaches an oven. */
typedef struct {
  double lo[MAXV], hi[MAXV];
} bounds;

static void test_bounds_are_never_violated(void **state) {
  example e = load_example(EXAMPLES "/stacks/fan4.yml",
                           EXAMPLES "/targets/flat-top-5ps.yml");
  /* The plates sit at 66.74 C; allow only 60 to 70 C, less than a period. */
  shp_problem_spec spec = {.stack = e.stack,
                           .target = e.target,
                           .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH |
                                   SHP_VARY_POLARIZER,
                           .temperature_min_c = 60.0,
                           .temperature_max_c = 70.0};
  shp_problem *p = shp_problem_new(&spec);
  assert_non_null(p);
  size_t n = shp_problem_size(p);
  bounds b;
  shp_problem_bounds(p, b.lo, b.hi);
  for (size_t i = 0; i < n; i++)
    if (strstr(shp_problem_name(p, i), "temperature_c") != NULL) {
      assert_true(b.lo[i] >= 60.0);
      assert_true(b.hi[i] <= 70.0);
    }
  double x[MAXV];
  run_search(p, 3, x);
  for (size_t i = 0; i < n; i++) {
    assert_true(x[i] >= b.lo[i]);
    assert_true(x[i] <= b.hi[i]);
  }
  shp_problem_free(p);
  /* No temperature allowed at all is refused up front. */
  spec.temperature_min_c = 500.0;
  spec.temperature_max_c = 400.0;
  assert_null(shp_problem_new(&spec));
  free_example(&e);
}

static void test_search_is_deterministic_for_a_seed(void **state) {
  example e = load_example(EXAMPLES "/stacks/fan4.yml",
                           EXAMPLES "/targets/flat-top-5ps.yml");
  shp_problem_spec spec = {.stack = e.stack,
                           .target = e.target,
                           .vary = SHP_VARY_TEMPERATURE,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&spec);
  double a[MAXV], b[MAXV];
  double fa = run_search(p, 11, a), fb = run_search(p, 11, b);
  assert_true(fa == fb);
  assert_memory_equal(a, b, shp_problem_size(p) * sizeof *a);
  shp_problem_free(p);
  free_example(&e);
}

/* A Gaussian train cannot come out of a single plate between polarizers;
 * the search still ends, with the best it found, in bounded work. */
static void test_unreachable_target_ends_with_the_best_found(void **state) {
  char path[] = "/tmp/shp-train-XXXXXX";
  int fd = mkstemp(path);
  FILE *file = fdopen(fd, "w");
  fputs("shape: gaussian-train\ncount: 7\nspacing_ps: 3\npulse_fwhm_ps: 0.3\n",
        file);
  fclose(file);
  shp_target *t = shp_target_load(path);
  remove(path);
  assert_non_null(t);
  shp_stack *s = shp_stack_new("one plate", 1030.0, 1.0);
  assert_int_equal(shp_stack_add_crystal(s, "alpha-BBO", 2.0, 20.0, 40.0),
                   SHP_OK);
  s->has_output_polarizer = true;
  shp_problem_spec spec = {.stack = s,
                           .target = t,
                           .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&spec);
  assert_non_null(p);
  double x[MAXV], x0[MAXV];
  shp_problem_start(p, x0);
  double f0 = shp_problem_eval(p, x0);
  double f = run_search(p, 0, x);
  assert_true(isfinite(f) && f <= f0);
  assert_true(error_of(p, x) > 0.3); /* far from the target, and said so */
  /* 64 starts of 40 iterations and 6 polishing runs of at most 4 x 300:
   * a few tens of thousands of evaluations at the very most. */
  assert_true(shp_problem_evaluations(p) < 60000);
  shp_problem_free(p);
  shp_stack_free(s);
  shp_target_free(t);
}

/* The central-difference gradient against a Richardson extrapolation of
 * central differences with halved steps, which cancels the h^2 term. */
static void test_gradient_matches_finite_differences(void **state) {
  example e = load_example(EXAMPLES "/stacks/fan4.yml",
                           EXAMPLES "/targets/flat-top-5ps.yml");
  shp_problem_spec spec = {.stack = e.stack,
                           .target = e.target,
                           .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&spec);
  size_t n = shp_problem_size(p);
  double x[MAXV], g[MAXV];
  shp_problem_start(p, x);
  /* Away from the symmetric design point, where the gradient vanishes. */
  for (size_t i = 0; i < n; i++)
    x[i] += 0.3 * (i % 2 ? 1 : -1);
  assert_int_equal(shp_problem_gradient(p, x, g), SHP_OK);
  double scale = 0;
  for (size_t i = 0; i < n; i++)
    scale = fmax(scale, fabs(g[i]));
  assert_true(scale > 0);
  for (size_t i = 0; i < n; i++) {
    double h = 0.02, d[2];
    for (int k = 0; k < 2; k++, h /= 2) {
      double xp[MAXV], xm[MAXV];
      memcpy(xp, x, n * sizeof *x);
      memcpy(xm, x, n * sizeof *x);
      xp[i] += h;
      xm[i] -= h;
      d[k] = (shp_problem_eval(p, xp) - shp_problem_eval(p, xm)) / (2 * h);
    }
    double richardson = (4 * d[1] - d[0]) / 3;
    /* The objective is smooth but aligns on a sampled time axis; 1 % of
     * the largest component bounds what that roughness can do at these
     * steps, while a wrong derivative would be off by its own size. */
    assert_true(fabs(g[i] - richardson) <= 1e-2 * scale);
  }
  shp_problem_free(p);
  free_example(&e);
}

int main(void) {
  /* No gsl_set_error_handler_off(): the library turns GSL's aborting
   * handler off itself. */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detuned_temperatures_are_recovered),
      cmocka_unit_test(test_detuned_azimuths_are_recovered),
      cmocka_unit_test(test_bounds_are_never_violated),
      cmocka_unit_test(test_search_is_deterministic_for_a_seed),
      cmocka_unit_test(test_unreachable_target_ends_with_the_best_found),
      cmocka_unit_test(test_gradient_matches_finite_differences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
