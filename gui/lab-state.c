#include "lab-state.h"

#include "gui-util.h"

#include "shp/error.h"

#include <math.h>

struct _ShpLabState {
  GObject parent_instance;
  GThread *main_thread;
  shp_lab *lab;
  shp_clock *clock;
  shp_supervisor *sup;
  shp_oven_status *status; /* oven_count, valid where read[i] */
  gboolean *read;
  double time_s;
  gboolean busy;
  guint poll_id;
  gboolean fault_reported;
  char *fault_text;
  char *hold_failure; /* the first "hold failed" message since the fault */
};

G_DEFINE_FINAL_TYPE(ShpLabState, shp_lab_state, G_TYPE_OBJECT)

enum { POLLED, EVENT, FAULT, N_SIGNALS };
static guint signals[N_SIGNALS];
enum { PROP_0, PROP_CONNECTED, PROP_BUSY, N_PROPS };
static GParamSpec *props[N_PROPS];

static void disconnect(ShpLabState *self) {
  gboolean was = self->sup != NULL;
  g_clear_pointer(&self->sup, shp_supervisor_close);
  g_clear_pointer(&self->clock, shp_clock_free);
  g_clear_pointer(&self->status, g_free);
  g_clear_pointer(&self->read, g_free);
  g_clear_pointer(&self->fault_text, g_free);
  g_clear_pointer(&self->hold_failure, g_free);
  self->fault_reported = FALSE;
  if (was)
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CONNECTED]);
}

static void shp_lab_state_dispose(GObject *object) {
  ShpLabState *self = SHP_LAB_STATE(object);
  g_clear_handle_id(&self->poll_id, g_source_remove);
  G_OBJECT_CLASS(shp_lab_state_parent_class)->dispose(object);
}

static void shp_lab_state_finalize(GObject *object) {
  ShpLabState *self = SHP_LAB_STATE(object);
  /* A task holds a reference, so nothing runs by now. */
  disconnect(self);
  shp_lab_free(self->lab);
  G_OBJECT_CLASS(shp_lab_state_parent_class)->finalize(object);
}

