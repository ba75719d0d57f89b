/* The closed loop's model mode: each trace fitted with the full
 * measurement model (shp/fit.h), the verdict and the next move from the
 * consistent solutions (shp/decide.h), reachability before any move, and
 * every step journalled before it is acted on. run.c owns the run's
 * context, the measurements, the moves and the result. */
#include "run-private.h"

#include "shp/decide.h"
#include "shp/error.h"
#include "shp/fit.h"
#include "shp/numbers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Planned moves smaller than this (K) on every crystal are no move: the
 * model has nothing better to offer. */
#define NO_MOVE_K 0.01
/* Traces in a row at the same setpoints before the loop gives up on them:
 * the first repeat halves the noise a solution set is judged on, the next
 * ones only shave it, and each costs a scan. */
#define STILL_LIMIT 3
/* The measured trace matches its model when its residual is within the
 * noise, allowing a quarter for the spread of a noise estimated from the
 * trace itself. */
#define TRACE_MATCH_FACTOR 1.25
/* Every trace so far must be explained too, not only the last: the best
 * solution's chi2 per degree of freedom over all of them. A right model
 * scores about 1 (0.94-1.13 on the test and benchmark labs, the noise
 * being estimated from each trace, which runs a little low on some); one
 * that lost the true branch drifts up (1.15, 1.19, then 1.5-1.6 while its
 * last trace alone still passed and it claimed the stack's best at 0.041
 * with the truth at 0.072). */
#define CHI2_DOF_MATCH 1.3

/* Whether the solutions explain the traces: the last one within its
 * noise and all of them together. */
static bool traces_explained(const run_ctx *c) {
  return c->trace_residual <= TRACE_MATCH_FACTOR * c->noise_level &&
         c->chi2_dof <= CHI2_DOF_MATCH;
}

/* How many times the usual fresh starts a fit that does not explain its
 * trace is given once more. */
#define WIDER 4

/* ---- the model-based step --------------------------------------------------
 */

/* The trace's noise sigma, from the trace alone (the controller never sees
 * the lab's noise settings): the robust spread of its second differences,
 * which for white noise have variance 6 sigma^2, so sigma = 1.4826
 * median|d| / sqrt(6). The autocorrelation is smooth on the scan's step;
 * what its curvature adds makes the estimate err on the generous side. A
 * floor of 1e-6 of the trace's span keeps a noiseless trace weighable. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double trace_noise(const double *y, size_t n, double *scratch) {
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < n; k++) {
    lo = fmin(lo, y[k]);
    hi = fmax(hi, y[k]);
  }
  size_t m = 0;
  for (size_t k = 1; k + 1 < n; k++)
    scratch[m++] = fabs(y[k - 1] - 2 * y[k] + y[k + 1]);
  qsort(scratch, m, sizeof *scratch, cmp_double);
  double med =
      m % 2 ? scratch[m / 2] : 0.5 * (scratch[m / 2 - 1] + scratch[m / 2]);
  return fmax(1.4826 * med / sqrt(6.0), 1e-6 * (hi - lo));
}

/* The best solution's trace at the readbacks against the measured one:
 * amplitude and background by least squares, the residual RMS relative to
 * that amplitude, and the noise on the same scale. */
static int trace_match(run_ctx *c) {
  size_t n = c->trace_count;
  int rc =
      shp_fit_predict_trace(c->mfit, &c->set.solutions[0], &shp_fit_model_ac,
                            c->actual, c->delay, n, c->scratch);
  if (rc != SHP_OK)
    return rc;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t k = 0; k < n; k++) {
    sx += c->scratch[k];
    sy += c->signal[k];
    sxx += c->scratch[k] * c->scratch[k];
    sxy += c->scratch[k] * c->signal[k];
  }
  double det = (double)n * sxx - sx * sx;
  double a = det != 0 ? ((double)n * sxy - sx * sy) / det : NAN;
  double b = (sy - a * sx) / (double)n;
  double ss = 0;
  for (size_t k = 0; k < n; k++) {
    double r = c->signal[k] - a * c->scratch[k] - b;
    ss += r * r;
  }
  if (!(a > 0))
    return shp_error_set(SHP_ERR_NUMERIC,
                         "the fitted autocorrelation does not explain the "
                         "trace (amplitude %g)",
                         a);
  c->trace_residual = sqrt(ss / (double)n) / a;
  c->chi2_dof = c->set.solutions[0].chi2 / (double)c->set.dof;
  c->noise_level = c->noise / a;
  return SHP_OK;
}

