/* A body of straight-line code run in steps: the body runs on a private
 * thread only between a caller's stepper_resume and the body's next
 * stepper_yield (or its end), so the caller and the body never run at the
 * same time and the body's state needs no locks. It lets the loop and the
 * calibration keep their control flow (a model-free search inside GSL's
 * minimiser, a journal replay) while the caller steps them one event at a
 * time. */
#ifndef SHP_STEPPER_H
#define SHP_STEPPER_H

#include "shp/run.h"
#include "shp/supervisor.h"

#include <stdbool.h>

typedef struct stepper stepper;

/* The body; its return is the machine's code, the thread's error detail
 * travels back with it. */
typedef int (*stepper_body)(stepper *s, void *user);

/* NULL (with the error set) when the thread cannot be started. Nothing
 * runs until the first resume. */
stepper *stepper_new(stepper_body body, void *user);

/* Run the body until it yields (true) or returns (false; then the body's
 * code and error detail are set on the calling thread by stepper_code). */
bool stepper_resume(stepper *s);

/* From the body: hand control back to the caller until the next resume. */
void stepper_yield(stepper *s);

/* After resume returned false: the body's code, its error set on the
 * calling thread when not SHP_OK. */
int stepper_code(const stepper *s);

bool stepper_finished(const stepper *s);

/* A stepper never resumed ends without running its body; one resumed
 * must be driven to its end by its owner first (else this resumes it to
 * the end). */
void stepper_free(stepper *s);

/* ---- a machine: the run's and the calibration's common caller side ---- */

/* A body that reports each event through machine_event(e, machine) and
 * yields there, and the caller who steps it. */
typedef struct {
  stepper *steps;
  shp_supervisor *sup;
  shp_run_event event; /* the body's last; while the body waits in its
                          yield, what it points to is the body's */
  bool started, terminal;
  char message[512]; /* a terminal event's, kept past the body's end */
} machine;

/* body(user) on a new stepper; false (the error set) when it cannot
 * start. */
bool machine_init(machine *m, shp_supervisor *sup, stepper_body body,
                  void *user);
/* The body's progress callback (user: the machine): keep the event and
 * hand control back to the caller. */
void machine_event(const shp_run_event *e, void *user);
/* One step: the body runs to its next event. A body that ends without a
 * terminal event ends STOPPED with its code. Once terminal, the event
 * points to nothing of the body's after the body has ended. */
shp_run_event_kind machine_step(machine *m, shp_run_event *ev);
/* After a terminal event: the body run to its end; its code. */
int machine_finish(machine *m);
/* Started and not at its end: cancelled and stepped to it (the next step
 * that touches the lab sees the cancel). Then the stepper is freed. */
void machine_free(machine *m);

#endif
