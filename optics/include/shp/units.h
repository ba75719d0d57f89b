/* Internal units of the optics core, and the conversions used at the edges.
 *
 * Public interfaces carry their unit in the name (length_mm, fwhm_ps, gdd_fs2).
 * Inside the library: time in ps, angular frequency in rad/ps, crystal lengths
 * in mm, and wavelengths in micrometres wherever a dispersion formula is
 * evaluated (the refractiveindex.info formulas are written for micrometres). */
#ifndef SHP_UNITS_H
#define SHP_UNITS_H

#include <math.h>

#define SHP_PI 3.14159265358979323846
#define SHP_TWO_PI 6.28318530717958647692

/* Speed of light in vacuum (exact, SI 2019) in mm/ps and um/ps. */
#define SHP_C_MM_PER_PS 0.299792458
#define SHP_C_UM_PER_PS 299.792458

/* 1 fs^2 = 1e-6 ps^2, 1 fs^3 = 1e-9 ps^3. */
#define SHP_FS2_TO_PS2 1e-6
#define SHP_FS3_TO_PS3 1e-9

static inline double shp_deg_to_rad(double deg) {
  return deg * (SHP_PI / 180.0);
}
static inline double shp_rad_to_deg(double rad) {
  return rad * (180.0 / SHP_PI);
}

/* A phase wrapped to (-pi, pi]. */
static inline double shp_wrap_phase(double x) {
  double w = fmod(x + SHP_PI, SHP_TWO_PI);
  if (w <= 0)
    w += SHP_TWO_PI;
  return w - SHP_PI;
}

/* Angular frequency (rad/ps) of a vacuum wavelength (um), and back. */
static inline double shp_omega_of_wavelength_um(double lambda_um) {
  return SHP_TWO_PI * SHP_C_UM_PER_PS / lambda_um;
}
static inline double shp_wavelength_um_of_omega(double omega) {
  return SHP_TWO_PI * SHP_C_UM_PER_PS / omega;
}

#endif
