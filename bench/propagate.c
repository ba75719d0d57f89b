/* bench/propagate: cost of one propagation against the FFTs it contains.
 *
 * Eight alpha-BBO crystals with full dispersion on an 8192-point grid. Each
 * timed apply changes one crystal's temperature by a little, as an optimizer
 * does, so nothing is served from a cache. Prints the median time of one
 * apply, the median time of the FFTW transforms alone on the same grid (two
 * 8192-point complex inverse transforms, as apply does), their ratio, and
 * the heap allocations per apply. Target: ratio <= 6, zero allocations. */
#include "alloc_count.h"
#include "shp/error.h"
#include "shp/material.h"
#include "shp/propagator.h"
#include "shp/pulse.h"

#include <fftw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define POINTS 8192
#define CRYSTALS 8
#define REPEATS 2000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double fft_only_median(double *samples) {
  /* The same batched out-of-place plan the propagator makes: 2 transforms
   * of POINTS. */
  fftw_complex *buf = fftw_malloc(2 * POINTS * sizeof *buf);
  fftw_complex *out = fftw_malloc(2 * POINTS * sizeof *out);
  int dims = POINTS;
  fftw_plan plan =
      fftw_plan_many_dft(1, &dims, 2, buf, NULL, 1, dims, out, NULL, 1, dims,
                         FFTW_BACKWARD, FFTW_MEASURE);
  for (size_t i = 0; i < 2 * POINTS; i++)
    buf[i] = 1e-3 * (double)(i % 17);
  for (int r = 0; r < REPEATS; r++) {
    double t0 = now_s();
    fftw_execute(plan);
    samples[r] = now_s() - t0;
  }
  fftw_destroy_plan(plan);
  fftw_free(buf);
  fftw_free(out);
  return median(samples, REPEATS);
}

int main(void) {
  shp_material *bbo = shp_material_open("alpha-BBO");
  if (bbo == NULL) {
    fprintf(stderr, "propagate: %s\n", shp_error_detail());
    return 1;
  }
  shp_element el[CRYSTALS];
  for (int i = 0; i < CRYSTALS; i++) {
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = (shp_crystal){.material = bbo,
                                  .length_mm = 4.0 / (1 << (i % 4)),
                                  .azimuth_deg = 22.5 * i,
                                  .temperature_c = 40.0};
  }
  shp_path path = {
      .elements = el, .count = CRYSTALS, .has_output_polarizer = true};
  shp_grid grid;
  /* 100 fs at 800 nm: dispersion matters across this 80 ps window. */
  if (shp_grid_init(&grid, POINTS, 80.0, 800.0) != SHP_OK) {
    fprintf(stderr, "propagate: %s\n", shp_error_detail());
    return 1;
  }
  shp_propagator *p = shp_propagator_new(&grid, &path);
  shp_field *out = shp_field_new(grid.n);
  double complex *in = fftw_malloc(grid.n * sizeof *in);
  shp_pulse pulse = {.shape = SHP_PULSE_GAUSSIAN,
                     .center_wavelength_nm = 800.0,
                     .fwhm_ps = 0.1};
  if (p == NULL || out == NULL || in == NULL ||
      shp_pulse_fill(&pulse, &grid, in) != SHP_OK) {
    fprintf(stderr, "propagate: %s\n", shp_error_detail());
    return 1;
  }
  double *samples = malloc(REPEATS * sizeof *samples);
  /* Warm up caches and the re-binding path. */
  for (int r = 0; r < 50; r++)
    shp_propagator_apply(p, &path, in, out);
  size_t allocs_before = alloc_count();
  for (int r = 0; r < REPEATS; r++) {
    el[r % CRYSTALS].crystal.temperature_c = 40.0 + 0.37 * (r % 11);
    double t0 = now_s();
    shp_propagator_apply(p, &path, in, out);
    samples[r] = now_s() - t0;
  }
  size_t allocs = alloc_count() - allocs_before;
  double apply = median(samples, REPEATS);
  double fft = fft_only_median(samples);
  printf("grid points            %d\n", POINTS);
  printf("crystals               %d (alpha-BBO, dispersion on)\n", CRYSTALS);
  printf("apply median           %.1f us\n", apply * 1e6);
  printf("fft-only median        %.1f us (2 x %d-point complex inverse)\n",
         fft * 1e6, POINTS);
  printf("apply / fft            %.2f (target <= 6)\n", apply / fft);
  if (alloc_count_enabled())
    printf("allocations per apply  %.3f (target 0)\n",
           (double)allocs / REPEATS);
  else
    printf("allocations per apply  not counted in this build\n");
  free(samples);
  fftw_free(in);
  shp_field_free(out);
  shp_propagator_free(p);
  shp_material_free(bbo);
  return 0;
}
