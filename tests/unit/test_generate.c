/* Ready-made stacks (shp_generate_solc, shp_generate_stacker) and the
 * temperature tuning behind them: each generated stack is held to what its
 * design promises, computed here independently of the generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/diag.h"
#include "shp/error.h"
#include "shp/generate.h"
#include "shp/grid.h"
#include "shp/material.h"
#include "shp/propagator.h"
#include "shp/simulation.h"
#include "shp/units.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATES 8

/* ---- Solc stacks at the carrier ---------------------------------------- */

/* Spectral transmission at the carrier: with a flat unit input spectrum
 * |E_in|^2 = 1, so |E_out|^2 at the centre grid point is the ratio. */
static double carrier_transmission(const shp_stack *s, double wavelength_nm) {
  shp_element el[MAX_PLATES];
  shp_path path;
  assert_true(s->crystal_count <= MAX_PLATES);
  shp_stack_path(s, el, &path);
  shp_grid g;
  /* The carrier alone matters: a small grid keeps 56 stacks quick. */
  assert_int_equal(shp_grid_init(&g, 64, 16.0, wavelength_nm), SHP_OK);
  shp_propagator *p = shp_propagator_new(&g, &path);
  assert_non_null(p);
  double complex in[64];
  for (size_t k = 0; k < g.n; k++)
    in[k] = 1.0;
  shp_field *out = shp_field_new(g.n);
  assert_non_null(out);
  assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
  double complex x = out->spec[0][g.n / 2], y = out->spec[1][g.n / 2];
  double t = creal(x * conj(x)) + creal(y * conj(y));
  shp_field_free(out);
  shp_propagator_free(p);
  return t;
}

/* Design condition of Solc filters (Yariv & Yeh, Optical Waves in Crystals,
 * Wiley 1984, sec. 5.2): at a full wave (fan) or half wave (folded) per plate
 * the carrier is transmitted completely. The generator rounds temperatures
 * to 0.1 mK, which leaves each plate's phase off by delta <= |dGamma/dT| *
 * 5e-5 K: at most 0.061 rad/K/mm * 10 mm (quartz) or * 2.465 mm (BBO)
 * times 5e-5 K, i.e. < 1e-5 rad. T(Gamma) is a trigonometric polynomial of
 * degree N in the plate phase (N + 1 replicas) bounded by 1, so by
 * Bernstein's inequality |T''| <= N^2 and, at its maximum,
 * 1 - T <= N^2 delta^2 / 2 < 64 * 1e-10 / 2 ~ 3e-9: well inside 1e-6. */
static void check_solc_carrier(shp_solc_type type) {
  static const struct {
    const char *material;
    double length_mm; /* long enough for a full wave within the 500 K range */
  } plates[] = {{"alpha-BBO", 2.465}, {"quartz", 10.0}};
  static const double wavelengths_nm[] = {1030.0, 800.0};
  double worst = 0;
  for (size_t m = 0; m < 2; m++)
    for (size_t w = 0; w < 2; w++)
      for (size_t n = 2; n <= MAX_PLATES; n++) {
        shp_stack *s =
            shp_generate_solc(type, n, plates[m].material, plates[m].length_mm,
                              wavelengths_nm[w], 1.0, 40.0);
        if (s == NULL)
          fail_msg("%s: %s", plates[m].material, shp_error_detail());
        assert_int_equal(s->crystal_count, n);
        double t = carrier_transmission(s, wavelengths_nm[w]);
        if (!(fabs(t - 1.0) < 1e-6))
          fail_msg("%s type, %zu %s plates at %g nm: T = %.12f",
                   type == SHP_SOLC_FAN ? "fan" : "folded", n,
                   plates[m].material, wavelengths_nm[w], t);
        worst = fmax(worst, fabs(t - 1.0));
        shp_stack_free(s);
      }
  print_message("largest |T - 1| at the carrier: %.3g\n", worst);
}

static void test_generated_fan_solc_transmits_the_carrier_fully(void **state) {
  (void)state;
  check_solc_carrier(SHP_SOLC_FAN);
}

static void
test_generated_folded_solc_transmits_the_carrier_fully(void **state) {
  (void)state;
  check_solc_carrier(SHP_SOLC_FOLDED);
}

