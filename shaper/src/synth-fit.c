/* Taps for a target waveform: Levenberg-Marquardt on the intensity
 * residuals (shp_synth_fit, shp_synth_fit_error). */
#include "synth-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_qrng.h>
#include <gsl/gsl_spline.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- taps for a target waveform ------------------------------------------ */

typedef struct {
  const shp_synth_fit_problem *p;
  size_t nk;             /* taps */
  double *basis;         /* count x nk: e(t_j - (k - M/2) tau) */
  double *target;        /* normalised to a peak of 1 */
  double complex *field; /* count */
  double complex *taps;  /* nk, scratch */
  bool real;
  size_t fixed; /* the tap whose imaginary part is held at 0 */
} fit_ctx;

static int check_problem(const shp_synth_fit_problem *p) {
  if (p == NULL || p->target == NULL || p->envelope == NULL || p->count < 4 ||
      p->order == 0 || p->order > MAX_PASSES || !(p->dt_ps > 0) ||
      !isfinite(p->dt_ps) || !isfinite(p->t0_ps) || !isfinite(p->tau_ps))
    return shp_error_set(SHP_ERR_INVALID,
                         "fit: need a target and an envelope of at least 4 "
                         "samples, dt_ps > 0, finite t0_ps and tau_ps, and "
                         "an order of 1 to %d",
                         MAX_PASSES);
  for (size_t j = 0; j < p->count; j++)
    if (!isfinite(p->target[j]) || !isfinite(p->envelope[j]))
      return shp_error_set(SHP_ERR_INVALID,
                           "fit: sample %zu of the target or envelope is not "
                           "finite",
                           j);
  return SHP_OK;
}

static void fit_ctx_clear(fit_ctx *c) {
  free(c->basis);
  free(c->target);
  free(c->field);
  free(c->taps);
}

/* The envelope shifted to every replica, by a cubic spline through its
 * samples and 0 outside the axis. */
static int fill_basis(fit_ctx *c) {
  const shp_synth_fit_problem *p = c->p;
  double *t = malloc(p->count * sizeof *t);
  gsl_spline *sp = gsl_spline_alloc(gsl_interp_cspline, p->count);
  gsl_interp_accel *acc = gsl_interp_accel_alloc();
  int st = t == NULL || sp == NULL || acc == NULL ? GSL_ENOMEM : GSL_SUCCESS;
  for (size_t j = 0; st == GSL_SUCCESS && j < p->count; j++)
    t[j] = p->t0_ps + (double)j * p->dt_ps;
  if (st == GSL_SUCCESS)
    st = gsl_spline_init(sp, t, p->envelope, p->count);
  double half = 0.5 * (double)p->order;
  for (size_t j = 0; st == GSL_SUCCESS && j < p->count; j++)
    for (size_t k = 0; st == GSL_SUCCESS && k < c->nk; k++) {
      double x = t[j] - ((double)k - half) * p->tau_ps, v = 0;
      if (x >= t[0] && x <= t[p->count - 1])
        st = gsl_spline_eval_e(sp, x, acc, &v);
      c->basis[j * c->nk + k] = v;
    }
  free(t);
  gsl_spline_free(sp);
  gsl_interp_accel_free(acc);
  if (st == GSL_ENOMEM)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  if (st != GSL_SUCCESS)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "fit: interpolating the envelope "
                         "failed (%s)",
                         gsl_strerror(st));
  return SHP_OK;
}

static int fit_ctx_init(fit_ctx *c, const shp_synth_fit_problem *p, bool real) {
  memset(c, 0, sizeof *c);
  int rc = check_problem(p);
  if (rc != SHP_OK)
    return rc;
  c->p = p;
  c->nk = p->order + 1;
  c->real = real;
  c->basis = malloc(p->count * c->nk * sizeof *c->basis);
  c->target = malloc(p->count * sizeof *c->target);
  c->field = malloc(p->count * sizeof *c->field);
  c->taps = malloc(c->nk * sizeof *c->taps);
  if (!c->basis || !c->target || !c->field || !c->taps)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  double tmax = 0, emax = 0;
  for (size_t j = 0; j < p->count; j++) {
    tmax = fmax(tmax, p->target[j]);
    emax = fmax(emax, fabs(p->envelope[j]));
  }
  if (!(tmax > 0) || !(emax > 0))
    return shp_error_set(SHP_ERR_INVALID, "fit: the target and the envelope "
                                          "must be positive somewhere");
  for (size_t j = 0; j < p->count; j++)
    c->target[j] = p->target[j] / tmax;
  return fill_basis(c);
}

static size_t n_params(const fit_ctx *c) {
  return c->real ? c->nk : 2 * c->nk - 1;
}

static void unpack(const fit_ctx *c, const double *x, double complex *taps) {
  for (size_t k = 0, i = c->nk; k < c->nk; k++)
    taps[k] = x[k] + (c->real || k == c->fixed ? 0.0 : I * x[i++]);
}

