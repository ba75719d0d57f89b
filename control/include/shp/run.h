/* The closed loop in the lab (shp/calibrate.h has the calibration): it
 * drives a lab only through its safety supervisor and sees only what a real
 * lab shows, oven readbacks and autocorrelator traces.
 *
 * A run repeats: acquire an averaged autocorrelation at the present oven
 * temperatures (its noise estimated from the trace itself); fit the full
 * measurement model (shp/fit.h: per-crystal phase, azimuth and length
 * errors, pulse width and GDD, the autocorrelator's delay scale and
 * offset) to every trace so far, keeping every consistent solution; judge
 * (shp/decide.h): converged only when the trace matches within its noise
 * and every solution's predicted intensity error + 1 sigma is within the
 * tolerance; otherwise move the ovens, through the supervisor, where the
 * solutions' predicted traces differ most per oven minute, or to the
 * optimum when they agree. Before the first move the target's
 * reachability is checked on the nominal model within the lab's limits:
 * an unreachable target ends UNREACHABLE with nothing moved (spec.force
 * tries anyway). It ends after max_iterations oven moves (AMBIGUOUS when
 * the solutions still disagree, else UNCONVERGED), on a fault or on a
 * cancel (shp_supervisor_cancel, from any thread or a signal handler):
 * then every oven holds.
 *
 * The model-free mode is a direct search (Nelder-Mead) on the measured
 * error, every evaluation an oven move: for comparison and as a fallback.
 *
 * With a journal every step is appended as one JSON line and fsync'd before
 * the step's action is taken (shp/journal.h); a run resumed from a journal
 * replays what it recorded, re-sends the last accepted setpoints, and goes
 * on from there. */
#ifndef SHP_RUN_H
#define SHP_RUN_H

#include "shp/calibration.h"
#include "shp/supervisor.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types -------------------------------------------------------------- */

typedef enum { SHP_RUN_MODEL = 0, SHP_RUN_MODEL_FREE = 1 } shp_run_mode;

typedef struct {
  const shp_lab *lab;       /* borrowed: its stack is the model's start */
  const shp_target *target; /* borrowed */
  shp_run_mode mode;
  size_t max_iterations;    /* oven moves (default 20; model-free 200) */
  double tolerance;         /* relative RMS AC error (default 0.02) */
  size_t averages;          /* per trace; 0: the lab's */
  unsigned long seed;       /* the optimizer's, for reproducible runs */
  const char *journal_path; /* NULL: no journal */
  const char *resume_path;  /* NULL: a new run; else continue this journal
                               (then journal_path is ignored: the run
                               appends to the journal it resumes) */
  /* Borrowed, or NULL: put into the model before the first fit (its
   * offsets become the fit's prior, its slopes the model's). A resumed run
   * must be given the calibration its journal was started with. */
  const shp_calibration *calibration;
  /* Try a target the reachability check finds out of reach anyway. */
  bool force;
} shp_run_spec;

typedef enum {
  SHP_RUN_EV_MEASURED, /* a trace at the present temperatures: error */
  SHP_RUN_EV_FITTED,   /* fit: fit (residual, parameters) */
  SHP_RUN_EV_DECIDED,  /* the next setpoints (setpoints_c, predicted_error:
                          the best solution's intensity error there; the
                          model-free mode's is NAN) and the reason in
                          message; or what the loop does next */
  SHP_RUN_EV_MOVING,   /* one poll of the ovens heading for setpoints_c */
  SHP_RUN_EV_SETTLED,  /* the ovens have settled at setpoints_c */
  /* Terminal: the machine does nothing more (shp_run_take_result). */
  SHP_RUN_EV_CONVERGED,   /* every consistent solution's pulse within the
                             tolerance (model-free: the measured error) */
  SHP_RUN_EV_UNCONVERGED, /* ended cleanly short of it: result.reason */
  SHP_RUN_EV_STOPPED,     /* a fault, a cancel or an error: result.code;
                             every oven holds */
  SHP_RUN_EV_AMBIGUOUS,   /* the iterations ran out with consistent
                             solutions that disagree about the pulse */
  SHP_RUN_EV_UNREACHABLE  /* the target is out of the model's reach within
                             the lab's limits: nothing was moved */
} shp_run_event_kind;

/* Whether kind ends a run or a calibration. */
static inline bool shp_run_event_terminal(shp_run_event_kind kind) {
  return kind >= SHP_RUN_EV_CONVERGED;
}

/* What a run reports as it goes. Pointers are valid until the next step
 * (or, with shp_run's callback, during the callback only). */
