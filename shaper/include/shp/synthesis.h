/* Network synthesis for ideal stacks of equal birefringent plates: the
 * transfer polynomial of a stack, the stack that realises a given polynomial
 * (single pass and double pass), and taps fitted to a target waveform.
 *
 * Sources: S. E. Harris, E. O. Ammann and I. C. Chang, "Optical network
 * synthesis using birefringent crystals. I. Synthesis of lossless networks
 * of equal-length crystals", J. Opt. Soc. Am. 54, 1267 (1964); E. O. Ammann,
 * J. Opt. Soc. Am. 56, 943 and 952 (1966); A. Yariv and P. Yeh, Optical
 * Waves in Crystals (Wiley, 1984), ch. 5.
 *
 * Conventions (those of propagator.h, for an ideal stack):
 *
 * - Lab axes x, y. Plate k has its extraordinary axis at theta_k =
 *   azimuth_deg[k] from x; in its own (e, o) frame it acts as
 *   diag(exp(-i delta/2), exp(+i delta/2)), delta = Gamma + phi_k, where
 *   Gamma is the e-o phase difference of one plate (the same for all plates:
 *   they are equal and full-wave at the carrier) and phi_k =
 *   phase_offset_rad[k], as in shp_crystal.phase_offset_rad.
 * - The input is linear along input_polarizer_deg with unit amplitude,
 *   (cos, sin) of that angle: angles 180 degrees apart are the same polarizer
 *   but give taps of opposite sign, and synthesis keeps the sign.
 * - With z = exp(-i Gamma) and M plate passes (n, or 2n for a double pass,
 *   which is the palindromic sequence 1..n, n..1), the field after the stack
 *   is E = z^(-M/2) (A(z) u + B(z) v): u is the analysis axis (the output
 *   polarizer's axis, or lab x when there is none), v is u turned by +90
 *   degrees, A(z) = sum_{k=0}^{M} a_k z^k and B(z) = sum_k b_k z^k. An ideal
 *   output polarizer passes A u and blocks B v.
 * - Since z^k = exp(-i k Gamma) and Gamma(omega) = Gamma_0 + tau (omega -
 *   omega_0) without dispersion, tap a_k is the complex amplitude of the
 *   replica at time (k - M/2) tau in the propagator's centred frame, with tau
 *   = dGamma/domega the signed e-o group delay of one plate (negative for a
 *   negative crystal such as alpha-BBO, which reverses the time order).
 * - Lossless: |A|^2 + |B|^2 = 1 on |z| = 1, so a realisable A has
 *   max_{|z|=1} |A(z)| <= 1.
 * - Without phase offsets every Jones matrix is real in z, so the taps are
 *   real. Complex taps need phase offsets (in practice, plate temperatures).
 */
#ifndef SHP_SYNTHESIS_H
#define SHP_SYNTHESIS_H

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most distinct plates a synthesised stack holds. Root finding on the
 * degree-2M polynomial z^M (1 - |A|^2) is the limit on accuracy; single-pass
 * synthesis reaches rounding level for real taps up to this size. */
#define SHP_SYNTH_MAX_PLATES 64

/* An ideal stack of n equal plates, a plain value. */
typedef struct {
  size_t n; /* distinct plates, 0..SHP_SYNTH_MAX_PLATES */
  double input_polarizer_deg;
  double azimuth_deg[SHP_SYNTH_MAX_PLATES];      /* e axis from x, beam order */
  double phase_offset_rad[SHP_SYNTH_MAX_PLATES]; /* added to Gamma */
  bool has_output_polarizer;
  double output_polarizer_deg;
  bool double_pass; /* plates 1..n, then n..1 off a mirror */
} shp_synth_stack;

/* What a synthesis achieved. The stack's taps are exp(i phase_rad) times the
 * taps asked for: phase_rad is 0 for real taps, and otherwise a common phase
 * that no intensity depends on. */
typedef struct {
  double phase_rad;
  double tap_error;     /* max_k |a_k(stack) - exp(i phase_rad) a_k| */
  size_t choices_tried; /* selections of B ranked */
  size_t choices_total; /* selections of B that exist */
} shp_synth_info;

/* ---- the forward model ------------------------------------------------ */

/* M + 1: the number of taps of a stack (M = n, or 2n for a double pass). */
size_t shp_synth_tap_count(const shp_synth_stack *s);

/* The taps a_0..a_M of A and, when b is not NULL, b_0..b_M of B, as defined
 * above; each array holds shp_synth_tap_count(s) values. Errors:
 * SHP_ERR_INVALID (NULL, n too large, a non-finite angle or offset). */
int shp_synth_taps(const shp_synth_stack *s, double complex *a,
                   double complex *b);

/* max_{|z|=1} |A(z)| for taps a_0..a_{count-1}: a grid of at least 32
 * points per tap, refined by Newton's method on |A|^2 at the best point, so
 * the maximum is exact to rounding unless two peaks share one grid cell.
 * Errors: SHP_ERR_INVALID (NULL, count 0, non-finite taps). */
int shp_synth_max_gain(const double complex *a, size_t count, double *gain);

/* Scale the taps in place so that max_{|z|=1} |A| = 1 (the most light a
 * lossless stack can pass with that shape); *scale (may be NULL) receives
 * the factor applied. Errors as shp_synth_max_gain, and SHP_ERR_RANGE for
 * taps that are all zero. */
int shp_synth_taps_normalize(double complex *a, size_t count, double *scale);

/* ---- synthesis ---------------------------------------------------------- */

