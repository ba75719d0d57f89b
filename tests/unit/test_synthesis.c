/* Network synthesis of equal-plate stacks: the forward model against the
 * propagator, synthesis round trips, known designs, the double pass, and
 * taps fitted to target waveforms.
 *
 * Sources: S. E. Harris, E. O. Ammann and I. C. Chang, JOSA 54, 1267 (1964)
 * (lossless equal-plate networks and their synthesis); E. O. Ammann, JOSA
 * 56, 943 and 952 (1966); A. Yariv and P. Yeh, Optical Waves in Crystals
 * (Wiley 1984), ch. 5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/error.h"
#include "shp/grid.h"
#include "shp/material.h"
#include "shp/propagator.h"
#include "shp/synthesis.h"
#include "shp/units.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static shp_material *bbo;

static int setup(void **state) {
  bbo = shp_material_open("alpha-BBO");
  return bbo == NULL ? -1 : 0;
}

static int teardown(void **state) {
  shp_material_free(bbo);
  return 0;
}

/* splitmix64: the same random stacks on every run and platform. */
static uint64_t rng_state;

static double uniform(double lo, double hi) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53;
}

static void random_stack(shp_synth_stack *s, size_t n, bool phases) {
  memset(s, 0, sizeof *s);
  s->n = n;
  s->input_polarizer_deg = uniform(-180, 180);
  for (size_t k = 0; k < n; k++) {
    s->azimuth_deg[k] = uniform(-90, 90);
    s->phase_offset_rad[k] = phases ? uniform(-SHP_PI, SHP_PI) : 0.0;
  }
  s->has_output_polarizer = uniform(0, 1) < 0.5;
  s->output_polarizer_deg = uniform(-90, 90);
}

static double max_diff(const double complex *a, const double complex *b,
                       double complex rot, size_t n) {
  double d = 0;
  for (size_t k = 0; k < n; k++)
    d = fmax(d, cabs(a[k] - rot * b[k]));
  return d;
}

/* Synthesise from a's taps and return how far the result's taps are from
 * them, after the reported common phase. */
static double round_trip(const double complex *a, size_t n, bool double_pass,
                         shp_synth_stack *out, shp_synth_info *info) {
  int rc = double_pass ? shp_synth_double_pass(a, n, out, info)
                       : shp_synth_from_taps(a, n, out, info);
  if (rc != SHP_OK)
    print_error("synthesis failed: %s\n", shp_error_detail());
  assert_int_equal(rc, SHP_OK);
  assert_true(out->has_output_polarizer);
  assert_true(out->output_polarizer_deg == 0.0);
  assert_int_equal(out->double_pass, double_pass);
  double complex t[2 * SHP_SYNTH_MAX_PLATES + 1];
  assert_int_equal(shp_synth_taps(out, t, NULL), SHP_OK);
  return max_diff(t, a, cexp(I * info->phase_rad), shp_synth_tap_count(out));
}

/* ---- the forward model --------------------------------------------------- */

/* Harris et al. (1964): the fan Solc pair (22.5 and 67.5 degrees between
 * parallel polarizers) has taps 1/4, 1/2, 1/4. Exact up to rounding. */
static void test_fan_pair_has_taps_quarter_half_quarter(void **state) {
  shp_synth_stack s = {
      .n = 2, .azimuth_deg = {22.5, 67.5}, .has_output_polarizer = true};
  double complex a[3], b[3];
  assert_int_equal(shp_synth_taps(&s, a, b), SHP_OK);
  const double want[3] = {0.25, 0.5, 0.25};
  for (int k = 0; k < 3; k++)
    assert_true(cabs(a[k] - want[k]) < 1e-15);
  /* Lossless: |A|^2 + |B|^2 = 1 on the circle, so sum |a|^2 + |b|^2 = 1. */
  double e = 0;
  for (int k = 0; k < 3; k++)
    e += cabs(a[k]) * cabs(a[k]) + cabs(b[k]) * cabs(b[k]);
  assert_true(fabs(e - 1) < 1e-15);
}