/* Yariv & Yeh (sec. 5.2): the fan filter transmits
 * T = |tan 2rho cos chi sin(N chi) / sin chi|^2, cos chi = cos 2rho
 * cos(Gamma/2). */
static double fan_closed_form(int n, double gamma) {
  double rho = SHP_PI / (4.0 * n);
  double cx = cos(2 * rho) * cos(gamma / 2);
  double chi = acos(cx);
  double ratio =
      fabs(sin(chi)) < 1e-12 ? n * (cx > 0 ? 1 : -1) : sin(n * chi) / sin(chi);
  double t = tan(2 * rho) * cx * ratio;
  return t * t;
}

/* When the replicas do not overlap, the energy transmitted is the sum of the
 * squared replica amplitudes, which by Parseval is the mean of the spectral
 * transmission over one period of Gamma. */
static void
test_fan4_energy_is_sum_of_squared_replica_amplitudes(void **state) {
  (void)state;
  /* T(Gamma) = |sum_k h_k exp(-i k Gamma)|^2 is a trigonometric polynomial
   * of degree N = 4 with period 2 pi; the midpoint rule with M > N points
   * integrates it exactly (up to rounding). */
  const int m = 64;
  double mean = 0;
  for (int i = 0; i < m; i++)
    mean += fan_closed_form(4, SHP_TWO_PI * (i + 0.5) / m) / m;
  /* 0.2098 as quoted (four decimals): 1e-4 covers its rounding. */
  assert_true(fabs(mean - 0.2098) < 1e-4);

  /* 2.465 mm of alpha-BBO delays e from o by 1.0 ps at 1030 nm; a 0.1 ps
   * pulse gives replicas ten widths apart, and dispersion stretches them by
   * under 1 % (GDD < 450 fs^2 against a 100 fs pulse). */
  shp_stack *s =
      shp_generate_solc(SHP_SOLC_FAN, 4, "alpha-BBO", 2.465, 1030.0, 0.1, 40.0);
  assert_non_null(s);
  shp_simulation *sim = shp_simulate(s, NULL, false);
  if (sim == NULL)
    fail_msg("%s", shp_error_detail());
  double t = sim->metrics.transmission;
  print_message("fan4: closed-form mean %.15f, simulated %.15f\n", mean, t);
  assert_true(fabs(t - 0.2098) < 1e-4);
  /* Neighbouring replicas' fields overlap by exp(-ln2 (tau/w)^2) = 1e-30;
   * what remains is rounding in the FFTs and the sum (measured 1e-16). */
  assert_true(fabs(t - mean) < 1e-9);
  shp_simulation_free(sim);
  shp_stack_free(s);
}

/* ---- binary stacker ---------------------------------------------------- */

/* Energy of the output between t0 and t1. */
static double window_energy(const shp_simulation *sim, double t0, double t1) {
  double e = 0;
  for (size_t j = 0; j < sim->n; j++)
    if (sim->time_ps[j] >= t0 && sim->time_ps[j] < t1)
      e += sim->intensity[j] * sim->grid.dt;
  return e;
}

/* Zhou et al., Appl. Opt. 46, 8488 (2007): four plates L, L/2, L/4, L/8 at
 * 45 degrees to each other make 2^4 equal replicas; with L's delay 8 ps they
 * are 1 ps apart. Pulses of 0.1 ps and no dispersion (exact copies) make the
 * replicas separable: each 1 ps window around (m - 7.5) ps then holds 1/16
 * of the energy, up to Gaussian tails (exp(-4 ln2 25) ~ 1e-30) and the
 * 0.1 um length rounding (a 1e-4 ps shift of a replica). */
static void test_stacker4_makes_16_equal_replicas_1ps_apart(void **state) {
  (void)state;
  shp_stack *s = shp_generate_stacker(4, "alpha-BBO", 257.5, 1.0, 0.0, 40.0);
  assert_non_null(s);
  assert_int_equal(s->crystal_count, 4);
  s->pulse.fwhm_ps = 0.1;
  shp_simulation *sim = shp_simulate(s, NULL, true);
  if (sim == NULL)
    fail_msg("%s", shp_error_detail());
  for (int m = 0; m < 16; m++) {
    double c = m - 7.5;
    double e = window_energy(sim, c - 0.5, c + 0.5);
    if (!(fabs(e - 1.0 / 16) < 1e-9))
      fail_msg("replica %d at %g ps holds %.12f", m, c, e);
  }
  shp_simulation_free(sim);
  shp_stack_free(s);
}

