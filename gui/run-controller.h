/* The closed-loop run and crystal-phase calibration as the window drives
 * them: the only place in the GUI that calls shp_run (and, once the
 * toolkit has one, the calibration). A run takes the lab's supervisor to
 * itself through shp_lab_state_run_exclusive on a worker thread; its
 * progress is marshalled to the main thread; stopping it is
 * shp_supervisor_cancel (as the emergency stop does), after which every
 * oven holds and the supervisor stays latched until the lab is connected
 * again.
 *
 * Signals, on the main thread:
 *   "progress" (double fraction, const char *message)
 *   "measured" (ShpRunTrace *trace)   a trace the run measured, with the
 *              target's autocorrelation on its axis and the oven readbacks
 *   "finished" (gint code, const char *message)   SHP_OK or why it stopped
 * Property "running" (read-only, notified). */
#ifndef SHP_RUN_CONTROLLER_H
#define SHP_RUN_CONTROLLER_H

#include "lab-state.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SHP_TYPE_RUN_CONTROLLER (shp_run_controller_get_type())
G_DECLARE_FINAL_TYPE(ShpRunController, shp_run_controller, SHP, RUN_CONTROLLER,
                     GObject)

/* What a "measured" signal carries; valid during the emission. */
typedef struct {
  size_t count;
  double *delay_ps, *signal, *target_ac;
  size_t crystal_count;
  double *actual_c; /* oven readbacks */
  double time_s;    /* lab clock */
  double error;     /* measured AC error */
} ShpRunTrace;

/* lab is borrowed (a reference is kept). */
ShpRunController *shp_run_controller_new(ShpLabState *lab);

/* Whether this build can run the closed loop, and calibrate; when not,
 * why, for people (a tooltip). */
gboolean shp_run_controller_can_run(void);
gboolean shp_run_controller_can_calibrate(void);
const char *shp_run_controller_calibrate_unavailable_reason(void);

/* Start a run on the connected lab toward the target at target_path,
 * journalled to a new file under the user's cache directory. Fails at once
 * (target unreadable, no lab, lab busy or stopped) with the message. */
gboolean shp_run_controller_start(ShpRunController *self,
                                  const char *target_path, GError **error);
/* Start a crystal-phase calibration (not in the toolkit yet: fails with
 * G_IO_ERROR_NOT_SUPPORTED and the reason). */
gboolean shp_run_controller_calibrate(ShpRunController *self, GError **error);
/* Stop what runs (shp_supervisor_cancel): it ends with every oven holding
 * and "finished" reports SHP_ERR_CANCELLED. */
void shp_run_controller_stop(ShpRunController *self);
gboolean shp_run_controller_is_running(ShpRunController *self);
/* The journal of the last run, or NULL. */
const char *shp_run_controller_get_journal_path(ShpRunController *self);

G_END_DECLS

#endif
