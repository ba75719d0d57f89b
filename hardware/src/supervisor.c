#include "shp/supervisor.h"

#include "drivers.h"
#include "shp/error.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A device opened once and shared by every role on the same connection
 * (several channels of one controller; the sim lab's ovens and its
 * autocorrelator). */
typedef struct {
  const shp_driver *driver;
  const shp_connection *connection;
  shp_device *dev;
} sup_device;

typedef struct {
  const shp_lab_oven *lab;
  shp_device *dev;
  bool known;         /* commanded_c is the instrument's setpoint */
  double target_c;    /* accepted */
  double commanded_c; /* last sent */
  double commanded_s; /* when */
  bool ramping;       /* software ramp under way */
  bool pending;       /* requested and not yet settled */
  bool settled;
  double in_band_s; /* since when within tolerance, or NAN */
  double last_actual_c;
  double setpoint_at_change_c; /* the setpoint when the reading last moved */
  shp_oven_status status;
} sup_oven;

struct shp_supervisor {
  const shp_lab *lab;
  shp_clock *clock;
  shp_sup_log_fn log;
  void *user;
  shp_sup_command_fn observer;
  void *observer_user;
  double poll_s;
  sup_device *devices;
  size_t device_count;
  sup_oven *ovens;
  size_t oven_count;
  shp_device *ac_dev;
  shp_trace trace;
  volatile sig_atomic_t cancel;
  bool tripped;
  shp_sup_fault fault;
};

/* ---- opening --------------------------------------------------------------
 */

static bool same_string(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool same_connection(const shp_connection *a, const shp_connection *b) {
  return same_string(a->kind, b->kind) && same_string(a->port, b->port) &&
         same_string(a->host, b->host) && same_string(a->serial, b->serial) &&
         a->tcp_port == b->tcp_port && a->vendor == b->vendor &&
         a->product == b->product;
}

static int device_for(shp_supervisor *s, const shp_driver *drv,
                      const shp_connection *conn, yaml_node_t *options,
                      const char *ctx, shp_device **out) {
  for (size_t i = 0; i < s->device_count; i++)
    if (s->devices[i].driver == drv &&
        same_connection(s->devices[i].connection, conn)) {
      *out = s->devices[i].dev;
      return SHP_OK;
    }
  shp_device_config cfg = {.connection = conn,
                           .clock = s->clock,
                           .yaml = s->lab->yaml,
                           .options = options,
                           .options_ctx = ctx,
                           .lab = s->lab};
  int rc = drv->open(&cfg, out);
  if (rc != SHP_OK)
    return shp_error_prefix("%s: %s: ", ctx, drv->name);
  s->devices[s->device_count++] =
      (sup_device){.driver = drv, .connection = conn, .dev = *out};
  return SHP_OK;
}

static int open_devices(shp_supervisor *s) {
  const shp_lab *lab = s->lab;
  char ctx[32];
  for (size_t i = 0; i < lab->oven_count; i++) {
    snprintf(ctx, sizeof ctx, "ovens[%zu]", i);
    s->ovens[i] = (sup_oven){.lab = &lab->ovens[i], .in_band_s = NAN};
    int rc = device_for(s, lab->ovens[i].driver, &lab->ovens[i].connection,
                        lab->ovens[i].options, ctx, &s->ovens[i].dev);
    if (rc != SHP_OK)
      return rc;
  }
  return device_for(s, lab->autocorrelator.driver,
                    &lab->autocorrelator.connection,
                    lab->autocorrelator.options, "autocorrelator", &s->ac_dev);
}

void shp_supervisor_close(shp_supervisor *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->device_count; i++)
    s->devices[i].driver->close(s->devices[i].dev);
  free(s->devices);
  free(s->ovens);
  free(s->trace.delay_ps);
  free(s->trace.signal);
  free(s);
}

