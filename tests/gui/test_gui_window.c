/* The main window on a display (Xvfb, cairo renderer): it opens with the
 * example stack on the simulated lab, loading another stack fills the
 * rows, simulate updates the plot model, the emergency stop holds every
 * oven through the supervisor, a device fault shows in the window with the
 * ovens holding, and the window renders with its plots where they belong. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "application.h"
#include "gui-test.h"
#include "metrics-view.h"
#include "plot-view.h"
#include "run-controller.h"
#include "stack-view.h"
#include "window.h"

#include "shp/calibration.h"
#include "shp/error.h"

#include <glib/gstdio.h>

#define EXAMPLE(rel) SHP_SOURCE_DATADIR "/examples/" rel
#define DATA(rel) SHP_TEST_DATADIR "/" rel

static gboolean idle_window(gpointer data) {
  ShpWindow *win = data;
  return shp_window_get_pending_tasks(win) == 0 &&
         !shp_lab_state_is_busy(shp_window_get_lab_state(win));
}

/* A window with the example set, every task it started done. */
static ShpWindow *open_window(void) {
  ShpWindow *win = shp_window_new(NULL, 0);
  shp_window_open_defaults(win);
  gtk_window_present(GTK_WINDOW(win));
  if (!gui_test_wait(idle_window, win, 20))
    fail_msg("the window's tasks did not finish");
  return win;
}

static gboolean window_gone(gpointer data) { return *(gpointer *)data == NULL; }

static void close_window(ShpWindow *win) {
  gpointer alive = win;
  g_object_add_weak_pointer(G_OBJECT(win), &alive);
  gtk_window_destroy(GTK_WINDOW(win));
  gui_test_wait(window_gone, &alive, 10);
  if (alive != NULL)
    g_object_remove_weak_pointer(G_OBJECT(win), &alive);
}

static void test_window_opens_with_example_stack(void **state) {
  ShpWindow *win = open_window();
  ShpStackModel *stack = shp_window_get_stack_model(win);
  assert_string_equal(shp_stack_model_get_name(stack),
                      "fan-type Solc shaper, 4 alpha-BBO plates of 2.465 mm");
  assert_int_equal(shp_stack_view_get_row_count(
                       SHP_STACK_VIEW(shp_window_get_stack_view(win))),
                   4);
  ShpLabState *lab = shp_window_get_lab_state(win);
  assert_true(shp_lab_state_is_connected(lab));
  assert_true(shp_lab_state_is_simulated(lab));
  assert_null(shp_lab_state_get_lab(lab)->path); /* the built-in sim lab */
  assert_non_null(strstr(shp_window_get_target_path(win), "flat-top-4ps"));
  /* Live at once: simulated against the target, measured, ovens read. */
  ShpPlotModel *plots = shp_window_get_plot_model(win);
  assert_non_null(shp_plot_model_get_simulation(plots));
  assert_true(shp_plot_model_get_metrics(plots)->has_error);
  assert_true(shp_plot_model_get_measured_count(plots) > 100);
  assert_true(shp_plot_model_get_history_count(plots) >= 1);
  ShpCrystalRow *row =
      g_list_model_get_item(shp_stack_model_get_rows(stack), 0);
  assert_near(shp_crystal_row_get_actual_c(row), 66.7432, 0.2);
  g_object_unref(row);
  assert_null(shp_window_get_error(win));
  /* Run and Calibrate are ready, and the button says what it does. */
  assert_true(gtk_widget_is_sensitive(shp_window_get_run_button(win)));
  GtkWidget *cal = shp_window_get_calibrate_button(win);
  assert_true(gtk_widget_is_sensitive(cal));
  assert_null(strstr(gtk_widget_get_tooltip_text(cal), "Not available"));
  assert_non_null(strstr(gtk_widget_get_tooltip_text(cal), "Calibrate"));
  close_window(win);
}

