/* The model of a measured autocorrelation and its least-squares fit; the
 * identifiability report is in acfit-report.c. */
#include "acfit-private.h"

#include "qrng-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_qrng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The weight of the prior against one trace sample's relative residual: a
 * phase one prior sigma away costs as much as one sample 0.3 % off, so the
 * prior only decides between fits the traces cannot tell apart. */
#define PRIOR_WEIGHT 3e-3
/* Allowed pulse width scales; the grid is made to hold both ends. */
#define WIDTH_MIN 0.6
#define WIDTH_MAX 1.6

/* ---- lifecycle ------------------------------------------------------------
 */

static int make_grid(shp_acfit *f) {
  const shp_stack *s = f->stack;
  if (s->has_grid || s->pulse.shape == SHP_PULSE_SPECTRUM)
    return shp_stack_grid(s, 0.0, &f->grid);
  /* Fine enough for the narrowest pulse the fit may try, long enough for
   * the widest. */
  shp_pulse narrow = s->pulse, wide = s->pulse;
  narrow.fwhm_ps *= WIDTH_MIN;
  wide.fwhm_ps *= WIDTH_MAX;
  shp_grid_needs needs, wneeds;
  int rc =
      shp_pulse_needs(&narrow, &needs.pulse_fwhm_ps, &needs.pulse_extent_ps);
  if (rc == SHP_OK)
    rc = shp_pulse_needs(&wide, &wneeds.pulse_fwhm_ps, &wneeds.pulse_extent_ps);
  if (rc == SHP_OK)
    rc = shp_path_delay_span_ps(&f->path, s->pulse.center_wavelength_nm,
                                &needs.delay_span_ps);
  if (rc != SHP_OK)
    return rc;
  needs.pulse_extent_ps = wneeds.pulse_extent_ps;
  return shp_grid_choose(&needs, s->pulse.center_wavelength_nm, &f->grid);
}

static int model_slopes(shp_acfit *f) {
  const shp_stack *s = f->stack;
  for (size_t i = 0; i < f->nc; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    shp_material_props p;
    int rc = shp_material_props_at(c->material, s->pulse.center_wavelength_nm,
                                   c->temperature_c, c->length_mm, &p);
    if (rc != SHP_OK)
      return rc;
    f->slope[i] = p.dphase_dT_rad_per_K_per_mm * c->length_mm;
    f->tref[i] = c->temperature_c;
  }
  return SHP_OK;
}

