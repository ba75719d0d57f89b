/* Crystal-phase calibration: scan each crystal's oven over a phase period
 * while the others hold, then fit the full measurement model (shp/fit.h:
 * offsets, slopes, azimuth and length errors, pulse, delay axis) to every
 * trace. Journal records (JSON Lines, one per step, written before
 * the step acts; the journal is created with its first record and locked
 * before any device is touched):
 *   calibrate  the inputs: lab, stack (paths and "sha256" of their bytes),
 *              crystals, periods, points, averages, seed
 *   home       home_c: the ovens' setpoints at the start (the first reads)
 *   move       crystal, setpoints_c (before the ovens are asked)
 *   oven_command  every setpoint sent to an instrument, each software ramp
 *              step included (run-journal.c)
 *   measure    crystal (-1: all at their setpoints), setpoints_c, actual_c,
 *              delay_ps, signal
 *   fit        per crystal offset, slope change, azimuth and length errors
 *              and their sigmas; pulse width and GDD, delay scale and
 *              offset, consistent solutions, residual, report
 *   fault      code, message
 *   end        status (calibrated, undetermined, failed), code, message,
 *              holding_c and holding_known (what each oven holds) */
#include "run-private.h"
#include "stepper.h"

#include "shp/calibrate.h"
#include "shp/error.h"
#include "shp/file.h"
#include "shp/fit.h"
#include "shp/units.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  shp_supervisor *sup;
  const shp_calibrate_spec *spec;
  shp_run_progress_fn progress;
  void *user;
  size_t nc;
  double *setpoints; /* nc: what the ovens are asked for now */
  double *home;      /* nc: the setpoints at the start */
  double *actual;    /* nc: readbacks of the last trace */
  double *from, *to; /* nc: each scanned crystal's scan */
  size_t *points;    /* nc: traces taken in each crystal's scan */
  size_t moves;
  bool acted; /* the lab was asked to do something */
  shp_journal *journal;
  bool undetermined; /* the fit ran, a scanned crystal stayed open */
  shp_stack *model;
  shp_fit *fit;
  shp_fit_set set;     /* the last solve */
  double noise_sum;    /* of every trace's noise relative to its peak */
  double residual_rms; /* of the best solution, relative to the peak */
  char message[512];
  int code; /* the terminal event's */
} cal_ctx;

static void emit(cal_ctx *c, shp_run_event_kind kind, const shp_trace *trace,
                 const char *fmt, ...) {
  if (c->progress == NULL)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  shp_run_event e = {.kind = kind,
                     .iteration = c->moves,
                     .error = NAN,
                     .predicted_error = NAN,
                     .setpoints_c = c->setpoints,
                     .actual_c = c->actual,
                     .crystal_count = c->nc,
                     .trace = trace,
                     .code = c->code,
                     .message = msg};
  c->progress(&e, c->user);
}

static int record(cal_ctx *c, json_t *rec) {
  int rc = SHP_OK;
  if (c->journal != NULL) {
    rc = shp_journal_append(c->journal, rec);
    if (rc != SHP_OK)
      shp_error_prefix(
          "the journal cannot be written, so the calibration stops: ");
  }
  json_decref(rec);
  return rc;
}

/* ---- the scan ------------------------------------------------------------ */

/* The temperatures to scan crystal i at: spec->periods full-wave
 * temperatures, centred on its present setpoint where its limits allow. */
static int scan_range(cal_ctx *c, size_t i, double *from, double *to) {
  const shp_stack_crystal *k = &c->model->crystals[i];
  const shp_lab_oven *ov = &c->spec->lab->ovens[i];
  shp_material_props p;
  int rc =
      shp_material_props_at(k->material, c->model->pulse.center_wavelength_nm,
                            c->home[i], k->length_mm, &p);
  if (rc != SHP_OK)
    return rc;
  double span = c->spec->periods * p.full_wave_temperature_k;
  if (!(span <= ov->max_c - ov->min_c))
    return shp_error_set(SHP_ERR_RANGE,
                         "crystal %zu: one scan spans %.1f K (%g phase "
                         "periods of %.1f K), but its oven is limited to "
                         "%g..%g C",
                         i, span, c->spec->periods, p.full_wave_temperature_k,
                         ov->min_c, ov->max_c);
  *from = fmin(fmax(c->home[i] - 0.5 * span, ov->min_c), ov->max_c - span);
  *to = *from + span;
  return SHP_OK;
}

