/* The closed loop: measure, fit the model, optimise the model, move the
 * ovens; or, model-free, a direct search on the measured error. */
#include "run-private.h"
#include "stepper.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/optimize.h"
#include "shp/problem.h"
#include "shp/units.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_emit(run_ctx *c, shp_run_event_kind kind, const char *fmt, ...) {
  if (c->progress == NULL)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  shp_run_event e = {.kind = kind,
                     .iteration = c->iteration,
                     .error = c->error,
                     .setpoints_c = c->setpoints,
                     .actual_c = c->actual,
                     .crystal_count = c->nc,
                     .message = msg};
  shp_trace tr = {.capacity = c->trace_cap,
                  .count = c->trace_count,
                  .delay_ps = c->delay,
                  .signal = c->signal};
  if (kind == SHP_RUN_EV_MEASURED) {
    e.trace = &tr;
    e.target_ac = c->target_ac;
  }
  if (kind == SHP_RUN_EV_DECIDED)
    e.predicted_error = c->predicted;
  if (shp_run_event_terminal(kind))
    e.code = c->result->code;
  c->progress(&e, c->user);
}

/* ---- setup ----------------------------------------------------------------
 */

/* What needs no device: the arrays and the crystals' limits. */
static int ctx_alloc(run_ctx *c) {
  const shp_lab *lab = c->lab;
  c->nc = lab->oven_count;
  size_t nc = c->nc;
  c->setpoints = calloc(nc, sizeof *c->setpoints);
  c->actual = calloc(nc, sizeof *c->actual);
  c->lo = calloc(nc, sizeof *c->lo);
  c->hi = calloc(nc, sizeof *c->hi);
  if (c->setpoints == NULL || c->actual == NULL || c->lo == NULL ||
      c->hi == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < nc; i++) {
    c->lo[i] = lab->ovens[i].min_c;
    c->hi[i] = lab->ovens[i].max_c;
  }
  return SHP_OK;
}

/* The ovens' present setpoints (the first device reads) and the model. */
/* A calibration is knowledge: the fit's priors narrow to what it
 * measured (the widest crystal's sigma, three times over for the drift
 * since and never below CAL_PHASE_FLOOR_RAD, as ovens and mounts are never
 * quite where they were), and they count in which solutions stay. The
 * means are the calibrated stack's own (applied to the model). */
#define CAL_PHASE_FLOOR_RAD 0.05
#define CAL_INFLATE 3.0

static void calibrated_priors(const shp_calibration *cal, shp_fit_opts *mo) {
  double ph = CAL_PHASE_FLOOR_RAD, az = 0, len = 0;
  bool errors = cal->crystal_count > 0;
  for (size_t i = 0; i < cal->crystal_count; i++) {
    const shp_calibration_crystal *k = &cal->crystals[i];
    if (isfinite(k->phase_offset_sigma_rad))
      ph = fmax(ph, CAL_INFLATE * k->phase_offset_sigma_rad);
    errors = errors && k->has_errors;
    if (k->has_errors) {
      az = fmax(az, CAL_INFLATE * k->azimuth_error_sigma_deg);
      len = fmax(len, CAL_INFLATE * k->length_error_sigma_um);
    }
  }
  mo->phase_sigma_rad = fmin(ph, SHP_PI);
  /* Only where every crystal's errors were fitted; else the defaults. */
  if (errors && az > 0 && isfinite(az))
    mo->azimuth_sigma_deg = fmin(az, 0.3);
  if (errors && len > 0 && isfinite(len))
    mo->length_sigma_um = fmin(len, 2.0);
  mo->prior_informative = true;
}

static int ctx_init(run_ctx *c) {
  c->acted = true;
  for (size_t i = 0; i < c->nc; i++) {
    shp_oven_status st;
    int rc = shp_supervisor_status(c->sup, i, &st);
    if (rc != SHP_OK)
      return rc;
    c->setpoints[i] = st.target_c;
  }
  c->model = shp_stack_load(c->lab->stack_path);
  if (c->model == NULL)
    return shp_error_last();
  if (c->spec->calibration != NULL) {
    int rc = shp_calibration_apply(c->spec->calibration, c->model);
    if (rc != SHP_OK)
      return rc;
  }
  /* The measurement-model fit: the model mode's, and in either mode what
   * gives the target's autocorrelation on the trace's delays. */
  shp_fit_opts mo = {.starts = c->nc >= 8 ? 12 : 8, .seed = c->spec->seed};
  if (c->spec->calibration != NULL)
    calibrated_priors(c->spec->calibration, &mo);
  if ((c->mfit = shp_fit_new(c->model, &mo)) == NULL)
    return shp_error_last();
  return SHP_OK;
}

