#include "shp/grid.h"

#include "shp/error.h"
#include "shp/units.h"

#include <math.h>
#include <stdbool.h>

/* Largest grid we agree to build: 2^22 points is 64 MiB per complex array. */
#define GRID_MAX_POINTS ((size_t)1 << 22)
#define GRID_MIN_POINTS ((size_t)256)

/* Sizes whose only prime factors are 2, 3, 5 and 7 transform as fast as
 * powers of two in FFTW, and fit a window far more closely. */
static bool smooth(size_t n) {
  for (size_t p = 2; p <= 7; p++)
    while (n % p == 0)
      n /= p;
  return n == 1;
}

int shp_grid_init(shp_grid *g, size_t n, double window_ps,
                  double center_wavelength_nm) {
  if (g == NULL || n < 4 || n % 2 != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "grid.points: must be an even number >= 4, got %zu",
                         n);
  if (!(isfinite(window_ps) && window_ps > 0.0))
    return shp_error_set(SHP_ERR_INVALID, "grid.window_ps: must be > 0, got %g",
                         window_ps);
  if (!(isfinite(center_wavelength_nm) && center_wavelength_nm > 0.0))
    return shp_error_set(SHP_ERR_INVALID,
                         "center_wavelength_nm: must be > 0, got %g",
                         center_wavelength_nm);
  double dt = window_ps / (double)n;
  double domega = SHP_TWO_PI / window_ps;
  double w0 = shp_omega_of_wavelength_um(center_wavelength_nm * 1e-3);
  double lowest = w0 - (double)(n / 2) * domega;
  if (!(lowest > 0.0))
    return shp_error_set(
        SHP_ERR_GRID,
        "grid: a %g ps step spans %g rad/ps, more than the carrier %g rad/ps "
        "allows; use fewer points or a longer step",
        dt, (double)n * domega, w0);
  g->n = n;
  g->dt = dt;
  g->domega = domega;
  g->center_omega = w0;
  return SHP_OK;
}

double shp_grid_wavelength_um(const shp_grid *g, size_t k) {
  return shp_wavelength_um_of_omega(shp_grid_omega(g, k));
}

double shp_grid_center_wavelength_nm(const shp_grid *g) {
  return shp_wavelength_um_of_omega(g->center_omega) * 1e3;
}

static int needs_valid(const shp_grid_needs *needs) {
  if (needs == NULL ||
      !(isfinite(needs->pulse_fwhm_ps) && needs->pulse_fwhm_ps > 0))
    return shp_error_set(SHP_ERR_INVALID, "grid: the pulse width must be > 0");
  if (!(isfinite(needs->pulse_extent_ps) && needs->pulse_extent_ps >= 0) ||
      !(isfinite(needs->delay_span_ps) && needs->delay_span_ps >= 0))
    return shp_error_set(SHP_ERR_INVALID,
                         "grid: pulse extent and delay span must be >= 0");
  return SHP_OK;
}

/* The step resolves the pulse with 16 points per FWHM, which puts the edge of
 * the spectral window 18 spectral FWHM from the carrier: a Gaussian spectrum
 * is below 1e-300 there, so nothing folds back. Short pulses get a coarser
 * step (down to 4 per FWHM, 4.5 spectral FWHM) rather than a span beyond
 * half the carrier frequency. */
#define STEPS_PER_FWHM 16.0
/* A given grid is accepted down to 4 points per FWHM. */
#define MIN_STEPS_PER_FWHM 4.0
/* The frequency span stays within half the carrier frequency, so the grid
 * stays inside the materials' transparency ranges for short pulses. */
#define MAX_SPAN_OF_CARRIER 0.5

static double window_needed(const shp_grid_needs *needs) {
  return needs->delay_span_ps + needs->pulse_extent_ps;
}

int shp_grid_choose(const shp_grid_needs *needs, double center_wavelength_nm,
                    shp_grid *g) {
  int rc = needs_valid(needs);
  if (rc != SHP_OK)
    return rc;
  double dt = needs->pulse_fwhm_ps / STEPS_PER_FWHM;
  double w0 = shp_omega_of_wavelength_um(center_wavelength_nm * 1e-3);
  double dt_min = SHP_TWO_PI / (MAX_SPAN_OF_CARRIER * w0);
  if (dt < dt_min) {
    if (dt_min > needs->pulse_fwhm_ps / MIN_STEPS_PER_FWHM)
      return shp_error_set(SHP_ERR_GRID,
                           "grid: a %g ps pulse at %g nm has too wide a "
                           "spectrum to model on one carrier",
                           needs->pulse_fwhm_ps, center_wavelength_nm);
    dt = dt_min;
  }
  /* Half as much again as the delays and the pulse need, plus 8 FWHM, so the
   * circular time axis never wraps a replica onto another. */
  double window = 1.5 * window_needed(needs) + 8.0 * needs->pulse_fwhm_ps;
  double need = ceil(window / dt);
  if (need > (double)GRID_MAX_POINTS)
    return shp_error_set(
        SHP_ERR_GRID,
        "grid: a %g ps window at a %g ps step needs more than %zu points; "
        "give the grid explicitly",
        window, dt, GRID_MAX_POINTS);
  size_t n = need < (double)GRID_MIN_POINTS ? GRID_MIN_POINTS : (size_t)need;
  n += n % 2;
  while (!smooth(n))
    n += 2;
  return shp_grid_init(g, n, (double)n * dt, center_wavelength_nm);
}

int shp_grid_check(const shp_grid *g, const shp_grid_needs *needs) {
  int rc = needs_valid(needs);
  if (rc != SHP_OK)
    return rc;
  if (g->dt > needs->pulse_fwhm_ps / MIN_STEPS_PER_FWHM)
    return shp_error_set(SHP_ERR_GRID,
                         "grid: the %g ps step is too coarse for a %g ps pulse "
                         "(at most %g ps)",
                         g->dt, needs->pulse_fwhm_ps,
                         needs->pulse_fwhm_ps / MIN_STEPS_PER_FWHM);
  double need = window_needed(needs);
  if (shp_grid_window_ps(g) < need)
    return shp_error_set(SHP_ERR_GRID,
                         "grid: the %g ps window is shorter than the %g ps the "
                         "stack's delays (%g ps) and the pulse (%g ps) span",
                         shp_grid_window_ps(g), need, needs->delay_span_ps,
                         needs->pulse_extent_ps);
  return SHP_OK;
}
