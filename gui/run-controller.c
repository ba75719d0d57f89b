#include "run-controller.h"

#include "gui-util.h"

#include "shp/error.h"
#include "shp/run.h"

#include <glib/gstdio.h>
#include <math.h>
#include <unistd.h>

struct _ShpRunController {
  GObject parent_instance;
  ShpLabState *lab;
  gboolean running;
  char *journal_path;
};

G_DEFINE_FINAL_TYPE(ShpRunController, shp_run_controller, G_TYPE_OBJECT)

enum { PROGRESS, MEASURED, FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];
enum { PROP_0, PROP_RUNNING, N_PROPS };
static GParamSpec *props[N_PROPS];

static void shp_run_controller_finalize(GObject *object) {
  ShpRunController *self = SHP_RUN_CONTROLLER(object);
  g_clear_object(&self->lab);
  g_free(self->journal_path);
  G_OBJECT_CLASS(shp_run_controller_parent_class)->finalize(object);
}

static void shp_run_controller_get_property(GObject *object, guint id,
                                            GValue *value, GParamSpec *pspec) {
  if (id == PROP_RUNNING)
    g_value_set_boolean(value, SHP_RUN_CONTROLLER(object)->running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void shp_run_controller_class_init(ShpRunControllerClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->finalize = shp_run_controller_finalize;
  object_class->get_property = shp_run_controller_get_property;
  props[PROP_RUNNING] = g_param_spec_boolean(
      "running", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
  GType type = G_TYPE_FROM_CLASS(klass);
  signals[PROGRESS] =
      g_signal_new("progress", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 2, G_TYPE_DOUBLE, G_TYPE_STRING);
  signals[MEASURED] = g_signal_new("measured", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                   NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[FINISHED] =
      g_signal_new("finished", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void shp_run_controller_init(ShpRunController *self) {}

ShpRunController *shp_run_controller_new(ShpLabState *lab) {
  ShpRunController *self = g_object_new(SHP_TYPE_RUN_CONTROLLER, NULL);
  self->lab = g_object_ref(lab);
  return self;
}

gboolean shp_run_controller_can_run(void) { return TRUE; }

/* run.h declares the closed loop only: there is no calibration function to
 * call yet, and the button says so rather than pretending. */
gboolean shp_run_controller_can_calibrate(void) { return FALSE; }

const char *shp_run_controller_calibrate_unavailable_reason(void) {
  return "the toolkit has no crystal-phase calibration function yet "
         "(hardware/include/shp/run.h declares only shp_run)";
}

gboolean shp_run_controller_calibrate(ShpRunController *self, GError **error) {
  g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                      shp_run_controller_calibrate_unavailable_reason());
  return FALSE;
}

gboolean shp_run_controller_is_running(ShpRunController *self) {
  return self->running;
}

const char *shp_run_controller_get_journal_path(ShpRunController *self) {
  return self->journal_path;
}

void shp_run_controller_stop(ShpRunController *self) {
  if (self->running)
    shp_lab_state_emergency_stop(self->lab, "run stopped by the operator");
}

/* ---- progress, from the run's thread to the main thread ------------------ */

typedef struct {
  ShpRunController *self;
  double fraction;
  char *message;
  ShpRunTrace *trace; /* MEASURED only */
} progress_copy;

static void progress_copy_free(gpointer p) {
  progress_copy *c = p;
  if (c->trace != NULL) {
    g_free(c->trace->delay_ps);
    g_free(c->trace->signal);
    g_free(c->trace->target_ac);
    g_free(c->trace->actual_c);
    g_free(c->trace);
  }
  g_free(c->message);
  g_object_unref(c->self);
  g_free(c);
}

static gboolean deliver_progress(gpointer p) {
  progress_copy *c = p;
  if (c->trace != NULL)
    g_signal_emit(c->self, signals[MEASURED], 0, c->trace);
  g_signal_emit(c->self, signals[PROGRESS], 0, c->fraction, c->message);
  return G_SOURCE_REMOVE;
}

typedef struct {
  ShpRunController *self;
  shp_target *target;
  shp_run_spec spec;
  char *journal_path;
  size_t max_iterations;
  shp_clock *clock; /* the lab's, read on the run's thread */
} run_job;

static void run_job_free(gpointer p) {
  run_job *job = p;
  shp_target_free(job->target);
  g_free(job->journal_path);
  g_object_unref(job->self);
  g_free(job);
}

static double *dup_doubles(const double *v, size_t n) {
  return v != NULL && n > 0 ? g_memdup2(v, n * sizeof *v) : NULL;
}

static void on_run_event(const shp_run_event *e, void *user) {
  run_job *job = user;
  progress_copy *c = g_new0(progress_copy, 1);
  c->self = g_object_ref(job->self);
  c->fraction =
      e->kind == SHP_RUN_EV_DONE
          ? 1.0
          : fmin(1.0, (double)e->iteration / (double)job->max_iterations);
  c->message = g_strdup(e->message ? e->message : "");
  if (e->kind == SHP_RUN_EV_MEASURED && e->trace != NULL &&
      e->trace->count > 0) {
    ShpRunTrace *t = g_new0(ShpRunTrace, 1);
    t->count = e->trace->count;
    t->delay_ps = dup_doubles(e->trace->delay_ps, t->count);
    t->signal = dup_doubles(e->trace->signal, t->count);
    t->target_ac = dup_doubles(e->target_ac, t->count);
    t->crystal_count = e->crystal_count;
    t->actual_c = dup_doubles(e->actual_c, e->crystal_count);
    t->time_s = shp_clock_now_s(job->clock);
    t->error = e->error;
    c->trace = t;
  }
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, deliver_progress, c,
                             progress_copy_free);
}

/* ---- the run ------------------------------------------------------------- */

typedef struct {
  int code;
  char message[512];
} run_outcome;

static void run_thread(GTask *task, shp_supervisor *sup, gpointer data,
                       GCancellable *cancellable) {
  run_job *job = data;
  shp_run_result result;
  int rc = shp_run(sup, &job->spec, on_run_event, job, &result);
  run_outcome *o = g_new0(run_outcome, 1);
  o->code = rc;
  g_strlcpy(o->message, result.message[0] ? result.message : shp_error_detail(),
            sizeof o->message);
  shp_run_result_clear(&result);
  g_task_return_pointer(task, o, g_free);
}

static void run_done(GObject *source, GAsyncResult *result, gpointer data) {
  ShpRunController *self = data;
  GError *error = NULL;
  run_outcome *o = g_task_propagate_pointer(G_TASK(result), &error);
  self->running = FALSE;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
  if (o != NULL)
    g_signal_emit(self, signals[FINISHED], 0, o->code, o->message);
  else
    g_signal_emit(self, signals[FINISHED], 0, error->code, error->message);
  g_free(o);
  g_clear_error(&error);
  g_object_unref(self);
}

/* A new journal file under the user's cache directory. */
static char *new_journal_path(GError **error) {
  char *dir = g_build_filename(g_get_user_cache_dir(), "shaper-gui", NULL);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "%s: cannot create the journal directory", dir);
    g_free(dir);
    return NULL;
  }
  GDateTime *now = g_date_time_new_now_local();
  char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
  char *name = g_strdup_printf("run-%s-%d.jsonl", stamp, (int)getpid());
  char *path = g_build_filename(dir, name, NULL);
  g_date_time_unref(now);
  g_free(stamp);
  g_free(name);
  g_free(dir);
  return path;
}

gboolean shp_run_controller_start(ShpRunController *self,
                                  const char *target_path, GError **error) {
  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  if (self->running || shp_lab_state_is_busy(self->lab)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "the lab is busy with another task");
    return FALSE;
  }
  if (lab == NULL || !shp_lab_state_is_connected(self->lab)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                        "run: not connected to a lab");
    return FALSE;
  }
  if (shp_lab_state_get_fault(self->lab) != NULL) {
    g_set_error(error, SHP_GUI_ERROR, SHP_ERR_SAFETY,
                "run: the supervisor stopped on a fault (%s): connect again "
                "first",
                shp_lab_state_get_fault(self->lab)->message);
    return FALSE;
  }
  if (target_path == NULL) {
    g_set_error_literal(error, SHP_GUI_ERROR, SHP_ERR_INVALID,
                        "run: open a target first");
    return FALSE;
  }
  shp_target *target = shp_target_load(target_path);
  if (target == NULL)
    return shp_gui_set_error(error, shp_error_last());
  char *journal = new_journal_path(error);
  if (journal == NULL) {
    shp_target_free(target);
    return FALSE;
  }
  run_job *job = g_new0(run_job, 1);
  job->self = g_object_ref(self);
  job->target = target;
  job->journal_path = journal;
  job->max_iterations = 20;
  job->clock = shp_lab_state_get_clock(self->lab);
  /* The lab stays with the lab state, which refuses to replace it while
   * the run has the supervisor. */
  job->spec = (shp_run_spec){.lab = lab,
                             .target = target,
                             .mode = SHP_RUN_MODEL,
                             .max_iterations = job->max_iterations,
                             .journal_path = journal};
  g_free(self->journal_path);
  self->journal_path = g_strdup(journal);
  self->running = TRUE;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
  shp_lab_state_run_exclusive(self->lab, run_thread, job, run_job_free, NULL,
                              run_done, g_object_ref(self));
  return TRUE;
}