static void ctx_clear(run_ctx *c) {
  shp_journal_close(c->journal);
  json_decref(c->replay);
  shp_fit_set_clear(&c->set);
  shp_fit_free(c->mfit);
  shp_stack_free(c->model);
  free(c->setpoints);
  free(c->actual);
  free(c->lo);
  free(c->hi);
  free(c->delay);
  free(c->signal);
  free(c->target_ac);
  free(c->scratch);
}

static int grow_trace(run_ctx *c, size_t n) {
  if (n <= c->trace_cap)
    return SHP_OK;
  double *p[4] = {realloc(c->delay, n * sizeof(double)),
                  realloc(c->signal, n * sizeof(double)),
                  realloc(c->target_ac, n * sizeof(double)),
                  realloc(c->scratch, n * sizeof(double))};
  c->delay = p[0] ? p[0] : c->delay;
  c->signal = p[1] ? p[1] : c->signal;
  c->target_ac = p[2] ? p[2] : c->target_ac;
  c->scratch = p[3] ? p[3] : c->scratch;
  if (!p[0] || !p[1] || !p[2] || !p[3])
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  c->trace_cap = n;
  return SHP_OK;
}

/* ---- acting through the supervisor --------------------------------------- */

int run_move_ovens(shp_supervisor *sup, size_t nc, const double *x,
                   shp_run_progress_fn progress, void *user, size_t iteration) {
  double budget = 0;
  for (size_t i = 0; i < nc; i++)
    budget = fmax(budget, shp_supervisor_budget_s(sup, i, x[i]));
  for (size_t i = 0; i < nc; i++) {
    int rc = shp_supervisor_request(sup, i, x[i]);
    if (rc != SHP_OK)
      return rc;
  }
  /* A poll at a time, each one an event: a stepped run hands control back
   * between polls, so a ramp of minutes never blocks its caller. */
  shp_sup_wait w;
  shp_supervisor_wait_begin(sup, true, budget, &w);
  for (size_t polls = 1;; polls++) {
    bool done = false;
    int rc = shp_supervisor_wait_step(sup, &w, &done);
    if (rc != SHP_OK || done)
      return rc;
    if (progress != NULL) {
      char msg[128];
      snprintf(msg, sizeof msg, "[%zu] ovens heading for their setpoints",
               iteration);
      shp_run_event e = {.kind = SHP_RUN_EV_MOVING,
                         .iteration = iteration,
                         .setpoints_c = x,
                         .crystal_count = nc,
                         .polls = polls,
                         .message = msg};
      progress(&e, user);
    }
  }
}

static int move_ovens(run_ctx *c, const double *x) {
  return run_move_ovens(c->sup, c->nc, x, c->progress, c->user, c->iteration);
}

/* After replaying moves, the ovens must be put back where the journal
 * left them before anything live happens. */
static int restore(run_ctx *c) {
  if (!c->restore)
    return SHP_OK;
  c->restore = false;
  return move_ovens(c, c->setpoints);
}

/* A trace that can be scored: finite values, and delays that cover the
 * target's autocorrelation (a delay calibration off by far more than the
 * scan sees only the flat wings, whose error says nothing). */
static int check_trace(run_ctx *c) {
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < c->trace_count; k++) {
    if (!isfinite(c->delay[k]) || !isfinite(c->signal[k]) ||
        !isfinite(c->target_ac[k]))
      return shp_error_set(SHP_ERR_NUMERIC,
                           "the trace holds a value that is not finite at "
                           "point %zu (delay %g ps)",
                           k, c->delay[k]);
    lo = fmin(lo, c->target_ac[k]);
    hi = fmax(hi, c->target_ac[k]);
  }
  if (!(hi > 0 && hi - lo >= 0.1 * hi))
    return shp_error_set(
        SHP_ERR_RANGE,
        "the trace's delays (%g to %g ps) do not cover the target's "
        "autocorrelation: check the autocorrelator's delay_calibration",
        c->delay[0], c->delay[c->trace_count - 1]);
  return SHP_OK;
}

