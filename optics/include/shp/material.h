/* Uniaxial crystal materials, read from data files.
 *
 * A material file (calibrations/materials/NAME.yml) gives, per axis (o, e), a
 * dispersion formula in the refractiveindex.info numbering (or a pointer to a
 * file in that database's YAML layout), the thermo-optic coefficient dn/dT,
 * the thermal expansion perpendicular (a) and parallel (c) to the optic axis,
 * the valid wavelength range and the source of every number.
 *
 * Temperature model: n(lambda, T) = n(lambda, T0) + dn/dT (T - T0), and an
 * a-cut plate of length L0 at T0 is L0 (1 + alpha_a (T - T0)) long at T. */
#ifndef SHP_MATERIAL_H
#define SHP_MATERIAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SHP_AXIS_O = 0, SHP_AXIS_E = 1 } shp_axis;

typedef struct shp_material shp_material;

/* Load a material file. Returns NULL with a message naming file, line and
 * key (SHP_ERR_IO, SHP_ERR_PARSE, SHP_ERR_RANGE). Owned by the caller. */
shp_material *shp_material_load(const char *path);

/* A material by name ("alpha-BBO", case-insensitive) from the data
 * directories, or by path when the argument contains '/' or ends in .yml.
 * Unknown names fail with SHP_ERR_NOT_FOUND listing the known ones. */
shp_material *shp_material_open(const char *name_or_path);
void shp_material_free(shp_material *m);

/* Names of the materials found in the data directories, sorted, without
 * duplicates. *names is an array of *count strings; free with
 * shp_material_names_free. Errors: SHP_ERR_NOMEM. */
int shp_material_names(char ***names, size_t *count);
void shp_material_names_free(char **names, size_t count);

/* Strings owned by the material, valid while it lives. */
const char *shp_material_name(const shp_material *m);
const char *shp_material_description(const shp_material *m);
const char *shp_material_path(const shp_material *m);
const char *shp_material_source(const shp_material *m, shp_axis axis);
const char *shp_material_expansion_source(const shp_material *m);

double shp_material_reference_temperature_c(const shp_material *m);
void shp_material_range_um(const shp_material *m, double *lo, double *hi);
double shp_material_dn_dT(const shp_material *m, shp_axis axis);
/* Thermal expansion along a (perpendicular to the optic axis) and c. */
double shp_material_expansion_a(const shp_material *m);
double shp_material_expansion_c(const shp_material *m);

/* Temperatures a material is asked about: above the minimum (absolute
 * zero), at most the maximum. Below absolute zero nothing exists; the linear
 * dn/dT and expansion models hold over tens of kelvin around the reference, and
 * no crystal oven of a pulse shaper goes beyond a few hundred C (BBO melts near
 * 1095 C, quartz turns beta at 573 C), so 1000 C bounds every meaningful query
 * and refuses nonsense like -1e308. */
#define SHP_MATERIAL_MIN_TEMPERATURE_C (-273.15)
#define SHP_MATERIAL_MAX_TEMPERATURE_C 1000.0

/* Refractive index of an axis at a vacuum wavelength (um) and temperature.
 * Errors: SHP_ERR_RANGE (wavelength outside the valid range, temperature
 * outside SHP_MATERIAL_MIN/MAX_TEMPERATURE_C), SHP_ERR_INVALID
 * (non-finite input), SHP_ERR_NUMERIC (the formula gives no real index). */
int shp_material_index(const shp_material *m, shp_axis axis,
                       double wavelength_um, double temperature_c, double *n);

/* Length at temperature of an a-cut plate that is length_mm long at the
 * reference temperature. */
double shp_material_plate_length_mm(const shp_material *m, double length_mm,
                                    double temperature_c);

/* What a designer asks of a material at one wavelength and temperature. */
typedef struct {
  double n_o, n_e;
  double group_index_o, group_index_e;       /* n - lambda dn/dlambda */
  double group_delay_ps_per_mm;              /* |n_g,o - n_g,e| / c */
  double gvd_o_fs2_per_mm, gvd_e_fs2_per_mm; /* lambda^3/(2 pi c^2) n'' */
  /* d/dT of the e-o phase difference (n_e - n_o) omega L / c per mm of
   * length at the reference temperature: thermo-optic plus expansion. */
  double dphase_dT_rad_per_K_per_mm;
  /* For the plate length given: the e-o phase difference at T, and the
   * temperature change that moves it by one full wave (2 pi). */
  double length_mm;
  double phase_delay_rad;
  double full_wave_temperature_k;
} shp_material_props;

/* Fill props at wavelength_nm, temperature_c, for a plate length_mm long at
 * the reference temperature (use 1 for per-mm figures). Errors as
 * shp_material_index, and SHP_ERR_INVALID for a length that is not > 0. */
int shp_material_props_at(const shp_material *m, double wavelength_nm,
                          double temperature_c, double length_mm,
                          shp_material_props *props);

#ifdef __cplusplus
}
#endif
#endif
