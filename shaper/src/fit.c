/* The measurement-model fit: parameter layout and priors, the model and
 * its residuals. One Levenberg-Marquardt run and the twins are in
 * fit-lm.c, multi-start and clustering in fit-solutions.c, predictions in
 * fit-predict.c. */
#include "fit-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pulse width changes the model allows; the grid holds both ends. */
#define WIDTH_MIN (-0.4)
#define WIDTH_MAX 0.6

/* ---- layout and priors ---------------------------------------------------
 */

static void set_param(shp_fit *f, size_t j, double mean, double sigma,
                      bool periodic, const char *name) {
  f->mean[j] = mean;
  f->sigma[j] = sigma;
  f->periodic[j] = periodic;
  snprintf(f->names[j], sizeof f->names[j], "%s", name);
}

/* The GDD that widens a transform-limited Gaussian of FWHM tau by the
 * relative amount w: tau' = tau sqrt(1 + (4 ln2 GDD / tau^2)^2). */
static double gdd_for_width(double fwhm_ps, double w) {
  double tau = fwhm_ps * 1e3;
  return tau * tau / (4 * log(2.0)) * sqrt((1 + w) * (1 + w) - 1);
}

static int check_opts(const shp_fit_opts *o) {
  const double v[] = {o->phase_sigma_rad, o->azimuth_sigma_deg,
                      o->length_sigma_um, o->width_sigma_rel,
                      o->gdd_sigma_fs2,   o->slope_sigma_rel,
                      o->chi2_allow};
  const char *n[] = {"phase_sigma_rad", "azimuth_sigma_deg", "length_sigma_um",
                     "width_sigma_rel", "gdd_sigma_fs2",     "slope_sigma_rel",
                     "chi2_allow"};
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    if (!isfinite(v[k]) || v[k] < 0)
      return shp_error_set(SHP_ERR_INVALID,
                           "fit option %s is %g: a prior or threshold must be "
                           "finite and not negative (0 takes the default)",
                           n[k], v[k]);
  return SHP_OK;
}

static int layout(shp_fit *f) {
  const shp_stack *s = f->stack;
  size_t nc = f->nc, k = 0;
  shp_fit_opts *o = &f->opts;
  char name[64];
  for (size_t i = 0; i < nc; i++) {
    double m = o->phase_prior_rad ? o->phase_prior_rad[i]
                                  : s->crystals[i].phase_offset_rad;
    if (!isfinite(m))
      return shp_error_set(SHP_ERR_INVALID,
                           "the phase prior of crystal %zu is not finite",
                           i + 1);
    snprintf(name, sizeof name, "crystals[%zu].phase_offset_rad", i);
    set_param(f, k++, m, o->phase_sigma_rad, true, name);
  }
  f->i_slope = k;
  for (size_t j = 0; j < f->ns; j++) {
    size_t i = f->slope_of[j];
    double sg = o->slope_sigma_rel * fabs(f->slope[i]);
    snprintf(name, sizeof name, "crystals[%zu].slope_change_rad_per_k", i);
    set_param(f, k++, 0.0, sg > 0 ? sg : 1e-3, false, name);
  }
  f->i_az = k;
  if (f->fit_az)
    for (size_t i = 0; i < nc; i++) {
      snprintf(name, sizeof name, "crystals[%zu].azimuth_error_deg", i);
      set_param(f, k++, 0.0, o->azimuth_sigma_deg, false, name);
    }
  f->i_len = k;
  if (f->fit_len)
    for (size_t i = 0; i < nc; i++) {
      snprintf(name, sizeof name, "crystals[%zu].length_error_um", i);
      set_param(f, k++, 0.0, o->length_sigma_um, false, name);
    }
  f->i_width = f->i_gdd = SIZE_MAX;
  if (f->fit_pulse) {
    f->i_width = k;
    set_param(f, k++, 0.0, o->width_sigma_rel, false, "pulse.width_rel");
    f->i_gdd = k;
    set_param(f, k++, 0.0, o->gdd_sigma_fs2, false, "pulse.gdd_fs2");
  }
  f->i_model = k;
  f->np = k;
  return SHP_OK;
}