/* The parameters of taps, turned first so the fixed tap is real. */
static void pack(const fit_ctx *c, const double complex *taps, double *x) {
  double complex f = taps[c->fixed];
  double complex rot = c->real || f == 0 ? 1 : conj(f) / cabs(f);
  for (size_t k = 0, i = c->nk; k < c->nk; k++) {
    x[k] = creal(taps[k] * rot);
    if (!c->real && k != c->fixed)
      x[i++] = cimag(taps[k] * rot);
  }
}

static void model_field(fit_ctx *c, const double complex *taps) {
  for (size_t j = 0; j < c->p->count; j++) {
    const double *e = c->basis + j * c->nk;
    double complex f = 0;
    for (size_t k = 0; k < c->nk; k++)
      f += taps[k] * e[k];
    c->field[j] = f;
  }
}

static double intensity(double complex f) {
  return creal(f) * creal(f) + cimag(f) * cimag(f);
}

static void load_params(const fit_ctx *c, const gsl_vector *x) {
  double v[2 * MAX_TAPS];
  for (size_t i = 0; i < x->size; i++)
    v[i] = gsl_vector_get(x, i);
  unpack(c, v, c->taps);
}

static int fit_f(const gsl_vector *x, void *params, gsl_vector *f) {
  fit_ctx *c = params;
  load_params(c, x);
  model_field(c, c->taps);
  for (size_t j = 0; j < c->p->count; j++)
    gsl_vector_set(f, j, intensity(c->field[j]) - c->target[j]);
  return GSL_SUCCESS;
}

/* dI_j/d(Re a_k) = 2 e_jk Re f_j and dI_j/d(Im a_k) = 2 e_jk Im f_j. */
static int fit_df(const gsl_vector *x, void *params, gsl_matrix *J) {
  fit_ctx *c = params;
  load_params(c, x);
  model_field(c, c->taps);
  for (size_t j = 0; j < c->p->count; j++) {
    const double *e = c->basis + j * c->nk;
    double fr = 2 * creal(c->field[j]), fi = 2 * cimag(c->field[j]);
    for (size_t k = 0, i = c->nk; k < c->nk; k++) {
      gsl_matrix_set(J, j, k, e[k] * fr);
      if (!c->real && k != c->fixed)
        gsl_matrix_set(J, j, i++, e[k] * fi);
    }
  }
  return GSL_SUCCESS;
}

static double fit_cost(fit_ctx *c, const double complex *taps) {
  model_field(c, taps);
  double s = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double r = intensity(c->field[j]) - c->target[j];
    s += r * r;
  }
  return s;
}

/* The square root of the target at the replica centres (linear
 * interpolation): the taps when replicas do not overlap. */
static void sqrt_start(const fit_ctx *c, double *mag) {
  const shp_synth_fit_problem *p = c->p;
  double any = 0;
  for (size_t k = 0; k < c->nk; k++) {
    double tc = ((double)k - 0.5 * (double)p->order) * p->tau_ps;
    double pos = (tc - p->t0_ps) / p->dt_ps, v = 0;
    if (pos >= 0 && pos <= (double)(p->count - 1)) {
      size_t j = (size_t)pos;
      size_t j1 = j + 1 < p->count ? j + 1 : j;
      double f = pos - (double)j;
      v = c->target[j] * (1 - f) + c->target[j1] * f;
    }
    mag[k] = sqrt(fmax(v, 0.0));
    any = fmax(any, mag[k]);
  }
  for (size_t k = 0; any == 0 && k < c->nk; k++)
    mag[k] = 1;
}

/* Start `which`: 0 the square root of the target, 1 equal taps, then the
 * same magnitudes (at least a tenth of the largest) with quasi-random
 * signs or phases; scaled to the target's least-squares level. */
static int start_taps(fit_ctx *c, size_t which, gsl_qrng *q, const double *mag,
                      double complex *taps) {
  double mmax = 0, qv[MAX_TAPS];
  for (size_t k = 0; k < c->nk; k++)
    mmax = fmax(mmax, mag[k]);
  if (which >= 2 && gsl_qrng_get(q, qv) != GSL_SUCCESS)
    return shp_error_set(SHP_ERR_NUMERIC, "fit: no quasi-random start");
  for (size_t k = 0; k < c->nk; k++) {
    double m = fmax(mag[k], 0.1 * mmax);
    if (which == 0)
      taps[k] = mag[k];
    else if (which == 1)
      taps[k] = mmax;
    else if (c->real)
      taps[k] = qv[k] < 0.5 ? -m : m;
    else
      taps[k] = m * cexp(I * SHP_TWO_PI * qv[k]);
  }
  model_field(c, taps);
  double num = 0, den = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double v = intensity(c->field[j]);
    num += v * c->target[j];
    den += v * v;
  }
  for (size_t k = 0; num > 0 && den > 0 && k < c->nk; k++)
    taps[k] *= sqrt(sqrt(num / den));
  return SHP_OK;
}