/* The target's autocorrelation on the trace's delays and the error. */
static int score_trace(run_ctx *c) {
  if (c->trace_count < 8)
    return shp_error_set(SHP_ERR_RANGE, "a trace of %zu points is too short",
                         c->trace_count);
  int rc = shp_fit_target_trace(c->mfit, &shp_fit_model_ac, c->spec->target,
                                c->delay, c->trace_count, c->target_ac);
  if (rc == SHP_OK)
    rc = check_trace(c);
  if (rc != SHP_OK)
    return rc;
  c->error = shp_trace_error(c->signal, c->target_ac, c->trace_count);
  if (!isfinite(c->error))
    return shp_error_set(SHP_ERR_NUMERIC,
                         "the measured autocorrelation error is not finite "
                         "(a flat or empty trace)");
  return SHP_OK;
}

static int replayed_measure(run_ctx *c, json_t *rec) {
  json_t *d = json_object_get(rec, "delay_ps");
  size_t n = json_array_size(d);
  int rc = grow_trace(c, n);
  if (rc == SHP_OK && (n < 8 || run_json_doubles(d, c->delay, n) != SHP_OK ||
                       run_json_doubles(json_object_get(rec, "signal"),
                                        c->signal, n) != SHP_OK ||
                       run_json_doubles(json_object_get(rec, "actual_c"),
                                        c->actual, c->nc) != SHP_OK))
    rc = shp_error_set(SHP_ERR_PARSE, "%s: a measure record is damaged",
                       c->spec->resume_path);
  c->trace_count = n;
  return rc;
}

/* Acquire a trace (or replay the journal's), journal it, score it. */
int run_measure(run_ctx *c) {
  json_t *rec = run_replay_next(c, "measure");
  int rc;
  if (rec != NULL) {
    rc = replayed_measure(c, rec);
  } else {
    if ((rc = restore(c)) != SHP_OK)
      return rc;
    const shp_trace *t;
    if ((rc = shp_supervisor_acquire(c->sup, c->spec->averages, &t)) != SHP_OK)
      return rc;
    for (size_t i = 0; i < c->nc; i++) {
      shp_oven_status st;
      if ((rc = shp_supervisor_status(c->sup, i, &st)) != SHP_OK)
        return rc;
      c->actual[i] = st.reading.actual_c;
    }
    if ((rc = grow_trace(c, t->count)) != SHP_OK)
      return rc;
    memcpy(c->delay, t->delay_ps, t->count * sizeof *c->delay);
    memcpy(c->signal, t->signal, t->count * sizeof *c->signal);
    c->trace_count = t->count;
  }
  if (rc == SHP_OK)
    rc = score_trace(c);
  if (rc != SHP_OK)
    return rc;
  c->measured = true;
  c->measurements++;
  if (rec == NULL) {
    json_t *j = json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "type",
                          "measure", "iteration", (json_int_t)c->iteration,
                          "setpoints_c", run_json_array(c->setpoints, c->nc),
                          "actual_c", run_json_array(c->actual, c->nc),
                          "delay_ps", run_json_array(c->delay, c->trace_count),
                          "signal", run_json_array(c->signal, c->trace_count),
                          "error", shp_journal_number(c->error));
    if ((rc = run_journal_record(c, j)) != SHP_OK)
      return rc;
  }
  run_emit(c, SHP_RUN_EV_MEASURED, "[%zu] measured error %.4f%s", c->iteration,
           c->error, rec ? " (journal)" : "");
  return SHP_OK;
}

