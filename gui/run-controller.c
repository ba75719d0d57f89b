#include "run-controller.h"

#include "gui-util.h"

#include "shp/calibrate.h"
#include "shp/error.h"
#include "shp/run.h"
#include "shp/session.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _ShpRunController {
  GObject parent_instance;
  ShpLabState *lab;
  gboolean running;
  ShpRunKind kind;
  char *journal_path;
  shp_calibration *calibration; /* the last that succeeded, or NULL */
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
  shp_calibration_free(self->calibration);
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

gboolean shp_run_controller_is_running(ShpRunController *self) {
  return self->running;
}

ShpRunKind shp_run_controller_get_kind(ShpRunController *self) {
  return self->kind;
}

const char *shp_run_controller_get_journal_path(ShpRunController *self) {
  return self->journal_path;
}

const shp_calibration *
shp_run_controller_get_calibration(ShpRunController *self) {
  return self->calibration;
}

const char *shp_run_controller_get_calibration_path(ShpRunController *self) {
  return self->calibration ? self->calibration->path : NULL;
}

void shp_run_controller_stop(ShpRunController *self) {
  if (self->running)
    shp_lab_state_emergency_stop(self->lab,
                                 self->kind == SHP_RUN_KIND_CALIBRATION
                                     ? "calibration stopped by the operator"
                                     : "run stopped by the operator");
}

/* ---- progress, from the worker thread to the main thread ---------------- */

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

/* A run or a calibration, as its worker thread sees it. */
typedef struct {
  ShpRunController *self;
  ShpRunKind kind;
  char *journal_path;
  shp_clock *clock; /* the lab's, read on the worker thread */
  /* A run. */
  shp_target *target;
  shp_run_spec spec;
  size_t max_iterations;
  /* A calibration: traces measured so far of 1 + points per crystal. */
  shp_calibrate_spec calibrate;
  char *calibration_dir; /* the data folder calibrations go under */
  size_t measured, total;
} run_job;

static void run_job_free(gpointer p) {
  run_job *job = p;
  shp_target_free(job->target);
  g_free(job->journal_path);
  g_free(job->calibration_dir);
  g_object_unref(job->self);
  g_free(job);
}

static double *dup_doubles(const double *v, size_t n) {
  return v != NULL && n > 0 ? g_memdup2(v, n * sizeof *v) : NULL;
}

/* Where a calibration is and how far it got: the first trace has every
 * oven at its setpoint, then each crystal's scan (every crystal, in stack
 * order) takes spec.points traces. */
static char *calibration_message(run_job *job, const shp_run_event *e) {
  if (e->kind != SHP_RUN_EV_MEASURED)
    return g_strdup(e->message ? e->message : "");
  if (job->measured <= 1)
    return g_strdup_printf("every oven at its setpoint (%zu/%zu)",
                           job->measured, job->total);
  size_t i = (job->measured - 2) / job->calibrate.points;
  double t = e->actual_c != NULL && i < e->crystal_count ? e->actual_c[i] : NAN;
  return g_strdup_printf("crystal %zu: %.1f C (%zu/%zu)", i, t, job->measured,
                         job->total);
}