/* A new diagnostic kind's parameters, after every other. */
static void layout_kind(shp_fit *f, size_t q) {
  const shp_fit_model *m = f->kinds[q].model;
  char name[64];
  f->kinds[q].base = f->np;
  for (size_t j = 0; j < m->param_count; j++) {
    snprintf(name, sizeof name, "%s.%s", m->name, m->params[j].name);
    set_param(f, f->np++, m->params[j].prior_mean, m->params[j].prior_sigma,
              false, name);
  }
}

size_t shp_fit_parameter_count(const shp_fit *f) { return f->np; }
const char *shp_fit_parameter_name(const shp_fit *f, size_t j) {
  return j < f->np ? f->names[j] : NULL;
}
void shp_fit_parameter_prior(const shp_fit *f, size_t j, double *mean,
                             double *sigma) {
  *mean = j < f->np ? f->mean[j] : NAN;
  *sigma = j < f->np ? f->sigma[j] : NAN;
}
size_t shp_fit_index_phase(const shp_fit *f, size_t i) {
  return i < f->nc ? i : SIZE_MAX;
}
size_t shp_fit_index_azimuth(const shp_fit *f, size_t i) {
  return f->fit_az && i < f->nc ? f->i_az + i : SIZE_MAX;
}
size_t shp_fit_index_length(const shp_fit *f, size_t i) {
  return f->fit_len && i < f->nc ? f->i_len + i : SIZE_MAX;
}
size_t shp_fit_index_width(const shp_fit *f) { return f->i_width; }
size_t shp_fit_index_gdd(const shp_fit *f) { return f->i_gdd; }
const shp_grid *shp_fit_grid(const shp_fit *f) { return &f->grid; }

/* ---- lifecycle ------------------------------------------------------------
 */

static int make_grid(shp_fit *f) {
  const shp_stack *s = f->stack;
  if (s->has_grid || s->pulse.shape == SHP_PULSE_SPECTRUM)
    return shp_stack_grid(s, 0.0, &f->grid);
  /* Fine enough for the narrowest pulse the fit may try, long enough for
   * the widest and most chirped. */
  shp_pulse narrow = s->pulse, wide = s->pulse;
  narrow.fwhm_ps *= 1 + WIDTH_MIN;
  wide.fwhm_ps *= 1 + WIDTH_MAX;
  wide.gdd_fs2 = fabs(wide.gdd_fs2) + 4 * f->opts.gdd_sigma_fs2;
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
  needs.pulse_extent_ps = fmax(needs.pulse_extent_ps, wneeds.pulse_extent_ps);
  return shp_grid_choose(&needs, s->pulse.center_wavelength_nm, &f->grid);
}

static int model_slopes(shp_fit *f) {
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
    f->gamma0[i] = p.phase_delay_rad / c->length_mm;
    f->azimuth0[i] = c->azimuth_deg;
    f->length0[i] = c->length_mm;
  }
  return SHP_OK;
}

static void defaults(shp_fit_opts *o, const shp_stack *s) {
  if (o->phase_sigma_rad == 0)
    o->phase_sigma_rad = SHP_PI;
  if (o->azimuth_sigma_deg == 0)
    o->azimuth_sigma_deg = 0.3;
  if (o->length_sigma_um == 0)
    o->length_sigma_um = 2.0;
  if (o->width_sigma_rel == 0)
    o->width_sigma_rel = 0.1;
  if (o->gdd_sigma_fs2 == 0)
    o->gdd_sigma_fs2 = gdd_for_width(s->pulse.fwhm_ps, o->width_sigma_rel);
  if (o->slope_sigma_rel == 0)
    o->slope_sigma_rel = 0.1;
  if (o->starts == 0)
    o->starts = 8;
  if (o->max_iterations == 0)
    o->max_iterations = 50;
  if (o->chi2_allow == 0)
    o->chi2_allow = 9.0;
}