shp_supervisor *shp_supervisor_open(const shp_lab *lab, shp_clock *clock,
                                    shp_sup_log_fn log, void *user) {
  shp_supervisor *s = calloc(1, sizeof *s);
  size_t n = lab->oven_count;
  if (s == NULL || (s->devices = calloc(n + 1, sizeof *s->devices)) == NULL ||
      (s->ovens = calloc(n, sizeof *s->ovens)) == NULL ||
      (s->trace.delay_ps = calloc(SHP_TRACE_MAX, sizeof(double))) == NULL ||
      (s->trace.signal = calloc(SHP_TRACE_MAX, sizeof(double))) == NULL) {
    shp_supervisor_close(s);
    shp_error_set(SHP_ERR_NOMEM, "supervisor: out of memory");
    return NULL;
  }
  *s = (shp_supervisor){.lab = lab,
                        .clock = clock,
                        .log = log,
                        .user = user,
                        .poll_s = 1.0,
                        .devices = s->devices,
                        .ovens = s->ovens,
                        .oven_count = n,
                        .trace = s->trace};
  s->trace.capacity = SHP_TRACE_MAX;
  if (open_devices(s) != SHP_OK) {
    shp_supervisor_close(s);
    return NULL;
  }
  return s;
}

void shp_supervisor_set_poll_s(shp_supervisor *s, double poll_s) {
  if (poll_s > 0)
    s->poll_s = poll_s;
}

void shp_supervisor_set_command_observer(shp_supervisor *s,
                                         shp_sup_command_fn fn, void *user) {
  s->observer = fn;
  s->observer_user = user;
}

bool shp_supervisor_commanded(const shp_supervisor *s, size_t crystal,
                              double *value_c) {
  if (crystal >= s->oven_count || !s->ovens[crystal].known)
    return false;
  *value_c = s->ovens[crystal].commanded_c;
  return true;
}

size_t shp_supervisor_oven_count(const shp_supervisor *s) {
  return s->oven_count;
}

const shp_sup_fault *shp_supervisor_fault(const shp_supervisor *s) {
  return s->tripped ? &s->fault : NULL;
}

void shp_supervisor_cancel(shp_supervisor *s) { s->cancel = 1; }

/* ---- faults ---------------------------------------------------------------
 */

static void emit(shp_supervisor *s, shp_sup_event ev) {
  ev.time_s = shp_clock_now_s(s->clock);
  if (s->log != NULL)
    s->log(&ev, s->user);
}

/* Ask every oven to hold where it is and say what each did. A failing hold
 * is logged and does not replace the first fault. */
static void hold_all(shp_supervisor *s) {
  char msg[384];
  for (size_t i = 0; i < s->oven_count; i++) {
    sup_oven *o = &s->ovens[i];
    o->ramping = o->pending = false;
    int rc = o->lab->driver->oven_hold(o->dev, o->lab->channel);
    if (rc == SHP_OK && !o->known)
      snprintf(msg, sizeof msg,
               "crystal %zu: holding an unknown setpoint (never read)", i);
    else if (rc == SHP_OK)
      snprintf(msg, sizeof msg,
               "crystal %zu: holding setpoint %.3f C (last reading %.3f C)", i,
               o->commanded_c, o->status.reading.actual_c);
    else
      snprintf(msg, sizeof msg, "crystal %zu: hold failed: %s", i,
               shp_error_detail());
    emit(s, (shp_sup_event){.kind = SHP_SUP_HOLD,
                            .crystal = (int)i,
                            .value_c = o->commanded_c,
                            .code = rc,
                            .message = msg});
  }
}

/* Stop, hold, record and latch; returns code with the message as detail. */
static int trip(shp_supervisor *s, int code, int crystal, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int trip(shp_supervisor *s, int code, int crystal, const char *fmt,
                ...) {
  if (s->tripped)
    return shp_error_set(s->fault.code, "%s", s->fault.message);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->fault.message, sizeof s->fault.message, fmt, ap);
  va_end(ap);
  s->tripped = true;
  s->fault.code = code;
  s->fault.crystal = crystal;
  s->fault.time_s = shp_clock_now_s(s->clock);
  emit(s, (shp_sup_event){.kind = SHP_SUP_FAULT,
                          .crystal = crystal,
                          .code = code,
                          .message = s->fault.message});
  hold_all(s);
  return shp_error_set(code, "%s", s->fault.message);
}

int shp_supervisor_hold(shp_supervisor *s, const char *reason) {
  if (s->tripped) {
    hold_all(s);
    return shp_error_set(s->fault.code, "%s", s->fault.message);
  }
  return trip(s, SHP_ERR_CANCELLED, -1, "%s",
              reason != NULL ? reason : "stopped on request");
}

