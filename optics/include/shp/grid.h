/* The spectral grid: uniform in angular frequency around a carrier.
 *
 * Point k (0 <= k < n) sits at omega = center_omega + (k - n/2) * domega and
 * time point j at t = (j - n/2) * dt, with dt * domega * n = 2 pi and no
 * repeated endpoint. n is even. */
#ifndef SHP_GRID_H
#define SHP_GRID_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t n;            /* number of points, even */
  double center_omega; /* carrier angular frequency, rad/ps */
  double domega;       /* frequency step, rad/ps */
  double dt;           /* time step, ps */
} shp_grid;

/* What a grid must hold: a pulse and the delays a stack spreads it over. */
typedef struct {
  double pulse_fwhm_ps;   /* transform-limited intensity FWHM */
  double pulse_extent_ps; /* full time span holding the (chirped) pulse */
  double delay_span_ps;   /* largest delay spread the stack can produce */
} shp_grid_needs;

/* Fill g for n points over a time window of window_ps around the carrier of
 * center_wavelength_nm. Errors: SHP_ERR_INVALID (n odd or < 4, non-positive
 * or non-finite window or wavelength), SHP_ERR_GRID (the frequency span
 * reaches zero or negative frequencies). */
int shp_grid_init(shp_grid *g, size_t n, double window_ps,
                  double center_wavelength_nm);

/* Choose a grid for needs: a step fine enough for the pulse bandwidth and
 * the smallest even size with no prime factor above 7 (fast in FFTW) whose
 * window holds the delay span and the pulse with a margin. Errors:
 * SHP_ERR_INVALID, SHP_ERR_GRID (it would need more than 2^22 points). */
int shp_grid_choose(const shp_grid_needs *needs, double center_wavelength_nm,
                    shp_grid *g);

/* Check that a given grid resolves the pulse and holds the delay span.
 * Errors: SHP_ERR_GRID with a sentence saying what is too coarse or short. */
int shp_grid_check(const shp_grid *g, const shp_grid_needs *needs);

static inline double shp_grid_time_ps(const shp_grid *g, size_t j) {
  return ((double)j - (double)(g->n / 2)) * g->dt;
}
static inline double shp_grid_domega(const shp_grid *g, size_t k) {
  return ((double)k - (double)(g->n / 2)) * g->domega;
}
static inline double shp_grid_omega(const shp_grid *g, size_t k) {
  return g->center_omega + shp_grid_domega(g, k);
}
static inline double shp_grid_window_ps(const shp_grid *g) {
  return (double)g->n * g->dt;
}
/* Vacuum wavelength of point k in micrometres. */
double shp_grid_wavelength_um(const shp_grid *g, size_t k);
double shp_grid_center_wavelength_nm(const shp_grid *g);

#ifdef __cplusplus
}
#endif
#endif
