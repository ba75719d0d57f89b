/* Unit tests of the diagnostics: autocorrelation, FWHM, edge times, ripple
 * and the shift- and scale-free error against a target. Intensities are
 * sampled from closed forms here, independently of the library. */
#include "shp/diag.h"
#include "shp/error.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "alloc_count.h"

#define PI 3.14159265358979323846
#define LN2 0.69314718055994530942

/* A fine grid: 8192 samples, 100 per 1 ps FWHM, a 82 ps window, so every
 * pulse below is ~1e-300 at the window's ends. */
#define N ((size_t)8192)
#define DT 0.01
#define FWHM 1.0

static double time_at(size_t j) { return ((double)j - (double)(N / 2)) * DT; }

static double gaussian(double t, double fwhm) {
  return exp(-4.0 * LN2 * t * t / (fwhm * fwhm));
}

/* sech^2(t / tau0) has FWHM 2 ln(1 + sqrt 2) tau0. */
static double sech2(double t, double fwhm) {
  double tau0 = fwhm / (2.0 * log(1.0 + sqrt(2.0)));
  double s = 1.0 / cosh(t / tau0);
  return s * s;
}

static double *trace(size_t n) {
  double *y = calloc(n, sizeof *y);
  assert_non_null(y);
  return y;
}

static double *sampled(double (*shape)(double, double), double fwhm,
                       double delay) {
  double *y = trace(N);
  for (size_t j = 0; j < N; j++)
    y[j] = shape(time_at(j) - delay, fwhm);
  return y;
}

static shp_diag *workspace(void) {
  shp_diag *d = shp_diag_new(N);
  assert_non_null(d);
  assert_int_equal(shp_diag_size(d), N);
  return d;
}

static double ac_fwhm_ratio(double *intensity, double pulse_fwhm) {
  shp_diag *d = workspace();
  double *ac = trace(2 * N);
  assert_int_equal(
      shp_diag_autocorrelation(d, intensity, SHP_AC_BACKGROUND_FREE, ac),
      SHP_OK);
  double ratio = shp_fwhm(ac, 2 * N, DT) / pulse_fwhm;
  free(ac);
  shp_diag_free(d);
  return ratio;
}

/* Lifecycle */

static void test_new_rejects_fewer_than_four_samples(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_diag_new(3));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_null(shp_diag_new(0));
  shp_diag_free(NULL); /* a no-op, like free(NULL) */
  shp_diag *d = shp_diag_new(4);
  assert_non_null(d);
  assert_int_equal(shp_diag_size(d), 4);
  shp_diag_free(d);
}

/* Autocorrelation */

static void test_autocorrelation_is_even_with_unit_peak(void **state) {
  (void)state;
  /* An asymmetric pulse, so evenness is a property of the AC, not of I. */
  double *y = sampled(gaussian, FWHM, 0.0);
  for (size_t j = 0; j < N; j++)
    y[j] += 0.5 * sech2(time_at(j) - 1.3, 0.4);
  shp_diag *d = workspace();
  double *ac = trace(2 * N);
  assert_int_equal(shp_diag_autocorrelation(d, y, SHP_AC_BACKGROUND_FREE, ac),
                   SHP_OK);
  /* A(-tau) = A(tau) exactly; the FFT's rounding is ~1e-16 of the peak. */
  assert_true(fabs(ac[N] - 1.0) <= 1e-12);
  for (size_t k = 1; k < N; k++)
    assert_true(fabs(ac[N + k] - ac[N - k]) <= 1e-12);
  free(ac);
  free(y);
  shp_diag_free(d);
}

/* Deconvolution factors AC FWHM / pulse FWHM: sqrt 2 (Gaussian), 1.543
 * (sech^2) and 1 (rectangle), Diels & Rudolph, Ultrashort Laser Pulse
 * Phenomena, 2nd ed., ch. 9, table of deconvolution factors. Linear
 * interpolation of a half-maximum crossing of a Gaussian-like curve of width W
 * sampled at h errs by at most h^2 |f''| / (8 f') ~ 0.1 h^2 / W, here ~1e-5 of
 * W for both crossings; the sampled sums equal the integrals to far below that
 * (Poisson summation of a function resolved by 100 samples per FWHM). */