static void shp_lab_state_get_property(GObject *object, guint id, GValue *value,
                                       GParamSpec *pspec) {
  ShpLabState *self = SHP_LAB_STATE(object);
  switch (id) {
  case PROP_CONNECTED:
    g_value_set_boolean(value, self->sup != NULL);
    break;
  case PROP_BUSY:
    g_value_set_boolean(value, self->busy);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void shp_lab_state_class_init(ShpLabStateClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->dispose = shp_lab_state_dispose;
  object_class->finalize = shp_lab_state_finalize;
  object_class->get_property = shp_lab_state_get_property;
  props[PROP_CONNECTED] =
      g_param_spec_boolean("connected", NULL, NULL, FALSE,
                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_BUSY] = g_param_spec_boolean(
      "busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
  GType type = G_TYPE_FROM_CLASS(klass);
  signals[POLLED] = g_signal_new("polled", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 0);
  signals[EVENT] = g_signal_new("event", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                NULL, G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_INT,
                                G_TYPE_INT, G_TYPE_STRING);
  signals[FAULT] = g_signal_new("fault", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void shp_lab_state_init(ShpLabState *self) {
  self->main_thread = g_thread_self();
}

ShpLabState *shp_lab_state_new(void) {
  return g_object_new(SHP_TYPE_LAB_STATE, NULL);
}

/* ---- supervisor events --------------------------------------------------- */

typedef struct {
  ShpLabState *self;
  shp_sup_event_kind kind;
  int crystal, code;
  char *message;
} event_copy;

static void deliver(ShpLabState *self, shp_sup_event_kind kind, int crystal,
                    int code, const char *message) {
  if (kind == SHP_SUP_HOLD && code != SHP_OK && self->hold_failure == NULL)
    self->hold_failure = g_strdup(message);
  g_signal_emit(self, signals[EVENT], 0, (guint)kind, crystal, code, message);
}

static gboolean deliver_copy(gpointer data) {
  event_copy *c = data;
  deliver(c->self, c->kind, c->crystal, c->code, c->message);
  return G_SOURCE_REMOVE;
}

static void event_copy_free(gpointer data) {
  event_copy *c = data;
  g_object_unref(c->self);
  g_free(c->message);
  g_free(c);
}

/* The supervisor's log: on the main thread as it comes, from a task's
 * thread through the main context. */
static void on_sup_event(const shp_sup_event *e, void *user) {
  ShpLabState *self = user;
  if (g_thread_self() == self->main_thread) {
    deliver(self, e->kind, e->crystal, e->code, e->message);
    return;
  }
  if (e->kind == SHP_SUP_PROGRESS)
    return;
  event_copy *c = g_new0(event_copy, 1);
  *c = (event_copy){g_object_ref(self), e->kind, e->crystal, e->code,
                    g_strdup(e->message)};
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, deliver_copy, c,
                             event_copy_free);
}

/* Say once that the supervisor latched, and that the ovens hold. */
static void check_fault(ShpLabState *self) {
  const shp_sup_fault *f = self->sup ? shp_supervisor_fault(self->sup) : NULL;
  if (f == NULL || self->fault_reported)
    return;
  self->fault_reported = TRUE;
  g_free(self->fault_text);
  if (self->hold_failure != NULL)
    self->fault_text =
        g_strdup_printf("%s; the ovens were told to hold, but %s", f->message,
                        self->hold_failure);
  else
    self->fault_text = g_strdup_printf(
        "%s; every oven is holding its last setpoint", f->message);
  g_signal_emit(self, signals[FAULT], 0, self->fault_text);
}

/* ---- connection ---------------------------------------------------------- */

gboolean shp_lab_state_connect(ShpLabState *self, GError **error) {
  g_return_val_if_fail(!self->busy && self->lab != NULL, FALSE);
  disconnect(self);
  double speedup = shp_lab_sim_speedup(self->lab);
  self->clock = speedup < 0 ? shp_clock_new_real() : shp_clock_new_sim(speedup);
  if (self->clock == NULL)
    return shp_gui_set_error(error,
                             shp_error_set(SHP_ERR_NOMEM, "out of memory"));
  self->sup = shp_supervisor_open(self->lab, self->clock, on_sup_event, self);
  if (self->sup == NULL) {
    shp_gui_set_error(error, shp_error_last());
    g_clear_pointer(&self->clock, shp_clock_free);
    return FALSE;
  }
  self->status = g_new0(shp_oven_status, self->lab->oven_count);
  self->read = g_new0(gboolean, self->lab->oven_count);
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CONNECTED]);
  shp_lab_state_poll(self);
  return TRUE;
}

gboolean shp_lab_state_open(ShpLabState *self, shp_lab *lab, GError **error) {
  g_return_val_if_fail(!self->busy && lab != NULL, FALSE);
  disconnect(self);
  shp_lab_free(self->lab);
  self->lab = lab;
  return shp_lab_state_connect(self, error);
}

void shp_lab_state_close(ShpLabState *self) {
  g_return_if_fail(!self->busy);
  disconnect(self);
  g_clear_pointer(&self->lab, shp_lab_free);
}

const shp_lab *shp_lab_state_get_lab(ShpLabState *self) { return self->lab; }
gboolean shp_lab_state_is_connected(ShpLabState *self) {
  return self->sup != NULL;
}
gboolean shp_lab_state_is_simulated(ShpLabState *self) {
  return self->lab != NULL && shp_lab_sim_speedup(self->lab) >= 0;
}
gboolean shp_lab_state_is_busy(ShpLabState *self) { return self->busy; }
guint shp_lab_state_get_oven_count(ShpLabState *self) {
  return self->lab ? (guint)self->lab->oven_count : 0;
}

gboolean shp_lab_state_get_limits(ShpLabState *self, double *min_c,
                                  double *max_c) {
  if (self->lab == NULL || self->lab->oven_count == 0)
    return FALSE;
  *min_c = -INFINITY;
  *max_c = INFINITY;
  for (size_t i = 0; i < self->lab->oven_count; i++) {
    *min_c = fmax(*min_c, self->lab->ovens[i].min_c);
    *max_c = fmin(*max_c, self->lab->ovens[i].max_c);
  }
  return *max_c > *min_c;
}

/* ---- polling ------------------------------------------------------------- */

gboolean shp_lab_state_poll(ShpLabState *self) {
  if (self->sup == NULL || self->busy)
    return FALSE;
  /* A step advances software ramps and judges every reading; a fault it
   * finds latches and is reported below. */
  shp_supervisor_step(self->sup);
  gboolean latched = shp_supervisor_fault(self->sup) != NULL;
  for (size_t i = 0; i < self->lab->oven_count; i++) {
    /* Once stopped, an oven that failed is not asked again: a dead
     * instrument would hold the main thread for its timeout each poll. */
    if (latched && self->read[i] && self->status[i].code != SHP_OK)
      continue;
    shp_supervisor_status(self->sup, i, &self->status[i]);
    self->read[i] = TRUE;
  }
  self->time_s = shp_clock_now_s(self->clock);
  check_fault(self);
  g_signal_emit(self, signals[POLLED], 0);
  return TRUE;
}

static gboolean poll_tick(gpointer data) {
  shp_lab_state_poll(SHP_LAB_STATE(data));
  return G_SOURCE_CONTINUE;
}

void shp_lab_state_set_poll_interval(ShpLabState *self, guint interval_ms) {
  g_clear_handle_id(&self->poll_id, g_source_remove);
  if (interval_ms > 0)
    self->poll_id = g_timeout_add(interval_ms, poll_tick, self);
}

const shp_oven_status *shp_lab_state_get_status(ShpLabState *self, guint i) {
  if (self->sup == NULL || i >= self->lab->oven_count || !self->read[i])
    return NULL;
  return &self->status[i];
}

double shp_lab_state_get_time_s(ShpLabState *self) { return self->time_s; }
shp_clock *shp_lab_state_get_clock(ShpLabState *self) { return self->clock; }

const shp_sup_fault *shp_lab_state_get_fault(ShpLabState *self) {
  return self->sup ? shp_supervisor_fault(self->sup) : NULL;
}

const char *shp_lab_state_get_fault_text(ShpLabState *self) {
  return self->fault_reported ? self->fault_text : NULL;
}

/* ---- commands ------------------------------------------------------------ */

static gboolean usable(ShpLabState *self, GError **error) {
  if (self->sup == NULL) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                        "not connected to a lab");
    return FALSE;
  }
  if (self->busy) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "the lab is busy with another task");
    return FALSE;
  }
  return TRUE;
}