/* The e-o phase per mm at grid point k, as the propagator computes it. */
static double rho_at(const shp_grid *g, size_t k) {
  double l = shp_grid_wavelength_um(g, k), no, ne;
  double t0 = shp_material_reference_temperature_c(bbo);
  assert_int_equal(shp_material_index(bbo, SHP_AXIS_O, l, t0, &no), SHP_OK);
  assert_int_equal(shp_material_index(bbo, SHP_AXIS_E, l, t0, &ne), SHP_OK);
  double om = shp_grid_omega(g, k) / SHP_C_MM_PER_PS;
  return (ne - no) * om;
}

/* Compare the propagator (no dispersion, every plate a full wave at the
 * carrier plus the stack's phase offset) with z^(-M/2) (A u + B v),
 * z = exp(-i Gamma). Gamma is the propagator's first-order phase: its value
 * at the carrier and the five-point slope it takes there. */
static double propagator_vs_model(const shp_synth_stack *s) {
  const double len = 1.0; /* mm: about 0.43 ps per plate at 1030 nm */
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 1024, 40.0, 1030.0), SHP_OK);
  size_t c = g.n / 2;
  double a0 = rho_at(&g, c);
  double b0 = (rho_at(&g, c - 2) - 8 * rho_at(&g, c - 1) +
               8 * rho_at(&g, c + 1) - rho_at(&g, c + 2)) /
              (12 * g.domega);
  double wave = SHP_TWO_PI * round(len * a0 / SHP_TWO_PI);
  shp_element el[SHP_SYNTH_MAX_PLATES];
  for (size_t k = 0; k < s->n; k++)
    el[k] = (shp_element){
        .kind = SHP_ELEMENT_CRYSTAL,
        .crystal = {.material = bbo,
                    .length_mm = len,
                    .azimuth_deg = s->azimuth_deg[k],
                    .temperature_c = shp_material_reference_temperature_c(bbo),
                    .phase_offset_rad =
                        wave - len * a0 + s->phase_offset_rad[k]}};
  shp_path path = {.input_polarization_deg = s->input_polarizer_deg,
                   .elements = el,
                   .count = s->n,
                   .has_output_polarizer = s->has_output_polarizer,
                   .output_polarizer = {.angle_deg = s->output_polarizer_deg},
                   .double_pass = s->double_pass,
                   .no_dispersion = true};
  shp_propagator *p = shp_propagator_new(&g, &path);
  assert_non_null(p);
  shp_field *out = shp_field_new(g.n);
  double complex *flat = malloc(g.n * sizeof *flat);
  for (size_t k = 0; k < g.n; k++)
    flat[k] = 1.0;
  assert_int_equal(shp_propagator_apply(p, &path, flat, out), SHP_OK);
  size_t m = shp_synth_tap_count(s) - 1;
  double complex a[2 * SHP_SYNTH_MAX_PLATES + 1],
      b[2 * SHP_SYNTH_MAX_PLATES + 1];
  assert_int_equal(shp_synth_taps(s, a, b), SHP_OK);
  double u =
      s->has_output_polarizer ? shp_deg_to_rad(s->output_polarizer_deg) : 0.0;
  double worst = 0;
  for (size_t k = 0; k < g.n; k++) {
    double gam = wave + len * b0 * shp_grid_domega(&g, k);
    double complex z = cexp(-I * gam), za = 0, zb = 0;
    for (size_t j = m + 1; j-- > 0;) {
      za = za * z + a[j];
      zb = zb * z + b[j];
    }
    double complex lead = cexp(0.5 * I * (double)m * gam);
    if (s->has_output_polarizer)
      zb = 0;
    double complex ex = lead * (cos(u) * za - sin(u) * zb);
    double complex ey = lead * (sin(u) * za + cos(u) * zb);
    worst = fmax(worst,
                 fmax(cabs(out->spec[0][k] - ex), cabs(out->spec[1][k] - ey)));
  }
  free(flat);
  shp_field_free(out);
  shp_propagator_free(p);
  return worst;
}

