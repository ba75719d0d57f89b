/* The window's background work: simulation, optimisation and measurement,
 * each a GTask that reports back on the main thread. */
#include "window-private.h"

#include "tasks.h"

#include <math.h>

/* ---- simulate ------------------------------------------------------------ */

static void simulated(GObject *source, GAsyncResult *result, gpointer data) {
  ShpWindow *self = SHP_WINDOW(source);
  guint generation = GPOINTER_TO_UINT(data);
  GError *error = NULL;
  shp_simulation *sim = shp_gui_simulate_finish(result, &error);
  shp_window_task_end(self);
  /* A newer simulation was asked for meanwhile (this one is stale), or the
   * window was closed. */
  if (generation != self->sim_generation || self->plots == NULL) {
    shp_simulation_free(sim);
    g_clear_error(&error);
    return;
  }
  if (sim == NULL) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  const shp_metrics *m = &sim->metrics;
  if (m->has_error)
    shp_window_set_status(self, "Simulated: transmission %.3f, error %.1f %%",
                          m->transmission, 100 * m->error);
  else
    shp_window_set_status(self, "Simulated: transmission %.3f",
                          m->transmission);
  shp_plot_model_set_simulation(self->plots,
                                shp_stack_model_get_name(self->stack), sim);
}

static void simulate_now(ShpWindow *self) {
  GError *error = NULL;
  shp_stack *copy = shp_stack_model_dup_stack(self->stack, &error);
  if (copy == NULL) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  shp_window_task_begin(self);
  shp_gui_simulate_async(G_OBJECT(self), copy, self->target_path, NULL,
                         simulated, GUINT_TO_POINTER(++self->sim_generation));
}

static gboolean simulate_idle(gpointer data) {
  ShpWindow *self = data;
  self->sim_idle = 0;
  shp_window_task_end(self);
  if (shp_stack_model_get_stack(self->stack) != NULL)
    simulate_now(self);
  return G_SOURCE_REMOVE;
}

void shp_window_queue_simulate(ShpWindow *self) {
  if (self->sim_idle != 0 || shp_stack_model_get_stack(self->stack) == NULL)
    return;
  /* Counted as a task from now, so tests waiting for the plots see it. */
  shp_window_task_begin(self);
  self->sim_idle = g_idle_add(simulate_idle, self);
}

static void simulate_action(GtkWidget *widget, const char *name,
                            GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  if (self->sim_idle != 0) {
    g_clear_handle_id(&self->sim_idle, g_source_remove);
    shp_window_task_end(self);
  }
  simulate_now(self);
}

/* ---- optimise ------------------------------------------------------------ */

static void optimize_progress(gsize run, gsize runs, double best,
                              gpointer data) {
  ShpWindow *self = data;
  if (!self->optimizing)
    return;
  gtk_progress_bar_set_fraction(self->progress,
                                runs ? (double)run / (double)runs : 0);
  shp_window_set_status(self, "Optimising: run %zu of %zu, best objective %.4g",
                        run + 1, runs, best);
}

static void optimized(GObject *source, GAsyncResult *result, gpointer data) {
  ShpWindow *self = SHP_WINDOW(source);
  GError *error = NULL;
  ShpOptimizeResult *r = shp_gui_optimize_finish(result, &error);
  shp_window_task_end(self);
  self->optimizing = FALSE;
  /* Cancelled after the search had finished: the result is stale too. */
  if (r != NULL && self->optimize_cancel != NULL &&
      g_cancellable_is_cancelled(self->optimize_cancel)) {
    g_clear_pointer(&r, shp_optimize_result_free);
    g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  }
  if (self->plots == NULL) { /* the window was closed */
    shp_optimize_result_free(r);
    g_clear_error(&error);
    return;
  }
  g_clear_object(&self->optimize_cancel);
  gtk_progress_bar_set_fraction(self->progress, r ? 1.0 : 0.0);
  if (r == NULL) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      shp_window_set_status(self, "Optimisation cancelled; the stack is as "
                                  "it was");
    else
      shp_window_show_error(self, error->message);
    g_error_free(error);
    shp_window_update_actions(self);
    return;
  }
  size_t n = r->stack->crystal_count;
  double *t = g_new(double, n);
  for (size_t i = 0; i < n; i++)
    t[i] = r->stack->crystals[i].temperature_c;
  if (!shp_stack_model_set_temperatures(self->stack, t, (guint)n, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
  } else {
    shp_window_set_status(self,
                          "Optimised in %zu evaluations: error %.1f %% → "
                          "%.1f %%; apply the setpoints to move the ovens",
                          r->evaluations, 100 * r->metrics_before.error,
                          100 * r->metrics_after.error);
  }
  g_free(t);
  shp_optimize_result_free(r);
  shp_window_update_actions(self);
}

