/* The safety supervisor: the only way a setpoint reaches an oven
 * (DESIGN.md, "Hardware safety").
 *
 * It opens a lab's devices and keeps them to itself, so callers (the CLI,
 * the closed loop, the GUI) hold no device to send a setpoint to. It
 *  - refuses a setpoint outside the crystal's limits (SHP_ERR_SAFETY);
 *  - ramps in software at no more than max_ramp_k_per_min of the lab's
 *    clock, unless the instrument ramps itself (it is then given the rate);
 *  - detects settle: within settle_tolerance_k for settle_time_s;
 *  - bounds every wait by a timeout;
 *  - on a fault (an instrument error, a reading outside -50..300 C or more
 *    than SHP_SUPERVISOR_MARGIN_K outside the crystal's limits, a reported
 *    instrument fault, a sensor that does not change while its setpoint has
 *    moved SHP_SUPERVISOR_STUCK_K, a timeout or a cancel) stops what runs,
 *    asks every oven to hold (outputs are never toggled), records the fault
 *    and the state through the log callback and latches: later setpoints
 *    are refused until a new supervisor is opened. Nothing is retried.
 *
 * One supervisor is used from one thread; only shp_supervisor_cancel may be
 * called from elsewhere (a signal handler, another thread). */
#ifndef SHP_SUPERVISOR_H
#define SHP_SUPERVISOR_H

#include "shp/hw.h"
#include "shp/lab.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHP_SUPERVISOR_MARGIN_K 5.0
#define SHP_SUPERVISOR_STUCK_K 2.0
#define SHP_SUPERVISOR_PHYS_MIN_C -50.0
#define SHP_SUPERVISOR_PHYS_MAX_C 300.0

typedef struct shp_supervisor shp_supervisor;

typedef enum {
  SHP_SUP_SETPOINT, /* a setpoint was sent: crystal, value_c */
  SHP_SUP_PROGRESS, /* one poll of a pending oven: value_c actual, target_c */
  SHP_SUP_SETTLED,  /* crystal settled at target_c */
  SHP_SUP_FAULT,    /* code, crystal (-1: the autocorrelator or the lab) */
  SHP_SUP_HOLD      /* after a fault: crystal held at value_c, or code */
} shp_sup_event_kind;

typedef struct {
  shp_sup_event_kind kind;
  double time_s; /* on the lab's clock */
  int crystal;
  double value_c, target_c;
  int code;            /* SHP_OK or the error */
  const char *message; /* for people; valid during the callback */
} shp_sup_event;

typedef void (*shp_sup_log_fn)(const shp_sup_event *event, void *user);

/* A setpoint about to be sent to an oven's instrument: every software ramp
 * step, and the final setpoint (with an instrument that ramps itself, the
 * only one; it is then told max_ramp_k_per_min first). */
typedef struct {
  size_t crystal;
  double value_c;       /* what the instrument is told */
  double target_c;      /* the accepted setpoint this command heads for */
  double time_s;        /* on the lab's clock */
  bool instrument_ramp; /* the instrument ramps to value_c itself */
} shp_sup_command;

/* Called before each command is sent, so the command can be recorded (the
 * journal) before it acts. A return other than SHP_OK (with the error set)
 * stops the command from being sent and trips the supervisor with that
 * code: every oven holds. */
typedef int (*shp_sup_command_fn)(const shp_sup_command *cmd, void *user);

/* An oven as the supervisor last saw it. */
typedef struct {
  shp_oven_reading reading; /* valid when code is SHP_OK */
  int code;                 /* of the last read */
  double target_c;          /* the accepted setpoint the oven heads for */
  bool ramping;             /* a software ramp is under way */
  bool settled;
} shp_oven_status;

/* The latched fault. */
typedef struct {
  int code;
  double time_s;
  int crystal; /* -1: the autocorrelator or the lab as a whole */
  char message[512];
} shp_sup_fault;

/* Open every device of lab on clock (both borrowed; they outlive the
 * supervisor). log may be NULL. Returns NULL with shp_error_detail() when a
 * device cannot be opened. Owned by the caller: shp_supervisor_close. */
shp_supervisor *shp_supervisor_open(const shp_lab *lab, shp_clock *clock,
                                    shp_sup_log_fn log, void *user);