gboolean shp_lab_state_request(ShpLabState *self, const double *setpoint_c,
                               guint n, GError **error) {
  if (!usable(self, error))
    return FALSE;
  gboolean ok = TRUE;
  if (n != self->lab->oven_count)
    ok = shp_gui_set_error(error,
                           shp_error_set(SHP_ERR_MISMATCH,
                                         "%u setpoints for a lab of %zu ovens",
                                         n, self->lab->oven_count));
  for (guint i = 0; ok && i < n; i++) {
    int rc = shp_supervisor_request(self->sup, i, setpoint_c[i]);
    if (rc != SHP_OK)
      ok = shp_gui_set_error(error, rc);
  }
  check_fault(self);
  return ok;
}

gboolean shp_lab_state_emergency_stop(ShpLabState *self, const char *reason) {
  if (self->sup == NULL)
    return FALSE;
  /* Whatever runs stops at its next poll and holds every oven. */
  shp_supervisor_cancel(self->sup);
  if (self->busy)
    return TRUE;
  shp_supervisor_hold(self->sup, reason);
  check_fault(self);
  shp_lab_state_poll(self);
  return TRUE;
}

/* ---- exclusive tasks ----------------------------------------------------- */

typedef struct {
  shp_supervisor *sup;
  ShpLabTaskFunc func;
  gpointer data;
  GDestroyNotify destroy;
  GAsyncReadyCallback callback;
  gpointer user_data;
  gboolean took; /* the task had the supervisor (it was not refused) */
} exclusive;

static void exclusive_free(gpointer p) {
  exclusive *x = p;
  if (x->destroy != NULL)
    x->destroy(x->data);
  g_free(x);
}

static void exclusive_thread(GTask *task, gpointer source, gpointer data,
                             GCancellable *cancellable) {
  exclusive *x = data;
  x->func(task, x->sup, x->data, cancellable);
}

static void set_busy(ShpLabState *self, gboolean busy) {
  self->busy = busy;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_BUSY]);
}

static void exclusive_done(GObject *source, GAsyncResult *result,
                           gpointer data) {
  ShpLabState *self = SHP_LAB_STATE(source);
  exclusive *x = g_task_get_task_data(G_TASK(result));
  if (x->took) {
    set_busy(self, FALSE);
    check_fault(self);
  }
  if (x->callback != NULL)
    x->callback(source, result, x->user_data);
}

void shp_lab_state_run_exclusive(ShpLabState *self, ShpLabTaskFunc func,
                                 gpointer data, GDestroyNotify destroy,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, exclusive_done, NULL);
  exclusive *x = g_new0(exclusive, 1);
  *x = (exclusive){self->sup, func, data, destroy, callback, user_data, FALSE};
  g_task_set_task_data(task, x, exclusive_free);
  GError *error = NULL;
  if (!usable(self, &error)) {
    g_task_return_error(task, error);
  } else {
    x->took = TRUE;
    set_busy(self, TRUE);
    g_task_run_in_thread(task, exclusive_thread);
  }
  g_object_unref(task);
}

/* ---- the autocorrelator -------------------------------------------------- */

void shp_lab_trace_free(ShpLabTrace *t) {
  if (t == NULL)
    return;
  g_free(t->delay_ps);
  g_free(t->signal);
  g_free(t);
}

static void acquire_thread(GTask *task, shp_supervisor *sup, gpointer data,
                           GCancellable *cancellable) {
  const shp_trace *tr;
  int rc = shp_supervisor_acquire(sup, 0, &tr);
  if (rc != SHP_OK) {
    GError *error = NULL;
    /* A latched supervisor refuses with its fault's code alone. */
    const shp_sup_fault *f = shp_supervisor_fault(sup);
    if (f != NULL)
      g_set_error(&error, SHP_GUI_ERROR, SHP_ERR_SAFETY,
                  "refused: the supervisor stopped on a fault: %s", f->message);
    else
      shp_gui_set_error(&error, rc);
    g_task_return_error(task, error);
    return;
  }
  ShpLabTrace *t = g_new0(ShpLabTrace, 1);
  t->count = tr->count;
  t->delay_ps = g_memdup2(tr->delay_ps, tr->count * sizeof(double));
  t->signal = g_memdup2(tr->signal, tr->count * sizeof(double));
  g_task_return_pointer(task, t, (GDestroyNotify)shp_lab_trace_free);
}

void shp_lab_state_acquire_async(ShpLabState *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data) {
  shp_lab_state_run_exclusive(self, acquire_thread, NULL, NULL, cancellable,
                              callback, user_data);
}

ShpLabTrace *shp_lab_state_acquire_finish(ShpLabState *self,
                                          GAsyncResult *result,
                                          GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, self), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}
