/* One Levenberg-Marquardt run of the measurement-model fit, the twins a
 * trace cannot tell from a solution, and the data Jacobian. */
#include "fit-private.h"

#include "shp/error.h"
#include "shp/units.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool all_finite(const double *x, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!isfinite(x[k]))
      return false;
  return true;
}

/* ---- least squares ------------------------------------------------------- */

static void note_nonfinite(shp_fit *f, size_t k) {
  if (f->nonfinite)
    return;
  f->nonfinite = true;
  size_t m = 0;
  while (m < f->nt && k >= f->traces[m].count)
    k -= f->traces[m++].count;
  f->nonfinite_trace = m;
  f->nonfinite_sample = k;
}

/* A residual that is not finite is a failed evaluation for GSL (GSL_EDOM),
 * never a number it computes with. GSL varies the active unknowns only;
 * the others stay as f->ufull holds them. */
static int lm_f(const gsl_vector *x, void *user, gsl_vector *fv) {
  shp_fit *f = user;
  for (size_t a = 0; a < f->nactive; a++)
    f->ufull[f->active[a]] = gsl_vector_get(x, a);
  /* GSL's finite-difference Jacobian hands in a column of J, strided. */
  double *r = fv->stride == 1 ? fv->data : f->rbuf;
  int rc = fit_residuals(f, f->ufull, r, NULL);
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

double fit_lm(shp_fit *f, double *u, size_t iterations, double *sig,
              bool explore) {
  size_t nr = fit_residual_count(f), np = f->np;
  if (f->rbuf_size < nr) {
    double *b = realloc(f->rbuf, nr * sizeof *b);
    if (b == NULL)
      return INFINITY;
    f->rbuf = b;
    f->rbuf_size = nr;
  }
  /* Exploring, the azimuth and length errors stay at their values: the
   * traces barely reach them, and leaving them out makes each Jacobian
   * half as dear. */
  f->nactive = 0;
  for (size_t j = 0; j < np; j++) {
    bool error = j >= f->i_az && j < f->i_len + (f->fit_len ? f->nc : 0);
    if (!explore || !error)
      f->active[f->nactive++] = j;
  }
  size_t na = f->nactive;
  memcpy(f->ufull, u, np * sizeof *u);
  double x0d[4 * SHP_STACK_MAX_CRYSTALS + 2 +
             SHP_FIT_MAX_KINDS * SHP_FIT_MAX_MODEL_PARAMS];
  for (size_t a = 0; a < na; a++)
    x0d[a] = u[f->active[a]];
  gsl_multifit_nlinear_fdf fdf = {
      .f = lm_f, .df = NULL, .fvv = NULL, .n = nr, .p = na, .params = f};
  gsl_multifit_nlinear_parameters fp =
      gsl_multifit_nlinear_default_parameters();
  fp.h_df = 1e-6;
  gsl_multifit_nlinear_workspace *w =
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, nr, na);
  if (w == NULL)
    return INFINITY;
  gsl_vector_view x0 = gsl_vector_view_array(x0d, na);
  double cost = INFINITY;
  if (gsl_multifit_nlinear_init(&x0.vector, &fdf, w) == GSL_SUCCESS) {
    int info;
    gsl_multifit_nlinear_driver(iterations, 1e-8, 1e-8, 1e-10, NULL, NULL,
                                &info, w);
    gsl_vector *x = gsl_multifit_nlinear_position(w);
    gsl_vector *r = gsl_multifit_nlinear_residual(w);
    double c;
    gsl_blas_ddot(r, r, &c);
    if (isfinite(c) && all_finite(x->data, na)) {
      for (size_t a = 0; a < na; a++)
        u[f->active[a]] = gsl_vector_get(x, a);
      cost = c;
    }
    if (sig != NULL)
      for (size_t j = 0; j < np; j++)
        sig[j] = 1.0; /* the prior's, where not fitted */
    gsl_matrix *cov = sig ? gsl_matrix_alloc(na, na) : NULL;
    if (cov != NULL && isfinite(cost) &&
        gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov) ==
            GSL_SUCCESS)
      for (size_t a = 0; a < na; a++)
        sig[f->active[a]] = sqrt(fmax(gsl_matrix_get(cov, a, a), 0.0));
    gsl_matrix_free(cov);
  }
  gsl_multifit_nlinear_free(w);
  return cost;
}

