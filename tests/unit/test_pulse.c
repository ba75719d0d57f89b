/* Input pulses and grids: energy normalisation, widths, chirp, measured
 * spectra, grid choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/error.h"
#include "shp/grid.h"
#include "shp/propagator.h"
#include "shp/pulse.h"
#include "shp/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Time-domain intensity of a scalar spectrum, through an empty path (the
 * identity), so the test uses the same transform as everything else. */
static void to_time(const shp_grid *g, const double complex *spec,
                    double *inten) {
  shp_path empty = {0};
  shp_propagator *p = shp_propagator_new(g, &empty);
  assert_non_null(p);
  shp_field *f = shp_field_new(g->n);
  assert_int_equal(shp_propagator_apply(p, &empty, spec, f), SHP_OK);
  shp_field_intensity(f, NULL, NULL, inten);
  shp_field_free(f);
  shp_propagator_free(p);
}

/* Outermost half-maximum crossings, linearly interpolated. */
static double fwhm(const double *y, size_t n, double dx) {
  size_t imax = 0;
  for (size_t i = 1; i < n; i++)
    if (y[i] > y[imax])
      imax = i;
  double h = y[imax] / 2;
  size_t a = 0, b = n - 1;
  while (y[a + 1] < h)
    a++;
  while (y[b - 1] < h)
    b--;
  double ta = a + (h - y[a]) / (y[a + 1] - y[a]);
  double tb = b - (h - y[b]) / (y[b - 1] - y[b]);
  return (tb - ta) * dx;
}

static void check_shape(shp_pulse_shape shape, double fwhm_ps) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 40.0, 1030.0), SHP_OK);
  double complex *spec = malloc(g.n * sizeof *spec);
  double *inten = malloc(g.n * sizeof *inten);
  shp_pulse p = {
      .shape = shape, .center_wavelength_nm = 1030.0, .fwhm_ps = fwhm_ps};
  assert_int_equal(shp_pulse_fill(&p, &g, spec), SHP_OK);
  to_time(&g, spec, inten);
  double energy = 0;
  for (size_t j = 0; j < g.n; j++)
    energy += inten[j] * g.dt;
  assert_true(fabs(energy - 1.0) < 1e-12);
  /* 100 samples per FWHM: linear interpolation of a smooth peak's flanks is
   * good to ~1e-4 relative. */
  assert_true(fabs(fwhm(inten, g.n, g.dt) / fwhm_ps - 1.0) < 1e-4);
  /* Centred at t = 0 (index n/2). */
  size_t imax = 0;
  for (size_t j = 1; j < g.n; j++)
    if (inten[j] > inten[imax])
      imax = j;
  assert_int_equal(imax, g.n / 2);
  free(spec);
  free(inten);
}

static void test_gaussian_pulse_has_unit_energy_and_its_fwhm(void **state) {
  check_shape(SHP_PULSE_GAUSSIAN, 1.0);
}

static void test_sech2_pulse_has_unit_energy_and_its_fwhm(void **state) {
  check_shape(SHP_PULSE_SECH2, 1.0);
}

/* A Gaussian of FWHM tau0 with GDD phi2 stretches to
 * tau0 sqrt(1 + (4 ln2 phi2 / tau0^2)^2) (Diels & Rudolph, Ultrashort Laser
 * Pulse Phenomena, 2nd ed., eq. 2.35 in intensity-FWHM form). */
static void test_gdd_stretches_a_gaussian_as_the_closed_form(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 8192, 20.0, 800.0), SHP_OK);
  double complex *spec = malloc(g.n * sizeof *spec);
  double *inten = malloc(g.n * sizeof *inten);
  shp_pulse p = {.shape = SHP_PULSE_GAUSSIAN,
                 .center_wavelength_nm = 800.0,
                 .fwhm_ps = 0.05,
                 .gdd_fs2 = 2000.0};
  assert_int_equal(shp_pulse_fill(&p, &g, spec), SHP_OK);
  to_time(&g, spec, inten);
  double t0 = 0.05, phi2 = 2000.0 * SHP_FS2_TO_PS2;
  double want = t0 * sqrt(1 + pow(4 * log(2) * phi2 / (t0 * t0), 2));
  assert_true(fabs(fwhm(inten, g.n, g.dt) / want - 1.0) < 1e-3);
  free(spec);
  free(inten);
}

/* A measured Gaussian spectrum written to CSV comes back as the same pulse. */
static void
test_measured_spectrum_reproduces_the_pulse_it_came_from(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 40.0, 1030.0), SHP_OK);
  double tau = 1.0;
  /* Spectral intensity per unit frequency exp(-tau^2 dw^2/(4 ln2)), written
   * per unit wavelength (divide by the Jacobian lambda^2) on 2000 rows. */
  char path[] = "/tmp/shp-spectrum-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "wavelength_nm,intensity\n");
  double w0 = g.center_omega;
  for (int i = 0; i < 2000; i++) {
    double l_nm = 1020.0 + 20.0 * i / 1999.0;
    double dw = shp_omega_of_wavelength_um(l_nm * 1e-3) - w0;
    double s = exp(-tau * tau * dw * dw / (4 * log(2)));
    fprintf(f, "%.9f,%.12e\n", l_nm, s / (l_nm * l_nm));
  }
  fclose(f);
  shp_spectrum sp;
  assert_int_equal(shp_spectrum_load_csv(path, &sp), SHP_OK);
  unlink(path);
  shp_pulse meas = {.shape = SHP_PULSE_SPECTRUM,
                    .center_wavelength_nm = 1030.0,
                    .spectrum = &sp};
  shp_pulse ref = {.shape = SHP_PULSE_GAUSSIAN,
                   .center_wavelength_nm = 1030.0,
                   .fwhm_ps = tau};
  double complex *a = malloc(g.n * sizeof *a), *b = malloc(g.n * sizeof *b);
  assert_int_equal(shp_pulse_fill(&meas, &g, a), SHP_OK);
  assert_int_equal(shp_pulse_fill(&ref, &g, b), SHP_OK);
  /* Rows every 10 pm against a 1.6 nm wide spectrum: the interpolant is
   * good to ~1e-5 of the peak amplitude. */
  double peak = cabs(b[g.n / 2]), worst = 0;
  for (size_t k = 0; k < g.n; k++)
    worst = fmax(worst, cabs(a[k] - b[k]));
  assert_true(worst / peak < 1e-4);
  free(a);
  free(b);
  shp_spectrum_clear(&sp);
}