static int latched(shp_supervisor *s) {
  return shp_error_set(SHP_ERR_SAFETY,
                       "refused: the supervisor stopped on a fault: %s",
                       s->fault.message);
}

/* ---- readings -------------------------------------------------------------
 */

/* The supervisor's own judgement of a reading. */
static int judge(shp_supervisor *s, size_t i, const shp_oven_reading *r) {
  const shp_lab_oven *l = s->ovens[i].lab;
  double t = r->actual_c;
  if (!(t >= SHP_SUPERVISOR_PHYS_MIN_C && t <= SHP_SUPERVISOR_PHYS_MAX_C))
    return trip(s, SHP_ERR_SAFETY, (int)i,
                "crystal %zu: reading %g C is outside the physical range "
                "%g to %g C",
                i, t, SHP_SUPERVISOR_PHYS_MIN_C, SHP_SUPERVISOR_PHYS_MAX_C);
  if (t < l->min_c - SHP_SUPERVISOR_MARGIN_K ||
      t > l->max_c + SHP_SUPERVISOR_MARGIN_K)
    return trip(s, SHP_ERR_SAFETY, (int)i,
                "crystal %zu: reading %g C is more than %g K outside the "
                "limits %g to %g C",
                i, t, SHP_SUPERVISOR_MARGIN_K, l->min_c, l->max_c);
  if (r->fault)
    return trip(s, SHP_ERR_SAFETY, (int)i,
                "crystal %zu: the instrument reports a fault: %s", i,
                r->fault_text);
  return SHP_OK;
}

/* A sensor whose reading stays exactly put while the setpoint it follows
 * has moved SHP_SUPERVISOR_STUCK_K is not measuring: real readings move
 * (noise, and the lag's response) long before the setpoint has gone that
 * far. */
static int check_stuck(shp_supervisor *s, size_t i, const shp_oven_reading *r) {
  sup_oven *o = &s->ovens[i];
  if (!o->known || r->actual_c != o->last_actual_c) {
    o->last_actual_c = r->actual_c;
    o->setpoint_at_change_c = r->setpoint_c;
    return SHP_OK;
  }
  if (fabs(r->setpoint_c - o->setpoint_at_change_c) < SHP_SUPERVISOR_STUCK_K)
    return SHP_OK;
  return trip(s, SHP_ERR_SAFETY, (int)i,
              "crystal %zu: the sensor is stuck at %g C while the setpoint "
              "moved from %g to %g C",
              i, r->actual_c, o->setpoint_at_change_c, r->setpoint_c);
}

static void update_settle(shp_supervisor *s, size_t i, double now) {
  sup_oven *o = &s->ovens[i];
  double t = o->status.reading.actual_c;
  bool in_band =
      !o->ramping && fabs(t - o->target_c) <= o->lab->settle_tolerance_k;
  if (!in_band)
    o->in_band_s = NAN;
  else if (isnan(o->in_band_s))
    o->in_band_s = now;
  bool was = o->settled;
  o->settled = in_band && now - o->in_band_s >= o->lab->settle_time_s;
  if (o->settled && !was && o->pending) {
    o->pending = false;
    char msg[96];
    snprintf(msg, sizeof msg, "crystal %zu: settled at %.3f C", i, o->target_c);
    emit(s, (shp_sup_event){.kind = SHP_SUP_SETTLED,
                            .crystal = (int)i,
                            .value_c = t,
                            .target_c = o->target_c,
                            .message = msg});
  }
}

/* Read, judge and remember one oven. */
static int read_oven(shp_supervisor *s, size_t i) {
  sup_oven *o = &s->ovens[i];
  shp_oven_reading r = {0};
  int rc = o->lab->driver->oven_read(o->dev, o->lab->channel, &r);
  o->status.code = rc;
  if (rc != SHP_OK)
    return s->tripped
               ? rc
               : trip(s, rc, (int)i, "crystal %zu: %s", i, shp_error_detail());
  o->status.reading = r;
  if ((rc = judge(s, i, &r)) != SHP_OK ||
      (rc = check_stuck(s, i, &r)) != SHP_OK)
    return rc;
  if (!o->known) {
    o->known = true;
    o->target_c = o->commanded_c = r.setpoint_c;
    o->commanded_s = shp_clock_now_s(s->clock);
  }
  update_settle(s, i, shp_clock_now_s(s->clock));
  return SHP_OK;
}