/* Conjugate carrier phases, -(phi + Gamma_0(T)), give the same intensity at
 * T (the replica amplitudes are conjugated, their delays kept), so a trace
 * at T cannot tell them apart; other temperatures can. */
int fit_conjugate(shp_fit *f, double *u, const double *temps) {
  const shp_stack *s = f->stack;
  fit_unpack(f, u);
  for (size_t i = 0; i < f->nc; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    shp_material_props pr;
    int rc = shp_material_props_at(c->material, s->pulse.center_wavelength_nm,
                                   temps[i], c->length_mm, &pr);
    if (rc != SHP_OK)
      return rc;
    /* The slope term stays; the whole offset at T is mirrored. */
    double ds = 0;
    for (size_t j = 0; j < f->ns; j++)
      if (f->slope_of[j] == i)
        ds = f->phys[f->i_slope + j] * (temps[i] - f->tref[i]);
    double phi = f->phys[i] + ds;
    double twin = -phi - 2 * pr.phase_delay_rad - ds;
    u[i] = shp_wrap_phase(twin - f->mean[i]) / f->sigma[i];
  }
  return SHP_OK;
}

/* The e-o carrier phase of crystal i at temperature t with the stack's
 * length. */
static int carrier(const shp_fit *f, size_t i, double t, double *gamma) {
  const shp_stack *s = f->stack;
  const shp_stack_crystal *c = &s->crystals[i];
  shp_material_props pr;
  int rc = shp_material_props_at(c->material, s->pulse.center_wavelength_nm, t,
                                 c->length_mm, &pr);
  *gamma = pr.phase_delay_rad;
  return rc;
}

/* Swapping every crystal's fast and slow axes conjugates each retardance,
 * so the transfer function becomes its conjugate and a transform-limited
 * pulse comes out reversed in time. A stack whose azimuths are mirror
 * images about 45 degrees (theta_i + theta_{N+1-i} = 90, as designs are)
 * between parallel polarizers turns the swapped stack back into itself
 * with the retardances in reverse order (negate every azimuth, then read
 * the symmetric Jones product backwards). So the time-reversed pulse has
 * Gamma'_i = Gamma_{N+1-i}: a twin the autocorrelation cannot see. Where
 * the stack is not symmetric this is only a start the fit polishes. The
 * azimuth and length errors go back to their priors. */
int fit_reversed(shp_fit *f, double *u, const double *temps) {
  size_t nc = f->nc;
  fit_unpack(f, u);
  double total[SHP_STACK_MAX_CRYSTALS];
  for (size_t i = 0; i < nc; i++) {
    double g;
    int rc = carrier(f, i, temps[i], &g);
    if (rc != SHP_OK)
      return rc;
    total[i] = g + f->phys[i];
  }
  for (size_t i = 0; i < nc; i++) {
    double g;
    int rc = carrier(f, i, temps[i], &g);
    if (rc != SHP_OK)
      return rc;
    double twin = total[nc - 1 - i] - g;
    u[i] = shp_wrap_phase(twin - f->mean[i]) / f->sigma[i];
  }
  for (size_t j = f->i_az; j < (f->fit_pulse ? f->i_width : f->i_model); j++)
    u[j] = 0.0;
  return SHP_OK;
}

int fit_jacobian(shp_fit *f, const double *u, double *J, double *r0,
                 double *r1) {
  size_t np = f->np, nd = f->points;
  double *v = malloc(np * sizeof *v);
  if (v == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  memcpy(v, u, np * sizeof *v);
  int rc = SHP_OK;
  for (size_t j = 0; j < np && rc == SHP_OK; j++) {
    double h = 1e-4;
    v[j] = u[j] + h;
    rc = fit_residuals(f, v, r1, NULL);
    v[j] = u[j] - h;
    if (rc == SHP_OK)
      rc = fit_residuals(f, v, r0, NULL);
    v[j] = u[j];
    for (size_t k = 0; k < nd; k++)
      J[k * np + j] = (r1[k] - r0[k]) / (2 * h);
  }
  free(v);
  return rc;
}