static void test_gaussian_autocorrelation_is_sqrt2_wider(void **state) {
  (void)state;
  double *y = sampled(gaussian, FWHM, 0.0);
  assert_true(fabs(ac_fwhm_ratio(y, FWHM) - sqrt(2.0)) <= 5e-5);
  free(y);
}

static void test_sech2_autocorrelation_is_1_543_times_wider(void **state) {
  (void)state;
  /* The closed form A(x) = 3 (x cosh x - sinh x) / sinh^3 x, x = tau/tau0
   * (Diels & Rudolph, ch. 9) has its half maximum at x = 1.35979, which
   * makes the ratio 1.54281; the table rounds it to 1.543. */
  double *y = sampled(sech2, FWHM, 0.0);
  assert_true(fabs(ac_fwhm_ratio(y, FWHM) - 1.54281) <= 5e-5);
  free(y);
}

static void test_rectangle_autocorrelation_is_as_wide(void **state) {
  (void)state;
  /* 100 samples of 1: the AC is the triangle 100 - |m|, half maximum at
   * |m| = 50 exactly, and the pulse's interpolated crossings lie half a
   * sample outside its ends, so both widths are 100 samples exactly. */
  double *y = trace(N);
  for (size_t j = N / 2 - 50; j < N / 2 + 50; j++)
    y[j] = 1.0;
  double pulse = shp_fwhm(y, N, DT);
  assert_true(fabs(pulse - 100 * DT) <= 1e-12);
  assert_true(fabs(ac_fwhm_ratio(y, pulse) - 1.0) <= 1e-12);
  free(y);
}

static void test_autocorrelation_matches_direct_sum_without_wrap(void **state) {
  (void)state;
  /* A trace that fills its whole window, the worst case for wrap-around,
   * against sum_j I_j I_(j+k) summed directly; 1031 is prime, so the
   * workspace pads to a length other than 2n. Rounding: ~1e-15 of peak. */
  const size_t sizes[] = {1024, 1031};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    size_t n = sizes[i];
    double *y = trace(n), *ac = trace(2 * n);
    for (size_t j = 0; j < n; j++)
      y[j] = 1.0 + 0.5 * sin(0.37 * (double)j) + 0.001 * (double)j;
    shp_diag *d = shp_diag_new(n);
    assert_non_null(d);
    assert_int_equal(shp_diag_autocorrelation(d, y, SHP_AC_BACKGROUND_FREE, ac),
                     SHP_OK);
    double a0 = 0.0;
    for (size_t j = 0; j < n; j++)
      a0 += y[j] * y[j];
    for (size_t k = 0; k < n; k++) {
      double a = 0.0;
      for (size_t j = 0; j + k < n; j++)
        a += y[j] * y[j + k];
      assert_true(fabs(ac[n + k] - a / a0) <= 1e-12);
      assert_true(fabs(ac[n - k] - a / a0) <= 1e-12);
    }
    assert_true(fabs(ac[0]) <= 1e-12); /* delay -n: no overlap */
    shp_diag_free(d);
    free(ac);
    free(y);
  }
}

static void test_collinear_autocorrelation_is_three_to_one(void **state) {
  (void)state;
  double *y = sampled(gaussian, FWHM, 0.0);
  shp_diag *d = workspace();
  double *ac = trace(2 * N);
  assert_int_equal(shp_diag_autocorrelation(d, y, SHP_AC_COLLINEAR, ac),
                   SHP_OK);
  /* Peak 1 at zero delay; 10 ps (7 AC widths) away the Gaussian AC is
   * exp(-2 ln2 * 100) ~ 1e-60, so only the background 1/3 is left. */
  assert_true(fabs(ac[N] - 1.0) <= 1e-12);
  assert_true(fabs(ac[N + 1000] - 1.0 / 3.0) <= 1e-12);
  assert_true(fabs(ac[N - 1000] - 1.0 / 3.0) <= 1e-12);
  assert_true(fabs(ac[0] - 1.0 / 3.0) <= 1e-12);
  free(ac);
  free(y);
  shp_diag_free(d);
}