shp_fit *shp_fit_new(const shp_stack *stack, const shp_fit_opts *opts) {
  shp_gsl_guard();
  if (stack == NULL || stack->crystal_count == 0) {
    shp_error_set(SHP_ERR_INVALID, "a fit needs a stack with crystals");
    return NULL;
  }
  shp_fit_opts o = {0};
  if (opts != NULL)
    o = *opts;
  if (check_opts(&o) != SHP_OK)
    return NULL;
  defaults(&o, stack);
  shp_fit *f = calloc(1, sizeof *f);
  if (f == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  f->stack = stack;
  f->opts = o;
  f->nc = stack->crystal_count;
  f->fit_az = !o.fixed_azimuth;
  f->fit_len = !o.fixed_length;
  f->fit_pulse = !o.fixed_pulse && stack->pulse.shape != SHP_PULSE_SPECTRUM;
  size_t nc = f->nc,
         maxp = 4 * nc + 2 + SHP_FIT_MAX_KINDS * SHP_FIT_MAX_MODEL_PARAMS;
  f->slope_of = calloc(nc, sizeof *f->slope_of);
  f->azimuth0 = calloc(nc, sizeof *f->azimuth0);
  f->length0 = calloc(nc, sizeof *f->length0);
  f->slope = calloc(nc, sizeof *f->slope);
  f->tref = calloc(nc, sizeof *f->tref);
  f->gamma0 = calloc(nc, sizeof *f->gamma0);
  f->elements = calloc(nc, sizeof *f->elements);
  f->mean = calloc(maxp, sizeof *f->mean);
  f->sigma = calloc(maxp, sizeof *f->sigma);
  f->periodic = calloc(maxp, sizeof *f->periodic);
  f->names = calloc(maxp, sizeof *f->names);
  f->phys = calloc(maxp, sizeof *f->phys);
  f->ufull = calloc(maxp, sizeof *f->ufull);
  f->active = calloc(maxp, sizeof *f->active);
  if (f->slope_of == NULL || f->azimuth0 == NULL || f->length0 == NULL ||
      f->slope == NULL || f->tref == NULL || f->gamma0 == NULL ||
      f->elements == NULL || f->mean == NULL || f->sigma == NULL ||
      f->periodic == NULL || f->names == NULL || f->phys == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    shp_fit_free(f);
    return NULL;
  }
  if (o.slope_mask != NULL)
    for (size_t i = 0; i < nc; i++)
      if (o.slope_mask[i])
        f->slope_of[f->ns++] = i;
  shp_stack_path(stack, f->elements, &f->path);
  int rc = make_grid(f);
  if (rc == SHP_OK)
    rc = model_slopes(f);
  if (rc == SHP_OK)
    rc = layout(f);
  f->opts.phase_prior_rad = NULL; /* copied */
  f->opts.slope_mask = NULL;
  if (rc != SHP_OK) {
    if (stack->path != NULL)
      shp_error_prefix("%s: ", stack->path);
    shp_fit_free(f);
    return NULL;
  }
  size_t n = f->grid.n;
  f->pulse = stack->pulse;
  f->input = fftw_alloc_complex(n);
  f->field = shp_field_new(n);
  f->intensity = calloc(n, sizeof *f->intensity);
  f->diag = shp_diag_new(n);
  f->prop = f->diag ? shp_propagator_new(&f->grid, &f->path) : NULL;
  if (f->input == NULL || f->field == NULL || f->intensity == NULL ||
      f->prop == NULL) {
    if (f->diag != NULL && f->prop != NULL)
      shp_error_set(SHP_ERR_NOMEM, "out of memory");
    shp_fit_free(f);
    return NULL;
  }
  f->filled_width = NAN; /* the input is filled on first use */
  return f;
}

void shp_fit_reset(shp_fit *f) {
  for (size_t m = 0; m < f->nt; m++) {
    free(f->traces[m].temps);
    free(f->traces[m].axis);
    free(f->traces[m].values);
    free(f->traces[m].weight);
  }
  free(f->traces);
  f->traces = NULL;
  f->nt = f->points = 0;
}

void shp_fit_free(shp_fit *f) {
  if (f == NULL)
    return;
  shp_fit_reset(f);
  free(f->slope_of);
  free(f->azimuth0);
  free(f->length0);
  free(f->slope);
  free(f->tref);
  free(f->gamma0);
  free(f->elements);
  free(f->mean);
  free(f->sigma);
  free(f->periodic);
  free(f->names);
  free(f->phys);
  free(f->ufull);
  free(f->active);
  free(f->intensity);
  free(f->work);
  free(f->basis);
  free(f->rbuf);
  if (f->input != NULL)
    fftw_free(f->input);
  shp_field_free(f->field);
  shp_diag_free(f->diag);
  shp_propagator_free(f->prop);
  free(f);
}

size_t shp_fit_count(const shp_fit *f) { return f->nt; }

static bool all_finite(const double *x, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!isfinite(x[k]))
      return false;
  return true;
}