static void optimize_action(GtkWidget *widget, const char *name,
                            GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  if (self->optimizing || self->target_path == NULL)
    return;
  GError *error = NULL;
  shp_stack *copy = shp_stack_model_dup_stack(self->stack, &error);
  if (copy == NULL) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  ShpOptimizeOptions opts = {.starts = 32, .min_c = NAN, .max_c = NAN};
  shp_lab_state_get_limits(self->lab, &opts.min_c, &opts.max_c);
  self->optimizing = TRUE;
  self->optimize_cancel = g_cancellable_new();
  gtk_progress_bar_set_fraction(self->progress, 0);
  shp_window_set_status(self, "Optimising the temperatures…");
  shp_window_task_begin(self);
  shp_gui_optimize_async(G_OBJECT(self), copy, self->target_path, &opts,
                         optimize_progress, self, self->optimize_cancel,
                         optimized, NULL);
  shp_window_update_actions(self);
}

static void cancel_action(GtkWidget *widget, const char *name,
                          GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  if (self->optimize_cancel != NULL)
    g_cancellable_cancel(self->optimize_cancel);
}

/* ---- measure ------------------------------------------------------------- */

static void measured(GObject *source, GAsyncResult *result, gpointer data) {
  ShpWindow *self = data;
  GError *error = NULL;
  ShpLabTrace *t =
      shp_lab_state_acquire_finish(SHP_LAB_STATE(source), result, &error);
  shp_window_task_end(self);
  if (self->plots == NULL) { /* the window was closed */
    shp_lab_trace_free(t);
    g_clear_error(&error);
  } else if (t == NULL) {
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY))
      shp_window_show_error(self, error->message);
    g_error_free(error);
  } else {
    shp_plot_model_set_measured(self->plots, t->delay_ps, t->signal, t->count);
    shp_window_set_status(self, "Measured an autocorrelation of %zu points",
                          t->count);
    shp_lab_trace_free(t);
  }
  if (self->plots != NULL)
    shp_window_update_actions(self);
  g_object_unref(self);
}

void shp_window_measure(ShpWindow *self) {
  /* Nothing to measure with: no lab, or it stopped on a fault. */
  if (!shp_lab_state_is_connected(self->lab) ||
      shp_lab_state_get_fault(self->lab) != NULL)
    return;
  shp_window_task_begin(self);
  shp_lab_state_acquire_async(self->lab, NULL, measured, g_object_ref(self));
}

static void measure_action(GtkWidget *widget, const char *name,
                           GVariant *param) {
  shp_window_measure(SHP_WINDOW(widget));
}

void shp_window_tasks_class_init(GtkWidgetClass *wc) {
  gtk_widget_class_install_action(wc, "win.simulate", NULL, simulate_action);
  gtk_widget_class_install_action(wc, "win.optimize", NULL, optimize_action);
  gtk_widget_class_install_action(wc, "win.cancel", NULL, cancel_action);
  gtk_widget_class_install_action(wc, "win.measure", NULL, measure_action);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_F5, 0, "win.simulate", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_F6, 0, "win.optimize", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_m, GDK_CONTROL_MASK,
                                      "win.measure", NULL);
}
