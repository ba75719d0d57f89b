#include "shp/problem.h"

#include "shp/error.h"
#include "shp/propagator.h"
#include "shp/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  VAR_TEMPERATURE,
  VAR_AZIMUTH,
  VAR_LENGTH,
  VAR_IN_POL,
  VAR_OUT_POL
} var_kind;

typedef struct {
  var_kind kind;
  size_t crystal;
  double lo, hi, period, step;
  char name[48];
} variable;

struct shp_problem {
  shp_problem_spec spec;
  shp_grid grid;
  size_t n;
  variable *vars;
  size_t nvars;
  shp_element *elements;
  shp_path path;
  shp_propagator *prop;
  shp_field *field;
  shp_diag *diag;
  double complex *input;
  double *intensity, *target, *weight;
  double target_norm; /* sqrt(sum w T^2) */
  bool has_plateau;
  double plateau_start_ps, plateau_end_ps;
  double *probe; /* scratch point for the gradient */
  size_t evaluations;
};

void shp_problem_free(shp_problem *p) {
  if (p == NULL)
    return;
  shp_propagator_free(p->prop);
  shp_field_free(p->field);
  shp_diag_free(p->diag);
  free(p->input);
  free(p->intensity);
  free(p->target);
  free(p->weight);
  free(p->elements);
  free(p->vars);
  free(p->probe);
  free(p);
}

size_t shp_problem_size(const shp_problem *p) { return p->nvars; }
size_t shp_problem_residual_count(const shp_problem *p) { return p->n + 2; }
const char *shp_problem_name(const shp_problem *p, size_t i) {
  return p->vars[i].name;
}
double shp_problem_period(const shp_problem *p, size_t i) {
  return p->vars[i].period;
}
size_t shp_problem_evaluations(const shp_problem *p) { return p->evaluations; }

int shp_problem_fix(shp_problem *p, size_t i, double value) {
  if (i >= p->nvars || !isfinite(value))
    return shp_error_set(SHP_ERR_INVALID, "optimize: cannot fix variable %zu",
                         i);
  p->vars[i].lo = p->vars[i].hi = value;
  p->vars[i].period = 0;
  return SHP_OK;
}

void shp_problem_bounds(const shp_problem *p, double *lo, double *hi) {
  for (size_t i = 0; i < p->nvars; i++) {
    lo[i] = p->vars[i].lo;
    hi[i] = p->vars[i].hi;
  }
}

/* ---- variables ---------------------------------------------------------- */

static double value_in_stack(const shp_stack *s, const variable *v) {
  switch (v->kind) {
  case VAR_TEMPERATURE:
    return s->crystals[v->crystal].temperature_c;
  case VAR_AZIMUTH:
    return s->crystals[v->crystal].azimuth_deg;
  case VAR_LENGTH:
    return s->crystals[v->crystal].length_mm;
  case VAR_IN_POL:
    return s->has_input_polarizer ? s->input_polarizer_deg : 0.0;
  case VAR_OUT_POL:
    return s->output_polarizer_deg;
  }
  return 0.0;
}

void shp_problem_start(const shp_problem *p, double *x) {
  for (size_t i = 0; i < p->nvars; i++) {
    double v = value_in_stack(p->spec.stack, &p->vars[i]);
    x[i] = fmin(fmax(v, p->vars[i].lo), p->vars[i].hi);
  }
}

/* One phase period of a plate around its start, inside the allowed range:
 * searching further only finds the same phases again. */
