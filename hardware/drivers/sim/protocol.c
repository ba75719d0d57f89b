/* The simulated instruments: ovens with a first-order thermal lag and a
 * noisy sensor, an autocorrelator that measures the true stack, and the
 * faults a lab file injects. */
#include "protocol.h"

#include "shp/error.h"
#include "shp/simulation.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the true stack ------------------------------------------------------ */

/* The stack file with the hidden errors applied: what the light really
 * goes through. Kept only here, on the instrument side. */
static int make_truth(shp_device *d) {
  d->truth = shp_lab_sim_truth_of(d->lab, d->p);
  return d->truth ? SHP_OK : shp_error_last();
}

/* ---- lifecycle ----------------------------------------------------------- */

int sim_device_init(shp_device *d, const shp_lab *lab, shp_clock *clock,
                    double timeout_s) {
  memset(d, 0, sizeof *d);
  d->clock = clock;
  d->lab = lab;
  d->p = lab->sim;
  if (d->p == NULL &&
      (d->p = d->own_p = shp_lab_sim_new(lab->oven_count, lab->stack)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  d->timeout_s = timeout_s;
  d->oven_count = lab->oven_count;
  d->ovens = calloc(d->oven_count, sizeof *d->ovens);
  d->noise = gsl_rng_alloc(gsl_rng_mt19937);
  d->ac_noise = gsl_rng_alloc(gsl_rng_mt19937);
  d->ac_setpoints = calloc(d->oven_count, sizeof *d->ac_setpoints);
  d->ac = calloc(d->p->points, sizeof *d->ac);
  d->ac_sum = calloc(d->p->points, sizeof *d->ac_sum);
  if (d->ovens == NULL || d->noise == NULL || d->ac == NULL ||
      d->ac_noise == NULL || d->ac_setpoints == NULL || d->ac_sum == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  /* A seed of its own, so the noise never shifts the hidden errors. */
  gsl_rng_set(d->noise, d->p->seed + 1);
  double now = shp_clock_now_s(clock);
  for (size_t i = 0; i < d->oven_count; i++)
    d->ovens[i] = (sim_oven){.setpoint_c = d->p->start_c[i],
                             .temperature_c = d->p->start_c[i],
                             .updated_s = now,
                             .output_on = true};
  int rc = d->p->state_path != NULL ? sim_state_load(d) : SHP_OK;
  if (rc == SHP_OK)
    rc = make_truth(d);
  d->ready = rc == SHP_OK;
  return rc;
}

void sim_device_clear(shp_device *d) {
  shp_stack_free(d->truth);
  gsl_rng_free(d->noise);
  gsl_rng_free(d->ac_noise);
  free(d->ac_setpoints);
  free(d->ovens);
  free(d->ac);
  free(d->ac_sum);
  shp_lab_sim_free(d->own_p);
}

/* ---- faults -------------------------------------------------------------- */

int sim_crystal_of_channel(shp_device *d, int channel) {
  for (size_t i = 0; i < d->lab->oven_count; i++)
    if (d->lab->ovens[i].channel == channel &&
        strcmp(d->lab->ovens[i].driver->name, "sim") == 0)
      return (int)i;
  shp_error_set(SHP_ERR_INVALID, "sim: no oven on channel %d", channel);
  return -1;
}

static const char *target_name(int crystal, char *buf, size_t size) {
  if (crystal < 0)
    return "autocorrelator";
  snprintf(buf, size, "oven of crystal %d", crystal);
  return buf;
}

int sim_check_fault(shp_device *d, int crystal) {
  double now = sim_now_s(d);
  char name[48];
  for (size_t k = 0; k < d->p->fault_count; k++) {
    const shp_sim_fault *f = &d->p->faults[k];
    if (f->crystal != crystal || f->at_s > now)
      continue;
    const char *who = target_name(crystal, name, sizeof name);
    switch (f->kind) {
    case SHP_SIM_FAULT_TIMEOUT:
      /* A real instrument makes the caller wait the whole timeout. */
      shp_clock_sleep_s(d->clock, d->timeout_s);
      return shp_error_set(SHP_ERR_TIMEOUT, "sim: %s: no answer in %g s", who,
                           d->timeout_s);
    case SHP_SIM_FAULT_DISCONNECT:
      return shp_error_set(SHP_ERR_DISCONNECTED, "sim: %s: disconnected", who);
    case SHP_SIM_FAULT_GARBAGE:
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "sim: %s: unparsable reply \"\\x1b#?~\"", who);
    case SHP_SIM_FAULT_STUCK_SENSOR: {
      /* A stuck sensor repeats the last value it gave (a fresh one when it
       * never gave any), so the supervisor must notice that it stopped
       * following the setpoint. The reading is taken before the oven is
       * marked stuck: marked first, it would be the unset 0 C. */
      sim_oven *o = &d->ovens[crystal];
      if (!o->stuck) {
        double last = o->has_reading ? o->last_reading_c
                                     : sim_oven_sense(d, (size_t)crystal);
        o->stuck_reading_c = last;
        o->stuck = true;
      }
      break;
    }
    }
  }
  return SHP_OK;
}

/* ---- ovens --------------------------------------------------------------- */

void sim_oven_advance(shp_device *d, size_t crystal) {
  sim_oven *o = &d->ovens[crystal];
  double now = shp_clock_now_s(d->clock), dt = now - o->updated_s;
  if (dt <= 0)
    return;
  /* An oven with its output off relaxes toward no setpoint of its own; the
   * sim never turns one off, so only the on case is modelled. */
  o->temperature_c = o->setpoint_c + (o->temperature_c - o->setpoint_c) *
                                         exp(-dt / d->p->time_constant_s);
  o->updated_s = now;
}

double sim_oven_sense(shp_device *d, size_t crystal) {
  sim_oven_advance(d, crystal);
  if (d->ovens[crystal].stuck)
    return d->ovens[crystal].stuck_reading_c;
  double sigma = d->p->sensor_noise_k;
  sim_oven *o = &d->ovens[crystal];
  o->last_reading_c =
      o->temperature_c + (sigma > 0 ? gsl_ran_gaussian(d->noise, sigma) : 0.0);
  o->has_reading = true;
  return o->last_reading_c;
}

/* ---- the autocorrelator -------------------------------------------------- */

/* The simulated autocorrelation at delay tau, linear between its samples
 * and zero beyond its window. */
static double ac_at(const shp_simulation *s, double tau) {
  size_t n2 = 2 * s->n;
  double dt = s->delay_ps[s->n + 1] - s->delay_ps[s->n];
  double x = (tau - s->delay_ps[0]) / dt;
  if (!(x >= 0) || x >= (double)(n2 - 1))
    return 0.0;
  size_t j = (size_t)x;
  double f = x - (double)j;
  return (1 - f) * s->autocorrelation[j] + f * s->autocorrelation[j + 1];
}

static double scan_delay_ps(const shp_lab_sim *p, size_t k) {
  return -0.5 * p->scan_range_ps +
         p->scan_range_ps * (double)k / (double)(p->points - 1);
}

/* One trace of the true stack at the ovens' true temperatures, peak 1. */
static int true_trace(shp_device *d) {
  for (size_t i = 0; i < d->oven_count; i++) {
    sim_oven_advance(d, i);
    d->truth->crystals[i].temperature_c = d->ovens[i].temperature_c;
  }
  shp_simulation *s = shp_simulate(d->truth, NULL, false);
  if (s == NULL)
    return shp_error_prefix("sim: autocorrelator: ");
  for (size_t k = 0; k < d->p->points; k++)
    d->ac[k] = ac_at(s, scan_delay_ps(d->p, k));
  shp_simulation_free(s);
  return SHP_OK;
}

/* FNV-1a over the seed, the setpoints (to a microkelvin) and the count of
 * traces taken at them. */
static void seed_trace_noise(shp_device *d) {
  bool same = true;
  for (size_t i = 0; i < d->oven_count; i++)
    same = same && d->ac_setpoints[i] == d->ovens[i].setpoint_c;
  d->ac_count = same ? d->ac_count + 1 : 0;
  uint64_t h = 1469598103934665603u;
  uint64_t words[3] = {d->p->seed, d->ac_count, 0};
  for (size_t i = 0; i < d->oven_count + 2; i++) {
    uint64_t w =
        i < 2 ? words[i] : (uint64_t)llround(d->ovens[i - 2].setpoint_c * 1e6);
    for (int b = 0; b < 8; b++) {
      h ^= (w >> (8 * b)) & 0xffu;
      h *= 1099511628211u;
    }
  }
  for (size_t i = 0; i < d->oven_count; i++)
    d->ac_setpoints[i] = d->ovens[i].setpoint_c;
  gsl_rng_set(d->ac_noise, (unsigned long)(h ^ (h >> 32)));
}

int sim_acquire(shp_device *d, size_t averages, shp_trace *trace) {
  const shp_lab_sim *p = d->p;
  const shp_lab_autocorrelator *a = &d->lab->autocorrelator;
  int rc = sim_check_fault(d, -1);
  if (rc != SHP_OK)
    return rc;
  if (trace->capacity < p->points || averages == 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "sim: a trace of %zu samples does not hold a scan "
                         "of %zu, or no scans were asked for",
                         trace->capacity, p->points);
  if ((rc = true_trace(d)) != SHP_OK)
    return rc;
  seed_trace_noise(d);
  memset(d->ac_sum, 0, p->points * sizeof *d->ac_sum);
  for (size_t scan = 0; scan < averages; scan++) {
    shp_clock_sleep_s(d->clock, p->scan_time_s);
    if ((rc = sim_check_fault(d, -1)) != SHP_OK)
      return rc;
    for (size_t k = 0; k < p->points; k++)
      d->ac_sum[k] +=
          d->ac[k] + p->background +
          (p->noise > 0 ? gsl_ran_gaussian(d->ac_noise, p->noise) : 0);
  }
  /* The instrument's own delay axis, which the lab's calibration maps back
   * to picoseconds: delay_ps = scale * d + offset_ps. */
  for (size_t k = 0; k < p->points; k++) {
    trace->delay_ps[k] =
        (scan_delay_ps(p, k) - a->delay_offset_ps) / a->delay_scale;
    trace->signal[k] = d->ac_sum[k] / (double)averages;
  }
  trace->count = p->points;
  return SHP_OK;
}