/* Move to x (or replay the journal's plan and move), journal first. */
int run_move(run_ctx *c, const double *x, double predicted,
             const char *reason) {
  json_t *plan = run_replay_next(c, "plan");
  int rc = grow_trace(c, c->nc);
  if (rc != SHP_OK)
    return rc;
  double *to = c->scratch; /* the last trace's scratch is free by now */
  if (plan != NULL) {
    /* The journal is what happened: its setpoints, whatever this run
     * would compute (the same, unless the floating point differs). */
    if (run_json_doubles(json_object_get(plan, "setpoints_c"), to, c->nc) !=
        SHP_OK)
      return shp_error_set(SHP_ERR_PARSE, "%s: a plan record is damaged",
                           c->spec->resume_path);
  } else {
    memcpy(to, x, c->nc * sizeof *to);
    json_t *j = json_pack("{s:s, s:I, s:o, s:o, s:o}", "type", "plan",
                          "iteration", (json_int_t)c->iteration, "setpoints_c",
                          run_json_array(to, c->nc), "predicted_error",
                          shp_journal_number(predicted), "reason",
                          shp_journal_string(reason));
    if ((rc = run_journal_record(c, j)) != SHP_OK)
      return rc;
  }
  c->predicted = predicted;
  memcpy(c->setpoints, to, c->nc * sizeof *to);
  run_emit(c, SHP_RUN_EV_DECIDED, "[%zu] moving the ovens%s%s", c->iteration,
           reason ? ": " : "", reason ? reason : "");
  json_t *moved = plan ? run_replay_next(c, "moved") : NULL;
  if (moved != NULL) {
    c->restore = true;
  } else {
    if ((rc = restore(c)) != SHP_OK || (rc = move_ovens(c, to)) != SHP_OK)
      return rc;
  }
  c->iteration++;
  if (moved == NULL) {
    json_t *j = json_pack("{s:s, s:I, s:o}", "type", "moved", "iteration",
                          (json_int_t)c->iteration, "setpoints_c",
                          run_json_array(c->setpoints, c->nc));
    if ((rc = run_journal_record(c, j)) != SHP_OK)
      return rc;
  }
  run_emit(c, SHP_RUN_EV_SETTLED, "[%zu] ovens settled", c->iteration);
  return SHP_OK;
}

/* ---- the model-free search -------------------------------------------------
 */

static double measured_error(const gsl_vector *v, void *user) {
  run_ctx *c = user;
  if (c->code != SHP_OK)
    return GSL_NAN;
  double *x = malloc(c->nc * sizeof *x);
  if (x == NULL) {
    c->code = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return GSL_NAN;
  }
  /* Outside the limits costs more the further out, and nothing is sent. */
  double penalty = 0;
  for (size_t i = 0; i < c->nc; i++) {
    double t = gsl_vector_get(v, i);
    x[i] = fmin(fmax(t, c->lo[i]), c->hi[i]);
    penalty += fabs(t - x[i]);
  }
  int rc = SHP_OK;
  if (c->measured) {
    bool same = true;
    for (size_t i = 0; i < c->nc; i++)
      same = same && fabs(x[i] - c->setpoints[i]) < 1e-9;
    if (!same && c->iteration >= c->spec->max_iterations)
      rc = SHP_ERR_RANGE; /* out of moves: stop the search */
    else if (!same)
      rc = run_move(c, x, NAN, NULL);
    if (rc == SHP_OK && !same)
      rc = run_measure(c);
  } else {
    rc = run_measure(c);
  }
  free(x);
  if (rc != SHP_OK) {
    c->code = rc;
    return GSL_NAN;
  }
  return c->error + penalty;
}

/* The run's own failure when the objective recorded one, else GSL's. */
static int simplex_status(run_ctx *c, int status, const char *when) {
  if (status == GSL_SUCCESS)
    return SHP_OK;
  if (c->code != SHP_OK)
    return c->code;
  return shp_error_set(SHP_ERR_NUMERIC,
                       "the model-free search failed at its %s: %s (measured "
                       "error %g)",
                       when, gsl_strerror(status), c->error);
}

static int model_free(run_ctx *c) {
  size_t n = c->nc;
  gsl_multimin_fminimizer *m =
      gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, n);
  gsl_vector *x = gsl_vector_alloc(n), *step = gsl_vector_alloc(n);
  if (m == NULL || x == NULL || step == NULL) {
    gsl_multimin_fminimizer_free(m);
    gsl_vector_free(x);
    gsl_vector_free(step);
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const shp_stack_crystal *cr = &c->model->crystals[i];
    shp_material_props pr;
    double period = 10.0;
    if (shp_material_props_at(cr->material,
                              c->model->pulse.center_wavelength_nm,
                              c->setpoints[i], cr->length_mm, &pr) == SHP_OK)
      period = pr.full_wave_temperature_k;
    gsl_vector_set(x, i, c->setpoints[i]);
    gsl_vector_set(step, i, 0.05 * period);
  }
  gsl_multimin_function fn = {.f = measured_error, .n = n, .params = c};
  c->code = SHP_OK;
  /* A failed simplex step (a non-finite error, a contraction that fails)
   * is the search's result, never an abort: the guard keeps GSL's handler
   * off and the status says why the run stops. */
  shp_gsl_guard();
  int status = gsl_multimin_fminimizer_set(m, &fn, x, step);
  int rc = simplex_status(c, status, "start");
  while (rc == SHP_OK && !(c->error <= c->spec->tolerance)) {
    status = gsl_multimin_fminimizer_iterate(m);
    if (status != GSL_SUCCESS) {
      rc = simplex_status(c, status, "step");
      break;
    }
    if (gsl_multimin_fminimizer_size(m) < 1e-4) {
      c->stop = "the model-free search collapsed: no better setpoints nearby";
      break;
    }
  }
  if (rc == SHP_ERR_RANGE) {
    rc = SHP_OK; /* the iteration limit */
    c->stop = "the iteration limit was reached";
  }
  gsl_multimin_fminimizer_free(m);
  gsl_vector_free(x);
  gsl_vector_free(step);
  return rc;
}

