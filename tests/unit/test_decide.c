/* The closed loop's decisions (shp/decide.h): reachability with its
 * reasons on the nominal model, and on fits of traces simulated from a
 * "true" stack with hidden errors, the convergence verdict and the move
 * that separates consistent solutions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hidden_truth.h"

#include "shp/decide.h"
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/fit.h"
#include "shp/planning.h"
#include "shp/problem.h"
#include "shp/pulse.h"
#include "shp/stack.h"
#include "shp/units.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXAMPLES SHP_SOURCE_DATADIR "/examples/stacks/"
#define MAXC 16
#define NDELAY 161

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static shp_stack *load(const char *name) {
  shp_stack *s = shp_stack_load(name);
  assert_non_null(s);
  return s;
}

static shp_target flat_top(double duration_ps, double rise_ps) {
  shp_target t = {.shape = SHP_TARGET_FLAT_TOP,
                  .duration_ps = duration_ps,
                  .rise_time_ps = rise_ps};
  return t;
}

/* Limits of +- half a window around the stack's temperatures. */
static void limits(const shp_stack *s, double half, double *lo, double *hi) {
  for (size_t i = 0; i < s->crystal_count; i++) {
    lo[i] = s->crystals[i].temperature_c - half;
    hi[i] = s->crystals[i].temperature_c + half;
  }
}

static bool has_reason(const shp_reach_result *r, const char *start) {
  for (size_t k = 0; k < r->reason_count; k++)
    if (strncmp(r->reasons[k], start, strlen(start)) == 0)
      return true;
  return false;
}

