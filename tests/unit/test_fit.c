/* The measurement-model fit: traces simulated from a "true" stack with
 * hidden phase, azimuth and length errors (a propagator of its own, not the
 * fit's model code) and noise, fitted back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hidden_truth.h"

#include "../../shaper/src/fit-private.h"
#include "alloc_count.h"
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/fit.h"
#include "shp/planning.h"
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

/* The phase offsets the fit reports for a truth: its length errors' carrier
 * phase at the stack's temperatures included. */
static void effective_phases(const shp_stack *s, const truth *t, double *eff) {
  for (size_t i = 0; i < s->crystal_count; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    shp_material_props p;
    assert_int_equal(shp_material_props_at(c->material,
                                           s->pulse.center_wavelength_nm,
                                           c->temperature_c, c->length_mm, &p),
                     SHP_OK);
    eff[i] = shp_wrap_phase(t->phase[i] + p.phase_delay_rad / c->length_mm *
                                              1e-3 * t->dlen_um[i]);
  }
}

/* Add trace m, at the stack's temperatures shifted by m * step kelvin on
 * every other crystal (the other way by half on the rest). */
static void add_trace(const shp_stack *s, const truth *t, size_t m, double step,
                      shp_fit *f, double temps[][MAXC], const double *delay,
                      unsigned long *seed) {
  size_t nc = s->crystal_count;
  static double y[4][NDELAY];
  for (size_t i = 0; i < nc; i++)
    temps[m][i] = s->crystals[i].temperature_c +
                  ((i + m) % 2 ? step * (double)m : -0.5 * step * (double)m);
  true_ac(s, shp_fit_grid(f), t, temps[m], delay, NDELAY, 0.02, seed, y[m]);
  shp_fit_trace tr = {.model = &shp_fit_model_ac,
                      .temperatures_c = temps[m],
                      .crystal_count = nc,
                      .axis = delay,
                      .values = y[m],
                      .count = NDELAY,
                      .noise = 0.02};
  assert_int_equal(shp_fit_add(f, &tr), SHP_OK);
}

/* Fit ntr traces (add_trace 0 .. ntr-1). */
static void fit_traces(const shp_stack *s, const truth *t, size_t ntr,
                       double step, shp_fit *f, double temps[][MAXC],
                       double *delay) {
  unsigned long seed = 99;
  delays(s, delay);
  for (size_t m = 0; m < ntr; m++)
    add_trace(s, t, m, step, f, temps, delay, &seed);
}

