/* The closed loop's decisions: one solution's optimum, the next move and
 * the convergence verdict (decide.h explains the rules). */
#include "shp/decide.h"

#include "decide-private.h"
#include "shp/error.h"
#include "shp/numbers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A move must split the disagreeing solutions by this many sigmas before it
 * is worth its minutes: below, the measurement could not rule either out. */
#define DECIDE_MIN_SEPARATION 3.0

int shp_decide_optimum(const shp_fit *f, const shp_fit_solution *sol,
                       const shp_target *target, const double *lo_c,
                       const double *hi_c, unsigned long seed,
                       double *setpoints_c, double *predicted_error) {
  if (!f || !sol || !target || !setpoints_c)
    return shp_error_set(SHP_ERR_INVALID,
                         "optimum: a fit, a solution, a target and room for "
                         "the setpoints are needed");
  shp_stack *s = shp_fit_solution_stack(f, sol);
  if (!s)
    return shp_error_last();
  double err = NAN, tr = NAN;
  int rc = decide_optimise_temperatures(s, target, lo_c, hi_c, seed, 0, 0,
                                        setpoints_c, &err, &tr, NULL);
  if (rc == SHP_OK && predicted_error)
    *predicted_error = err;
  shp_stack_free(s);
  return rc;
}

/* Every solution's predicted error and sigma at temps. */
static int errors_at(shp_fit *f, const shp_fit_set *set, const double *temps,
                     const shp_target *target, double *err, double *sig) {
  for (size_t k = 0; k < set->count; k++) {
    shp_fit_prediction pr = {0};
    int rc =
        shp_fit_predict_intensity(f, &set->solutions[k], temps, target, &pr);
    err[k] = pr.error;
    sig[k] = pr.error_sigma;
    shp_fit_prediction_clear(&pr);
    if (rc != SHP_OK)
      return rc;
  }
  return SHP_OK;
}

/* The distance between two predicted traces in sigmas of the noise: the
 * chi2 left after fitting one to the other with the best amplitude and
 * background (as the fit solves them), both ways, averaged. */
static double one_way(const double *a, const double *b, size_t n) {
  double sa = 0, sb = 0, saa = 0, sab = 0;
  for (size_t j = 0; j < n; j++) {
    sa += a[j];
    sb += b[j];
    saa += a[j] * a[j];
    sab += a[j] * b[j];
  }
  double nn = (double)n, det = nn * saa - sa * sa;
  double amp = det > 0 ? (nn * sab - sa * sb) / det : 0;
  double bg = (sb - amp * sa) / nn;
  double chi = 0;
  for (size_t j = 0; j < n; j++) {
    double r = b[j] - amp * a[j] - bg;
    chi += r * r;
  }
  return chi;
}

