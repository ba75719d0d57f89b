/* What the optimizer's tests need beyond its public API. */
#ifndef SHP_OPTIMIZE_PRIVATE_H
#define SHP_OPTIMIZE_PRIVATE_H

#include "shp/optimize.h"

/* Search eval(user, x) instead of the problem's objective, over the same
 * variables and bounds: lets a test hand the search an objective that turns
 * non-finite where it chooses (the physical model almost never does inside
 * its bounds). Call before the first shp_search_iterate. */
void shp_search_set_objective(shp_search *s,
                              double (*eval)(void *user, const double *x),
                              void *user);

#endif