static void test_loading_stack_fills_rows(void **state) {
  ShpWindow *win = open_window();
  ShpStackView *view = SHP_STACK_VIEW(shp_window_get_stack_view(win));
  GError *error = NULL;
  assert_true(
      shp_window_open_file(win, EXAMPLE("stacks/double-pass2.yml"), &error));
  assert_true(gui_test_wait(idle_window, win, 20));
  assert_int_equal(shp_stack_view_get_row_count(view), 2);
  assert_int_equal(shp_lab_state_get_oven_count(shp_window_get_lab_state(win)),
                   2);
  assert_true(shp_window_open_file(win, EXAMPLE("stacks/fs-stacker-800nm.yml"),
                                   &error));
  assert_true(gui_test_wait(idle_window, win, 20));
  assert_int_equal(shp_stack_view_get_row_count(view), 3);
  ShpCrystalRow *row = g_list_model_get_item(
      shp_stack_model_get_rows(shp_window_get_stack_model(win)), 2);
  assert_int_equal(shp_crystal_row_get_index(row), 2);
  g_object_unref(row);

  /* A bad file: the message shapectl prints, in the window; rows kept. */
  const char *bad = DATA("stacks/bad-unknown-crystal-key.yml");
  assert_null(shp_stack_load(bad));
  char *want = g_strdup(shp_error_detail());
  assert_false(shp_window_open_file(win, bad, &error));
  assert_string_equal(error->message, want);
  assert_string_equal(shp_window_get_error(win), want);
  g_clear_error(&error);
  g_free(want);
  assert_int_equal(shp_stack_view_get_row_count(view), 3);
  close_window(win);
}

static void test_simulate_updates_plot_model(void **state) {
  ShpWindow *win = open_window();
  ShpPlotModel *plots = shp_window_get_plot_model(win);
  const shp_simulation *before = shp_plot_model_get_simulation(plots);
  size_t n = before->n;
  double *old = g_memdup2(before->intensity, n * sizeof(double));
  double old_error = before->metrics.error;
  ShpMetricsView *mv = SHP_METRICS_VIEW(shp_window_get_metrics_view(win));
  char *old_text = g_strdup(shp_metrics_view_get_text(mv, "error"));

  /* Detune a plate through the stack model, then Simulate (F5). */
  GError *error = NULL;
  assert_true(shp_stack_model_set_value(shp_window_get_stack_model(win), 1,
                                        SHP_FIELD_TEMPERATURE_C, 70.0, &error));
  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.simulate", NULL));
  assert_true(gui_test_wait(idle_window, win, 20));
  const shp_simulation *after = shp_plot_model_get_simulation(plots);
  assert_ptr_not_equal(after, before);
  assert_int_equal(after->n, n);
  double diff = 0;
  for (size_t j = 0; j < n; j++)
    diff = fmax(diff, fabs(after->intensity[j] - old[j]));
  assert_true(diff > 1e-3);
  assert_true(fabs(after->metrics.error - old_error) > 1e-3);
  assert_string_not_equal(shp_metrics_view_get_text(mv, "error"), old_text);
  g_free(old);
  g_free(old_text);
  close_window(win);
}

static GdkTexture *render(ShpWindow *win, const char *name);

/* Some main-loop turns: the error bar slides in, a frame is drawn. */
static gboolean turns(gpointer data) { return ++*(int *)data >= 40; }

typedef struct {
  guint holds_ok, faults;
} hold_count;

static void on_event(ShpLabState *lab, guint kind, int crystal, int code,
                     const char *message, gpointer data) {
  hold_count *h = data;
  h->holds_ok += kind == SHP_SUP_HOLD && code == SHP_OK;
  h->faults += kind == SHP_SUP_FAULT;
}

