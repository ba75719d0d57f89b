/* The GUI's models without a display: the stack model reads and edits a
 * stack as the stack reader does, the plot model prepares the figures of a
 * simulation, the lab state polls and stops the simulated lab through the
 * supervisor, and the background tasks return what the CLI computes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gui-test.h"
#include "gui-util.h"
#include "lab-state.h"
#include "plot-model.h"
#include "run-controller.h"
#include "stack-model.h"
#include "tasks.h"

#include "shp/calibration.h"
#include "shp/error.h"
#include "shp/problem.h"

#include <glib/gstdio.h>

#define EXAMPLE(rel) SHP_SOURCE_DATADIR "/examples/" rel
#define DATA(rel) SHP_TEST_DATADIR "/" rel

static ShpCrystalRow *row_at(ShpStackModel *m, guint i) {
  ShpCrystalRow *row = g_list_model_get_item(shp_stack_model_get_rows(m), i);
  g_object_unref(row); /* the model keeps it */
  return row;
}

static void test_stack_model_fills_rows_from_file(void **state) {
  ShpStackModel *m = shp_stack_model_new();
  GError *error = NULL;
  assert_true(shp_stack_model_load(m, EXAMPLE("stacks/fan4.yml"), &error));
  assert_int_equal(shp_stack_model_get_count(m), 4);
  assert_int_equal(g_list_model_get_n_items(shp_stack_model_get_rows(m)), 4);
  static const double az[] = {11.25, 33.75, 56.25, 78.75};
  for (guint i = 0; i < 4; i++) {
    ShpCrystalRow *row = row_at(m, i);
    assert_int_equal(shp_crystal_row_get_index(row), i);
    assert_string_equal(shp_crystal_row_get_material(row), "alpha-BBO");
    assert_near(shp_crystal_row_get_length_mm(row), 2.465, 0);
    assert_near(shp_crystal_row_get_azimuth_deg(row), az[i], 0);
    assert_near(shp_crystal_row_get_setpoint_c(row), 66.7432, 0);
    assert_true(isnan(shp_crystal_row_get_actual_c(row)));
  }
  assert_true(
      shp_stack_model_load(m, EXAMPLE("stacks/double-pass2.yml"), &error));
  assert_int_equal(g_list_model_get_n_items(shp_stack_model_get_rows(m)), 2);

  /* A bad file: the reader's message, word for word, and nothing lost. */
  const char *bad = DATA("stacks/bad-negative-length.yml");
  shp_stack *direct = shp_stack_load(bad);
  assert_null(direct);
  char *want = g_strdup(shp_error_detail());
  assert_false(shp_stack_model_load(m, bad, &error));
  assert_string_equal(error->message, want);
  assert_non_null(strstr(want, "length_mm: must be > 0"));
  g_clear_error(&error);
  g_free(want);
  assert_int_equal(shp_stack_model_get_count(m), 2);
  g_object_unref(m);
}

static void count_stack_changes(ShpStackModel *m, gpointer data) {
  (*(int *)data)++;
}