static json_t *solutions_json(run_ctx *c) {
  json_t *a = json_array();
  for (size_t k = 0; k < c->set.count && a != NULL; k++) {
    const shp_fit_solution *s = &c->set.solutions[k];
    double ph[64], sg[64];
    size_t nc = c->nc < 64 ? c->nc : 64;
    for (size_t i = 0; i < nc; i++) {
      size_t j = shp_fit_index_phase(c->mfit, i);
      ph[i] = s->params[j];
      sg[i] = s->sigma[j];
    }
    json_array_append_new(a,
                          json_pack("{s:o, s:o, s:o, s:o}", "phase_offset_rad",
                                    run_json_array(ph, nc), "phase_sigma_rad",
                                    run_json_array(sg, nc), "chi2",
                                    shp_journal_number(s->chi2), "cost",
                                    shp_journal_number(s->cost)));
  }
  return a;
}

/* Add the last trace to the fit and find every solution consistent with
 * the traces so far, starting also from the last set. */
static int fit_step(run_ctx *c) {
  c->noise = trace_noise(c->signal, c->trace_count, c->scratch);
  shp_fit_trace tr = {.model = &shp_fit_model_ac,
                      .temperatures_c = c->actual,
                      .crystal_count = c->nc,
                      .axis = c->delay,
                      .values = c->signal,
                      .count = c->trace_count,
                      .noise = c->noise};
  int rc = shp_fit_add(c->mfit, &tr);
  if (rc != SHP_OK)
    return rc;
  shp_fit_set next = {0};
  rc = c->have_set ? shp_fit_solve_seeded(c->mfit, &c->set, &next)
                   : shp_fit_solve(c->mfit, &next);
  if (rc != SHP_OK) {
    shp_fit_set_clear(&next);
    return rc;
  }
  shp_fit_set_clear(&c->set);
  c->set = next;
  c->have_set = c->have_fit = true;
  if ((rc = trace_match(c)) != SHP_OK)
    return rc;
  /* Solutions that do not explain the trace mean a branch was missed (the
   * truth need not be among the usual starts' minima): once more with
   * WIDER times the fresh starts, kept when it fits better. */
  bool wider = false;
  if (!traces_explained(c)) {
    double before = c->set.solutions[0].chi2;
    next = (shp_fit_set){0};
    rc = shp_fit_solve_wider(c->mfit, &c->set, WIDER, &next);
    if (rc == SHP_OK && next.solutions[0].chi2 < before) {
      shp_fit_set_clear(&c->set);
      c->set = next;
      wider = true;
      if ((rc = trace_match(c)) != SHP_OK)
        return rc;
    } else {
      shp_fit_set_clear(&next);
      if (rc != SHP_OK)
        return rc;
    }
  }
  if (!run_replaying(c)) {
    json_t *j = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:o}",
                          "type", "fit", "iteration", (json_int_t)c->iteration,
                          "traces", (json_int_t)shp_fit_count(c->mfit), "noise",
                          shp_journal_number(c->noise), "noise_level",
                          shp_journal_number(c->noise_level), "trace_residual",
                          shp_journal_number(c->trace_residual), "solutions",
                          solutions_json(c), "parameters",
                          (json_int_t)c->set.parameter_count, "data_determined",
                          (json_int_t)c->set.data_determined, "report",
                          shp_journal_string(c->set.report));
    if (j != NULL)
      json_object_set_new(j, "wider", json_boolean(wider));
    if ((rc = run_journal_record(c, j)) != SHP_OK)
      return rc;
  }
  run_emit(c, SHP_RUN_EV_FITTED,
           "[%zu] fitted %zu trace%s: %zu consistent solution%s (chi2/dof "
           "%.3f), trace "
           "residual %.4f (noise %.4f)",
           c->iteration, shp_fit_count(c->mfit),
           shp_fit_count(c->mfit) == 1 ? "" : "s", c->set.count,
           c->set.count == 1 ? "" : "s",
           c->set.solutions[0].chi2 / (double)c->set.dof, c->trace_residual,
           c->noise_level);
  return SHP_OK;
}