shp_acfit *shp_acfit_new(const shp_stack *stack, const shp_acfit_opts *opts) {
  shp_gsl_guard();
  if (stack == NULL || stack->crystal_count == 0) {
    shp_error_set(SHP_ERR_INVALID, "a fit needs a stack with crystals");
    return NULL;
  }
  shp_acfit *f = calloc(1, sizeof *f);
  if (f == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  f->stack = stack;
  f->nc = stack->crystal_count;
  if (opts != NULL)
    f->opts = *opts;
  if (!(f->opts.prior_sigma_rad > 0))
    f->opts.prior_sigma_rad = 1.0;
  if (f->opts.starts == 0)
    f->opts.starts = 8;
  if (f->opts.max_iterations == 0)
    f->opts.max_iterations = 60;
  f->fit_width =
      !f->opts.fixed_pulse_width && stack->pulse.shape != SHP_PULSE_SPECTRUM;
  f->fit_delay = !f->opts.fixed_delay;
  f->slope_of = calloc(f->nc, sizeof *f->slope_of);
  f->dslope = calloc(f->nc, sizeof *f->dslope);
  if (f->slope_of != NULL && f->opts.fit_phase_slope)
    for (size_t i = 0; i < f->nc; i++)
      if (f->opts.slope_mask == NULL || f->opts.slope_mask[i])
        f->slope_of[f->ns++] = i;
  f->opts.slope_mask = NULL; /* used */
  f->np = f->nc + f->ns + (f->fit_width ? 1 : 0) + (f->fit_delay ? 2 : 0);
  f->elements = calloc(f->nc, sizeof *f->elements);
  f->slope = calloc(f->nc, sizeof *f->slope);
  f->tref = calloc(f->nc, sizeof *f->tref);
  f->prior = calloc(f->nc, sizeof *f->prior);
  f->vt = calloc(f->np * f->np, sizeof *f->vt);
  if (f->elements == NULL || f->slope == NULL || f->tref == NULL ||
      f->slope_of == NULL || f->dslope == NULL || f->prior == NULL ||
      f->vt == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    shp_acfit_free(f);
    return NULL;
  }
  shp_stack_path(stack, f->elements, &f->path);
  for (size_t i = 0; i < f->nc; i++)
    f->prior[i] = f->opts.prior_rad ? f->opts.prior_rad[i]
                                    : stack->crystals[i].phase_offset_rad;
  f->opts.prior_rad = NULL; /* copied */
  f->pulse = stack->pulse;
  int rc = make_grid(f);
  if (rc == SHP_OK)
    rc = model_slopes(f);
  if (rc != SHP_OK) {
    if (stack->path != NULL)
      shp_error_prefix("%s: ", stack->path);
    shp_acfit_free(f);
    return NULL;
  }
  size_t n = f->grid.n;
  f->input = fftw_alloc_complex(n);
  f->field = shp_field_new(n);
  f->intensity = calloc(n, sizeof *f->intensity);
  f->ac = calloc(2 * n, sizeof *f->ac);
  f->diag = shp_diag_new(n);
  f->prop = f->diag ? shp_propagator_new(&f->grid, &f->path) : NULL;
  if (f->input == NULL || f->field == NULL || f->intensity == NULL ||
      f->ac == NULL || f->prop == NULL) {
    if (f->diag != NULL && f->prop != NULL)
      shp_error_set(SHP_ERR_NOMEM, "out of memory");
    shp_acfit_free(f);
    return NULL;
  }
  f->width = -1; /* the input is filled on first use */
  return f;
}

void shp_acfit_reset(shp_acfit *f) {
  for (size_t m = 0; m < f->nm; m++) {
    free(f->meas[m].temps);
    free(f->meas[m].delay);
    free(f->meas[m].signal);
  }
  f->nm = 0;
  f->npoints = 0;
}

void shp_acfit_free(shp_acfit *f) {
  if (f == NULL)
    return;
  shp_acfit_reset(f);
  free(f->meas);
  free(f->elements);
  free(f->slope);
  free(f->slope_of);
  free(f->dslope);
  free(f->tref);
  free(f->prior);
  free(f->vt);
  free(f->model);
  free(f->rbuf);
  if (f->input != NULL)
    fftw_free(f->input);
  shp_field_free(f->field);
  free(f->intensity);
  free(f->ac);
  shp_diag_free(f->diag);
  shp_propagator_free(f->prop);
  free(f);
}

int shp_acfit_add(shp_acfit *f, const shp_ac_measurement *m) {
  if (m == NULL || m->count < 8 || m->temperatures_c == NULL ||
      m->delay_ps == NULL || m->signal == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "a trace needs at least 8 samples and the "
                         "temperatures it was taken at");
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < m->count; k++) {
    if (!isfinite(m->delay_ps[k]) || !isfinite(m->signal[k]))
      return shp_error_set(SHP_ERR_INVALID,
                           "trace sample %zu is not a finite number", k);
    lo = fmin(lo, m->signal[k]);
    hi = fmax(hi, m->signal[k]);
  }
  for (size_t i = 0; i < f->nc; i++)
    if (!isfinite(m->temperatures_c[i]))
      return shp_error_set(SHP_ERR_INVALID,
                           "crystals[%zu]: temperature is not finite", i);
  if (!(hi > lo))
    return shp_error_set(SHP_ERR_INVALID, "the trace is flat");
  acfit_meas *grown = realloc(f->meas, (f->nm + 1) * sizeof *grown);
  if (grown == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  f->meas = grown;
  acfit_meas *a = &f->meas[f->nm];
  *a = (acfit_meas){.count = m->count, .span = hi - lo};
  a->temps = malloc(f->nc * sizeof *a->temps);
  a->delay = malloc(m->count * sizeof *a->delay);
  a->signal = malloc(m->count * sizeof *a->signal);
  double *model = realloc(f->model, (f->npoints + m->count) * sizeof *model);
  if (model != NULL)
    f->model = model;
  double *rbuf =
      realloc(f->rbuf, (f->npoints + m->count + 2 * f->nc) * sizeof *rbuf);
  if (rbuf != NULL)
    f->rbuf = rbuf;
  if (a->temps == NULL || a->delay == NULL || a->signal == NULL ||
      model == NULL || rbuf == NULL) {
    free(a->temps);
    free(a->delay);
    free(a->signal);
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  memcpy(a->temps, m->temperatures_c, f->nc * sizeof *a->temps);
  memcpy(a->delay, m->delay_ps, m->count * sizeof *a->delay);
  memcpy(a->signal, m->signal, m->count * sizeof *a->signal);
  f->nm++;
  f->npoints += m->count;
  return SHP_OK;
}

size_t shp_acfit_count(const shp_acfit *f) { return f->nm; }

/* ---- the model ------------------------------------------------------------
 */

void acfit_unpack(const shp_acfit *f, const double *p, acfit_params *q) {
  size_t k = 0;
  q->phase = p;
  k += f->nc;
  q->dslope = NULL;
  if (f->ns > 0) {
    for (size_t i = 0; i < f->nc; i++)
      f->dslope[i] = 0.0;
    for (size_t j = 0; j < f->ns; j++)
      f->dslope[f->slope_of[j]] = p[k + j];
    q->dslope = f->dslope;
    k += f->ns;
  }
  q->width = f->fit_width ? exp(p[k++]) : 1.0;
  q->delay_scale = f->fit_delay ? p[k] : 1.0;
  q->delay_offset = f->fit_delay ? p[k + 1] : 0.0;
}

/* The model's background-free trace at these temperatures, peak 1, on the
 * grid's 2n delays. */
int acfit_model_ac(shp_acfit *f, const acfit_params *q, const double *temps) {
  double width = fmin(fmax(q->width, WIDTH_MIN), WIDTH_MAX);
  if (width != f->width) {
    f->pulse.fwhm_ps = f->stack->pulse.fwhm_ps * width;
    int rc = shp_pulse_fill(&f->pulse, &f->grid, f->input);
    if (rc != SHP_OK)
      return rc;
    f->width = width;
  }
  for (size_t i = 0; i < f->nc; i++) {
    shp_crystal *c = &f->elements[i].crystal;
    double dt = temps[i] - f->tref[i];
    c->temperature_c = temps[i];
    c->phase_offset_rad = q->phase[i] + (q->dslope ? q->dslope[i] * dt : 0.0);
  }
  int rc = shp_propagator_apply(f->prop, &f->path, f->input, f->field);
  if (rc == SHP_OK) {
    shp_field_intensity(f->field, NULL, NULL, f->intensity);
    rc = shp_diag_autocorrelation(f->diag, f->intensity, SHP_AC_BACKGROUND_FREE,
                                  f->ac);
  }
  f->evaluations++;
  return rc;
}

/* The model trace at a measured delay, linear between grid delays and zero
 * beyond the grid (as the simulated instrument samples it). */
double acfit_ac_at(const shp_acfit *f, const acfit_params *q, double tau) {
  size_t n = f->grid.n;
  double x = (q->delay_scale * tau + q->delay_offset) / f->grid.dt + (double)n;
  if (!(x >= 0) || x >= (double)(2 * n - 1))
    return 0.0;
  size_t j = (size_t)x;
  double w = x - (double)j;
  return (1 - w) * f->ac[j] + w * f->ac[j + 1];
}

/* Least-squares amplitude and background of y against model values x. */
static void linear_fit(const double *x, const double *y, size_t n, double *a,
                       double *b) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t k = 0; k < n; k++) {
    sx += x[k];
    sy += y[k];
    sxx += x[k] * x[k];
    sxy += x[k] * y[k];
  }
  double det = (double)n * sxx - sx * sx;
  if (fabs(det) < 1e-300) {
    *a = 0;
    *b = sy / (double)n;
    return;
  }
  *a = ((double)n * sxy - sx * sy) / det;
  *b = (sy - *a * sx) / (double)n;
}

