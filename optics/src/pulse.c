#include "shp/pulse.h"

#include "shp/csv.h"
#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <errno.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shp_spectrum_clear(shp_spectrum *s) {
  if (s == NULL)
    return;
  free(s->wavelength_nm);
  free(s->intensity);
  free(s->phase_rad);
  memset(s, 0, sizeof *s);
}

/* Reverse the rows when they were written in decreasing wavelength. */
static void reverse(double *a, size_t n) {
  for (size_t i = 0; i < n / 2; i++) {
    double t = a[i];
    a[i] = a[n - 1 - i];
    a[n - 1 - i] = t;
  }
}

static int take_columns(const shp_csv *csv, const char *path, shp_spectrum *s) {
  size_t n = csv->rows;
  s->wavelength_nm = malloc(n * sizeof(double));
  s->intensity = malloc(n * sizeof(double));
  s->phase_rad = csv->columns == 3 ? malloc(n * sizeof(double)) : NULL;
  if (!s->wavelength_nm || !s->intensity ||
      (csv->columns == 3 && !s->phase_rad))
    return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < n; i++) {
    s->wavelength_nm[i] = shp_csv_at(csv, i, 0);
    s->intensity[i] = shp_csv_at(csv, i, 1);
    if (s->phase_rad)
      s->phase_rad[i] = shp_csv_at(csv, i, 2);
    if (!(s->wavelength_nm[i] > 0))
      return shp_error_set(SHP_ERR_PARSE,
                           "%s:%d: wavelength_nm: must be > 0, got %g", path,
                           csv->lines[i], s->wavelength_nm[i]);
    if (s->intensity[i] < 0)
      return shp_error_set(SHP_ERR_PARSE,
                           "%s:%d: intensity: must be >= 0, got %g", path,
                           csv->lines[i], s->intensity[i]);
  }
  s->count = n;
  return SHP_OK;
}

static int check_spectrum(shp_spectrum *s, const char *path) {
  if (s->count < 3)
    return shp_error_set(SHP_ERR_PARSE, "%s: a spectrum needs at least 3 rows",
                         path);
  if (s->wavelength_nm[0] > s->wavelength_nm[s->count - 1]) {
    reverse(s->wavelength_nm, s->count);
    reverse(s->intensity, s->count);
    if (s->phase_rad)
      reverse(s->phase_rad, s->count);
  }
  double peak = s->intensity[0];
  for (size_t i = 1; i < s->count; i++) {
    if (!(s->wavelength_nm[i] > s->wavelength_nm[i - 1]))
      return shp_error_set(SHP_ERR_PARSE,
                           "%s: wavelengths must be strictly monotonic (%g nm "
                           "repeats or turns back)",
                           path, s->wavelength_nm[i]);
    peak = fmax(peak, s->intensity[i]);
  }
  if (!(peak > 0))
    return shp_error_set(SHP_ERR_PARSE, "%s: the spectrum is zero everywhere",
                         path);
  return SHP_OK;
}

int shp_spectrum_load_csv(const char *path, shp_spectrum *s) {
  memset(s, 0, sizeof *s);
  shp_csv csv;
  int rc =
      shp_csv_load(path, 2, 3, "wavelength_nm, intensity[, phase_rad]", &csv);
  if (rc == SHP_OK)
    rc = take_columns(&csv, path, s);
  if (rc == SHP_OK)
    rc = check_spectrum(s, path);
  shp_csv_clear(&csv);
  if (rc != SHP_OK)
    shp_spectrum_clear(s);
  return rc;
}

/* Transform-limited sech^2: FWHM = 2 ln(1 + sqrt 2) T0. */
#define SECH2_FWHM_PER_T0 1.7627471740390860