static void on_run_event(const shp_run_event *e, void *user) {
  run_job *job = user;
  if (e->kind == SHP_RUN_EV_MOVING)
    return; /* a poll of a move: nothing new to show */
  progress_copy *c = g_new0(progress_copy, 1);
  c->self = g_object_ref(job->self);
  if (job->kind == SHP_RUN_KIND_CALIBRATION) {
    job->measured += e->kind == SHP_RUN_EV_MEASURED;
    c->fraction = fmin(1.0, (double)job->measured / (double)job->total);
    c->message = calibration_message(job, e);
  } else {
    c->fraction =
        shp_run_event_terminal(e->kind)
            ? 1.0
            : fmin(1.0, (double)e->iteration / (double)job->max_iterations);
    c->message = g_strdup(e->message ? e->message : "");
  }
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

/* ---- the worker threads -------------------------------------------------- */

typedef struct {
  int code;
  char message[1024];
  shp_calibration *calibration; /* a calibration that succeeded, saved */
} run_outcome;

static void run_outcome_free(gpointer p) {
  run_outcome *o = p;
  shp_calibration_free(o->calibration);
  g_free(o);
}

static void run_thread(GTask *task, shp_supervisor *sup, gpointer data,
                       GCancellable *cancellable) {
  run_job *job = data;
  shp_run_result result = {.final_error = NAN};
  int rc;
  shp_run_machine *m = shp_run_new_sup(sup, &job->spec);
  if (m == NULL) {
    rc = shp_error_last();
  } else {
    /* One bounded step at a time (an oven move is a poll per step), each
     * event posted to the main loop as it comes; a cancelled task stops
     * the run at its next step, as the supervisor's cancel does. */
    shp_run_event ev;
    do {
      if (g_cancellable_is_cancelled(cancellable))
        shp_run_cancel(m);
      shp_run_step(m, &ev);
      on_run_event(&ev, job);
    } while (!shp_run_event_terminal(ev.kind));
    rc = shp_run_take_result(m, &result);
    shp_run_free(m);
  }
  run_outcome *o = g_new0(run_outcome, 1);
  o->code = rc;
  g_strlcpy(o->message, result.message[0] ? result.message : shp_error_detail(),
            sizeof o->message);
  shp_run_result_clear(&result);
  g_task_return_pointer(task, o, run_outcome_free);
}

/* Save cal (it then knows its file) and say so in o. */
static int save_calibration(run_job *job, shp_calibration *cal,
                            run_outcome *o) {
  /* The library names it (DATA/calibrations/STACK-TIME.yml, a name no
   * file has yet); the GUI chose only the data folder. */
  char buf[4096];
  char *path = NULL;
  if (shp_session_calibration_path_in(job->calibration_dir,
                                      job->calibrate.lab->stack_path, buf,
                                      sizeof buf) == SHP_OK)
    path = g_strdup(buf);
  int rc = path ? shp_calibration_save(cal, path) : shp_error_last();
  if (rc == SHP_OK) {
    free(cal->path);
    cal->path = strdup(path);
    snprintf(o->message, sizeof o->message,
             "calibrated %zu crystals (fit residual %.4f): saved to %s",
             cal->crystal_count, cal->residual_rms, path);
  } else {
    snprintf(o->message, sizeof o->message,
             "the calibration could not be saved (%s); the journal %s holds "
             "every trace",
             shp_error_detail(), job->journal_path);
  }
  g_free(path);
  return rc;
}

static void calibrate_thread(GTask *task, shp_supervisor *sup, gpointer data,
                             GCancellable *cancellable) {
  run_job *job = data;
  shp_calibration *cal = NULL;
  run_outcome *o = g_new0(run_outcome, 1);
  shp_calibration_run *m = shp_calibration_run_new_sup(sup, &job->calibrate);
  if (m == NULL) {
    o->code = shp_error_last();
  } else {
    shp_run_event ev;
    do {
      if (g_cancellable_is_cancelled(cancellable))
        shp_calibration_run_cancel(m);
      shp_calibration_run_step(m, &ev);
      on_run_event(&ev, job);
    } while (!shp_run_event_terminal(ev.kind));
    o->code = shp_calibration_run_take_result(m, &cal);
    shp_calibration_run_free(m);
  }
  if (o->code != SHP_OK)
    g_strlcpy(o->message, shp_error_detail(), sizeof o->message);
  else if ((o->code = save_calibration(job, cal, o)) == SHP_OK)
    o->calibration = g_steal_pointer(&cal);
  shp_calibration_free(cal);
  g_task_return_pointer(task, o, run_outcome_free);
}

static void run_done(GObject *source, GAsyncResult *result, gpointer data) {
  ShpRunController *self = data;
  GError *error = NULL;
  run_outcome *o = g_task_propagate_pointer(G_TASK(result), &error);
  if (o != NULL && o->calibration != NULL) {
    shp_calibration_free(self->calibration);
    self->calibration = g_steal_pointer(&o->calibration);
  }
  self->running = FALSE;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
  if (o != NULL)
    g_signal_emit(self, signals[FINISHED], 0, o->code, o->message);
  else
    g_signal_emit(self, signals[FINISHED], 0, error->code, error->message);
  if (o != NULL)
    run_outcome_free(o);
  g_clear_error(&error);
  g_object_unref(self);
}

/* ---- starting ------------------------------------------------------------ */

/* A new journal file, named for what it records, under the user's cache
 * directory. */
static char *new_journal_path(const char *what, GError **error) {
  char *dir = g_build_filename(g_get_user_cache_dir(), "shaper-gui", NULL);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "%s: cannot create the journal directory", dir);
    g_free(dir);
    return NULL;
  }
  GDateTime *now = g_date_time_new_now_local();
  char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
  char *name = g_strdup_printf("%s-%s-%d.jsonl", what, stamp, (int)getpid());
  char *path = g_build_filename(dir, name, NULL);
  /* A journal is never overwritten: a second one within the second gets a
   * name of its own. */
  for (int k = 2; g_file_test(path, G_FILE_TEST_EXISTS); k++) {
    g_free(name);
    g_free(path);
    name = g_strdup_printf("%s-%s-%d-%d.jsonl", what, stamp, (int)getpid(), k);
    path = g_build_filename(dir, name, NULL);
  }
  g_date_time_unref(now);
  g_free(stamp);
  g_free(name);
  g_free(dir);
  return path;
}

