/* Inside the loop's decisions: shared by reach.c and decide.c. */
#ifndef SHP_DECIDE_PRIVATE_H
#define SHP_DECIDE_PRIVATE_H

#include "shp/stack.h"
#include "shp/target.h"

#include <stddef.h>

/* Optimise the crystal temperatures of stack towards target within the
 * limits (NULL: none), deterministic for the seed, from the stack's own
 * temperatures and starts - 1 others (0: the default): the best temperatures
 * (crystal_count), the error and transmission there, and the model's
 * evaluations. */
int decide_optimise_temperatures(const shp_stack *stack,
                                 const shp_target *target, const double *lo_c,
                                 const double *hi_c, unsigned long seed,
                                 size_t starts, double stop_below_error,
                                 double *temps_c, double *error,
                                 double *transmission, size_t *evaluations);

#endif