static void test_stack_model_checks_edits_as_the_reader(void **state) {
  ShpStackModel *m = shp_stack_model_new();
  GError *error = NULL;
  assert_true(shp_stack_model_load(m, EXAMPLE("stacks/fan4.yml"), NULL));
  int changes = 0;
  g_signal_connect(m, "changed", G_CALLBACK(count_stack_changes), &changes);

  assert_false(
      shp_stack_model_set_text(m, 1, SHP_FIELD_LENGTH_MM, "abc", &error));
  assert_string_equal(error->message,
                      "crystals[1].length_mm: expected a number, got \"abc\"");
  g_clear_error(&error);
  assert_false(
      shp_stack_model_set_value(m, 1, SHP_FIELD_LENGTH_MM, -3, &error));
  assert_string_equal(error->message,
                      "crystals[1].length_mm: must be > 0, got -3");
  g_clear_error(&error);
  assert_false(
      shp_stack_model_set_text(m, 2, SHP_FIELD_TEMPERATURE_C, "-300", &error));
  assert_string_equal(error->message, "crystals[2].temperature_c: must be "
                                      "above absolute zero, got -300");
  g_clear_error(&error);
  assert_false(shp_stack_model_set_material(m, 0, "unobtainium", &error));
  assert_int_equal(error->code, SHP_ERR_NOT_FOUND);
  assert_non_null(strstr(error->message, "crystals[0].material: "));
  g_clear_error(&error);
  assert_int_equal(changes, 0);
  assert_false(shp_stack_model_is_modified(m));
  assert_near(shp_crystal_row_get_length_mm(row_at(m, 1)), 2.465, 0);

  assert_true(
      shp_stack_model_set_text(m, 1, SHP_FIELD_LENGTH_MM, " 2.5 ", &error));
  assert_true(
      shp_stack_model_set_value(m, 3, SHP_FIELD_AZIMUTH_DEG, 80.0, &error));
  assert_true(shp_stack_model_set_material(m, 2, "YVO4", &error));
  assert_int_equal(changes, 3);
  assert_true(shp_stack_model_is_modified(m));
  assert_near(shp_crystal_row_get_length_mm(row_at(m, 1)), 2.5, 0);
  assert_string_equal(shp_crystal_row_get_material(row_at(m, 2)), "YVO4");

  /* A task's copy carries the edits. */
  shp_stack *copy = shp_stack_model_dup_stack(m, &error);
  assert_non_null(copy);
  assert_int_equal(copy->crystal_count, 4);
  assert_near(copy->crystals[1].length_mm, 2.5, 0);
  assert_near(copy->crystals[3].azimuth_deg, 80.0, 0);
  assert_string_equal(copy->crystals[2].material_name, "YVO4");
  assert_string_equal(
      shp_material_name(copy->crystals[2].material),
      shp_material_name(shp_stack_model_get_stack(m)->crystals[2].material));
  shp_stack_free(copy);
  g_object_unref(m);
}

static void count_changed(ShpPlotModel *m, guint kind, gpointer data) {
  ((guint *)data)[kind]++;
}

