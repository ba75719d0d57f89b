/* What a fit knows: uncertainties from the Jacobian at the solution and the
 * parameters (or combinations) the traces do not determine, from its
 * singular values (LAPACK dgesvd). */
#include "acfit-private.h"

#include "shp/error.h"
#include "shp/numbers.h"
#include "shp/units.h"

#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Singular values below this share of the largest mark a direction the
 * traces do not determine (on the column-scaled Jacobian). */
#define NULL_THRESHOLD 1e-6

bool acfit_same_fit(const shp_acfit *f, double cost_a, double cost_b) {
  /* Indistinguishable: within three standard deviations of the residual
   * sum of squares of the better fit. */
  size_t dof = f->npoints > f->np ? f->npoints - f->np : 1;
  double s2 = fmin(cost_a, cost_b) / (double)dof;
  return fabs(cost_a - cost_b) <= 9.0 * s2 + 1e-14;
}

double acfit_phase_distance(const shp_acfit *f, const double *a,
                            const double *b) {
  double d = 0;
  for (size_t i = 0; i < f->nc; i++)
    d = fmax(d, fabs(shp_wrap_phase(a[i] - b[i])));
  return d;
}

static const char *param_name(const shp_acfit *f, size_t j, char *buf,
                              size_t size) {
  size_t nc = f->nc, k = nc;
  if (j < nc) {
    snprintf(buf, size, "crystals[%zu].phase_offset_rad", j);
    return buf;
  }
  if (j < nc + f->ns) {
    snprintf(buf, size, "crystals[%zu].phase_slope", f->slope_of[j - nc]);
    return buf;
  }
  k += f->ns;
  if (f->fit_width && j == k++)
    return "pulse_width";
  if (f->fit_delay && j == k)
    return "delay_scale";
  return "delay_offset";
}

/* The Jacobian of the trace residuals (the prior left out: it is not
 * measurement), by central differences; J is row-major nr x np. */
static int jacobian(shp_acfit *f, const double *p, double *J, size_t nr,
                    double *r0, double *r1) {
  double *x = malloc(f->np * sizeof *x);
  if (x == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  memcpy(x, p, f->np * sizeof *x);
  int rc = SHP_OK;
  for (size_t j = 0; j < f->np && rc == SHP_OK; j++) {
    double h = 1e-5 * fmax(1.0, fabs(p[j]));
    x[j] = p[j] + h;
    rc = acfit_residuals(f, x, r1, NULL, NULL);
    x[j] = p[j] - h;
    if (rc == SHP_OK)
      rc = acfit_residuals(f, x, r0, NULL, NULL);
    x[j] = p[j];
    for (size_t k = 0; k < nr; k++)
      J[k * f->np + j] = (r1[k] - r0[k]) / (2 * h);
  }
  free(x);
  return rc;
}

/* sigmas from the pseudo-inverse of J^T J scaled by the residual variance,
 * INFINITY along undetermined directions; relative singular values. */
static int uncertainties(shp_acfit *f, double *J, size_t nr, double s2,
                         shp_acfit_result *res, double *sigma) {
  size_t np = f->np;
  double *scale = calloc(np, sizeof *scale), *s = calloc(np, sizeof *s);
  double *vt = calloc(np * np, sizeof *vt), *superb = calloc(np, sizeof *s);
  int rc = SHP_OK;
  if (scale == NULL || s == NULL || vt == NULL || superb == NULL) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < np; j++) {
    double c = 0;
    for (size_t k = 0; k < nr; k++)
      c += J[k * np + j] * J[k * np + j];
    scale[j] = c > 0 ? sqrt(c) : 1.0;
    for (size_t k = 0; k < nr; k++)
      J[k * np + j] /= scale[j];
  }
  lapack_int info =
      LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'A', (lapack_int)nr, (lapack_int)np,
                     J, (lapack_int)np, s, NULL, 1, vt, (lapack_int)np, superb);
  if (info != 0) {
    rc = shp_error_set(SHP_ERR_NUMERIC, "the fit's Jacobian has no SVD");
    goto done;
  }
  res->undetermined = 0;
  for (size_t k = 0; k < np; k++) {
    res->singular_values[k] = s[0] > 0 ? s[k] / s[0] : 0.0;
    if (res->singular_values[k] < NULL_THRESHOLD)
      res->undetermined++;
  }
  for (size_t j = 0; j < np; j++) {
    double var = 0;
    bool lost = false;
    for (size_t k = 0; k < np; k++) {
      double v = vt[k * np + j];
      if (res->singular_values[k] < NULL_THRESHOLD) {
        lost = lost || fabs(v) > 1e-3;
        continue;
      }
      var += v * v / (s[k] * s[k]);
    }
    sigma[j] = lost ? INFINITY : sqrt(var * s2) / scale[j];
  }
  /* Keep the null directions for the report: rows of vt. */
  memcpy(J, vt, np * np * sizeof *vt);
