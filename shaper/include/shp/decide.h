/* The closed loop's decisions, as pure functions: whether a target can be
 * reached at all, where each consistent solution of a fit puts its optimum,
 * which move next settles what the fit does not yet know, and whether the
 * pulse may be called converged. They compute and explain; the loop owns the
 * lab, the ovens and the journal.
 *
 * How the loop calls them:
 *   before any move:   shp_reach_check(nominal stack, target, limits, ...)
 *                      -> unreachable: exit 3 with r.summary, no move;
 *   per measurement:   fit, solve (shp_fit.h), then
 *                      shp_decide_converged(fit, set, readbacks, ...)
 *                      -> SHP_VERDICT_CONVERGED: stop;
 *                      else shp_decide_next(fit, set, readbacks, ...)
 *                      -> move the ovens to d.setpoints_c, journal d.reason.
 *
 * Rules (why, in short):
 *   - Reachability is judged on the nominal model: temperatures optimised
 *     within the limits (shp_problem, shp_search, deterministic for the
 *     seed); reasons come from the physics (replica span, input pulse,
 *     fixed azimuths, transmission), not from a failed run.
 *   - Two consistent solutions "disagree" when at least one of them is
 *     not served by the best solution's optimum: it predicts an error
 *     above tolerance there and other setpoints (its own optimum) would do
 *     better for it. Agreeing solutions need no measurement to tell them
 *     apart, also when the target is out of reach for them.
 *   - A pair's distance at a move is between their predicted traces there,
 *     in sigmas of the trace noise (sqrt of the chi2 left after the best
 *     amplitude and background, averaged both ways), capped at
 *     SHP_DECIDE_SEPARATION_CAP (beyond it a pair is split for certain).
 *     A candidate's separation is a soft minimum over the disagreeing
 *     pairs: their lower median, the distance half of them reach. The
 *     plain minimum would rank every move by the one pair no single move
 *     splits yet (a set of 8 from one trace has such pairs); the median
 *     still asks the move to split most of them, and the next move's fit
 *     takes the rest. Its discrimination is separation / (1 + minutes),
 *     minutes = the slowest crystal's ramp |dT| / rate plus the settle time
 *     (ovens ramp together).
 *   - Converged only when the measured trace matches within its noise AND
 *     every consistent solution's predicted error + 1 sigma is within
 *     tolerance (DESIGN.md, "Convergence means the pulse"). */
#ifndef SHP_DECIDE_H
#define SHP_DECIDE_H

#include "shp/fit.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reachability -------------------------------------------------------- */

#define SHP_REACH_MAX_REASONS 4
#define SHP_REACH_REASON_SIZE 256

typedef struct {
  bool reachable;
  double best_error;        /* e*: relative RMS error at the best setpoints */
  double best_transmission; /* energy transmission there */
  double *setpoints_c;      /* crystal_count, owned: the best setpoints */
  size_t crystal_count;
  /* The physics behind the reasons. */
  double replica_span_ps; /* sum of the o/e group-delay differences */
  double input_fwhm_ps;
  double longest_ps;    /* replica span + input FWHM: the longest output */
  double edge_limit_ps; /* fastest 10-90 % edge the input allows */
  /* Short sentences, one per reason the target cannot be reached. */
  char reasons[SHP_REACH_MAX_REASONS][SHP_REACH_REASON_SIZE];
  size_t reason_count;
  char summary[1024]; /* one sentence, for the journal and the CLI */
  size_t evaluations;
} shp_reach_result;

/* Optimise the crystal temperatures of stack (borrowed) towards target
 * within [lo_c[i], hi_c[i]] (one pair per crystal; NULL: unlimited) and
 * say whether the best error is within tolerance and, when not, why:
 *   - the replica span plus the input FWHM is shorter than the target's
 *     duration (the longest output the stack can make);
 *   - the target's 10-90 % edge is below half the input FWHM (an edge of
 *     the output is at best an edge of one replica, ~0.72 FWHM for a
 *     Gaussian; half the FWHM leaves room for overlapping replicas);
 *   - the best error stays above tolerance though span and edges fit: the
 *     temperatures set the phases only, the azimuths (fixed) the
 *     amplitudes;
 *   - the transmission at the best setpoints is below the target's
 *     min_transmission.
 * r must be zeroed or cleared before. Errors: SHP_ERR_INVALID (a bad
 * argument, lo > hi), the problem's and the search's errors. */
int shp_reach_check(const shp_stack *stack, const shp_target *target,
                    const double *lo_c, const double *hi_c, double tolerance,
                    unsigned long seed, shp_reach_result *r);
void shp_reach_result_clear(shp_reach_result *r);

/* ---- one solution's optimum --------------------------------------------- */

/* The stack of the fit with solution's parameters written in: phase
 * offsets (the fit's offset minus the carrier phase of the length error,
 * which the fit's model subtracts likewise), azimuths + azimuth errors,
 * lengths + length errors, the pulse's width and GDD. Slope changes
 * (calibration scans) are not carried. A stack with a measured spectrum is
 * refused (SHP_ERR_INVALID). NULL with shp_error_detail() on failure. Owned
 * by the caller (shp_stack_free). */
shp_stack *shp_fit_solution_stack(const shp_fit *f,
                                  const shp_fit_solution *sol);