/* Normalised Gaussian intensity of FWHM w (energy 1). */
static double gaussian(double t, double w) {
  return sqrt(4 * log(2.0) / SHP_PI) / w * exp(-4 * log(2.0) * t * t / (w * w));
}

/* The flat top of 16 replicas of a 1 ps pulse 1 ps apart, against the
 * incoherent sum of 16 Gaussians of 1/16 the energy each, sampled on the same
 * time axis and measured by the same shp_diag_metrics, so only the physics
 * differs. Adjacent replicas are orthogonally polarised and the generator
 * puts replicas two apart in quadrature at the carrier, so they add in
 * intensity. What is left: replicas further apart still interfere a little,
 * and at 257.5 nm the o and e paths chirp differently (GVD 602 and 391
 * fs^2/mm), so the quadrature holds only at the carrier. Measured: ripple
 * 0.0630 against 0.0579 (0.0586 with --no-dispersion: dispersion is most of
 * the 0.005 difference), rise 0.8025 against 0.7984 ps (0.5 %). Tolerances:
 * 0.01 on the ripple (twice the measured difference) and 2 % on the edges
 * (four times it). Both catch the failure they guard against: with the
 * last plate but one tuned to a full wave instead of a quarter wave,
 * replicas two apart interfere and the ripple is 0.175, the rise 1.54 ps. */
static void test_stacker4_flat_top_matches_incoherent_sum(void **state) {
  (void)state;
  shp_stack *s = shp_generate_stacker(4, "alpha-BBO", 257.5, 1.0, 0.0, 40.0);
  assert_non_null(s);
  shp_simulation *sim = shp_simulate(s, NULL, false);
  if (sim == NULL)
    fail_msg("%s", shp_error_detail());
  /* No polarizer, so no loss: every element is unitary. The FFT rounding is
   * ~1e-15. */
  assert_true(fabs(sim->metrics.transmission - 1.0) < 1e-9);

  double *ref = malloc(sim->n * sizeof *ref);
  assert_non_null(ref);
  for (size_t j = 0; j < sim->n; j++) {
    ref[j] = 0;
    for (int m = 0; m < 16; m++)
      ref[j] += gaussian(sim->time_ps[j] - (m - 7.5), 1.0) / 16;
  }
  shp_diag *d = shp_diag_new(sim->n);
  assert_non_null(d);
  shp_metrics want;
  assert_int_equal(shp_diag_metrics(d, ref, sim->grid.dt, NULL, &want), SHP_OK);
  const shp_metrics *got = &sim->metrics;
  print_message("stacker: ripple %.4f (incoherent %.4f), rise %.4f ps "
                "(incoherent %.4f), fwhm %.4f (%.4f)\n",
                got->ripple, want.ripple, got->rise_time_ps, want.rise_time_ps,
                got->fwhm_ps, want.fwhm_ps);
  assert_true(fabs(got->ripple - want.ripple) < 0.01);
  assert_true(fabs(got->rise_time_ps - want.rise_time_ps) <
              0.02 * want.rise_time_ps);
  assert_true(fabs(got->fall_time_ps - want.fall_time_ps) <
              0.02 * want.fall_time_ps);
  shp_diag_free(d);
  free(ref);
  shp_simulation_free(sim);
  shp_stack_free(s);
}

/* ---- temperature tuning ------------------------------------------------ */

/* shp_tune_temperature returns the lowest T >= start where the e-o phase is
 * goal mod 2 pi. It rounds T to 0.1 mK, so the phase there is off by at most
 * the phase slope times 5e-5 K (plus 1e-9 rad for the material model's own
 * arithmetic); and no lower T qualifies, so the phase moved by less than a
 * full wave since the start (the phase is monotonic in T over the range:
 * thermo-optics dominate expansion). */
