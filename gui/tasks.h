/* Long work of the GUI in GTasks: each runs the library on a worker thread
 * with its own copy of the inputs and reports back on the main thread
 * (results through the GTask, progress through the main context). These
 * are the calls `shapectl simulate` and `shapectl optimize` make. */
#ifndef SHP_GUI_TASKS_H
#define SHP_GUI_TASKS_H

#include "shp/simulation.h"
#include "shp/stack.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* Simulate stack (taken: the task owns and frees it) against the target
 * file at target_path (read on the worker; NULL for none). */
void shp_gui_simulate_async(GObject *source, shp_stack *stack,
                            const char *target_path, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
/* Owned by the caller: shp_simulation_free. */
shp_simulation *shp_gui_simulate_finish(GAsyncResult *result, GError **error);

/* Progress of an optimisation, on the main thread: run is the start or
 * polishing run under way (0-based) of runs, best the best objective. */
typedef void (*ShpOptimizeProgress)(gsize run, gsize runs, double best,
                                    gpointer user_data);

typedef struct {
  unsigned vary; /* SHP_VARY_* (default temperatures) */
  gsize starts;  /* default 32 */
  unsigned long seed;
  double min_c, max_c; /* allowed temperatures; NAN: unlimited */
} ShpOptimizeOptions;

typedef struct {
  shp_stack *stack;     /* the optimised stack, owned */
  double before, after; /* objective */
  shp_metrics metrics_before, metrics_after;
  gsize evaluations;
} ShpOptimizeResult;
void shp_optimize_result_free(ShpOptimizeResult *r);

/* Optimise stack (taken) for the target at target_path, as `shapectl
 * optimize` does (GSL simplex from Sobol starts). Cancelling stops the
 * search between iterations (G_IO_ERROR_CANCELLED). progress may be NULL;
 * it is called on the main thread, at most ten times a second. */
void shp_gui_optimize_async(GObject *source, shp_stack *stack,
                            const char *target_path,
                            const ShpOptimizeOptions *options,
                            ShpOptimizeProgress progress,
                            gpointer progress_data, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
/* Owned by the caller: shp_optimize_result_free. */
ShpOptimizeResult *shp_gui_optimize_finish(GAsyncResult *result,
                                           GError **error);

G_END_DECLS

#endif
