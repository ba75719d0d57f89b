/* Network synthesis of ideal stacks of equal plates (synthesis.h): what
 * its sources share; not installed.
 *
 * The forward model multiplies polynomial Jones vectors. Synthesis follows
 * Harris, Ammann and Chang, JOSA 54, 1267 (1964): the complementary
 * polynomial B comes from spectral factorisation of 1 - |A|^2, then the
 * plates are peeled one at a time from the output end, each peel being the
 * one rotation that makes the e component divisible by z and the o
 * component one degree lower. The double pass searches the root selections
 * for a network that reads the same both ways; the fit is Levenberg-
 * Marquardt on intensity residuals. */
#ifndef SHP_SYNTH_PRIVATE_H
#define SHP_SYNTH_PRIVATE_H

#include "shp/synthesis.h"

#include <complex.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_PASSES (2 * SHP_SYNTH_MAX_PLATES)
#define MAX_TAPS (MAX_PASSES + 1)
/* Points on the unit circle where |B|^2 is matched to 1 - |A|^2. */
#define NORM_POINTS 64

typedef struct {
  size_t deg;
  double complex c[3];
} factor;

/* The complementary polynomials of one A. Every B with |B|^2 = 1 - |A|^2 on
 * the unit circle is, up to a unimodular constant, c times one root of each
 * reciprocal pair (r, 1/conj(r)) of z^m (1 - |A|^2): roots on the circle
 * come in double pairs and leave no choice (fixed factors); the others give
 * two options per group (the inside root or its reflection, with its
 * conjugate for real taps; or a root at 0 or at infinity). */
typedef struct {
  size_t m;
  bool real; /* real taps: keep B real */
  bool zero; /* |A| = 1 everywhere: B = 0 */
  double complex a[MAX_TAPS];
  factor fixed[MAX_TAPS];
  size_t n_fixed;
  factor opt[MAX_TAPS][2];
  size_t n_groups;
  double complex zs[NORM_POINTS];
  double d[NORM_POINTS]; /* 1 - |A(zs)|^2 */
} complement;

/* synth-model.c: the forward model and the gain on the unit circle. */
int synth_check_taps(const double complex *a, size_t count);
void synth_autocorr(const double complex *a, size_t count, double complex *r);
int synth_check_gain(const double complex *a, size_t count);

/* synth-roots.c: the complementary polynomial. */
int synth_prepare(complement *cp, const double complex *a, size_t m,
                  double *alpha);
void synth_build_b(const complement *cp, unsigned long mask, double complex *b);

/* synth-peel.c: peeling, polishing and checking, single-pass synthesis. */
double synth_reduce_half(double p);
int synth_run_lm(gsl_multifit_nlinear_fdf *fdf, double *x, size_t maxiter,
                 size_t *iterations);
double synth_tap_error(const shp_synth_stack *s, const double complex *a,
                       double phase);
void synth_polish(shp_synth_stack *s, const double complex *a);
void synth_stack_init(shp_synth_stack *s, size_t n, bool double_pass);
int synth_check_request(const double complex *a, size_t n, size_t count,
                        const shp_synth_stack *stack);

#endif