static void test_reach(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "design-flat-top-5ps.yml");
  double lo[MAXC], hi[MAXC];
  limits(s, 10, lo, hi);

  /* The stack was designed for it. */
  shp_target t5 = flat_top(5, 1);
  shp_reach_result r = {0};
  double t0 = now_s();
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("5 ps: %.2f s, e* %.4f, T %.3f, span %.3f ps: %s\n", now_s() - t0,
         r.best_error, r.best_transmission, r.replica_span_ps, r.summary);
  assert_true(r.reachable);
  assert_int_equal(r.reason_count, 0);
  assert_true(fabs(r.best_error - 0.0089) < 0.004);
  for (size_t i = 0; i < s->crystal_count; i++)
    assert_true(r.setpoints_c[i] >= lo[i] && r.setpoints_c[i] <= hi[i]);
  shp_reach_result_clear(&r);

  /* Four 2.7 mm alpha-BBO plates spread replicas over ~5 ps: 20 ps is out
   * of reach whatever the temperatures. */
  shp_target t20 = flat_top(20, 1);
  assert_int_equal(shp_reach_check(s, &t20, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("20 ps: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_true(has_reason(&r, "the replica span"));
  assert_true(r.replica_span_ps > 3 && r.replica_span_ps < 8);
  assert_true(r.best_error > 0.05);
  assert_non_null(strstr(r.summary, "unreachable"));
  shp_reach_result_clear(&r);

  /* Edges of 50 fs from a 1 ps pulse. */
  shp_target tedge = flat_top(5, 0.05);
  assert_int_equal(shp_reach_check(s, &tedge, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("50 fs edges: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_true(has_reason(&r, "the target's rise time 0.05 ps is below"));
  assert_false(has_reason(&r, "the replica span"));
  shp_reach_result_clear(&r);

  /* Detuned by a quarter period and held within 0.1 K: the phases cannot
   * come back, the shape stays off. */
  shp_material_props mp;
  assert_int_equal(shp_material_props_at(s->crystals[0].material,
                                         s->pulse.center_wavelength_nm,
                                         s->crystals[0].temperature_c,
                                         s->crystals[0].length_mm, &mp),
                   SHP_OK);
  for (size_t i = 0; i < s->crystal_count; i += 2)
    s->crystals[i].temperature_c += 0.25 * mp.full_wave_temperature_k;
  limits(s, 0.05, lo, hi);
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("0.1 K window: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_int_equal(r.reason_count, 1);
  assert_true(has_reason(&r, "temperatures alone cannot"));
  assert_true(r.best_error > 0.05);
  shp_reach_result_clear(&r);

  /* A transmission the crossed polarizers cannot give. */
  limits(s, 10, lo, hi);
  t5.has_min_transmission = true;
  t5.min_transmission = 0.999;
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("T >= 0.999: T %.3f: %s\n", r.best_transmission, r.summary);
  assert_false(r.reachable);
  assert_int_equal(r.reason_count, 1);
  assert_true(has_reason(&r, "the transmission at the best setpoints is"));
  assert_true(r.best_error < 0.05);
  shp_reach_result_clear(&r);

  /* Bad limits are refused. */
  lo[1] = hi[1] + 1;
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r),
                   SHP_ERR_INVALID);
  shp_reach_result_clear(&r);
  shp_stack_free(s);
}

/* ---- a hidden truth (tests/support/hidden_truth.h) ---------------------- */

static void delays(const shp_stack *s, double *delay) {
  shp_element el[MAXC];
  shp_path path;
  shp_stack_path(s, el, &path);
  double span;
  assert_int_equal(
      shp_path_delay_span_ps(&path, s->pulse.center_wavelength_nm, &span),
      SHP_OK);
  double half = span + 2 * s->pulse.fwhm_ps;
  for (size_t k = 0; k < NDELAY; k++)
    delay[k] = -half + 2 * half * (double)k / (NDELAY - 1);
}

#define ABS_NOISE 0.02
static double trace_y[8][NDELAY];

static void add_true_trace(shp_fit *f, const shp_stack *s, const truth *t,
                           const double *temps, const double *delay,
                           size_t slot, unsigned long *seed) {
  true_ac(s, shp_fit_grid(f), t, temps, delay, NDELAY, ABS_NOISE, seed,
          trace_y[slot]);
  shp_fit_trace tr = {.model = &shp_fit_model_ac,
                      .temperatures_c = temps,
                      .crystal_count = s->crystal_count,
                      .axis = delay,
                      .values = trace_y[slot],
                      .count = NDELAY,
                      .noise = ABS_NOISE};
  assert_int_equal(shp_fit_add(f, &tr), SHP_OK);
}

/* A target that is the true output at temps (a file target held in
 * memory, peak 1, only where the pulse is). */
static shp_target truth_target(const shp_stack *s, const shp_grid *g,
                               const truth *t, const double *temps) {
  double *in = calloc(g->n, sizeof *in);
  true_intensity(s, g, t, temps, in);
  double peak = 0;
  for (size_t j = 0; j < g->n; j++)
    peak = fmax(peak, in[j]);
  size_t a = 0, b = g->n - 1;
  while (a < b && in[a] < 1e-6 * peak)
    a++;
  while (b > a && in[b] < 1e-6 * peak)
    b--;
  shp_target tg = {.shape = SHP_TARGET_FILE, .file_count = b - a + 1};
  tg.file_time_ps = calloc(tg.file_count, sizeof(double));
  tg.file_intensity = calloc(tg.file_count, sizeof(double));
  for (size_t j = a; j <= b; j++) {
    tg.file_time_ps[j - a] = ((double)j - (double)(g->n / 2)) * g->dt;
    tg.file_intensity[j - a] = in[j] / peak;
  }
  free(in);
  return tg;
}

/* The true output's error against the target at temps. */
static double true_error(const shp_stack *s, const shp_grid *g, const truth *t,
                         const double *temps, const shp_target *tg) {
  double *in = calloc(g->n, sizeof *in), *ti = calloc(g->n, sizeof *ti);
  true_intensity(s, g, t, temps, in);
  assert_int_equal(shp_target_sample(tg, g, ti, NULL), SHP_OK);
  shp_diag *d = shp_diag_new(g->n);
  shp_metrics_opts o = {.target = ti, .error_only = true};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, in, g->dt, &o, &m), SHP_OK);
  shp_diag_free(d);
  free(in);
  free(ti);
  return m.error;
}

/* sqrt(chi2) between two traces after the best amplitude and background
 * of b onto a, in sigmas of noise (the test's own least squares). */
static double separation(const double *a, const double *b, size_t n,
                         double noise) {
  double m[3] = {0}, r[2] = {0};
  for (size_t j = 0; j < n; j++) {
    m[0] += b[j] * b[j];
    m[1] += b[j];
    m[2] += 1;
    r[0] += b[j] * a[j];
    r[1] += a[j];
  }
  double det = m[0] * m[2] - m[1] * m[1];
  double amp = (r[0] * m[2] - m[1] * r[1]) / det;
  double bg = (m[0] * r[1] - m[1] * r[0]) / det;
  double chi2 = 0;
  for (size_t j = 0; j < n; j++) {
    double e = (a[j] - amp * b[j] - bg) / noise;
    chi2 += e * e;
  }
  return sqrt(chi2);
}

/* Each solution written into a stack gives the output the fit predicts at
 * fixed temperatures (where no optimisation can absorb a wrong phase). */
static void check_solution_stacks(shp_fit *f, const shp_fit_set *set,
                                  const double *temps, const shp_target *tg) {
  shp_fit_prediction pr = {0};
  for (size_t k = 0; k < set->count; k++) {
    shp_stack *ss = shp_fit_solution_stack(f, &set->solutions[k]);
    assert_non_null(ss);
    shp_problem_spec spec = {.stack = ss,
                             .target = tg,
                             .vary = SHP_VARY_TEMPERATURE,
                             .temperature_min_c = NAN,
                             .temperature_max_c = NAN};
    shp_problem *p = shp_problem_new(&spec);
    assert_non_null(p);
    shp_metrics m;
    assert_int_equal(shp_problem_metrics(p, temps, &m), SHP_OK);
    assert_int_equal(
        shp_fit_predict_intensity(f, &set->solutions[k], temps, tg, &pr),
        SHP_OK);
    printf("  solution %zu: stack %.4f, fit %.4f\n", k + 1, m.error, pr.error);
    assert_true(fabs(m.error - pr.error) < 2e-3);
    shp_fit_prediction_clear(&pr);
    shp_problem_free(p);
    shp_stack_free(ss);
  }
}

/* One trace of fan4 at its temperatures leaves the pulse and its time
 * reversal (test_fit shows both consistent); the target is the true pulse
 * there, so the right solution is on target and its twin is not. */
static void test_twins(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  size_t nc = s->crystal_count;
  truth t;
  random_truth(s, 7, &t);
  shp_fit_opts o = {.starts = 8, .seed = 1};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  const shp_grid *g = shp_fit_grid(f);
  double temps[8][MAXC], delay[NDELAY];
  delays(s, delay);
  for (size_t i = 0; i < nc; i++)
    temps[0][i] = s->crystals[i].temperature_c;
  unsigned long seed = 99;
  add_true_trace(f, s, &t, temps[0], delay, 0, &seed);
  shp_fit_set set = {0};
  double t0 = now_s();
  assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
  printf("fit, 1 trace: %.2f s, %zu solutions\n", now_s() - t0, set.count);
  assert_true(set.count >= 2);
  shp_target tg = truth_target(s, g, &t, temps[0]);
  const double tol = 0.05;

  /* The trace matches, one solution is on target: still ambiguous. */
  shp_verdict v;
  t0 = now_s();
  assert_int_equal(
      shp_decide_converged(f, &set, temps[0], &tg, tol, 0.005, 0.01, &v),
      SHP_OK);
  printf("verdict %.2f s: %s\n", now_s() - t0, v.reason);
  assert_int_equal(v.kind, SHP_VERDICT_AMBIGUOUS);
  assert_true(v.best_error <= tol);
  assert_true(v.worst_error > 2 * tol);
  assert_true(v.plausible >= 1 && v.within < set.count);
  assert_int_equal(v.solution_count, set.count);
  /* A trace off by more than its noise is never converged. */
  assert_int_equal(
      shp_decide_converged(f, &set, temps[0], &tg, tol, 0.05, 0.01, &v),
      SHP_OK);
  assert_int_equal(v.kind, SHP_VERDICT_NOT_YET);
  assert_false(v.trace_matches);

  /* A solution written into a stack is the fit's model: its optimum's
   * error is what the fit predicts there. */
  double opt[MAXC], opt_err;
  t0 = now_s();
  assert_int_equal(shp_decide_optimum(f, &set.solutions[0], &tg, NULL, NULL, 1,
                                      opt, &opt_err),
                   SHP_OK);
  double t_opt = now_s() - t0;
  shp_fit_prediction pr = {0};
  assert_int_equal(
      shp_fit_predict_intensity(f, &set.solutions[0], opt, &tg, &pr), SHP_OK);
  printf("optimum of solution 1: %.2f s, error %.4f, fit predicts %.4f\n",
         t_opt, opt_err, pr.error);
  assert_true(fabs(opt_err - pr.error) < 2e-3);
  shp_fit_prediction_clear(&pr);
  check_solution_stacks(f, &set, temps[0], &tg);

  /* The next move separates the twins. */
  double lo[MAXC], hi[MAXC];
  shp_material_props mp;
  assert_int_equal(shp_material_props_at(
                       s->crystals[0].material, s->pulse.center_wavelength_nm,
                       temps[0][0], s->crystals[0].length_mm, &mp),
                   SHP_OK);
  limits(s, mp.full_wave_temperature_k, lo, hi);
  shp_decide_lab lab = {.lo_c = lo,
                        .hi_c = hi,
                        .ramp_k_per_min = 2,
                        .settle_s = 60,
                        .noise = ABS_NOISE / 2, /* amplitude 2 */
                        .axis = delay,
                        .axis_count = NDELAY,
                        .tolerance = tol,
                        .seed = 1};
  shp_decision d = {0};
  t0 = now_s();
  assert_int_equal(shp_decide_next(f, &set, temps[0], &tg, &lab, &d), SHP_OK);
  printf("decide (%zu candidates): %.2f s: %s\n", d.candidates, now_s() - t0,
         d.reason);
  assert_true(d.kind == SHP_DECIDE_PROBE || d.kind == SHP_DECIDE_OPTIMUM);
  assert_true(d.separation_sigma > 3);
  assert_true(d.minutes >= 1.0 &&
              d.minutes < 1.0 + 2 * mp.full_wave_temperature_k / 2);
  assert_int_equal(d.solution_count, set.count);
  for (size_t i = 0; i < nc; i++)
    assert_true(d.setpoints_c[i] >= lo[i] && d.setpoints_c[i] <= hi[i]);
  assert_non_null(strstr(d.reason, "disagree"));

  /* The solution on target and the one farthest off fit the same trace
   * (their traces here are within a few sigma); at the move they are
   * apart by more than 3. */
  size_t on = 0, off = 0;
  for (size_t k = 0; k < set.count; k++) {
    if (d.error_now[k] < d.error_now[on])
      on = k;
    if (d.error_now[k] > d.error_now[off])
      off = k;
  }
  assert_true(d.error_now[on] < tol && d.error_now[off] > 2 * tol);
  double ya[NDELAY], yb[NDELAY], here, there;
  assert_int_equal(shp_fit_predict_trace(f, &set.solutions[on],
                                         &shp_fit_model_ac, temps[0], delay,
                                         NDELAY, ya),
                   SHP_OK);
  assert_int_equal(shp_fit_predict_trace(f, &set.solutions[off],
                                         &shp_fit_model_ac, temps[0], delay,
                                         NDELAY, yb),
                   SHP_OK);
  here = separation(ya, yb, NDELAY, lab.noise);
  assert_int_equal(shp_fit_predict_trace(f, &set.solutions[on],
                                         &shp_fit_model_ac, d.setpoints_c,
                                         delay, NDELAY, ya),
                   SHP_OK);
  assert_int_equal(shp_fit_predict_trace(f, &set.solutions[off],
                                         &shp_fit_model_ac, d.setpoints_c,
                                         delay, NDELAY, yb),
                   SHP_OK);
  there = separation(ya, yb, NDELAY, lab.noise);
  printf("solutions %zu and %zu: %.2f sigma apart here, %.2f at the move\n",
         on + 1, off + 1, here, there);
  assert_true(here < 3);
  assert_true(there > 3);

  /* The move made on the truth and measured: the set shrinks. */
  memcpy(temps[1], d.setpoints_c, nc * sizeof(double));
  add_true_trace(f, s, &t, temps[1], delay, 1, &seed);
  shp_fit_set set2 = {0};
  t0 = now_s();
  assert_int_equal(shp_fit_solve_seeded(f, &set, &set2), SHP_OK);
  printf("fit, 2 traces: %.2f s, %zu solutions\n", now_s() - t0, set2.count);
  assert_true(set2.count < set.count);

  /* Moves on until the solutions left agree (a handful at most): then the
   * decision is the optimum, and the true pulse there is on target. */
  shp_decision d2 = {0};
  size_t moves = 1;
  for (;;) {
    shp_decision_clear(&d2);
    assert_int_equal(shp_decide_next(f, &set2, temps[moves], &tg, &lab, &d2),
                     SHP_OK);
    printf("decide: %s\n", d2.reason);
    /* Solutions that still disagree: the move (a probe, or the best's
     * optimum when that splits them best) is made and measured. */
    if (d2.pairs == 0)
      break;
    assert_true(d2.kind == SHP_DECIDE_PROBE || d2.kind == SHP_DECIDE_OPTIMUM);
    assert_true(d2.separation_sigma > 3);
    assert_true(moves < 5);
    moves++;
    memcpy(temps[moves], d2.setpoints_c, nc * sizeof(double));
    add_true_trace(f, s, &t, temps[moves], delay, moves, &seed);
    shp_fit_set next = {0};
    assert_int_equal(shp_fit_solve_seeded(f, &set2, &next), SHP_OK);
    printf("fit, %zu traces: %zu solutions\n", moves + 1, next.count);
    shp_fit_set_clear(&set2);
    set2 = next;
  }
  assert_true(d2.kind == SHP_DECIDE_OPTIMUM ||
              d2.kind == SHP_DECIDE_CONVERGED_HERE);
  for (size_t k = 0; k < set2.count; k++)
    assert_true(d2.error_next[k] <= tol + 0.02);
  double te = true_error(s, g, &t, d2.setpoints_c, &tg);
  printf("%zu moves; true error at the optimum: %.4f\n", moves, te);
  assert_true(te <= tol + 0.02);

  /* At the optimum itself nothing is left to do. */
  shp_decision d3 = {0};
  assert_int_equal(shp_decide_next(f, &set2, d2.setpoints_c, &tg, &lab, &d3),
                   SHP_OK);
  printf("decide there: %s\n", d3.reason);
  assert_int_equal(d3.kind, SHP_DECIDE_CONVERGED_HERE);
  assert_memory_equal(d3.setpoints_c, d2.setpoints_c, nc * sizeof(double));
  assert_true(d3.minutes == 0);
  shp_decision_clear(&d3);

  /* A tolerance below what the stack can do (half the best error any
   * solution predicts at its optimum): there, the decision is the stack's
   * best and stays; from a quarter period off it moves back there. */
  shp_decide_lab tight = lab;
  tight.tolerance = 0.5 * d2.error_next[0];
  for (size_t k = 1; k < set2.count; k++)
    tight.tolerance = fmin(tight.tolerance, 0.5 * d2.error_next[k]);
  assert_int_equal(shp_decide_next(f, &set2, d2.setpoints_c, &tg, &tight, &d3),
                   SHP_OK);
  printf("decide there, tolerance %.4f: %s\n", tight.tolerance, d3.reason);
  assert_int_equal(d3.kind, SHP_DECIDE_AT_BEST);
  assert_true(d3.stay);
  assert_memory_equal(d3.setpoints_c, d2.setpoints_c, nc * sizeof(double));
  for (size_t k = 0; k < set2.count; k++) {
    assert_true(d3.optimum_error[k] > tight.tolerance);
    assert_true(d3.error_now[k] <= d3.optimum_error[k] + 0.02);
  }
  assert_non_null(strstr(d3.reason, "cannot reach"));
  shp_decision_clear(&d3);
  /* A quarter period off on the first crystal: not the best any more. */
  double away[MAXC];
  memcpy(away, d2.setpoints_c, nc * sizeof(double));
  away[0] += 0.25 * mp.full_wave_temperature_k;
  assert_int_equal(shp_decide_next(f, &set2, away, &tg, &tight, &d3), SHP_OK);
  printf("decide a quarter period off, tolerance %.4f: %s\n", tight.tolerance,
         d3.reason);
  assert_int_equal(d3.kind, SHP_DECIDE_AT_BEST);
  assert_false(d3.stay);
  assert_true(d3.minutes > 0);
  for (size_t k = 0; k < set2.count; k++)
    assert_true(d3.error_next[k] <= d3.optimum_error[k] + 0.02 &&
                d3.error_next[k] < d3.error_now[k]);
  shp_decision_clear(&d3);

  /* Bad arguments: an error and a decision that says so. */
  shp_decide_lab bad = lab;
  bad.ramp_k_per_min = 0;
  assert_int_equal(shp_decide_next(f, &set2, d2.setpoints_c, &tg, &bad, &d3),
                   SHP_ERR_INVALID);
  assert_int_equal(d3.kind, SHP_DECIDE_NONE);
  assert_non_null(strstr(d3.reason, "no decision"));
  shp_decision_clear(&d3);
  assert_int_equal(
      shp_decide_converged(f, &set2, d2.setpoints_c, &tg, 0, 0.005, 0.01, &v),
      SHP_ERR_INVALID);

  /* Now the lengths are known (not only their prior): the written stack
   * still is the fit's model, at the first trace's temperatures. */
  check_solution_stacks(f, &set2, temps[0], &tg);

  /* There, every solution within tolerance and the trace matching: the
   * verdict is converged. */
  assert_int_equal(
      shp_decide_converged(f, &set2, d2.setpoints_c, &tg, tol, 0.005, 0.01, &v),
      SHP_OK);
  printf("verdict: %s\n", v.reason);
  assert_int_equal(v.kind, SHP_VERDICT_CONVERGED);
  assert_int_equal(v.within, set2.count);

  shp_decision_clear(&d2);
  shp_decision_clear(&d);
  shp_fit_set_clear(&set2);
  shp_fit_set_clear(&set);
  free(tg.file_time_ps);
  free(tg.file_intensity);
  shp_fit_free(f);
  shp_stack_free(s);
}

int main(void) {
  /* Measured plans differ from run to run in their last bits. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reach),
      cmocka_unit_test(test_twins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