static void test_plot_model_prepares_figures(void **state) {
  ShpPlotModel *pm = shp_plot_model_new();
  shp_plot_figure fig;
  for (int k = 0; k < SHP_PLOT_KIND_COUNT; k++)
    assert_false(shp_plot_model_figure(pm, (ShpPlotKind)k, &fig));
  guint changed[SHP_PLOT_KIND_COUNT] = {0};
  g_signal_connect(pm, "changed", G_CALLBACK(count_changed), changed);
  shp_stack *s = shp_stack_load(EXAMPLE("stacks/fan4.yml"));
  shp_target *t = shp_target_load(EXAMPLE("targets/flat-top-4ps.yml"));
  shp_simulation *sim = shp_simulate(s, t, false);
  assert_non_null(sim);
  double transmission = sim->metrics.transmission;
  shp_plot_model_set_simulation(pm, s->name, sim);
  assert_int_equal(changed[SHP_PLOT_INTENSITY], 1);
  assert_int_equal(changed[SHP_PLOT_AUTOCORRELATION], 1);
  assert_int_equal(changed[SHP_PLOT_SPECTRUM], 1);
  assert_int_equal(changed[SHP_PLOT_TEMPERATURE], 0);
  assert_non_null(shp_plot_model_get_metrics(pm));
  assert_near(shp_plot_model_get_metrics(pm)->transmission, transmission, 0);
  assert_true(shp_plot_model_get_metrics(pm)->has_error);

  assert_true(shp_plot_model_figure(pm, SHP_PLOT_INTENSITY, &fig));
  assert_int_equal(fig.panel_count, 1);
  assert_int_equal(fig.panels[0].series_count, 4); /* output, x, y, target */
  assert_ptr_equal(fig.panels[0].series[0].y, sim->intensity);
  /* The target sits where the output is: I(t - s) a ~ T. */
  assert_near(fig.panels[0].series[3].x[0],
              sim->time_ps[0] - sim->metrics.error_shift_ps, 1e-12);
  assert_true(shp_plot_model_figure(pm, SHP_PLOT_AUTOCORRELATION, &fig));
  assert_int_equal(fig.panels[0].series_count, 2);
  assert_int_equal(fig.panels[0].series[0].n, 2 * sim->n);
  assert_true(shp_plot_model_figure(pm, SHP_PLOT_SPECTRUM, &fig));

  /* A measured trace joins the autocorrelation, scaled to a peak of 1. */
  double d[] = {-1, 0, 1}, v[] = {2, 8, 4};
  shp_plot_model_set_measured(pm, d, v, 3);
  assert_true(shp_plot_model_figure(pm, SHP_PLOT_AUTOCORRELATION, &fig));
  assert_int_equal(fig.panels[0].series_count, 3);
  assert_near(fig.panels[0].series[2].y[1], 1.0, 0);
  assert_near(fig.panels[0].series[2].y[0], 0.25, 0);

  /* Temperatures: a line and a dashed setpoint per crystal, at least 1 K
   * of y range. */
  shp_plot_model_reset_history(pm, 2);
  assert_false(shp_plot_model_figure(pm, SHP_PLOT_TEMPERATURE, &fig));
  double a0[] = {40.0, 60.0}, a1[] = {40.1, 60.1}, sp[] = {40.05, 60.05};
  shp_plot_model_add_temperatures(pm, 0.0, a0, sp, 2);
  shp_plot_model_add_temperatures(pm, 120.0, a1, sp, 2);
  assert_true(shp_plot_model_figure(pm, SHP_PLOT_TEMPERATURE, &fig));
  assert_int_equal(fig.panels[0].series_count, 4);
  assert_int_equal(fig.panels[0].series[0].n, 2);
  assert_near(fig.panels[0].series[0].x[1], 2.0, 0); /* minutes */
  assert_near(fig.panels[0].series[2].y[1], 60.1, 0);
  for (size_t k = 0; k < 3 * SHP_PLOT_HISTORY_MAX; k++)
    shp_plot_model_add_temperatures(pm, 240.0 + (double)k, a1, sp, 2);
  assert_true(shp_plot_model_get_history_count(pm) <= SHP_PLOT_HISTORY_MAX);
  const double *ts, *tc;
  size_t count;
  shp_plot_model_get_history(pm, 0, &ts, &tc, &count);
  assert_near(ts[count - 1], 240.0 + 3 * SHP_PLOT_HISTORY_MAX - 1, 0);

  /* Every plot with data in one file, as shapectl --plot writes it. */
  char *png = g_build_filename(g_get_tmp_dir(), "shp-gui-plots.png", NULL);
  GError *error = NULL;
  assert_true(shp_plot_model_save(pm, png, &error));
  GStatBuf st;
  assert_int_equal(g_stat(png, &st), 0);
  assert_true(st.st_size > 10000);
  g_unlink(png);
  g_free(png);
  shp_target_free(t);
  shp_stack_free(s);
  g_object_unref(pm);
}

typedef struct {
  guint faults, holds_ok, holds_failed;
  char *fault_text;
} lab_events;

static void on_event(ShpLabState *lab, guint kind, int crystal, int code,
                     const char *message, gpointer data) {
  lab_events *e = data;
  e->faults += kind == SHP_SUP_FAULT;
  e->holds_ok += kind == SHP_SUP_HOLD && code == SHP_OK;
  e->holds_failed += kind == SHP_SUP_HOLD && code != SHP_OK;
}

static void on_fault(ShpLabState *lab, const char *text, gpointer data) {
  lab_events *e = data;
  g_free(e->fault_text);
  e->fault_text = g_strdup(text);
}