static void test_emergency_stop_holds_every_oven(void **state) {
  ShpWindow *win = open_window();
  ShpLabState *lab = shp_window_get_lab_state(win);
  ShpStackModel *stack = shp_window_get_stack_model(win);
  hold_count h = {0};
  g_signal_connect(lab, "event", G_CALLBACK(on_event), &h);
  /* Ovens on their way to new setpoints. */
  for (guint i = 0; i < 4; i++)
    assert_true(shp_stack_model_set_value(stack, i, SHP_FIELD_TEMPERATURE_C,
                                          75.0, NULL));
  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.apply-setpoints", NULL));
  assert_null(shp_window_get_error(win));
  assert_true(shp_lab_state_get_status(lab, 0)->ramping);

  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.emergency-stop", NULL));
  const shp_sup_fault *f = shp_lab_state_get_fault(lab);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_CANCELLED);
  assert_int_equal(h.faults, 1);
  assert_int_equal(h.holds_ok, 4);
  for (guint i = 0; i < 4; i++) {
    const shp_oven_status *st = shp_lab_state_get_status(lab, i);
    assert_false(st->ramping);
    ShpCrystalRow *row =
        g_list_model_get_item(shp_stack_model_get_rows(stack), i);
    assert_string_equal(shp_crystal_row_get_settle_text(row), "holding");
    g_object_unref(row);
  }
  double held = shp_lab_state_get_status(lab, 0)->reading.setpoint_c;
  assert_true(held < 75.0);
  assert_non_null(strstr(shp_window_get_error(win),
                         "every oven is holding its last setpoint"));
  int n = 0;
  gui_test_wait(turns, &n, 2);
  g_object_unref(render(win, "shaper-gui-stopped.png"));
  /* Later readings: the setpoint stays where it was held. */
  g_usleep(200000);
  assert_true(shp_lab_state_poll(lab));
  assert_near(shp_lab_state_get_status(lab, 0)->reading.setpoint_c, held, 0);
  /* Applying setpoints now is refused: nothing reaches the ovens. */
  gtk_widget_activate_action(GTK_WIDGET(win), "win.apply-setpoints", NULL);
  assert_true(shp_lab_state_poll(lab));
  assert_near(shp_lab_state_get_status(lab, 0)->reading.setpoint_c, held, 0);
  assert_non_null(shp_lab_state_get_fault(lab));
  close_window(win);
}

static void test_device_fault_shows_and_ovens_hold(void **state) {
  ShpWindow *win = open_window();
  /* The example lab with crystal 1's oven disconnecting at once. */
  char *text = NULL;
  assert_true(
      g_file_get_contents(EXAMPLE("labs/sim-fan4.yml"), &text, NULL, NULL));
  char *lab_text = g_strdup_printf(
      "%s  faults: [{kind: disconnect, at_s: 0.0, crystal: 1}]\n", text);
  char *dir = g_dir_make_tmp("shp-gui-XXXXXX", NULL);
  char *path = g_build_filename(dir, "lab.yml", NULL);
  char **parts = g_strsplit(lab_text, "../stacks/fan4.yml", 2);
  char *fixed = g_strjoinv(EXAMPLE("stacks/fan4.yml"), parts);
  g_strfreev(parts);
  assert_true(g_file_set_contents(path, fixed, -1, NULL));
  GError *error = NULL;
  shp_window_open_file(win, path, &error);
  g_clear_error(&error);
  gui_test_wait(idle_window, win, 20);
  ShpLabState *lab = shp_window_get_lab_state(win);
  shp_lab_state_poll(lab);
  const shp_sup_fault *f = shp_lab_state_get_fault(lab);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_DISCONNECTED);
  assert_int_equal(f->crystal, 1);
  const char *shown = shp_window_get_error(win);
  assert_non_null(shown);
  assert_non_null(strstr(shown, "crystal 1"));
  assert_non_null(strstr(shown, "hold"));
  ShpCrystalRow *row = g_list_model_get_item(
      shp_stack_model_get_rows(shp_window_get_stack_model(win)), 1);
  assert_non_null(shp_crystal_row_get_fault(row));
  assert_string_equal(shp_crystal_row_get_settle_text(row), "holding");
  g_object_unref(row);
  g_unlink(path);
  g_rmdir(dir);
  g_free(path);
  g_free(dir);
  g_free(fixed);
  g_free(lab_text);
  g_free(text);
  close_window(win);
}

/* ---- the closed loop ----------------------------------------------------- */

typedef struct {
  guint progress, measured, finished;
  int code;
  double fraction;
} run_log;

static void on_run_progress(ShpRunController *r, double fraction,
                            const char *message, gpointer data) {
  run_log *l = data;
  l->progress++;
  l->fraction = fraction;
}
static void on_run_measured(ShpRunController *r, gpointer trace,
                            gpointer data) {
  ((run_log *)data)->measured++;
}
static void on_run_finished(ShpRunController *r, int code, const char *msg,
                            gpointer data) {
  run_log *l = data;
  l->finished++;
  l->code = code;
}
static gboolean run_measured(gpointer data) {
  return ((run_log *)data)->measured > 0;
}
static gboolean run_finished(gpointer data) {
  return ((run_log *)data)->finished > 0;
}

