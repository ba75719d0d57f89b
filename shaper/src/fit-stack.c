/* A fit's solution written into a stack: the model the loop optimises on
 * (decide.h). Reads the fit's layout, so it lives beside fit*.c. */
#include "fit-private.h"
#include "shp/decide.h"
#include "shp/error.h"

#include <stdlib.h>
#include <string.h>

const shp_stack *shp_fit_stack(const shp_fit *f) { return f ? f->stack : NULL; }

shp_stack *shp_fit_solution_stack(const shp_fit *f,
                                  const shp_fit_solution *sol) {
  if (!f || !sol || !sol->params) {
    shp_error_set(SHP_ERR_INVALID, "fit stack: a fit and a solution needed");
    return NULL;
  }
  const shp_stack *src = f->stack;
  if (src->spectrum_file) {
    shp_error_set(SHP_ERR_INVALID,
                  "fit stack: a pulse from a measured spectrum is not "
                  "written into a stack");
    return NULL;
  }
  const double *p = sol->params;
  double width = f->fit_pulse ? p[f->i_width] : 0.0;
  shp_stack *s = shp_stack_new(src->name ? src->name : "fit",
                               src->pulse.center_wavelength_nm,
                               src->pulse.fwhm_ps * (1 + width));
  if (!s)
    return NULL;
  s->pulse.shape = src->pulse.shape;
  s->pulse.gdd_fs2 = src->pulse.gdd_fs2 + (f->fit_pulse ? p[f->i_gdd] : 0.0);
  s->has_grid = src->has_grid;
  s->grid_points = src->grid_points;
  s->grid_window_ps = src->grid_window_ps;
  s->has_input_polarizer = src->has_input_polarizer;
  s->input_polarizer_deg = src->input_polarizer_deg;
  s->has_output_polarizer = src->has_output_polarizer;
  s->output_polarizer_deg = src->output_polarizer_deg;
  s->double_pass = src->double_pass;
  for (size_t i = 0; i < src->crystal_count; i++) {
    const shp_stack_crystal *c = &src->crystals[i];
    double dl = f->fit_len ? 1e-3 * p[f->i_len + i] : 0.0;
    double daz = f->fit_az ? p[f->i_az + i] : 0.0;
    if (shp_stack_add_crystal(s, c->material_name, f->length0[i] + dl,
                              f->azimuth0[i] + daz,
                              c->temperature_c) != SHP_OK) {
      shp_stack_free(s);
      return NULL;
    }
    shp_stack_crystal *d = &s->crystals[i];
    /* As fit_model: the offset holds the length error's carrier phase,
     * which the longer plate now adds itself. */
    d->phase_offset_rad = p[i] - f->gamma0[i] * dl;
    d->has_phase_offset = true;
    d->has_temperature = true;
    d->slope_correction_rad_per_k = c->slope_correction_rad_per_k;
    d->has_slope_correction = c->has_slope_correction;
  }
  return s;
}