static int temperature_bounds(const shp_problem *p, size_t c, variable *v) {
  const shp_stack_crystal *cr = &p->spec.stack->crystals[c];
  shp_material_props props;
  int rc = shp_material_props_at(cr->material,
                                 p->spec.stack->pulse.center_wavelength_nm,
                                 cr->temperature_c, cr->length_mm, &props);
  if (rc != SHP_OK)
    return rc;
  double period = props.full_wave_temperature_k;
  double tmin =
      isnan(p->spec.temperature_min_c) ? -INFINITY : p->spec.temperature_min_c;
  double tmax =
      isnan(p->spec.temperature_max_c) ? INFINITY : p->spec.temperature_max_c;
  if (p->spec.crystal_min_c != NULL)
    tmin = fmax(tmin, p->spec.crystal_min_c[c]);
  if (p->spec.crystal_max_c != NULL)
    tmax = fmin(tmax, p->spec.crystal_max_c[c]);
  double lo = cr->temperature_c - period / 2,
         hi = cr->temperature_c + period / 2;
  if (lo < tmin) {
    hi += tmin - lo;
    lo = tmin;
  }
  if (hi > tmax) {
    lo -= hi - tmax;
    hi = tmax;
  }
  v->lo = fmax(lo, tmin);
  v->hi = fmin(hi, tmax);
  v->period = period;
  v->step = 1e-3;
  if (!(v->hi > v->lo))
    return shp_error_set(SHP_ERR_RANGE,
                         "crystals[%zu]: no temperature allowed between %g "
                         "and %g C",
                         c, tmin, tmax);
  return SHP_OK;
}

static void angle_bounds(variable *v, double start) {
  v->lo = start - 90.0;
  v->hi = start + 90.0;
  v->period = 180.0;
  v->step = 1e-3;
}

static variable *push_var(shp_problem *p, var_kind kind, size_t c,
                          const char *fmt) {
  variable *v = &p->vars[p->nvars++];
  memset(v, 0, sizeof *v);
  v->kind = kind;
  v->crystal = c;
  snprintf(v->name, sizeof v->name, fmt, c);
  return v;
}

