#include "shp/design.h"

#include "shp/error.h"
#include "shp/generate.h"
#include "shp/gsl-guard.h"
#include "shp/numbers.h"
#include "shp/optimize.h"
#include "shp/simulation.h"
#include "shp/synthesis.h"
#include "shp/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An azimuth or temperature tolerance is the deviation that raises the RMS
 * error by this much. */
#define ERROR_BUDGET 0.01
/* A length tolerance moves a replica by this share of the pulse width. */
#define TIMING_BUDGET 0.02
/* Plate delays tried around the nominal one, for a free stack. */
static const double delay_factors[] = {0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3};

void shp_design_free(shp_design *d) {
  if (d == NULL)
    return;
  shp_stack_free(d->stack);
  free(d->plates);
  free(d);
}

/* ---- the replica model -------------------------------------------------- */

typedef struct {
  size_t count;
  double dt, t0;
  double *target, *envelope;
} fit_axis;

static void axis_clear(fit_axis *a) {
  free(a->target);
  free(a->envelope);
}

/* Target and Gaussian field envelope on one axis wide enough for the
 * widest replica spread tried. */
static int make_axis(const shp_design_spec *spec, double tau_max, size_t m,
                     fit_axis *a) {
  double w = spec->fwhm_ps;
  double window =
      2 * ((double)m * tau_max + shp_target_span_ps(spec->target)) + 8 * w;
  size_t n = (size_t)ceil(window / (w / 16));
  n += n % 2;
  shp_grid g;
  int rc = shp_grid_init(&g, n, (double)n * (w / 16), spec->wavelength_nm);
  if (rc != SHP_OK)
    return rc;
  a->count = n;
  a->dt = g.dt;
  a->t0 = shp_grid_time_ps(&g, 0);
  a->target = malloc(n * sizeof *a->target);
  a->envelope = malloc(n * sizeof *a->envelope);
  if (a->target == NULL || a->envelope == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "design: out of memory");
  for (size_t j = 0; j < n; j++) {
    double t = shp_grid_time_ps(&g, j) / w;
    a->envelope[j] = exp(-2 * log(2) * t * t); /* intensity FWHM w */
  }
  return shp_target_sample(spec->target, &g, a->target, NULL);
}

/* The FWHM the replicas should spread over, less the pulse's own width. */
static double nominal_delay(const shp_design_spec *spec, const fit_axis *a,
                            size_t m) {
  double fwhm = shp_fwhm(a->target, a->count, a->dt);
  if (!isfinite(fwhm))
    fwhm = shp_target_span_ps(spec->target) / 2;
  return fmax(fwhm - spec->fwhm_ps, spec->fwhm_ps / 2) / (double)m;
}

/* Real taps for the best of several plate delays; tau keeps the sign of the
 * material's e-o group delay (the replica order in time). */
static int fit_taps(const shp_design_spec *spec, double sign, size_t m,
                    double complex *taps, double *tau, double *error) {
  fit_axis probe = {0};
  int rc = make_axis(spec, 0, m, &probe);
  double tau0 = rc == SHP_OK ? nominal_delay(spec, &probe, m) : 0;
  axis_clear(&probe);
  fit_axis a = {0};
  if (rc == SHP_OK)
    rc = make_axis(spec, 1.3 * tau0, m, &a);
  double complex *trial = calloc(m + 1, sizeof *trial);
  if (rc == SHP_OK && trial == NULL)
    rc = shp_error_set(SHP_ERR_NOMEM, "design: out of memory");
  *error = INFINITY;
  shp_synth_fit_options o;
  shp_synth_fit_options_init(&o);
  o.real_taps = true; /* realisable with every plate at its design phase */
  for (size_t i = 0;
       rc == SHP_OK && i < sizeof delay_factors / sizeof *delay_factors; i++) {
    shp_synth_fit_problem p = {.target = a.target,
                               .envelope = a.envelope,
                               .count = a.count,
                               .t0_ps = a.t0,
                               .dt_ps = a.dt,
                               .tau_ps = sign * delay_factors[i] * tau0,
                               .order = m};
    shp_synth_fit_result r;
    if (shp_synth_fit(&p, &o, trial, &r) != SHP_OK)
      continue;
    if (r.rms_error < *error) {
      *error = r.rms_error;
      *tau = fabs(p.tau_ps);
      memcpy(taps, trial, (m + 1) * sizeof *taps);
    }
  }
  free(trial);
  axis_clear(&a);
  if (rc == SHP_OK && !isfinite(*error))
    rc = shp_error_set(SHP_ERR_NUMERIC, "design: no replica fit succeeded");
  return rc;
}

/* ---- the stack ---------------------------------------------------------- */

