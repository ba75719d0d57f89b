/* Jones-matrix propagation of a two-component field through an optical path
 * on a spectral grid.
 *
 * A path is the input polarisation, a sequence of elements in beam order
 * (a-cut birefringent crystals, polarizers, ideal waveplates), an optional
 * output polarizer, and optionally a mirror that sends the light back through
 * the elements (double pass: the palindromic sequence 1..N then N..1).
 *
 * Conventions (DESIGN.md): a crystal's extraordinary axis sits at azimuth_deg
 * from lab x; the field picks up exp(-i n omega L / c) on each axis, with
 * n(lambda, T) from the material and L the plate length at T. Output time is
 * in a frame that removes each crystal's mean o/e phase and group delay, so
 * replicas are centred in the window; the remaining common dispersion (the
 * mean index's GVD and beyond) is kept, so femtosecond pulses chirp. */
#ifndef SHP_PROPAGATOR_H
#define SHP_PROPAGATOR_H

#include "shp/grid.h"
#include "shp/material.h"

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SHP_ELEMENT_CRYSTAL = 0,
  SHP_ELEMENT_POLARIZER = 1,
  SHP_ELEMENT_WAVEPLATE = 2
} shp_element_kind;

typedef struct {
  const shp_material *material; /* borrowed; must outlive its users */
  double length_mm;             /* at the material's reference temperature */
  double azimuth_deg;           /* extraordinary axis from lab x */
  double temperature_c;
  double phase_offset_rad; /* added to the e-o phase difference */
  /* A measured correction to the material model's phase per kelvin: adds
   * slope_correction_rad_per_k * (temperature_c - the material's reference
   * temperature) to the e-o phase difference. 0 unless calibrated. */
  double slope_correction_rad_per_k;
} shp_crystal;

typedef struct {
  double angle_deg;        /* transmission axis from lab x */
  double extinction_ratio; /* pass/block intensity ratio; 0 = ideal */
} shp_polarizer;

typedef struct {
  double azimuth_deg;      /* slow axis from lab x */
  double retardance_waves; /* slow-axis phase lag in waves, no dispersion */
} shp_waveplate;

typedef struct {
  shp_element_kind kind;
  union {
    shp_crystal crystal;
    shp_polarizer polarizer;
    shp_waveplate waveplate;
  };
} shp_element;

typedef struct {
  double input_polarization_deg; /* the input is linearly polarised along it */
  const shp_element *elements;   /* borrowed, in beam order */
  size_t count;
  bool has_output_polarizer;
  shp_polarizer output_polarizer;
  bool double_pass;   /* back through the elements off a mirror */
  bool no_dispersion; /* expand each crystal's phase to first order about
                         the carrier: replicas delay but do not chirp */
} shp_path;

/* The field after the path, on the grid: spectra and time traces of the lab
 * x (index 0) and y (index 1) components. Arrays are fftw_malloc'd. */
typedef struct {
  size_t n;
  double complex *spec[2];
  double complex *time[2];
} shp_field;

shp_field *shp_field_new(size_t n);
void shp_field_free(shp_field *f);
/* sum_j (|x|^2 + |y|^2) dt: the energy of the trace (1 for an input pulse). */
double shp_field_energy(const shp_field *f, double dt_ps);
/* Intensity traces per component and total; any output may be NULL. */
void shp_field_intensity(const shp_field *f, double *ix, double *iy,
                         double *total);
/* Power spectral density S(omega_k), normalised so that sum_k S_k domega is
 * the energy; any output may be NULL. */
void shp_field_spectrum(const shp_field *f, const shp_grid *g, double *sx,
                        double *sy, double *total);

typedef struct shp_propagator shp_propagator;

/* Bind a path's structure to a grid: evaluates every crystal's indices on
 * the grid (so every grid wavelength must lie in every material's valid
 * range), allocates aligned buffers and makes the FFTW plans. The path's
 * values (lengths, azimuths, temperatures, angles) may change between calls
 * to apply; its structure (element kinds, materials, double pass, dispersion
 * switch) may not. Returns NULL with shp_error_detail() on failure
 * (SHP_ERR_RANGE naming the crystal and wavelength, SHP_ERR_INVALID,
 * SHP_ERR_NOMEM). Owned by the caller. */
shp_propagator *shp_propagator_new(const shp_grid *g, const shp_path *path);
void shp_propagator_free(shp_propagator *p);
const shp_grid *shp_propagator_grid(const shp_propagator *p);

/* Propagate the scalar input spectrum (shp_pulse_fill) through path into
 * out, in frequency and time. Allocates nothing and plans nothing.
 * Errors: SHP_ERR_MISMATCH (path structure differs from the bound one),
 * SHP_ERR_INVALID (a non-finite or impossible value, naming the element). */
int shp_propagator_apply(shp_propagator *p, const shp_path *path,
                         const double complex *input, shp_field *out);

/* An upper bound on the delay spread (ps) a path can give a pulse at the
 * wavelength: the sum of the crystals' o/e group-delay differences, twice for
 * a double pass. For choosing a grid. Errors as shp_material_props_at. */
int shp_path_delay_span_ps(const shp_path *path, double wavelength_nm,
                           double *span_ps);

#ifdef __cplusplus
}
#endif
#endif
