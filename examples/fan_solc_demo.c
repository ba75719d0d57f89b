/* A fan-type Solc shaper of four alpha-BBO plates, computed with the optics
 * library from C: the smallest complete use of the API.
 *
 * Each plate delays the extraordinary replica by 1 ps at 1030 nm, and each is
 * warmed to the nearest temperature above 40 C where its retardance is a full
 * wave, the fan design condition (shp_tune_temperature). A 0.5 ps Gaussian
 * pulse goes in; the output intensity and its autocorrelation are written as
 * CSV into the directory given on the command line, and the metrics are
 * printed.
 *
 *   fan_solc_demo OUTDIR */
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/generate.h"
#include "shp/material.h"
#include "shp/propagator.h"
#include "shp/pulse.h"

#include <stdio.h>
#include <stdlib.h>

#define PLATES 4

static int fail(const char *what) {
  fprintf(stderr, "fan_solc_demo: %s: %s\n", what, shp_error_detail());
  return 1;
}

static int write_csv(const char *path, const char *header, size_t n,
                     const double *x, const double *y, const double *z,
                     const double *w) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fprintf(f, "%s\n", header);
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "%.6f,%.9e", x[i], y[i]);
    if (z != NULL)
      fprintf(f, ",%.9e,%.9e", z[i], w[i]);
    fputc('\n', f);
  }
  return fclose(f);
}

int main(int argc, char **argv) {
  const char *outdir = argc > 1 ? argv[1] : ".";
  const double wavelength_nm = 1030.0, fwhm_ps = 0.5, replica_ps = 1.0;
  shp_material *bbo = shp_material_open("alpha-BBO");
  if (bbo == NULL)
    return fail("alpha-BBO");
  shp_material_props props;
  if (shp_material_props_at(bbo, wavelength_nm, 40.0, 1.0, &props) != SHP_OK)
    return fail("material");
  double length = replica_ps / props.group_delay_ps_per_mm;
  shp_element el[PLATES];
  double rho = 45.0 / PLATES; /* pi / (4N) */
  for (int i = 0; i < PLATES; i++) {
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = (shp_crystal){
        .material = bbo, .length_mm = length, .azimuth_deg = (2 * i + 1) * rho};
    if (shp_tune_temperature(bbo, length, wavelength_nm, 0.0, 40.0,
                             &el[i].crystal.temperature_c) != SHP_OK)
      return fail("design temperature");
  }
  shp_path path = {.elements = el,
                   .count = PLATES,
                   .has_output_polarizer = true,
                   .output_polarizer = {.angle_deg = 0.0}};
  shp_pulse pulse = {.shape = SHP_PULSE_GAUSSIAN,
                     .center_wavelength_nm = wavelength_nm,
                     .fwhm_ps = fwhm_ps};
  shp_grid_needs needs;
  shp_grid grid;
  if (shp_pulse_needs(&pulse, &needs.pulse_fwhm_ps, &needs.pulse_extent_ps) ||
      shp_path_delay_span_ps(&path, wavelength_nm, &needs.delay_span_ps) ||
      shp_grid_choose(&needs, wavelength_nm, &grid))
    return fail("grid");
  shp_propagator *prop = shp_propagator_new(&grid, &path);
  shp_field *field = shp_field_new(grid.n);
  shp_diag *diag = shp_diag_new(grid.n);
  double complex *input = malloc(grid.n * sizeof *input);
  double *t = malloc(grid.n * sizeof *t), *ix = malloc(grid.n * sizeof *ix),
         *iy = malloc(grid.n * sizeof *iy),
         *itot = malloc(grid.n * sizeof *itot),
         *tau = malloc(2 * grid.n * sizeof *tau),
         *ac = malloc(2 * grid.n * sizeof *ac);
  if (!prop || !field || !diag || !input || !t || !ix || !iy || !itot || !tau ||
      !ac)
    return fail("setup");
  if (shp_pulse_fill(&pulse, &grid, input) ||
      shp_propagator_apply(prop, &path, input, field))
    return fail("propagation");
  shp_field_intensity(field, ix, iy, itot);
  shp_metrics m;
  if (shp_diag_metrics(diag, itot, grid.dt, NULL, &m) ||
      shp_diag_autocorrelation(diag, itot, SHP_AC_BACKGROUND_FREE, ac))
    return fail("diagnostics");
  for (size_t j = 0; j < grid.n; j++)
    t[j] = shp_grid_time_ps(&grid, j);
  for (size_t j = 0; j < 2 * grid.n; j++)
    tau[j] = ((double)j - (double)grid.n) * grid.dt;
  char p1[1024], p2[1024];
  snprintf(p1, sizeof p1, "%s/fan_solc_intensity.csv", outdir);
  snprintf(p2, sizeof p2, "%s/fan_solc_autocorrelation.csv", outdir);
  if (write_csv(p1, "time_ps,intensity,intensity_x,intensity_y", grid.n, t,
                itot, ix, iy) != 0 ||
      write_csv(p2, "delay_ps,autocorrelation", 2 * grid.n, tau, ac, NULL,
                NULL) != 0) {
    fprintf(stderr, "fan_solc_demo: cannot write into %s\n", outdir);
    return 1;
  }
  printf("fan Solc shaper, %d alpha-BBO plates of %.3f mm at", PLATES, length);
  for (int i = 0; i < PLATES; i++)
    printf(" %.2f", el[i].crystal.temperature_c);
  printf(" C\n");
  printf("input  %.2f ps Gaussian at %.1f nm; grid %zu points over %.1f ps\n",
         fwhm_ps, wavelength_nm, grid.n, shp_grid_window_ps(&grid));
  printf("output transmission %.4f, FWHM %.3f ps, rise %.3f ps, fall %.3f ps, "
         "ripple %.3f\n",
         m.transmission, m.fwhm_ps, m.rise_time_ps, m.fall_time_ps, m.ripple);
  printf("wrote %s\n      %s\n", p1, p2);
  free(input);
  free(t);
  free(ix);
  free(iy);
  free(itot);
  free(tau);
  free(ac);
  shp_diag_free(diag);
  shp_field_free(field);
  shp_propagator_free(prop);
  shp_material_free(bbo);
  return 0;
}
