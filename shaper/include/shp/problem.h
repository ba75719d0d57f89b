/* An optimisation problem on the full physical model: which values of a
 * stack vary, within which bounds, and how far the result is from a target.
 *
 * Variables, chosen per run: each crystal's temperature (within its allowed
 * range and one phase period around the start, since the o/e phase repeats
 * with the period the material model gives), each crystal's azimuth (one
 * half-turn around the start), the input and output polarizer angles, and
 * for design the lengths (within a relative range, optionally rounded to a
 * catalogue step afterwards).
 *
 * Objective, to be minimised:
 *   f = e^2 + w_T (1 - T)^2 + w_r max(0, ripple - ripple_max)^2
 * with e the relative RMS error against the target after the best shift and
 * scale (shp_diag_metrics), T the energy transmission and the ripple over
 * the target's plateau. f is also the sum of squares of a residual vector,
 * for Levenberg-Marquardt.
 *
 * Evaluation allocates nothing: every workspace is made with the problem.
 * One problem serves one thread. */
#ifndef SHP_PROBLEM_H
#define SHP_PROBLEM_H

#include "shp/diag.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SHP_VARY_TEMPERATURE = 1u << 0,
  SHP_VARY_AZIMUTH = 1u << 1,
  SHP_VARY_INPUT_POLARIZER = 1u << 2,
  SHP_VARY_OUTPUT_POLARIZER = 1u << 3, /* when the stack has one */
  SHP_VARY_POLARIZER = SHP_VARY_INPUT_POLARIZER | SHP_VARY_OUTPUT_POLARIZER,
  SHP_VARY_LENGTH = 1u << 4
};

typedef struct {
  const shp_stack *stack;     /* structure and starting point; borrowed */
  const shp_target *target;   /* borrowed */
  unsigned vary;              /* SHP_VARY_* bits */
  double weight_transmission; /* w_T >= 0 */
  double ripple_max;          /* <= 0: no ripple term */
  double weight_ripple;       /* w_r >= 0 */
  /* Allowed crystal temperatures (a lab's limits); NAN = unlimited. */
  double temperature_min_c, temperature_max_c;
  /* Each crystal's own allowed range as well (a lab file's limits), or
   * NULL. */
  const double *crystal_min_c, *crystal_max_c;
  double length_range; /* lengths vary by +- this fraction (0.1) */
  bool no_dispersion;
} shp_problem_spec;

typedef struct shp_problem shp_problem;

/* Make a problem: binds the stack to a grid, samples the target and sizes
 * every workspace. Returns NULL with shp_error_detail() on failure (no
 * variables, bounds that leave no room, grid errors). Owned by the caller. */
shp_problem *shp_problem_new(const shp_problem_spec *spec);
void shp_problem_free(shp_problem *p);

/* Number of variables and of residuals. */
size_t shp_problem_size(const shp_problem *p);
size_t shp_problem_residual_count(const shp_problem *p);

/* Bounds, the start taken from the stack (clamped into the bounds), and a
 * name for variable i such as "crystals[2].temperature_c". */
void shp_problem_bounds(const shp_problem *p, double *lo, double *hi);
void shp_problem_start(const shp_problem *p, double *x);
const char *shp_problem_name(const shp_problem *p, size_t i);
/* The period of variable i when it is periodic (temperature: one full wave
 * of the plate; angles: 180 degrees), else 0. */
double shp_problem_period(const shp_problem *p, size_t i);

/* Hold variable i at value from now on (its bounds become [value, value]):
 * lengths rounded to a catalogue step, say, before the other variables are
 * searched again. Errors: SHP_ERR_INVALID (no such variable, non-finite
 * value). */
int shp_problem_fix(shp_problem *p, size_t i, double value);

/* The objective at x (inside the bounds); NAN if the model fails there. */
double shp_problem_eval(shp_problem *p, const double *x);

/* The residual vector at x: f = sum r^2. Returns SHP_OK or an error code. */
int shp_problem_residuals(shp_problem *p, const double *x, double *r);

/* The gradient of f at x by central differences with a step per variable
 * (1 mK, 1 millidegree, 10 nm): a directional scheme, 2n evaluations. */
int shp_problem_gradient(shp_problem *p, const double *x, double *grad);

/* Metrics of the output at x (the ripple over the target's plateau). */
int shp_problem_metrics(shp_problem *p, const double *x, shp_metrics *m);

/* Number of objective evaluations so far. */
size_t shp_problem_evaluations(const shp_problem *p);

/* Write x into a copy of the stack (values only; the structure is the
 * problem's). */
void shp_problem_apply(const shp_problem *p, const double *x, shp_stack *s);

#ifdef __cplusplus
}
#endif
#endif