static int move_to(cal_ctx *c, int crystal) {
  int rc =
      record(c, json_pack("{s:s, s:i, s:o}", "type", "move", "crystal", crystal,
                          "setpoints_c", run_json_array(c->setpoints, c->nc)));
  if (rc == SHP_OK)
    rc = run_move_ovens(c->sup, c->nc, c->setpoints, c->progress, c->user,
                        c->moves);
  if (rc != SHP_OK)
    return rc;
  c->moves++;
  emit(c, SHP_RUN_EV_SETTLED, NULL, "move %zu: crystal %d settled at %.2f C",
       c->moves, crystal, crystal >= 0 ? c->setpoints[crystal] : NAN);
  return SHP_OK;
}

/* A trace's noise from itself: the spread of its second differences (the
 * smooth autocorrelation hardly bends from one sample to the next, so they
 * are noise, sqrt(6) sigma), robustly by the median; at least 1e-4 of the
 * peak so a noiseless simulation still weighs its samples finitely. */
static int cmp_abs(const void *a, const void *b) {
  double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
  return (x > y) - (x < y);
}

static double trace_noise(const double *v, size_t n) {
  double peak = 0;
  for (size_t j = 0; j < n; j++)
    peak = fmax(peak, fabs(v[j]));
  double floor_ = fmax(1e-4 * peak, 1e-12);
  if (n < 5)
    return floor_;
  double *d = malloc((n - 2) * sizeof *d);
  if (d == NULL)
    return fmax(0.01 * peak, floor_);
  for (size_t j = 1; j + 1 < n; j++)
    d[j - 1] = v[j - 1] - 2 * v[j] + v[j + 1];
  qsort(d, n - 2, sizeof *d, cmp_abs);
  double mad = fabs(d[(n - 2) / 2]);
  free(d);
  return fmax(1.4826 * mad / sqrt(6.0), floor_);
}

/* Acquire at the present temperatures; journal it; add it to the fit. */
static int measure(cal_ctx *c, int crystal) {
  const shp_trace *t;
  int rc = shp_supervisor_acquire(c->sup, c->spec->averages, &t);
  for (size_t i = 0; i < c->nc && rc == SHP_OK; i++) {
    shp_oven_status st;
    if ((rc = shp_supervisor_status(c->sup, i, &st)) == SHP_OK)
      c->actual[i] = st.reading.actual_c;
  }
  if (rc != SHP_OK)
    return rc;
  rc = record(c, json_pack("{s:s, s:i, s:o, s:o, s:o, s:o}", "type", "measure",
                           "crystal", crystal, "setpoints_c",
                           run_json_array(c->setpoints, c->nc), "actual_c",
                           run_json_array(c->actual, c->nc), "delay_ps",
                           run_json_array(t->delay_ps, t->count), "signal",
                           run_json_array(t->signal, t->count)));
  if (rc != SHP_OK)
    return rc;
  double noise = trace_noise(t->signal, t->count);
  shp_fit_trace m = {.model = &shp_fit_model_ac,
                     .temperatures_c = c->actual,
                     .crystal_count = c->nc,
                     .axis = t->delay_ps,
                     .values = t->signal,
                     .count = t->count,
                     .noise = noise};
  if ((rc = shp_fit_add(c->fit, &m)) != SHP_OK)
    return rc;
  double peak = 0;
  for (size_t j = 0; j < t->count; j++)
    peak = fmax(peak, t->signal[j]);
  c->noise_sum += peak > 0 ? noise / peak : 0;
  emit(c, SHP_RUN_EV_MEASURED, t, "trace %zu measured", shp_fit_count(c->fit));
  return SHP_OK;
}