/* The stack the fit models (borrowed by shp_fit_new). */
const shp_stack *shp_fit_stack(const shp_fit *f);

/* Optimise temperatures within the limits on the solution's stack:
 * setpoints_c (crystal_count) and the error predicted there (the model's,
 * without the band). */
int shp_decide_optimum(const shp_fit *f, const shp_fit_solution *sol,
                       const shp_target *target, const double *lo_c,
                       const double *hi_c, unsigned long seed,
                       double *setpoints_c, double *predicted_error);

/* ---- the next move ------------------------------------------------------- */

#define SHP_DECIDE_SEPARATION_CAP 30.0

typedef enum {
  SHP_DECIDE_NONE,           /* nothing to do (an error: see reason) */
  SHP_DECIDE_CONVERGED_HERE, /* every solution within tolerance here */
  SHP_DECIDE_OPTIMUM,        /* solutions agree (or none separates): go */
  SHP_DECIDE_PROBE,          /* a move chosen to separate solutions */
  SHP_DECIDE_AT_BEST         /* some solution cannot reach the tolerance,
                                and every one is at its own best at the
                                best solution's optimum: the stack's best */
} shp_decide_kind;

/* What the loop passes about its lab and diagnostic. */
typedef struct {
  const double *lo_c, *hi_c;  /* per crystal limits (NULL: none) */
  double ramp_k_per_min;      /* > 0 */
  double settle_s;            /* >= 0 */
  double noise;               /* sigma of a peak-normalised trace, > 0 */
  const double *axis;         /* the diagnostic's axis (delays, ps) */
  size_t axis_count;          /* >= 4 */
  const shp_fit_model *model; /* NULL: shp_fit_model_ac */
  double tolerance;           /* on the intensity error */
  unsigned long seed;
} shp_decide_lab;

typedef struct {
  shp_decide_kind kind;
  bool stay; /* setpoints_c are the current ones: no move (every
                CONVERGED_HERE, an AT_BEST already there) */
  size_t crystal_count, solution_count;
  double *setpoints_c; /* crystal_count, owned */
  /* Per solution: predicted intensity error and its 1 sigma at the current
   * and at the chosen setpoints (owned, solution_count each). */
  double *error_now, *sigma_now, *error_next, *sigma_next;
  /* Per solution: the error at its own optimum (NAN for CONVERGED_HERE,
   * which seeks none). */
  double *optimum_error;
  double separation_sigma; /* expected separation at the move (sigmas):
                              the median over the disagreeing pairs */
  size_t pairs;            /* disagreeing pairs of solutions */
  size_t pairs_split;      /* of them split by >= 3 sigma at the move */
  double minutes;          /* ramp + settle */
  size_t candidates;       /* how many moves were weighed */
  char reason[512];
} shp_decision;

/* Choose the next setpoints for the consistent solutions of set (a solve
 * of f) at the current setpoints (crystal_count values):
 *   - every solution's error + sigma within tolerance here: CONVERGED_HERE;
 *   - every solution within tolerance at the best's optimum: OPTIMUM
 *     (the best's);
 *   - every solution either within tolerance there or at its own best
 *     there (within its sigma plus half a percent, at most 0.02, of the
 *     error at its own optimum), some not within: AT_BEST (the best's
 *     optimum; no move makes any solution better, so a loop already there
 *     stops);
 *   - else the candidate of highest discrimination among each solution's
 *     optimum and single-crystal probes of +-1/4 and +-1/2 phase period
 *     within the limits: PROBE (or OPTIMUM when the winner is the best's
 *     optimum); when no candidate separates the disagreeing pairs by 3
 *     sigma, the best's optimum (the move most likely to be needed).
 * d must be zeroed or cleared before. */
int shp_decide_next(shp_fit *f, const shp_fit_set *set, const double *current_c,
                    const shp_target *target, const shp_decide_lab *lab,
                    shp_decision *d);
void shp_decision_clear(shp_decision *d);

/* ---- convergence --------------------------------------------------------- */

typedef enum {
  SHP_VERDICT_NOT_YET,   /* the measured trace is off, or no solution
                            predicts an error within tolerance */
  SHP_VERDICT_AMBIGUOUS, /* some solution predicts an error within
                            tolerance, but not every one with its sigma */
  SHP_VERDICT_CONVERGED
} shp_verdict_kind;

typedef struct {
  shp_verdict_kind kind;
  bool trace_matches;
  double best_error, best_sigma;   /* lowest predicted error + sigma */
  double worst_error, worst_sigma; /* highest predicted error + sigma */
  size_t within;                   /* solutions with error + sigma <= tol */
  size_t plausible;                /* solutions with error <= tol */
  size_t solution_count;
  char reason[512];
} shp_verdict;

/* The verdict at setpoints: the measured trace matches when
 * measured_trace_error <= trace_noise_level (the same measure: e.g. the
 * relative RMS difference of the measured and the fitted trace and the
 * noise's RMS relative to the peak). */
int shp_decide_converged(shp_fit *f, const shp_fit_set *set,
                         const double *setpoints_c, const shp_target *target,
                         double tolerance, double measured_trace_error,
                         double trace_noise_level, shp_verdict *v);

#ifdef __cplusplus
}
#endif
#endif
