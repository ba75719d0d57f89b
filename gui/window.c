#include "window-private.h"

#include "gui-util.h"

#include "shp/error.h"

#include <math.h>

G_DEFINE_FINAL_TYPE(ShpWindow, shp_window, GTK_TYPE_APPLICATION_WINDOW)

/* ---- messages ------------------------------------------------------------ */

/* One bar for both: an error, or news that must not scroll away. */
static void show_message(ShpWindow *self, const char *message,
                         gboolean is_error) {
  self->message_is_error = is_error;
  gtk_label_set_text(self->error_label, message);
  gtk_image_set_from_icon_name(self->message_icon,
                               is_error ? "dialog-error-symbolic"
                                        : "dialog-information-symbolic");
  gtk_widget_remove_css_class(self->message_bar,
                              is_error ? "info-bar" : "error-bar");
  gtk_widget_add_css_class(self->message_bar,
                           is_error ? "error-bar" : "info-bar");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->message_bar),
                                 GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 is_error ? "Error" : "Information", -1);
  gtk_revealer_set_reveal_child(self->error_revealer, TRUE);
  /* Screen readers announce it as they would an alert. */
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->error_label),
                                 GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, message,
                                 -1);
}

void shp_window_show_error(ShpWindow *self, const char *message) {
  show_message(self, message, TRUE);
}

void shp_window_show_info(ShpWindow *self, const char *message) {
  show_message(self, message, FALSE);
}

void shp_window_set_status(ShpWindow *self, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  gtk_label_set_text(self->status_label, text);
  g_free(text);
}

const char *shp_window_get_error(ShpWindow *self) {
  if (!gtk_revealer_get_reveal_child(self->error_revealer) ||
      !self->message_is_error)
    return NULL;
  return gtk_label_get_text(self->error_label);
}

const char *shp_window_get_info(ShpWindow *self) {
  if (!gtk_revealer_get_reveal_child(self->error_revealer) ||
      self->message_is_error)
    return NULL;
  return gtk_label_get_text(self->error_label);
}

const char *shp_window_get_status(ShpWindow *self) {
  return gtk_label_get_text(self->status_label);
}

static void show_error_action(GtkWidget *widget, const char *name,
                              GVariant *param) {
  shp_window_show_error(SHP_WINDOW(widget), g_variant_get_string(param, NULL));
}

static void dismiss_error_action(GtkWidget *widget, const char *name,
                                 GVariant *param) {
  gtk_revealer_set_reveal_child(SHP_WINDOW(widget)->error_revealer, FALSE);
}

/* ---- labels and actions -------------------------------------------------- */

void shp_window_update_labels(ShpWindow *self) {
  const char *name = shp_stack_model_get_name(self->stack);
  const char *path = shp_stack_model_get_path(self->stack);
  gtk_label_set_text(self->stack_title, name ? name : "No stack");
  char *text = g_strdup_printf(
      "%s%s", path ? path : "",
      shp_stack_model_is_modified(self->stack) ? " (edited)" : "");
  gtk_label_set_text(self->stack_path, text);
  g_free(text);
  text = g_strdup_printf("Target: %s",
                         self->target_path ? self->target_path : "none");
  gtk_label_set_text(self->target_label, text);
  g_free(text);

  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  const char *state = !shp_lab_state_is_connected(self->lab) ? "not connected"
                      : shp_lab_state_get_fault(self->lab)
                          ? "stopped, every oven holding"
                      : shp_lab_state_is_busy(self->lab) ? "busy"
                                                         : "connected";
  if (lab == NULL)
    text = g_strdup("No lab");
  else if (lab->path == NULL)
    text = g_strdup_printf("Lab: the built-in simulated lab (%zu ovens): %s",
                           lab->oven_count, state);
  else
    text = g_strdup_printf("Lab: %s%s (%zu ovens): %s", lab->path,
                           shp_lab_state_is_simulated(self->lab) ? ", simulated"
                                                                 : "",
                           lab->oven_count, state);
  gtk_label_set_text(self->lab_label, text);
  g_free(text);
}

