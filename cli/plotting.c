/* The three-panel figure of a simulation, shared by simulate and optimize. */
#include "cli.h"
#include "output.h"

#include "shp/error.h"
#include "shp/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_plot_simulation(const char *file, const shp_stack *s,
                        const shp_simulation *sim) {
  size_t n = sim->n;
  const shp_metrics *m = &sim->metrics;
  /* The target, moved and scaled onto the output: a I(t - s) ~ T(t). */
  double *tx = NULL, *ty = NULL;
  if (sim->target != NULL) {
    tx = malloc(n * sizeof *tx);
    ty = malloc(n * sizeof *ty);
    if (tx == NULL || ty == NULL) {
      free(tx);
      free(ty);
      cli_error("out of memory");
      return CLI_FAILURE;
    }
    for (size_t j = 0; j < n; j++) {
      tx[j] = sim->time_ps[j] - m->error_shift_ps;
      ty[j] = sim->target[j] / m->error_scale;
    }
  }
  shp_plot_series pulse[] = {
      {sim->time_ps, sim->intensity, n, "output", SHP_PLOT_LINE, 0},
      {sim->time_ps, sim->intensity_x, n, "x", SHP_PLOT_DOTTED, 2},
      {sim->time_ps, sim->intensity_y, n, "y", SHP_PLOT_DOTTED, 3},
      {tx, ty, n, "target", SHP_PLOT_DASHED, 1}};
  shp_plot_series ac[] = {
      {sim->delay_ps, sim->autocorrelation, 2 * n, "output", SHP_PLOT_LINE, 0},
      {sim->delay_ps, sim->target_autocorrelation, 2 * n, "target",
       SHP_PLOT_DASHED, 1}};
  shp_plot_series spec[] = {
      {sim->wavelength_nm, sim->spectrum, n, "output", SHP_PLOT_LINE, 0},
      {sim->wavelength_nm, sim->input_spectrum, n, "input", SHP_PLOT_DASHED,
       4}};
  shp_plot_panel panels[] = {{.title = s->name,
                              .xlabel = "time (ps)",
                              .ylabel = "intensity (1/ps)",
                              .series = pulse,
                              .series_count = sim->target ? 4 : 3},
                             {.title = "Intensity autocorrelation",
                              .xlabel = "delay (ps)",
                              .ylabel = "autocorrelation",
                              .series = ac,
                              .series_count = sim->target ? 2 : 1},
                             {.title = "Spectrum",
                              .xlabel = "wavelength (nm)",
                              .ylabel = "spectral density (ps/rad)",
                              .series = spec,
                              .series_count = 2}};
  char title[512];
  out_metrics_title(title, sizeof title, NULL, m);
  shp_plot_figure fig = {.title = title, .panels = panels, .panel_count = 3};
  int rc = shp_plot_save(&fig, file, 1200, 1000);
  free(tx);
  free(ty);
  if (rc != SHP_OK)
    return cli_fail_lib(rc);
  fprintf(stderr, "shapectl: wrote %s\n", file);
  return CLI_OK;
}

bool cli_plot_path_ok(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot != NULL &&
      (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".svg") == 0 ||
       strcasecmp(dot, ".pdf") == 0))
    return true;
  cli_error("--plot: %s: expected a .png, .svg or .pdf file", path);
  return false;
}
