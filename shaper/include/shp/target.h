/* Target waveforms: what the shaper should make of the pulse.
 *
 *   shape: flat-top      # flat-top | ramp | triangle | parabolic |
 *                        # gaussian-train | file
 *   duration_ps: 5.0     # full width at half maximum
 *   rise_time_ps: 1.0    # 10-90 % edges (flat-top, ramp)
 *   # ramp: a line up to the peak, then a falling edge of rise_time_ps
 *   #   (which must be below duration_ps / 2); half maxima at 0 and duration
 *   # direction: rising   # ramp only: rising (default) | falling, the
 *   #   rising ramp mirrored in time (edge first, then the line down)
 *   # gaussian-train: count, spacing_ps, pulse_fwhm_ps
 *   # file: target.csv   # with shape: file; columns time_ps, intensity
 *   weight_window_ps: [-4, 4]   # optional: the error counts only here
 *   # Optional acceptance thresholds, for any shape; a tolerance run's yield
 *   # is the share of samples that meet every threshold given:
 *   max_error: 0.05        # relative RMS error after best shift and scale, > 0
 *   max_ripple: 0.1        # ripple over the plateau, > 0
 *   min_transmission: 0.5  # energy transmission, in (0, 1]
 *
 * A sampled target has a peak of 1 and is centred on t = 0 (a ramp has its
 * half maxima at 0 and duration_ps; a file keeps its own time axis). Edges
 * of a given rise time are error-function edges (a sharp edge smoothed by a
 * Gaussian), whose 10-90 % time is 2.5631 sigma. */
#ifndef SHP_TARGET_H
#define SHP_TARGET_H

#include "shp/grid.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SHP_TARGET_FLAT_TOP,
  SHP_TARGET_RAMP,
  SHP_TARGET_TRIANGLE,
  SHP_TARGET_PARABOLIC,
  SHP_TARGET_GAUSSIAN_TRAIN,
  SHP_TARGET_FILE
} shp_target_shape;

typedef struct {
  shp_target_shape shape;
  double duration_ps;  /* FWHM */
  bool falling;        /* ramp: mirrored in time */
  double rise_time_ps; /* 10-90 % */
  size_t count;        /* gaussian-train */
  double spacing_ps, pulse_fwhm_ps;
  char *file; /* as written */
  double *file_time_ps, *file_intensity;
  size_t file_count;
  bool has_window;
  double window_start_ps, window_end_ps;
  /* Acceptance thresholds, each valid only when its flag is set. */
  bool has_max_error, has_max_ripple, has_min_transmission;
  double max_error, max_ripple, min_transmission;
  char *path; /* the file it was read from, or NULL */
} shp_target;

/* Read a target file. Returns NULL with a message naming file, line and key.
 * Owned by the caller: shp_target_free. */
shp_target *shp_target_load(const char *path);
void shp_target_free(shp_target *t);

/* Sample the target on the grid's time axis (peak 1) and, when weight is not
 * NULL, the error weight (1 inside the window, 0 outside; 1 everywhere
 * without one). Errors: SHP_ERR_RANGE when the target does not fit in the
 * window. */
int shp_target_sample(const shp_target *t, const shp_grid *g, double *intensity,
                      double *weight);

/* The full span the target occupies (ps), to size a grid. */
double shp_target_span_ps(const shp_target *t);

/* The flat part of a flat-top, where ripple is measured: between the inner
 * ends of its edges. Returns false for other shapes. */
bool shp_target_plateau(const shp_target *t, double *start_ps, double *end_ps);

#ifdef __cplusplus
}
#endif
#endif