/* The forward model is the propagator's ideal limit. The tolerance 1e-10
 * covers the propagator's phasor recurrence and the phase itself (hundreds
 * of radians, so 1e-13 rad of rounding). */
static void test_taps_match_the_propagator_without_dispersion(void **state) {
  rng_state = 7;
  for (int i = 0; i < 8; i++) {
    shp_synth_stack s;
    random_stack(&s, 2 + (size_t)i % 4, i % 3 == 2);
    s.double_pass = i % 4 == 3;
    double worst = propagator_vs_model(&s);
    assert_true(worst < 1e-10);
  }
}

/* ---- synthesis ---------------------------------------------------------- */

/* 200 random stacks of 1 to 12 plates: taps -> stack -> taps. The recovered
 * azimuths may differ (B is not unique) but the taps must not. 1e-8 allows
 * for root finding on polynomials of degree up to 24; the polish brings it
 * to rounding in practice. */
static void test_round_trip_reproduces_taps_of_random_stacks(void **state) {
  rng_state = 1;
  double worst = 0;
  for (int i = 0; i < 200; i++) {
    size_t n = 1 + (size_t)i % 12;
    shp_synth_stack s, out;
    random_stack(&s, n, false);
    double complex a[SHP_SYNTH_MAX_PLATES + 1];
    assert_int_equal(shp_synth_taps(&s, a, NULL), SHP_OK);
    shp_synth_info info;
    worst = fmax(worst, round_trip(a, n, false, &out, &info));
    /* Real taps: a stack without phase offsets and no common phase. */
    assert_true(info.phase_rad == 0.0);
    for (size_t k = 0; k < n; k++)
      assert_true(out.phase_offset_rad[k] == 0.0);
  }
  assert_true(worst < 1e-8);
}

/* Complex taps (stacks with phase offsets) need phase offsets back; they
 * are reproduced up to the reported common phase. */
static void test_round_trip_of_complex_taps_uses_phase_offsets(void **state) {
  rng_state = 2;
  double worst = 0;
  for (int i = 0; i < 60; i++) {
    size_t n = 1 + (size_t)i % 10;
    shp_synth_stack s, out;
    random_stack(&s, n, true);
    double complex a[SHP_SYNTH_MAX_PLATES + 1];
    assert_int_equal(shp_synth_taps(&s, a, NULL), SHP_OK);
    shp_synth_info info;
    worst = fmax(worst, round_trip(a, n, false, &out, &info));
  }
  assert_true(worst < 1e-8);
}

/* Known designs: the fan pair (Harris et al. 1964), equal taps over 8
 * replicas (|A| = 1 at the carrier, so 1 - |A|^2 has a double root on the
 * circle), and a pure delay (|A| = 1 everywhere, B = 0). */
static void test_known_designs_synthesise_to_their_taps(void **state) {
  shp_synth_stack out;
  shp_synth_info info;
  const double complex fan[3] = {0.25, 0.5, 0.25};
  assert_true(round_trip(fan, 2, false, &out, &info) < 1e-12);
  double complex flat[8];
  for (int k = 0; k < 8; k++)
    flat[k] = 1.0 / 8;
  assert_true(round_trip(flat, 7, false, &out, &info) < 1e-10);
  const double complex delay[5] = {0, 0, 1, 0, 0};
  assert_true(round_trip(delay, 4, false, &out, &info) < 1e-12);
  /* The fan's taps come back from the classic fan itself as well. */
  shp_synth_stack classic = {
      .n = 2, .azimuth_deg = {22.5, 67.5}, .has_output_polarizer = true};
  double complex a[3];
  assert_int_equal(shp_synth_taps(&classic, a, NULL), SHP_OK);
  assert_true(max_diff(a, fan, 1, 3) < 1e-15);
}

/* Taps above the lossless bound are refused with the excess named, and the
 * helper scales them to exactly the bound. */