static void test_recovers_hidden_errors(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  truth t;
  random_truth(s, 7, &t);
  shp_fit_opts o = {.starts = 12, .seed = 1};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  double temps[4][MAXC], delay[NDELAY];
  fit_traces(s, &t, 3, 1.5, f, temps, delay);
  shp_fit_set set = {0};
  double t0 = now_s();
  assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
  double t1 = now_s();
  printf("fan4 x 3 traces: %.2f s, %zu evaluations, %zu solutions\n%s\n",
         t1 - t0, set.evaluations, set.count, set.report);
  size_t nc = s->crystal_count;
  double eff[MAXC];
  effective_phases(s, &t, eff);
  /* The truth is one of the consistent solutions (two phase sets may fit
   * these traces equally well: both are in the set), within 4 sigma in
   * every phase, azimuth and length. */
  const shp_fit_solution *b = NULL;
  for (size_t k = 0; k < set.count && b == NULL; k++) {
    const shp_fit_solution *c = &set.solutions[k];
    bool all = true;
    for (size_t i = 0; i < nc; i++) {
      size_t j = shp_fit_index_phase(f, i);
      all =
          all && fabs(shp_wrap_phase(c->params[j] - eff[i])) < 4 * c->sigma[j];
    }
    if (all)
      b = c;
  }
  assert_non_null(b);
  for (size_t i = 0; i < nc; i++) {
    size_t j = shp_fit_index_phase(f, i), a = shp_fit_index_azimuth(f, i),
           l = shp_fit_index_length(f, i);
    printf("crystal %zu: phase %.3f (true %.3f) +- %.3f; az %.3f (%.3f) +- "
           "%.3f; len %.2f (%.2f) +- %.2f\n",
           i, b->params[j], eff[i], b->sigma[j], b->params[a], t.daz_deg[i],
           b->sigma[a], b->params[l], t.dlen_um[i], b->sigma[l]);
    /* The traces determine the phases: well below the prior's pi. */
    assert_true(b->sigma[j] < 0.5);
    assert_true(fabs(b->params[a] - t.daz_deg[i]) < 4 * b->sigma[a]);
    assert_true(fabs(b->params[l] - t.dlen_um[i]) < 4 * b->sigma[l]);
  }
  /* The predicted output at a new temperature set against the truth's,
   * and the error against a target with its band. */
  shp_target tg = {
      .shape = SHP_TARGET_FLAT_TOP, .duration_ps = 4.0, .rise_time_ps = 1.0};
  double tnew[MAXC];
  for (size_t i = 0; i < nc; i++)
    tnew[i] = temps[0][i] + (i == 1 ? 0.7 : 0.0);
  shp_fit_prediction pr = {0};
  assert_int_equal(shp_fit_predict_intensity(f, b, tnew, &tg, &pr), SHP_OK);
  const shp_grid *g = shp_fit_grid(f);
  double *ti = calloc(g->n, sizeof *ti), *tt = calloc(g->n, sizeof *tt);
  true_intensity(s, g, &t, tnew, ti);
  shp_diag *d = shp_diag_new(g->n);
  assert_int_equal(shp_target_sample(&tg, g, tt, NULL), SHP_OK);
  shp_metrics_opts mo = {.target = tt, .error_only = true};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, ti, g->dt, &mo, &m), SHP_OK);
  printf("predicted error %.4f +- %.4f, true %.4f\n", pr.error, pr.error_sigma,
         m.error);
  assert_true(pr.error_sigma > 0 && pr.error_sigma < 0.2);
  assert_true(fabs(pr.error - m.error) <= 3 * pr.error_sigma);
  /* Coverage of the band: the truth within 3 sigma nearly everywhere the
   * pulse is. */
  double peak = 0;
  for (size_t k = 0; k < g->n; k++)
    peak = fmax(peak, ti[k]);
  size_t in = 0, total = 0;
  for (size_t k = 0; k < g->n; k++) {
    if (ti[k] < 0.05 * peak)
      continue;
    total++;
    if (fabs(ti[k] - pr.intensity[k]) <= 3 * pr.sigma[k] + 1e-3 * peak)
      in++;
  }
  printf("band coverage %zu of %zu\n", in, total);
  assert_true(total > 20);
  assert_true((double)in >= 0.9 * (double)total);
  shp_fit_prediction_clear(&pr);
  shp_diag_free(d);
  free(ti);
  free(tt);
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* The relative RMS difference of b from a after the best shift and scale
 * (the figure `simulate` reports), with a reversed in time when asked. */
static double shape_difference(shp_diag *d, const double *a, const double *b,
                               size_t n, double dt, bool reverse) {
  double *ra = calloc(n, sizeof *ra);
  for (size_t k = 0; k < n; k++)
    ra[k] = reverse ? a[(n - k) % n] : a[k];
  shp_metrics_opts mo = {.target = ra, .error_only = true};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, b, dt, &mo, &m), SHP_OK);
  free(ra);
  return m.error;
}

/* One autocorrelation of an asymmetric pulse cannot tell it from its time
 * reversal: both stay in the set; traces at other temperatures settle it. */
