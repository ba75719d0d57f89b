/* The sim driver's table: the simulated lab as a driver like any other, so
 * every command and the closed loop run against it unchanged. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"

#include <stdlib.h>

static int sim_open(const shp_device_config *cfg, shp_device **out) {
  const shp_lab *lab = cfg->lab;
  if (lab == NULL)
    return shp_error_set(SHP_ERR_INVALID, "sim: needs the lab it simulates");
  shp_device *d = malloc(sizeof *d);
  if (d == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  int rc = sim_device_init(d, lab, cfg->clock, cfg->connection->timeout_s);
  if (rc != SHP_OK) {
    sim_device_clear(d);
    free(d);
    return rc;
  }
  *out = d;
  return SHP_OK;
}

static void sim_close(shp_device *d) {
  if (d == NULL)
    return;
  /* Best effort: close cannot report, and the last setpoint sent was
   * saved already (sim_oven_set), so a failure here loses only the time
   * since. */
  if (d->ready && d->p->state_path != NULL)
    (void)sim_state_save(d);
  sim_device_clear(d);
  free(d);
}

/* The crystal behind a channel, after the faults in force on it. */
static int oven_of(shp_device *d, int channel, int *crystal) {
  *crystal = sim_crystal_of_channel(d, channel);
  if (*crystal < 0)
    return SHP_ERR_INVALID;
  return sim_check_fault(d, *crystal);
}

static int sim_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  int i, rc = oven_of(d, channel, &i);
  if (rc != SHP_OK)
    return rc;
  *r = (shp_oven_reading){.setpoint_c = d->ovens[i].setpoint_c,
                          .actual_c = sim_oven_sense(d, (size_t)i),
                          .output_on = d->ovens[i].output_on};
  return SHP_OK;
}

static int sim_oven_set(shp_device *d, int channel, double setpoint_c) {
  int i, rc = oven_of(d, channel, &i);
  if (rc != SHP_OK)
    return rc;
  /* The lag so far ran toward the old setpoint. */
  sim_oven_advance(d, (size_t)i);
  d->ovens[i].setpoint_c = setpoint_c;
  /* A persistent lab keeps its setpoints as a real oven does, even when
   * the process is killed; at most once a wall second, as a software ramp
   * sends a setpoint every poll. */
  if (d->p->state_path != NULL && !(sim_wall_s() - d->saved_wall_s < 1.0))
    return sim_state_save(d);
  return SHP_OK;
}

static int sim_oven_hold(shp_device *d, int channel) {
  int i;
  /* Holding changes nothing in the sim: the setpoint stays and the output
   * stays on. It still fails like any call on a faulted channel. */
  return oven_of(d, channel, &i);
}

const shp_driver shp_driver_sim = {
    .name = "sim",
    .description = "simulated lab: ovens with thermal lag and an "
                   "autocorrelator of the true stack",
    .roles = SHP_ROLE_OVEN | SHP_ROLE_AUTOCORRELATOR,
    .open = sim_open,
    .close = sim_close,
    .oven_read = sim_oven_read,
    .oven_set = sim_oven_set,
    .oven_set_ramp = NULL, /* the sim ovens have no ramp of their own */
    .oven_hold = sim_oven_hold,
    .acquire = sim_acquire,
};
