/* The closed-loop run and crystal-phase calibration as the window drives
 * them: the only place in the GUI that calls shp_run and shp_calibrate.
 * Either takes the lab's supervisor to itself through
 * shp_lab_state_run_exclusive on a worker thread, one at a time; its
 * progress is marshalled to the main thread; stopping it is
 * shp_supervisor_cancel (as the emergency stop does), after which every
 * oven holds and the supervisor stays latched until the lab is connected
 * again. Both are journalled to a new file under the user's cache
 * directory.
 *
 * A calibration that succeeds is saved under the user's data directory
 * (shaper/calibrations/) and kept: later runs on a lab of the same stack
 * file start from it (shp_run_spec.calibration).
 *
 * Signals, on the main thread:
 *   "progress" (double fraction, const char *message)
 *   "measured" (ShpRunTrace *trace)   a trace measured, with the oven
 *              readbacks (and, for a run, the target's autocorrelation on
 *              its axis)
 *   "finished" (gint code, const char *message)   SHP_OK or why it stopped;
 *              shp_run_controller_get_kind tells a run from a calibration
 * Property "running" (read-only, notified): a run or a calibration. */
#ifndef SHP_RUN_CONTROLLER_H
#define SHP_RUN_CONTROLLER_H

#include "lab-state.h"

#include "shp/calibration.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SHP_TYPE_RUN_CONTROLLER (shp_run_controller_get_type())
G_DECLARE_FINAL_TYPE(ShpRunController, shp_run_controller, SHP, RUN_CONTROLLER,
                     GObject)

/* What a "measured" signal carries; valid during the emission. */
typedef struct {
  size_t count;
  double *delay_ps, *signal;
  double *target_ac; /* count, or NULL (a calibration has no target) */
  size_t crystal_count;
  double *actual_c; /* oven readbacks */
  double time_s;    /* lab clock */
  double error;     /* measured AC error; NAN in a calibration */
} ShpRunTrace;

typedef enum {
  SHP_RUN_KIND_RUN,         /* the closed loop toward a target */
  SHP_RUN_KIND_CALIBRATION, /* crystal-phase calibration */
} ShpRunKind;

/* lab is borrowed (a reference is kept). */
ShpRunController *shp_run_controller_new(ShpLabState *lab);

/* Start a run on the connected lab toward the target at target_path,
 * journalled to a new file under the user's cache directory, from the kept
 * calibration when it was made on the lab's stack file. Fails at once
 * (target unreadable, no lab, lab busy or stopped) with the message. */
gboolean shp_run_controller_start(ShpRunController *self,
                                  const char *target_path, GError **error);
/* Start a crystal-phase calibration of every crystal on the connected lab
 * (shp_calibrate with its default scan: one phase period, 9 points per
 * crystal, so 1 + 9 n traces). "progress" counts traces; "finished" with
 * SHP_OK says where the file went and the fit's residual. Fails at once
 * (no lab, lab busy or stopped, the calibration directory cannot be
 * made) with the message. */
gboolean shp_run_controller_calibrate(ShpRunController *self, GError **error);
/* Stop what runs (shp_supervisor_cancel): it ends with every oven holding
 * and "finished" reports SHP_ERR_CANCELLED. */
void shp_run_controller_stop(ShpRunController *self);
gboolean shp_run_controller_is_running(ShpRunController *self);
/* What runs, or ran last (SHP_RUN_KIND_RUN before anything ran). */
ShpRunKind shp_run_controller_get_kind(ShpRunController *self);
/* The journal of the last run or calibration, or NULL. */
const char *shp_run_controller_get_journal_path(ShpRunController *self);
/* The last calibration that succeeded and its file, or NULL; borrowed,
 * valid until the next calibration succeeds. */
const shp_calibration *
shp_run_controller_get_calibration(ShpRunController *self);
const char *shp_run_controller_get_calibration_path(ShpRunController *self);

G_END_DECLS

#endif