static void test_lab_state_polls_and_stops_through_supervisor(void **state) {
  ShpLabState *lab = shp_lab_state_new();
  lab_events ev = {0};
  g_signal_connect(lab, "event", G_CALLBACK(on_event), &ev);
  g_signal_connect(lab, "fault", G_CALLBACK(on_fault), &ev);
  GError *error = NULL;
  assert_true(shp_lab_state_open(
      lab, shp_lab_default_sim(EXAMPLE("stacks/fan4.yml")), &error));
  assert_true(shp_lab_state_is_connected(lab));
  assert_true(shp_lab_state_is_simulated(lab));
  assert_int_equal(shp_lab_state_get_oven_count(lab), 4);
  double lo, hi;
  assert_true(shp_lab_state_get_limits(lab, &lo, &hi));
  assert_near(lo, 15.0, 0);
  assert_near(hi, 150.0, 0);
  assert_true(shp_lab_state_poll(lab));
  for (guint i = 0; i < 4; i++) {
    const shp_oven_status *st = shp_lab_state_get_status(lab, i);
    assert_non_null(st);
    assert_int_equal(st->code, SHP_OK);
    assert_near(st->reading.actual_c, 66.7432, 0.1);
  }
  /* A refused setpoint names the limits, as `shapectl hw set` does. */
  double bad[] = {70, 70, 200, 70};
  assert_false(shp_lab_state_request(lab, bad, 4, &error));
  assert_string_equal(error->message, "crystal 2: setpoint 200 C refused: "
                                      "outside the limits 15 to 150 C");
  g_clear_error(&error);
  assert_null(shp_lab_state_get_fault(lab));
  double sp[] = {70, 70, 70, 70};
  assert_true(shp_lab_state_request(lab, sp, 4, &error));
  assert_true(shp_lab_state_poll(lab));
  assert_true(shp_lab_state_get_status(lab, 0)->ramping);

  assert_true(shp_lab_state_emergency_stop(lab, "emergency stop"));
  const shp_sup_fault *f = shp_lab_state_get_fault(lab);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_CANCELLED);
  assert_string_equal(f->message, "emergency stop");
  assert_int_equal(ev.faults, 1);
  assert_int_equal(ev.holds_ok, 4);
  assert_int_equal(ev.holds_failed, 0);
  assert_string_equal(ev.fault_text, "emergency stop; every oven is holding "
                                     "its last setpoint");
  assert_false(shp_lab_state_get_status(lab, 0)->ramping);
  assert_false(shp_lab_state_request(lab, sp, 4, &error));
  assert_int_equal(error->code, SHP_ERR_SAFETY);
  g_clear_error(&error);

  /* Connecting again clears the stop. */
  assert_true(shp_lab_state_connect(lab, &error));
  assert_null(shp_lab_state_get_fault(lab));
  assert_null(shp_lab_state_get_fault_text(lab));
  assert_true(shp_lab_state_request(lab, sp, 4, &error));
  g_free(ev.fault_text);
  g_object_unref(lab);
}

static gboolean task_done(gpointer data) { return *(gpointer *)data != NULL; }

static void store_result(GObject *src, GAsyncResult *res, gpointer data) {
  *(GAsyncResult **)data = g_object_ref(res);
}

static void test_lab_state_acquires_on_a_worker(void **state) {
  ShpLabState *lab = shp_lab_state_new();
  assert_true(shp_lab_state_open(
      lab, shp_lab_default_sim(EXAMPLE("stacks/fan4.yml")), NULL));
  GAsyncResult *res = NULL;
  shp_lab_state_acquire_async(lab, NULL, store_result, &res);
  assert_true(shp_lab_state_is_busy(lab));
  /* The supervisor belongs to the task: no polling, no second task. */
  assert_false(shp_lab_state_poll(lab));
  GAsyncResult *second = NULL;
  shp_lab_state_acquire_async(lab, NULL, store_result, &second);
  assert_true(gui_test_wait(task_done, &res, 20));
  assert_true(gui_test_wait(task_done, &second, 5));
  GError *error = NULL;
  assert_null(shp_lab_state_acquire_finish(lab, second, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY));
  g_clear_error(&error);
  ShpLabTrace *t = shp_lab_state_acquire_finish(lab, res, &error);
  assert_non_null(t);
  assert_true(t->count > 100);
  double peak = 0;
  for (size_t k = 0; k < t->count; k++)
    peak = fmax(peak, t->signal[k]);
  assert_true(peak > 0);
  assert_false(shp_lab_state_is_busy(lab));
  assert_true(shp_lab_state_poll(lab));
  shp_lab_trace_free(t);
  g_object_unref(res);
  g_object_unref(second);
  g_object_unref(lab);
}