/* Residuals of every trace (relative to its span) and the prior's, for a
 * parameter vector; the amplitudes and backgrounds when asked. */
int acfit_residuals(shp_acfit *f, const double *p, double *r, double *amp,
                    double *bg) {
  acfit_params q;
  acfit_unpack(f, p, &q);
  size_t k0 = 0;
  for (size_t m = 0; m < f->nm; m++) {
    const acfit_meas *a = &f->meas[m];
    int rc = acfit_model_ac(f, &q, a->temps);
    if (rc != SHP_OK)
      return rc;
    double *x = f->model + k0;
    for (size_t k = 0; k < a->count; k++)
      x[k] = acfit_ac_at(f, &q, a->delay[k]);
    double am, b;
    linear_fit(x, a->signal, a->count, &am, &b);
    if (amp != NULL)
      amp[m] = am;
    if (bg != NULL)
      bg[m] = b;
    for (size_t k = 0; k < a->count; k++)
      r[k0 + k] = (am * x[k] + b - a->signal[k]) / a->span;
    k0 += a->count;
  }
  double *prior = r + k0;
  for (size_t i = 0; i < f->nc; i++)
    prior[i] = PRIOR_WEIGHT * shp_wrap_phase(q.phase[i] - f->prior[i]) /
               f->opts.prior_sigma_rad;
  for (size_t j = 0; j < f->ns; j++) {
    size_t i = f->slope_of[j];
    prior[f->nc + j] = PRIOR_WEIGHT * q.dslope[i] / (0.1 * fabs(f->slope[i]));
  }
  return SHP_OK;
}