static void test_run_starts_shows_progress_and_stops(void **state) {
  ShpWindow *win = open_window();
  ShpLabState *lab = shp_window_get_lab_state(win);
  ShpPlotModel *plots = shp_window_get_plot_model(win);
  GtkButton *button = GTK_BUTTON(shp_window_get_run_button(win));
  ShpRunController *run = g_object_get_data(G_OBJECT(win), "run-controller");
  assert_non_null(run);
  run_log log = {0};
  g_signal_connect(run, "progress", G_CALLBACK(on_run_progress), &log);
  g_signal_connect(run, "measured", G_CALLBACK(on_run_measured), &log);
  g_signal_connect(run, "finished", G_CALLBACK(on_run_finished), &log);
  shp_plot_model_set_measured(plots, NULL, NULL, 0);
  /* A target its stack can reach, on the built-in simulated lab with its
   * hidden errors, so the run has work to do (the loop stops a target out
   * of reach, such as the default one on the fan, before any move). */
  assert_true(shp_window_open_file(
      win, EXAMPLE("stacks/design-flat-top-5ps.yml"), NULL));
  assert_true(gui_test_wait(idle_window, win, 20));
  assert_true(
      shp_window_open_file(win, EXAMPLE("targets/flat-top-5ps.yml"), NULL));
  assert_true(gui_test_wait(idle_window, win, 20));

  assert_true(gtk_widget_activate_action(GTK_WIDGET(win), "win.run", NULL));
  assert_true(shp_run_controller_is_running(run));
  assert_true(shp_lab_state_is_busy(lab));
  assert_string_equal(gtk_button_get_label(button), "_Stop Run");
  /* The supervisor belongs to the run: the window does not poll it. */
  assert_false(shp_lab_state_poll(lab));
  assert_true(gui_test_wait(run_measured, &log, 30));
  assert_true(log.progress >= 1);
  assert_true(shp_plot_model_get_measured_count(plots) > 100);
  assert_non_null(strstr(shp_window_get_status(win), "error"));

  /* Stop: the run ends cancelled, every oven holding. */
  assert_true(gtk_widget_activate_action(GTK_WIDGET(win), "win.run", NULL));
  assert_true(gui_test_wait(run_finished, &log, 30));
  assert_int_equal(log.code, SHP_ERR_CANCELLED);
  assert_true(gui_test_wait(idle_window, win, 10));
  assert_false(shp_run_controller_is_running(run));
  assert_string_equal(gtk_button_get_label(button), "_Run");
  const shp_sup_fault *f = shp_lab_state_get_fault(lab);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_CANCELLED);
  ShpCrystalRow *row = g_list_model_get_item(
      shp_stack_model_get_rows(shp_window_get_stack_model(win)), 3);
  assert_string_equal(shp_crystal_row_get_settle_text(row), "holding");
  g_object_unref(row);
  assert_non_null(strstr(shp_window_get_error(win), "every oven is holding"));
  /* The run's journal is there to save. */
  const char *journal = shp_run_controller_get_journal_path(run);
  assert_non_null(journal);
  assert_true(g_file_test(journal, G_FILE_TEST_EXISTS));
  close_window(win);
}

/* ---- calibration --------------------------------------------------------- */

static gboolean lab_idle(gpointer data) {
  return !shp_lab_state_is_busy(shp_window_get_lab_state(data));
}

/* Calibrate (on the example lab with a manual clock, so that its 40 oven
 * moves take no real time) runs to the end: the ovens are back and
 * settled, not holding, the window says where the file went as news (no
 * error), and the shown stack takes the measured phases, which Simulate
 * then uses. */