static int make_variables(shp_problem *p) {
  const shp_stack *s = p->spec.stack;
  unsigned vary = p->spec.vary;
  p->vars = calloc(3 * s->crystal_count + 2, sizeof *p->vars);
  if (p->vars == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "optimize: out of memory");
  for (size_t c = 0; c < s->crystal_count; c++) {
    const shp_stack_crystal *cr = &s->crystals[c];
    if (vary & SHP_VARY_TEMPERATURE) {
      variable *v =
          push_var(p, VAR_TEMPERATURE, c, "crystals[%zu].temperature_c");
      int rc = temperature_bounds(p, c, v);
      if (rc != SHP_OK)
        return rc;
    }
    if (vary & SHP_VARY_AZIMUTH)
      angle_bounds(push_var(p, VAR_AZIMUTH, c, "crystals[%zu].azimuth_deg"),
                   cr->azimuth_deg);
    if (vary & SHP_VARY_LENGTH) {
      variable *v = push_var(p, VAR_LENGTH, c, "crystals[%zu].length_mm");
      double r = p->spec.length_range > 0 ? p->spec.length_range : 0.1;
      v->lo = cr->length_mm * (1 - r);
      v->hi = cr->length_mm * (1 + r);
      v->step = 1e-5;
    }
  }
  if (vary & SHP_VARY_INPUT_POLARIZER)
    angle_bounds(push_var(p, VAR_IN_POL, 0, "input_polarizer_deg"),
                 s->has_input_polarizer ? s->input_polarizer_deg : 0.0);
  if ((vary & SHP_VARY_OUTPUT_POLARIZER) && s->has_output_polarizer)
    angle_bounds(push_var(p, VAR_OUT_POL, 0, "output_polarizer_deg"),
                 s->output_polarizer_deg);
  if (p->nvars == 0)
    return shp_error_set(SHP_ERR_INVALID, "optimize: nothing to vary");
  if ((p->probe = calloc(p->nvars, sizeof *p->probe)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "optimize: out of memory");
  return SHP_OK;
}

/* Put x into the propagator's path. */
static void load(shp_problem *p, const double *x) {
  for (size_t i = 0; i < p->nvars; i++) {
    const variable *v = &p->vars[i];
    shp_crystal *c = &p->elements[v->crystal].crystal;
    switch (v->kind) {
    case VAR_TEMPERATURE:
      c->temperature_c = x[i];
      break;
    case VAR_AZIMUTH:
      c->azimuth_deg = x[i];
      break;
    case VAR_LENGTH:
      c->length_mm = x[i];
      break;
    case VAR_IN_POL:
      p->path.input_polarization_deg = x[i];
      break;
    case VAR_OUT_POL:
      p->path.output_polarizer.angle_deg = x[i];
      break;
    }
  }
}

void shp_problem_apply(const shp_problem *p, const double *x, shp_stack *s) {
  for (size_t i = 0; i < p->nvars; i++) {
    const variable *v = &p->vars[i];
    shp_stack_crystal *c = &s->crystals[v->crystal];
    switch (v->kind) {
    case VAR_TEMPERATURE:
      c->temperature_c = x[i];
      c->has_temperature = true;
      break;
    case VAR_AZIMUTH:
      c->azimuth_deg = x[i];
      break;
    case VAR_LENGTH:
      c->length_mm = x[i];
      break;
    case VAR_IN_POL:
      s->input_polarizer_deg = x[i];
      s->has_input_polarizer = true;
      break;
    case VAR_OUT_POL:
      s->output_polarizer_deg = x[i];
      break;
    }
  }
}

/* ---- construction ------------------------------------------------------- */

static int make_workspace(shp_problem *p) {
  const shp_stack *s = p->spec.stack;
  double span = 1.5 * shp_target_span_ps(p->spec.target);
  int rc = shp_stack_grid(s, span, &p->grid);
  if (rc != SHP_OK)
    return rc;
  size_t n = p->n = p->grid.n;
  p->elements = calloc(s->crystal_count + 1, sizeof *p->elements);
  if (p->elements == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "optimize: out of memory");
  shp_stack_path(s, p->elements, &p->path);
  p->path.no_dispersion = p->spec.no_dispersion;
  p->prop = shp_propagator_new(&p->grid, &p->path);
  p->field = shp_field_new(n);
  p->diag = shp_diag_new(n);
  p->input = malloc(n * sizeof *p->input);
  p->intensity = malloc(n * sizeof *p->intensity);
  p->target = malloc(n * sizeof *p->target);
  p->weight = malloc(n * sizeof *p->weight);
  if (!p->prop || !p->field || !p->diag)
    return shp_error_last();
  if (!p->input || !p->intensity || !p->target || !p->weight)
    return shp_error_set(SHP_ERR_NOMEM, "optimize: out of memory");
  if ((rc = shp_pulse_fill(&s->pulse, &p->grid, p->input)) != SHP_OK ||
      (rc = shp_target_sample(p->spec.target, &p->grid, p->target,
                              p->weight)) != SHP_OK)
    return rc;
  if ((rc = shp_diag_prepare_target(p->diag, p->target, p->weight)) != SHP_OK)
    return rc;
  double norm = 0;
  for (size_t j = 0; j < n; j++)
    norm += p->weight[j] * p->target[j] * p->target[j];
  p->target_norm = sqrt(norm);
  p->has_plateau = shp_target_plateau(p->spec.target, &p->plateau_start_ps,
                                      &p->plateau_end_ps);
  return SHP_OK;
}

shp_problem *shp_problem_new(const shp_problem_spec *spec) {
  if (spec == NULL || spec->stack == NULL || spec->target == NULL) {
    shp_error_set(SHP_ERR_INVALID, "optimize: a stack and a target are needed");
    return NULL;
  }
  if (!(spec->weight_transmission >= 0) || !(spec->weight_ripple >= 0)) {
    shp_error_set(SHP_ERR_INVALID, "optimize: weights must be >= 0");
    return NULL;
  }
  shp_problem *p = calloc(1, sizeof *p);
  if (p == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "optimize: out of memory");
    return NULL;
  }
  p->spec = *spec;
  if (make_variables(p) != SHP_OK || make_workspace(p) != SHP_OK) {
    shp_problem_free(p);
    return NULL;
  }
  return p;
}

/* ---- evaluation --------------------------------------------------------- */

/* Output intensity at x, and its metrics against the target (only those
 * the objective needs when error_only). */
static int propagate(shp_problem *p, const double *x, shp_metrics *m,
                     bool error_only) {
  load(p, x);
  p->evaluations++;
  int rc = shp_propagator_apply(p->prop, &p->path, p->input, p->field);
  if (rc != SHP_OK)
    return rc;
  shp_field_intensity(p->field, NULL, NULL, p->intensity);
  shp_metrics_opts opts = {
      .target = p->target, .weight = p->weight, .error_only = error_only};
  if (p->has_plateau) {
    opts.plateau_start_ps = p->plateau_start_ps;
    opts.plateau_end_ps = p->plateau_end_ps;
  }
  return shp_diag_metrics(p->diag, p->intensity, p->grid.dt, &opts, m);
}

