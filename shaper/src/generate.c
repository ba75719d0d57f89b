#include "shp/generate.h"

#include "shp/error.h"
#include "shp/numbers.h"
#include "shp/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Phases tune by ~0.05 rad/K/mm; 500 K covers a full wave of any plate
 * longer than about 0.25 mm. */
#define TUNE_RANGE_K 500.0

/* Generated files give lengths to 0.1 um, what a polisher can hold, and
 * temperatures to 0.1 mK, which keeps a 10 mm plate's phase within 1e-4 rad
 * of the design. */
static double round_to(double v, int decimals) {
  char buf[64];
  shp_snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return shp_strtod(buf, NULL); /* the double nearest the decimal */
}

int shp_tune_temperature(const shp_material *m, double length_mm,
                         double wavelength_nm, double goal_rad,
                         double t_start_c, double *temperature_c) {
  shp_material_props p;
  int rc = shp_material_props_at(m, wavelength_nm, t_start_c, length_mm, &p);
  if (rc != SHP_OK)
    return rc;
  double slope = p.dphase_dT_rad_per_K_per_mm * length_mm;
  if (!(fabs(slope) > 0))
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: the phase does not change with temperature",
                         shp_material_name(m));
  /* The next phase, going up in temperature, that equals goal mod 2 pi. */
  double gap = fmod(goal_rad - p.phase_delay_rad, SHP_TWO_PI);
  if (slope > 0 && gap < 0)
    gap += SHP_TWO_PI;
  if (slope < 0 && gap > 0)
    gap -= SHP_TWO_PI;
  double want = p.phase_delay_rad + gap, t = t_start_c + gap / slope;
  /* The phase is slightly curved in T (expansion times thermo-optics):
   * Newton from the linear estimate. */
  for (int it = 0; it < 8; it++) {
    rc = shp_material_props_at(m, wavelength_nm, t, length_mm, &p);
    if (rc != SHP_OK)
      return rc;
    double step =
        (p.phase_delay_rad - want) / (p.dphase_dT_rad_per_K_per_mm * length_mm);
    t -= step;
    if (fabs(step) < 1e-12)
      break;
  }
  if (!(t >= t_start_c - 1e-9 && t <= t_start_c + TUNE_RANGE_K))
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: no design temperature within %g K above %g C",
                         shp_material_name(m), TUNE_RANGE_K, t_start_c);
  *temperature_c = round_to(t, 4);
  return SHP_OK;
}

static shp_stack *fail(shp_stack *s) {
  shp_stack_free(s);
  return NULL;
}

shp_stack *shp_generate_solc(shp_solc_type type, size_t n, const char *material,
                             double length_mm, double wavelength_nm,
                             double fwhm_ps, double t_start_c) {
  if (n < 1 || n > 64 || !(length_mm > 0) || !(fwhm_ps > 0)) {
    shp_error_set(SHP_ERR_INVALID,
                  "solc: need 1 to 64 crystals, length > 0 and fwhm > 0");
    return NULL;
  }
  char name[160];
  shp_snprintf(name, sizeof name, "%s-type Solc shaper, %zu %s plates of %g mm",
               type == SHP_SOLC_FAN ? "fan" : "folded", n, material, length_mm);
  shp_stack *s = shp_stack_new(name, wavelength_nm, fwhm_ps);
  if (s == NULL)
    return NULL;
  double rho = 45.0 / (double)n; /* pi / (4N) in degrees */
  for (size_t i = 0; i < n; i++) {
    double az =
        type == SHP_SOLC_FAN ? (double)(2 * i + 1) * rho : (i % 2 ? -rho : rho);
    if (shp_stack_add_crystal(s, material, length_mm, az, t_start_c) != SHP_OK)
      return fail(s);
  }
  double goal = type == SHP_SOLC_FAN ? 0.0 : SHP_PI;
  double t;
  if (shp_tune_temperature(s->crystals[0].material, length_mm, wavelength_nm,
                           goal, t_start_c, &t) != SHP_OK)
    return fail(s);
  for (size_t i = 0; i < n; i++)
    s->crystals[i].temperature_c = t;
  s->has_input_polarizer = true;
  s->input_polarizer_deg = 0.0;
  s->has_output_polarizer = true;
  s->output_polarizer_deg = type == SHP_SOLC_FAN ? 0.0 : 90.0;
  return s;
}

shp_stack *shp_generate_stacker(size_t n, const char *material,
                                double wavelength_nm, double fwhm_ps,
                                double spacing_ps, double t_start_c) {
  if (n < 1 || n > 12 || !(fwhm_ps > 0)) {
    shp_error_set(SHP_ERR_INVALID,
                  "stacker: need 1 to 12 crystals and fwhm > 0");
    return NULL;
  }
  if (!(spacing_ps > 0))
    spacing_ps = fwhm_ps;
  char name[160];
  shp_snprintf(name, sizeof name,
               "binary stacker, %zu %s plates, %zu replicas %g ps apart", n,
               material, (size_t)1 << n, spacing_ps);
  shp_stack *s = shp_stack_new(name, wavelength_nm, fwhm_ps);
  if (s == NULL)
    return NULL;
  /* The first plate fixes the material; its delay per mm sets the lengths. */
  if (shp_stack_add_crystal(s, material, 1.0, 45.0, t_start_c) != SHP_OK)
    return fail(s);
  shp_material_props p;
  if (shp_material_props_at(s->crystals[0].material, wavelength_nm, t_start_c,
                            1.0, &p) != SHP_OK)
    return fail(s);
  for (size_t i = 0; i < n; i++) {
    double len = round_to(spacing_ps * (double)((size_t)1 << (n - 1 - i)) /
                              p.group_delay_ps_per_mm,
                          4);
    if (i > 0 && shp_stack_add_crystal(s, material, len, i % 2 ? 0.0 : 45.0,
                                       t_start_c) != SHP_OK)
      return fail(s);
    s->crystals[i].length_mm = len;
    /* Replicas two apart share a polarisation and overlap a little; a
     * quarter wave in the last plate but one puts them in quadrature, so
     * they add in intensity and the top stays flat. */
    double goal = n >= 2 && i == n - 2 ? SHP_PI / 2 : 0.0;
    if (shp_tune_temperature(s->crystals[i].material, len, wavelength_nm, goal,
                             t_start_c,
                             &s->crystals[i].temperature_c) != SHP_OK)
      return fail(s);
  }
  s->has_input_polarizer = true;
  s->input_polarizer_deg = 0.0;
  return s;
}