typedef struct {
  shp_run_event_kind kind;
  size_t iteration;          /* oven moves so far */
  double error;              /* MEASURED: the measured AC error */
  double predicted_error;    /* DECIDED: the predicted intensity error */
  const double *setpoints_c; /* DECIDED, MOVING, SETTLED: one per crystal */
  const double *actual_c;    /* MEASURED: oven readbacks */
  size_t crystal_count;
  const shp_trace *trace;  /* MEASURED: calibrated */
  const double *target_ac; /* MEASURED: the target's AC on trace's axis */
  size_t polls;            /* MOVING: polls of this move so far */
  int code;                /* terminal: SHP_OK or why it stopped */
  const char *message;     /* a line for people */
} shp_run_event;

typedef void (*shp_run_progress_fn)(const shp_run_event *event, void *user);

/* How a run ended (shp_run_status_name: the JSON's words). */
typedef enum {
  SHP_RUN_STOPPED = 0, /* a fault, a cancel or an error: code says which */
  SHP_RUN_CONVERGED,   /* every consistent solution's pulse within
                          tolerance, the trace within its noise */
  SHP_RUN_AMBIGUOUS,   /* out of iterations, solutions disagreeing */
  SHP_RUN_UNREACHABLE, /* refused before any move (reach_summary), or
                          ended at the stack's best above the tolerance
                          (at_best) */
  SHP_RUN_UNCONVERGED  /* out of iterations (or a search with nowhere to
                          go) short of the target */
} shp_run_status;

const char *shp_run_status_name(shp_run_status status);

/* One decision of the loop, as the journal's "decision" record has it. */
typedef struct {
  size_t iteration;
  const char *kind; /* "probe", "optimum", "at-best", "converged-here"
                       (static) */
  double minutes;   /* ramp + settle the move costs */
  char reason[512];
} shp_run_decision;

/* What one consistent solution of the last fit predicts for the output
 * intensity at the temperatures the last verdict judged (the readbacks of
 * the last trace, at the final setpoints): moved and scaled onto the target
 * as the error measures it (a I(t - s) against T(t)) and divided by the
 * target's peak, so the target drawn with peak 1 on the same time axis is
 * what the error compares it with. */
typedef struct {
  double *time_ps;   /* point_count: the model's grid plus the shift s */
  double *intensity; /* point_count: a I / peak(T) */
  double *sigma;     /* point_count: its 1 sigma (linearised), >= 0 */
  size_t point_count;
  double error, error_sigma; /* against the target, as the verdict has it */
} shp_run_prediction;

/* Solutions whose predictions a result keeps (best first); a set may hold
 * more, and predicted_best/worst cover every one. */
#define SHP_RUN_MAX_PREDICTIONS 8

/* The model mode's state after each fit and verdict, one per trace. */
typedef struct {
  size_t iteration;      /* oven moves made before the trace */
  double trace_error;    /* measured AC error against the target's */
  double trace_residual; /* against the best solution's trace */
  double trace_noise;    /* the trace's noise on the same scale; the
                            verdict allows 1.25 times it */
  double best, best_sigma, worst, worst_sigma; /* predicted intensity
                                                  error, as below */
  size_t solution_count;
} shp_run_history;

typedef struct {
  bool converged; /* status == SHP_RUN_CONVERGED */
  shp_run_status status;
  size_t iterations;  /* oven moves made (resumed runs: in total) */
  double final_error; /* the last measured AC error */
  size_t crystal_count;
  double *setpoints_c;       /* crystal_count, the last accepted; owned */
  double *phase_offsets_rad; /* the last fit's, or NULL (model-free) */
  double *phase_sigma_rad;   /* their 1-sigma (INFINITY: undetermined) */
  int code;                  /* SHP_OK, or why the run stopped */
  char message[512];         /* for people: converged, limit, or the fault */
  char reason[256]; /* a run that ended unconverged: why it stopped (the
                       iteration limit, a search with nowhere to go) */
  /* What the model mode learnt (NAN / 0 where it did not get that far, and
   * in the model-free mode). final_error is the measured autocorrelation
   * error against the target's; trace_residual the relative RMS of the
   * measured trace against the best solution's, trace_noise the trace's
   * own noise relative to its amplitude (estimated from the trace). */
  double trace_residual, trace_noise;
  /* The predicted output intensity error against the target at the final
   * setpoints (relative RMS after the best shift and scale, as `simulate`
   * reports it): lowest and highest over the consistent solutions, each
   * with its 1 sigma from the fit's covariance. */
  double predicted_best, predicted_best_sigma;
  double predicted_worst, predicted_worst_sigma;
  size_t solution_count;      /* consistent solutions of the last fit */
  size_t parameter_count;     /* the model's unknowns */
  size_t data_determined;     /* directions the data determine */
  char identifiability[2048]; /* the last fit's report */
  /* Reachability, checked before any move (reach_checked false with
   * --force or in the model-free mode). */
  bool reach_checked, reachable;
  /* The run ended where no setpoints do better for any consistent
   * solution, with the trace matching the model, short of the tolerance:
   * status UNREACHABLE (no solution within it) or UNCONVERGED (within for
   * some, not vouched for all). The ovens hold those setpoints. */
  bool at_best;
  double reach_best_error; /* e* on the nominal model */
  char reach_summary[1024];
  shp_run_decision *decisions; /* decision_count, owned */
  size_t decision_count;
  /* The model mode's last fit: each consistent solution's predicted output
   * intensity (at most SHP_RUN_MAX_PREDICTIONS, best first; owned), and
   * the target on the model's grid as they are drawn against it (peak 1,
   * time_ps: target_count each, owned). None in the model-free mode, or
   * when the run stopped before a verdict. */
  shp_run_prediction *predictions;
  size_t prediction_count;
  double *target_time_ps, *target;
  size_t target_count;
  /* Per fit, in order (replayed ones included): the convergence history
   * (owned). */
  shp_run_history *history;
  size_t history_count;
} shp_run_result;