static void test_time_reversal_twin_kept_until_ruled_out(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  truth t;
  random_truth(s, 7, &t);
  for (int traces = 1; traces <= 3; traces += 2) {
    shp_fit_opts o = {.starts = 8, .seed = 1};
    shp_fit *f = shp_fit_new(s, &o);
    assert_non_null(f);
    double temps[4][MAXC], delay[NDELAY];
    fit_traces(s, &t, (size_t)traces, 1.5, f, temps, delay);
    const shp_grid *g = shp_fit_grid(f);
    shp_diag *d = shp_diag_new(g->n);
    double *ti = calloc(g->n, sizeof *ti);
    true_intensity(s, g, &t, temps[0], ti);
    /* The truth is far from its own reversal: the twin is a different
     * pulse. */
    double asym = shape_difference(d, ti, ti, g->n, g->dt, true);
    assert_true(asym > 0.1);
    shp_fit_set set = {0};
    double t0 = now_s();
    assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
    printf("%d trace(s): %.2f s, %zu solutions; asymmetry %.3f\n", traces,
           now_s() - t0, set.count, asym);
    shp_fit_prediction *pr = calloc(set.count, sizeof *pr);
    double worst = 0, reversal = INFINITY;
    for (size_t k = 0; k < set.count; k++) {
      assert_int_equal(shp_fit_predict_intensity(f, &set.solutions[k], temps[0],
                                                 NULL, &pr[k]),
                       SHP_OK);
      double dtrue =
          shape_difference(d, ti, pr[k].intensity, g->n, g->dt, false);
      double drev = shape_difference(d, ti, pr[k].intensity, g->n, g->dt, true);
      printf("  solution %zu: chi2 %.1f, vs truth %.3f, vs reversed truth "
             "%.3f\n",
             k, set.solutions[k].chi2, dtrue, drev);
      worst = fmax(worst, dtrue);
      reversal = fmin(reversal, drev);
    }
    if (traces == 1) {
      /* Both the pulse and its reversal are consistent. */
      assert_true(set.count >= 2);
      assert_true(worst > 0.1);
      assert_true(reversal < 0.05);
    } else {
      /* The reversal is ruled out: every remaining solution predicts the
       * true pulse, not its reversal, up to what these traces leave open
       * (a few percent). */
      assert_true(worst < 0.08);
      assert_true(reversal > 0.1);
    }
    for (size_t k = 0; k < set.count; k++)
      shp_fit_prediction_clear(&pr[k]);
    free(pr);
    free(ti);
    shp_diag_free(d);
    shp_fit_set_clear(&set);
    shp_fit_free(f);
  }
  shp_stack_free(s);
}

/* A crystal whose axis lies along the input polarisation carries one
 * eigenmode only: its phase offset is a global phase the traces cannot
 * see. The fit says so, and leaves it at its prior. */