size_t acfit_residual_count(const shp_acfit *f) {
  return f->npoints + f->nc + f->ns;
}

/* ---- least squares ------------------------------------------------------- */

/* Note where the first non-finite residual of a solve was: trace and
 * sample, or the prior. */
static void note_nonfinite(shp_acfit *f, size_t k) {
  if (f->nonfinite)
    return;
  f->nonfinite = true;
  size_t m = 0;
  while (m < f->nm && k >= f->meas[m].count)
    k -= f->meas[m++].count;
  f->nonfinite_trace = m;
  f->nonfinite_sample = k;
}

/* A residual that is not finite is a failed evaluation for GSL (GSL_EDOM),
 * never a number it computes with: Levenberg-Marquardt then ends at its
 * last good point, or the start counts as failed. */
static int lm_f(const gsl_vector *x, void *user, gsl_vector *fv) {
  shp_acfit *f = user;
  /* GSL's finite-difference Jacobian hands in a column of J, strided. */
  double *r = fv->stride == 1 ? fv->data : f->rbuf;
  int rc = acfit_residuals(f, x->data, r, NULL, NULL);
  for (size_t k = 0; rc == SHP_OK && k < fv->size; k++) {
    if (!isfinite(r[k])) {
      note_nonfinite(f, k);
      rc = SHP_ERR_NUMERIC;
    } else if (r != fv->data) {
      gsl_vector_set(fv, k, r[k]);
    }
  }
  return rc == SHP_OK ? GSL_SUCCESS : GSL_EDOM;
}

double acfit_cost(shp_acfit *f, const double *p, double *r) {
  if (acfit_residuals(f, p, r, NULL, NULL) != SHP_OK)
    return INFINITY;
  double c = 0;
  size_t nr = acfit_residual_count(f);
  for (size_t k = 0; k < nr; k++)
    c += r[k] * r[k];
  return c;
}

/* One Levenberg-Marquardt run from p (updated in place); the final cost,
 * or INFINITY when the model failed. */
double acfit_lm(shp_acfit *f, double *p, size_t iterations) {
  size_t nr = acfit_residual_count(f);
  gsl_multifit_nlinear_fdf fdf = {
      .f = lm_f, .df = NULL, .fvv = NULL, .n = nr, .p = f->np, .params = f};
  gsl_multifit_nlinear_parameters fp =
      gsl_multifit_nlinear_default_parameters();
  fp.h_df = 1e-7;
  gsl_multifit_nlinear_workspace *w =
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, nr, f->np);
  if (w == NULL)
    return INFINITY;
  gsl_vector_view x0 = gsl_vector_view_array(p, f->np);
  double cost = INFINITY;
  if (gsl_multifit_nlinear_init(&x0.vector, &fdf, w) == GSL_SUCCESS) {
    int info;
    gsl_multifit_nlinear_driver(iterations, 1e-9, 1e-9, 1e-12, NULL, NULL,
                                &info, w);
    gsl_vector *x = gsl_multifit_nlinear_position(w);
    gsl_vector *r = gsl_multifit_nlinear_residual(w);
    double c;
    gsl_blas_ddot(r, r, &c);
    bool finite = isfinite(c);
    for (size_t i = 0; finite && i < f->np; i++)
      finite = isfinite(gsl_vector_get(x, i));
    if (finite) {
      memcpy(p, x->data, f->np * sizeof *p);
      cost = c;
    }
  }
  gsl_multifit_nlinear_free(w);
  return cost;
}

/* The starting vector: phases from the prior, the nominal width and delay
 * calibration. */
