/* Input pulses on the spectral grid.
 *
 * The spectral field E(k) is scaled so that the time-domain field
 * E(t_j) = sum_k E(k) exp(+i (omega_k - omega_0) t_j) carries energy
 * sum_j |E(t_j)|^2 dt = 1. A positive GDD delays the blue edge, the sign of
 * the chirp a pulse picks up in ordinary glass. */
#ifndef SHP_PULSE_H
#define SHP_PULSE_H

#include "shp/grid.h"

#include <complex.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SHP_PULSE_GAUSSIAN = 0,
  SHP_PULSE_SECH2 = 1,
  SHP_PULSE_SPECTRUM = 2 /* a measured spectrum */
} shp_pulse_shape;

/* A measured spectrum: intensity per unit wavelength against wavelength,
 * and optionally the spectral phase. Arrays are owned by the struct. */
typedef struct {
  size_t count;
  double *wavelength_nm; /* strictly increasing */
  double *intensity;     /* >= 0, any scale */
  double *phase_rad;     /* NULL when the file has no phase column */
} shp_spectrum;

/* Read a CSV of "wavelength_nm, intensity[, phase_rad]" rows. A header line
 * and lines starting with '#' are skipped; rows may be in either wavelength
 * order. Errors name the file and line: SHP_ERR_IO, SHP_ERR_PARSE. Clear with
 * shp_spectrum_clear. */
int shp_spectrum_load_csv(const char *path, shp_spectrum *s);
void shp_spectrum_clear(shp_spectrum *s);

typedef struct {
  shp_pulse_shape shape;
  double center_wavelength_nm;
  double fwhm_ps;               /* transform-limited intensity FWHM */
  double gdd_fs2, tod_fs3;      /* spectral phase GDD/2 dw^2 + TOD/6 dw^3 */
  const shp_spectrum *spectrum; /* borrowed, for SHP_PULSE_SPECTRUM */
} shp_pulse;

/* Transform-limited FWHM and the full time span the pulse occupies (with
 * its chirp), for choosing a grid. Errors: SHP_ERR_INVALID. */
int shp_pulse_needs(const shp_pulse *p, double *fwhm_ps, double *extent_ps);

/* Fill spectrum[0..n-1] with the pulse's complex spectral amplitude, energy 1.
 * Errors: SHP_ERR_INVALID (bad parameters), SHP_ERR_RANGE (a measured spectrum
 * that does not overlap the grid). */
int shp_pulse_fill(const shp_pulse *p, const shp_grid *g,
                   double complex *spectrum);

#ifdef __cplusplus
}
#endif
#endif