/* Keep the fit's and the verdict's numbers for the result's history. */
static int record_history(run_ctx *c) {
  shp_run_result *r = c->result;
  shp_run_history *p = realloc(r->history, (r->history_count + 1) * sizeof *p);
  if (p == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  r->history = p;
  const shp_verdict *v = &c->verdict;
  p[r->history_count++] = (shp_run_history){.iteration = c->iteration,
                                            .trace_error = c->error,
                                            .trace_residual = c->trace_residual,
                                            .trace_noise = c->noise_level,
                                            .best = v->best_error,
                                            .best_sigma = v->best_sigma,
                                            .worst = v->worst_error,
                                            .worst_sigma = v->worst_sigma,
                                            .solution_count = c->set.count};
  return SHP_OK;
}

static int verdict_step(run_ctx *c) {
  int rc = shp_decide_converged(
      c->mfit, &c->set, c->actual, c->spec->target, c->spec->tolerance,
      c->trace_residual, TRACE_MATCH_FACTOR * c->noise_level, &c->verdict);
  if (rc != SHP_OK)
    return rc;
  c->have_verdict = true;
  if (c->verdict.trace_matches && !(c->chi2_dof <= CHI2_DOF_MATCH)) {
    shp_verdict *v = &c->verdict;
    v->trace_matches = false;
    v->kind = SHP_VERDICT_NOT_YET;
    shp_snprintf(v->reason, sizeof v->reason,
                 "not yet: the last trace matches, but no solution explains "
                 "every trace so far (chi2 per degree of freedom %.3g, above "
                 "%.3g): the model may have lost the true branch",
                 c->chi2_dof, CHI2_DOF_MATCH);
  }
  if ((rc = record_history(c)) != SHP_OK)
    return rc;
  static const char *const kinds[] = {"not-yet", "ambiguous", "converged"};
  if (!run_replaying(c)) {
    const shp_verdict *v = &c->verdict;
    json_t *j =
        json_pack("{s:s, s:I, s:s, s:b, s:o, s:o, s:o, s:o, s:I, s:I, s:s}",
                  "type", "verdict", "iteration", (json_int_t)c->iteration,
                  "kind", kinds[v->kind], "trace_matches", v->trace_matches,
                  "best_error", shp_journal_number(v->best_error), "best_sigma",
                  shp_journal_number(v->best_sigma), "worst_error",
                  shp_journal_number(v->worst_error), "worst_sigma",
                  shp_journal_number(v->worst_sigma), "solutions",
                  (json_int_t)v->solution_count, "within",
                  (json_int_t)v->within, "reason", v->reason);
    if ((rc = run_journal_record(c, j)) != SHP_OK)
      return rc;
  }
  return SHP_OK;
}

static const char *decision_kind(shp_decide_kind k) {
  switch (k) {
  case SHP_DECIDE_CONVERGED_HERE:
    return "converged-here";
  case SHP_DECIDE_OPTIMUM:
    return "optimum";
  case SHP_DECIDE_PROBE:
    return "probe";
  case SHP_DECIDE_AT_BEST:
    return "at-best";
  default:
    return "none";
  }
}

/* Keep a decision for the result, and journal it before it is acted on. */
static int record_decision(run_ctx *c, const shp_decision *d) {
  shp_run_result *r = c->result;
  shp_run_decision *p =
      realloc(r->decisions, (r->decision_count + 1) * sizeof *p);
  if (p == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  r->decisions = p;
  shp_run_decision *e = &p[r->decision_count++];
  e->iteration = c->iteration;
  e->kind = decision_kind(d->kind);
  e->minutes = d->minutes;
  snprintf(e->reason, sizeof e->reason, "%s", d->reason);
  if (run_replaying(c))
    return SHP_OK;
  json_t *j = json_pack(
      "{s:s, s:I, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:s}",
      "type", "decision", "iteration", (json_int_t)c->iteration, "kind",
      e->kind, "setpoints_c", run_json_array(d->setpoints_c, c->nc), "minutes",
      shp_journal_number(d->minutes), "separation_sigma",
      shp_journal_number(d->separation_sigma), "pairs", (json_int_t)d->pairs,
      "pairs_split", (json_int_t)d->pairs_split, "error_now",
      run_json_array(d->error_now, d->solution_count), "sigma_now",
      run_json_array(d->sigma_now, d->solution_count), "error_next",
      run_json_array(d->error_next, d->solution_count), "sigma_next",
      run_json_array(d->sigma_next, d->solution_count), "reason", d->reason);
  if (j != NULL)
    json_object_set_new(j, "optimum_error",
                        run_json_array(d->optimum_error, d->solution_count));
  return run_journal_record(c, j);
}

/* Before any move: can the nominal model reach the target within the
 * lab's limits at all? */
static int reach_step(run_ctx *c, bool *reachable) {
  shp_run_result *r = c->result;
  shp_reach_result reach = {0};
  int rc = shp_reach_check(c->model, c->spec->target, c->lo, c->hi,
                           c->spec->tolerance, c->spec->seed, &reach);
  if (rc != SHP_OK) {
    shp_reach_result_clear(&reach);
    return rc;
  }
  r->reach_checked = true;
  r->reachable = reach.reachable;
  r->reach_best_error = reach.best_error;
  snprintf(r->reach_summary, sizeof r->reach_summary, "%s", reach.summary);
  *reachable = reach.reachable || c->spec->force;
  if (!run_replaying(c)) {
    json_t *reasons = json_array();
    for (size_t k = 0; k < reach.reason_count; k++)
      json_array_append_new(reasons, json_string(reach.reasons[k]));
    json_t *j = json_pack(
        "{s:s, s:b, s:o, s:o, s:s, s:o, s:b}", "type", "reach", "reachable",
        reach.reachable, "best_error", shp_journal_number(reach.best_error),
        "setpoints_c", run_json_array(reach.setpoints_c, c->nc), "summary",
        reach.summary, "reasons", reasons, "forced", c->spec->force);
    rc = run_journal_record(c, j);
  }
  shp_reach_result_clear(&reach);
  return rc;
}

/* ---- the loop
 * ----------------------------------------------------------------- */

int run_model_loop(run_ctx *c) {
  const shp_lab *lab = c->lab;
  double ramp = INFINITY, settle = 0;
  for (size_t i = 0; i < c->nc; i++) {
    if (lab->ovens[i].max_ramp_k_per_min > 0)
      ramp = fmin(ramp, lab->ovens[i].max_ramp_k_per_min);
    settle = fmax(settle, lab->ovens[i].settle_time_s);
  }
  if (!isfinite(ramp))
    ramp = 10.0;
  int rc = run_measure(c);
  /* Before the first move, after the first trace (which shows the lab
   * answers): can the nominal model reach the target within the limits at
   * all? Checked even with force, so the result says what was forced. */
  bool reachable = true;
  if (rc == SHP_OK && (rc = reach_step(c, &reachable)) == SHP_OK &&
      !reachable) {
    c->status = SHP_RUN_UNREACHABLE;
    c->stop = "the target is out of reach (--force tries anyway)";
    return SHP_OK;
  }
  while (rc == SHP_OK) {
    if ((rc = fit_step(c)) != SHP_OK || (rc = verdict_step(c)) != SHP_OK)
      break;
    if (c->verdict.kind == SHP_VERDICT_CONVERGED) {
      c->status = SHP_RUN_CONVERGED;
      break;
    }
    if (c->iteration >= c->spec->max_iterations) {
      c->status = c->verdict.kind == SHP_VERDICT_AMBIGUOUS
                      ? SHP_RUN_AMBIGUOUS
                      : SHP_RUN_UNCONVERGED;
      c->stop = "the iteration limit was reached";
      break;
    }
    shp_decide_lab dl = {.lo_c = c->lo,
                         .hi_c = c->hi,
                         .ramp_k_per_min = ramp,
                         .settle_s = settle,
                         .noise = c->noise_level,
                         .axis = c->delay,
                         .axis_count = c->trace_count,
                         .model = &shp_fit_model_ac,
                         .tolerance = c->spec->tolerance,
                         .seed = c->spec->seed + c->iteration};
    shp_decision d = {0};
    rc = shp_decide_next(c->mfit, &c->set, c->actual, c->spec->target, &dl, &d);
    if (rc == SHP_OK && d.kind == SHP_DECIDE_NONE)
      rc = shp_error_set(SHP_ERR_NUMERIC, "no next move: %s", d.reason);
    if (rc == SHP_OK)
      rc = record_decision(c, &d);
    if (rc == SHP_OK) {
      double largest = 0;
      for (size_t i = 0; i < c->nc; i++)
        largest = fmax(largest, fabs(d.setpoints_c[i] - c->setpoints[i]));
      c->predicted = d.solution_count > 0 ? d.error_next[0] : NAN;
      /* The decision's setpoints are the readbacks it was given when it
       * stays; a move to them would chase the settle tolerance. */
      bool here = d.stay || largest < NO_MOVE_K;
      c->still = here ? c->still + 1 : 0;
      if (here && d.kind == SHP_DECIDE_AT_BEST && c->verdict.trace_matches &&
          (c->verdict.plausible == 0 || c->still >= STILL_LIMIT)) {
        /* Already where no setpoints do better for any consistent
         * solution, and the trace says the model is right: more moves
         * cannot bring the pulse closer. When some solution puts it within
         * tolerance, traces here may still narrow the band enough to
         * vouch for it: the loop stops only when they no longer do. */
        c->at_best = true;
        c->status = c->verdict.plausible == 0 ? SHP_RUN_UNREACHABLE
                                              : SHP_RUN_UNCONVERGED;
        c->stop = c->verdict.plausible == 0
                      ? "the target is out of reach of this stack: every "
                        "consistent solution is at its best here, above "
                        "the tolerance"
                      : "every consistent solution is at its best here, "
                        "but the traces cannot place the error within the "
                        "tolerance";
        run_emit(c, SHP_RUN_EV_DECIDED, "[%zu] %s", c->iteration, d.reason);
        shp_decision_clear(&d);
        break;
      }
      if (here && c->still >= STILL_LIMIT) {
        c->status = c->verdict.kind == SHP_VERDICT_AMBIGUOUS
                        ? SHP_RUN_AMBIGUOUS
                        : SHP_RUN_UNCONVERGED;
        c->stop = "traces at the same setpoints settled nothing more";
        run_emit(c, SHP_RUN_EV_DECIDED, "[%zu] %s", c->iteration, d.reason);
        shp_decision_clear(&d);
        break;
      }
      if (here) {
        /* Nothing to move for: another trace here, which the verdict
         * weighs with the others. It counts as an iteration, so a loop
         * that learns nothing more ends. */
        run_emit(c, SHP_RUN_EV_DECIDED, "[%zu] %s", c->iteration, d.reason);
        c->iteration++;
      } else {
        rc = run_move(c, d.setpoints_c, c->predicted, d.reason);
      }
    }
    shp_decision_clear(&d);
    if (rc == SHP_OK)
      rc = run_measure(c);
  }
  return rc;
}
