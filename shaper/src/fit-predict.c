/* What a solution predicts: the output intensity with its band and its
 * error against a target, and the trace of any diagnostic. */
#include "fit-private.h"

#include "shp/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The physical vector of a solution into f->phys (phases as given). */
static int load(shp_fit *f, const shp_fit_solution *sol) {
  if (sol == NULL || sol->params == NULL)
    return shp_error_set(SHP_ERR_INVALID, "a prediction needs a solution");
  memcpy(f->phys, sol->params, f->np * sizeof *f->phys);
  return SHP_OK;
}

static int check_temps(const shp_fit *f, const double *t) {
  if (t == NULL)
    return shp_error_set(SHP_ERR_INVALID, "a prediction needs temperatures");
  for (size_t i = 0; i < f->nc; i++)
    if (!isfinite(t[i]))
      return shp_error_set(SHP_ERR_INVALID,
                           "the temperature of crystal %zu is not finite",
                           i + 1);
  return SHP_OK;
}

/* Intensity into out and the target error into *e (NAN without target). */
static int eval(shp_fit *f, const double *p, const double *temps,
                const double *target, double *out, double *e) {
  int rc = fit_model(f, p, temps);
  if (rc != SHP_OK)
    return rc;
  memcpy(out, f->intensity, f->grid.n * sizeof *out);
  *e = NAN;
  if (target == NULL)
    return SHP_OK;
  shp_metrics_opts mo = {.target = target, .error_only = true};
  shp_metrics m;
  rc = shp_diag_metrics(f->diag, out, f->grid.dt, &mo, &m);
  if (rc == SHP_OK)
    *e = m.error;
  return rc;
}

int shp_fit_predict_intensity(shp_fit *f, const shp_fit_solution *sol,
                              const double *temperatures_c,
                              const shp_target *target,
                              shp_fit_prediction *pred) {
  int rc = load(f, sol);
  if (rc == SHP_OK)
    rc = check_temps(f, temperatures_c);
  if (rc != SHP_OK)
    return rc;
  size_t n = f->grid.n, np = f->np;
  double *p = malloc(np * sizeof *p), *tgt = NULL;
  double *G = malloc(np * n * sizeof *G), *g = malloc(np * sizeof *g);
  pred->n = n;
  pred->dt_ps = f->grid.dt;
  pred->intensity = calloc(n, sizeof *pred->intensity);
  pred->sigma = calloc(n, sizeof *pred->sigma);
  if (target != NULL)
    tgt = malloc(n * sizeof *tgt);
  if (p == NULL || G == NULL || g == NULL || pred->intensity == NULL ||
      pred->sigma == NULL || (target != NULL && tgt == NULL)) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  memcpy(p, f->phys, np * sizeof *p);
  if (target != NULL) {
    rc = shp_target_sample(target, &f->grid, tgt, NULL);
    if (rc == SHP_OK)
      rc = shp_diag_prepare_target(f->diag, tgt, NULL);
    if (rc != SHP_OK)
      goto done;
  }
  rc = eval(f, p, temperatures_c, tgt, pred->intensity, &pred->error);
  /* Linearised propagation: central differences of I and e along each
   * parameter, a hundredth of its posterior sigma (of the prior when the
   * posterior is zero). */
  for (size_t j = 0; j < np && rc == SHP_OK; j++) {
    double h = 1e-2 * (sol->sigma[j] > 0 ? sol->sigma[j] : f->sigma[j]);
    double ep, em;
    p[j] = sol->params[j] + h;
    rc = eval(f, p, temperatures_c, tgt, G + j * n, &ep);
    if (rc == SHP_OK) {
      p[j] = sol->params[j] - h;
      rc = eval(f, p, temperatures_c, tgt, pred->sigma, &em);
    }
    p[j] = sol->params[j];
    if (rc != SHP_OK)
      break;
    for (size_t k = 0; k < n; k++)
      G[j * n + k] = (G[j * n + k] - pred->sigma[k]) / (2 * h);
    g[j] = (ep - em) / (2 * h);
  }
  if (rc != SHP_OK)
    goto done;
  const double *Cv = sol->covariance;
  for (size_t k = 0; k < n; k++) {
    double v = 0;
    for (size_t a = 0; a < np; a++) {
      double ga = G[a * n + k];
      if (ga == 0)
        continue;
      double s = 0;
      for (size_t b = 0; b < np; b++)
        s += Cv[a * np + b] * G[b * n + k];
      v += ga * s;
    }
    pred->sigma[k] = sqrt(fmax(v, 0.0));
  }
  pred->error_sigma = NAN;
  if (target != NULL) {
    double v = 0;
    for (size_t a = 0; a < np; a++)
      for (size_t b = 0; b < np; b++)
        v += g[a] * Cv[a * np + b] * g[b];
    pred->error_sigma = sqrt(fmax(v, 0.0));
  }
done:
  if (target != NULL)
    shp_diag_prepare_target(f->diag, NULL, NULL);
  free(p);
  free(G);
  free(g);
  free(tgt);
  return rc;
}