static void test_invisible_phase_is_prior_only(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  s->crystals[0].azimuth_deg = s->input_polarizer_deg;
  truth t;
  random_truth(s, 11, &t);
  t.daz_deg[0] = 0.0;
  shp_fit_opts o = {.starts = 4, .seed = 2, .phase_sigma_rad = 1.0};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  double temps[4][MAXC], delay[NDELAY];
  fit_traces(s, &t, 2, 1.5, f, temps, delay);
  shp_fit_set set = {0};
  assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
  printf("%s\n", set.report);
  size_t j0 = shp_fit_index_phase(f, 0), j1 = shp_fit_index_phase(f, 1);
  /* Posterior sigma ~ prior sigma (1 rad) for the invisible phase, well
   * below it for a visible one. */
  assert_true(set.sigma_ratio[j0] > 0.9 && set.sigma_ratio[j0] <= 1.0 + 1e-6);
  assert_true(fabs(set.solutions[0].sigma[j0] - 1.0) < 0.1);
  assert_true(set.sigma_ratio[j1] < 0.3);
  assert_non_null(
      strstr(set.report, "prior only: crystals[0].phase_offset_rad"));
  assert_null(strstr(set.report, "crystals[1].phase_offset_rad"));
  assert_true(set.data_determined < shp_fit_parameter_count(f));
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* ---- a diagnostic plugged in from outside the fit ----------------------- */

/* The output intensity itself, as a fast photodiode behind a streak camera
 * would show it: trace = amplitude * I(t + time_offset). */
static const shp_fit_param_info intensity_params[] = {
    {"time_offset_ps", "ps", 0.0, 0.5}};

static size_t intensity_work(size_t n) {
  (void)n;
  return 0;
}

static int intensity_predict(const shp_fit_output *out, const double *params,
                             const double *axis, size_t count, double *basis) {
  size_t n = out->grid->n;
  for (size_t k = 0; k < count; k++) {
    double x = (axis[k] + params[0]) / out->grid->dt + (double)(n / 2);
    double v = 0;
    if (x >= 0 && x < (double)(n - 1)) {
      size_t j = (size_t)x;
      double w = x - (double)j;
      v = (1 - w) * out->intensity[j] + w * out->intensity[j + 1];
    }
    basis[k] = v;
  }
  return SHP_OK;
}

static const shp_fit_model intensity_model = {
    .name = "intensity",
    .param_count = 1,
    .params = intensity_params,
    .linear_count = 1,
    .workspace_doubles = intensity_work,
    .predict = intensity_predict,
};

static void test_plugged_in_diagnostic(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  size_t nc = s->crystal_count;
  truth t;
  random_truth(s, 5, &t);
  shp_fit_opts o = {.starts = 4, .seed = 3};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  size_t before = shp_fit_parameter_count(f);
  const shp_grid *g = shp_fit_grid(f);
  double temps[MAXC], axis[NDELAY], y[NDELAY], delay[NDELAY];
  for (size_t i = 0; i < nc; i++)
    temps[i] = s->crystals[i].temperature_c;
  delays(s, delay);
  double *ti = calloc(g->n, sizeof *ti);
  true_intensity(s, g, &t, temps, ti);
  double peak = 0;
  for (size_t k = 0; k < g->n; k++)
    peak = fmax(peak, ti[k]);
  unsigned long seed = 4;
  /* Sampled 0.2 ps late, amplitude 3, 1 % noise. */
  for (size_t k = 0; k < NDELAY; k++) {
    axis[k] = 0.5 * delay[k];
    double x = (axis[k] + 0.2) / g->dt + (double)(g->n / 2);
    size_t j = (size_t)x;
    double w = x - (double)j;
    y[k] = 3.0 * ((1 - w) * ti[j] + w * ti[j + 1]) / peak +
           0.03 * truth_gauss(&seed);
  }
  shp_fit_trace tr = {.model = &intensity_model,
                      .temperatures_c = temps,
                      .crystal_count = nc,
                      .axis = axis,
                      .values = y,
                      .count = NDELAY,
                      .noise = 0.03};
  assert_int_equal(shp_fit_add(f, &tr), SHP_OK);
  assert_int_equal(shp_fit_parameter_count(f), before + 1);
  assert_string_equal(shp_fit_parameter_name(f, before),
                      "intensity.time_offset_ps");
  shp_fit_set set = {0};
  assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
  printf("%s\n", set.report);
  const shp_fit_solution *b = &set.solutions[0];
  /* The intensity has no time-reversal ambiguity: its offset and the
   * phases come back. */
  printf("time offset %.4f +- %.4f\n", b->params[before], b->sigma[before]);
  assert_true(fabs(b->params[before] - 0.2) < 4 * b->sigma[before]);
  assert_true(b->sigma[before] < 0.05);
  double eff[MAXC];
  effective_phases(s, &t, eff);
  for (size_t i = 0; i < nc; i++) {
    size_t j = shp_fit_index_phase(f, i);
    printf("phase %zu: %.3f (true %.3f) +- %.3f\n", i, b->params[j], eff[i],
           b->sigma[j]);
    assert_true(fabs(shp_wrap_phase(b->params[j] - eff[i])) <
                4 * b->sigma[j] + 1e-3);
  }
  /* The predicted trace of the plugged-in model at the measured
   * temperatures, and of the autocorrelation though no trace of it was
   * fitted. */
  double pred[NDELAY], ac[NDELAY];
  assert_int_equal(
      shp_fit_predict_trace(f, b, &intensity_model, temps, axis, NDELAY, pred),
      SHP_OK);
  double p0 = 0;
  for (size_t k = 0; k < NDELAY; k++)
    p0 = fmax(p0, pred[k]);
  for (size_t k = 0; k < NDELAY; k++)
    assert_true(fabs(3.0 * pred[k] / p0 - y[k]) < 0.15);
  assert_int_equal(
      shp_fit_predict_trace(f, b, &shp_fit_model_ac, temps, delay, NDELAY, ac),
      SHP_OK);
  assert_true(fabs(ac[NDELAY / 2] - 1.0) < 1e-6); /* peak 1 at zero delay */
  free(ti);
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* ---- invalid inputs ------------------------------------------------------ */

static int nan_predict(const shp_fit_output *out, const double *params,
                       const double *axis, size_t count, double *basis) {
  (void)out;
  (void)params;
  (void)axis;
  for (size_t k = 0; k < count; k++)
    basis[k] = NAN;
  return SHP_OK;
}

static const shp_fit_model nan_model = {
    .name = "broken",
    .linear_count = 1,
    .workspace_doubles = intensity_work,
    .predict = nan_predict,
};

static void test_invalid_inputs(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  size_t nc = s->crystal_count;
  shp_fit_opts bad = {.azimuth_sigma_deg = NAN};
  assert_null(shp_fit_new(s, &bad));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(),
                      "fit option azimuth_sigma_deg is nan: a prior or "
                      "threshold must be finite and not negative (0 takes the "
                      "default)");
  double prior[MAXC] = {0, INFINITY, 0, 0};
  shp_fit_opts badp = {.phase_prior_rad = prior};
  assert_null(shp_fit_new(s, &badp));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_non_null(
      strstr(shp_error_detail(), "the phase prior of crystal 2 is not finite"));

  shp_fit *f = shp_fit_new(s, NULL);
  assert_non_null(f);
  double temps[MAXC], delay[NDELAY], y[NDELAY];
  for (size_t i = 0; i < nc; i++)
    temps[i] = s->crystals[i].temperature_c;
  delays(s, delay);
  for (size_t k = 0; k < NDELAY; k++)
    y[k] = exp(-delay[k] * delay[k]);
  shp_fit_trace tr = {.model = &shp_fit_model_ac,
                      .temperatures_c = temps,
                      .crystal_count = nc,
                      .axis = delay,
                      .values = y,
                      .count = NDELAY,
                      .noise = 0.01};
  assert_int_equal(shp_fit_solve(f, &(shp_fit_set){0}), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(), "nothing to fit: no traces");
  y[2] = NAN;
  assert_int_equal(shp_fit_add(f, &tr), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(), "trace 1: sample 3 is not finite");
  y[2] = 0;
  tr.noise = INFINITY;
  assert_int_equal(shp_fit_add(f, &tr), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(),
                      "trace 1: its noise level is inf; it must be finite "
                      "and positive (or give a sigma per sample)");
  tr.noise = 0.01;
  temps[3] = NAN;
  assert_int_equal(shp_fit_add(f, &tr), SHP_ERR_INVALID);
  assert_string_equal(shp_error_detail(),
                      "trace 1: a temperature is not finite");
  temps[3] = temps[2];
  assert_int_equal(shp_fit_count(f), 0);
  /* A model that predicts no finite trace: no start converges, and the
   * error says where. */
  tr.model = &nan_model;
  assert_int_equal(shp_fit_add(f, &tr), SHP_OK);
  shp_fit_set set = {0};
  assert_int_equal(shp_fit_solve(f, &set), SHP_ERR_NUMERIC);
  assert_non_null(strstr(shp_error_detail(),
                         "the residual of trace 1, sample 1 is not finite"));
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* Eight plates, three traces, the prior centred on the truth (as after a
 * calibration; its sigma still pi, so every quasi-random start is as
 * before): the hidden phases come back within 4 sigma. The time a fit
 * takes is printed for the record. (From the stack's own phases, 8 starts
 * do not always reach the true basin of an 8-plate stack.) */
static void test_eight_plates(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "free8-flat-top-10ps.yml");
  size_t nc = s->crystal_count;
  truth t;
  random_truth(s, 21, &t);
  double eff[MAXC];
  effective_phases(s, &t, eff);
  shp_fit_opts o = {.starts = 8, .seed = 5, .phase_prior_rad = eff};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  double temps[4][MAXC], delay[NDELAY];
  fit_traces(s, &t, 3, 1.0, f, temps, delay);
  /* The prior means given, still after traces added a diagnostic's
   * parameters to the layout. */
  for (size_t i = 0; i < nc; i++) {
    double mean, sigma;
    shp_fit_parameter_prior(f, shp_fit_index_phase(f, i), &mean, &sigma);
    assert_true(mean == eff[i] && fabs(sigma - SHP_PI) < 1e-12);
  }
  shp_fit_set set = {0};
  double t0 = now_s();
  assert_int_equal(shp_fit_solve(f, &set), SHP_OK);
  printf("free8 x 3 traces (grid %zu): %.2f s, %zu evaluations, %zu "
         "solutions, best chi2 %.1f\n",
         shp_fit_grid(f)->n, now_s() - t0, set.evaluations, set.count,
         set.solutions[0].chi2);
  const shp_fit_solution *b = &set.solutions[0];
  for (size_t i = 0; i < nc; i++) {
    size_t j = shp_fit_index_phase(f, i);
    printf("phase %zu: %.3f (true %.3f) +- %.3f\n", i, b->params[j], eff[i],
           b->sigma[j]);
    assert_true(fabs(shp_wrap_phase(b->params[j] - eff[i])) < 4 * b->sigma[j]);
  }
  shp_fit_set_clear(&set);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* The residual evaluation, which every Levenberg-Marquardt step calls
 * parameter-count times, allocates nothing: not for the model, the
 * diagnostic, nor a new pulse width or GDD. */
static void test_residuals_allocate_nothing(void **state) {
  (void)state;
  if (!alloc_count_enabled())
    skip();
  shp_stack *s = load(EXAMPLES "fan4.yml");
  truth t;
  random_truth(s, 3, &t);
  shp_fit *f = shp_fit_new(s, NULL);
  assert_non_null(f);
  double temps[4][MAXC], delay[NDELAY];
  fit_traces(s, &t, 2, 1.0, f, temps, delay);
  size_t nr = fit_residual_count(f), np = shp_fit_parameter_count(f);
  double *r = calloc(nr, sizeof *r), *u = calloc(np, sizeof *u);
  double chi2 = 0;
  assert_int_equal(fit_residuals(f, u, r, &chi2), SHP_OK);
  size_t before = alloc_count();
  for (size_t k = 0; k < 3; k++) {
    for (size_t j = 0; j < np; j++)
      u[j] = 0.3 * (double)(k + 1) * ((j % 3) - 1.0);
    assert_int_equal(fit_residuals(f, u, r, &chi2), SHP_OK);
  }
  assert_int_equal(alloc_count() - before, 0);
  assert_true(chi2 > 0 && isfinite(chi2));
  free(r);
  free(u);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* A wider solve, seeded with a narrow one's set: never a worse best fit
 * (its seeds are among its starts), the truth among its solutions, and a
 * factor below 2 refused. */
static void test_wider_solve(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  truth t;
  random_truth(s, 7, &t);
  shp_fit_opts o = {.starts = 1, .seed = 1};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  double temps[4][MAXC], delay[NDELAY];
  fit_traces(s, &t, 3, 1.5, f, temps, delay);
  shp_fit_set narrow = {0}, wide = {0};
  assert_int_equal(shp_fit_solve(f, &narrow), SHP_OK);
  assert_int_equal(shp_fit_solve_wider(f, &narrow, 1, &wide), SHP_ERR_INVALID);
  shp_fit_set_clear(&wide);
  assert_int_equal(shp_fit_solve_wider(f, &narrow, 12, &wide), SHP_OK);
  printf("best chi2: narrow %.2f (%zu solutions), wider %.2f (%zu)\n",
         narrow.solutions[0].chi2, narrow.count, wide.solutions[0].chi2,
         wide.count);
  assert_true(wide.solutions[0].chi2 <= narrow.solutions[0].chi2 + 1e-6);
  double eff[MAXC];
  effective_phases(s, &t, eff);
  bool found = false;
  for (size_t k = 0; k < wide.count && !found; k++) {
    bool all = true;
    for (size_t i = 0; i < s->crystal_count; i++) {
      size_t j = shp_fit_index_phase(f, i);
      all = all && fabs(shp_wrap_phase(wide.solutions[k].params[j] - eff[i])) <
                       4 * wide.solutions[k].sigma[j];
    }
    found = all;
  }
  assert_true(found);
  shp_fit_set_clear(&narrow);
  shp_fit_set_clear(&wide);
  shp_fit_free(f);
  shp_stack_free(s);
}

/* The target's trace: a single Gaussian of FWHM w has a Gaussian
 * intensity autocorrelation of FWHM sqrt(2) w (e.g. Trebino, Frequency-
 * Resolved Optical Gating, 2000, ch. 3); a rising and a falling ramp share
 * one (the autocorrelation is blind to time's direction); and the trace
 * error ignores the instrument's amplitude and background. */
static void test_target_trace(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "fan4.yml");
  shp_fit_opts o = {.starts = 1};
  shp_fit *f = shp_fit_new(s, &o);
  assert_non_null(f);
  enum { N = 241 };
  double axis[N], y[N], y2[N];
  for (size_t k = 0; k < N; k++)
    axis[k] = -6.0 + 0.05 * (double)k;
  shp_target g = {.shape = SHP_TARGET_GAUSSIAN_TRAIN,
                  .count = 1,
                  .spacing_ps = 0,
                  .pulse_fwhm_ps = 1.5,
                  .duration_ps = 1.5};
  assert_int_equal(shp_fit_target_trace(f, &shp_fit_model_ac, &g, axis, N, y),
                   SHP_OK);
  double worst = 0, w = 1.5 * sqrt(2.0);
  for (size_t k = 0; k < N; k++) {
    double want = exp(-4 * log(2.0) * axis[k] * axis[k] / (w * w));
    worst = fmax(worst, fabs(y[k] - want));
  }
  printf("gaussian target's autocorrelation: worst difference %.2e\n", worst);
  assert_true(worst < 1e-3);
  shp_target up = {
      .shape = SHP_TARGET_RAMP, .duration_ps = 5.0, .rise_time_ps = 2.0};
  shp_target down = up;
  down.falling = true;
  assert_int_equal(shp_fit_target_trace(f, &shp_fit_model_ac, &up, axis, N, y),
                   SHP_OK);
  assert_int_equal(
      shp_fit_target_trace(f, &shp_fit_model_ac, &down, axis, N, y2), SHP_OK);
  double peak = 0, mirror = 0;
  for (size_t k = 0; k < N; k++) {
    mirror = fmax(mirror, fabs(y[k] - y2[k]));
    peak = fmax(peak, y[k]);
  }
  printf("rising vs falling ramp's autocorrelation: %.2e\n", mirror);
  assert_true(mirror < 1e-4);
  assert_true(fabs(peak - 1.0) < 1e-12);
  /* The error: 0 under any amplitude and background; a flat measurement
   * leaves the reference's RMS about its mean, over its peak. */
  double m[N], flat[N], mean = 0, ss = 0;
  for (size_t k = 0; k < N; k++) {
    m[k] = 3.0 * y[k] + 0.5;
    flat[k] = 0.25;
    mean += y[k] / N;
  }
  for (size_t k = 0; k < N; k++)
    ss += (y[k] - mean) * (y[k] - mean);
  assert_true(shp_trace_error(m, y, N) < 1e-12);
  assert_true(fabs(shp_trace_error(flat, y, N) - sqrt(ss / N)) < 1e-12);
  assert_true(isnan(shp_trace_error(m, y, 1)));
  shp_fit_free(f);
  shp_stack_free(s);
}

int main(void) {
  /* Measured plans differ from run to run in their last bits, and a
   * search follows them: estimate, so every run takes the same path. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recovers_hidden_errors),
      cmocka_unit_test(test_time_reversal_twin_kept_until_ruled_out),
      cmocka_unit_test(test_invisible_phase_is_prior_only),
      cmocka_unit_test(test_plugged_in_diagnostic),
      cmocka_unit_test(test_invalid_inputs),
      cmocka_unit_test(test_eight_plates),
      cmocka_unit_test(test_residuals_allocate_nothing),
      cmocka_unit_test(test_target_trace),
      cmocka_unit_test(test_wider_solve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