static int scan(cal_ctx *c, size_t i) {
  double from = c->from[i], to = c->to[i];
  size_t n = c->spec->points;
  int rc = SHP_OK;
  for (size_t k = 0; k < n && rc == SHP_OK; k++) {
    c->setpoints[i] = from + (to - from) * (double)k / (double)(n - 1);
    rc = move_to(c, (int)i);
    if (rc == SHP_OK)
      rc = measure(c, (int)i);
    if (rc == SHP_OK)
      c->points[i]++;
  }
  if (rc == SHP_OK) {
    c->setpoints[i] = c->home[i];
    rc = move_to(c, (int)i);
  }
  return rc;
}

/* ---- the fit ------------------------------------------------------------- */

static bool scanned(const cal_ctx *c, size_t i) {
  if (c->spec->crystals == NULL)
    return true;
  for (size_t k = 0; k < c->spec->crystal_count; k++)
    if (c->spec->crystals[k] == i)
      return true;
  return false;
}

/* Parameter j of the best solution, its sigma and its posterior/prior
 * ratio; NAN when not an unknown. */
typedef struct {
  double v, sigma, ratio;
} fitted;

static fitted param(const cal_ctx *c, size_t j) {
  if (j == SIZE_MAX || c->set.count == 0)
    return (fitted){NAN, NAN, NAN};
  const shp_fit_solution *s = &c->set.solutions[0];
  return (fitted){s->params[j], s->sigma[j], c->set.sigma_ratio[j]};
}

static size_t index_named(const cal_ctx *c, const char *name) {
  for (size_t j = 0; j < shp_fit_parameter_count(c->fit); j++)
    if (strcmp(shp_fit_parameter_name(c->fit, j), name) == 0)
      return j;
  return SIZE_MAX;
}

static size_t index_slope(const cal_ctx *c, size_t i) {
  char name[64];
  snprintf(name, sizeof name, "crystals[%zu].slope_change_rad_per_k", i);
  return index_named(c, name);
}

/* A solve of every trace so far, the best solution's residual with it. */
static int solve(cal_ctx *c) {
  shp_fit_set next = {0};
  int rc = c->set.count > 0 ? shp_fit_solve_seeded(c->fit, &c->set, &next)
                            : shp_fit_solve(c->fit, &next);
  if (rc != SHP_OK) {
    shp_fit_set_clear(&next);
    return rc;
  }
  shp_fit_set_clear(&c->set);
  c->set = next;
  size_t n = shp_fit_count(c->fit);
  double chi2 = c->set.count ? c->set.solutions[0].chi2 : NAN;
  c->residual_rms =
      n > 0 && c->set.points > 0
          ? c->noise_sum / (double)n * sqrt(chi2 / (double)c->set.points)
          : NAN;
  return SHP_OK;
}

