#include "shp/simulation.h"

#include "shp/error.h"
#include "shp/propagator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The output may not reach the window's edges: the time axis is circular, so
 * energy there has wrapped around from the other side. */
#define EDGE_FRACTION 0.02
#define EDGE_LIMIT 1e-6

void shp_simulation_free(shp_simulation *sim) {
  if (sim == NULL)
    return;
  double *arrays[] = {
      sim->time_ps,       sim->intensity,       sim->intensity_x,
      sim->intensity_y,   sim->input_intensity, sim->target,
      sim->wavelength_nm, sim->spectrum,        sim->input_spectrum,
      sim->delay_ps,      sim->autocorrelation, sim->target_autocorrelation};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
    free(arrays[i]);
  free(sim);
}

static shp_simulation *sim_alloc(size_t n, bool with_target) {
  shp_simulation *sim = calloc(1, sizeof *sim);
  if (sim == NULL)
    return NULL;
  sim->n = n;
  double **one[] = {&sim->time_ps,         &sim->intensity,
                    &sim->intensity_x,     &sim->intensity_y,
                    &sim->input_intensity, &sim->wavelength_nm,
                    &sim->spectrum,        &sim->input_spectrum};
  bool ok = true;
  for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
    ok = ok && (*one[i] = calloc(n, sizeof(double))) != NULL;
  ok = ok && (sim->delay_ps = calloc(2 * n, sizeof(double))) != NULL &&
       (sim->autocorrelation = calloc(2 * n, sizeof(double))) != NULL;
  if (with_target)
    ok = ok && (sim->target = calloc(n, sizeof(double))) != NULL &&
         (sim->target_autocorrelation = calloc(2 * n, sizeof(double))) != NULL;
  if (!ok) {
    shp_simulation_free(sim);
    return NULL;
  }
  return sim;
}

static double edge_share(const double *intensity, size_t n) {
  size_t edge = (size_t)(EDGE_FRACTION * (double)n);
  double total = 0, outer = 0;
  for (size_t j = 0; j < n; j++) {
    total += intensity[j];
    if (j < edge || j >= n - edge)
      outer += intensity[j];
  }
  return total > 0 ? outer / total : 0.0;
}

/* Spectra in ascending wavelength, i.e. descending grid index. */
static void fill_spectra(shp_simulation *sim, const shp_field *out,
                         const shp_field *in) {
  const shp_grid *g = &sim->grid;
  size_t n = sim->n;
  double *tmp = sim->wavelength_nm; /* reused as scratch before its fill */
  shp_field_spectrum(out, g, NULL, NULL, tmp);
  for (size_t k = 0; k < n; k++)
    sim->spectrum[k] = tmp[n - 1 - k];
  shp_field_spectrum(in, g, NULL, NULL, tmp);
  for (size_t k = 0; k < n; k++)
    sim->input_spectrum[k] = tmp[n - 1 - k];
  for (size_t k = 0; k < n; k++)
    sim->wavelength_nm[k] = shp_grid_wavelength_um(g, n - 1 - k) * 1e3;
}

typedef struct {
  shp_propagator *prop;
  shp_field *out, *in;
  shp_diag *diag;
  double complex *spec;
} work;

static void work_clear(work *w) {
  shp_propagator_free(w->prop);
  shp_field_free(w->out);
  shp_field_free(w->in);
  shp_diag_free(w->diag);
  free(w->spec);
}

static int run(const shp_stack *s, const shp_target *t, bool no_dispersion,
               shp_simulation *sim, work *w) {
  const shp_grid *g = &sim->grid;
  size_t n = g->n;
  shp_element *el = calloc(s->crystal_count + 1, sizeof *el);
  if (el == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "simulate: out of memory");
  shp_path path;
  shp_stack_path(s, el, &path);
  path.no_dispersion = no_dispersion;
  w->prop = shp_propagator_new(g, &path);
  w->out = shp_field_new(n);
  w->in = shp_field_new(n);
  w->diag = shp_diag_new(n);
  w->spec = malloc(n * sizeof *w->spec);
  shp_path empty = {.input_polarization_deg = path.input_polarization_deg};
  shp_propagator *identity = NULL;
  int rc = SHP_OK;
  if (!w->prop || !w->out || !w->in || !w->diag || !w->spec)
    rc = shp_error_last() ? shp_error_last() : SHP_ERR_NOMEM;
  if (rc == SHP_OK)
    rc = shp_pulse_fill(&s->pulse, g, w->spec);
  if (rc == SHP_OK)
    rc = shp_propagator_apply(w->prop, &path, w->spec, w->out);
  if (rc == SHP_OK && (identity = shp_propagator_new(g, &empty)) == NULL)
    rc = shp_error_last();
  if (rc == SHP_OK)
    rc = shp_propagator_apply(identity, &empty, w->spec, w->in);
  shp_propagator_free(identity);
  free(el);
  if (rc != SHP_OK)
    return rc;
  for (size_t j = 0; j < n; j++)
    sim->time_ps[j] = shp_grid_time_ps(g, j);
  for (size_t j = 0; j < 2 * n; j++)
    sim->delay_ps[j] = ((double)j - (double)n) * g->dt;
  shp_field_intensity(w->out, sim->intensity_x, sim->intensity_y,
                      sim->intensity);
  shp_field_intensity(w->in, NULL, NULL, sim->input_intensity);
  fill_spectra(sim, w->out, w->in);
  sim->edge_energy = edge_share(sim->intensity, n);
  if (sim->edge_energy > EDGE_LIMIT)
    return shp_error_set(SHP_ERR_GRID,
                         "grid: %.2g of the output energy reaches the edges "
                         "of the %g ps window; set a longer grid.window_ps",
                         sim->edge_energy, shp_grid_window_ps(g));
  shp_metrics_opts opts = {0};
  double *weight = NULL;
  if (t != NULL) {
    weight = malloc(n * sizeof *weight);
    if (weight == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "simulate: out of memory");
    rc = shp_target_sample(t, g, sim->target, weight);
    opts.target = sim->target;
    opts.weight = weight;
    shp_target_plateau(t, &opts.plateau_start_ps, &opts.plateau_end_ps);
    if (rc == SHP_OK)
      rc =
          shp_diag_autocorrelation(w->diag, sim->target, SHP_AC_BACKGROUND_FREE,
                                   sim->target_autocorrelation);
  }
  if (rc == SHP_OK)
    rc = shp_diag_metrics(w->diag, sim->intensity, g->dt, &opts, &sim->metrics);
  if (rc == SHP_OK)
    rc = shp_diag_autocorrelation(w->diag, sim->intensity,
                                  SHP_AC_BACKGROUND_FREE, sim->autocorrelation);
  free(weight);
  return rc;
}

shp_simulation *shp_simulate(const shp_stack *s, const shp_target *t,
                             bool no_dispersion) {
  shp_grid g;
  double span = t != NULL ? 1.5 * shp_target_span_ps(t) : 0.0;
  if (shp_stack_grid(s, span, &g) != SHP_OK)
    return NULL;
  shp_simulation *sim = sim_alloc(g.n, t != NULL);
  if (sim == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "simulate: out of memory");
    return NULL;
  }
  sim->grid = g;
  work w = {0};
  int rc = run(s, t, no_dispersion, sim, &w);
  work_clear(&w);
  if (rc != SHP_OK) {
    if (s->path != NULL)
      shp_error_prefix("%s: ", s->path);
    shp_simulation_free(sim);
    return NULL;
  }
  return sim;
}
