/* Crystal-phase calibration in the lab: scans of each oven, measured through
 * the safety supervisor, and one fit of the full model to every trace. Its
 * progress events are the closed loop's (shp/run.h). */
#ifndef SHP_CALIBRATE_H
#define SHP_CALIBRATE_H

#include "shp/calibration.h"
#include "shp/run.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types --------------------------------------------------------------- */

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

/* ---- the machine --------------------------------------------------------- */

typedef struct shp_calibration_run shp_calibration_run;
typedef struct shp_session shp_session; /* shp/session.h */

/* A calibration the caller steps on the session's lab and supervisor
 * (spec->lab is set to the session's), as shp_run_new (shp/run.h): events
 * SETTLED and MEASURED for every point, MOVING for every poll of a move,
 * one FITTED, then a terminal one: CONVERGED (calibrated), UNCONVERGED (a
 * scanned crystal stayed undetermined) or STOPPED (a fault, a cancel, an
 * error; every oven holds). */
shp_calibration_run *shp_calibration_run_new(shp_session *session,
                                             const shp_calibrate_spec *spec);
/* The same on a supervisor of one's own (borrowed, opened on spec->lab). */
shp_calibration_run *
shp_calibration_run_new_sup(shp_supervisor *sup,
                            const shp_calibrate_spec *spec);
shp_run_event_kind shp_calibration_run_step(shp_calibration_run *m,
                                            shp_run_event *ev);
/* Async-signal-safe, from any thread. */
void shp_calibration_run_cancel(shp_calibration_run *m);
/* After a terminal event: the code shp_calibrate returns, and *out (owned
 * by the caller) as shp_calibrate sets it. */
int shp_calibration_run_take_result(shp_calibration_run *m,
                                    shp_calibration **out);
void shp_calibration_run_free(shp_calibration_run *m);

/* ---- operations --------------------------------------------------------- */

/* Calibrate crystal phases on sup (opened on spec->lab): one trace with
 * every oven at its present setpoint, then for each crystal in turn a scan
 * of its oven over spec->periods phase periods (the material model's
 * full-wave temperature, placed within the crystal's limits, centred on the
 * present setpoint where they allow) while the others hold, a trace at
 * each settled temperature, and the oven put back. Then one fit of the full
 * measurement model to every trace (shp/fit.h: phases, each scanned
 * crystal's slope change, azimuth and length errors, the pulse's width and
 * GDD, the autocorrelator's delay scale and offset) gives the calibration:
 * per crystal the offset at its present setpoint (the reference), the slope
 * and the azimuth and length errors with 1-sigma uncertainties, the pulse
 * and the delay axis when the traces determine them, the fit's residual
 * and its identifiability report. A scanned crystal whose phase or slope
 * the traces leave to the prior (posterior sigma above half the prior's)
 * is undetermined.
 * progress (may be NULL) sees the machine's events, stepped to the end.
 * Returns SHP_OK and *out (owned by the caller), or: SHP_ERR_RANGE
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