/* Ripple over the target's plateau, moved onto the output by the shift the
 * error found: a I(t - s) ~ T(t), so the output's plateau is the target's
 * less s. */
static double aligned_ripple(const shp_problem *p, const shp_metrics *m) {
  if (!p->has_plateau)
    return m->ripple;
  double lo = INFINITY, hi = 0;
  double t0 = p->plateau_start_ps - m->error_shift_ps;
  double t1 = p->plateau_end_ps - m->error_shift_ps;
  for (size_t j = 0; j < p->n; j++) {
    double t = shp_grid_time_ps(&p->grid, j);
    if (t >= t0 && t <= t1) {
      lo = fmin(lo, p->intensity[j]);
      hi = fmax(hi, p->intensity[j]);
    }
  }
  return hi + lo > 0 ? (hi - lo) / (hi + lo) : 0.0;
}

static double ripple_excess(const shp_problem *p, const shp_metrics *m) {
  if (!(p->spec.ripple_max > 0) || p->spec.weight_ripple == 0)
    return 0.0;
  return fmax(0.0, aligned_ripple(p, m) - p->spec.ripple_max);
}

double shp_problem_eval(shp_problem *p, const double *x) {
  shp_metrics m;
  if (propagate(p, x, &m, true) != SHP_OK || !isfinite(m.error))
    return NAN;
  double e = m.error, loss = 1 - m.transmission, r = ripple_excess(p, &m);
  return e * e + p->spec.weight_transmission * loss * loss +
         p->spec.weight_ripple * r * r;
}

int shp_problem_metrics(shp_problem *p, const double *x, shp_metrics *m) {
  int rc = propagate(p, x, m, false);
  if (rc == SHP_OK && p->has_plateau) {
    double r = aligned_ripple(p, m);
    m->ripple = r;
    m->plateau_start_ps = p->plateau_start_ps - m->error_shift_ps;
    m->plateau_end_ps = p->plateau_end_ps - m->error_shift_ps;
  }
  return rc;
}

int shp_problem_residuals(shp_problem *p, const double *x, double *r) {
  shp_metrics m;
  int rc = propagate(p, x, &m, true);
  if (rc != SHP_OK)
    return rc;
  size_t n = p->n;
  double dt = p->grid.dt;
  /* a I(t_j - s) by linear interpolation, so the residual moves smoothly
   * with the shift. */
  for (size_t j = 0; j < n; j++) {
    double pos = (double)j - m.error_shift_ps / dt;
    double f = floor(pos);
    long i0 = (long)f;
    double w = pos - f, v = 0;
    if (i0 >= 0 && i0 + 1 < (long)n)
      v = (1 - w) * p->intensity[i0] + w * p->intensity[i0 + 1];
    r[j] = sqrt(p->weight[j]) * (m.error_scale * v - p->target[j]) /
           p->target_norm;
  }
  r[n] = sqrt(p->spec.weight_transmission) * (1 - m.transmission);
  r[n + 1] = sqrt(p->spec.weight_ripple) * ripple_excess(p, &m);
  return SHP_OK;
}

int shp_problem_gradient(shp_problem *p, const double *x, double *grad) {
  double *probe = p->probe;
  memcpy(probe, x, p->nvars * sizeof *x);
  for (size_t i = 0; i < p->nvars; i++) {
    double h = p->vars[i].step;
    probe[i] = x[i] + h;
    double fp = shp_problem_eval(p, probe);
    probe[i] = x[i] - h;
    double fm = shp_problem_eval(p, probe);
    probe[i] = x[i];
    if (!isfinite(fp) || !isfinite(fm))
      return shp_error_set(SHP_ERR_NUMERIC, "optimize: the model failed");
    grad[i] = (fp - fm) / (2 * h);
  }
  return SHP_OK;
}