static int angles(const shp_design_spec *spec, double sign, size_t *m,
                  shp_synth_stack *ss, double *tau, double *fit_error) {
  size_t n = spec->crystals;
  *m = spec->double_pass ? 2 * n : n;
  memset(ss, 0, sizeof *ss);
  ss->n = n;
  ss->double_pass = spec->double_pass;
  *fit_error = NAN;
  if (spec->type != SHP_DESIGN_FREE) {
    fit_axis a = {0};
    int rc = make_axis(spec, 0, *m, &a);
    if (rc == SHP_OK)
      *tau = nominal_delay(spec, &a, *m);
    axis_clear(&a);
    double rho = 45.0 / (double)n;
    for (size_t i = 0; i < n; i++)
      ss->azimuth_deg[i] = spec->type == SHP_DESIGN_FAN
                               ? (double)(2 * i + 1) * rho
                               : (i % 2 ? -rho : rho);
    ss->has_output_polarizer = true;
    ss->output_polarizer_deg = spec->type == SHP_DESIGN_FAN ? 0.0 : 90.0;
    return rc;
  }
  double complex *taps = calloc(*m + 1, sizeof *taps);
  if (taps == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "design: out of memory");
  int rc = fit_taps(spec, sign, *m, taps, tau, fit_error);
  if (rc == SHP_OK)
    rc = spec->double_pass ? shp_synth_double_pass(taps, n, ss, NULL)
                           : shp_synth_from_taps(taps, n, ss, NULL);
  if (rc == SHP_ERR_RANGE && spec->double_pass)
    shp_error_set(SHP_ERR_RANGE,
                  "design: no double-pass stack of %zu plates realises the "
                  "fitted shape; try another number of crystals or a single "
                  "pass",
                  n);
  free(taps);
  return rc;
}

/* Plates of the delay, at the synthesised angles, each at its design phase:
 * a full wave (fan, free; plus the synthesis' offset) or a half wave. */
static shp_stack *build(const shp_design_spec *spec, const shp_synth_stack *ss,
                        double tau, double gd) {
  char name[160];
  static const char *const types[] = {"free", "fan-type Solc", "folded Solc"};
  snprintf(name, sizeof name, "%s design, %zu %s plates%s", types[spec->type],
           spec->crystals, spec->material,
           spec->double_pass ? ", double pass" : "");
  shp_stack *s = shp_stack_new(name, spec->wavelength_nm, spec->fwhm_ps);
  if (s == NULL)
    return NULL;
  char buf[32];
  shp_snprintf(buf, sizeof buf, "%.4f", tau / gd);
  double length = shp_strtod(buf, NULL); /* 0.1 um, as generated stacks */
  double goal = spec->type == SHP_DESIGN_FOLDED ? SHP_PI : 0.0;
  for (size_t i = 0; i < ss->n; i++) {
    if (shp_stack_add_crystal(s, spec->material, length, ss->azimuth_deg[i],
                              spec->base_temperature_c) != SHP_OK ||
        shp_tune_temperature(
            s->crystals[i].material, length, spec->wavelength_nm,
            goal + ss->phase_offset_rad[i], spec->base_temperature_c,
            &s->crystals[i].temperature_c) != SHP_OK) {
      shp_stack_free(s);
      return NULL;
    }
  }
  s->has_input_polarizer = true;
  s->input_polarizer_deg = ss->input_polarizer_deg;
  s->has_output_polarizer = ss->has_output_polarizer;
  s->output_polarizer_deg = ss->output_polarizer_deg;
  s->double_pass = spec->double_pass;
  return s;
}

/* ---- polish and tolerances ---------------------------------------------- */

static int metrics_of(const shp_stack *s, const shp_target *t, shp_metrics *m) {
  shp_simulation *sim = shp_simulate(s, t, false);
  if (sim == NULL)
    return shp_error_last();
  *m = sim->metrics;
  shp_simulation_free(sim);
  return SHP_OK;
}

/* The larger error with variable i moved by +-step; a point where the model
 * fails counts as out of tolerance. */
static double worst_error(shp_problem *p, double *x, size_t i, double step) {
  double x0 = x[i], worst = 0;
  for (int sign = -1; sign <= 1; sign += 2) {
    shp_metrics m;
    x[i] = x0 + sign * step;
    double e = shp_problem_metrics(p, x, &m) == SHP_OK ? m.error : INFINITY;
    worst = fmax(worst, isnan(e) ? INFINITY : e);
  }
  x[i] = x0;
  return worst;
}

/* The deviation of variable i that raises the error by ERROR_BUDGET: grow
 * a step until it does (either way), then bisect. */
static double tolerance_of(shp_problem *p, double *x, size_t i, double e0,
                           double start, double limit) {
  double lo = 0, hi = start;
  while (worst_error(p, x, i, hi) < e0 + ERROR_BUDGET) {
    lo = hi;
    hi *= 2;
    if (hi > limit)
      return INFINITY;
  }
  for (int it = 0; it < 12; it++) {
    double mid = 0.5 * (lo + hi);
    if (worst_error(p, x, i, mid) >= e0 + ERROR_BUDGET)
      hi = mid;
    else
      lo = mid;
  }
  return hi;
}

