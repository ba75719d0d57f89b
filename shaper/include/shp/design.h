/* Offline design: from a target waveform to a stack file and a fabrication
 * sheet.
 *
 * The plates are equal (a Solc stack, or a free stack whose azimuths come
 * from network synthesis); their delay is chosen so the replicas span the
 * target; for a free stack, real replica amplitudes are fitted to the target
 * (shp_synth_fit) and realised by Harris-Ammann-Chang synthesis, single or
 * double pass (shp_synth_from_taps, shp_synth_double_pass). Each plate is cut
 * to the delay and warmed to its design phase; the result is then polished
 * on the full model (dispersion, real indices) by the optimizer, varying the
 * temperatures, and for a free stack the azimuths and polarizers too (a Solc
 * type keeps its angles). Tolerances per plate are the
 * deviations that raise the RMS error by 0.01 (azimuth, temperature), and for
 * lengths the cut that moves a replica by 2 % of the pulse width (a length
 * error's phase is taken up by the oven). */
#ifndef SHP_DESIGN_H
#define SHP_DESIGN_H

#include "shp/diag.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SHP_DESIGN_FREE,  /* azimuths by synthesis */
  SHP_DESIGN_FAN,   /* rho, 3 rho, ... between parallel polarizers */
  SHP_DESIGN_FOLDED /* +rho, -rho, ... between crossed polarizers */
} shp_design_type;

typedef struct {
  const shp_target *target; /* borrowed */
  const char *material;
  size_t crystals;
  double wavelength_nm, fwhm_ps;
  shp_design_type type;
  bool double_pass;
  double base_temperature_c; /* plates are tuned upward from here */
  unsigned long seed;        /* of the full-model polish */
} shp_design_spec;

typedef struct {
  double length_mm, length_tolerance_mm;
  double azimuth_deg, azimuth_tolerance_deg;
  double temperature_c, temperature_tolerance_k;
} shp_design_plate;

typedef struct {
  shp_stack *stack;      /* the design, owned */
  double plate_delay_ps; /* o/e group delay of one plate */
  double fit_error;      /* of the ideal replica model (free type), else NAN */
  shp_metrics synthesis; /* the full model before the polish */
  shp_metrics metrics;   /* after it: what the lab should see */
  shp_design_plate *plates; /* crystal_count entries */
} shp_design;

/* Design a stack for spec. Returns NULL with shp_error_detail() on failure;
 * SHP_ERR_RANGE when a double pass has no palindromic realisation. Owned by
 * the caller: shp_design_free. */
shp_design *shp_design_run(const shp_design_spec *spec);
void shp_design_free(shp_design *d);

#ifdef __cplusplus
}
#endif
#endif