static void fill_status(const sup_oven *o, shp_oven_status *st) {
  *st = o->status;
  st->target_c = o->target_c;
  st->ramping = o->ramping;
  st->settled = o->settled;
}

int shp_supervisor_status(shp_supervisor *s, size_t crystal,
                          shp_oven_status *st) {
  if (crystal >= s->oven_count)
    return shp_error_set(SHP_ERR_INVALID, "no crystal %zu (the lab has %zu)",
                         crystal, s->oven_count);
  int rc = read_oven(s, crystal);
  fill_status(&s->ovens[crystal], st);
  return rc;
}

/* ---- setpoints ------------------------------------------------------------
 */

static int send_setpoint(shp_supervisor *s, size_t i, double value_c) {
  sup_oven *o = &s->ovens[i];
  if (s->observer != NULL) {
    shp_sup_command cmd = {.crystal = i,
                           .value_c = value_c,
                           .target_c = o->target_c,
                           .time_s = shp_clock_now_s(s->clock),
                           .instrument_ramp =
                               o->lab->driver->oven_set_ramp != NULL};
    int orc = s->observer(&cmd, s->observer_user);
    if (orc != SHP_OK)
      return trip(s, orc, (int)i, "crystal %zu: setpoint %.4f C not sent: %s",
                  i, value_c, shp_error_detail());
  }
  int rc = o->lab->driver->oven_set(o->dev, o->lab->channel, value_c);
  if (rc != SHP_OK)
    return trip(s, rc, (int)i, "crystal %zu: %s", i, shp_error_detail());
  o->commanded_c = value_c;
  o->commanded_s = shp_clock_now_s(s->clock);
  char msg[64];
  snprintf(msg, sizeof msg, "crystal %zu: setpoint %.4f C", i, value_c);
  emit(s, (shp_sup_event){.kind = SHP_SUP_SETPOINT,
                          .crystal = (int)i,
                          .value_c = value_c,
                          .target_c = o->target_c,
                          .message = msg});
  return SHP_OK;
}

/* The next software ramp step: as far toward the target as the allowed
 * rate permits over the time since the last setpoint. */
static int ramp_step(shp_supervisor *s, size_t i) {
  sup_oven *o = &s->ovens[i];
  double now = shp_clock_now_s(s->clock);
  double max_step = o->lab->max_ramp_k_per_min / 60.0 * (now - o->commanded_s);
  double delta = o->target_c - o->commanded_c;
  if (fabs(delta) <= max_step) {
    o->ramping = false;
    return send_setpoint(s, i, o->target_c);
  }
  if (max_step <= 0)
    return SHP_OK;
  return send_setpoint(s, i, o->commanded_c + copysign(max_step, delta));
}

int shp_supervisor_request(shp_supervisor *s, size_t crystal,
                           double setpoint_c) {
  if (crystal >= s->oven_count)
    return shp_error_set(SHP_ERR_INVALID, "no crystal %zu (the lab has %zu)",
                         crystal, s->oven_count);
  if (s->tripped)
    return latched(s);
  if (s->cancel) /* nothing new starts once a stop is asked for */
    return trip(s, SHP_ERR_CANCELLED, -1, "stopped on request");
  sup_oven *o = &s->ovens[crystal];
  const shp_lab_oven *l = o->lab;
  if (!(setpoint_c >= l->min_c && setpoint_c <= l->max_c))
    return shp_error_set(SHP_ERR_SAFETY,
                         "crystal %zu: setpoint %g C refused: outside the "
                         "limits %g to %g C",
                         crystal, setpoint_c, l->min_c, l->max_c);
  int rc = read_oven(s, crystal);
  if (rc != SHP_OK)
    return rc;
  o->target_c = setpoint_c;
  o->pending = true;
  o->settled = false;
  o->in_band_s = NAN;
  if (l->driver->oven_set_ramp != NULL) {
    rc = l->driver->oven_set_ramp(o->dev, l->channel, l->max_ramp_k_per_min);
    if (rc != SHP_OK)
      return trip(s, rc, (int)crystal, "crystal %zu: %s", crystal,
                  shp_error_detail());
    return send_setpoint(s, crystal, setpoint_c);
  }
  /* The ramp starts from the instrument's setpoint, now. */
  o->commanded_s = shp_clock_now_s(s->clock);
  o->ramping = true;
  return ramp_step(s, crystal);
}

