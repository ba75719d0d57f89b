/* A simulated lab's hidden truth for the fit and decision tests: phase,
 * azimuth and length errors per crystal and the input pulse's, applied by a
 * propagator of the test's own (not the fit's model code), and the noisy
 * autocorrelation such a lab would measure. */
#ifndef SHP_TEST_HIDDEN_TRUTH_H
#define SHP_TEST_HIDDEN_TRUTH_H

#include "shp/grid.h"
#include "shp/stack.h"

#include <stddef.h>

#define TRUTH_MAXC 16

typedef struct {
  double phase[TRUTH_MAXC], daz_deg[TRUTH_MAXC], dlen_um[TRUTH_MAXC];
  double width_rel, gdd_fs2;
} truth;

/* A deterministic normal deviate (Box-Muller on an LCG). */
double truth_gauss(unsigned long *s);

/* Errors drawn from seed: phases 1.5 rad, azimuths 0.3 deg, lengths 2 um,
 * pulse width 5 %. */
void random_truth(const shp_stack *s, unsigned long seed, truth *t);

/* The true output intensity on grid g at temps. */
void true_intensity(const shp_stack *s, const shp_grid *g, const truth *t,
                    const double *temps, double *out);

/* A measured autocorrelation at count delays: amplitude 2, background 0.1,
 * absolute noise sigma `noise` drawn from *seed. */
void true_ac(const shp_stack *s, const shp_grid *g, const truth *t,
             const double *temps, const double *delay, size_t count,
             double noise, unsigned long *seed, double *y);

#endif