static double trace_separation(const double *a, const double *b, size_t n,
                               double noise) {
  double chi2 = 0.5 * (one_way(a, b, n) + one_way(b, a, n)) / (noise * noise);
  return sqrt(chi2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static bool within(double e, double s, double tol) {
  return isfinite(e) && e + (isfinite(s) ? s : 0) <= tol;
}

/* A solution is at its own best at some setpoints when the error it
 * predicts there is within its own sigma (plus a floor of half a percent,
 * below which no lab tells two pulses apart) of the error at its optimum,
 * the floor and sigma capped at 0.02 so a loose fit cannot call a poor
 * point its best. */
#define AT_BEST_FLOOR 0.005
#define AT_BEST_CAP 0.02

static bool at_own_best(double e, double s, double best) {
  double margin = fmin(AT_BEST_FLOOR + (isfinite(s) ? s : 0), AT_BEST_CAP);
  return isfinite(e) && isfinite(best) && e <= best + margin;
}

/* A decision to stay at the current setpoints: what is predicted next is
 * what is predicted now. */
static void stay_here(shp_decision *d, shp_decide_kind kind,
                      const double *current_c) {
  d->kind = kind;
  d->stay = true;
  memcpy(d->setpoints_c, current_c, d->crystal_count * sizeof(double));
  memcpy(d->error_next, d->error_now, d->solution_count * sizeof(double));
  memcpy(d->sigma_next, d->sigma_now, d->solution_count * sizeof(double));
}

/* The reason of an AT_BEST decision: short counts the solutions that
 * cannot reach tol; here, whether the current setpoints are the best. */
static void at_best_reason(shp_decision *d, size_t short_of, double tol,
                           bool here) {
  size_t S = d->solution_count;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < S; k++) {
    lo = fmin(lo, d->optimum_error[k]);
    hi = fmax(hi, d->optimum_error[k]);
  }
  const char *where = here ? "here" : "at the best solution's optimum";
  if (S == 1)
    shp_snprintf(d->reason, sizeof d->reason,
                 "the one consistent solution cannot reach %.3g: its best "
                 "error is %.3g, and it is at its best %s",
                 tol, lo, where);
  else
    shp_snprintf(d->reason, sizeof d->reason,
                 "%zu of %zu consistent solutions cannot reach %.3g: their "
                 "own best errors are %.3g to %.3g, and every one is at its "
                 "best %s",
                 short_of, S, tol, lo, hi, where);
}

static double move_minutes(const double *from, const double *to, size_t nc,
                           const shp_decide_lab *lab) {
  double dt = 0;
  for (size_t i = 0; i < nc; i++)
    dt = fmax(dt, fabs(to[i] - from[i]));
  return dt / lab->ramp_k_per_min + lab->settle_s / 60.0;
}

void shp_decision_clear(shp_decision *d) {
  if (!d)
    return;
  free(d->setpoints_c);
  free(d->error_now);
  free(d->sigma_now);
  free(d->error_next);
  free(d->sigma_next);
  free(d->optimum_error);
  memset(d, 0, sizeof *d);
}

typedef struct {
  double *temps;  /* nc */
  int crystal;    /* probed crystal, or -1 for an optimum */
  double periods; /* the probe's step in phase periods */
  size_t solution;
} candidate;

/* An at-best stop is only as good as the optima it compares with: the
 * search is run again from the current setpoints with CONFIRM_STARTS
 * starts on each solution's stack, and a better optimum replaces the
 * first one (its error and its setpoints, cand[k]). With 24 starts an
 * eight-crystal landscape left optima 0.04 above the true stack's best. */
#define CONFIRM_STARTS 96

static int confirm_at_best(shp_fit *f, const shp_fit_set *set,
                           const double *current_c, const shp_target *target,
                           const shp_decide_lab *lab, candidate *cand,
                           shp_decision *d) {
  size_t nc = d->crystal_count;
  double *t = malloc(nc * sizeof *t);
  if (t == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  int rc = SHP_OK;
  for (size_t k = 0; k < set->count && rc == SHP_OK; k++) {
    shp_stack *s = shp_fit_solution_stack(f, &set->solutions[k]);
    if (s == NULL) {
      rc = shp_error_last();
      break;
    }
    for (size_t i = 0; i < nc; i++)
      s->crystals[i].temperature_c = current_c[i];
    double err = NAN, tr = NAN;
    rc = decide_optimise_temperatures(s, target, lab->lo_c, lab->hi_c,
                                      lab->seed + 7919, CONFIRM_STARTS, 0, t,
                                      &err, &tr, NULL);
    if (rc == SHP_OK && err < d->optimum_error[k]) {
      d->optimum_error[k] = err;
      memcpy(cand[k].temps, t, nc * sizeof *t);
    }
    shp_stack_free(s);
  }
  free(t);
  return rc;
}

int shp_decide_next(shp_fit *f, const shp_fit_set *set, const double *current_c,
                    const shp_target *target, const shp_decide_lab *lab,
                    shp_decision *d) {
  if (!f || !set || !current_c || !target || !lab || !d || set->count == 0 ||
      !(lab->ramp_k_per_min > 0) || !(lab->settle_s >= 0) ||
      !(lab->noise > 0) || !lab->axis || lab->axis_count < 4 ||
      !(lab->tolerance > 0)) {
    int rc = shp_error_set(SHP_ERR_INVALID,
                           "decide: a fit, a solved set, the setpoints, a "
                           "target, a ramp rate, a noise level, an axis and "
                           "a tolerance are needed");
    if (d) {
      memset(d, 0, sizeof *d);
      shp_snprintf(d->reason, sizeof d->reason, "no decision: %s",
                   shp_error_detail());
    }
    return rc;
  }
  const shp_stack *stack = shp_fit_stack(f);
  size_t nc = stack->crystal_count, S = set->count, na = lab->axis_count;
  const shp_fit_model *model = lab->model ? lab->model : &shp_fit_model_ac;
  double tol = lab->tolerance;
  memset(d, 0, sizeof *d);
  d->crystal_count = nc;
  d->solution_count = S;
  d->setpoints_c = calloc(nc, sizeof(double));
  d->error_now = calloc(S, sizeof(double));
  d->sigma_now = calloc(S, sizeof(double));
  d->error_next = calloc(S, sizeof(double));
  d->sigma_next = calloc(S, sizeof(double));
  size_t maxcand = S + 4 * nc;
  candidate *cand = calloc(maxcand, sizeof *cand);
  double *ctemps = calloc(maxcand * nc, sizeof *ctemps);
  double *err_b = calloc(S, sizeof *err_b), *sig_b = calloc(S, sizeof *sig_b);
  double *traces = calloc(S * na, sizeof *traces);
  bool *pair = calloc(S * S, sizeof *pair);
  bool *ok = calloc(S, sizeof *ok);
  double *seps = calloc(S * S, sizeof *seps);
  d->optimum_error = calloc(S, sizeof(double));
  int rc = SHP_OK;
  if (!d->setpoints_c || !d->error_now || !d->sigma_now || !d->error_next ||
      !d->sigma_next || !cand || !ctemps || !err_b || !sig_b || !traces ||
      !pair || !ok || !seps || !d->optimum_error) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t c = 0; c < maxcand; c++)
    cand[c].temps = ctemps + c * nc;

  rc = errors_at(f, set, current_c, target, d->error_now, d->sigma_now);
  if (rc != SHP_OK)
    goto done;
  size_t ok_now = 0;
  double worst_now = 0;
  for (size_t k = 0; k < S; k++) {
    ok_now += within(d->error_now[k], d->sigma_now[k], tol);
    worst_now = fmax(worst_now, d->error_now[k]);
  }
  if (ok_now == S) {
    stay_here(d, SHP_DECIDE_CONVERGED_HERE, current_c);
    for (size_t k = 0; k < S; k++)
      d->optimum_error[k] = NAN; /* not sought: nothing to move for */
    shp_snprintf(d->reason, sizeof d->reason,
                 "%s within %.3g here (worst %.3g): no move",
                 S == 1 ? "the one consistent solution predicts an error"
                        : "every consistent solution predicts an error",
                 tol, worst_now);
    goto done;
  }

  /* Every solution's own optimum (the candidates' first S entries), and the
   * errors every solution predicts at the best solution's. */
  for (size_t k = 0; k < S; k++) {
    rc = shp_decide_optimum(f, &set->solutions[k], target, lab->lo_c, lab->hi_c,
                            lab->seed, cand[k].temps, &d->optimum_error[k]);
    if (rc != SHP_OK)
      goto done;
    cand[k].crystal = -1;
    cand[k].solution = k;
  }
  size_t nca = S;
  /* Already at the stack's best: every solution is within tolerance here
   * or at its own best here (not all within: that converged above). */
  size_t served_now = 0;
  for (size_t k = 0; k < S; k++)
    served_now +=
        within(d->error_now[k], d->sigma_now[k], tol) ||
        at_own_best(d->error_now[k], d->sigma_now[k], d->optimum_error[k]);
  if (served_now == S) {
    /* Before the loop stops on it, look harder for better setpoints: more
     * starts, the first of them here. */
    rc = confirm_at_best(f, set, current_c, target, lab, cand, d);
    if (rc != SHP_OK)
      goto done;
    served_now = 0;
    for (size_t k = 0; k < S; k++)
      served_now +=
          within(d->error_now[k], d->sigma_now[k], tol) ||
          at_own_best(d->error_now[k], d->sigma_now[k], d->optimum_error[k]);
  }
  if (served_now == S) {
    stay_here(d, SHP_DECIDE_AT_BEST, current_c);
    at_best_reason(d, S - ok_now, tol, true);
    goto done;
  }
  double best_err = d->optimum_error[0];
  rc = errors_at(f, set, cand[0].temps, target, err_b, sig_b);
  if (rc != SHP_OK)
    goto done;
  /* A solution is served by the best's optimum when it predicts an error
   * within tolerance there, or when it is at its own best there (no
   * setpoints would do better for it). Two solutions need telling apart
   * only when one of them is not served. */
  size_t within_b = 0;
  for (size_t k = 0; k < S; k++) {
    bool in = within(err_b[k], sig_b[k], tol);
    ok[k] = in || at_own_best(err_b[k], sig_b[k], d->optimum_error[k]);
    within_b += in;
  }
  size_t disagree = 0;
  for (size_t j = 0; j < S; j++)
    for (size_t k = j + 1; k < S; k++)
      if (!(ok[j] && ok[k])) {
        pair[j * S + k] = true;
        disagree++;
        d->pairs = disagree;
      }
  size_t chosen = 0;
  double chosen_sep = 0;
  if (disagree == 0 && within_b == S) {
    d->kind = SHP_DECIDE_OPTIMUM;
    shp_snprintf(d->reason, sizeof d->reason,
                 "%s predict%s errors within %.3g at the best solution's "
                 "optimum (model error %.3g): moving there",
                 S == 1 ? "the one consistent solution"
                        : "all consistent solutions",
                 S == 1 ? "s" : "", tol, best_err);
  } else if (disagree == 0) {
    /* Nothing reaches the tolerance for some solution, and no setpoints
     * would do better for any of them: the stack's best. */
    d->kind = SHP_DECIDE_AT_BEST;
    at_best_reason(d, S - within_b, tol, false);
  } else {
    /* Candidates: the solutions' optima, then single-crystal probes of
     * +-1/4 and +-1/2 of a phase period within the limits. */
    static const double steps[4] = {0.25, -0.25, 0.5, -0.5};
    for (size_t i = 0; i < nc; i++) {
      const shp_stack_crystal *c = &stack->crystals[i];
      shp_material_props mp;
      rc = shp_material_props_at(c->material, stack->pulse.center_wavelength_nm,
                                 current_c[i], c->length_mm, &mp);
      if (rc != SHP_OK)
        goto done;
      for (size_t q = 0; q < 4; q++) {
        double t = current_c[i] + steps[q] * mp.full_wave_temperature_k;
        if ((lab->lo_c && t < lab->lo_c[i]) || (lab->hi_c && t > lab->hi_c[i]))
          continue;
        memcpy(cand[nca].temps, current_c, nc * sizeof(double));
        cand[nca].temps[i] = t;
        cand[nca].crystal = (int)i;
        cand[nca].periods = steps[q];
        nca++;
      }
    }
    double best_disc = -1;
    for (size_t c = 0; c < nca; c++) {
      for (size_t k = 0; k < S; k++) {
        rc = shp_fit_predict_trace(f, &set->solutions[k], model, cand[c].temps,
                                   lab->axis, na, traces + k * na);
        if (rc != SHP_OK)
          goto done;
      }
      size_t np = 0, split = 0;
      for (size_t j = 0; j < S; j++)
        for (size_t k = j + 1; k < S; k++)
          if (pair[j * S + k]) {
            double x = trace_separation(traces + j * na, traces + k * na, na,
                                        lab->noise);
            seps[np++] = fmin(x, SHP_DECIDE_SEPARATION_CAP);
            split += x >= DECIDE_MIN_SEPARATION;
          }
      qsort(seps, np, sizeof *seps, cmp_double);
      /* The soft minimum: the lower median, which half the disagreeing
       * pairs reach (the minimum itself would rank every move by the one
       * pair no temperature can split yet). */
      double sep = seps[(np - 1) / 2];
      double min = move_minutes(current_c, cand[c].temps, nc, lab);
      double disc = sep / (1 + min);
      if (disc > best_disc) {
        best_disc = disc;
        chosen = c;
        chosen_sep = sep;
        d->pairs_split = split;
      }
    }
    size_t jw = 0, kw = 0;
    double hi = -1, lo = INFINITY;
    for (size_t k = 0; k < S; k++) {
      if (err_b[k] > hi) {
        hi = err_b[k];
        jw = k;
      }
      if (err_b[k] < lo) {
        lo = err_b[k];
        kw = k;
      }
    }
    if (chosen_sep < DECIDE_MIN_SEPARATION) {
      chosen = 0;
      d->kind = SHP_DECIDE_OPTIMUM;
      shp_snprintf(d->reason, sizeof d->reason,
                   "solutions %zu and %zu disagree (errors %.3g vs %.3g) but "
                   "no move separates half the disagreeing pairs by %.0f "
                   "sigma (best median %.3g): "
                   "moving to the best solution's optimum",
                   kw + 1, jw + 1, lo, hi, DECIDE_MIN_SEPARATION, chosen_sep);
    } else if (cand[chosen].crystal < 0) {
      d->kind =
          cand[chosen].solution == 0 ? SHP_DECIDE_OPTIMUM : SHP_DECIDE_PROBE;
      shp_snprintf(d->reason, sizeof d->reason,
                   "solutions %zu and %zu disagree (errors %.3g vs %.3g): "
                   "moving to solution %zu's optimum splits %zu of %zu "
                   "disagreeing pairs by 3 sigma (median %.3g sigma) at "
                   "%.3g min",
                   kw + 1, jw + 1, lo, hi, cand[chosen].solution + 1,
                   d->pairs_split, d->pairs, chosen_sep,
                   move_minutes(current_c, cand[chosen].temps, nc, lab));
    } else {
      d->kind = SHP_DECIDE_PROBE;
      shp_snprintf(d->reason, sizeof d->reason,
                   "solutions %zu and %zu disagree (errors %.3g vs %.3g): "
                   "probing crystal %d by %+g period splits %zu of %zu "
                   "disagreeing pairs by 3 sigma (median %.3g sigma) at "
                   "%.3g min",
                   kw + 1, jw + 1, lo, hi, cand[chosen].crystal + 1,
                   cand[chosen].periods, d->pairs_split, d->pairs, chosen_sep,
                   move_minutes(current_c, cand[chosen].temps, nc, lab));
    }
  }
  d->candidates = nca;
  d->separation_sigma = chosen_sep;
  memcpy(d->setpoints_c, cand[chosen].temps, nc * sizeof(double));
  d->minutes = move_minutes(current_c, d->setpoints_c, nc, lab);
  rc = errors_at(f, set, d->setpoints_c, target, d->error_next, d->sigma_next);

done:
  free(cand);
  free(ctemps);
  free(err_b);
  free(sig_b);
  free(traces);
  free(pair);
  free(ok);
  free(seps);
  if (rc != SHP_OK) {
    shp_decision_clear(d);
    d->kind = SHP_DECIDE_NONE;
    shp_snprintf(d->reason, sizeof d->reason, "no decision: %s",
                 shp_error_detail());
  }
  return rc;
}

int shp_decide_converged(shp_fit *f, const shp_fit_set *set,
                         const double *setpoints_c, const shp_target *target,
                         double tolerance, double measured_trace_error,
                         double trace_noise_level, shp_verdict *v) {
  if (!f || !set || !setpoints_c || !target || !v || set->count == 0 ||
      !(tolerance > 0))
    return shp_error_set(SHP_ERR_INVALID,
                         "converged: a fit, a solved set, setpoints, a target "
                         "and a positive tolerance are needed");
  memset(v, 0, sizeof *v);
  size_t S = set->count;
  v->solution_count = S;
  v->trace_matches = isfinite(measured_trace_error) &&
                     measured_trace_error <= trace_noise_level;
  v->best_error = INFINITY;
  v->worst_error = -INFINITY;
  for (size_t k = 0; k < S; k++) {
    shp_fit_prediction pr = {0};
    int rc = shp_fit_predict_intensity(f, &set->solutions[k], setpoints_c,
                                       target, &pr);
    double e = pr.error, s = pr.error_sigma;
    shp_fit_prediction_clear(&pr);
    if (rc != SHP_OK)
      return rc;
    if (!isfinite(e))
      e = INFINITY;
    if (!isfinite(s))
      s = 0;
    v->within += e + s <= tolerance;
    v->plausible += e <= tolerance;
    if (k == 0 || e + s < v->best_error + v->best_sigma) {
      v->best_error = e;
      v->best_sigma = s;
    }
    if (k == 0 || e + s > v->worst_error + v->worst_sigma) {
      v->worst_error = e;
      v->worst_sigma = s;
    }
  }
  if (!v->trace_matches) {
    v->kind = SHP_VERDICT_NOT_YET;
    shp_snprintf(v->reason, sizeof v->reason,
                 "not yet: the measured trace is off by %.3g, above its noise "
                 "%.3g (predicted errors %.3g to %.3g over %zu solution%s)",
                 measured_trace_error, trace_noise_level, v->best_error,
                 v->worst_error, S, S == 1 ? "" : "s");
  } else if (v->within == S) {
    v->kind = SHP_VERDICT_CONVERGED;
    shp_snprintf(v->reason, sizeof v->reason,
                 "converged: the trace matches within its noise and %s "
                 "within %.3g (worst %.3g +- %.3g)",
                 S == 1 ? "the one consistent solution predicts an error"
                        : "every consistent solution predicts an error",
                 tolerance, v->worst_error, v->worst_sigma);
  } else if (v->plausible > 0) {
    v->kind = SHP_VERDICT_AMBIGUOUS;
    shp_snprintf(v->reason, sizeof v->reason,
                 "ambiguous: the trace matches but %zu of %zu consistent "
                 "solutions may be off by more than %.3g (best %.3g +- %.3g, "
                 "worst %.3g +- %.3g)",
                 S - v->within, S, tolerance, v->best_error, v->best_sigma,
                 v->worst_error, v->worst_sigma);
  } else {
    v->kind = SHP_VERDICT_NOT_YET;
    shp_snprintf(v->reason, sizeof v->reason,
                 "not yet: the trace matches but no consistent solution "
                 "predicts an error within %.3g (best %.3g +- %.3g)",
                 tolerance, v->best_error, v->best_sigma);
  }
  return SHP_OK;
}