/* FWHM */

static void test_fwhm_of_sampled_gaussian(void **state) {
  (void)state;
  /* Off-centre and not a whole number of samples wide; the interpolation
   * error bound 0.1 h^2 / W per crossing is 1.3e-5 ps here. */
  double fwhm = 0.737;
  double *y = sampled(gaussian, fwhm, 3.21);
  assert_true(fabs(shp_fwhm(y, N, DT) - fwhm) <= 3e-5);
  free(y);
}

static void test_fwhm_is_nan_without_two_crossings(void **state) {
  (void)state;
  double *y = trace(N);
  assert_true(isnan(shp_fwhm(y, N, DT))); /* no peak */
  for (size_t j = 0; j < N; j++)
    y[j] = (double)j; /* still above half maximum at the last sample */
  assert_true(isnan(shp_fwhm(y, N, DT)));
  free(y);
}

/* Edges and plateau */

#define PLATEAU_HALF 240 /* samples: plateau |k| <= 240, 4.8 ps */
#define RAMP 50          /* samples: linear edges 0.5 ps long */
#define PERIOD 48        /* samples: ripple period 0.48 ps */

/* A flat top with linear edges and a ripple (1 + eps cos(2 pi k / PERIOD))
 * on the plateau, built on sample indices k = j - N/2 so that the plateau
 * ends, k = +-240 = +-5 periods, are ripple maxima where the edges start. */
static double *rippled_flat_top(double eps) {
  double *y = trace(N);
  for (size_t j = 0; j < N; j++) {
    long k = labs((long)j - (long)(N / 2));
    if (k <= PLATEAU_HALF)
      y[j] = 1.0 + eps * cos(2.0 * PI * (double)k / PERIOD);
    else if (k < PLATEAU_HALF + RAMP)
      y[j] = (1.0 + eps) * (1.0 - (double)(k - PLATEAU_HALF) / RAMP);
  }
  return y;
}

static void test_linear_edges_rise_in_80_percent_of_ramp(void **state) {
  (void)state;
  double *y = rippled_flat_top(0.0);
  shp_diag *d = workspace();
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, NULL, &m), SHP_OK);
  /* Linear interpolation is exact on a linear edge: 10-90 % of a ramp of
   * length R is 0.8 R; the half-maximum points are mid-ramp, so the FWHM
   * is the plateau plus one ramp. Only rounding remains. */
  assert_true(fabs(m.rise_time_ps - 0.8 * RAMP * DT) <= 1e-12);
  assert_true(fabs(m.fall_time_ps - 0.8 * RAMP * DT) <= 1e-12);
  assert_true(fabs(m.fwhm_ps - (2 * PLATEAU_HALF + RAMP) * DT) <= 1e-12);
  assert_true(fabs(m.peak - 1.0) <= 1e-15);
  assert_true(fabs(m.ripple) <= 1e-15);
  assert_false(m.has_error);
  free(y);
  shp_diag_free(d);
}

static void test_erf_edges_rise_in_2_563_sigma(void **state) {
  (void)state;
  /* A 10 ps flat top whose edges are normal CDFs of width sigma: the
   * leading edge crosses 10 % and 90 % at -+1.2815516 sigma (the normal
   * quantile of 0.9), so rise = fall = 2.5631031 sigma. Interpolation errs
   * by at most h^2 |z| / (8 sigma) = 6.4e-5 ps per crossing here. */
  double sigma = 0.25, half = 5.0;
  double *y = trace(N);
  for (size_t j = 0; j < N; j++) {
    double t = time_at(j);
    y[j] = 0.5 * (erf((t + half) / (sqrt(2.0) * sigma)) -
                  erf((t - half) / (sqrt(2.0) * sigma)));
  }
  shp_diag *d = workspace();
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, NULL, &m), SHP_OK);
  double expected = 2.0 * 1.2815515655446004 * sigma;
  assert_true(fabs(m.rise_time_ps - expected) <= 1.3e-4);
  assert_true(fabs(m.fall_time_ps - expected) <= 1.3e-4);
  /* The half levels sit where the erfs are exactly 1/2: FWHM = 2 half. */
  assert_true(fabs(m.fwhm_ps - 2.0 * half) <= 1e-9);
  free(y);
  shp_diag_free(d);
}

