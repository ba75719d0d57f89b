/* Fitting the physical model of a stack to measured autocorrelations.
 *
 * An autocorrelator sees only A(tau) = int I(t) I(t + tau) dt: symmetric in
 * tau and blind to the pulse's phase and to time reversal. So the closed
 * loop does not chase the measured trace directly; it fits the unknowns of
 * the full model (shp_propagator) to every trace measured so far and then
 * optimises the fitted model. The unknowns:
 *   - per crystal, the phase offset added to its e-o phase difference
 *     (fabrication, mounting and sensor errors all land here);
 *   - the input pulse width, as a scale on the stack's FWHM;
 *   - the autocorrelator's delay calibration: the model's delay is
 *     scale * tau + offset_ps for a measured delay tau;
 *   - per trace, the signal's amplitude and background (linear: solved in
 *     closed form inside every evaluation, variable projection).
 * The trace is modelled as amplitude * A_model(tau) / A_model(0) +
 * background, A_model sampled linearly from the model's grid.
 *
 * Nonlinear least squares is GSL's trust-region Levenberg-Marquardt
 * (gsl_multifit_nlinear) from several starts, with a weak Gaussian prior
 * on the phase offsets (the stack file's or a calibration's values) that
 * only decides between fits the data cannot tell apart. Uncertainties come
 * from the Jacobian at the solution, scaled by the residual; its singular
 * values (LAPACK dgesvd) say which parameters or combinations the data do
 * not determine, and distinct minima that fit equally well are reported as
 * an ambiguity (conjugate phases give the same intensity, so one trace
 * cannot tell phi from its mirror; a second temperature set can).
 *
 * A fit allocates its workspaces once; one fit serves one thread. */
#ifndef SHP_ACFIT_H
#define SHP_ACFIT_H

#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types -------------------------------------------------------------- */

/* One trace and the oven temperatures it was measured at. */
typedef struct {
  const double *temperatures_c; /* one per crystal: readbacks */
  size_t count;
  const double *delay_ps; /* calibrated by the lab file */
  const double *signal;
} shp_ac_measurement;

typedef struct {
  /* Prior on the phase offsets: mean (NULL: the stack file's) and spread
   * (default 1 rad). */
  const double *prior_rad;
  double prior_sigma_rad;
  size_t starts;          /* multistart count (default 8) */
  unsigned long seed;     /* for the starts */
  bool fixed_pulse_width; /* do not fit the pulse width */
  bool fixed_delay;       /* do not fit the delay calibration */
  /* Also fit a correction to each crystal's phase-per-kelvin slope (the
   * material model's by default) about the stack's temperature:
   * calibration, which scans the temperature. */
  bool fit_phase_slope;
  /* With fit_phase_slope: fit crystal i's slope only where slope_mask[i]
   * (the crystals whose temperature was scanned). NULL: every crystal.
   * Copied. */
  const bool *slope_mask;
  size_t max_iterations; /* per LM run (default 60) */
} shp_acfit_opts;

typedef struct {
  size_t crystal_count;
  double *phase_offset_rad; /* to put in the stack: wrapped to (-pi, pi] */
  double *phase_sigma_rad;  /* 1 sigma; INFINITY when not determined */
  /* The phase per kelvin about the stack's temperature: the material
   * model's, the stack's slope_correction_rad_per_k and the fitted change
   * (slope_change_rad_per_k, 0 when not fitted). */
  double *slope_rad_per_k;
  double *slope_sigma_rad_per_k; /* 0 when not fitted */
  double *slope_change_rad_per_k;
  double pulse_width_scale, pulse_width_sigma;
  double delay_scale, delay_scale_sigma;
  double delay_offset_ps, delay_offset_sigma_ps;
  size_t measurement_count;
  double *amplitude, *background; /* per measurement */
  double residual_rms;            /* of the traces, relative to amplitude */
  size_t parameter_count;
  double *singular_values; /* parameter_count, descending, relative to the
                              largest */
  size_t undetermined;     /* singular values below 1e-6 */
  bool ambiguous;          /* another solution fits as well */
  double *alternative_rad; /* its phase offsets, when ambiguous */
  char report[2048];       /* identifiability, for people */
  size_t evaluations;
} shp_acfit_result;

typedef struct shp_acfit shp_acfit;

/* ---- lifecycle ---------------------------------------------------------- */

/* A fit of stack's model (borrowed; must outlive the fit; its temperatures
 * and phase offsets are not changed). opts may be NULL. Returns NULL with
 * shp_error_detail() on a grid or material error. Owned by the caller. */
shp_acfit *shp_acfit_new(const shp_stack *stack, const shp_acfit_opts *opts);
void shp_acfit_free(shp_acfit *f);

/* ---- operations --------------------------------------------------------- */

/* Add a trace (copied). SHP_ERR_INVALID for fewer than 8 points,
 * non-finite values or a wrong temperature count. */
int shp_acfit_add(shp_acfit *f, const shp_ac_measurement *m);
size_t shp_acfit_count(const shp_acfit *f);
/* Forget every trace. */
void shp_acfit_reset(shp_acfit *f);

/* Fit every trace added. result must be zeroed or cleared before; it is
 * filled (and owns its arrays: shp_acfit_result_clear). Errors:
 * SHP_ERR_INVALID (no traces), SHP_ERR_NUMERIC (no start converged). */
int shp_acfit_solve(shp_acfit *f, shp_acfit_result *result);
void shp_acfit_result_clear(shp_acfit_result *r);

/* The model's trace for a fit at these temperatures, on delays (measured,
 * calibrated), background-free with peak 1 at zero delay. */
int shp_acfit_predict(shp_acfit *f, const shp_acfit_result *fit,
                      const double *temperatures_c, const double *delay_ps,
                      size_t count, double *ac);

/* The target's intensity autocorrelation (peak 1) on delays, as the model
 * of the fit would show it (its delay calibration applied). fit may be
 * NULL: the nominal calibration. */
int shp_acfit_target_ac(shp_acfit *f, const shp_acfit_result *fit,
                        const shp_target *target, const double *delay_ps,
                        size_t count, double *ac);

/* Write a fit's phase offsets (and fitted slope changes) and pulse width
 * into s, a stack of the same structure and temperatures as the fit's as
 * read from its file: its pulse FWHM is multiplied by the fitted scale and
 * its slope corrections added to, so apply a fit to a given copy once. */
void shp_acfit_apply(const shp_acfit_result *fit, shp_stack *s);

/* The relative RMS difference of a measured trace from a reference (peak 1),
 * after the best scale and background: min_{a,b} rms(a y + b - ref). The
 * figure the closed loop converges on. NAN for count < 2. */
double shp_ac_error(const double *measured, const double *reference,
                    size_t count);

#ifdef __cplusplus
}
#endif
#endif