double shp_supervisor_budget_s(shp_supervisor *s, size_t crystal,
                               double setpoint_c) {
  const sup_oven *o = &s->ovens[crystal < s->oven_count ? crystal : 0];
  double from = o->known ? o->commanded_c : setpoint_c;
  return fabs(setpoint_c - from) / o->lab->max_ramp_k_per_min * 60.0 +
         o->lab->settle_time_s + 600.0;
}

/* ---- polling --------------------------------------------------------------
 */

static void progress(shp_supervisor *s, size_t i) {
  const sup_oven *o = &s->ovens[i];
  char msg[128];
  snprintf(msg, sizeof msg,
           "crystal %zu: %.3f C, setpoint %.3f C, target %.3f C", i,
           o->status.reading.actual_c, o->commanded_c, o->target_c);
  emit(s, (shp_sup_event){.kind = SHP_SUP_PROGRESS,
                          .crystal = (int)i,
                          .value_c = o->status.reading.actual_c,
                          .target_c = o->target_c,
                          .message = msg});
}

int shp_supervisor_step(shp_supervisor *s) {
  if (s->tripped)
    return s->fault.code;
  if (s->cancel)
    return trip(s, SHP_ERR_CANCELLED, -1, "stopped on request");
  for (size_t i = 0; i < s->oven_count; i++) {
    int rc = read_oven(s, i);
    if (rc != SHP_OK)
      return rc;
  }
  for (size_t i = 0; i < s->oven_count; i++) {
    if (s->ovens[i].ramping) {
      int rc = ramp_step(s, i);
      if (rc != SHP_OK)
        return rc;
    }
    if (s->ovens[i].pending)
      progress(s, i);
  }
  return SHP_OK;
}

static bool all_done(const shp_supervisor *s, bool settle) {
  for (size_t i = 0; i < s->oven_count; i++)
    if (s->ovens[i].ramping || (settle && s->ovens[i].pending))
      return false;
  return true;
}

void shp_supervisor_wait_begin(shp_supervisor *s, bool settle, double timeout_s,
                               shp_sup_wait *w) {
  w->settle = settle;
  w->timeout_s = timeout_s;
  w->end_s = shp_clock_now_s(s->clock) + timeout_s;
}

int shp_supervisor_wait_step(shp_supervisor *s, const shp_sup_wait *w,
                             bool *done) {
  *done = false;
  int rc = shp_supervisor_step(s);
  if (rc != SHP_OK)
    return rc;
  if (all_done(s, w->settle)) {
    *done = true;
    return SHP_OK;
  }
  if (shp_clock_now_s(s->clock) >= w->end_s)
    return trip(s, SHP_ERR_TIMEOUT, -1, "the ovens did not %s within %g s",
                w->settle ? "settle" : "reach their setpoints", w->timeout_s);
  shp_clock_sleep_s(s->clock, s->poll_s);
  return SHP_OK;
}

int shp_supervisor_wait(shp_supervisor *s, bool settle, double timeout_s) {
  shp_sup_wait w;
  shp_supervisor_wait_begin(s, settle, timeout_s, &w);
  bool done = false;
  int rc;
  while ((rc = shp_supervisor_wait_step(s, &w, &done)) == SHP_OK && !done)
    ;
  return rc;
}

/* ---- the autocorrelator ----------------------------------------------------
 */

int shp_supervisor_acquire(shp_supervisor *s, size_t averages,
                           const shp_trace **trace) {
  const shp_lab_autocorrelator *a = &s->lab->autocorrelator;
  int rc = shp_supervisor_step(s);
  if (rc != SHP_OK)
    return rc;
  s->trace.count = 0;
  rc = a->driver->acquire(s->ac_dev, averages ? averages : a->averages,
                          &s->trace);
  if (rc != SHP_OK)
    return trip(s, rc, -1, "autocorrelator: %s", shp_error_detail());
  for (size_t k = 0; k < s->trace.count; k++)
    s->trace.delay_ps[k] =
        a->delay_scale * s->trace.delay_ps[k] + a->delay_offset_ps;
  *trace = &s->trace;
  return SHP_OK;
}
