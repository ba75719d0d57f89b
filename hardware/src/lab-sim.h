/* The simulated lab's parameters as read from a lab file's `sim:` section.
 * Private to the hardware library: lab.c fills it and the sim driver reads
 * it; nothing on the controller side includes this header (the hidden
 * errors must stay hidden). */
#ifndef SHP_LAB_SIM_H
#define SHP_LAB_SIM_H

#include "shp/lab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SHP_SIM_FAULT_TIMEOUT,
  SHP_SIM_FAULT_DISCONNECT,
  SHP_SIM_FAULT_STUCK_SENSOR,
  SHP_SIM_FAULT_GARBAGE
} shp_sim_fault_kind;

/* From sim time at_s on, calls on the target fail (or, for a stuck sensor,
 * its reading stops changing). crystal < 0 is the autocorrelator. */
typedef struct {
  shp_sim_fault_kind kind;
  double at_s;
  int crystal;
} shp_sim_fault;

/* A per-crystal error: given explicitly (values) or drawn from the seed
 * with standard deviation sigma. */
typedef struct {
  double *values; /* crystal_count entries, or NULL */
  double sigma;
} shp_sim_error;

struct shp_lab_sim {
  unsigned long seed;
  shp_sim_error phase_offset_rad, azimuth_error_deg, length_error_um;
  shp_sim_error slope_error_rel; /* of the material model's phase per K */
  double noise;                  /* relative to the trace's peak, per scan */
  double background;             /* added to every sample */
  double scan_range_ps;          /* full span, centred on zero delay */
  size_t points;
  double scan_time_s;     /* sim time one scan takes */
  double time_constant_s; /* first-order thermal lag of every oven */
  double sensor_noise_k;  /* standard deviation of a reading */
  double speedup;         /* of the lab's clock */
  double *start_c;        /* crystal_count start temperatures */
  shp_sim_fault *faults;
  size_t fault_count;
  /* Persistence across processes (shp_lab_sim_persist): the state file,
   * or NULL for a lab that starts afresh at every open, and the hash of
   * the lab's content the state belongs to. */
  char *state_path;
  uint64_t state_key;
};

/* The defaults for a stack of n crystals (start at the stack's temperatures,
 * errors drawn from seed 1); NULL when out of memory. */
shp_lab_sim *shp_lab_sim_new(size_t n, const shp_stack *stack);
void shp_lab_sim_free(shp_lab_sim *s);

/* The true stack for these sim parameters (see shp_lab_sim_truth). */
shp_stack *shp_lab_sim_truth_of(const shp_lab *lab, const shp_lab_sim *p);

/* Read a lab file's sim mapping over the defaults in sim. Errors name the
 * file, line and key. */
int shp_lab_read_sim(shp_yaml *y, yaml_node_t *map, shp_lab_sim *sim,
                     size_t crystal_count);

#endif