static void test_gain_above_one_is_refused_then_normalised(void **state) {
  double complex a[3] = {0.3, 0.5, 0.3}; /* |A(1)| = 1.1 */
  shp_synth_stack out;
  assert_int_equal(shp_synth_from_taps(a, 2, &out, NULL), SHP_ERR_RANGE);
  assert_non_null(strstr(shp_error_detail(), "1 + 0.1"));
  double g, scale;
  assert_int_equal(shp_synth_max_gain(a, 3, &g), SHP_OK);
  assert_true(fabs(g - 1.1) < 1e-14);
  assert_int_equal(shp_synth_taps_normalize(a, 3, &scale), SHP_OK);
  assert_true(fabs(scale - 1 / 1.1) < 1e-14);
  shp_synth_info info;
  assert_true(round_trip(a, 2, false, &out, &info) < 1e-12);
}

/* ---- double pass -------------------------------------------------------- */

/* Taps of random palindromic stacks (1 to 6 plates used twice) come back as
 * a palindromic stack with the same taps, to 1e-8 (the library accepts a
 * palindrome at 1e-9; its polish converges slowly near nearly crossed
 * neighbours, so rounding level is not promised). */
static void test_double_pass_round_trip_is_palindromic(void **state) {
  rng_state = 3;
  double worst = 0;
  for (int i = 0; i < 60; i++) {
    size_t n = 1 + (size_t)i % 6;
    shp_synth_stack s, out;
    random_stack(&s, n, false);
    s.double_pass = true;
    double complex a[2 * SHP_SYNTH_MAX_PLATES + 1];
    assert_int_equal(shp_synth_taps(&s, a, NULL), SHP_OK);
    shp_synth_info info;
    worst = fmax(worst, round_trip(a, n, true, &out, &info));
    assert_int_equal(out.n, n);
    assert_true(info.choices_tried >= 1 &&
                info.choices_tried <= info.choices_total);
  }
  assert_true(worst < 1e-8);
}

/* A generic four-plate stack is not a palindrome of two plates: the real
 * taps of such stacks form a set of lower dimension (n + 1 angles for
 * 2n + 1 taps), so random stacks fall outside it. */
static void test_taps_without_palindrome_fail_with_range(void **state) {
  rng_state = 4;
  for (int i = 0; i < 5; i++) {
    shp_synth_stack s, out;
    random_stack(&s, 4, false);
    double complex a[5];
    assert_int_equal(shp_synth_taps(&s, a, NULL), SHP_OK);
    shp_synth_info info;
    assert_int_equal(shp_synth_double_pass(a, 2, &out, &info), SHP_ERR_RANGE);
    assert_non_null(strstr(shp_error_detail(), "no palindromic"));
    assert_int_equal(info.choices_tried, info.choices_total);
  }
  /* Complex taps need phase offsets, which the double pass does not do. */
  const double complex c[3] = {0.25, 0.5 * I, 0.25};
  shp_synth_stack out;
  assert_int_equal(shp_synth_double_pass(c, 1, &out, NULL), SHP_ERR_RANGE);
  assert_non_null(strstr(shp_error_detail(), "not real"));
}

/* ---- fits --------------------------------------------------------------- */

#define FIT_POINTS 512
#define FIT_DT 0.04

/* A Gaussian pulse's field for an intensity FWHM. */
static double gauss_field(double t, double fwhm) {
  return exp(-2 * log(2.0) * t * t / (fwhm * fwhm));
}

static void fit_axis(shp_synth_fit_problem *p, double *envelope, double fwhm) {
  p->count = FIT_POINTS;
  p->dt_ps = FIT_DT;
  p->t0_ps = -0.5 * FIT_POINTS * FIT_DT;
  for (size_t j = 0; j < FIT_POINTS; j++)
    envelope[j] = gauss_field(p->t0_ps + (double)j * FIT_DT, fwhm);
  p->envelope = envelope;
}

/* A target made by a known stack (1 ps pulses overlapping at 1 ps spacing,
 * so the fit is phase retrieval, not sampling) is recovered: 1e-6 relative
 * RMS leaves room for the cubic-spline shift of the envelope. */
