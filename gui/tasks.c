#include "tasks.h"

#include "gui-util.h"

#include "shp/error.h"
#include "shp/optimize.h"
#include "shp/problem.h"

#include <math.h>

/* ---- simulate ------------------------------------------------------------ */

typedef struct {
  shp_stack *stack;
  char *target_path;
} sim_input;

static void sim_input_free(gpointer p) {
  sim_input *in = p;
  shp_stack_free(in->stack);
  g_free(in->target_path);
  g_free(in);
}

static void simulate_thread(GTask *task, gpointer source, gpointer data,
                            GCancellable *cancellable) {
  sim_input *in = data;
  GError *error = NULL;
  shp_target *t = NULL;
  if (in->target_path != NULL &&
      (t = shp_target_load(in->target_path)) == NULL) {
    shp_gui_set_error(&error, shp_error_last());
    g_task_return_error(task, error);
    return;
  }
  shp_simulation *sim = shp_simulate(in->stack, t, false);
  if (sim == NULL) {
    shp_gui_set_error(&error, shp_error_last());
    g_task_return_error(task, error);
  } else {
    g_task_return_pointer(task, sim, (GDestroyNotify)shp_simulation_free);
  }
  shp_target_free(t);
}

void shp_gui_simulate_async(GObject *source, shp_stack *stack,
                            const char *target_path, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) {
  GTask *task = g_task_new(source, cancellable, callback, user_data);
  sim_input *in = g_new0(sim_input, 1);
  in->stack = stack;
  in->target_path = g_strdup(target_path);
  g_task_set_task_data(task, in, sim_input_free);
  g_task_set_source_tag(task, shp_gui_simulate_async);
  g_task_run_in_thread(task, simulate_thread);
  g_object_unref(task);
}

shp_simulation *shp_gui_simulate_finish(GAsyncResult *result, GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- optimise ------------------------------------------------------------ */

typedef struct {
  shp_stack *stack;
  char *target_path;
  ShpOptimizeOptions options;
  ShpOptimizeProgress progress;
  gpointer progress_data;
} opt_input;

static void opt_input_free(gpointer p) {
  opt_input *in = p;
  shp_stack_free(in->stack);
  g_free(in->target_path);
  g_free(in);
}

void shp_optimize_result_free(ShpOptimizeResult *r) {
  if (r == NULL)
    return;
  shp_stack_free(r->stack);
  g_free(r);
}

typedef struct {
  ShpOptimizeProgress fn;
  gpointer data;
  gsize run, runs;
  double best;
} progress_report;

static gboolean report_progress(gpointer p) {
  progress_report *r = p;
  r->fn(r->run, r->runs, r->best, r->data);
  return G_SOURCE_REMOVE;
}

static int search(opt_input *in, shp_problem *p, double *x,
                  GCancellable *cancellable) {
  shp_search_opts so = {.local = shp_local_simplex,
                        .starts = in->options.starts,
                        .seed = in->options.seed};
  shp_search *s = shp_search_new(p, &so);
  if (s == NULL)
    return shp_error_last();
  gint64 shown = 0;
  int rc;
  while ((rc = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE) {
    if (g_cancellable_is_cancelled(cancellable))
      break;
    gint64 now = g_get_monotonic_time();
    if (in->progress != NULL && now - shown > G_USEC_PER_SEC / 10) {
      shown = now;
      progress_report *r = g_new(progress_report, 1);
      *r = (progress_report){
          in->progress, in->progress_data, shp_search_start_index(s),
          shp_search_start_count(s), shp_search_best(s, NULL)};
      g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, report_progress, r,
                                 g_free);
    }
  }
  shp_search_best(s, x);
  shp_search_free(s);
  return rc < 0 ? rc : SHP_OK;
}

static void optimize_thread(GTask *task, gpointer source, gpointer data,
                            GCancellable *cancellable) {
  opt_input *in = data;
  GError *error = NULL;
  shp_target *t = shp_target_load(in->target_path);
  shp_problem_spec spec = {.stack = in->stack,
                           .target = t,
                           .vary = in->options.vary,
                           .temperature_min_c = in->options.min_c,
                           .temperature_max_c = in->options.max_c};
  shp_problem *p = t ? shp_problem_new(&spec) : NULL;
  if (p == NULL) {
    shp_gui_set_error(&error, shp_error_last());
    g_task_return_error(task, error);
    shp_target_free(t);
    return;
  }
  size_t n = shp_problem_size(p);
  double *x0 = g_new0(double, n), *x = g_new0(double, n);
  ShpOptimizeResult *r = g_new0(ShpOptimizeResult, 1);
  shp_problem_start(p, x0);
  r->before = shp_problem_eval(p, x0);
  int rc = shp_problem_metrics(p, x0, &r->metrics_before);
  if (rc == SHP_OK)
    rc = search(in, p, x, cancellable);
  if (rc == SHP_OK && !g_cancellable_is_cancelled(cancellable)) {
    r->after = shp_problem_eval(p, x);
    rc = shp_problem_metrics(p, x, &r->metrics_after);
  }
  if (g_cancellable_set_error_if_cancelled(cancellable, &error)) {
    g_task_return_error(task, error);
    shp_optimize_result_free(r);
  } else if (rc != SHP_OK) {
    shp_gui_set_error(&error, rc);
    g_task_return_error(task, error);
    shp_optimize_result_free(r);
  } else {
    shp_problem_apply(p, x, in->stack);
    r->evaluations = shp_problem_evaluations(p);
    r->stack = in->stack; /* the result owns it now */
    in->stack = NULL;
    g_task_return_pointer(task, r, (GDestroyNotify)shp_optimize_result_free);
  }
  g_free(x0);
  g_free(x);
  shp_problem_free(p);
  shp_target_free(t);
}

void shp_gui_optimize_async(GObject *source, shp_stack *stack,
                            const char *target_path,
                            const ShpOptimizeOptions *options,
                            ShpOptimizeProgress progress,
                            gpointer progress_data, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) {
  GTask *task = g_task_new(source, cancellable, callback, user_data);
  opt_input *in = g_new0(opt_input, 1);
  in->stack = stack;
  in->target_path = g_strdup(target_path);
  in->options = *options;
  if (in->options.vary == 0)
    in->options.vary = SHP_VARY_TEMPERATURE;
  if (in->options.starts == 0)
    in->options.starts = 32;
  in->progress = progress;
  in->progress_data = progress_data;
  g_task_set_task_data(task, in, opt_input_free);
  g_task_set_source_tag(task, shp_gui_optimize_async);
  /* The result is for this run only: a cancelled search returns nothing. */
  g_task_set_return_on_cancel(task, FALSE);
  g_task_run_in_thread(task, optimize_thread);
  g_object_unref(task);
}

ShpOptimizeResult *shp_gui_optimize_finish(GAsyncResult *result,
                                           GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}