done:
  free(scale);
  free(s);
  free(vt);
  free(superb);
  return rc;
}

static double *dalloc(size_t n, int *rc) {
  double *p = calloc(n ? n : 1, sizeof *p);
  if (p == NULL)
    *rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
  return p;
}

int acfit_fill_result(shp_acfit *f, const double *p, shp_acfit_result *res) {
  size_t nc = f->nc, np = f->np, nm = f->nm;
  size_t nr = acfit_residual_count(f), nd = f->npoints;
  int rc = SHP_OK;
  bool ambiguous = res->ambiguous;
  shp_acfit_result_clear(res);
  res->ambiguous = ambiguous;
  res->crystal_count = nc;
  res->measurement_count = nm;
  res->parameter_count = np;
  res->phase_offset_rad = dalloc(nc, &rc);
  res->phase_sigma_rad = dalloc(nc, &rc);
  res->slope_rad_per_k = dalloc(nc, &rc);
  res->slope_sigma_rad_per_k = dalloc(nc, &rc);
  res->slope_change_rad_per_k = dalloc(nc, &rc);
  res->amplitude = dalloc(nm, &rc);
  res->background = dalloc(nm, &rc);
  res->singular_values = dalloc(np, &rc);
  double *r0 = dalloc(nr, &rc), *r1 = dalloc(nr, &rc);
  double *J = dalloc(nr * np, &rc), *sigma = dalloc(np, &rc);
  if (rc != SHP_OK)
    goto done;
  if ((rc = acfit_residuals(f, p, r0, res->amplitude, res->background)) !=
      SHP_OK)
    goto done;
  double data = 0;
  for (size_t k = 0; k < nd; k++)
    data += r0[k] * r0[k];
  res->residual_rms = sqrt(data / (double)nd);
  size_t dof = nd > np ? nd - np : 1;
  if ((rc = jacobian(f, p, J, nr, r0, r1)) != SHP_OK ||
      (rc = uncertainties(f, J, nd, data / (double)dof, res, sigma)) != SHP_OK)
    goto done;
  acfit_params q;
  acfit_unpack(f, p, &q);
  for (size_t i = 0; i < nc; i++) {
    res->phase_offset_rad[i] = shp_wrap_phase(q.phase[i]);
    res->phase_sigma_rad[i] = sigma[i];
    res->slope_change_rad_per_k[i] = q.dslope ? q.dslope[i] : 0.0;
    res->slope_rad_per_k[i] = f->slope[i] +
                              f->stack->crystals[i].slope_correction_rad_per_k +
                              res->slope_change_rad_per_k[i];
    res->slope_sigma_rad_per_k[i] = 0.0;
  }
  for (size_t j = 0; j < f->ns; j++)
    res->slope_sigma_rad_per_k[f->slope_of[j]] = sigma[nc + j];
  size_t k = nc + f->ns;
  res->pulse_width_scale = q.width;
  res->pulse_width_sigma = f->fit_width ? q.width * sigma[k++] : 0.0;
  res->delay_scale = q.delay_scale;
  res->delay_offset_ps = q.delay_offset;
  res->delay_scale_sigma = f->fit_delay ? sigma[k] : 0.0;
  res->delay_offset_sigma_ps = f->fit_delay ? sigma[k + 1] : 0.0;
  res->evaluations = f->evaluations;
  /* The null directions, for the report. */
  memcpy(f->vt, J, np * np * sizeof *J);
done:
  free(r0);
  free(r1);
  free(J);
  free(sigma);
  if (rc != SHP_OK)
    shp_acfit_result_clear(res);
  return rc;
}