static json_t *fit_record(const cal_ctx *c) {
  size_t nc = c->nc;
  double *v = calloc(8 * nc, sizeof *v);
  if (v == NULL)
    return NULL;
  for (size_t i = 0; i < nc; i++) {
    fitted p = param(c, shp_fit_index_phase(c->fit, i));
    fitted s = param(c, index_slope(c, i));
    fitted a = param(c, shp_fit_index_azimuth(c->fit, i));
    fitted l = param(c, shp_fit_index_length(c->fit, i));
    double w[8] = {p.v, p.sigma, s.v, s.sigma, a.v, a.sigma, l.v, l.sigma};
    for (size_t k = 0; k < 8; k++)
      v[k * nc + i] = w[k];
  }
  fitted w = param(c, shp_fit_index_width(c->fit));
  fitted g = param(c, shp_fit_index_gdd(c->fit));
  fitted ds = param(c, index_named(c, "autocorrelation.delay_scale"));
  fitted dof = param(c, index_named(c, "autocorrelation.delay_offset_ps"));
  json_t *r = json_pack(
      "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
      "s:I, s:o, s:o}",
      "type", "fit", "phase_offset_rad", run_json_array(v, nc),
      "phase_sigma_rad", run_json_array(v + nc, nc), "slope_change_rad_per_k",
      run_json_array(v + 2 * nc, nc), "slope_sigma_rad_per_k",
      run_json_array(v + 3 * nc, nc), "azimuth_error_deg",
      run_json_array(v + 4 * nc, nc), "azimuth_sigma_deg",
      run_json_array(v + 5 * nc, nc), "length_error_um",
      run_json_array(v + 6 * nc, nc), "length_sigma_um",
      run_json_array(v + 7 * nc, nc), "pulse_width_rel",
      shp_journal_number(w.v), "pulse_gdd_fs2", shp_journal_number(g.v),
      "delay_scale", shp_journal_number(ds.v), "delay_offset_ps",
      shp_journal_number(dof.v), "solutions", (json_int_t)c->set.count,
      "residual_rms", shp_journal_number(c->residual_rms), "report",
      shp_journal_string(c->set.report));
  free(v);
  return r;
}

/* Posterior sigma below this share of the prior's: the traces, not the
 * prior, determine the parameter. */
#define DETERMINED_RATIO 0.5

/* Crystal i's phase and slope are determined by the traces (sigma well
 * below the prior's), else a sentence in why. */
static bool crystal_determined(const cal_ctx *c, size_t i, char *why,
                               size_t size) {
  fitted p = param(c, shp_fit_index_phase(c->fit, i));
  fitted s = param(c, index_slope(c, i));
  if (isfinite(p.v) && isfinite(s.v) && p.sigma < 1.0 &&
      p.ratio < DETERMINED_RATIO && s.sigma > 0 && s.ratio < DETERMINED_RATIO)
    return true;
  snprintf(why, size,
           "crystal %zu is not determined by the scan (phase sigma %.3g rad, "
           "%.2f of its prior; slope sigma %.3g rad/K, %.2f of its prior)",
           i, p.sigma, p.ratio, s.sigma, s.ratio);
  return false;
}

/* The best solution's crystal i into e. */
static int fill_crystal(const cal_ctx *c, size_t i,
                        shp_calibration_crystal *e) {
  const shp_stack_crystal *k = &c->model->crystals[i];
  const shp_fit_solution *sol = &c->set.solutions[0];
  size_t np = shp_fit_parameter_count(c->fit);
  size_t jp = shp_fit_index_phase(c->fit, i), js = index_slope(c, i);
  size_t ja = shp_fit_index_azimuth(c->fit, i);
  size_t jl = shp_fit_index_length(c->fit, i);
  double dl_um = jl != SIZE_MAX ? sol->params[jl] : 0.0;
  double t0 = shp_material_reference_temperature_c(k->material);
  shp_material_props p;
  int rc =
      shp_material_props_at(k->material, c->model->pulse.center_wavelength_nm,
                            k->temperature_c, k->length_mm + 1e-3 * dl_um, &p);
  if (rc != SHP_OK)
    return rc;
  /* The material model's slope for the fitted length; the measured one
   * adds the stack's own correction and the fitted change. */
  double model_slope =
      p.dphase_dT_rad_per_K_per_mm * (k->length_mm + 1e-3 * dl_um);
  e->index = i;
  e->length_mm = k->length_mm;
  e->reference_temperature_c = k->temperature_c;
  /* The model's phase beyond the nominal plate's at the reference: the
   * fitted offset (which holds the length error's carrier phase) on top of
   * the stack's own correction. */
  e->phase_offset_rad =
      shp_wrap_phase(sol->params[jp] +
                     k->slope_correction_rad_per_k * (k->temperature_c - t0));
  e->phase_offset_sigma_rad = sol->sigma[jp];
  e->model_slope_rad_per_k = model_slope;
  e->slope_rad_per_k =
      model_slope + k->slope_correction_rad_per_k + sol->params[js];
  /* The slope's variance: the change's and the length's share of the
   * material slope, with their covariance. */
  double a = p.dphase_dT_rad_per_K_per_mm * 1e-3;
  double var = sol->covariance[js * np + js];
  if (jl != SIZE_MAX)
    var += a * a * sol->covariance[jl * np + jl] +
           2 * a * sol->covariance[js * np + jl];
  e->slope_sigma_rad_per_k = sqrt(fmax(var, 0.0));
  if (ja != SIZE_MAX && jl != SIZE_MAX) {
    e->has_errors = true;
    e->azimuth_error_deg = sol->params[ja];
    e->azimuth_error_sigma_deg = sol->sigma[ja];
    e->length_error_um = dl_um;
    e->length_error_sigma_um = sol->sigma[jl];
  }
  e->scan_from_c = c->from[i];
  e->scan_to_c = c->to[i];
  e->scan_points = c->points[i];
  return SHP_OK;
}