void shp_window_update_actions(ShpWindow *self) {
  GtkWidget *w = GTK_WIDGET(self);
  gboolean has_stack = shp_stack_model_get_stack(self->stack) != NULL;
  gboolean connected = shp_lab_state_is_connected(self->lab);
  gboolean idle = connected && !shp_lab_state_is_busy(self->lab);
  gboolean running = shp_run_controller_is_running(self->run);
  gtk_widget_action_set_enabled(w, "win.simulate", has_stack);
  gtk_widget_action_set_enabled(
      w, "win.optimize", has_stack && !self->optimizing && self->target_path);
  gtk_widget_action_set_enabled(w, "win.cancel", self->optimizing);
  gtk_widget_action_set_enabled(w, "win.save-stack", has_stack);
  gboolean stopped = shp_lab_state_get_fault(self->lab) != NULL;
  gtk_widget_action_set_enabled(w, "win.measure", idle && !stopped);
  gtk_widget_action_set_enabled(w, "win.apply-setpoints",
                                idle && has_stack && !stopped);
  gtk_widget_action_set_enabled(w, "win.connect",
                                shp_lab_state_get_lab(self->lab) &&
                                    !shp_lab_state_is_busy(self->lab));
  gtk_widget_action_set_enabled(w, "win.emergency-stop", TRUE);
  gtk_widget_action_set_enabled(
      w, "win.run", running || (idle && !stopped && self->target_path != NULL));
  gtk_widget_action_set_enabled(w, "win.calibrate", idle && !stopped);
  gtk_widget_action_set_enabled(
      w, "win.save-journal",
      shp_run_controller_get_journal_path(self->run) != NULL && !running);
  gboolean calibrating = running && shp_run_controller_get_kind(self->run) ==
                                        SHP_RUN_KIND_CALIBRATION;
  gtk_button_set_label(self->run_button, !running      ? "_Run"
                                         : calibrating ? "_Stop Calibration"
                                                       : "_Stop Run");
  gtk_widget_set_sensitive(GTK_WIDGET(self->stack_view), !self->optimizing);
}

void shp_window_task_begin(ShpWindow *self) { self->pending++; }

void shp_window_task_end(ShpWindow *self) {
  g_return_if_fail(self->pending > 0);
  self->pending--;
}

/* ---- the lab ------------------------------------------------------------- */

/* The stack's rows and the temperature history from the latest readings. */
static void on_lab_polled(ShpLabState *lab, gpointer data) {
  ShpWindow *self = data;
  guint n = shp_lab_state_get_oven_count(lab);
  const shp_sup_fault *fault = shp_lab_state_get_fault(lab);
  double *actual = g_new(double, n), *setpoint = g_new(double, n);
  for (guint i = 0; i < n; i++) {
    const shp_oven_status *st = shp_lab_state_get_status(lab, i);
    gboolean ok = st != NULL && st->code == SHP_OK;
    actual[i] = ok ? st->reading.actual_c : NAN;
    setpoint[i] = ok ? st->reading.setpoint_c : NAN;
    const char *why = NULL;
    if (fault != NULL && fault->crystal == (int)i)
      why = fault->message;
    else if (st != NULL && st->code != SHP_OK)
      why = shp_strerror(st->code);
    else if (ok && st->reading.fault)
      why = st->reading.fault_text;
    if (i < shp_stack_model_get_count(self->stack))
      shp_stack_model_set_oven(self->stack, i, st, fault != NULL, why);
  }
  shp_plot_model_add_temperatures(self->plots, shp_lab_state_get_time_s(lab),
                                  actual, setpoint, n);
  g_free(actual);
  g_free(setpoint);
  shp_window_update_labels(self);
}

static void on_lab_fault(ShpLabState *lab, const char *text, gpointer data) {
  ShpWindow *self = data;
  shp_window_show_error(self, text);
  shp_window_set_status(self, "%s", text);
  shp_window_update_labels(self);
  shp_window_update_actions(self);
}

static void on_lab_notify(GObject *lab, GParamSpec *pspec, gpointer data) {
  shp_window_update_labels(data);
  shp_window_update_actions(data);
}

static void emergency_stop_action(GtkWidget *widget, const char *name,
                                  GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  if (self->optimize_cancel != NULL)
    g_cancellable_cancel(self->optimize_cancel);
  if (!shp_lab_state_emergency_stop(self->lab,
                                    "emergency stop by the operator")) {
    shp_window_show_error(self, "emergency stop: not connected to a lab, so "
                                "no oven was told anything");
    return;
  }
  if (shp_lab_state_is_busy(self->lab))
    shp_window_set_status(self, "Emergency stop: stopping the task under way; "
                                "the ovens will hold");
  shp_window_update_labels(self);
  shp_window_update_actions(self);
}