static void test_ripple_of_sinusoidal_plateau(void **state) {
  (void)state;
  double eps = 0.05;
  double *y = rippled_flat_top(eps);
  shp_diag *d = workspace();
  shp_metrics m;
  /* Default plateau: from the first to the last ripple maximum, the plateau
   * ends at -+2.4 ps; the samples hit 1 +- eps, so ripple = eps. */
  assert_int_equal(shp_diag_metrics(d, y, DT, NULL, &m), SHP_OK);
  assert_true(fabs(m.ripple - eps) <= 1e-12);
  assert_true(fabs(m.plateau_start_ps + PLATEAU_HALF * DT) <= 1e-12);
  assert_true(fabs(m.plateau_end_ps - PLATEAU_HALF * DT) <= 1e-12);
  /* An explicit window of a quarter period from a maximum sees 1 + eps
   * down to 1: ripple eps / (2 + eps). */
  shp_metrics_opts opts = {.plateau_start_ps = 0.0,
                           .plateau_end_ps = PERIOD / 4 * DT};
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_true(fabs(m.ripple - eps / (2.0 + eps)) <= 1e-12);
  assert_true(m.plateau_start_ps == opts.plateau_start_ps);
  assert_true(m.plateau_end_ps == opts.plateau_end_ps);
  free(y);
  shp_diag_free(d);
}

static void test_transmission_of_unit_energy_pulse_is_one(void **state) {
  (void)state;
  /* I = exp(-4 ln2 t^2 / F^2) / (F sqrt(pi / (4 ln2))) has energy 1; its
   * sampled sum times dt equals the integral to ~1e-300 (Poisson). */
  double norm = FWHM * sqrt(PI / (4.0 * LN2));
  double *y = sampled(gaussian, FWHM, 0.0);
  for (size_t j = 0; j < N; j++)
    y[j] /= norm;
  shp_diag *d = workspace();
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, NULL, &m), SHP_OK);
  assert_true(fabs(m.transmission - 1.0) <= 1e-12);
  assert_true(fabs(m.peak - 1.0 / norm) <= 1e-15);
  assert_true(fabs(m.fwhm_ps - FWHM) <= 2e-5); /* 0.1 h^2 / W per side */
  free(y);
  shp_diag_free(d);
}

/* Error against a target */

/* Two unequal humps, so a wrong shift sign or a mirrored correlation
 * cannot match. */
static double two_humps(double t, double fwhm) {
  return gaussian(t, fwhm) + 0.5 * gaussian(t - 1.2, fwhm);
}

static void test_error_is_zero_for_shifted_scaled_copy(void **state) {
  (void)state;
  const long shifts[] = {37, -23, 0};
  double *y = sampled(two_humps, FWHM, 0.0);
  double *target = trace(N);
  shp_diag *d = workspace();
  for (size_t i = 0; i < sizeof shifts / sizeof *shifts; i++) {
    long s = shifts[i];
    /* T(t) = 0.7 I(t - s dt): the output must move s samples later. */
    for (size_t j = 0; j < N; j++) {
      long src = (long)j - s;
      target[j] = src >= 0 && src < (long)N ? 0.7 * y[src] : 0.0;
    }
    shp_metrics_opts opts = {.target = target};
    shp_metrics m;
    assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
    assert_true(m.has_error);
    assert_true(m.error <= 1e-12);
    /* With w = 1 the error near the match is 1 - A(x)^2 / A(0)^2, even in
     * x, so the parabola's vertex stays on the sample (to rounding). */
    assert_true(fabs(m.error_shift_ps - (double)s * DT) <= 1e-9);
    assert_true(fabs(m.error_scale - 0.7) <= 1e-12);
  }
  free(target);
  free(y);
  shp_diag_free(d);
}

