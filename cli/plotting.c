/* The three-panel figure of a simulation, shared by simulate and optimize. */
#include "cli.h"
#include "output.h"

#include "shp/error.h"
#include "shp/plot.h"

#include <math.h>
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

int cli_convergence_alloc(cli_convergence *c, size_t count) {
  *c = (cli_convergence){.count = count};
  size_t n = count ? count : 1;
  double **in[] = {&c->moves,      &c->residual, &c->noise,       &c->best,
                   &c->best_sigma, &c->worst,    &c->worst_sigma, &c->allowed};
  bool ok = true;
  for (size_t k = 0; k < sizeof in / sizeof in[0]; k++)
    ok = (*in[k] = calloc(n, sizeof(double))) != NULL && ok;
  ok = (c->band_x = calloc(2 * n, sizeof(double))) != NULL && ok;
  ok = (c->band_y = calloc(2 * n, sizeof(double))) != NULL && ok;
  if (ok)
    return CLI_OK;
  cli_convergence_free(c);
  cli_error("out of memory");
  return CLI_FAILURE;
}

void cli_convergence_panel(cli_convergence *c, double tolerance) {
  size_t n = c->count;
  double lo = INFINITY, hi = -INFINITY, top = tolerance, trace_top = 0;
  for (size_t k = 0; k < n; k++) {
    /* The verdict's test: residual <= 1.25 noise (run.c). */
    c->allowed[k] = 1.25 * c->noise[k];
    /* Best - sigma along the moves, then worst + sigma back: the band's
     * outline. */
    c->band_x[k] = c->band_x[2 * n - 1 - k] = c->moves[k];
    c->band_y[k] = fmax(0, c->best[k] - c->best_sigma[k]);
    c->band_y[2 * n - 1 - k] = c->worst[k] + c->worst_sigma[k];
    lo = fmin(lo, c->moves[k]);
    hi = fmax(hi, c->moves[k]);
    if (isfinite(c->band_y[2 * n - 1 - k]))
      top = fmax(top, c->band_y[2 * n - 1 - k]);
    if (isfinite(c->residual[k]))
      trace_top = fmax(trace_top, c->residual[k]);
    if (isfinite(c->allowed[k]))
      trace_top = fmax(trace_top, c->allowed[k]);
  }
  if (!(lo <= hi))
    lo = hi = 0;
  if (!(isfinite(top) && top > 0))
    top = 1;
  if (!(trace_top > 0))
    trace_top = 1;
  double pad = hi > lo ? 0.05 * (hi - lo) : 0.5;
  c->tol_x[0] = lo - pad;
  c->tol_x[1] = hi + pad;
  c->tol_y[0] = c->tol_y[1] = tolerance;
  c->series[0] = (shp_plot_series){
      c->band_x,     c->band_y, 2 * n, "best - 1 sigma to worst + 1 sigma",
      SHP_PLOT_BAND, 2};
  c->series[1] = (shp_plot_series){c->moves,        c->best,       n,
                                   "best solution", SHP_PLOT_LINE, 2};
  c->series[2] = (shp_plot_series){c->moves,         c->worst,        n,
                                   "worst solution", SHP_PLOT_DASHED, 2};
  c->series[3] =
      (shp_plot_series){c->tol_x, c->tol_y, 2, "tolerance", SHP_PLOT_DASHED, 6};
  c->series[4] = (shp_plot_series){c->moves,
                                   c->residual,
                                   n,
                                   "residual against the best solution",
                                   SHP_PLOT_LINE,
                                   0};
  c->series[5] = (shp_plot_series){
      c->moves,        c->allowed, n, "noise x 1.25 (the residual allowed)",
      SHP_PLOT_DOTTED, 0};
  c->predicted = (shp_plot_panel){
      .title = "Predicted intensity error of the consistent solutions",
      .xlabel = "oven moves",
      .ylabel = "relative RMS",
      .series = c->series,
      .series_count = 4,
      .fixed_x = true,
      .xmin = c->tol_x[0],
      .xmax = c->tol_x[1],
      .fixed_y = true,
      .ymin = 0,
      .ymax = 1.15 * top,
      .integer_x = true};
  c->trace = (shp_plot_panel){.title = "Measured trace against the model",
                              .xlabel = "oven moves",
                              .ylabel = "relative RMS",
                              .series = c->series + 4,
                              .series_count = 2,
                              .fixed_x = true,
                              .xmin = c->tol_x[0],
                              .xmax = c->tol_x[1],
                              .fixed_y = true,
                              .ymin = 0,
                              .ymax = 1.15 * trace_top,
                              .integer_x = true};
}

void cli_convergence_free(cli_convergence *c) {
  free(c->moves);
  free(c->residual);
  free(c->noise);
  free(c->best);
  free(c->best_sigma);
  free(c->worst);
  free(c->worst_sigma);
  free(c->allowed);
  free(c->band_x);
  free(c->band_y);
  *c = (cli_convergence){0};
}