void shp_fit_prediction_clear(shp_fit_prediction *pred) {
  if (pred == NULL)
    return;
  free(pred->intensity);
  free(pred->sigma);
  *pred = (shp_fit_prediction){0};
}

int shp_fit_predict_trace(shp_fit *f, const shp_fit_solution *sol,
                          const shp_fit_model *model,
                          const double *temperatures_c, const double *axis,
                          size_t count, double *values) {
  int rc = load(f, sol);
  if (rc == SHP_OK)
    rc = check_temps(f, temperatures_c);
  if (rc != SHP_OK)
    return rc;
  if (model == NULL || model->predict == NULL || axis == NULL || values == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "a trace prediction needs a model and an axis");
  double mp[SHP_FIT_MAX_MODEL_PARAMS];
  const double *params = mp;
  size_t kind = SIZE_MAX;
  for (size_t q = 0; q < f->nkinds; q++)
    if (f->kinds[q].model == model)
      kind = q;
  if (kind != SIZE_MAX)
    params = fit_kind_params(f, f->phys, kind);
  else
    for (size_t j = 0; j < model->param_count; j++)
      mp[j] = model->params[j].prior_mean;
  size_t need =
      model->workspace_doubles ? model->workspace_doubles(f->grid.n) : 0;
  size_t L = model->linear_count;
  double *work = need > f->work_size ? malloc(need * sizeof *work) : f->work;
  double *basis = malloc(count * (L > 0 ? L : 1) * sizeof *basis);
  if ((need > 0 && work == NULL) || basis == NULL) {
    if (work != f->work)
      free(work);
    free(basis);
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  double p[4 * SHP_STACK_MAX_CRYSTALS + 2 +
           SHP_FIT_MAX_KINDS * SHP_FIT_MAX_MODEL_PARAMS];
  memcpy(p, f->phys, f->np * sizeof *p);
  rc = fit_model(f, p, temperatures_c);
  if (rc == SHP_OK) {
    shp_fit_output out = {&f->grid, f->field, f->intensity, f->diag, work};
    rc = model->predict(&out, params == mp ? mp : p + f->kinds[kind].base, axis,
                        count, basis);
  }
  if (rc == SHP_OK)
    memcpy(values, basis, count * sizeof *values);
  if (work != f->work)
    free(work);
  free(basis);
  return rc;
}

int shp_fit_target_trace(shp_fit *f, const shp_fit_model *model,
                         const shp_target *target, const double *axis,
                         size_t count, double *values) {
  if (f == NULL || model == NULL || model->predict == NULL || target == NULL ||
      axis == NULL || values == NULL || count == 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "a target trace needs a fit, a model, a target and "
                         "an axis");
  size_t n = f->grid.n, L = model->linear_count > 0 ? model->linear_count : 1;
  size_t need = model->workspace_doubles ? model->workspace_doubles(n) : 0;
  double *intensity = malloc(n * sizeof *intensity);
  double *work = need > 0 ? malloc(need * sizeof *work) : NULL;
  double *basis = malloc(count * L * sizeof *basis);
  int rc = SHP_OK;
  if (intensity == NULL || (need > 0 && work == NULL) || basis == NULL) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  double mp[SHP_FIT_MAX_MODEL_PARAMS];
  for (size_t j = 0; j < model->param_count; j++)
    mp[j] = model->params[j].prior_mean;
  rc = shp_target_sample(target, &f->grid, intensity, NULL);
  if (rc != SHP_OK)
    goto done;
  shp_fit_output out = {&f->grid, NULL, intensity, f->diag, work};
  rc = model->predict(&out, mp, axis, count, basis);
  if (rc != SHP_OK)
    goto done;
  double peak = 0;
  for (size_t k = 0; k < count; k++)
    peak = fmax(peak, basis[k]);
  if (!(peak > 0 && isfinite(peak))) {
    rc = shp_error_set(SHP_ERR_RANGE,
                       "the target's %s is zero on the trace's axis (%g to "
                       "%g)",
                       model->name, axis[0], axis[count - 1]);
    goto done;
  }
  for (size_t k = 0; k < count; k++)
    values[k] = basis[k] / peak;
done:
  free(intensity);
  free(work);
  free(basis);
  return rc;
}

double shp_trace_error(const double *measured, const double *reference,
                       size_t count) {
  if (measured == NULL || reference == NULL || count < 2)
    return NAN;
  double sx = 0, sy = 0, sxx = 0, sxy = 0, nn = (double)count;
  for (size_t k = 0; k < count; k++) {
    sx += measured[k];
    sy += reference[k];
    sxx += measured[k] * measured[k];
    sxy += measured[k] * reference[k];
  }
  double det = nn * sxx - sx * sx;
  double a = fabs(det) >= 1e-300 ? (nn * sxy - sx * sy) / det : 0;
  double b = (sy - a * sx) / nn;
  double peak = 0, sum = 0;
  for (size_t k = 0; k < count; k++) {
    double d = a * measured[k] + b - reference[k];
    sum += d * d;
    peak = fmax(peak, fabs(reference[k]));
  }
  return peak > 0 ? sqrt(sum / nn) / peak : NAN;
}