static void test_error_finds_half_sample_shift(void **state) {
  (void)state;
  double shift = 10.5 * DT;
  double *y = sampled(two_humps, FWHM, 0.0);
  double *target = sampled(two_humps, FWHM, shift);
  shp_diag *d = workspace();
  shp_metrics_opts opts = {.target = target};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_true(fabs(m.error_shift_ps - shift) <= 0.1 * DT);
  /* e^2(x) = 1 - A(x)^2/A(0)^2 ~ c x^2 - c^2 x^4 / 2 with c ~ 2.8e-4 per
   * sample^2; the parabola misses the quartic, ~1e-7 in e^2, 3e-4 in e. */
  assert_true(m.error <= 1e-3);
  assert_true(fabs(m.error_scale - 1.0) <= 1e-3);
  free(target);
  free(y);
  shp_diag_free(d);
}

static void test_error_of_gaussian_against_rectangle(void **state) {
  (void)state;
  /* Gaussian G and rectangle R of the same FWHM F, both centred, so the
   * best shift is 0 by symmetry. With a = 4 ln2 / F^2:
   *   <G,R> = sqrt(pi/a) erf(sqrt ln2), <G,G> = sqrt(pi/(2a)), <R,R> = F,
   * so scale = <G,R>/<G,G> = sqrt2 erf(sqrt ln2) = 1.07617 and
   *   e^2 = 1 - <G,R>^2/(<G,G><R,R>) = 1 - erf(sqrt ln2)^2 sqrt(pi/(2 ln2)).
   * The rectangle is 101 samples, so F = 101 dt exactly (each sample stands
   * for dt); the midpoint rule then errs on <G,R> by (dt/F)^2 4 ln2 / 24 /
   * 0.81 ~ 1.4e-5 relative, i.e. ~3e-5 on e and ~2e-5 on the scale. */
  double f = 101 * DT;
  double *y = sampled(gaussian, f, 0.0);
  double *target = trace(N);
  for (size_t j = N / 2 - 50; j <= N / 2 + 50; j++)
    target[j] = 1.0;
  double erf0 = erf(sqrt(LN2));
  double expected = sqrt(1.0 - erf0 * erf0 * sqrt(PI / (2.0 * LN2)));
  shp_diag *d = workspace();
  shp_metrics_opts opts = {.target = target};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_true(fabs(m.error - expected) <= 1e-4);
  assert_true(fabs(m.error_scale - sqrt(2.0) * erf0) <= 1e-4);
  assert_true(fabs(m.error_shift_ps) <= 1e-9);
  free(target);
  free(y);
  shp_diag_free(d);
}

static void test_error_ignores_target_where_weight_is_zero(void **state) {
  (void)state;
  /* The target is the pulse inside |t| < 2 ps and nonsense outside, where
   * the weight is 0: the weighted error is exactly 0 at scale 1. */
  double *y = sampled(gaussian, FWHM, 0.0);
  double *target = trace(N), *weight = trace(N);
  for (size_t j = 0; j < N; j++) {
    bool inside = fabs(time_at(j)) < 2.0;
    target[j] = inside ? y[j] : 5.0;
    weight[j] = inside ? 1.0 : 0.0;
  }
  shp_diag *d = workspace();
  shp_metrics_opts opts = {.target = target, .weight = weight};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_true(m.error <= 1e-12);
  assert_true(fabs(m.error_scale - 1.0) <= 1e-12);
  assert_true(fabs(m.error_shift_ps) <= 1e-9);
  free(weight);
  free(target);
  free(y);
  shp_diag_free(d);
}