static void test_simulate_task_matches_library(void **state) {
  shp_stack *s = shp_stack_load(EXAMPLE("stacks/fan4.yml"));
  shp_target *t = shp_target_load(EXAMPLE("targets/flat-top-4ps.yml"));
  shp_simulation *want = shp_simulate(s, t, false);
  GAsyncResult *res = NULL;
  shp_gui_simulate_async(NULL, s, EXAMPLE("targets/flat-top-4ps.yml"), NULL,
                         store_result, &res);
  assert_true(gui_test_wait(task_done, &res, 30));
  shp_simulation *got = shp_gui_simulate_finish(res, NULL);
  assert_non_null(got);
  assert_int_equal(got->n, want->n);
  for (size_t j = 0; j < got->n; j += 97)
    assert_near(got->intensity[j], want->intensity[j], 1e-12);
  assert_near(got->metrics.error, want->metrics.error, 1e-12);
  shp_simulation_free(got);
  shp_simulation_free(want);
  shp_target_free(t);
  g_object_unref(res);
}

static void test_optimize_task_lowers_error_and_cancels(void **state) {
  shp_stack *s = shp_stack_load(EXAMPLE("stacks/fan4.yml"));
  /* Detune one plate, as a lab's drift would. */
  s->crystals[1].temperature_c += 3.0;
  ShpOptimizeOptions opts = {.starts = 4, .min_c = 15, .max_c = 150};
  GAsyncResult *res = NULL;
  shp_gui_optimize_async(NULL, s, EXAMPLE("targets/flat-top-4ps.yml"), &opts,
                         NULL, NULL, NULL, store_result, &res);
  assert_true(gui_test_wait(task_done, &res, 25));
  ShpOptimizeResult *r = shp_gui_optimize_finish(res, NULL);
  assert_non_null(r);
  assert_true(r->after < r->before);
  assert_true(r->metrics_after.error < r->metrics_before.error);
  for (size_t i = 0; i < 4; i++)
    assert_true(r->stack->crystals[i].temperature_c >= 15 &&
                r->stack->crystals[i].temperature_c <= 150);
  shp_optimize_result_free(r);
  g_clear_object(&res);

  GCancellable *cancel = g_cancellable_new();
  g_cancellable_cancel(cancel);
  shp_gui_optimize_async(NULL, shp_stack_load(EXAMPLE("stacks/fan4.yml")),
                         EXAMPLE("targets/flat-top-4ps.yml"), &opts, NULL, NULL,
                         cancel, store_result, &res);
  assert_true(gui_test_wait(task_done, &res, 20));
  GError *error = NULL;
  assert_null(shp_gui_optimize_finish(res, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error(&error);
  g_object_unref(res);
  g_object_unref(cancel);
}

/* ---- the run controller -------------------------------------------------- */

typedef struct {
  guint progress, measured, finished;
  int code;
  double fraction, last_fraction;
  gboolean fraction_fell;
  char *message, *last_progress;
} controller_log;

static void on_controller_progress(ShpRunController *r, double fraction,
                                   const char *message, gpointer data) {
  controller_log *l = data;
  l->progress++;
  l->fraction_fell = l->fraction_fell || fraction < l->fraction;
  l->fraction = fraction;
  g_free(l->last_progress);
  l->last_progress = g_strdup(message);
  if (getenv("SHP_TEST_VERBOSE"))
    printf("%5.3f %s\n", fraction, message);
}
static void on_controller_measured(ShpRunController *r, ShpRunTrace *t,
                                   gpointer data) {
  controller_log *l = data;
  /* A calibration has no target: nothing to draw against. */
  if (shp_run_controller_get_kind(r) == SHP_RUN_KIND_CALIBRATION)
    assert_null(t->target_ac);
  else
    assert_non_null(t->target_ac);
  assert_true(t->count > 100);
  assert_int_equal(t->crystal_count, 4);
  l->measured++;
}
static void on_controller_finished(ShpRunController *r, int code,
                                   const char *message, gpointer data) {
  controller_log *l = data;
  l->finished++;
  l->code = code;
  l->message = g_strdup(message);
}
static gboolean controller_finished(gpointer data) {
  return ((controller_log *)data)->finished > 0;
}
static gboolean controller_measured(gpointer data) {
  return ((controller_log *)data)->measured > 0;
}

/* The built-in simulated lab (on a manual clock, so its 40 oven moves take
 * no real time), calibrated on a worker: 1 + 9 per crystal traces counted
 * to 1.0, the file saved under the user's data directory (XDG_DATA_HOME,
 * private to this test) with every crystal, and kept for later runs. */
static void test_run_controller_calibrates_and_saves(void **state) {
  char *tmp = g_dir_make_tmp("shp-gui-XXXXXX", NULL);
  char *lab_path =
      gui_test_write_manual_time_lab(tmp, EXAMPLE("stacks/fan4.yml"), 4);
  assert_non_null(lab_path);
  shp_lab *fast = shp_lab_load(lab_path);
  if (fast == NULL)
    fail_msg("%s", shp_error_detail());
  assert_near(shp_lab_sim_speedup(fast), 0, 0);
  ShpLabState *lab = shp_lab_state_new();
  assert_true(shp_lab_state_open(lab, fast, NULL));
  ShpRunController *run = shp_run_controller_new(lab);
  controller_log log = {0};
  g_signal_connect(run, "progress", G_CALLBACK(on_controller_progress), &log);
  g_signal_connect(run, "measured", G_CALLBACK(on_controller_measured), &log);
  g_signal_connect(run, "finished", G_CALLBACK(on_controller_finished), &log);
  GError *error = NULL;
  assert_true(shp_run_controller_calibrate(run, &error));
  assert_true(shp_run_controller_is_running(run));
  assert_int_equal(shp_run_controller_get_kind(run), SHP_RUN_KIND_CALIBRATION);
  assert_true(shp_lab_state_is_busy(lab));
  /* One at a time: neither a second calibration nor a run. */
  assert_false(shp_run_controller_calibrate(run, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY));
  g_clear_error(&error);
  assert_false(shp_run_controller_start(
      run, EXAMPLE("targets/flat-top-4ps.yml"), &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY));
  g_clear_error(&error);

  assert_true(gui_test_wait(controller_finished, &log, 30));
  if (log.code != SHP_OK)
    fail_msg("calibration: %s", log.message);
  assert_false(shp_run_controller_is_running(run));
  assert_false(shp_lab_state_is_busy(lab));
  assert_null(shp_lab_state_get_fault(lab));
  assert_int_equal(log.measured, 1 + 9 * 4);
  assert_near(log.fraction, 1.0, 0);
  assert_false(log.fraction_fell);

  const char *path = shp_run_controller_get_calibration_path(run);
  assert_non_null(path);
  char *dir = g_build_filename(g_getenv("XDG_DATA_HOME"), "shaper",
                               "calibrations", NULL);
  assert_true(g_str_has_prefix(path, dir));
  assert_true(g_str_has_suffix(path, ".yml"));
  assert_non_null(strstr(path, "/fan4-"));
  assert_non_null(strstr(log.message, path));
  assert_non_null(strstr(log.message, "residual"));
  shp_calibration *cal = shp_calibration_load(path);
  if (cal == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(cal->crystal_count, 4);
  const shp_calibration *kept = shp_run_controller_get_calibration(run);
  assert_non_null(kept);
  for (size_t i = 0; i < 4; i++) {
    const shp_calibration_crystal *e = shp_calibration_find(cal, i);
    assert_non_null(e);
    assert_string_equal(e->material, "alpha-BBO");
    assert_near(e->reference_temperature_c, 66.7432, 1e-9);
    assert_true(e->phase_offset_sigma_rad < 0.1);
    assert_near(e->phase_offset_rad, kept->crystals[i].phase_offset_rad, 1e-9);
    assert_int_equal(e->scan_points, 9);
  }
  assert_near(cal->residual_rms, kept->residual_rms, 1e-9);
  /* The fit's residual as the message rounds it. */
  char *residual = g_strdup_printf("%.4f", cal->residual_rms);
  assert_non_null(strstr(log.message, residual));
  g_free(residual);
  /* The journal sits with the run journals. */
  const char *journal = shp_run_controller_get_journal_path(run);
  assert_non_null(strstr(journal, "shaper-gui/calibration-"));
  assert_true(g_file_test(journal, G_FILE_TEST_EXISTS));

  /* The ovens are back where they were, settled. */
  assert_true(shp_lab_state_poll(lab));
  for (guint i = 0; i < 4; i++) {
    const shp_oven_status *st = shp_lab_state_get_status(lab, i);
    assert_near(st->target_c, 66.7432, 1e-9);
    assert_true(st->settled);
  }

  /* A run afterwards starts from it: its journal names the file. */
  controller_log run_log = {0};
  g_signal_handlers_disconnect_by_data(run, &log);
  g_signal_connect(run, "measured", G_CALLBACK(on_controller_measured),
                   &run_log);
  g_signal_connect(run, "finished", G_CALLBACK(on_controller_finished),
                   &run_log);
  assert_true(shp_run_controller_start(run, EXAMPLE("targets/flat-top-5ps.yml"),
                                       &error));
  assert_int_equal(shp_run_controller_get_kind(run), SHP_RUN_KIND_RUN);
  assert_true(gui_test_wait(controller_measured, &run_log, 30));
  shp_run_controller_stop(run);
  assert_true(gui_test_wait(controller_finished, &run_log, 30));
  char *text = NULL;
  assert_true(g_file_get_contents(shp_run_controller_get_journal_path(run),
                                  &text, NULL, NULL));
  char *first = g_strndup(text, strcspn(text, "\n"));
  assert_non_null(strstr(first, "\"type\":"));
  assert_non_null(strstr(first, path));
  g_free(first);
  g_free(text);
  g_free(run_log.message);
  g_unlink(path);

  shp_calibration_free(cal);
  g_unlink(lab_path);
  g_rmdir(tmp);
  g_free(lab_path);
  g_free(tmp);
  g_free(dir);
  g_free(log.message);
  g_free(log.last_progress);
  g_object_unref(run);
  g_object_unref(lab);
}

static void test_file_kind_by_keys(void **state) {
  GError *error = NULL;
  assert_int_equal(shp_gui_file_kind(EXAMPLE("stacks/fan4.yml"), &error),
                   SHP_FILE_STACK);
  assert_int_equal(shp_gui_file_kind(EXAMPLE("labs/sim-fan4.yml"), &error),
                   SHP_FILE_LAB);
  assert_int_equal(
      shp_gui_file_kind(EXAMPLE("targets/flat-top-4ps.yml"), &error),
      SHP_FILE_TARGET);
  assert_int_equal(shp_gui_file_kind(DATA("stacks/bad-syntax.yml"), &error),
                   SHP_FILE_UNKNOWN);
  assert_int_equal(error->code, SHP_ERR_PARSE);
  g_clear_error(&error);
}

int main(void) {
  /* A data directory of this test's own, before anything asks GLib for
   * it: calibrations are saved there. */
  char *data_home = g_dir_make_tmp("shp-gui-data-XXXXXX", NULL);
  g_setenv("XDG_DATA_HOME", data_home, TRUE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stack_model_fills_rows_from_file),
      cmocka_unit_test(test_stack_model_checks_edits_as_the_reader),
      cmocka_unit_test(test_plot_model_prepares_figures),
      cmocka_unit_test(test_lab_state_polls_and_stops_through_supervisor),
      cmocka_unit_test(test_lab_state_acquires_on_a_worker),
      cmocka_unit_test(test_simulate_task_matches_library),
      cmocka_unit_test(test_optimize_task_lowers_error_and_cancels),
      cmocka_unit_test(test_run_controller_calibrates_and_saves),
      cmocka_unit_test(test_file_kind_by_keys),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char *dir = g_build_filename(data_home, "shaper", "calibrations", NULL);
  g_rmdir(dir);
  *strrchr(dir, '/') = '\0';
  g_rmdir(dir);
  g_rmdir(data_home);
  g_free(dir);
  g_free(data_home);
  return failed;
}