static int check_pulse(const shp_pulse *p) {
  if (p == NULL)
    return shp_error_set(SHP_ERR_INVALID, "pulse: none given");
  if (!(isfinite(p->center_wavelength_nm) && p->center_wavelength_nm > 0))
    return shp_error_set(SHP_ERR_INVALID,
                         "pulse.center_wavelength_nm: must be > 0, got %g",
                         p->center_wavelength_nm);
  if (!isfinite(p->gdd_fs2) || !isfinite(p->tod_fs3))
    return shp_error_set(SHP_ERR_INVALID,
                         "pulse: gdd_fs2 and tod_fs3 must be finite");
  if (p->shape == SHP_PULSE_SPECTRUM) {
    if (p->spectrum == NULL || p->spectrum->count < 3)
      return shp_error_set(SHP_ERR_INVALID, "pulse: no measured spectrum");
    return SHP_OK;
  }
  if (p->shape != SHP_PULSE_GAUSSIAN && p->shape != SHP_PULSE_SECH2)
    return shp_error_set(SHP_ERR_INVALID, "pulse.shape: unknown shape");
  if (!(isfinite(p->fwhm_ps) && p->fwhm_ps > 0))
    return shp_error_set(SHP_ERR_INVALID, "pulse.fwhm_ps: must be > 0, got %g",
                         p->fwhm_ps);
  return SHP_OK;
}

/* Spectral intensity FWHM (rad/ps) of a measured spectrum, after converting
 * to frequency; used to estimate the transform limit. */
static double spectrum_fwhm_omega(const shp_spectrum *s) {
  double peak = 0;
  for (size_t i = 0; i < s->count; i++)
    peak = fmax(peak, s->intensity[i]);
  size_t lo = 0, hi = s->count - 1;
  while (lo < s->count && s->intensity[lo] < peak / 2)
    lo++;
  while (hi > 0 && s->intensity[hi] < peak / 2)
    hi--;
  double w_lo = shp_omega_of_wavelength_um(s->wavelength_nm[hi] * 1e-3);
  double w_hi = shp_omega_of_wavelength_um(s->wavelength_nm[lo] * 1e-3);
  return fmax(w_hi - w_lo, 1e-9);
}

int shp_pulse_needs(const shp_pulse *p, double *fwhm_ps, double *extent_ps) {
  int rc = check_pulse(p);
  if (rc != SHP_OK)
    return rc;
  double fwhm, bandwidth; /* ps, and the spectral intensity FWHM in rad/ps */
  if (p->shape == SHP_PULSE_SPECTRUM) {
    bandwidth = spectrum_fwhm_omega(p->spectrum);
    fwhm = 4 * log(2) / bandwidth; /* Gaussian time-bandwidth product */
  } else if (p->shape == SHP_PULSE_GAUSSIAN) {
    fwhm = p->fwhm_ps;
    bandwidth = 4 * log(2) / fwhm;
  } else {
    fwhm = p->fwhm_ps;
    bandwidth = 2 * 0.3148 * SHP_TWO_PI / fwhm; /* dnu*tau = 0.315 */
  }
  /* A chirp spreads the spectrum over a delay of about the group-delay
   * difference across it: GDD * bandwidth + TOD/2 * bandwidth^2, taken over
   * three spectral FWHM to hold the wings. A measured phase is unknown here;
   * its extent is checked on the pulse itself after propagation. */
  double span = 3.0 * bandwidth;
  double chirp = fabs(p->gdd_fs2 * SHP_FS2_TO_PS2) * span +
                 fabs(p->tod_fs3 * SHP_FS3_TO_PS3) * span * span / 8.0;
  *fwhm_ps = fwhm;
  *extent_ps = 6.0 * fwhm + chirp;
  return SHP_OK;
}

static void apply_phase_and_normalise(const shp_pulse *p, const shp_grid *g,
                                      double complex *e) {
  double gdd = p->gdd_fs2 * SHP_FS2_TO_PS2, tod = p->tod_fs3 * SHP_FS3_TO_PS3;
  double energy = 0;
  for (size_t k = 0; k < g->n; k++) {
    double dw = shp_grid_domega(g, k);
    double phi = gdd / 2 * dw * dw + tod / 6 * dw * dw * dw;
    if (phi != 0)
      e[k] *= cexp(-I * phi);
    energy += creal(e[k]) * creal(e[k]) + cimag(e[k]) * cimag(e[k]);
  }
  /* Energy in time is n dt sum |E_k|^2 (Parseval for the unnormalised
   * inverse transform). */
  double scale = 1.0 / sqrt(energy * (double)g->n * g->dt);
  for (size_t k = 0; k < g->n; k++)
    e[k] *= scale;
}