void acfit_start(const shp_acfit *f, const double *phase, double *p) {
  size_t k = 0;
  for (size_t i = 0; i < f->nc; i++)
    p[k++] = phase[i];
  for (size_t j = 0; j < f->ns; j++)
    p[k++] = 0.0;
  if (f->fit_width)
    p[k++] = 0.0; /* log of the scale */
  if (f->fit_delay) {
    p[k++] = 1.0;
    p[k++] = 0.0;
  }
}

/* The mirror of a solution: conjugate carrier phases, -(phi + Gamma_0(T)),
 * give the same intensity (the replica amplitudes are conjugated, their
 * delays kept), so one trace cannot tell them apart. */
int acfit_mirror(const shp_acfit *f, const double *phase, const double *temps,
                 double *mirror) {
  const shp_stack *s = f->stack;
  for (size_t i = 0; i < f->nc; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    shp_material_props pr;
    int rc = shp_material_props_at(c->material, s->pulse.center_wavelength_nm,
                                   temps[i], c->length_mm, &pr);
    if (rc != SHP_OK)
      return rc;
    mirror[i] = shp_wrap_phase(-phase[i] - 2 * pr.phase_delay_rad);
  }
  return SHP_OK;
}

int shp_acfit_solve(shp_acfit *f, shp_acfit_result *result) {
  if (f->nm == 0)
    return shp_error_set(SHP_ERR_INVALID, "nothing to fit: no traces");
  size_t np = f->np, nr = acfit_residual_count(f);
  double *best = calloc(np, sizeof *best), *p = calloc(np, sizeof *p);
  double *r = calloc(nr, sizeof *r), *start = calloc(f->nc, sizeof *start);
  double *mirror = calloc(np, sizeof *mirror);
  gsl_qrng *q = shp_qrng_new(f->nc, "fit");
  int rc = SHP_OK;
  if (q == NULL) {
    rc = shp_error_last();
    goto done;
  }
  if (best == NULL || p == NULL || r == NULL || start == NULL ||
      mirror == NULL) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  f->evaluations = 0;
  f->nonfinite = false;
  /* Explore from every start briefly, polish the best. The first start is
   * the prior; the others spread over the phase torus around it. */
  double best_cost = INFINITY;
  size_t skip = f->opts.seed % 64;
  for (size_t k = 0; k < skip; k++)
    gsl_qrng_get(q, start);
  for (size_t s = 0; s < f->opts.starts; s++) {
    if (s > 0)
      gsl_qrng_get(q, start);
    for (size_t i = 0; i < f->nc; i++)
      start[i] = s == 0 ? f->prior[i]
                        : shp_wrap_phase(f->prior[i] + SHP_TWO_PI * start[i]);
    acfit_start(f, start, p);
    double c = acfit_lm(f, p, s == 0 ? f->opts.max_iterations : 12);
    if (c < best_cost) {
      best_cost = c;
      memcpy(best, p, np * sizeof *p);
    }
  }
  if (!isfinite(best_cost) && f->nonfinite && f->nonfinite_trace < f->nm) {
    rc = shp_error_set(SHP_ERR_NUMERIC,
                       "the model fit found no solution: the residual of "
                       "trace %zu, sample %zu is not finite from every one "
                       "of %zu starts (a trace beyond the range of doubles?)",
                       f->nonfinite_trace + 1, f->nonfinite_sample + 1,
                       f->opts.starts);
    goto done;
  }
  if (!isfinite(best_cost)) {
    rc = shp_error_set(SHP_ERR_NUMERIC,
                       "the model fit found no solution from any of %zu "
                       "starts",
                       f->opts.starts);
    goto done;
  }
  double polished = acfit_lm(f, best, f->opts.max_iterations);
  if (isfinite(polished))
    best_cost = polished;
  /* The mirror of the best at the first trace's temperatures: if it fits as
   * well, the traces cannot decide, and the prior has. */
  memcpy(mirror, best, np * sizeof *best);
  if (acfit_mirror(f, best, f->meas[0].temps, mirror) == SHP_OK) {
    double mc = acfit_lm(f, mirror, f->opts.max_iterations);
    if (mc < best_cost) {
      double *t = best;
      best = mirror;
      mirror = t;
      double tc = best_cost;
      best_cost = mc;
      mc = tc;
    }
    result->ambiguous = acfit_same_fit(f, best_cost, mc) &&
                        acfit_phase_distance(f, best, mirror) > 0.2;
  }
  rc = acfit_fill_result(f, best, result);
  if (rc == SHP_OK && result->ambiguous) {
    result->alternative_rad = calloc(f->nc, sizeof *result->alternative_rad);
    if (result->alternative_rad == NULL)
      rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    else
      for (size_t i = 0; i < f->nc; i++)
        result->alternative_rad[i] = shp_wrap_phase(mirror[i]);
  }
  if (rc == SHP_OK)
    acfit_report(f, result);
done:
  gsl_qrng_free(q);
  free(best);
  free(p);
  free(r);
  free(start);
  free(mirror);
  return rc;
}

