/* Lab files: which oven holds which crystal of a stack, with the limits the
 * safety supervisor enforces, which autocorrelator reads the result, and (for
 * the simulated lab) what the simulation hides from the controller.
 *
 *   stack: ../stacks/fan4.yml         # relative to the lab file
 *   ovens:                            # one per crystal, in beam order
 *     - driver: sim
 *       connection: {kind: sim}       # tty: port, baud; usb: vendor,
 *       channel: 0                    #   product, serial; tcp: host,
 *       min_c: 20.0                   #   tcp_port; all: timeout_s
 *       max_c: 120.0
 *       max_ramp_k_per_min: 10.0
 *       settle_tolerance_k: 0.05
 *       settle_time_s: 20.0
 *       options: {}                   # optional, the driver's own
 *   autocorrelator:
 *     driver: sim
 *     connection: {kind: sim}
 *     averages: 4
 *     delay_calibration: {scale: 1.0, offset_ps: 0.0}
 *   sim: {...}                        # optional: see hardware/drivers/sim
 *
 * Every error names the file, line and key, as for stack files. Every
 * number has a stated physical range (the list is atop hardware/src/lab.c,
 * and in README.md), checked before it is used. */
#ifndef SHP_LAB_H
#define SHP_LAB_H

#include "shp/hw.h"
#include "shp/stack.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One oven channel and the limits of the crystal it holds. */
typedef struct {
  const shp_driver *driver;
  shp_connection connection; /* strings owned by the lab */
  int channel;
  double min_c, max_c;
  double max_ramp_k_per_min;
  double settle_tolerance_k;
  double settle_time_s;
  yaml_node_t *options; /* in the lab's YAML document, or NULL */
} shp_lab_oven;

typedef struct {
  const shp_driver *driver;
  shp_connection connection;
  size_t averages;
  /* The instrument's delay axis d maps to scale * d + offset_ps. */
  double delay_scale, delay_offset_ps;
  yaml_node_t *options;
} shp_lab_autocorrelator;

/* The simulated lab's parameters, hidden errors included. Opaque on
 * purpose: the controller side must learn the truth only from readings and
 * traces, never by looking inside the lab. */
typedef struct shp_lab_sim shp_lab_sim;

typedef struct {
  char *path;          /* the lab file, or NULL for a built-in lab */
  char *stack_path;    /* as resolved against the lab file */
  shp_stack *stack;    /* owned */
  shp_lab_oven *ovens; /* stack->crystal_count entries, one per crystal */
  size_t oven_count;
  shp_lab_autocorrelator autocorrelator;
  shp_lab_sim *sim; /* NULL when the file has no sim section */
  shp_yaml *yaml;   /* kept for the drivers' options; NULL when built in */
} shp_lab;

/* Read a lab file and the stack it names. Returns NULL with
 * shp_error_detail() "lab.yml:LINE: key.path: message" (SHP_ERR_PARSE,
 * SHP_ERR_RANGE, SHP_ERR_NOT_FOUND for an unknown driver, SHP_ERR_IO).
 * Owned by the caller: shp_lab_free. */
shp_lab *shp_lab_load(const char *path);

/* The built-in simulated lab for a stack file: a sim oven per crystal
 * (limits 15..150 C, 10 K/min, settle 0.05 K for 10 s, starting at the
 * stack's temperatures), a sim autocorrelator, hidden errors drawn from seed
 * 1 and a clock speedup of 120. Errors as shp_stack_load. */
shp_lab *shp_lab_default_sim(const char *stack_path);

void shp_lab_free(shp_lab *lab);

/* The simulated lab's true stack: the stack file with the hidden errors
 * (phase offsets, azimuth and length errors) applied, as the sim driver
 * builds it. For showing what the light really did, after a run, and for
 * tests: the closed loop never calls it. Returns NULL with
 * shp_error_detail() (SHP_ERR_INVALID for a lab with no simulated devices).
 * Owned by the caller: shp_stack_free. */
shp_stack *shp_lab_sim_truth(const shp_lab *lab);

/* The clock a lab runs on: when every device uses the sim driver, the
 * speedup of its sim section (>= 0, see shp_clock_new_sim); otherwise -1,
 * meaning real time. */
double shp_lab_sim_speedup(const shp_lab *lab);

/* ---- the simulated lab across processes ----------------------------------
 *
 * Real ovens keep their setpoints and temperatures between two commands;
 * a simulated lab forgets them when its process ends, unless its user opts
 * in here (shapectl's hw commands do; shp_run, calibrations, tests and
 * benchmarks do not, so they stay deterministic). The state (each sim
 * oven's setpoint, temperature and sensor, and the lab's time) is kept in
 * a small file under the user's state directory,
 *
 *   ${XDG_STATE_HOME:-~/.local/state}/shaper/sim/HASH.state
 *
 * HASH naming the lab file's absolute path (for a built-in lab, its stack
 * file's). The file also records a hash of the lab's and the stack's
 * content: a lab changed since starts afresh. On open, the ovens are moved
 * on by the wall time elapsed since the state was written, at the lab's
 * speedup; the state is written atomically when setpoints change and when
 * the devices close. */

/* The state file of lab into buf. Returns SHP_OK, or SHP_ERR_INVALID (no
 * $XDG_STATE_HOME or $HOME, or the path does not fit in size),
 * SHP_ERR_FILE (the lab or stack file cannot be resolved). */
int shp_lab_sim_state_path(const shp_lab *lab, char *buf, size_t size);

/* Opt in: the sim devices opened on lab from now on continue from its
 * state file (or start afresh when there is none, or the lab changed), and
 * keep it. Errors as shp_lab_sim_state_path, SHP_ERR_NOMEM, SHP_ERR_FILE
 * (the lab or stack file cannot be read to hash it). A state file that
 * cannot be read or parsed is reported when the devices open. */
int shp_lab_sim_persist(shp_lab *lab);

/* Forget lab's state: its next persistent open starts afresh. Returns
 * SHP_OK (also when there was none), the errors of shp_lab_sim_state_path,
 * or SHP_ERR_WRITE (the file cannot be removed). */
int shp_lab_sim_reset(const shp_lab *lab);

#ifdef __cplusplus
}
#endif
#endif
