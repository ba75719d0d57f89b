/* Diagnostics of a pulse on the time grid: intensity autocorrelation and the
 * metrics a shaper is judged by.
 *
 * A shp_diag is a workspace for one grid size: its constructor makes the FFTW
 * plans and buffers, so the functions below allocate and plan nothing and are
 * safe on the optimizer's hot path. One workspace serves one thread. */
#ifndef SHP_DIAG_H
#define SHP_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_diag shp_diag;

/* A workspace for traces of n samples (n >= 4). Returns NULL (with
 * shp_error_detail) on bad n or when memory or plans cannot be had. Owned by
 * the caller; free with shp_diag_free. Not thread-safe to create: make plans
 * on one thread. */
shp_diag *shp_diag_new(size_t n);
void shp_diag_free(shp_diag *d);
size_t shp_diag_size(const shp_diag *d);

typedef enum {
  SHP_AC_BACKGROUND_FREE = 0, /* noncollinear: A(tau) / A(0) */
  SHP_AC_COLLINEAR = 1        /* collinear intensity AC: (1 + 2 A/A(0)) / 3,
                                 peak 1 on a background of 1/3 (3:1) */
} shp_ac_kind;

/* Intensity autocorrelation A(tau) = sum_j I(t_j) I(t_j + tau) of n samples,
 * computed without wrap-around (zero-padded to at least 2n: the nearest
 * length with no prime factor above 7, since FFTW allocates on every execute
 * for lengths with large prime factors), normalised to a peak of 1.
 * ac receives 2n values at delays (m - n) * dt, m = 0 .. 2n-1, so zero delay
 * is at index n. The trace must hold as many samples as the workspace was
 * made for. Errors: SHP_ERR_INVALID (NULL, all-zero or non-finite trace). */
int shp_diag_autocorrelation(shp_diag *d, const double *intensity,
                             shp_ac_kind kind, double *ac);

/* Full width at half maximum of a sampled curve y[0..n-1] with step dx: the
 * distance between the outermost half-maximum crossings, each found by linear
 * interpolation (so a pulse train or rippled flat-top reports its full span).
 * Returns NAN when the curve has no peak or touches the half level at an end.
 */
double shp_fwhm(const double *y, size_t n, double dx);

/* Metrics of an output intensity trace. Intensities are in the toolkit's
 * units (input energy 1), so transmission is sum(I) dt. */
typedef struct {
  double transmission; /* energy out / energy in */
  double peak;         /* max I */
  double fwhm_ps;      /* outermost half-maximum crossings */
  double rise_time_ps; /* leading edge, first 10 % to first 90 % of peak */
  double fall_time_ps; /* trailing edge, last 90 % to last 10 % of peak */
  double ripple;       /* (max - min) / (max + min) over the plateau */
  double plateau_start_ps, plateau_end_ps; /* where ripple was measured */
  bool has_error;        /* error fields are valid (a target was given) */
  double error;          /* relative RMS error after best shift and scale */
  double error_shift_ps; /* shift applied to I to best match the target */
  double error_scale;    /* scale applied to I */
} shp_metrics;

/* Optional inputs of shp_diag_metrics. */
typedef struct {
  const double *target; /* n samples on the same time axis, or NULL */
  const double *weight; /* n non-negative weights for the error, or NULL */
  /* Only transmission, peak and the error: for an optimizer's inner loop,
   * which needs no widths or edges. */
  bool error_only;
  /* Plateau for the ripple: used when plateau_end_ps > plateau_start_ps,
   * otherwise the span between the first and the last local maxima inside
   * the first and last 90 % crossings (the crossings themselves sit on the
   * edges and would count an edge as ripple). */
  double plateau_start_ps, plateau_end_ps;
} shp_metrics_opts;

/* Compute metrics of intensity[0..n-1] sampled at t_j = (j - n/2) dt_ps,
 * n being the workspace's size. Widths and edges that are not defined (no
 * two crossings) are NAN, as are the error fields without a target.
 * The error is e = sqrt(sum w (a I(t - s) - T)^2 / sum w T^2) minimised over
 * the scale a and the shift s (integer shift by FFT cross-correlation, refined
 * by a parabola through the neighbouring samples). opts may be NULL.
 * Errors: SHP_ERR_INVALID (non-finite input, negative weight, all-zero
 * target). */
int shp_diag_metrics(shp_diag *d, const double *intensity, double dt_ps,
                     const shp_metrics_opts *opts, shp_metrics *out);

/* Prepare a target (and weights, or NULL) for repeated shp_diag_metrics
 * calls that pass these same arrays in their options: their transforms are
 * computed here once. The caller must not change the arrays while they are
 * prepared; preparing others (or NULL) replaces them. Errors as the error
 * inputs of shp_diag_metrics. */
int shp_diag_prepare_target(shp_diag *d, const double *target,
                            const double *weight);

#ifdef __cplusplus
}
#endif
#endif