static void test_error_of_dark_output_is_one(void **state) {
  (void)state;
  /* No light is a valid output (crossed polarizers): the best scale is 0,
   * leaving the whole target as error, e = 1, at no shift. */
  double *y = trace(N);
  double *target = sampled(gaussian, FWHM, 0.0);
  shp_diag *d = workspace();
  shp_metrics_opts opts = {.target = target};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_true(m.transmission == 0.0 && isnan(m.fwhm_ps));
  assert_true(fabs(m.error - 1.0) <= 1e-15);
  assert_true(m.error_scale == 0.0 && m.error_shift_ps == 0.0);
  free(target);
  free(y);
  shp_diag_free(d);
}

/* Invalid input */

static void test_autocorrelation_rejects_invalid_input(void **state) {
  (void)state;
  shp_diag *d = workspace();
  double *y = sampled(gaussian, FWHM, 0.0);
  double *ac = trace(2 * N);
  const shp_ac_kind bf = SHP_AC_BACKGROUND_FREE;
  /* The workspace fixes the size; a missing trace is the mismatch the API
   * can see. */
  assert_int_equal(shp_diag_autocorrelation(NULL, y, bf, ac), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_autocorrelation(d, NULL, bf, ac), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_autocorrelation(d, y, bf, NULL), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_autocorrelation(d, y, (shp_ac_kind)7, ac),
                   SHP_ERR_INVALID);
  y[N / 3] = NAN;
  assert_int_equal(shp_diag_autocorrelation(d, y, bf, ac), SHP_ERR_INVALID);
  y[N / 3] = INFINITY;
  assert_int_equal(shp_diag_autocorrelation(d, y, bf, ac), SHP_ERR_INVALID);
  for (size_t j = 0; j < N; j++)
    y[j] = 0.0;
  assert_int_equal(shp_diag_autocorrelation(d, y, bf, ac), SHP_ERR_INVALID);
  assert_true(shp_error_detail()[0] != '\0');
  free(ac);
  free(y);
  shp_diag_free(d);
}

static void test_metrics_rejects_invalid_input(void **state) {
  (void)state;
  shp_diag *d = workspace();
  double *y = sampled(gaussian, FWHM, 0.0);
  double *target = sampled(gaussian, FWHM, 0.0);
  double *weight = trace(N);
  for (size_t j = 0; j < N; j++)
    weight[j] = 1.0;
  shp_metrics_opts opts = {.target = target, .weight = weight};
  shp_metrics m;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_OK);
  assert_int_equal(shp_diag_metrics(NULL, y, DT, &opts, &m), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_metrics(d, NULL, DT, &opts, &m), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, NULL), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_metrics(d, y, 0.0, &opts, &m), SHP_ERR_INVALID);
  assert_int_equal(shp_diag_metrics(d, y, NAN, &opts, &m), SHP_ERR_INVALID);
  y[5] = NAN;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_ERR_INVALID);
  y[5] = 0.0;
  target[7] = NAN;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_ERR_INVALID);
  target[7] = 0.0;
  weight[9] = -1.0;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_ERR_INVALID);
  /* A target that is zero wherever it is weighted cannot be matched. */
  for (size_t j = 0; j < N; j++)
    weight[j] = target[j] != 0.0 ? 0.0 : 1.0;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_ERR_INVALID);
  for (size_t j = 0; j < N; j++)
    target[j] = 0.0;
  opts.weight = NULL;
  assert_int_equal(shp_diag_metrics(d, y, DT, &opts, &m), SHP_ERR_INVALID);
  free(weight);
  free(target);
  free(y);
  shp_diag_free(d);
}

/* The hot path allocates nothing: alloc_count.c replaces malloc and friends
 * for this program (glibc manual, "Replacing malloc") and counts the calls,
 * FFTW's memalign included. */