/* Whether the lab is free for a run or a calibration (what: "run",
 * "calibrate"); else the reason. */
static gboolean lab_ready(ShpRunController *self, const char *what,
                          GError **error) {
  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  if (self->running || shp_lab_state_is_busy(self->lab)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "the lab is busy with another task");
    return FALSE;
  }
  if (lab == NULL || !shp_lab_state_is_connected(self->lab)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                "%s: not connected to a lab", what);
    return FALSE;
  }
  if (shp_lab_state_get_fault(self->lab) != NULL) {
    g_set_error(error, SHP_GUI_ERROR, SHP_ERR_SAFETY,
                "%s: the supervisor stopped on a fault (%s): connect again "
                "first",
                what, shp_lab_state_get_fault(self->lab)->message);
    return FALSE;
  }
  return TRUE;
}

/* Hand job to a worker thread with the lab's supervisor. */
static void start_job(ShpRunController *self, run_job *job,
                      ShpLabTaskFunc func) {
  job->self = g_object_ref(self);
  job->clock = shp_lab_state_get_clock(self->lab);
  g_free(self->journal_path);
  self->journal_path = g_strdup(job->journal_path);
  self->kind = job->kind;
  self->running = TRUE;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
  shp_lab_state_run_exclusive(self->lab, func, job, run_job_free, NULL,
                              run_done, g_object_ref(self));
}

/* The kept calibration when it was made on lab's stack file: a run on
 * another stack must not take it (shp_run would refuse it). */
static const shp_calibration *calibration_for(ShpRunController *self,
                                              const shp_lab *lab) {
  const shp_calibration *cal = self->calibration;
  if (cal == NULL || g_strcmp0(cal->stack, lab->stack_path) != 0)
    return NULL;
  return cal;
}

gboolean shp_run_controller_start(ShpRunController *self,
                                  const char *target_path, GError **error) {
  if (!lab_ready(self, "run", error))
    return FALSE;
  if (target_path == NULL) {
    g_set_error_literal(error, SHP_GUI_ERROR, SHP_ERR_INVALID,
                        "run: open a target first");
    return FALSE;
  }
  shp_target *target = shp_target_load(target_path);
  if (target == NULL)
    return shp_gui_set_error(error, shp_error_last());
  char *journal = new_journal_path("run", error);
  if (journal == NULL) {
    shp_target_free(target);
    return FALSE;
  }
  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  run_job *job = g_new0(run_job, 1);
  job->kind = SHP_RUN_KIND_RUN;
  job->target = target;
  job->journal_path = journal;
  job->max_iterations = 20;
  /* The lab stays with the lab state, which refuses to replace it while
   * the run has the supervisor; the calibration stays with this
   * controller, which starts no calibration while the run goes on. */
  job->spec = (shp_run_spec){.lab = lab,
                             .target = target,
                             .mode = SHP_RUN_MODEL,
                             .max_iterations = job->max_iterations,
                             .journal_path = journal,
                             .calibration = calibration_for(self, lab)};
  start_job(self, job, run_thread);
  return TRUE;
}

gboolean shp_run_controller_calibrate(ShpRunController *self, GError **error) {
  if (!lab_ready(self, "calibrate", error))
    return FALSE;
  /* The data folder's calibrations folder, made now: a folder that
   * cannot be made is said before the scan, not after it. */
  const shp_lab *lab_now = shp_lab_state_get_lab(self->lab);
  char *dir = g_build_filename(g_get_user_data_dir(), "shaper", NULL);
  char probe[4096];
  if (shp_session_calibration_path_in(dir, lab_now->stack_path, probe,
                                      sizeof probe) != SHP_OK) {
    g_free(dir);
    return shp_gui_set_error(error, shp_error_last());
  }
  char *journal = new_journal_path("calibration", error);
  if (journal == NULL) {
    g_free(dir);
    return FALSE;
  }
  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  run_job *job = g_new0(run_job, 1);
  job->kind = SHP_RUN_KIND_CALIBRATION;
  job->journal_path = journal;
  job->calibration_dir = dir;
  /* Every crystal with shp_calibrate's default scan, spelled out here so
   * that progress can count its traces. */
  job->calibrate = (shp_calibrate_spec){.lab = lab,
                                        .periods = 1.0,
                                        .points = 9,
                                        .seed = 1,
                                        .journal_path = journal};
  job->total = 1 + job->calibrate.points * lab->oven_count;
  start_job(self, job, calibrate_thread);
  return TRUE;
}