static void connect_action(GtkWidget *widget, const char *name,
                           GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  GError *error = NULL;
  if (!shp_lab_state_connect(self->lab, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
  } else {
    gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
    shp_plot_model_reset_history(self->plots,
                                 shp_lab_state_get_oven_count(self->lab));
    shp_lab_state_poll(self->lab);
    shp_window_set_status(self, "Connected to the lab");
  }
  shp_window_update_labels(self);
  shp_window_update_actions(self);
}

static void apply_setpoints_action(GtkWidget *widget, const char *name,
                                   GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  const shp_stack *s = shp_stack_model_get_stack(self->stack);
  if (s == NULL)
    return;
  double *t = g_new(double, s->crystal_count);
  for (size_t i = 0; i < s->crystal_count; i++)
    t[i] = s->crystals[i].temperature_c;
  GError *error = NULL;
  if (!shp_lab_state_request(self->lab, t, (guint)s->crystal_count, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
  } else {
    shp_window_set_status(self, "Setpoints sent; the ovens ramp at the "
                                "allowed rate");
  }
  g_free(t);
  shp_lab_state_poll(self->lab);
  shp_window_update_actions(self);
}

/* ---- run and calibrate --------------------------------------------------- */

static void run_action(GtkWidget *widget, const char *name, GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  if (shp_run_controller_is_running(self->run)) {
    shp_run_controller_stop(self->run);
    return;
  }
  GError *error = NULL;
  if (!shp_run_controller_start(self->run, self->target_path, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
  gtk_progress_bar_set_fraction(self->progress, 0);
  shp_window_set_status(self, "Run started: journal %s",
                        shp_run_controller_get_journal_path(self->run));
  shp_window_update_actions(self);
}

/* A calibration stops as a run does: through the Run button (then "Stop
 * Calibration") or the emergency stop. */
static void calibrate_action(GtkWidget *widget, const char *name,
                             GVariant *param) {
  ShpWindow *self = SHP_WINDOW(widget);
  GError *error = NULL;
  if (!shp_run_controller_calibrate(self->run, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
  gtk_progress_bar_set_fraction(self->progress, 0);
  shp_window_set_status(self, "Calibration started: journal %s",
                        shp_run_controller_get_journal_path(self->run));
  shp_window_update_actions(self);
}

static void on_run_progress(ShpRunController *run, double fraction,
                            const char *message, gpointer data) {
  ShpWindow *self = data;
  if (fraction >= 0)
    gtk_progress_bar_set_fraction(self->progress, fraction);
  else
    gtk_progress_bar_pulse(self->progress);
  shp_window_set_status(self, "%s", message);
}

/* A trace the run measured: the autocorrelation plot and the oven
 * readbacks (polling waits while the run has the supervisor). */
static void on_run_measured(ShpRunController *run, ShpRunTrace *t,
                            gpointer data) {
  ShpWindow *self = data;
  shp_plot_model_set_measured(self->plots, t->delay_ps, t->signal, t->count);
  double *nan = g_new(double, t->crystal_count);
  for (size_t i = 0; i < t->crystal_count; i++)
    nan[i] = NAN;
  if (t->actual_c != NULL)
    shp_plot_model_add_temperatures(self->plots, t->time_s, t->actual_c, nan,
                                    (guint)t->crystal_count);
  g_free(nan);
}

/* A calibration that succeeded: said as news, not as an error, and put
 * into the displayed stack when it is the stack calibrated, so that
 * Simulate uses the measured phases. */
static void calibrated(ShpWindow *self, const char *message) {
  const shp_calibration *cal = shp_run_controller_get_calibration(self->run);
  GError *error = NULL;
  char *text;
  if (shp_stack_model_get_stack(self->stack) == NULL)
    text = g_strdup_printf("Calibration done: %s", message);
  else if (!shp_stack_model_apply_calibration(self->stack, cal, &error))
    text = g_strdup_printf("Calibration done: %s; not applied to the stack "
                           "shown: %s",
                           message, error->message);
  else
    text = g_strdup_printf("Calibration done: %s; the stack's phases now "
                           "come from it",
                           message);
  g_clear_error(&error);
  /* The status line is soon the new simulation's: the bar keeps it. */
  shp_window_set_status(self, "%s", text);
  shp_window_show_info(self, text);
  gtk_progress_bar_set_fraction(self->progress, 1.0);
  g_free(text);
}

static void on_run_finished(ShpRunController *run, int code,
                            const char *message, gpointer data) {
  ShpWindow *self = data;
  gboolean calibration =
      shp_run_controller_get_kind(run) == SHP_RUN_KIND_CALIBRATION;
  if (calibration && code == SHP_OK)
    calibrated(self, message);
  else
    shp_window_set_status(self, "%s ended: %s",
                          calibration ? "Calibration" : "Run", message);
  /* A fault or a stop shows through the lab's "fault"; anything else that
   * stopped it (a journal that cannot be written, a calibration the scans
   * do not determine) shows here. */
  if (code != SHP_OK && shp_lab_state_get_fault(self->lab) == NULL)
    shp_window_show_error(self, message);
  shp_lab_state_poll(self->lab);
  shp_window_update_labels(self);
  shp_window_update_actions(self);
}

static void on_run_notify(GObject *run, GParamSpec *pspec, gpointer data) {
  shp_window_update_actions(data);
}

/* ---- the stack ----------------------------------------------------------- */

static void on_stack_changed(ShpStackModel *stack, gpointer data) {
  ShpWindow *self = data;
  shp_window_update_labels(self);
  shp_window_update_actions(self);
  shp_window_queue_simulate(self);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void shp_window_dispose(GObject *object) {
  ShpWindow *self = SHP_WINDOW(object);
  if (self->optimize_cancel != NULL)
    g_cancellable_cancel(self->optimize_cancel);
  g_clear_object(&self->optimize_cancel);
  self->optimizing = FALSE;
  g_clear_handle_id(&self->sim_idle, g_source_remove);
  if (self->lab != NULL) {
    shp_lab_state_set_poll_interval(self->lab, 0);
    g_signal_handlers_disconnect_by_data(self->lab, self);
  }
  if (self->stack != NULL)
    g_signal_handlers_disconnect_by_data(self->stack, self);
  if (self->run != NULL) {
    /* A run outlives no window: it stops, and the ovens hold. */
    shp_run_controller_stop(self->run);
    g_signal_handlers_disconnect_by_data(self->run, self);
  }
  gtk_widget_dispose_template(GTK_WIDGET(self), SHP_TYPE_WINDOW);
  g_clear_object(&self->run);
  g_clear_object(&self->lab);
  g_clear_object(&self->stack);
  g_clear_object(&self->plots);
  g_clear_pointer(&self->target_path, g_free);
  G_OBJECT_CLASS(shp_window_parent_class)->dispose(object);
}

static void shp_window_class_init(ShpWindowClass *klass) {
  GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
  G_OBJECT_CLASS(klass)->dispose = shp_window_dispose;
  g_type_ensure(SHP_TYPE_STACK_VIEW);
  g_type_ensure(SHP_TYPE_PLOT_VIEW);
  g_type_ensure(SHP_TYPE_METRICS_VIEW);
  gtk_widget_class_set_template_from_resource(
      wc, "/org/shaper/ShaperGui/window.ui");
  gtk_widget_class_bind_template_child(wc, ShpWindow, error_revealer);
  gtk_widget_class_bind_template_child(wc, ShpWindow, message_bar);
  gtk_widget_class_bind_template_child(wc, ShpWindow, message_icon);
  gtk_widget_class_bind_template_child(wc, ShpWindow, error_label);
  gtk_widget_class_bind_template_child(wc, ShpWindow, stack_title);
  gtk_widget_class_bind_template_child(wc, ShpWindow, stack_path);
  gtk_widget_class_bind_template_child(wc, ShpWindow, lab_label);
  gtk_widget_class_bind_template_child(wc, ShpWindow, target_label);
  gtk_widget_class_bind_template_child(wc, ShpWindow, status_label);
  gtk_widget_class_bind_template_child(wc, ShpWindow, progress);
  gtk_widget_class_bind_template_child(wc, ShpWindow, run_button);
  gtk_widget_class_bind_template_child(wc, ShpWindow, calibrate_button);
  gtk_widget_class_bind_template_child(wc, ShpWindow, stack_view);
  gtk_widget_class_bind_template_child(wc, ShpWindow, metrics_view);
  gtk_widget_class_bind_template_child(wc, ShpWindow, plot_intensity);
  gtk_widget_class_bind_template_child(wc, ShpWindow, plot_ac);
  gtk_widget_class_bind_template_child(wc, ShpWindow, plot_spectrum);
  gtk_widget_class_bind_template_child(wc, ShpWindow, plot_temperature);
  gtk_widget_class_bind_template_child(wc, ShpWindow, recent_menu);

  gtk_widget_class_install_action(wc, "win.show-error", "s", show_error_action);
  gtk_widget_class_install_action(wc, "win.dismiss-error", NULL,
                                  dismiss_error_action);
  gtk_widget_class_install_action(wc, "win.emergency-stop", NULL,
                                  emergency_stop_action);
  gtk_widget_class_install_action(wc, "win.connect", NULL, connect_action);
  gtk_widget_class_install_action(wc, "win.apply-setpoints", NULL,
                                  apply_setpoints_action);
  gtk_widget_class_install_action(wc, "win.run", NULL, run_action);
  gtk_widget_class_install_action(wc, "win.calibrate", NULL, calibrate_action);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_space, GDK_CONTROL_MASK,
                                      "win.emergency-stop", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_l, GDK_CONTROL_MASK,
                                      "win.connect", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_Return, GDK_CONTROL_MASK,
                                      "win.apply-setpoints", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_F8, 0, "win.run", NULL);
  shp_window_files_class_init(wc);
  shp_window_tasks_class_init(wc);
}

static void shp_window_init(ShpWindow *self) {
  gtk_widget_init_template(GTK_WIDGET(self));
  self->stack = shp_stack_model_new();
  self->plots = shp_plot_model_new();
  self->lab = shp_lab_state_new();
  self->run = shp_run_controller_new(self->lab);
  /* For tests, which drive the run through the window's actions. */
  g_object_set_data(G_OBJECT(self), "run-controller", self->run);
  shp_stack_view_set_model(self->stack_view, self->stack);
  shp_metrics_view_set_model(self->metrics_view, self->plots);
  ShpPlotView *views[] = {self->plot_intensity, self->plot_ac,
                          self->plot_spectrum, self->plot_temperature};
  for (size_t k = 0; k < G_N_ELEMENTS(views); k++)
    shp_plot_view_set_model(views[k], self->plots);
  g_signal_connect(self->stack, "changed", G_CALLBACK(on_stack_changed), self);
  g_signal_connect(self->lab, "polled", G_CALLBACK(on_lab_polled), self);
  g_signal_connect(self->lab, "fault", G_CALLBACK(on_lab_fault), self);
  g_signal_connect(self->lab, "notify", G_CALLBACK(on_lab_notify), self);
  g_signal_connect(self->run, "progress", G_CALLBACK(on_run_progress), self);
  g_signal_connect(self->run, "finished", G_CALLBACK(on_run_finished), self);
  g_signal_connect(self->run, "measured", G_CALLBACK(on_run_measured), self);
  g_signal_connect(self->run, "notify::running", G_CALLBACK(on_run_notify),
                   self);
  shp_window_refresh_recent(self);
  shp_window_update_labels(self);
  shp_window_update_actions(self);
}

ShpWindow *shp_window_new(GtkApplication *app, guint poll_ms) {
  ShpWindow *self = g_object_new(SHP_TYPE_WINDOW, "application", app, NULL);
  shp_lab_state_set_poll_interval(self->lab, poll_ms);
  return self;
}

ShpStackModel *shp_window_get_stack_model(ShpWindow *self) {
  return self->stack;
}
ShpPlotModel *shp_window_get_plot_model(ShpWindow *self) { return self->plots; }
ShpLabState *shp_window_get_lab_state(ShpWindow *self) { return self->lab; }
const char *shp_window_get_target_path(ShpWindow *self) {
  return self->target_path;
}
guint shp_window_get_pending_tasks(ShpWindow *self) { return self->pending; }
GtkWidget *shp_window_get_stack_view(ShpWindow *self) {
  return GTK_WIDGET(self->stack_view);
}
GtkWidget *shp_window_get_run_button(ShpWindow *self) {
  return GTK_WIDGET(self->run_button);
}
GtkWidget *shp_window_get_calibrate_button(ShpWindow *self) {
  return GTK_WIDGET(self->calibrate_button);
}
GtkWidget *shp_window_get_metrics_view(ShpWindow *self) {
  return GTK_WIDGET(self->metrics_view);
}

GtkWidget *shp_window_get_plot_view(ShpWindow *self, ShpPlotKind kind) {
  ShpPlotView *views[] = {self->plot_intensity, self->plot_ac,
                          self->plot_spectrum, self->plot_temperature};
  return kind < SHP_PLOT_KIND_COUNT ? GTK_WIDGET(views[kind]) : NULL;
}