static int polish(const shp_design_spec *spec, shp_design *d) {
  /* A Solc type is a choice of angles: only its temperatures are polished;
   * a free stack's angles are the synthesis' first guess. */
  unsigned vary = SHP_VARY_TEMPERATURE;
  if (spec->type == SHP_DESIGN_FREE)
    vary |= SHP_VARY_AZIMUTH | SHP_VARY_POLARIZER;
  shp_problem_spec ps = {.stack = d->stack,
                         .target = spec->target,
                         .vary = vary,
                         .temperature_min_c = NAN,
                         .temperature_max_c = NAN};
  shp_problem *p = shp_problem_new(&ps);
  if (p == NULL)
    return shp_error_last();
  size_t n = shp_problem_size(p);
  double *x = calloc(n, sizeof *x);
  shp_search_opts o = {.seed = spec->seed, .starts = 16};
  shp_search *s = x ? shp_search_new(p, &o) : NULL;
  int rc = s ? SHP_OK : (shp_error_last() ? shp_error_last() : SHP_ERR_NOMEM);
  if (rc == SHP_OK) {
    int step;
    while ((step = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE)
      ;
    rc = step < 0 ? step : SHP_OK;
  }
  if (rc == SHP_OK) {
    shp_search_best(s, x);
    shp_problem_apply(p, x, d->stack);
    shp_metrics m;
    rc = shp_problem_metrics(p, x, &m);
    for (size_t i = 0; rc == SHP_OK && i < n; i++) {
      size_t c;
      const char *name = shp_problem_name(p, i);
      if (sscanf(name, "crystals[%zu]", &c) != 1 ||
          c >= d->stack->crystal_count)
        continue;
      if (strstr(name, "azimuth_deg"))
        d->plates[c].azimuth_tolerance_deg =
            tolerance_of(p, x, i, m.error, 0.01, 45.0);
      else if (strstr(name, "temperature_c"))
        d->plates[c].temperature_tolerance_k =
            tolerance_of(p, x, i, m.error, 0.001, shp_problem_period(p, i) / 2);
    }
  }
  shp_search_free(s);
  free(x);
  shp_problem_free(p);
  return rc;
}

static int check_spec(const shp_design_spec *spec) {
  if (spec == NULL || spec->target == NULL || spec->material == NULL)
    return shp_error_set(SHP_ERR_INVALID, "design: a target and a material "
                                          "are needed");
  if (spec->crystals < 1 || spec->crystals > 12)
    return shp_error_set(SHP_ERR_INVALID, "design: 1 to 12 crystals, got %zu",
                         spec->crystals);
  if (!(spec->wavelength_nm > 0) || !(spec->fwhm_ps > 0) ||
      !isfinite(spec->base_temperature_c))
    return shp_error_set(SHP_ERR_INVALID,
                         "design: wavelength and pulse width must be > 0");
  return SHP_OK;
}

shp_design *shp_design_run(const shp_design_spec *spec) {
  shp_gsl_guard();
  if (check_spec(spec) != SHP_OK)
    return NULL;
  shp_material *mat = shp_material_open(spec->material);
  shp_material_props props;
  if (mat == NULL ||
      shp_material_props_at(mat, spec->wavelength_nm, spec->base_temperature_c,
                            1.0, &props) != SHP_OK) {
    shp_material_free(mat);
    return NULL;
  }
  shp_material_free(mat);
  double sign = props.group_index_e < props.group_index_o ? -1.0 : 1.0;
  shp_design *d = calloc(1, sizeof *d);
  shp_synth_stack ss;
  size_t m;
  double tau = 0;
  int rc = d ? angles(spec, sign, &m, &ss, &tau, &d->fit_error)
             : shp_error_set(SHP_ERR_NOMEM, "design: out of memory");
  if (rc == SHP_OK &&
      (d->stack = build(spec, &ss, tau, props.group_delay_ps_per_mm)) == NULL)
    rc = shp_error_last();
  if (rc == SHP_OK) {
    d->plate_delay_ps = tau;
    d->plates = calloc(spec->crystals, sizeof *d->plates);
    rc = d->plates ? metrics_of(d->stack, spec->target, &d->synthesis)
                   : shp_error_set(SHP_ERR_NOMEM, "design: out of memory");
  }
  if (rc == SHP_OK)
    rc = polish(spec, d);
  if (rc == SHP_OK)
    rc = metrics_of(d->stack, spec->target, &d->metrics);
  for (size_t i = 0; rc == SHP_OK && i < spec->crystals; i++) {
    const shp_stack_crystal *c = &d->stack->crystals[i];
    shp_design_plate *pl = &d->plates[i];
    pl->length_mm = c->length_mm;
    pl->length_tolerance_mm =
        TIMING_BUDGET * spec->fwhm_ps / props.group_delay_ps_per_mm;
    pl->azimuth_deg = c->azimuth_deg;
    pl->temperature_c = c->temperature_c;
  }
  if (rc != SHP_OK) {
    shp_design_free(d);
    return NULL;
  }
  return d;
}
