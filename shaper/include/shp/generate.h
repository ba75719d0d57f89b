/* Ready-made stacks: Solc filters and binary stackers at their design
 * condition, for `shapectl new`. */
#ifndef SHP_GENERATE_H
#define SHP_GENERATE_H

#include "shp/material.h"
#include "shp/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SHP_SOLC_FAN, SHP_SOLC_FOLDED } shp_solc_type;

/* The lowest temperature at or above t_start_c where a plate length_mm long
 * has e-o phase goal_rad modulo 2 pi at wavelength_nm. Errors as
 * shp_material_props_at, and SHP_ERR_RANGE when the phase does not tune with
 * temperature or the answer lies beyond 500 K above t_start_c. */
int shp_tune_temperature(const shp_material *m, double length_mm,
                         double wavelength_nm, double goal_rad,
                         double t_start_c, double *temperature_c);

/* N equal plates, rho = pi/(4N): fan (rho, 3 rho, 5 rho, ... between
 * parallel polarizers, each plate a full wave) or folded (+rho, -rho, ...
 * between crossed polarizers, each a half wave), temperatures tuned from
 * t_start_c. Returns NULL with shp_error_detail() on failure. */
shp_stack *shp_generate_solc(shp_solc_type type, size_t n, const char *material,
                             double length_mm, double wavelength_nm,
                             double fwhm_ps, double t_start_c);

/* A binary stacker of n plates: lengths halving from the longest, whose o/e
 * delay is spacing_ps * 2^(n-1), so the 2^n replicas are spacing_ps apart;
 * axes alternate 45 and 0 degrees from the input polarisation; no output
 * polarizer. Each plate is tuned to a full wave, but the last but one to a
 * quarter wave: replicas two apart share a polarisation, and in quadrature
 * their overlap adds no interference ripple. spacing_ps <= 0 chooses the
 * pulse FWHM, which joins the replicas into a flat top. Lengths are rounded
 * to 0.1 um and temperatures to 0.1 mK. */
shp_stack *shp_generate_stacker(size_t n, const char *material,
                                double wavelength_nm, double fwhm_ps,
                                double spacing_ps, double t_start_c);

#ifdef __cplusplus
}
#endif
#endif