/* The stack of n plates whose A has the taps a_0..a_n, with the output
 * polarizer fixed along lab x (has_output_polarizer = true,
 * output_polarizer_deg = 0). B comes from spectral factorisation of
 * 1 - |A|^2 (roots of z^n (1 - |A|^2) by companion-matrix eigenvalues,
 * polished together; the minimum-phase choice, one root inside the unit
 * circle from each reciprocal pair, one of each double pair on the circle),
 * then the plates are peeled from the output end (Harris et al. 1964).
 * Taps that are real up to a common phase give a stack without phase
 * offsets, polished by least squares so that tap_error is at rounding
 * level; other taps need phase offsets, which are returned (not polished:
 * tap_error about 1e-12 for 12 plates, 1e-8 for 30). Azimuths lie in
 * (-90, 90]; B is not unique, so other stacks may give the same taps. info
 * may be NULL. Errors: SHP_ERR_INVALID (NULL, n outside
 * 1..SHP_SYNTH_MAX_PLATES, non-finite taps), SHP_ERR_RANGE (max |A|
 * exceeds 1 by more than 1e-12; the message says by how much; see
 * shp_synth_taps_normalize), SHP_ERR_NUMERIC (tap_error above 1e-6),
 * SHP_ERR_NOMEM. */
int shp_synth_from_taps(const double complex *a, size_t n,
                        shp_synth_stack *stack, shp_synth_info *info);

/* The palindromic (double-pass) stack of n plates, 2n plate passes, whose A
 * has the taps a_0..a_{2n}, output polarizer along x, no phase offsets
 * (double_pass = true). The taps must be real up to a common phase.
 *
 * Method: plates are symmetric Jones matrices, so a palindrome has a
 * symmetric network matrix, and a symmetric lossless network peels in
 * pairs into a palindrome. Every real B (one root of each reciprocal pair
 * of 1 - |A|^2, in conjugate-closed sets) is ranked by how far it is from
 * making the network symmetric; the best eight are refined by least
 * squares on losslessness plus symmetry, peeled pair by pair from the
 * outside in, and polished; the first that reproduces the taps to 1e-9 is
 * returned. SHP_ERR_RANGE ("no palindromic stack") means none of the
 * eight refines to a symmetric network, so no palindromic stack of plates
 * without phase offsets realises the taps (the ranking is by an algebraic
 * residual, so this relies on rounding not pushing the right B below eight
 * wrong ones; it never did for 4000 random palindromes of 1 to 12 plates).
 * SHP_ERR_NUMERIC means either that a symmetric network was found but its
 * azimuths could not be recovered (neighbouring plates nearly crossed or
 * parallel make the peel ill-conditioned: a fraction of a percent of
 * random 6-plate stacks, a few percent at 10), or that there are more than
 * 2^20 selections of B. info may be NULL.
 * Errors: as shp_synth_from_taps, and SHP_ERR_RANGE for taps that are not
 * real up to a common phase or have no palindromic realisation. */
int shp_synth_double_pass(const double complex *a, size_t n,
                          shp_synth_stack *stack, shp_synth_info *info);

/* ---- taps for a target waveform -------------------------------------- */

/* A target intensity T(t_j) and the input pulse's real field envelope e(t_j)
 * on one uniform time axis t_j = t0_ps + j dt_ps, j < count. The model of
 * order M (M plate passes) is the field f_j = sum_k a_k e(t_j - (k - M/2)
 * tau_ps), with e interpolated by a cubic spline and 0 outside the axis. */
typedef struct {
  const double *target;   /* count intensities, any scale */
  const double *envelope; /* count field amplitudes */
  size_t count;
  double t0_ps, dt_ps;
  double tau_ps; /* signed plate delay, as above */
  size_t order;  /* M; M + 1 taps */
} shp_synth_fit_problem;

typedef struct {
  bool real_taps; /* fit real taps only (realisable without phase offsets) */
  size_t starts;  /* starting points: sqrt of the target, equal taps, then
                     quasi-random signs or phases; at least 1 */
  size_t max_iterations; /* per start */
} shp_synth_fit_options;

typedef struct {
  /* sqrt(sum_j (I_j - s T_j)^2 / sum_j I_j^2) at the least-squares s: the
   * sine of the angle between the model intensity I and the target, 0 for
   * the exact shape and at most 1. */
  double rms_error;
  double scale; /* that s: I ~ s T for the normalised taps */
  size_t start; /* the start that won */
  size_t iterations;
} shp_synth_fit_result;

/* Defaults: complex taps, 8 starts, 200 iterations each. */
void shp_synth_fit_options_init(shp_synth_fit_options *o);

/* Taps a_0..a_M minimising sum_j (|f_j|^2 - s T_j)^2 by Levenberg-Marquardt
 * (gsl_multifit_nlinear). Intensities form a cone (scaling the taps by c
 * scales I by c^2), so the fit holds s fixed and lets the taps carry the
 * scale; the shape is what is fitted. The best taps are then scaled to
 * max_{|z|=1} |A| = 1 and s is the least-squares scale for them. options and
 * result may be NULL. Errors: SHP_ERR_INVALID (NULL, count < 4 or fewer
 * than the fitted parameters, order 0 or above 2 SHP_SYNTH_MAX_PLATES,
 * non-finite data, dt_ps <= 0, a target or envelope that is zero
 * everywhere), SHP_ERR_NUMERIC (every start failed), SHP_ERR_NOMEM. */
int shp_synth_fit(const shp_synth_fit_problem *p,
                  const shp_synth_fit_options *options, double complex *taps,
                  shp_synth_fit_result *result);

/* The error measure of shp_synth_fit for any taps: relative RMS intensity
 * error at the best scale s (either output may be NULL). Errors:
 * SHP_ERR_INVALID, SHP_ERR_NOMEM. */
int shp_synth_fit_error(const shp_synth_fit_problem *p,
                        const double complex *taps, double *rms_error,
                        double *scale);

#ifdef __cplusplus
}
#endif
#endif
