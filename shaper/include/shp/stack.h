/* Stack files: the shaper as a designer writes it (DESIGN.md, "The stack
 * file"), read and written with libyaml.
 *
 *   name: fan-type Solc shaper, 4 alpha-BBO plates
 *   pulse: {center_wavelength_nm: 1030.0, fwhm_ps: 0.5, shape: gaussian,
 *           gdd_fs2: 0.0, tod_fs3: 0.0}      # or spectrum_file: x.csv
 *   grid: {points: 16384, window_ps: 160.0} # optional
 *   input_polarizer_deg: 0.0                 # optional
 *   crystals:
 *     - {material: alpha-BBO, length_mm: 10.0, azimuth_deg: 11.25,
 *        temperature_c: 40.0, phase_offset_rad: 0.0,
 *        slope_correction_rad_per_k: 0.0}  # the last two from calibration
 *   output_polarizer_deg: 0.0                # optional
 *   double_pass: false                       # optional
 *
 * Every error names the file, line and key.
 *
 * Bounds (DESIGN.md, bounded inputs): the file as every YAML file
 * (shp_yaml_load: 1 MiB, lines of 64 KiB, depth 64, one document), at most
 * SHP_STACK_MAX_CRYSTALS crystals, a grid of at most SHP_STACK_MAX_GRID_POINTS
 * points over at most SHP_STACK_MAX_WINDOW_PS, temperatures above absolute
 * zero and at most SHP_MATERIAL_MAX_TEMPERATURE_C. */
#ifndef SHP_STACK_H
#define SHP_STACK_H

#include "shp/grid.h"
#include "shp/material.h"
#include "shp/propagator.h"
#include "shp/pulse.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A shaper has a handful of crystals; 64 is far beyond any made (a 64-plate
 * binary stacker would have 2^64 replicas) and bounds the propagator's
 * memory, which holds two arrays of grid points per crystal: 10 000
 * crystals took 2.6 GiB. */
#define SHP_STACK_MAX_CRYSTALS 64
/* A grid stated in a file: 2^20 points (64 crystals then hold 1 GiB of
 * phase arrays) over at most 1 us, a thousand times the longest delay a
 * crystal stack makes. */
#define SHP_STACK_MAX_GRID_POINTS ((size_t)1 << 20)
#define SHP_STACK_MAX_WINDOW_PS 1e6

typedef struct {
  char *material_name;          /* as written: a name or a path */
  const shp_material *material; /* owned by the stack */
  double length_mm;
  double azimuth_deg;
  double temperature_c; /* the material's reference when not given */
  double phase_offset_rad;
  double slope_correction_rad_per_k; /* see shp_crystal; from calibration */
  bool has_temperature, has_phase_offset, has_slope_correction; /* written
                                                     back only if given */
} shp_stack_crystal;

typedef struct {
  char *name;
  char *path;            /* the file it was read from, or NULL */
  shp_pulse pulse;       /* pulse.spectrum points at spectrum */
  shp_spectrum spectrum; /* when spectrum_file is given */
  char *spectrum_file;   /* as written, or NULL */
  bool has_grid;
  size_t grid_points;
  double grid_window_ps;
  bool has_input_polarizer;
  double input_polarizer_deg;
  shp_stack_crystal *crystals;
  size_t crystal_count;
  bool has_output_polarizer;
  double output_polarizer_deg;
  bool double_pass;
  shp_material **materials; /* one per distinct material name */
  size_t material_count;
} shp_stack;

/* Read a stack file. Returns NULL with shp_error_detail() naming file, line
 * and key (SHP_ERR_IO, SHP_ERR_PARSE, SHP_ERR_RANGE, SHP_ERR_NOT_FOUND).
 * Owned by the caller: shp_stack_free. */
shp_stack *shp_stack_load(const char *path);

/* An empty stack (no crystals) for generators: a Gaussian pulse at the given
 * wavelength and width. Returns NULL on allocation failure. */
shp_stack *shp_stack_new(const char *name, double center_wavelength_nm,
                         double fwhm_ps);

/* Append a crystal of a material given by name or path. Errors as
 * shp_material_open. */
int shp_stack_add_crystal(shp_stack *s, const char *material, double length_mm,
                          double azimuth_deg, double temperature_c);

void shp_stack_free(shp_stack *s);

/* Write s to path in the stack-file schema: to a temporary file in the same
 * directory, flushed and renamed, so a reader never sees half a file. "-"
 * writes to standard output. Errors: SHP_ERR_IO naming the path. */
int shp_stack_save(const shp_stack *s, const char *path);

/* The optics path of a stack. elements must hold crystal_count entries and
 * outlive path; the materials belong to the stack. no_dispersion is left
 * false. */
void shp_stack_path(const shp_stack *s, shp_element *elements, shp_path *path);

/* The grid: as given in the file (checked against the pulse and the stack's
 * delays), or chosen so that it also holds min_span_ps (a target's span, or
 * 0). Errors: SHP_ERR_GRID, SHP_ERR_INVALID, SHP_ERR_RANGE, each prefixed
 * with the file name. */
int shp_stack_grid(const shp_stack *s, double min_span_ps, shp_grid *g);

#ifdef __cplusplus
}
#endif
#endif