/* Heap allocations made by the hot-path calls on an n-sample workspace. */
static size_t hot_path_allocations(size_t n) {
  /* Proves the counter sees FFTW's own allocations (fftw_malloc in its
   * shared library), or a zero below would prove nothing. */
  size_t aligned_before = alloc_count_aligned();
  shp_diag *d = shp_diag_new(n);
  assert_non_null(d);
  assert_true(alloc_count_aligned() > aligned_before);
  double *y = trace(n), *target = trace(n), *weight = trace(n);
  double *ac = trace(2 * n);
  for (size_t j = 0; j < n; j++) {
    double t = ((double)j - (double)(n / 2)) * DT;
    y[j] = two_humps(t, FWHM);
    target[j] = gaussian(t - 0.3, 2.0 * FWHM);
    weight[j] = gaussian(t, 4.0 * FWHM);
  }
  shp_metrics_opts opts = {.target = target, .weight = weight};
  shp_metrics m1, m2, m3;
  int rc[5];
  size_t before = alloc_count();
  rc[0] = shp_diag_autocorrelation(d, y, SHP_AC_BACKGROUND_FREE, ac);
  rc[1] = shp_diag_autocorrelation(d, y, SHP_AC_COLLINEAR, ac);
  rc[2] = shp_diag_metrics(d, y, DT, &opts, &m1);
  rc[3] = shp_diag_metrics(d, y, DT, NULL, &m2);
  opts.weight = NULL;
  rc[4] = shp_diag_metrics(d, y, DT, &opts, &m3);
  size_t during = alloc_count() - before;
  for (int i = 0; i < 5; i++)
    assert_int_equal(rc[i], SHP_OK);
  assert_true(m1.has_error && m3.has_error && !m2.has_error);
  free(ac);
  free(weight);
  free(target);
  free(y);
  shp_diag_free(d);
  return during;
}

static void test_hot_path_allocates_nothing(void **state) {
  (void)state;
  if (!alloc_count_enabled())
    skip();
  {
    /* First prove the counter sees allocations (through a volatile pointer,
     * so the compiler cannot drop the malloc/free pair). */
    void *(*volatile alloc)(size_t) = malloc;
    size_t before = alloc_count();
    free(alloc(16));
    assert_int_equal(alloc_count() - before, 1);
    /* A power of two, and 4099, a prime: an FFT of 2 * 4099 points would
     * make FFTW use Rader's algorithm, which allocates on every execute. */
    assert_int_equal(hot_path_allocations(N), 0);
    assert_int_equal(hot_path_allocations(4099), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_rejects_fewer_than_four_samples),
      cmocka_unit_test(test_autocorrelation_is_even_with_unit_peak),
      cmocka_unit_test(test_gaussian_autocorrelation_is_sqrt2_wider),
      cmocka_unit_test(test_sech2_autocorrelation_is_1_543_times_wider),
      cmocka_unit_test(test_rectangle_autocorrelation_is_as_wide),
      cmocka_unit_test(test_autocorrelation_matches_direct_sum_without_wrap),
      cmocka_unit_test(test_collinear_autocorrelation_is_three_to_one),
      cmocka_unit_test(test_fwhm_of_sampled_gaussian),
      cmocka_unit_test(test_fwhm_is_nan_without_two_crossings),
      cmocka_unit_test(test_linear_edges_rise_in_80_percent_of_ramp),
      cmocka_unit_test(test_erf_edges_rise_in_2_563_sigma),
      cmocka_unit_test(test_ripple_of_sinusoidal_plateau),
      cmocka_unit_test(test_transmission_of_unit_energy_pulse_is_one),
      cmocka_unit_test(test_error_is_zero_for_shifted_scaled_copy),
      cmocka_unit_test(test_error_finds_half_sample_shift),
      cmocka_unit_test(test_error_of_gaussian_against_rectangle),
      cmocka_unit_test(test_error_ignores_target_where_weight_is_zero),
      cmocka_unit_test(test_error_of_dark_output_is_one),
      cmocka_unit_test(test_autocorrelation_rejects_invalid_input),
      cmocka_unit_test(test_metrics_rejects_invalid_input),
      cmocka_unit_test(test_hot_path_allocates_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