/* The error measure against the target as given. */
static void measure(fit_ctx *c, const double complex *taps, double *rms,
                    double *scale) {
  const double *t = c->p->target;
  model_field(c, taps);
  double it = 0, tt = 0, ii = 0, err = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double v = intensity(c->field[j]);
    it += v * t[j];
    tt += t[j] * t[j];
    ii += v * v;
  }
  double s = it / tt;
  for (size_t j = 0; j < c->p->count; j++) {
    double r = intensity(c->field[j]) - s * t[j];
    err += r * r;
  }
  if (rms != NULL)
    *rms = ii > 0 ? sqrt(err / ii) : 1.0;
  if (scale != NULL)
    *scale = s;
}

typedef struct {
  double cost;
  size_t start, iterations;
  int status; /* of the last failed start */
} fit_best;

/* One start: LM from it, keeping the taps in best when they do better. */
static int fit_one(fit_ctx *c, gsl_multifit_nlinear_fdf *fdf, size_t which,
                   size_t maxiter, double complex *t, double complex *best,
                   fit_best *fb) {
  double x[2 * MAX_TAPS];
  pack(c, t, x);
  size_t it = 0;
  int st = synth_run_lm(fdf, x, maxiter, &it);
  if (st != GSL_SUCCESS) {
    fb->status = st;
    return st == GSL_ENOMEM ? shp_error_set(SHP_ERR_NOMEM, "fit: out of memory")
                            : SHP_OK;
  }
  unpack(c, x, t);
  double cost = fit_cost(c, t);
  if (cost < fb->cost) {
    *fb = (fit_best){cost, which, it, fb->status};
    memcpy(best, t, c->nk * sizeof *t);
  }
  return SHP_OK;
}

static int fit_run(fit_ctx *c, const shp_synth_fit_options *o,
                   double complex *best, shp_synth_fit_result *res) {
  double mag[MAX_TAPS], tt = 0;
  sqrt_start(c, mag);
  for (size_t k = 0; k < c->nk; k++)
    c->fixed = mag[k] > mag[c->fixed] ? k : c->fixed;
  for (size_t j = 0; j < c->p->count; j++)
    tt += c->target[j] * c->target[j];
  gsl_qrng *q = o->starts > 2 ? gsl_qrng_alloc(gsl_qrng_halton, c->nk) : NULL;
  if (o->starts > 2 && q == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  gsl_multifit_nlinear_fdf fdf = {.f = fit_f,
                                  .df = fit_df,
                                  .n = c->p->count,
                                  .p = n_params(c),
                                  .params = c};
  fit_best fb = {INFINITY, 0, 0, GSL_SUCCESS};
  double complex t[MAX_TAPS];
  int rc = SHP_OK;
  /* A relative cost of 1e-24 is rounding: no start will do better. */
  for (size_t s = 0; rc == SHP_OK && s < o->starts && !(fb.cost <= 1e-24 * tt);
       s++) {
    rc = start_taps(c, s, q, mag, t);
    if (rc == SHP_OK)
      rc = fit_one(c, &fdf, s, o->max_iterations, t, best, &fb);
  }
  gsl_qrng_free(q);
  if (rc == SHP_OK && !isfinite(fb.cost))
    rc = shp_error_set(SHP_ERR_NUMERIC, "fit: every start failed (%s)",
                       gsl_strerror(fb.status));
  if (rc == SHP_OK)
    rc = shp_synth_taps_normalize(best, c->nk, NULL);
  if (rc == SHP_OK && res != NULL) {
    measure(c, best, &res->rms_error, &res->scale);
    res->start = fb.start;
    res->iterations = fb.iterations;
  }
  return rc;
}

void shp_synth_fit_options_init(shp_synth_fit_options *o) {
  *o = (shp_synth_fit_options){
      .real_taps = false, .starts = 8, .max_iterations = 200};
}

int shp_synth_fit(const shp_synth_fit_problem *p,
                  const shp_synth_fit_options *options, double complex *taps,
                  shp_synth_fit_result *result) {
  shp_gsl_guard();
  shp_synth_fit_options o;
  shp_synth_fit_options_init(&o);
  if (options != NULL)
    o = *options;
  o.starts = o.starts == 0 ? 1 : o.starts;
  o.max_iterations = o.max_iterations == 0 ? 200 : o.max_iterations;
  if (taps == NULL)
    return shp_error_set(SHP_ERR_INVALID, "fit: no tap array");
  fit_ctx c;
  int rc = fit_ctx_init(&c, p, o.real_taps);
  if (rc == SHP_OK && p->count < n_params(&c))
    rc = shp_error_set(SHP_ERR_INVALID,
                       "fit: %zu samples are fewer than the %zu parameters",
                       p->count, n_params(&c));
  if (rc == SHP_OK)
    rc = fit_run(&c, &o, taps, result);
  fit_ctx_clear(&c);
  return rc;
}

int shp_synth_fit_error(const shp_synth_fit_problem *p,
                        const double complex *taps, double *rms_error,
                        double *scale) {
  shp_gsl_guard();
  fit_ctx c;
  int rc = fit_ctx_init(&c, p, true);
  if (rc == SHP_OK)
    rc = synth_check_taps(taps, c.nk);
  if (rc == SHP_OK)
    measure(&c, taps, rms_error, scale);
  fit_ctx_clear(&c);
  return rc;
}
