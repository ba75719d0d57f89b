/* The closed loop in the lab, and crystal-phase calibration: both drive a
 * lab only through its safety supervisor and see only what a real lab
 * shows, oven readbacks and autocorrelator traces.
 *
 * A run repeats: acquire an averaged autocorrelation at the present oven
 * temperatures; fit the model's unknowns (per-crystal phase offsets, input
 * pulse width, the autocorrelator's scale, background and delay
 * calibration) to every trace measured so far (shp/acfit.h); optimise the
 * temperatures on the fitted model for the target; move the ovens through
 * the supervisor and wait for them to settle. It stops when the measured
 * autocorrelation matches the target's within the tolerance (relative RMS
 * after the best scale and background, shp_ac_error), after max_iterations
 * oven moves, on a fault or on a cancel (shp_supervisor_cancel, from any
 * thread or a signal handler): then every oven holds.
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

#include "shp/acfit.h"
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
} shp_run_spec;

typedef enum {
  SHP_RUN_EV_MEASURED, /* a trace at the present temperatures: error */
  SHP_RUN_EV_FITTED,   /* fit: fit (residual, parameters) */
  SHP_RUN_EV_PLANNED,  /* the next setpoints: setpoints_c, predicted_error */
  SHP_RUN_EV_MOVED,    /* the ovens have settled at setpoints_c */
  SHP_RUN_EV_DONE      /* the run ended: see the result */
} shp_run_event_kind;

/* What a run reports as it goes (on the thread running it). Pointers are
 * valid during the callback only. */
typedef struct {
  shp_run_event_kind kind;
  size_t iteration;          /* oven moves so far */
  double error;              /* MEASURED: the measured AC error */
  double predicted_error;    /* PLANNED: the model's AC error at setpoints_c */
  const double *setpoints_c; /* PLANNED, MOVED: one per crystal */
  const double *actual_c;    /* MEASURED: oven readbacks */
  size_t crystal_count;
  const shp_trace *trace;      /* MEASURED: calibrated */
  const double *target_ac;     /* MEASURED: the target's AC on trace's axis */
  const shp_acfit_result *fit; /* FITTED */
  const char *message;         /* a line for people */
} shp_run_event;

typedef void (*shp_run_progress_fn)(const shp_run_event *event, void *user);

typedef struct {
  bool converged;     /* the error is finite and within the tolerance */
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
} shp_run_result;

/* ---- operations --------------------------------------------------------- */

/* Run the loop on sup (borrowed, opened on spec->lab). progress may be
 * NULL. The journal (spec->journal_path or resume_path) is created or
 * opened, and locked, before any device is touched, and every setpoint the
 * supervisor sends is journalled ("oven_command") before it is sent.
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

/* ---- calibration -------------------------------------------------------- */

typedef struct {
  const shp_lab *lab;       /* borrowed */
  const size_t *crystals;   /* which to calibrate, in this order; NULL: all */
  size_t crystal_count;     /* of crystals */
  double periods;           /* scan span in phase periods (default 1.0;
                               at least 1) */
  size_t points;            /* temperatures per crystal (default 9) */
  size_t averages;          /* per trace; 0: the lab's */
  unsigned long seed;       /* the fit's starts */
  const char *journal_path; /* NULL: no journal; else created, never
                               overwritten */
  /* Optional out (may be NULL): set to true when the calibration ran to
   * its fit but a scanned crystal stayed undetermined (shp_calibrate then
   * returns SHP_ERR_NUMERIC and no calibration): a clean finish short of
   * the goal, not a failure of the lab. */
  bool *undetermined;
} shp_calibrate_spec;

/* Calibrate crystal phases on sup (opened on spec->lab): one trace with
 * every oven at its present setpoint, then for each crystal in turn a scan
 * of its oven over spec->periods phase periods (the material model's
 * full-wave temperature, placed within the crystal's limits, centred on the
 * present setpoint where they allow) while the others hold, a trace at
 * each settled temperature, and the oven put back. Then one fit of the full
 * model to every trace, with each scanned crystal's phase slope free
 * (shp/acfit.h), gives the calibration: per crystal the offset at its
 * present setpoint (the reference) and the slope with 1-sigma
 * uncertainties, the fit's residual and its identifiability report.
 * progress (may be NULL) sees MOVED and MEASURED for every point and one
 * FITTED. Returns SHP_OK and *out (owned by the caller), or: SHP_ERR_RANGE
 * when a crystal's limits are narrower than the scan, SHP_ERR_NUMERIC when
 * the traces do not determine a scanned crystal (the message carries the
 * report; nothing is returned rather than a false fit), a device, safety
 * or cancel error (every oven holds), SHP_ERR_WRITE for a journal that
 * cannot be written (created and locked before any device is touched;
 * SHP_ERR_BUSY when another process holds it; when only the journal's
 * last records fail after a good fit, *out is set all the same). Every
 * setpoint sent is journalled before it is sent ("oven_command"). */
int shp_calibrate(shp_supervisor *sup, const shp_calibrate_spec *spec,
                  shp_run_progress_fn progress, void *user,
                  shp_calibration **out);

#ifdef __cplusplus
}
#endif
#endif