/* ---- the machine --------------------------------------------------------- */

typedef struct shp_run_machine shp_run_machine;
typedef struct shp_session shp_session; /* shp/session.h */

/* A run on the session's lab and supervisor (spec->lab is set to the
 * session's; the session outlives the machine): what front ends call. */
shp_run_machine *shp_run_new(shp_session *session, const shp_run_spec *spec);

/* The same on a supervisor of one's own (borrowed, opened on spec->lab).
 * spec is copied; what it points to is borrowed and must outlive the
 * machine. Nothing is touched until the first step. NULL with the error
 * set when out of memory. One thread steps it; shp_run_cancel may come
 * from any. */
shp_run_machine *shp_run_new_sup(shp_supervisor *sup, const shp_run_spec *spec);

/* One bounded unit of work: a trace acquired, a fit, a decision, one poll
 * interval of an oven move (shp_supervisor_set_poll_s), or the end. Fills
 * *ev (its pointers valid until the next step) and returns its kind. Every
 * step is journalled and synced before it is acted on, as shp_run does.
 * After a terminal event, steps return it again. */
shp_run_event_kind shp_run_step(shp_run_machine *m, shp_run_event *ev);

/* Stop at the next step that touches the lab: it ends STOPPED with
 * SHP_ERR_CANCELLED, every oven holding, the journal's end written.
 * Async-signal-safe and callable from any thread. */
void shp_run_cancel(shp_run_machine *m);

/* After a terminal event: the outcome (moved into *result, which the caller
 * frees with shp_run_result_clear) and the code, as shp_run returns it
 * (the error set). SHP_ERR_INVALID before a terminal event. */
int shp_run_take_result(shp_run_machine *m, shp_run_result *result);

/* A machine not at its end is cancelled and stepped to it first. */
void shp_run_free(shp_run_machine *m);

/* ---- operations --------------------------------------------------------- */

/* Run the loop on sup to its end: a machine stepped in a loop, each event
 * given to progress (may be NULL). The journal (spec->journal_path or
 * resume_path) is created or opened, and locked, before any device is
 * touched, and every setpoint the supervisor sends is journalled
 * ("oven_command") before it is sent.
 * Returns SHP_OK when the run ended cleanly by converging or not
 * (result->converged tells which, result->reason why not), or the error
 * that stopped it: SHP_ERR_CANCELLED, a device or safety error (the
 * supervisor has latched and every oven holds), SHP_ERR_WRITE for a journal
 * that cannot be written (the run stops, the ovens hold), SHP_ERR_BUSY for
 * a journal another process holds (nothing touched), SHP_ERR_FILE for an
 * input or journal that cannot be read, SHP_ERR_PARSE for a journal that
 * is not one (a damaged line, named), SHP_ERR_MISMATCH for a journal of
 * another run (files by content or parameters differ: the message names
 * which), SHP_ERR_RANGE when the traces' delays do not cover the target's
 * autocorrelation, SHP_ERR_NUMERIC for a measured error that is not finite.
 * result is filled in either way; free with shp_run_result_clear. */
int shp_run(shp_supervisor *sup, const shp_run_spec *spec,
            shp_run_progress_fn progress, void *user, shp_run_result *result);

void shp_run_result_clear(shp_run_result *r);

#ifdef __cplusplus
}
#endif
#endif