/* The fitted crystals as a calibration; SHP_ERR_NUMERIC when one is not
 * determined. */
static int build(cal_ctx *c, shp_calibration **out) {
  const shp_lab *lab = c->spec->lab;
  char why[512];
  for (size_t i = 0; i < c->nc; i++) {
    if (!scanned(c, i) || crystal_determined(c, i, why, sizeof why))
      continue;
    c->undetermined = true;
    return shp_error_set(SHP_ERR_NUMERIC, "%s: %s", why, c->set.report);
  }
  shp_calibration *cal = shp_calibration_new(
      c->nc, lab->path ? lab->path : "sim", lab->stack_path, c->model->name);
  if (cal == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  cal->residual_rms = c->residual_rms;
  cal->identifiability = strdup(c->set.report);
  int rc = cal->identifiability ? SHP_OK
                                : shp_error_set(SHP_ERR_NOMEM, "out of memory");
  fitted w = param(c, shp_fit_index_width(c->fit));
  fitted g = param(c, shp_fit_index_gdd(c->fit));
  if (isfinite(w.v) && w.ratio < DETERMINED_RATIO) {
    double fwhm = c->model->pulse.fwhm_ps;
    cal->has_pulse = true;
    cal->pulse_fwhm_ps = fwhm * (1 + w.v);
    cal->pulse_fwhm_sigma_ps = fwhm * w.sigma;
    cal->pulse_gdd_fs2 = c->model->pulse.gdd_fs2 + g.v;
    cal->pulse_gdd_sigma_fs2 = g.sigma;
  }
  fitted ds = param(c, index_named(c, "autocorrelation.delay_scale"));
  fitted dof = param(c, index_named(c, "autocorrelation.delay_offset_ps"));
  if (isfinite(ds.v) && isfinite(dof.v) &&
      (ds.ratio < DETERMINED_RATIO || dof.ratio < DETERMINED_RATIO)) {
    cal->has_delay = true;
    cal->delay_scale = ds.v;
    cal->delay_scale_sigma = ds.sigma;
    cal->delay_offset_ps = dof.v;
    cal->delay_offset_sigma_ps = dof.sigma;
  }
  for (size_t i = 0; i < c->nc && rc == SHP_OK; i++) {
    if (!scanned(c, i))
      continue;
    const shp_stack_crystal *k = &c->model->crystals[i];
    shp_calibration_crystal *e = &cal->crystals[cal->crystal_count];
    if ((e->material = strdup(k->material_name)) == NULL) {
      rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
      break;
    }
    cal->crystal_count++;
    rc = fill_crystal(c, i, e);
  }
  if (rc != SHP_OK) {
    shp_calibration_free(cal);
    return rc;
  }
  *out = cal;
  return SHP_OK;
}

/* ---- the whole ----------------------------------------------------------- */

/* The SHA-256 of a file as JSON, or null without a file. */
static int digest(const char *path, json_t **out) {
  char hex[65];
  *out = json_null();
  if (path == NULL)
    return SHP_OK;
  int rc = shp_sha256_file(path, SHP_FILE_MAX_TEXT, hex);
  if (rc == SHP_OK)
    *out = json_string(hex);
  return rc;
}

/* The journal, created with its first record (the inputs) and locked
 * before any device is touched. */
static int open_journal(cal_ctx *c) {
  const shp_lab *lab = c->spec->lab;
  if (c->spec->journal_path == NULL)
    return SHP_OK;
  json_t *dl, *ds;
  int rc = digest(lab->path, &dl);
  if (rc == SHP_OK)
    rc = digest(lab->stack_path, &ds);
  else
    ds = json_null();
  if (rc != SHP_OK) {
    json_decref(dl);
    json_decref(ds);
    return rc;
  }
  char when[SHP_TIMESTAMP_SIZE];
  shp_utc_timestamp(when, false);
  json_t *which = json_array();
  for (size_t i = 0; i < c->nc; i++)
    if (scanned(c, i))
      json_array_append_new(which, json_integer((json_int_t)i));
  json_t *first = json_pack(
      "{s:s, s:i, s:s, s:o, s:o, s:{s:o, s:o}, s:o, s:o, s:I, s:I, s:I}",
      "type", "calibrate", "version", 2, "time", when, "lab",
      shp_journal_string(lab->path), "stack",
      shp_journal_string(lab->stack_path), "sha256", "lab", dl, "stack", ds,
      "crystals", which, "periods", shp_journal_number(c->spec->periods),
      "points", (json_int_t)c->spec->points, "averages",
      (json_int_t)c->spec->averages, "seed", (json_int_t)c->spec->seed);
  c->journal = shp_journal_create(c->spec->journal_path, first);
  json_decref(first);
  return c->journal != NULL ? SHP_OK : shp_error_last();
}

static int setup(cal_ctx *c) {
  const shp_lab *lab = c->spec->lab;
  c->nc = lab->oven_count;
  c->setpoints = calloc(c->nc, sizeof *c->setpoints);
  c->home = calloc(c->nc, sizeof *c->home);
  c->actual = calloc(c->nc, sizeof *c->actual);
  c->from = calloc(c->nc, sizeof *c->from);
  c->to = calloc(c->nc, sizeof *c->to);
  c->points = calloc(c->nc, sizeof *c->points);
  if (c->points == NULL || c->setpoints == NULL || c->home == NULL ||
      c->actual == NULL || c->from == NULL || c->to == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->spec->crystal_count && c->spec->crystals; i++)
    if (c->spec->crystals[i] >= c->nc)
      return shp_error_set(SHP_ERR_INVALID,
                           "crystal %zu: the lab has crystals 0 to %zu",
                           c->spec->crystals[i], c->nc - 1);
  int rc = open_journal(c);
  if (rc != SHP_OK)
    return rc;
  if (c->journal != NULL)
    shp_supervisor_set_command_observer(c->sup, run_journal_oven_command,
                                        c->journal);
  for (size_t i = 0; i < c->nc; i++) {
    shp_oven_status st;
    if ((rc = shp_supervisor_status(c->sup, i, &st)) != SHP_OK)
      return rc;
    c->home[i] = c->setpoints[i] = st.target_c;
  }
  rc = record(c, json_pack("{s:s, s:o}", "type", "home", "home_c",
                           run_json_array(c->home, c->nc)));
  if (rc != SHP_OK)
    return rc;
  if ((c->model = shp_stack_load(lab->stack_path)) == NULL)
    return shp_error_last();
  /* The fit's reference temperatures are the ovens' present setpoints. */
  for (size_t i = 0; i < c->nc; i++) {
    c->model->crystals[i].temperature_c = c->home[i];
    c->model->crystals[i].has_temperature = true;
  }
  bool *mask = calloc(c->nc, sizeof *mask);
  if (mask == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->nc; i++)
    mask[i] = scanned(c, i);
  /* Scans over whole phase periods leave few basins: four starts and the
   * conjugates at the home temperatures (the twins a scan could leave). */
  shp_fit_opts fo = {
      .seed = c->spec->seed, .slope_mask = mask, .twin_sets = 1, .starts = 4};
  c->fit = shp_fit_new(c->model, &fo);
  free(mask);
  if (c->fit == NULL)
    return shp_error_last();
  return SHP_OK;
}

static int calibrate(cal_ctx *c, shp_calibration **out) {
  const shp_calibrate_spec *s = c->spec;
  size_t count = s->crystals ? s->crystal_count : c->nc;
  int rc = SHP_OK;
  /* Every scan must fit its limits before anything moves. */
  for (size_t k = 0; k < count && rc == SHP_OK; k++) {
    size_t i = s->crystals ? s->crystals[k] : k;
    rc = scan_range(c, i, &c->from[i], &c->to[i]);
  }
  if (rc != SHP_OK)
    return rc;
  c->acted = true;
  rc = measure(c, -1);
  for (size_t k = 0; k < count && rc == SHP_OK; k++)
    rc = scan(c, s->crystals ? s->crystals[k] : k);
  if (rc == SHP_OK)
    rc = solve(c);
  if (rc == SHP_OK)
    rc = record(c, fit_record(c));
  if (rc != SHP_OK)
    return rc;
  emit(c, SHP_RUN_EV_FITTED, NULL,
       "fit of %zu traces: residual %.4f, %zu consistent solution%s",
       shp_fit_count(c->fit), c->residual_rms, c->set.count,
       c->set.count == 1 ? "" : "s");
  return build(c, out);
}

/* The whole calibration, straight-line, on the machine's thread. */
static int calibrate_body(shp_supervisor *sup,
                          const shp_calibrate_spec *spec_in,
                          shp_run_progress_fn progress, void *user,
                          shp_calibration **out) {
  *out = NULL;
  shp_calibrate_spec spec = *spec_in;
  if (spec.periods == 0)
    spec.periods = 1.0;
  if (spec.points == 0)
    spec.points = 9;
  if (!(spec.periods >= 1.0 && spec.periods <= 10.0) || spec.points < 4)
    return shp_error_set(SHP_ERR_INVALID,
                         "a scan needs 1 to 10 phase periods and at least 4 "
                         "points, got %g and %zu",
                         spec.periods, spec.points);
  cal_ctx c = {.sup = sup, .spec = &spec, .progress = progress, .user = user};
  if (spec.undetermined != NULL)
    *spec.undetermined = false;
  int rc = setup(&c);
  if (rc == SHP_OK)
    rc = calibrate(&c, out);
  char why[512];
  snprintf(why, sizeof why, "%s",
           rc == SHP_OK ? "calibrated" : shp_error_detail());
  /* A device or safety fault has latched and held already; anything else
   * that stops a calibration which touched the lab holds the ovens too. */
  if (rc != SHP_OK && c.acted && !c.undetermined)
    shp_supervisor_hold(sup, why);
  shp_supervisor_set_command_observer(sup, NULL, NULL);
  bool failed = rc != SHP_OK;
  if (c.journal != NULL) {
    int jrc = SHP_OK;
    if (rc != SHP_OK && !c.undetermined)
      jrc = record(&c, json_pack("{s:s, s:s, s:o}", "type", "fault", "code",
                                 shp_error_name(rc), "message",
                                 shp_journal_string(why)));
    json_t *end = json_pack("{s:s, s:s, s:s, s:o}", "type", "end", "status",
                            rc == SHP_OK     ? "calibrated"
                            : c.undetermined ? "undetermined"
                                             : "failed",
                            "code", shp_error_name(rc), "message",
                            shp_journal_string(why));
    if (end != NULL)
      run_json_add_holding(end, sup, c.nc);
    int erc = record(&c, end);
    int crc = shp_journal_close(c.journal);
    if (jrc == SHP_OK)
      jrc = erc != SHP_OK ? erc : crc;
    if (rc == SHP_OK && jrc != SHP_OK)
      rc = jrc;
  }
  if (failed)
    shp_error_set(rc, "%s", why);
  if (spec.undetermined != NULL)
    *spec.undetermined = c.undetermined && rc == SHP_ERR_NUMERIC;
  /* A calibration whose journal could not be closed is still the
   * calibration: it is kept, the error says what failed. */
  if (failed) {
    shp_calibration_free(*out);
    *out = NULL;
  }
  c.code = rc;
  /* The end, with the calibration built (or not) and the journal closed. */
  char end_msg[512];
  snprintf(end_msg, sizeof end_msg, "%s",
           rc == SHP_OK ? "calibrated" : shp_error_detail());
  shp_run_event_kind end_kind = SHP_RUN_EV_STOPPED;
  if (*out != NULL)
    end_kind = SHP_RUN_EV_CONVERGED;
  else if (rc == SHP_ERR_NUMERIC && c.undetermined)
    end_kind = SHP_RUN_EV_UNCONVERGED;
  emit(&c, end_kind, NULL, "%s", end_msg);
  if (rc != SHP_OK)
    shp_error_set(rc, "%s", end_msg);
  shp_fit_set_clear(&c.set);
  shp_fit_free(c.fit);
  free(c.points);
  shp_stack_free(c.model);
  free(c.setpoints);
  free(c.home);
  free(c.actual);
  free(c.from);
  free(c.to);
  return rc;
}

/* ---- the machine -----------------------------------------------------------
 */

struct shp_calibration_run {
  machine m; /* the caller's side (stepper.h) */
  shp_calibrate_spec spec;
  shp_calibration *out;
};

static int cal_machine_body(stepper *st, void *user) {
  (void)st;
  shp_calibration_run *c = user;
  return calibrate_body(c->m.sup, &c->spec, machine_event, &c->m, &c->out);
}

shp_calibration_run *
shp_calibration_run_new_sup(shp_supervisor *sup,
                            const shp_calibrate_spec *spec) {
  shp_calibration_run *c = calloc(1, sizeof *c);
  if (c == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->spec = *spec;
  if (!machine_init(&c->m, sup, cal_machine_body, c)) {
    free(c);
    return NULL;
  }
  return c;
}

shp_run_event_kind shp_calibration_run_step(shp_calibration_run *c,
                                            shp_run_event *ev) {
  return machine_step(&c->m, ev);
}

void shp_calibration_run_cancel(shp_calibration_run *c) {
  shp_supervisor_cancel(c->m.sup);
}

int shp_calibration_run_take_result(shp_calibration_run *c,
                                    shp_calibration **out) {
  *out = NULL;
  if (!c->m.terminal)
    return shp_error_set(SHP_ERR_INVALID, "the calibration has not ended");
  int rc = machine_finish(&c->m);
  *out = c->out;
  c->out = NULL;
  return rc;
}

void shp_calibration_run_free(shp_calibration_run *c) {
  if (c == NULL)
    return;
  machine_free(&c->m);
  shp_calibration_free(c->out);
  free(c);
}

int shp_calibrate(shp_supervisor *sup, const shp_calibrate_spec *spec,
                  shp_run_progress_fn progress, void *user,
                  shp_calibration **out) {
  *out = NULL;
  shp_calibration_run *m = shp_calibration_run_new_sup(sup, spec);
  if (m == NULL)
    return shp_error_last();
  shp_run_event ev;
  do {
    shp_calibration_run_step(m, &ev);
    if (progress != NULL)
      progress(&ev, user);
  } while (!shp_run_event_terminal(ev.kind));
  int rc = shp_calibration_run_take_result(m, out);
  shp_calibration_run_free(m);
  return rc;
}
