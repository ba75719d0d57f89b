/* The stepper's handoff: one mutex and condition variable, and a turn that
 * says who runs (the caller or the body). */
#include "stepper.h"

#include "shp/error.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct stepper {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t turn_changed;
  bool body_turn; /* the body runs; else the caller */
  bool finished;
  bool started, abandon;
  stepper_body body;
  void *user;
  int code;
  char detail[1024];
};

static void *thread_main(void *arg) {
  stepper *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->body_turn)
    pthread_cond_wait(&s->turn_changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  int code = s->abandon ? SHP_OK : s->body(s, s->user);
  pthread_mutex_lock(&s->lock);
  s->code = code;
  /* The error detail is per thread: carried back to the caller's. */
  snprintf(s->detail, sizeof s->detail, "%s",
           code != SHP_OK ? shp_error_detail() : "");
  s->finished = true;
  s->body_turn = false;
  pthread_cond_broadcast(&s->turn_changed);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

stepper *stepper_new(stepper_body body, void *user) {
  stepper *s = calloc(1, sizeof *s);
  if (s == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  s->body = body;
  s->user = user;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->turn_changed, NULL);
  if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
    pthread_cond_destroy(&s->turn_changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
    shp_error_set(SHP_ERR_NOMEM, "cannot start a thread for the run");
    return NULL;
  }
  return s;
}

bool stepper_resume(stepper *s) {
  pthread_mutex_lock(&s->lock);
  if (!s->finished) {
    s->started = true;
    s->body_turn = true;
    pthread_cond_broadcast(&s->turn_changed);
    while (s->body_turn)
      pthread_cond_wait(&s->turn_changed, &s->lock);
  }
  bool yielded = !s->finished;
  pthread_mutex_unlock(&s->lock);
  if (!yielded && s->code != SHP_OK)
    shp_error_set(s->code, "%s", s->detail);
  return yielded;
}

void stepper_yield(stepper *s) {
  pthread_mutex_lock(&s->lock);
  s->body_turn = false;
  pthread_cond_broadcast(&s->turn_changed);
  while (!s->body_turn)
    pthread_cond_wait(&s->turn_changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
}

int stepper_code(const stepper *s) {
  if (s->code != SHP_OK)
    shp_error_set(s->code, "%s", s->detail);
  return s->code;
}

bool stepper_finished(const stepper *s) { return s->finished; }

void stepper_free(stepper *s) {
  if (s == NULL)
    return;
  if (!s->started)
    s->abandon = true; /* never run: the body is not started at all */
  while (stepper_resume(s))
    ;
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->turn_changed);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* ---- the machine ---------------------------------------------------------
 */

bool machine_init(machine *m, shp_supervisor *sup, stepper_body body,
                  void *user) {
  m->sup = sup;
  m->steps = stepper_new(body, user);
  return m->steps != NULL;
}

void machine_event(const shp_run_event *e, void *user) {
  machine *m = user;
  m->event = *e;
  stepper_yield(m->steps);
}

shp_run_event_kind machine_step(machine *m, shp_run_event *ev) {
  if (!m->terminal) {
    m->started = true;
    if (!stepper_resume(m->steps)) {
      /* Ended before a terminal event (a spec refused): stopped. */
      int rc = stepper_code(m->steps);
      snprintf(m->message, sizeof m->message, "%s", shp_error_detail());
      m->event = (shp_run_event){.kind = SHP_RUN_EV_STOPPED,
                                 .error = NAN,
                                 .predicted_error = NAN,
                                 .code = rc,
                                 .message = m->message};
    }
    if (shp_run_event_terminal(m->event.kind)) {
      m->terminal = true;
      if (m->event.message != m->message)
        snprintf(m->message, sizeof m->message, "%s",
                 m->event.message ? m->event.message : "");
    }
  }
  if (m->terminal) {
    /* Nothing of the body's is pointed to once it has ended. */
    shp_run_event t = {.kind = m->event.kind,
                       .iteration = m->event.iteration,
                       .error = m->event.error,
                       .predicted_error = m->event.predicted_error,
                       .crystal_count = m->event.crystal_count,
                       .code = m->event.code,
                       .message = m->message};
    if (stepper_finished(m->steps))
      m->event = t;
    else
      t = m->event; /* the body waits in its terminal yield: still valid */
    *ev = t;
    return t.kind;
  }
  *ev = m->event;
  return ev->kind;
}

int machine_finish(machine *m) {
  while (stepper_resume(m->steps))
    ;
  return stepper_code(m->steps);
}

void machine_free(machine *m) {
  if (m->started && !m->terminal) {
    shp_supervisor_cancel(m->sup);
    shp_run_event ev;
    while (!shp_run_event_terminal(machine_step(m, &ev)))
      ;
  }
  stepper_free(m->steps);
  m->steps = NULL;
}