static void test_fit_recovers_a_stack_made_shape(void **state) {
  rng_state = 5;
  shp_synth_stack s;
  random_stack(&s, 4, false);
  double complex a[5];
  assert_int_equal(shp_synth_taps(&s, a, NULL), SHP_OK);
  double env[FIT_POINTS], target[FIT_POINTS];
  shp_synth_fit_problem p = {.tau_ps = 1.0, .order = 4, .target = target};
  fit_axis(&p, env, 1.0);
  for (size_t j = 0; j < FIT_POINTS; j++) {
    double t = p.t0_ps + (double)j * FIT_DT;
    double complex f = 0;
    for (int k = 0; k <= 4; k++)
      f += a[k] * gauss_field(t - (k - 2) * p.tau_ps, 1.0);
    target[j] = cabs(f) * cabs(f);
  }
  double complex taps[5];
  shp_synth_fit_result r;
  assert_int_equal(shp_synth_fit(&p, NULL, taps, &r), SHP_OK);
  assert_true(r.rms_error < 1e-6);
  double g;
  assert_int_equal(shp_synth_max_gain(taps, 5, &g), SHP_OK);
  assert_true(fabs(g - 1) < 1e-12);
  /* The fitted taps are realisable as they stand. */
  shp_synth_stack out;
  shp_synth_info info;
  assert_true(round_trip(taps, 4, false, &out, &info) < 1e-8);
}

/* A 5 ps flat top (erf edges, about 0.6 ps 10-90 %) from 1 ps pulses with
 * N = 4, tau = 1 ps: the fit beats equal taps, the natural guess. */
static void test_fit_of_flat_top_beats_equal_taps(void **state) {
  double env[FIT_POINTS], target[FIT_POINTS];
  shp_synth_fit_problem p = {.tau_ps = 1.0, .order = 4, .target = target};
  fit_axis(&p, env, 1.0);
  for (size_t j = 0; j < FIT_POINTS; j++) {
    double t = p.t0_ps + (double)j * FIT_DT;
    target[j] = 0.5 * (erf((t + 2.5) / 0.4) - erf((t - 2.5) / 0.4));
  }
  double complex taps[5], equal[5];
  for (int k = 0; k < 5; k++)
    equal[k] = 0.2;
  shp_synth_fit_result r;
  assert_int_equal(shp_synth_fit(&p, NULL, taps, &r), SHP_OK);
  double equal_rms, fit_rms, scale;
  assert_int_equal(shp_synth_fit_error(&p, equal, &equal_rms, NULL), SHP_OK);
  assert_int_equal(shp_synth_fit_error(&p, taps, &fit_rms, &scale), SHP_OK);
  assert_true(isfinite(r.rms_error) && r.rms_error > 0);
  assert_true(fabs(fit_rms - r.rms_error) < 1e-15);
  assert_true(r.rms_error < equal_rms);
  assert_true(scale > 0);
  /* Real taps only: still a fit, and real. */
  shp_synth_fit_options o;
  shp_synth_fit_options_init(&o);
  o.real_taps = true;
  assert_int_equal(shp_synth_fit(&p, &o, taps, &r), SHP_OK);
  for (int k = 0; k < 5; k++)
    assert_true(cimag(taps[k]) == 0.0);
  assert_true(r.rms_error < equal_rms);
}

int main(void) {
  /* No gsl_set_error_handler_off(): the library turns GSL's aborting
   * handler off itself. */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fan_pair_has_taps_quarter_half_quarter),
      cmocka_unit_test(test_taps_match_the_propagator_without_dispersion),
      cmocka_unit_test(test_round_trip_reproduces_taps_of_random_stacks),
      cmocka_unit_test(test_round_trip_of_complex_taps_uses_phase_offsets),
      cmocka_unit_test(test_known_designs_synthesise_to_their_taps),
      cmocka_unit_test(test_gain_above_one_is_refused_then_normalised),
      cmocka_unit_test(test_double_pass_round_trip_is_palindromic),
      cmocka_unit_test(test_taps_without_palindrome_fail_with_range),
      cmocka_unit_test(test_fit_recovers_a_stack_made_shape),
      cmocka_unit_test(test_fit_of_flat_top_beats_equal_taps),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