static void test_calibrate_runs_to_completion(void **state) {
  ShpWindow *win = open_window();
  char *tmp = g_dir_make_tmp("shp-gui-XXXXXX", NULL);
  char *lab_path =
      gui_test_write_manual_time_lab(tmp, EXAMPLE("stacks/fan4.yml"), 4);
  assert_non_null(lab_path);
  GError *error = NULL;
  if (!shp_window_open_file(win, lab_path, &error))
    fail_msg("%s", error->message);
  assert_true(gui_test_wait(idle_window, win, 20));
  ShpLabState *lab = shp_window_get_lab_state(win);
  ShpStackModel *stack = shp_window_get_stack_model(win);
  ShpPlotModel *plots = shp_window_get_plot_model(win);
  ShpRunController *run = g_object_get_data(G_OBJECT(win), "run-controller");
  GtkWidget *button = shp_window_get_calibrate_button(win);
  assert_true(gtk_widget_is_sensitive(button));
  const shp_simulation *before = shp_plot_model_get_simulation(plots);
  size_t n = before->n;
  double *old = g_memdup2(before->intensity, n * sizeof(double));
  run_log log = {0};
  g_signal_connect(run, "progress", G_CALLBACK(on_run_progress), &log);
  g_signal_connect(run, "measured", G_CALLBACK(on_run_measured), &log);
  g_signal_connect(run, "finished", G_CALLBACK(on_run_finished), &log);

  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.calibrate", NULL));
  assert_true(shp_run_controller_is_running(run));
  assert_false(gtk_widget_is_sensitive(button));
  assert_string_equal(
      gtk_button_get_label(GTK_BUTTON(shp_window_get_run_button(win))),
      "_Stop Calibration");
  assert_true(gui_test_wait(run_finished, &log, 40));
  if (log.code != SHP_OK)
    fail_msg("calibration ended with %d: %s", log.code,
             shp_window_get_status(win));
  assert_true(gui_test_wait(idle_window, win, 20));
  assert_int_equal(log.measured, 1 + 9 * 4);
  assert_near(log.fraction, 1.0, 0);

  /* Back where they were, settled, nothing latched. */
  assert_null(shp_lab_state_get_fault(lab));
  for (guint i = 0; i < 4; i++) {
    const shp_oven_status *st = shp_lab_state_get_status(lab, i);
    assert_near(st->target_c, 66.7432, 1e-9);
    ShpCrystalRow *row =
        g_list_model_get_item(shp_stack_model_get_rows(stack), i);
    assert_string_equal(shp_crystal_row_get_settle_text(row), "settled");
    assert_null(shp_crystal_row_get_fault(row));
    g_object_unref(row);
  }
  assert_true(gtk_widget_is_sensitive(button));

  /* Said as news that stays (the status line is the new simulation's),
   * with the file and the fit's residual. */
  const char *path = shp_run_controller_get_calibration_path(run);
  assert_non_null(path);
  assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
  assert_null(shp_window_get_error(win));
  const char *info = shp_window_get_info(win);
  assert_non_null(info);
  assert_true(g_str_has_prefix(info, "Calibration done: "));
  assert_non_null(strstr(info, path));
  assert_non_null(strstr(info, "residual"));
  assert_non_null(strstr(info, "the stack's phases now come from it"));

  /* The shown stack has the file's phases, as the library puts them. */
  shp_calibration *cal = shp_calibration_load(path);
  assert_non_null(cal);
  shp_stack *want = shp_stack_load(EXAMPLE("stacks/fan4.yml"));
  assert_int_equal(shp_calibration_apply(cal, want), SHP_OK);
  const shp_stack *shown = shp_stack_model_get_stack(stack);
  for (size_t i = 0; i < 4; i++) {
    assert_true(shown->crystals[i].has_phase_offset);
    assert_near(shown->crystals[i].phase_offset_rad,
                want->crystals[i].phase_offset_rad, 1e-6);
    assert_near(shown->crystals[i].slope_correction_rad_per_k,
                want->crystals[i].slope_correction_rad_per_k, 1e-9);
  }
  assert_true(shp_stack_model_is_modified(stack));
  /* Simulated again with them: the output moved. */
  const shp_simulation *after = shp_plot_model_get_simulation(plots);
  assert_ptr_not_equal(after, before);
  assert_int_equal(after->n, n);
  double diff = 0;
  for (size_t j = 0; j < n; j++)
    diff = fmax(diff, fabs(after->intensity[j] - old[j]));
  assert_true(diff > 1e-3);

  g_unlink(path);
  shp_stack_free(want);
  shp_calibration_free(cal);
  g_free(old);
  g_unlink(lab_path);
  g_rmdir(tmp);
  g_free(lab_path);
  g_free(tmp);
  close_window(win);
}

