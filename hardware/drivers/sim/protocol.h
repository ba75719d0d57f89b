/* The sim driver's private state: the "instrument" side of the simulated
 * lab. protocol.c is the physics (thermal lag, sensor, autocorrelator) and
 * the fault injection; api.c is the driver table. */
#ifndef SHP_SIM_PROTOCOL_H
#define SHP_SIM_PROTOCOL_H

#include "lab-sim.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/stack.h"

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  double setpoint_c;
  double temperature_c; /* the crystal's true temperature at updated_s */
  double updated_s;
  bool output_on;
  bool stuck; /* the sensor froze at stuck_reading_c */
  double stuck_reading_c;
  bool has_reading; /* last_reading_c is the last value the sensor gave */
  double last_reading_c;
} sim_oven;

struct shp_device {
  shp_clock *clock; /* borrowed */
  const shp_lab *lab;
  const shp_lab_sim *p;
  shp_lab_sim *own_p; /* the defaults, when the lab has no sim section */
  double timeout_s;
  sim_oven *ovens; /* one per crystal */
  size_t oven_count;
  gsl_rng *noise; /* sensor noise */
  /* Trace noise: seeded from the lab's seed, the ovens' setpoints and how
   * many traces were taken at them, so that a run resumed in a new process
   * sees the noise the interrupted one would have seen. */
  gsl_rng *ac_noise;
  double *ac_setpoints; /* the setpoints the count is for */
  unsigned long ac_count;
  shp_stack *truth; /* the stack as it really is */
  double *ac;       /* points, one scan */
  double *ac_sum;   /* points, the running sum over scans */
  /* The lab's time is t0_s + the clock's: a persistent lab (state.c)
   * continues from the time it was saved at. */
  double t0_s;
  double saved_wall_s; /* when the state file was last written, or 0 */
  bool ready;          /* fully opened: its state is worth saving */
};

/* Build the simulated instruments for lab (hidden errors applied to a
 * private copy of its stack). Errors: SHP_ERR_NOMEM, the stack's. */
int sim_device_init(shp_device *d, const shp_lab *lab, shp_clock *clock,
                    double timeout_s);
void sim_device_clear(shp_device *d);

/* The injected fault in force now on a crystal's oven (crystal >= 0) or the
 * autocorrelator (-1) as its error code, with the instrument's behaviour
 * (a timeout takes timeout_s of clock time). SHP_OK when none. A stuck
 * sensor is not an error: it marks the oven stuck. */
int sim_check_fault(shp_device *d, int crystal);

/* The crystal a channel drives, or -1 (SHP_ERR_INVALID is then recorded). */
int sim_crystal_of_channel(shp_device *d, int channel);

/* Move a crystal's true temperature to the clock's now: the exact solution
 * of dT/dt = (T_set - T) / tau for a setpoint constant since the last
 * update, T(t) = T_set + (T0 - T_set) exp(-t / tau). */
void sim_oven_advance(shp_device *d, size_t crystal);

/* A sensor reading: the true temperature plus Gaussian noise. */
double sim_oven_sense(shp_device *d, size_t crystal);

/* One averaged trace of the true stack at the ovens' true temperatures. */
int sim_acquire(shp_device *d, size_t averages, shp_trace *trace);

/* The lab's time: faults strike at it (state.c). */
double sim_now_s(shp_device *d);
/* Unix time in seconds (CLOCK_REALTIME). */
double sim_wall_s(void);

/* For a lab with a state file (shp_lab_sim_persist): load restores the
 * saved ovens moved on by the wall time since (no file, or one of a lab
 * since changed, leaves the fresh start); save writes them atomically.
 * Errors: load SHP_ERR_FILE, SHP_ERR_PARSE "STATE:LINE: ..."; save
 * SHP_ERR_WRITE. */
int sim_state_load(shp_device *d);
int sim_state_save(shp_device *d);

#endif