static double *dup(const double *x, size_t n) {
  double *y = malloc(n * sizeof *y);
  if (y != NULL)
    memcpy(y, x, n * sizeof *y);
  return y;
}

/* The kind of a model, added to the layout when new. */
static int kind_of(shp_fit *f, const shp_fit_model *m, size_t *kind) {
  for (size_t q = 0; q < f->nkinds; q++)
    if (f->kinds[q].model == m) {
      *kind = q;
      return SHP_OK;
    }
  if (f->nkinds == SHP_FIT_MAX_KINDS)
    return shp_error_set(SHP_ERR_RANGE,
                         "a fit takes at most %d diagnostic kinds; %s would "
                         "be one more",
                         SHP_FIT_MAX_KINDS, m->name);
  size_t need = m->workspace_doubles ? m->workspace_doubles(f->grid.n) : 0;
  if (need > f->work_size) {
    double *w = realloc(f->work, need * sizeof *w);
    if (w == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "out of memory");
    f->work = w;
    f->work_size = need;
  }
  f->kinds[f->nkinds].model = m;
  *kind = f->nkinds++;
  layout_kind(f, *kind);
  return SHP_OK;
}

int shp_fit_add(shp_fit *f, const shp_fit_trace *t) {
  const shp_fit_model *m = t->model;
  if (m == NULL || m->predict == NULL || m->linear_count == 0 ||
      m->linear_count > SHP_FIT_MAX_LINEAR ||
      m->param_count > SHP_FIT_MAX_MODEL_PARAMS)
    return shp_error_set(SHP_ERR_INVALID,
                         "trace %zu: its measurement model is missing or "
                         "malformed",
                         f->nt + 1);
  if (t->count < 4 || t->axis == NULL || t->values == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "trace %zu: a %s trace needs at least 4 samples, "
                         "it has %zu",
                         f->nt + 1, m->name, t->count);
  if (t->crystal_count != f->nc || t->temperatures_c == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "trace %zu: %zu temperatures for %zu crystals",
                         f->nt + 1, t->crystal_count, f->nc);
  if (!all_finite(t->temperatures_c, f->nc))
    return shp_error_set(SHP_ERR_INVALID,
                         "trace %zu: a temperature is not finite", f->nt + 1);
  for (size_t k = 0; k < t->count; k++)
    if (!isfinite(t->axis[k]) || !isfinite(t->values[k]))
      return shp_error_set(SHP_ERR_INVALID,
                           "trace %zu: sample %zu is not finite", f->nt + 1,
                           k + 1);
  if (t->sigma == NULL && !(isfinite(t->noise) && t->noise > 0))
    return shp_error_set(SHP_ERR_INVALID,
                         "trace %zu: its noise level is %g; it must be finite "
                         "and positive (or give a sigma per sample)",
                         f->nt + 1, t->noise);
  for (size_t k = 0; t->sigma != NULL && k < t->count; k++)
    if (!(isfinite(t->sigma[k]) && t->sigma[k] > 0))
      return shp_error_set(SHP_ERR_INVALID,
                           "trace %zu: the sigma of sample %zu is %g; it must "
                           "be finite and positive",
                           f->nt + 1, k + 1, t->sigma[k]);
  fit_trace *tr = realloc(f->traces, (f->nt + 1) * sizeof *tr);
  if (tr == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  f->traces = tr;
  fit_trace *a = &tr[f->nt];
  *a = (fit_trace){0};
  a->count = t->count;
  a->temps = dup(t->temperatures_c, f->nc);
  a->axis = dup(t->axis, t->count);
  a->values = dup(t->values, t->count);
  a->weight = malloc(t->count * sizeof *a->weight);
  if (t->count > f->max_count) {
    double *b = realloc(f->basis, t->count * SHP_FIT_MAX_LINEAR * sizeof *b);
    if (b != NULL) {
      f->basis = b;
      f->max_count = t->count;
    }
  }
  int rc = SHP_OK;
  if (a->temps == NULL || a->axis == NULL || a->values == NULL ||
      a->weight == NULL || f->max_count < t->count)
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
  if (rc == SHP_OK)
    rc = kind_of(f, m, &a->kind);
  if (rc != SHP_OK) {
    free(a->temps);
    free(a->axis);
    free(a->values);
    free(a->weight);
    return rc;
  }
  if (t->sigma != NULL)
    memcpy(a->weight, t->sigma, t->count * sizeof *a->weight);
  else if (m->sigma != NULL)
    m->sigma(t->noise, t->values, t->count, a->weight);
  else
    for (size_t k = 0; k < t->count; k++)
      a->weight[k] = t->noise;
  for (size_t k = 0; k < t->count; k++)
    a->weight[k] = 1.0 / a->weight[k];
  f->nt++;
  f->points += t->count;
  return SHP_OK;
}

/* ---- the model ------------------------------------------------------------
 */

void fit_unpack(shp_fit *f, const double *u) {
  for (size_t j = 0; j < f->np; j++)
    f->phys[j] = f->mean[j] + f->sigma[j] * u[j];
}

const double *fit_kind_params(const shp_fit *f, const double *p, size_t kind) {
  return p + f->kinds[kind].base;
}

int fit_model(shp_fit *f, const double *p, const double *temps) {
  double width = 0, gdd = 0;
  if (f->fit_pulse) {
    width = fmin(fmax(p[f->i_width], WIDTH_MIN), WIDTH_MAX);
    gdd = p[f->i_gdd];
  }
  if (width != f->filled_width || gdd != f->filled_gdd) {
    f->pulse.fwhm_ps = f->stack->pulse.fwhm_ps * (1 + width);
    f->pulse.gdd_fs2 = f->stack->pulse.gdd_fs2 + gdd;
    int rc = shp_pulse_fill(&f->pulse, &f->grid, f->input);
    if (rc != SHP_OK)
      return rc;
    f->filled_width = width;
    f->filled_gdd = gdd;
  }
  for (size_t i = 0; i < f->nc; i++) {
    shp_crystal *c = &f->elements[i].crystal;
    c->temperature_c = temps[i];
    c->phase_offset_rad = p[i];
    c->azimuth_deg = f->azimuth0[i] + (f->fit_az ? p[f->i_az + i] : 0.0);
    double dl = f->fit_len ? 1e-3 * p[f->i_len + i] : 0.0;
    c->length_mm = f->length0[i] + dl;
    /* A length error's carrier phase at the stack's temperature belongs to
     * the phase offset (the traces cannot tell them apart); the length
     * error keeps only its effect on delays, dispersion and slopes. */
    c->phase_offset_rad -= f->gamma0[i] * dl;
  }
  for (size_t j = 0; j < f->ns; j++) {
    size_t i = f->slope_of[j];
    f->elements[i].crystal.phase_offset_rad +=
        p[f->i_slope + j] * (temps[i] - f->tref[i]);
  }
  int rc = shp_propagator_apply(f->prop, &f->path, f->input, f->field);
  if (rc == SHP_OK)
    shp_field_intensity(f->field, NULL, NULL, f->intensity);
  f->evaluations++;
  return rc;
}

size_t fit_residual_count(const shp_fit *f) { return f->points + f->np; }

/* Weighted least squares of y on the L basis columns: the coefficients c
 * of min sum (w (B c - y))^2, by the normal equations (L <= 4; a singular
 * column gets 0). */
static void linear_solve(const double *B, const double *y, const double *w,
                         size_t n, size_t L, double *c) {
  double A[SHP_FIT_MAX_LINEAR][SHP_FIT_MAX_LINEAR + 1] = {{0}};
  for (size_t k = 0; k < n; k++) {
    double w2 = w[k] * w[k];
    for (size_t a = 0; a < L; a++) {
      for (size_t b = 0; b < L; b++)
        A[a][b] += w2 * B[a * n + k] * B[b * n + k];
      A[a][L] += w2 * B[a * n + k] * y[k];
    }
  }
  /* Gaussian elimination with partial pivoting. */
  bool dead[SHP_FIT_MAX_LINEAR] = {false};
  for (size_t a = 0; a < L; a++) {
    size_t piv = a;
    for (size_t b = a + 1; b < L; b++)
      if (fabs(A[b][a]) > fabs(A[piv][a]))
        piv = b;
    if (piv != a)
      for (size_t b = 0; b <= L; b++) {
        double t = A[a][b];
        A[a][b] = A[piv][b];
        A[piv][b] = t;
      }
    if (!(fabs(A[a][a]) > 1e-300)) {
      dead[a] = true;
      continue;
    }
    for (size_t b = a + 1; b < L; b++) {
      double m = A[b][a] / A[a][a];
      for (size_t e = a; e <= L; e++)
        A[b][e] -= m * A[a][e];
    }
  }
  for (size_t a = L; a-- > 0;) {
    if (dead[a]) {
      c[a] = 0;
      continue;
    }
    double s = A[a][L];
    for (size_t b = a + 1; b < L; b++)
      s -= A[a][b] * c[b];
    c[a] = s / A[a][a];
  }
}

int fit_residuals(shp_fit *f, const double *u, double *r, double *chi2) {
  fit_unpack(f, u);
  const double *p = f->phys;
  size_t k0 = 0;
  double c2 = 0;
  for (size_t m = 0; m < f->nt; m++) {
    const fit_trace *a = &f->traces[m];
    const shp_fit_model *model = f->kinds[a->kind].model;
    int rc = fit_model(f, p, a->temps);
    if (rc != SHP_OK)
      return rc;
    shp_fit_output out = {&f->grid, f->field, f->intensity, f->diag, f->work};
    rc = model->predict(&out, fit_kind_params(f, p, a->kind), a->axis, a->count,
                        f->basis);
    if (rc != SHP_OK)
      return rc;
    double c[SHP_FIT_MAX_LINEAR];
    size_t L = model->linear_count;
    linear_solve(f->basis, a->values, a->weight, a->count, L, c);
    for (size_t k = 0; k < a->count; k++) {
      double y = 0;
      for (size_t l = 0; l < L; l++)
        y += c[l] * f->basis[l * a->count + k];
      r[k0 + k] = (y - a->values[k]) * a->weight[k];
      c2 += r[k0 + k] * r[k0 + k];
    }
    k0 += a->count;
  }
  if (chi2 != NULL)
    *chi2 = c2;
  for (size_t j = 0; j < f->np; j++)
    r[k0 + j] = f->periodic[j]
                    ? shp_wrap_phase(f->sigma[j] * u[j]) / f->sigma[j]
                    : u[j];
  return SHP_OK;
}
