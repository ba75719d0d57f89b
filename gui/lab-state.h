/* The lab the GUI is connected to: a shp_lab, its clock and the safety
 * supervisor, the only way anything reaches an oven. It polls the ovens on
 * the main thread (a timeout source) while no background task holds the
 * supervisor; a task takes it with shp_lab_state_run_exclusive and polling
 * waits until the task is done, because a supervisor serves one thread
 * (only shp_supervisor_cancel may come from elsewhere). No GTK: tests use
 * it without a display.
 *
 * Signals, all on the main thread:
 *   "polled"  ()                                   ovens were read
 *   "event"   (guint kind, gint crystal, gint code, const char *message)
 *             a supervisor event (shp_sup_event_kind); events of a task's
 *             thread are forwarded, except per-poll PROGRESS
 *   "fault"   (const char *text)                   the supervisor latched:
 *             text says what happened and that the ovens hold
 * Properties: "connected", "busy" (read-only, notified). */
#ifndef SHP_LAB_STATE_H
#define SHP_LAB_STATE_H

#include "shp/lab.h"
#include "shp/supervisor.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SHP_TYPE_LAB_STATE (shp_lab_state_get_type())
G_DECLARE_FINAL_TYPE(ShpLabState, shp_lab_state, SHP, LAB_STATE, GObject)

ShpLabState *shp_lab_state_new(void);

/* Take lab (owned from now on, even on failure) in place of the present
 * one and connect to it. Returns FALSE with the supervisor's message when a
 * device cannot be opened: the lab is then kept, disconnected, so that
 * shp_lab_state_connect can try again. Not while busy. */
gboolean shp_lab_state_open(ShpLabState *self, shp_lab *lab, GError **error);
/* (Re)connect to the present lab: a new clock and supervisor, which also
 * clears a latched fault (the simulated lab starts afresh). */
gboolean shp_lab_state_connect(ShpLabState *self, GError **error);
/* Close the supervisor and forget the lab. Not while busy. */
void shp_lab_state_close(ShpLabState *self);

/* Borrowed, or NULL. */
const shp_lab *shp_lab_state_get_lab(ShpLabState *self);
gboolean shp_lab_state_is_connected(ShpLabState *self);
/* The lab runs on the simulated lab's clock (every device is sim). */
gboolean shp_lab_state_is_simulated(ShpLabState *self);
gboolean shp_lab_state_is_busy(ShpLabState *self);
guint shp_lab_state_get_oven_count(ShpLabState *self);
/* The intersection of the ovens' limits, for an optimiser; FALSE without a
 * lab. */
gboolean shp_lab_state_get_limits(ShpLabState *self, double *min_c,
                                  double *max_c);

/* Read every oven now (advancing software ramps) and emit "polled".
 * Returns FALSE, reading nothing, when disconnected or busy. */
gboolean shp_lab_state_poll(ShpLabState *self);
/* Poll every interval_ms on the main loop; 0 stops. */
void shp_lab_state_set_poll_interval(ShpLabState *self, guint interval_ms);
/* Oven i as last read, or NULL when never read; st->code tells whether the
 * last read worked. */
const shp_oven_status *shp_lab_state_get_status(ShpLabState *self, guint i);
/* The lab's clock, borrowed, or NULL when disconnected. Only the thread
 * that holds the supervisor (the main thread, or a task's worker) may read
 * it: a simulated clock on manual time moves with that thread's waits. */
shp_clock *shp_lab_state_get_clock(ShpLabState *self);
/* Lab-clock time of the last poll (s). */
double shp_lab_state_get_time_s(ShpLabState *self);

/* The latched fault, or NULL; and the sentence shown for it. */
const shp_sup_fault *shp_lab_state_get_fault(ShpLabState *self);
const char *shp_lab_state_get_fault_text(ShpLabState *self);

/* Send setpoints (n = the oven count) through the supervisor, which ramps
 * them at the allowed rate. A refused or failing setpoint stops there with
 * the supervisor's message. Not while busy. */
gboolean shp_lab_state_request(ShpLabState *self, const double *setpoint_c,
                               guint n, GError **error);

/* Emergency stop: cancel what runs and, when nothing runs, hold every oven
 * now through the supervisor (shp_supervisor_hold), which latches.
 * Returns FALSE when there is no connected lab. */
gboolean shp_lab_state_emergency_stop(ShpLabState *self, const char *reason);

/* Work that needs the supervisor to itself, run on a worker thread: func
 * is given the task (to return its result with g_task_return_*), the
 * supervisor and data. Polling stops until it is done; then, on the main
 * thread, "busy" drops, a fault it caused is reported, and callback is
 * called with a GTask whose source object is self. Fails at once
 * (G_IO_ERROR_BUSY, G_IO_ERROR_NOT_CONNECTED) when busy or disconnected. */
typedef void (*ShpLabTaskFunc)(GTask *task, shp_supervisor *sup, gpointer data,
                               GCancellable *cancellable);
void shp_lab_state_run_exclusive(ShpLabState *self, ShpLabTaskFunc func,
                                 gpointer data, GDestroyNotify destroy,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);

/* An averaged autocorrelator trace, calibrated (run_exclusive). */
typedef struct {
  size_t count;
  double *delay_ps, *signal;
} ShpLabTrace;
void shp_lab_trace_free(ShpLabTrace *t);
void shp_lab_state_acquire_async(ShpLabState *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
/* Owned by the caller: shp_lab_trace_free. */
ShpLabTrace *shp_lab_state_acquire_finish(ShpLabState *self,
                                          GAsyncResult *result, GError **error);

G_END_DECLS

#endif