/* ---- using a fit ----------------------------------------------------------
 */

/* The parameter vector of a result (what acfit_fill_result unpacked). */
static void params_of(const shp_acfit *f, const shp_acfit_result *fit,
                      double *phase, acfit_params *q) {
  for (size_t i = 0; i < f->nc; i++)
    phase[i] = fit ? fit->phase_offset_rad[i] : f->prior[i];
  q->phase = phase;
  q->dslope = NULL;
  q->width = fit ? fit->pulse_width_scale : 1.0;
  q->delay_scale = fit ? fit->delay_scale : 1.0;
  q->delay_offset = fit ? fit->delay_offset_ps : 0.0;
}

int shp_acfit_predict(shp_acfit *f, const shp_acfit_result *fit,
                      const double *temperatures_c, const double *delay_ps,
                      size_t count, double *ac) {
  double *phase = calloc(2 * f->nc, sizeof *phase);
  if (phase == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  acfit_params q;
  params_of(f, fit, phase, &q);
  if (fit != NULL && fit->slope_change_rad_per_k != NULL) {
    /* A fitted slope change. */
    double *ds = phase + f->nc;
    bool any = false;
    for (size_t i = 0; i < f->nc; i++) {
      ds[i] = fit->slope_change_rad_per_k[i];
      any = any || ds[i] != 0;
    }
    q.dslope = any ? ds : NULL;
  }
  int rc = acfit_model_ac(f, &q, temperatures_c);
  if (rc == SHP_OK)
    for (size_t k = 0; k < count; k++)
      ac[k] = acfit_ac_at(f, &q, delay_ps[k]);
  free(phase);
  return rc;
}

int shp_acfit_target_ac(shp_acfit *f, const shp_acfit_result *fit,
                        const shp_target *target, const double *delay_ps,
                        size_t count, double *ac) {
  int rc = shp_target_sample(target, &f->grid, f->intensity, NULL);
  if (rc == SHP_OK)
    rc = shp_diag_autocorrelation(f->diag, f->intensity, SHP_AC_BACKGROUND_FREE,
                                  f->ac);
  if (rc != SHP_OK)
    return rc;
  double phase[1] = {0};
  acfit_params q;
  q.phase = phase;
  q.dslope = NULL;
  q.width = 1.0;
  q.delay_scale = fit ? fit->delay_scale : 1.0;
  q.delay_offset = fit ? fit->delay_offset_ps : 0.0;
  for (size_t k = 0; k < count; k++)
    ac[k] = acfit_ac_at(f, &q, delay_ps[k]);
  return SHP_OK;
}

void shp_acfit_apply(const shp_acfit_result *fit, shp_stack *s) {
  for (size_t i = 0; i < s->crystal_count && i < fit->crystal_count; i++) {
    shp_stack_crystal *c = &s->crystals[i];
    /* The fit's change is about the stack's temperature; the stack's
     * correction is about the material's reference temperature. */
    double ds =
        fit->slope_change_rad_per_k ? fit->slope_change_rad_per_k[i] : 0.0;
    double t0 = shp_material_reference_temperature_c(c->material);
    c->phase_offset_rad =
        shp_wrap_phase(fit->phase_offset_rad[i] - ds * (c->temperature_c - t0));
    c->has_phase_offset = true;
    if (ds != 0) {
      c->slope_correction_rad_per_k += ds;
      c->has_slope_correction = true;
    }
  }
  if (s->pulse.shape != SHP_PULSE_SPECTRUM)
    s->pulse.fwhm_ps *= fit->pulse_width_scale;
}

double shp_ac_error(const double *measured, const double *reference,
                    size_t count) {
  if (count < 2)
    return NAN;
  double a, b;
  linear_fit(measured, reference, count, &a, &b);
  double peak = 0, sum = 0;
  for (size_t k = 0; k < count; k++) {
    double d = a * measured[k] + b - reference[k];
    sum += d * d;
    peak = fmax(peak, fabs(reference[k]));
  }
  return peak > 0 ? sqrt(sum / (double)count) / peak : NAN;
}
