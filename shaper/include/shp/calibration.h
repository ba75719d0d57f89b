/* Crystal-phase calibration files: what `shapectl calibrate` measured of
 * each crystal, and how a stack takes it in.
 *
 * A calibration scans each crystal's oven over at least one phase period
 * while the others hold and fits, with the full model, the crystal's phase
 * offset and its phase per kelvin. The file (YAML, under calibrations/)
 * keeps, per crystal, the offset at the scan's reference temperature and
 * the measured slope with their 1-sigma uncertainties, the material
 * model's slope, the scan, and the fit's quality; plus when, on which lab
 * and stack it was made:
 *
 *   created: 2026-11-25T14:03:11Z
 *   lab: examples/labs/sim-flat-top-5ps.yml
 *   stack: examples/stacks/design-flat-top-5ps.yml
 *   stack_name: ...
 *   residual_rms: 0.0061
 *   identifiability: |
 *     every parameter is determined
 *   crystals:
 *     - index: 0
 *       material: alpha-BBO
 *       length_mm: 3.1
 *       reference_temperature_c: 40.0
 *       phase_offset_rad: 1.234
 *       phase_offset_sigma_rad: 0.01
 *       slope_rad_per_k: 0.3012
 *       slope_sigma_rad_per_k: 0.0004
 *       model_slope_rad_per_k: 0.2981
 *       azimuth_error_deg: 0.21
 *       azimuth_error_sigma_deg: 0.05
 *       length_error_um: 1.8
 *       length_error_sigma_um: 0.4
 *       scan: {from_c: 28.0, to_c: 52.0, points: 9}
 *   pulse: {fwhm_ps: 0.52, fwhm_sigma_ps: 0.004, gdd_fs2: 120,
 *           gdd_sigma_fs2: 300}
 *   autocorrelator: {delay_scale: 1.002, delay_scale_sigma: 0.001,
 *                    delay_offset_ps: 0.003, delay_offset_sigma_ps: 0.002}
 *
 * The azimuth and length errors (all four keys or none), the pulse and the
 * autocorrelator are optional: files written before they were fitted still
 * load, as calibrations of phases and slopes only. The pulse and the
 * autocorrelator's delay calibration are written when the traces determine
 * them (posterior sigma below half the prior's).
 *
 * phase_offset_rad is the crystal's phase beyond the material model's for
 * its nominal length at the reference temperature: what the traces see,
 * the carrier phase of a length error included. model_slope_rad_per_k is
 * the material model's phase per kelvin for the calibrated length (nominal
 * plus the length error).
 * Applied to a stack (simulate, optimize, run), a calibrated crystal's
 * azimuth and length take the fitted errors, and its phase_offset_rad and
 * slope_correction_rad_per_k are set so the model's phase equals the
 * measured one at the reference temperature (the longer plate's own carrier
 * phase taken out of the offset) and changes by the measured slope per
 * kelvin; the pulse, when calibrated, takes the fitted width and GDD. The
 * stack then predicts the intensity the calibration's fit predicts. A
 * calibration may cover some crystals only (`calibrate --crystal I`); the
 * others are left alone. */
#ifndef SHP_CALIBRATION_H
#define SHP_CALIBRATION_H

#include "shp/stack.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t index;   /* the crystal's place in the stack, from 0 */
  char *material; /* as the stack names it */
  double length_mm;
  double reference_temperature_c;
  double phase_offset_rad, phase_offset_sigma_rad; /* at the reference */
  double slope_rad_per_k, slope_sigma_rad_per_k;   /* measured */
  double model_slope_rad_per_k; /* the material model's, for comparison */
  double scan_from_c, scan_to_c;
  size_t scan_points;
  bool has_errors; /* the four below were fitted */
  double azimuth_error_deg, azimuth_error_sigma_deg;
  double length_error_um, length_error_sigma_um;
} shp_calibration_crystal;

typedef struct {
  char *path;       /* read from, or NULL */
  char *created;    /* ISO 8601 UTC */
  char *lab;        /* the lab file's path, or "sim" */
  char *stack;      /* the stack file's path */
  char *stack_name; /* its name: key */
  double residual_rms;
  char *identifiability; /* the fit's report */
  bool has_pulse;        /* the input pulse was determined */
  double pulse_fwhm_ps, pulse_fwhm_sigma_ps;
  double pulse_gdd_fs2, pulse_gdd_sigma_fs2;
  bool has_delay; /* the autocorrelator's delay axis was determined */
  double delay_scale, delay_scale_sigma;
  double delay_offset_ps, delay_offset_sigma_ps;
  shp_calibration_crystal *crystals;
  size_t crystal_count;
} shp_calibration;

/* An empty calibration with room for n crystals (count 0); NULL when out
 * of memory. The strings are copied; any may be NULL. */
shp_calibration *shp_calibration_new(size_t n, const char *lab,
                                     const char *stack, const char *stack_name);
void shp_calibration_free(shp_calibration *c);

/* Read a calibration file. NULL with shp_error_detail() naming the file,
 * line and key (SHP_ERR_IO, SHP_ERR_PARSE, SHP_ERR_RANGE). */
shp_calibration *shp_calibration_load(const char *path);

/* Write atomically (a temporary file renamed over path; "-": standard
 * output). Sets created to now when it is NULL. */
int shp_calibration_save(shp_calibration *c, const char *path);

/* The crystal entry for stack index i, or NULL. */
const shp_calibration_crystal *shp_calibration_find(const shp_calibration *c,
                                                    size_t index);

/* Put the calibration into s. Every calibrated crystal must exist in s
 * with the same material and length (within 1 um), else SHP_ERR_INVALID
 * naming the calibration file and crystal: a calibration of another stack
 * is refused, never half applied. */
int shp_calibration_apply(const shp_calibration *c, shp_stack *s);

/* A name for a new calibration file: dir/<stack file stem>-<UTC time>.yml
 * (time as 20261125T140311Z). Returns SHP_OK or SHP_ERR_INVALID when it
 * does not fit size. */
int shp_calibration_default_path(const char *dir, const char *stack_path,
                                 char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