/* Emergency Stop while the built-in lab is calibrating (in real time: its
 * first oven move takes a while): the calibration ends cancelled, nothing
 * is saved, and every row shows its oven holding. */
static void test_emergency_stop_during_calibration_holds(void **state) {
  ShpWindow *win = open_window();
  ShpLabState *lab = shp_window_get_lab_state(win);
  ShpRunController *run = g_object_get_data(G_OBJECT(win), "run-controller");
  run_log log = {0};
  g_signal_connect(run, "progress", G_CALLBACK(on_run_progress), &log);
  g_signal_connect(run, "measured", G_CALLBACK(on_run_measured), &log);
  g_signal_connect(run, "finished", G_CALLBACK(on_run_finished), &log);
  hold_count h = {0};
  g_signal_connect(lab, "event", G_CALLBACK(on_event), &h);

  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.calibrate", NULL));
  assert_true(gui_test_wait(run_measured, &log, 30));
  assert_true(shp_run_controller_is_running(run));
  assert_true(
      gtk_widget_activate_action(GTK_WIDGET(win), "win.emergency-stop", NULL));
  assert_true(gui_test_wait(run_finished, &log, 30));
  assert_int_equal(log.code, SHP_ERR_CANCELLED);
  assert_true(log.measured < 1 + 9 * 4);
  assert_true(gui_test_wait(lab_idle, win, 10));
  assert_false(shp_run_controller_is_running(run));
  assert_null(shp_run_controller_get_calibration(run));

  const shp_sup_fault *f = shp_lab_state_get_fault(lab);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_CANCELLED);
  assert_int_equal(h.faults, 1);
  assert_true(h.holds_ok >= 4);
  ShpStackModel *stack = shp_window_get_stack_model(win);
  for (guint i = 0; i < 4; i++) {
    ShpCrystalRow *row =
        g_list_model_get_item(shp_stack_model_get_rows(stack), i);
    assert_string_equal(shp_crystal_row_get_settle_text(row), "holding");
    g_object_unref(row);
  }
  assert_non_null(strstr(shp_window_get_error(win), "every oven is holding"));
  assert_null(shp_window_get_info(win));
  assert_true(
      g_str_has_prefix(shp_window_get_status(win), "Calibration ended: "));
  /* Nothing more reaches the ovens: Calibrate waits for a new connection. */
  assert_false(gtk_widget_is_sensitive(shp_window_get_calibrate_button(win)));
  close_window(win);
}

/* ---- rendering ----------------------------------------------------------- */

static gboolean drawn(gpointer data) {
  ShpWindow *win = data;
  for (int k = 0; k < SHP_PLOT_KIND_COUNT; k++)
    if (shp_plot_view_get_draw_count(
            SHP_PLOT_VIEW(shp_window_get_plot_view(win, (ShpPlotKind)k))) == 0)
      return FALSE;
  return TRUE;
}

/* Variance of the grey level inside a rectangle of an RGBA image. */
static double variance(const guchar *px, int stride, int x0, int y0, int w,
                       int h) {
  double sum = 0, sum2 = 0;
  for (int y = y0; y < y0 + h; y++)
    for (int x = x0; x < x0 + w; x++) {
      const guchar *p = px + (size_t)y * stride + 4 * (size_t)x;
      double g = (p[0] + p[1] + p[2]) / 3.0;
      sum += g;
      sum2 += g * g;
    }
  double n = (double)w * h;
  return sum2 / n - (sum / n) * (sum / n);
}

/* The window as the screen shows it, also written to name in the build
 * directory for people to look at. */