static void clear_predictions(shp_run_result *r) {
  for (size_t k = 0; k < r->prediction_count; k++) {
    free(r->predictions[k].time_ps);
    free(r->predictions[k].intensity);
    free(r->predictions[k].sigma);
  }
  free(r->predictions);
  free(r->target_time_ps);
  free(r->target);
  r->predictions = NULL;
  r->prediction_count = 0;
  r->target_time_ps = r->target = NULL;
  r->target_count = 0;
}

/* One solution's prediction at the verdict's temperatures, moved and
 * scaled onto the target (tgt, sampled on the grid, of peak tpeak). */
static int predict_one(run_ctx *c, shp_diag *d, const double *tgt, double tpeak,
                       const shp_fit_solution *sol, shp_run_prediction *out) {
  shp_fit_prediction pred = {0};
  int rc = shp_fit_predict_intensity(c->mfit, sol, c->actual, c->spec->target,
                                     &pred);
  shp_metrics m;
  shp_metrics_opts mo = {.target = tgt, .error_only = true};
  if (rc == SHP_OK)
    rc = shp_diag_metrics(d, pred.intensity, pred.dt_ps, &mo, &m);
  size_t n = pred.n;
  if (rc == SHP_OK) {
    out->time_ps = malloc(n * sizeof(double));
    out->intensity = malloc(n * sizeof(double));
    out->sigma = malloc(n * sizeof(double));
    if (!out->time_ps || !out->intensity || !out->sigma)
      rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  if (rc == SHP_OK) {
    double a = m.error_scale / tpeak;
    for (size_t j = 0; j < n; j++) {
      out->time_ps[j] =
          ((double)j - (double)(n / 2)) * pred.dt_ps + m.error_shift_ps;
      out->intensity[j] = a * pred.intensity[j];
      out->sigma[j] = fabs(a) * pred.sigma[j];
    }
    out->point_count = n;
    out->error = pred.error;
    out->error_sigma = pred.error_sigma;
  }
  shp_fit_prediction_clear(&pred);
  return rc;
}

/* What each consistent solution predicts at the temperatures the last
 * verdict judged (the last trace's readbacks: a run that ended cleanly
 * ended on a verdict), for the operator to see. They only describe the
 * run: one that cannot be computed leaves the result without them. */
static void fill_predictions(run_ctx *c, shp_run_result *r) {
  clear_predictions(r);
  const shp_grid *g = shp_fit_grid(c->mfit);
  size_t n = g->n;
  size_t count = c->set.count < SHP_RUN_MAX_PREDICTIONS
                     ? c->set.count
                     : SHP_RUN_MAX_PREDICTIONS;
  double *tgt = malloc(n * sizeof *tgt);
  shp_diag *d = shp_diag_new(n);
  r->target_time_ps = malloc(n * sizeof(double));
  r->target = malloc(n * sizeof(double));
  r->predictions = calloc(count ? count : 1, sizeof *r->predictions);
  int rc = tgt && d && r->target_time_ps && r->target && r->predictions
               ? shp_target_sample(c->spec->target, g, tgt, NULL)
               : SHP_ERR_NOMEM;
  double peak = 0;
  for (size_t j = 0; rc == SHP_OK && j < n; j++)
    peak = fmax(peak, tgt[j]);
  if (rc == SHP_OK && !(peak > 0))
    rc = SHP_ERR_NUMERIC;
  for (size_t j = 0; rc == SHP_OK && j < n; j++) {
    r->target_time_ps[j] = ((double)j - (double)(n / 2)) * g->dt;
    r->target[j] = tgt[j] / peak;
  }
  r->target_count = n;
  for (size_t k = 0; k < count && rc == SHP_OK; k++) {
    rc = predict_one(c, d, tgt, peak, &c->set.solutions[k], &r->predictions[k]);
    r->prediction_count = k + 1;
  }
  if (rc != SHP_OK)
    clear_predictions(r);
  shp_diag_free(d);
  free(tgt);
}

static void fill_model(run_ctx *c, shp_run_result *r) {
  r->trace_residual = c->have_set ? c->trace_residual : NAN;
  r->trace_noise = c->have_set ? c->noise_level : NAN;
  r->predicted_best = r->predicted_best_sigma = NAN;
  r->predicted_worst = r->predicted_worst_sigma = NAN;
  if (c->have_verdict) {
    r->predicted_best = c->verdict.best_error;
    r->predicted_best_sigma = c->verdict.best_sigma;
    r->predicted_worst = c->verdict.worst_error;
    r->predicted_worst_sigma = c->verdict.worst_sigma;
  }
  if (!c->have_set)
    return;
  r->solution_count = c->set.count;
  r->parameter_count = c->set.parameter_count;
  r->data_determined = c->set.data_determined;
  snprintf(r->identifiability, sizeof r->identifiability, "%s", c->set.report);
  if (r->phase_offsets_rad == NULL &&
      (r->phase_offsets_rad = calloc(c->nc, sizeof(double))) != NULL &&
      (r->phase_sigma_rad = calloc(c->nc, sizeof(double))) != NULL) {
    for (size_t i = 0; i < c->nc; i++) {
      size_t j = shp_fit_index_phase(c->mfit, i);
      r->phase_offsets_rad[i] = c->set.solutions[0].params[j];
      r->phase_sigma_rad[i] = c->set.solutions[0].sigma[j];
    }
  }
  if (c->have_verdict && r->code == SHP_OK)
    fill_predictions(c, r);
}

static void fill_result(run_ctx *c, int rc) {
  shp_run_result *r = c->result;
  r->code = rc;
  r->iterations = c->iteration;
  r->final_error = c->measured ? c->error : NAN;
  if (rc != SHP_OK)
    r->status = SHP_RUN_STOPPED;
  else if (c->spec->mode == SHP_RUN_MODEL_FREE)
    r->status =
        c->measured && isfinite(c->error) && c->error <= c->spec->tolerance
            ? SHP_RUN_CONVERGED
            : SHP_RUN_UNCONVERGED;
  else
    r->status = c->status;
  r->converged = r->status == SHP_RUN_CONVERGED;
  if (r->setpoints_c != NULL)
    memcpy(r->setpoints_c, c->setpoints, c->nc * sizeof *c->setpoints);
  if (c->spec->mode == SHP_RUN_MODEL)
    fill_model(c, r);
  const char *s = r->iterations == 1 ? "" : "s";
  double tol = c->spec->tolerance;
  if (rc != SHP_OK) {
    snprintf(r->message, sizeof r->message, "%s", shp_error_detail());
    return;
  }
  r->at_best = c->at_best;
  if (c->at_best) {
    snprintf(r->reason, sizeof r->reason, "%s", c->stop);
    snprintf(r->message, sizeof r->message,
             "at the stack's best after %zu oven move%s: %zu consistent "
             "solution%s predict%s an intensity error of %.4f to %.4f (+- "
             "%.4f), tolerance %.4f; trace residual %.4f within its noise "
             "%.4f: %s",
             r->iterations, s, r->solution_count,
             r->solution_count == 1 ? "" : "s",
             r->solution_count == 1 ? "s" : "", r->predicted_best,
             r->predicted_worst, r->predicted_worst_sigma, tol,
             r->trace_residual, r->trace_noise, r->reason);
    return;
  }
  if (r->status == SHP_RUN_UNREACHABLE) {
    snprintf(r->reason, sizeof r->reason, "%s", c->stop);
    snprintf(r->message, sizeof r->message, "nothing moved: %.480s",
             r->reach_summary);
    return;
  }
  if (c->spec->mode == SHP_RUN_MODEL_FREE) {
    if (r->converged)
      snprintf(r->message, sizeof r->message,
               "converged after %zu oven move%s: measured autocorrelation "
               "error %.4f <= %.4f",
               r->iterations, s, r->final_error, tol);
    else {
      snprintf(r->reason, sizeof r->reason, "%s",
               c->stop ? c->stop : "the run stopped before converging");
      snprintf(r->message, sizeof r->message,
               "not converged after %zu oven move%s: error %.4f > %.4f: %s",
               r->iterations, s, r->final_error, tol, r->reason);
    }
    return;
  }
  if (r->converged) {
    snprintf(r->message, sizeof r->message,
             "converged after %zu oven move%s: %zu consistent solution%s "
             "predict%s an intensity error of %.4f to %.4f (+- %.4f) <= "
             "%.4f; trace residual %.4f within its noise %.4f",
             r->iterations, s, r->solution_count,
             r->solution_count == 1 ? "" : "s",
             r->solution_count == 1 ? "s" : "", r->predicted_best,
             r->predicted_worst, r->predicted_worst_sigma, tol,
             r->trace_residual, r->trace_noise);
    return;
  }
  snprintf(r->reason, sizeof r->reason, "%s",
           c->stop ? c->stop : "the run stopped before converging");
  snprintf(r->message, sizeof r->message,
           "%s after %zu oven move%s: %zu consistent solution%s predict%s "
           "an intensity error of %.4f to %.4f (+- %.4f), tolerance %.4f; "
           "trace residual %.4f, noise %.4f: %s",
           r->status == SHP_RUN_AMBIGUOUS ? "ambiguous" : "not converged",
           r->iterations, s, r->solution_count,
           r->solution_count == 1 ? "" : "s", r->solution_count == 1 ? "s" : "",
           r->predicted_best, r->predicted_worst, r->predicted_worst_sigma, tol,
           r->trace_residual, r->trace_noise, r->reason);
}

/* The whole run, straight-line, on the machine's thread (or any). */
static int run_body(shp_supervisor *sup, const shp_run_spec *spec,
                    shp_run_progress_fn progress, void *user,
                    shp_run_result *result) {
  memset(result, 0, sizeof *result);
  result->final_error = NAN;
  shp_run_spec s = *spec;
  if (s.max_iterations == 0)
    s.max_iterations = s.mode == SHP_RUN_MODEL_FREE ? 200 : 20;
  if (!(s.tolerance > 0))
    s.tolerance = 0.02;
  run_ctx c = {.sup = sup,
               .spec = &s,
               .lab = spec->lab,
               .progress = progress,
               .user = user,
               .result = result};
  result->crystal_count = spec->lab->oven_count;
  result->setpoints_c = calloc(result->crystal_count, sizeof(double));
  int rc = result->setpoints_c ? SHP_OK
                               : shp_error_set(SHP_ERR_NOMEM, "out of memory");
  if (rc == SHP_OK && spec->target == NULL)
    rc = shp_error_set(SHP_ERR_INVALID, "a run needs a target");
  if (rc == SHP_OK)
    rc = ctx_alloc(&c);
  /* The journal first: locked, and refused if it is another run's, before
   * any device is touched; and present for a fault at the first read. */
  if (rc == SHP_OK)
    rc = run_journal_begin(&c);
  if (c.journal != NULL)
    shp_supervisor_set_command_observer(sup, run_journal_oven_command,
                                        c.journal);
  if (rc == SHP_OK)
    rc = ctx_init(&c);
  if (rc == SHP_OK)
    rc = s.mode == SHP_RUN_MODEL_FREE ? model_free(&c) : run_model_loop(&c);
  /* A journal replayed to its end acted on nothing: the ovens must still
   * be put where the run left them. */
  if (rc == SHP_OK)
    rc = restore(&c);
  if (rc != SHP_OK && c.acted && shp_supervisor_fault(sup) == NULL) {
    /* A failure of the controller itself (the model, the journal) stops
     * the run like a fault: the ovens hold where they are. */
    char why[512];
    snprintf(why, sizeof why, "%s", shp_error_detail());
    shp_supervisor_hold(sup, why);
    shp_error_set(rc, "%s", why);
  }
  if (c.nc > 0 && c.setpoints != NULL)
    fill_result(&c, rc);
  else
    snprintf(result->message, sizeof result->message, "%s", shp_error_detail());
  result->code = rc;
  shp_supervisor_set_command_observer(sup, NULL, NULL);
  if (c.journal != NULL) {
    int jrc = run_journal_end(&c);
    if (rc == SHP_OK && jrc != SHP_OK) {
      /* The run's outcome stands (converged says whether the pulse did);
       * the code and message say the journal did not close. */
      rc = result->code = jrc;
      snprintf(result->message, sizeof result->message, "%s",
               shp_error_detail());
    }
  }
  shp_run_event_kind end = SHP_RUN_EV_STOPPED;
  if (rc == SHP_OK)
    end = result->status == SHP_RUN_CONVERGED     ? SHP_RUN_EV_CONVERGED
          : result->status == SHP_RUN_AMBIGUOUS   ? SHP_RUN_EV_AMBIGUOUS
          : result->status == SHP_RUN_UNREACHABLE ? SHP_RUN_EV_UNREACHABLE
                                                  : SHP_RUN_EV_UNCONVERGED;
  run_emit(&c, end, "%s", result->message);
  ctx_clear(&c);
  return rc;
}

/* ---- the machine -----------------------------------------------------------
 */

struct shp_run_machine {
  machine m; /* the caller's side (stepper.h) */
  shp_run_spec spec;
  shp_run_result result;
};

static int machine_body(stepper *st, void *user) {
  (void)st;
  shp_run_machine *r = user;
  return run_body(r->m.sup, &r->spec, machine_event, &r->m, &r->result);
}

shp_run_machine *shp_run_new_sup(shp_supervisor *sup,
                                 const shp_run_spec *spec) {
  shp_run_machine *r = calloc(1, sizeof *r);
  if (r == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  r->spec = *spec;
  r->result.final_error = NAN;
  if (!machine_init(&r->m, sup, machine_body, r)) {
    free(r);
    return NULL;
  }
  return r;
}

shp_run_event_kind shp_run_step(shp_run_machine *r, shp_run_event *ev) {
  return machine_step(&r->m, ev);
}

void shp_run_cancel(shp_run_machine *r) {
  /* The supervisor's flag is all a signal handler may touch; the next step
   * that polls or requests sees it. */
  shp_supervisor_cancel(r->m.sup);
}

int shp_run_take_result(shp_run_machine *r, shp_run_result *result) {
  if (!r->m.terminal) {
    memset(result, 0, sizeof *result);
    return shp_error_set(SHP_ERR_INVALID, "the run has not ended");
  }
  int rc = machine_finish(&r->m);
  *result = r->result;
  memset(&r->result, 0, sizeof r->result);
  return rc;
}

void shp_run_free(shp_run_machine *r) {
  if (r == NULL)
    return;
  /* Started: cancelled and stepped to its end; never started: nothing
   * runs at all. */
  machine_free(&r->m);
  shp_run_result_clear(&r->result);
  free(r);
}

int shp_run(shp_supervisor *sup, const shp_run_spec *spec,
            shp_run_progress_fn progress, void *user, shp_run_result *result) {
  shp_run_machine *m = shp_run_new_sup(sup, spec);
  if (m == NULL) {
    memset(result, 0, sizeof *result);
    result->final_error = NAN;
    result->code = shp_error_last();
    snprintf(result->message, sizeof result->message, "%s", shp_error_detail());
    return result->code;
  }
  shp_run_event ev;
  do {
    shp_run_step(m, &ev);
    if (progress != NULL)
      progress(&ev, user);
  } while (!shp_run_event_terminal(ev.kind));
  int rc = shp_run_take_result(m, result);
  shp_run_free(m);
  return rc;
}

void shp_run_result_clear(shp_run_result *r) {
  if (r == NULL)
    return;
  free(r->setpoints_c);
  free(r->phase_offsets_rad);
  free(r->phase_sigma_rad);
  free(r->decisions);
  clear_predictions(r);
  free(r->history);
  memset(r, 0, sizeof *r);
}

const char *shp_run_status_name(shp_run_status status) {
  switch (status) {
  case SHP_RUN_CONVERGED:
    return "converged";
  case SHP_RUN_AMBIGUOUS:
    return "ambiguous";
  case SHP_RUN_UNREACHABLE:
    return "unreachable";
  case SHP_RUN_UNCONVERGED:
    return "unconverged";
  default:
    return "stopped";
  }
}
