/* One complete simulation of a stack file: the output pulse, its spectrum,
 * its autocorrelation and its metrics, optionally against a target. What
 * `shapectl simulate` prints and the GUI draws. */
#ifndef SHP_SIMULATION_H
#define SHP_SIMULATION_H

#include "shp/diag.h"
#include "shp/grid.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  shp_grid grid;
  size_t n;          /* grid points */
  double *time_ps;   /* n */
  double *intensity; /* n, total */
  double *intensity_x, *intensity_y;
  double *input_intensity;        /* n, the pulse before the stack */
  double *target;                 /* n, peak 1, or NULL without a target */
  double *wavelength_nm;          /* n, ascending */
  double *spectrum;               /* n, output spectral density per rad/ps */
  double *input_spectrum;         /* n */
  double *delay_ps;               /* 2n */
  double *autocorrelation;        /* 2n, peak 1, background free */
  double *target_autocorrelation; /* 2n, or NULL */
  shp_metrics metrics;
  double edge_energy; /* share of the output energy in the outer 2 % of the
                         window on each side: a sign the window is short */
} shp_simulation;

/* Simulate stack s (and compare with target t when not NULL). With
 * no_dispersion each crystal's phase is taken to first order about the
 * carrier. Returns NULL with shp_error_detail() on failure; a grid too short
 * for the output (edge energy above 1e-6) fails with SHP_ERR_GRID. Owned by
 * the caller: shp_simulation_free. */
shp_simulation *shp_simulate(const shp_stack *s, const shp_target *t,
                             bool no_dispersion);
void shp_simulation_free(shp_simulation *sim);

#ifdef __cplusplus
}
#endif
#endif