static void
test_tune_temperature_finds_lowest_matching_temperature(void **state) {
  (void)state;
  static const char *const materials[] = {"alpha-BBO", "quartz", "calcite",
                                          "YVO4"};
  static const double goals[] = {0.0, 0.3, SHP_PI / 2, SHP_PI, 5.5};
  const double length_mm = 5.0, wavelength_nm = 1030.0, start = 35.0;
  for (size_t i = 0; i < 4; i++) {
    shp_material *m = shp_material_open(materials[i]);
    assert_non_null(m);
    shp_material_props p0;
    assert_int_equal(
        shp_material_props_at(m, wavelength_nm, start, length_mm, &p0), SHP_OK);
    for (size_t k = 0; k < sizeof goals / sizeof goals[0]; k++) {
      double t = NAN;
      assert_int_equal(shp_tune_temperature(m, length_mm, wavelength_nm,
                                            goals[k], start, &t),
                       SHP_OK);
      assert_true(t >= start);
      shp_material_props p;
      assert_int_equal(
          shp_material_props_at(m, wavelength_nm, t, length_mm, &p), SHP_OK);
      double slope = fabs(p.dphase_dT_rad_per_K_per_mm) * length_mm;
      double miss = remainder(p.phase_delay_rad - goals[k], SHP_TWO_PI);
      if (!(fabs(miss) <= slope * 5e-5 + 1e-9))
        fail_msg("%s, goal %g: phase misses by %g rad at %.4f C", materials[i],
                 goals[k], miss, t);
      /* Less than one full wave travelled since the start, in the direction
       * the slope goes. */
      double travelled = (p.phase_delay_rad - p0.phase_delay_rad) *
                         (p0.dphase_dT_rad_per_K_per_mm > 0 ? 1 : -1);
      assert_true(travelled >= -slope * 5e-5);
      assert_true(travelled < SHP_TWO_PI + slope * 5e-5);
      /* Rounded to 0.1 mK. */
      assert_true(fabs(t * 1e4 - round(t * 1e4)) < 1e-6);
    }
    shp_material_free(m);
  }
}

static void test_tune_temperature_fails_when_phase_does_not_tune(void **state) {
  (void)state;
  /* Equal dn/dT on both axes and no expansion across the optic axis. */
  shp_material *m =
      shp_material_load(SHP_TEST_DATADIR "/materials/odd-zero-thermal.yml");
  assert_non_null(m);
  double t = -1234.0;
  assert_int_equal(shp_tune_temperature(m, 5.0, 1030.0, 0.0, 40.0, &t),
                   SHP_ERR_RANGE);
  assert_non_null(strstr(shp_error_detail(), "does not change"));
  assert_true(t == -1234.0); /* untouched on failure */
  shp_material_free(m);

  /* A phase that tunes too slowly: 0.1 mm of quartz needs ~12000 K for a
   * full wave at 1030 nm, so a goal half a wave away lies beyond the
   * 500 K range. */
  m = shp_material_open("quartz");
  assert_non_null(m);
  shp_material_props p;
  assert_int_equal(shp_material_props_at(m, 1030.0, 40.0, 0.1, &p), SHP_OK);
  assert_int_equal(shp_tune_temperature(m, 0.1, 1030.0,
                                        p.phase_delay_rad + SHP_PI, 40.0, &t),
                   SHP_ERR_RANGE);
  assert_true(t == -1234.0);
  /* And a wavelength outside the data is an error, as for the material. */
  assert_int_equal(shp_tune_temperature(m, 5.0, 100.0, 0.0, 40.0, &t),
                   SHP_ERR_RANGE);
  shp_material_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generated_fan_solc_transmits_the_carrier_fully),
      cmocka_unit_test(test_generated_folded_solc_transmits_the_carrier_fully),
      cmocka_unit_test(test_fan4_energy_is_sum_of_squared_replica_amplitudes),
      cmocka_unit_test(test_stacker4_makes_16_equal_replicas_1ps_apart),
      cmocka_unit_test(test_stacker4_flat_top_matches_incoherent_sum),
      cmocka_unit_test(test_tune_temperature_finds_lowest_matching_temperature),
      cmocka_unit_test(test_tune_temperature_fails_when_phase_does_not_tune),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