void shp_supervisor_close(shp_supervisor *s);

/* Observe every command sent to an oven from now on (NULL: stop). One
 * observer at a time; the previous one is replaced. */
void shp_supervisor_set_command_observer(shp_supervisor *s,
                                         shp_sup_command_fn fn, void *user);

/* The setpoint crystal's instrument was last sent (or, before any, the one
 * it reported when first read): what the oven holds after a stop, mid-ramp
 * the last ramp step. false when the oven was never read nor commanded, so
 * what it holds is unknown. */
bool shp_supervisor_commanded(const shp_supervisor *s, size_t crystal,
                              double *value_c);

/* Poll interval of waits, in lab-clock seconds (default 1). */
void shp_supervisor_set_poll_s(shp_supervisor *s, double poll_s);

/* Read crystal i's oven now. A failed read trips the supervisor unless it
 * is already latched; st then carries the code. */
int shp_supervisor_status(shp_supervisor *s, size_t crystal,
                          shp_oven_status *st);

/* Accept a setpoint for crystal i and start toward it (the first ramp step
 * or, with an instrument ramp, the setpoint itself). Errors: SHP_ERR_SAFETY
 * (outside limits, or latched), SHP_ERR_INVALID (no such crystal), or the
 * instrument's error (which trips). */
int shp_supervisor_request(shp_supervisor *s, size_t crystal,
                           double setpoint_c);

/* One poll: read every oven, check the readings, advance software ramps,
 * update settle. Returns the fault's code once tripped. */
int shp_supervisor_step(shp_supervisor *s);

/* Poll until every requested oven has its final setpoint (and, with settle,
 * has settled), or until timeout_s of lab-clock time: then SHP_ERR_TIMEOUT,
 * a fault like any other. */
int shp_supervisor_wait(shp_supervisor *s, bool settle, double timeout_s);

/* The same wait in bounded pieces, for a caller that must stay responsive
 * (a stepped run, a GUI): begin, then call wait_step until *done or an
 * error. Each wait_step is one poll and, when not done, one poll interval
 * of sleep on the lab's clock; the timeout is a fault as in wait. */
typedef struct {
  bool settle;
  double timeout_s, end_s;
} shp_sup_wait;
void shp_supervisor_wait_begin(shp_supervisor *s, bool settle, double timeout_s,
                               shp_sup_wait *w);
int shp_supervisor_wait_step(shp_supervisor *s, const shp_sup_wait *w,
                             bool *done);

/* A generous bound for reaching and settling at setpoint_c from the present
 * setpoint: the ramp time, the settle time and ten minutes of thermal lag. */
double shp_supervisor_budget_s(shp_supervisor *s, size_t crystal,
                               double setpoint_c);

/* Acquire one averaged trace (averages 0: the lab's), calibrated to ps. The
 * trace is owned by the supervisor and valid until the next acquire. A
 * failure trips. */
int shp_supervisor_acquire(shp_supervisor *s, size_t averages,
                           const shp_trace **trace);

/* Stop what runs at its next poll or request (SHP_ERR_CANCELLED, ovens
 * held). Async-signal-safe. */
void shp_supervisor_cancel(shp_supervisor *s);

/* Stop now, from the thread that uses the supervisor: ask every oven to
 * hold where it is and latch, as a fault does, with SHP_ERR_CANCELLED and
 * reason (NULL: "stopped on request") as the fault's message, logging one
 * SHP_SUP_FAULT and a SHP_SUP_HOLD per oven. For an operator's emergency
 * stop while no wait or acquire runs; while one runs on another thread,
 * call shp_supervisor_cancel instead, which does the same at its next poll.
 * When already latched, every oven is asked to hold again and the first
 * fault is kept. Returns SHP_ERR_CANCELLED, or the latched fault's code. */
int shp_supervisor_hold(shp_supervisor *s, const char *reason);

/* The latched fault, or NULL. Valid until the supervisor is closed. */
const shp_sup_fault *shp_supervisor_fault(const shp_supervisor *s);

size_t shp_supervisor_oven_count(const shp_supervisor *s);

#ifdef __cplusplus
}
#endif
#endif