static void append(char *buf, size_t size, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used + 1 >= size)
    return;
  va_list ap;
  va_start(ap, fmt);
  /* The report goes into calibration files: numbers in the C locale. */
  shp_vsnprintf(buf + used, size - used, fmt, ap);
  va_end(ap);
}

void acfit_report(const shp_acfit *f, shp_acfit_result *r) {
  char name[64];
  size_t np = f->np;
  r->report[0] = '\0';
  const double *vt = f->vt; /* rows: right singular vectors */
  for (size_t k = 0; k < np; k++) {
    if (r->singular_values[k] >= NULL_THRESHOLD)
      continue;
    append(r->report, sizeof r->report, "not determined by the traces:");
    bool phases = false;
    for (size_t j = 0; j < np; j++)
      if (fabs(vt[k * np + j]) > 0.2) {
        append(r->report, sizeof r->report, " %s",
               param_name(f, j, name, sizeof name));
        phases = phases || j < f->nc;
      }
    append(r->report, sizeof r->report, "%s",
           phases ? " (only a combination is seen; scan each crystal's "
                    "temperature on its own: shapectl calibrate)\n"
                  : " (calibrate the delay axis against a known delay, "
                    "such as an etalon or a measured stage move)\n");
  }
  if (r->ambiguous)
    append(r->report, sizeof r->report,
           "ambiguous: the conjugate phases fit the traces as well (the "
           "autocorrelation is blind to the sign of the phases and to time "
           "reversal); the prior chose; a trace at another set of "
           "temperatures, or a cross-correlation or FROG measurement, "
           "decides\n");
  for (size_t i = 0; i < f->nc; i++)
    if (!(r->phase_sigma_rad[i] < 1.0) && isfinite(r->phase_sigma_rad[i]))
      append(r->report, sizeof r->report,
             "crystals[%zu].phase_offset_rad: poorly determined (%.2f rad)\n",
             i, r->phase_sigma_rad[i]);
  for (size_t j = 0; j < f->ns; j++) {
    size_t i = f->slope_of[j];
    if (!(r->slope_sigma_rad_per_k[i] < 0.05 * fabs(r->slope_rad_per_k[i])))
      append(r->report, sizeof r->report,
             "crystals[%zu].phase_slope: poorly determined (%.3g rad/K): "
             "scan that crystal over at least one phase period\n",
             i, r->slope_sigma_rad_per_k[i]);
  }
  if (r->report[0] == '\0')
    append(r->report, sizeof r->report, "every parameter is determined\n");
  if (f->ns > 0)
    append(r->report, sizeof r->report,
           "the slopes' sign is the material model's: the autocorrelation "
           "cannot tell a phase from its negative (time reversal), so "
           "every phase and slope mirrored fits as well\n");
}

void shp_acfit_result_clear(shp_acfit_result *r) {
  if (r == NULL)
    return;
  free(r->phase_offset_rad);
  free(r->phase_sigma_rad);
  free(r->slope_rad_per_k);
  free(r->slope_sigma_rad_per_k);
  free(r->slope_change_rad_per_k);
  free(r->amplitude);
  free(r->background);
  free(r->singular_values);
  free(r->alternative_rad);
  memset(r, 0, sizeof *r);
}