static void test_bad_spectrum_files_name_file_and_line(void **state) {
  char path[] = "/tmp/shp-bad-spectrum-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "wavelength_nm,intensity\n1020,1\n1021,abc\n");
  fclose(f);
  shp_spectrum sp;
  assert_int_equal(shp_spectrum_load_csv(path, &sp), SHP_ERR_PARSE);
  assert_non_null(strstr(shp_error_detail(), path));
  assert_non_null(strstr(shp_error_detail(), ":3:"));
  f = fopen(path, "w");
  fprintf(f, "1020,1\n1021,-2\n1022,1\n");
  fclose(f);
  assert_int_equal(shp_spectrum_load_csv(path, &sp), SHP_ERR_PARSE);
  assert_non_null(strstr(shp_error_detail(), "intensity"));
  unlink(path);
  assert_int_equal(shp_spectrum_load_csv("/nonexistent/x.csv", &sp),
                   SHP_ERR_FILE);
}

static void
test_chosen_grid_holds_the_stack_and_resolves_the_pulse(void **state) {
  shp_grid_needs needs = {
      .pulse_fwhm_ps = 1.0, .pulse_extent_ps = 6.0, .delay_span_ps = 15.0};
  shp_grid g;
  assert_int_equal(shp_grid_choose(&needs, 257.5, &g), SHP_OK);
  assert_true(g.dt <= needs.pulse_fwhm_ps / 16 + 1e-15);
  assert_true(shp_grid_window_ps(&g) >= 21.0);
  /* even, with no prime factor above 7 (fast FFT sizes) */
  size_t m = g.n;
  assert_int_equal(m % 2, 0);
  for (size_t f = 2; f <= 7; f++)
    while (m % f == 0)
      m /= f;
  assert_int_equal(m, 1);
  assert_int_equal(shp_grid_check(&g, &needs), SHP_OK);
  /* A given grid that is too short or too coarse is reported. */
  shp_grid small;
  assert_int_equal(shp_grid_init(&small, 256, 10.0, 257.5), SHP_OK);
  assert_int_equal(shp_grid_check(&small, &needs), SHP_ERR_GRID);
  assert_non_null(strstr(shp_error_detail(), "shorter"));
  shp_grid coarse;
  assert_int_equal(shp_grid_init(&coarse, 64, 64.0, 257.5), SHP_OK);
  assert_int_equal(shp_grid_check(&coarse, &needs), SHP_ERR_GRID);
  assert_non_null(strstr(shp_error_detail(), "coarse"));
  /* Time and frequency axes: t = (i - n/2) dt, dt domega n = 2 pi. */
  assert_true(shp_grid_time_ps(&g, g.n / 2) == 0.0);
  assert_true(fabs(g.dt * g.domega * (double)g.n - SHP_TWO_PI) < 1e-12);
}

static void test_invalid_pulses_and_grids_are_refused(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 1023, 10.0, 800.0), SHP_ERR_INVALID);
  assert_int_equal(shp_grid_init(&g, 1024, NAN, 800.0), SHP_ERR_INVALID);
  assert_int_equal(shp_grid_init(&g, 1024, 10.0, -800.0), SHP_ERR_INVALID);
  /* 1e-3 ps steps at 800 nm span more than the carrier frequency. */
  assert_int_equal(shp_grid_init(&g, 1 << 16, 65.536, 800.0), SHP_ERR_GRID);
  assert_int_equal(shp_grid_init(&g, 1024, 10.0, 800.0), SHP_OK);
  double complex spec[1024];
  shp_pulse p = {.shape = SHP_PULSE_GAUSSIAN,
                 .center_wavelength_nm = 800.0,
                 .fwhm_ps = -1.0};
  assert_int_equal(shp_pulse_fill(&p, &g, spec), SHP_ERR_INVALID);
  assert_non_null(strstr(shp_error_detail(), "fwhm_ps"));
  p.fwhm_ps = NAN;
  assert_int_equal(shp_pulse_fill(&p, &g, spec), SHP_ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gaussian_pulse_has_unit_energy_and_its_fwhm),
      cmocka_unit_test(test_sech2_pulse_has_unit_energy_and_its_fwhm),
      cmocka_unit_test(test_gdd_stretches_a_gaussian_as_the_closed_form),
      cmocka_unit_test(
          test_measured_spectrum_reproduces_the_pulse_it_came_from),
      cmocka_unit_test(test_bad_spectrum_files_name_file_and_line),
      cmocka_unit_test(test_chosen_grid_holds_the_stack_and_resolves_the_pulse),
      cmocka_unit_test(test_invalid_pulses_and_grids_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