static GdkTexture *render(ShpWindow *win, const char *name) {
  GtkWidget *w = GTK_WIDGET(win);
  int width = gtk_widget_get_width(w), height = gtk_widget_get_height(w);
  assert_true(width > 800 && height > 500);
  GdkPaintable *paintable = gtk_widget_paintable_new(w);
  GtkSnapshot *snap = gtk_snapshot_new();
  gdk_paintable_snapshot(paintable, snap, width, height);
  GskRenderNode *node = gtk_snapshot_free_to_node(snap);
  assert_non_null(node);
  GskRenderer *renderer = gtk_native_get_renderer(GTK_NATIVE(win));
  GdkTexture *tex = gsk_renderer_render_texture(
      renderer, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
  char *png = g_build_filename(SHP_GUI_TEST_OUTDIR, name, NULL);
  assert_true(gdk_texture_save_to_png(tex, png));
  g_free(png);
  gsk_render_node_unref(node);
  g_object_unref(paintable);
  return tex;
}

static void test_window_renders_plots(void **state) {
  ShpWindow *win = open_window();
  /* A few more readings for the temperature plot. */
  for (int k = 0; k < 5; k++) {
    g_usleep(50000);
    shp_lab_state_poll(shp_window_get_lab_state(win));
  }
  assert_true(gui_test_wait(drawn, win, 10));
  GtkWidget *w = GTK_WIDGET(win);
  GdkTexture *tex = render(win, "shaper-gui-window.png");
  int tw = gdk_texture_get_width(tex), th = gdk_texture_get_height(tex);
  guchar *px = g_malloc((size_t)tw * th * 4);
  gdk_texture_download(tex, px, (size_t)tw * 4);
  /* Not blank: the window as a whole varies. */
  assert_true(variance(px, tw * 4, 0, 0, tw, th) > 100);
  /* Each plot is drawn where its view is: curves, axes and text vary the
   * grey level inside its bounds, and the plots sit to the right of the
   * stack table. */
  graphene_rect_t table;
  assert_true(
      gtk_widget_compute_bounds(shp_window_get_stack_view(win), w, &table));
  for (int k = 0; k < SHP_PLOT_KIND_COUNT; k++) {
    graphene_rect_t r;
    assert_true(gtk_widget_compute_bounds(
        shp_window_get_plot_view(win, (ShpPlotKind)k), w, &r));
    assert_true(r.origin.x >= table.origin.x + table.size.width);
    assert_true(r.size.width > 200 && r.size.height > 150);
    int x0 = (int)r.origin.x + 2, y0 = (int)r.origin.y + 2;
    int rw = (int)r.size.width - 4, rh = (int)r.size.height - 4;
    assert_true(x0 >= 0 && y0 >= 0 && x0 + rw <= tw && y0 + rh <= th);
    double v = variance(px, tw * 4, x0, y0, rw, rh);
    if (!(v > 50))
      fail_msg("plot %d at %g,%g: grey-level variance %g", k, r.origin.x,
               r.origin.y, v);
  }
  g_free(px);
  g_object_unref(tex);
  close_window(win);
}

/* Under SHP_TEST_LOCALE the whole suite runs in that locale (a German
 * desktop writes "4,0"): gtk_init takes it from LC_ALL. A locale that is
 * missing would make that run prove nothing, so it fails instead. */
static bool locale_is_in_force(void) {
  const char *want = getenv("SHP_TEST_LOCALE");
  if (want == NULL)
    return true;
  const char *got = setlocale(LC_NUMERIC, NULL);
  char four[16];
  snprintf(four, sizeof four, "%.1f", 4.0);
  if (got == NULL || strcmp(got, want) != 0 || strcmp(four, "4,0") != 0) {
    fprintf(stderr, "the locale %s is not in force (got %s, 4.0 prints %s)\n",
            want, got ? got : "none", four);
    return false;
  }
  return true;
}

int main(void) {
  gtk_init();
  if (!locale_is_in_force())
    return 1;
  shp_gui_resources_register();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_opens_with_example_stack),
      cmocka_unit_test(test_loading_stack_fills_rows),
      cmocka_unit_test(test_simulate_updates_plot_model),
      cmocka_unit_test(test_emergency_stop_holds_every_oven),
      cmocka_unit_test(test_device_fault_shows_and_ovens_hold),
      cmocka_unit_test(test_run_starts_shows_progress_and_stops),
      cmocka_unit_test(test_calibrate_runs_to_completion),
      cmocka_unit_test(test_emergency_stop_during_calibration_holds),
      cmocka_unit_test(test_window_renders_plots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