/* Interpolate a measured spectrum onto the grid. Intensity per unit
 * wavelength becomes intensity per unit frequency through the Jacobian
 * |d lambda / d omega| = lambda^2 / (2 pi c). The Steffen interpolant never
 * overshoots, so a measured spectrum stays non-negative between samples. */
static int fill_measured(const shp_spectrum *s, const shp_grid *g,
                         double complex *e) {
  shp_gsl_guard(); /* gsl_interp must not abort the process */
  size_t n = s->count;
  double *w = malloc(n * sizeof *w), *in = malloc(n * sizeof *in),
         *ph = malloc(n * sizeof *ph);
  gsl_interp *ii = gsl_interp_alloc(gsl_interp_steffen, n);
  gsl_interp *ip = gsl_interp_alloc(gsl_interp_steffen, n);
  int rc = SHP_OK;
  if (!w || !in || !ph || !ii || !ip) {
    rc = shp_error_set(SHP_ERR_NOMEM, "spectrum: out of memory");
    goto out;
  }
  /* Ascending frequency is descending wavelength. */
  for (size_t i = 0; i < n; i++) {
    size_t r = n - 1 - i;
    double l_um = s->wavelength_nm[r] * 1e-3;
    w[i] = shp_omega_of_wavelength_um(l_um);
    in[i] = s->intensity[r] * l_um * l_um;
    ph[i] = s->phase_rad ? s->phase_rad[r] : 0.0;
  }
  if (gsl_interp_init(ii, w, in, n) != GSL_SUCCESS ||
      gsl_interp_init(ip, w, ph, n) != GSL_SUCCESS) {
    rc = shp_error_set(SHP_ERR_INVALID, "spectrum: wavelengths must be "
                                        "distinct and in order");
    goto out;
  }
  size_t inside = 0;
  for (size_t k = 0; k < g->n; k++) {
    double om = shp_grid_omega(g, k);
    if (om < w[0] || om > w[n - 1]) {
      e[k] = 0;
      continue;
    }
    double a = gsl_interp_eval(ii, w, in, om, NULL);
    double phi = gsl_interp_eval(ip, w, ph, om, NULL);
    e[k] = sqrt(fmax(a, 0.0)) * cexp(-I * phi);
    inside += a > 0;
  }
  if (inside < 4)
    rc = shp_error_set(SHP_ERR_RANGE,
                       "spectrum: the measured spectrum (%g to %g nm) covers "
                       "fewer than 4 points of the grid",
                       s->wavelength_nm[0], s->wavelength_nm[n - 1]);
out:
  gsl_interp_free(ii);
  gsl_interp_free(ip);
  free(w);
  free(in);
  free(ph);
  return rc;
}

int shp_pulse_fill(const shp_pulse *p, const shp_grid *g, double complex *e) {
  int rc = check_pulse(p);
  if (rc != SHP_OK)
    return rc;
  if (p->shape == SHP_PULSE_SPECTRUM) {
    rc = fill_measured(p->spectrum, g, e);
    if (rc != SHP_OK)
      return rc;
  } else if (p->shape == SHP_PULSE_GAUSSIAN) {
    /* I(t) = exp(-4 ln2 t^2/tau^2) has field exp(-2 ln2 t^2/tau^2), whose
     * spectrum is exp(-tau^2 dw^2 / (8 ln 2)). */
    double a = p->fwhm_ps * p->fwhm_ps / (8 * log(2));
    for (size_t k = 0; k < g->n; k++) {
      double dw = shp_grid_domega(g, k);
      e[k] = exp(-a * dw * dw);
    }
  } else {
    /* Field sech(t/T0) has spectrum sech(pi T0 dw / 2). */
    double t0 = p->fwhm_ps / SECH2_FWHM_PER_T0;
    for (size_t k = 0; k < g->n; k++) {
      double x = SHP_PI * t0 * shp_grid_domega(g, k) / 2;
      e[k] = fabs(x) > 700 ? 0.0 : 1.0 / cosh(x);
    }
  }
  apply_phase_and_normalise(p, g, e);
  return SHP_OK;
}
