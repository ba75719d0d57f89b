/* The main window: the stack table, the plots and metrics, the lab's
 * state, and the actions (open, save, simulate, optimise, measure, apply
 * setpoints, connect, run, calibrate, emergency stop). It opens ready to
 * use: the example stack on the simulated lab against the example target.
 * Errors from files and devices appear in its message bar with the message
 * shapectl prints; news that must not scroll away (where a calibration was
 * saved) appears there too, styled as information. */
#ifndef SHP_WINDOW_H
#define SHP_WINDOW_H

#include "lab-state.h"
#include "plot-model.h"
#include "stack-model.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SHP_TYPE_WINDOW (shp_window_get_type())
G_DECLARE_FINAL_TYPE(ShpWindow, shp_window, SHP, WINDOW, GtkApplicationWindow)

/* app may be NULL (tests). Polls the lab every poll_ms (0: never, tests
 * then call shp_lab_state_poll). */
ShpWindow *shp_window_new(GtkApplication *app, guint poll_ms);

/* The example stack (examples/stacks/fan4.yml) on the built-in simulated
 * lab, against examples/targets/flat-top-4ps.yml. */
void shp_window_open_defaults(ShpWindow *self);
/* A stack, lab or target file, told apart by its keys. On failure the
 * window keeps what it had, shows the message and returns it in error. */
gboolean shp_window_open_file(ShpWindow *self, const char *path,
                              GError **error);

ShpStackModel *shp_window_get_stack_model(ShpWindow *self);
ShpPlotModel *shp_window_get_plot_model(ShpWindow *self);
ShpLabState *shp_window_get_lab_state(ShpWindow *self);
const char *shp_window_get_target_path(ShpWindow *self);
/* The plot view of a kind, the stack view, the metrics view (tests). */
GtkWidget *shp_window_get_plot_view(ShpWindow *self, ShpPlotKind kind);
GtkWidget *shp_window_get_stack_view(ShpWindow *self);
GtkWidget *shp_window_get_metrics_view(ShpWindow *self);
GtkWidget *shp_window_get_run_button(ShpWindow *self);
GtkWidget *shp_window_get_calibrate_button(ShpWindow *self);
/* Background tasks not yet reported back (simulations, optimisation,
 * measurements). */
guint shp_window_get_pending_tasks(ShpWindow *self);
/* The error in the message bar, or NULL when it is hidden or shows news. */
const char *shp_window_get_error(ShpWindow *self);
/* The news in the message bar, or NULL when it is hidden or shows an
 * error. */
const char *shp_window_get_info(ShpWindow *self);
/* The status line under the progress bar. */
const char *shp_window_get_status(ShpWindow *self);

G_END_DECLS

#endif
