/* Propagation through Jones elements: closed forms of the Solc filters,
 * impulse responses, energy conservation, the binary stacker, double pass,
 * and the hot-path contract (no allocation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "shp/error.h"
#include "shp/grid.h"
#include "shp/material.h"
#include "shp/planning.h"
#include "shp/propagator.h"
#include "shp/pulse.h"
#include "shp/units.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CRYSTALS 16

static shp_material *bbo;

static int setup(void **state) {
  bbo = shp_material_open("alpha-BBO");
  return bbo == NULL ? -1 : 0;
}

static int teardown(void **state) {
  shp_material_free(bbo);
  return 0;
}

/* A flat unit input spectrum makes |E_out(k)|^2 the spectral transmission. */
static double complex *flat_input(size_t n) {
  double complex *in = malloc(n * sizeof *in);
  for (size_t k = 0; k < n; k++)
    in[k] = 1.0;
  return in;
}

/* The e-o phase of a crystal at grid point k, computed from the material
 * directly (independently of the propagator's decomposition). */
static double retardance(const shp_grid *g, size_t k, const shp_crystal *c) {
  double l = shp_grid_wavelength_um(g, k), no, ne;
  assert_int_equal(
      shp_material_index(c->material, SHP_AXIS_O, l, c->temperature_c, &no),
      SHP_OK);
  assert_int_equal(
      shp_material_index(c->material, SHP_AXIS_E, l, c->temperature_c, &ne),
      SHP_OK);
  double len =
      shp_material_plate_length_mm(c->material, c->length_mm, c->temperature_c);
  return (ne - no) * shp_grid_omega(g, k) * len / SHP_C_MM_PER_PS +
         c->phase_offset_rad;
}

typedef enum { FAN, FOLDED } solc_type;

/* N equal plates, rho = pi/(4N); fan: rho, 3rho, 5rho... between parallel
 * polarizers; folded: +rho, -rho, ... between crossed polarizers. The phase
 * offset puts the carrier at the design condition: full wave for fan, half
 * wave for folded. */
static void solc(solc_type type, int n_plates, const shp_grid *g,
                 shp_element *el, shp_path *path) {
  double rho = 180.0 / (4.0 * n_plates);
  memset(path, 0, sizeof *path);
  for (int i = 0; i < n_plates; i++) {
    shp_crystal c = {.material = bbo,
                     .length_mm = 1.0,
                     .temperature_c = 35.0,
                     .azimuth_deg = type == FAN ? (2 * i + 1) * rho
                                                : (i % 2 ? -rho : rho)};
    double g0 = retardance(g, g->n / 2, &c);
    double want = type == FAN ? 0.0 : SHP_PI;
    c.phase_offset_rad = want - fmod(g0, SHP_TWO_PI);
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = c;
  }
  path->elements = el;
  path->count = (size_t)n_plates;
  path->input_polarization_deg = 0.0;
  path->has_output_polarizer = true;
  path->output_polarizer.angle_deg = type == FAN ? 0.0 : 90.0;
}

/* Yariv & Yeh, Optical Waves in Crystals (Wiley 1984), sec. 5.2: both Solc
 * filters transmit T = |tan 2rho cos chi sin(N chi) / sin chi|^2 with
 * cos chi = cos 2rho cos(Gamma/2) (fan) or cos 2rho sin(Gamma/2) (folded). */
static double solc_closed_form(solc_type type, int n, double gamma) {
  double rho = SHP_PI / (4.0 * n);
  double cx = cos(2 * rho) * (type == FAN ? cos(gamma / 2) : sin(gamma / 2));
  double chi = acos(cx);
  double ratio =
      fabs(sin(chi)) < 1e-12 ? n * (cx > 0 ? 1 : -1) : sin(n * chi) / sin(chi);
  double t = tan(2 * rho) * cx * ratio;
  return t * t;
}

static void check_solc(solc_type type) {
  shp_grid g;
  /* 1 mm plates: about 0.4 ps o/e delay, so the transmission goes through
   * about 20 periods across this grid. */
  assert_int_equal(shp_grid_init(&g, 1024, 20.0, 1030.0), SHP_OK);
  double complex *in = flat_input(g.n);
  shp_field *out = shp_field_new(g.n);
  for (int n = 2; n <= MAX_CRYSTALS; n++) {
    shp_element el[MAX_CRYSTALS];
    shp_path path;
    solc(type, n, &g, el, &path);
    shp_propagator *p = shp_propagator_new(&g, &path);
    assert_non_null(p);
    assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
    double worst = 0;
    for (size_t k = 0; k < g.n; k++) {
      double t = cabs(out->spec[0][k]) * cabs(out->spec[0][k]) +
                 cabs(out->spec[1][k]) * cabs(out->spec[1][k]);
      double want =
          solc_closed_form(type, n, retardance(&g, k, &el[0].crystal));
      worst = fmax(worst, fabs(t - want));
    }
    assert_true(worst < 1e-10);
    /* Peak transmission 1 at the design condition, at the carrier. */
    double t0 = cabs(out->spec[0][g.n / 2]) * cabs(out->spec[0][g.n / 2]) +
                cabs(out->spec[1][g.n / 2]) * cabs(out->spec[1][g.n / 2]);
    assert_true(fabs(t0 - 1.0) < 1e-10);
    shp_propagator_free(p);
  }
  shp_field_free(out);
  free(in);
}

static void test_fan_solc_matches_yariv_yeh_closed_form(void **state) {
  check_solc(FAN);
}

static void test_folded_solc_matches_yariv_yeh_closed_form(void **state) {
  check_solc(FOLDED);
}

/* Energy between t0 and t1 of a trace. */
static double window_energy(const shp_grid *g, const shp_field *f, double t0,
                            double t1) {
  double e = 0;
  for (size_t j = 0; j < g->n; j++) {
    double t = shp_grid_time_ps(g, j);
    if (t >= t0 && t < t1)
      e += (cabs(f->time[0][j]) * cabs(f->time[0][j]) +
            cabs(f->time[1][j]) * cabs(f->time[1][j])) *
           g->dt;
  }
  return e;
}

static double bbo_delay_ps_per_mm(double wavelength_nm) {
  shp_material_props props;
  assert_int_equal(shp_material_props_at(bbo, wavelength_nm, 20.0, 1.0, &props),
                   SHP_OK);
  return props.group_delay_ps_per_mm;
}

/* A short Gaussian pulse on a grid. */
static double complex *pulse_on(const shp_grid *g, double fwhm_ps) {
  double complex *in = malloc(g->n * sizeof *in);
  shp_pulse pulse = {.shape = SHP_PULSE_GAUSSIAN,
                     .center_wavelength_nm = shp_grid_center_wavelength_nm(g),
                     .fwhm_ps = fwhm_ps};
  assert_int_equal(shp_pulse_fill(&pulse, g, in), SHP_OK);
  return in;
}

/* Fan N = 2, ideal (dispersionless) plates: the xx Jones element is
 * (1/4) z + 1/2 + (1/4) z^-1 with z = exp(-i Gamma), i.e. replicas of
 * amplitude 1/4, 1/2, 1/4 (Harris, Ammann & Chang, JOSA 54, 1267 (1964)). */
static void test_fan_two_plate_impulse_response_has_taps_quarter_half_quarter(
    void **state) {
  const double tau = 2.0; /* ps, o/e delay of each plate */
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 40.96, 1030.0), SHP_OK);
  shp_material_props props;
  assert_int_equal(shp_material_props_at(bbo, 1030.0, 35.0, 1.0, &props),
                   SHP_OK);
  shp_element el[2];
  shp_path path;
  solc(FAN, 2, &g, el, &path);
  path.no_dispersion = true;
  for (int i = 0; i < 2; i++) {
    el[i].crystal.length_mm = tau / props.group_delay_ps_per_mm;
    el[i].crystal.phase_offset_rad = 0;
    el[i].crystal.phase_offset_rad =
        -fmod(retardance(&g, g.n / 2, &el[i].crystal), SHP_TWO_PI);
  }
  shp_propagator *p = shp_propagator_new(&g, &path);
  assert_non_null(p);
  shp_field *out = shp_field_new(g.n);
  double complex *flat = flat_input(g.n);
  assert_int_equal(shp_propagator_apply(p, &path, flat, out), SHP_OK);
  /* Spectral transfer x = 1/2 + 1/2 cos Gamma with Gamma linear in omega
   * (zero at the carrier, slope the signed group-delay difference). The
   * slope here and the propagator's are both numerical derivatives that
   * agree to ~1e-9 relative; over +-600 rad of phase that is < 1e-6. */
  double slope =
      (props.group_index_e - props.group_index_o) / SHP_C_MM_PER_PS *
      shp_material_plate_length_mm(bbo, el[0].crystal.length_mm, 35.0);
  double worst_x = 0, worst_y = 0;
  for (size_t k = 0; k < g.n; k++) {
    double gamma = slope * shp_grid_domega(&g, k);
    worst_x = fmax(worst_x, cabs(out->spec[0][k] - (0.5 + 0.5 * cos(gamma))));
    worst_y = fmax(worst_y, cabs(out->spec[1][k]));
  }
  assert_true(worst_x < 1e-6);
  assert_true(worst_y < 1e-12); /* parallel polarizers pass no y */
  /* Time domain: replica energies 1/16, 1/4, 1/16 around -tau, 0, +tau. The
   * tolerance is set by the Gaussian tails beyond 5 FWHM (1e-30) and
   * rounding, since the linearised phase makes each replica an exact copy. */
  double complex *in = pulse_on(&g, 0.2);
  assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
  assert_true(fabs(window_energy(&g, out, -1.5 * tau, -0.5 * tau) - 1.0 / 16) <
              1e-9);
  assert_true(fabs(window_energy(&g, out, -0.5 * tau, 0.5 * tau) - 1.0 / 4) <
              1e-9);
  assert_true(fabs(window_energy(&g, out, 0.5 * tau, 1.5 * tau) - 1.0 / 16) <
              1e-9);
  free(in);
  free(flat);
  shp_field_free(out);
  shp_propagator_free(p);
}

/* Without polarizers every element is unitary: energy in equals energy out
 * for any stack, dispersion, temperature and angles. */
static void test_energy_is_conserved_without_polarizers(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 8192, 60.0, 800.0), SHP_OK);
  double complex *in = pulse_on(&g, 0.1);
  shp_field *out = shp_field_new(g.n);
  srand(7);
  for (int trial = 0; trial < 5; trial++) {
    shp_element el[8];
    for (int i = 0; i < 8; i++) {
      el[i].kind = SHP_ELEMENT_CRYSTAL;
      el[i].crystal = (shp_crystal){
          .material = bbo,
          .length_mm = 0.5 + 3.0 * rand() / (double)RAND_MAX,
          .azimuth_deg = 180.0 * rand() / (double)RAND_MAX,
          .temperature_c = 20.0 + 80.0 * rand() / (double)RAND_MAX,
          .phase_offset_rad = 6.0 * rand() / (double)RAND_MAX};
    }
    shp_path path = {.elements = el,
                     .count = 8,
                     .input_polarization_deg = 30.0 * trial,
                     .double_pass = trial % 2 == 1};
    shp_propagator *p = shp_propagator_new(&g, &path);
    assert_non_null(p);
    assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
    assert_true(fabs(shp_field_energy(out, g.dt) - 1.0) < 1e-12);
    shp_propagator_free(p);
  }
  free(in);
  shp_field_free(out);
}

/* Binary stacker (Zhou et al., Appl. Opt. 46, 8488 (2007)): lengths L, L/2,
 * ..., each axis 45 degrees from the last, gives 2^N equal replicas with
 * adjacent replicas orthogonally polarised. */
static void test_binary_stacker_gives_equal_orthogonal_replicas(void **state) {
  const double spacing = 1.0; /* ps, between adjacent replicas */
  for (int n = 2; n <= 5; n++) {
    size_t replicas = (size_t)1 << n;
    shp_grid g;
    assert_int_equal(shp_grid_init(&g, 16384, 81.92, 1030.0), SHP_OK);
    shp_element el[8];
    double gd = bbo_delay_ps_per_mm(1030.0);
    for (int i = 0; i < n; i++) {
      el[i].kind = SHP_ELEMENT_CRYSTAL;
      el[i].crystal =
          (shp_crystal){.material = bbo,
                        .length_mm = spacing * (double)(1 << (n - 1 - i)) / gd,
                        .azimuth_deg = i % 2 ? 0.0 : 45.0,
                        .temperature_c = 20.0};
    }
    shp_path path = {.elements = el, .count = (size_t)n, .no_dispersion = true};
    shp_propagator *p = shp_propagator_new(&g, &path);
    assert_non_null(p);
    double complex *in = pulse_on(&g, 0.1);
    shp_field *out = shp_field_new(g.n);
    assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
    double prev[3] = {0}; /* coherency Sxx, Syy, Re Sxy of the last replica */
    double prev_im = 0;
    for (size_t m = 0; m < replicas; m++) {
      double centre = ((double)m - (double)(replicas - 1) / 2) * spacing;
      double sxx = 0, syy = 0, sxy_re = 0, sxy_im = 0;
      for (size_t j = 0; j < g.n; j++) {
        double t = shp_grid_time_ps(&g, j);
        if (fabs(t - centre) >= spacing / 2)
          continue;
        double complex x = out->time[0][j], y = out->time[1][j];
        sxx += creal(x * conj(x)) * g.dt;
        syy += creal(y * conj(y)) * g.dt;
        sxy_re += creal(x * conj(y)) * g.dt;
        sxy_im += cimag(x * conj(y)) * g.dt;
      }
      assert_true(fabs(sxx + syy - 1.0 / (double)replicas) < 1e-9);
      if (m > 0) {
        /* Tr(J_m J_m-1) = |<v_m, v_m-1>|^2 vanishes for orthogonal states. */
        double overlap = sxx * prev[0] + syy * prev[1] +
                         2 * (sxy_re * prev[2] + sxy_im * prev_im);
        assert_true(overlap / ((sxx + syy) * (prev[0] + prev[1])) < 1e-9);
      }
      prev[0] = sxx;
      prev[1] = syy;
      prev[2] = sxy_re;
      prev_im = sxy_im;
    }
    free(in);
    shp_field_free(out);
    shp_propagator_free(p);
  }
}

static double field_distance(const shp_field *a, const shp_field *b) {
  double d = 0;
  for (int c = 0; c < 2; c++)
    for (size_t k = 0; k < a->n; k++) {
      d = fmax(d, cabs(a->spec[c][k] - b->spec[c][k]));
      d = fmax(d, cabs(a->time[c][k] - b->time[c][k]));
    }
  return d;
}

/* DESIGN.md: a double pass off a mirror is the palindromic stack. */
static void test_double_pass_equals_palindromic_single_pass(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 30.0, 800.0), SHP_OK);
  shp_element el[3], pal[6];
  for (int i = 0; i < 3; i++) {
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = (shp_crystal){.material = bbo,
                                  .length_mm = 1.0 + 0.7 * i,
                                  .azimuth_deg = 10.0 + 33.0 * i,
                                  .temperature_c = 25.0 + 10 * i,
                                  .phase_offset_rad = 0.3 * i};
  }
  for (int i = 0; i < 3; i++) {
    pal[i] = el[i];
    pal[5 - i] = el[i];
  }
  shp_path dp = {.elements = el,
                 .count = 3,
                 .double_pass = true,
                 .input_polarization_deg = 12.0,
                 .has_output_polarizer = true,
                 .output_polarizer = {.angle_deg = 80.0}};
  shp_path single = dp;
  single.elements = pal;
  single.count = 6;
  single.double_pass = false;
  shp_propagator *p1 = shp_propagator_new(&g, &dp);
  shp_propagator *p2 = shp_propagator_new(&g, &single);
  assert_non_null(p1);
  assert_non_null(p2);
  double complex *in = pulse_on(&g, 0.05);
  shp_field *a = shp_field_new(g.n), *b = shp_field_new(g.n);
  assert_int_equal(shp_propagator_apply(p1, &dp, in, a), SHP_OK);
  assert_int_equal(shp_propagator_apply(p2, &single, in, b), SHP_OK);
  /* Peak field amplitude is about 6 (1/sqrt(dt) scaling); rounding on ~1e4
   * radians of phase gives ~1e-12 relative. */
  assert_true(field_distance(a, b) < 1e-9);
  /* And physically: one plate at 45 degrees passed twice is one plate of
   * twice the length. */
  shp_element one = {.kind = SHP_ELEMENT_CRYSTAL,
                     .crystal = {.material = bbo,
                                 .length_mm = 1.3,
                                 .azimuth_deg = 45.0,
                                 .temperature_c = 30.0}};
  shp_element twice = one;
  twice.crystal.length_mm = 2.6;
  shp_path p_one = {.elements = &one, .count = 1, .double_pass = true};
  shp_path p_twice = {.elements = &twice, .count = 1};
  shp_propagator *q1 = shp_propagator_new(&g, &p_one);
  shp_propagator *q2 = shp_propagator_new(&g, &p_twice);
  assert_int_equal(shp_propagator_apply(q1, &p_one, in, a), SHP_OK);
  assert_int_equal(shp_propagator_apply(q2, &p_twice, in, b), SHP_OK);
  assert_true(field_distance(a, b) < 1e-9);
  shp_propagator_free(q1);
  shp_propagator_free(q2);
  shp_propagator_free(p1);
  shp_propagator_free(p2);
  shp_field_free(a);
  shp_field_free(b);
  free(in);
}

/* Temperature changes go through the fast path (recurrence plus series);
 * the result must equal a propagator bound afresh at the new temperature. */
static void test_retuned_temperature_matches_fresh_binding(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 8192, 40.0, 800.0), SHP_OK);
  shp_element el[4];
  for (int i = 0; i < 4; i++) {
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = (shp_crystal){.material = bbo,
                                  .length_mm = 4.0,
                                  .azimuth_deg = 20.0 * i,
                                  .temperature_c = 40.0};
  }
  shp_path path = {.elements = el, .count = 4};
  shp_propagator *p = shp_propagator_new(&g, &path);
  double complex *in = pulse_on(&g, 0.05);
  shp_field *a = shp_field_new(g.n), *b = shp_field_new(g.n);
  /* Small steps stay on the series; 150 K forces a re-binding. */
  const double steps[] = {0.01, 0.7, 3.0, 150.0, -60.0};
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    for (int i = 0; i < 4; i++)
      el[i].crystal.temperature_c = 40.0 + steps[s] * (i + 1) / 4.0;
    assert_int_equal(shp_propagator_apply(p, &path, in, a), SHP_OK);
    shp_propagator *fresh = shp_propagator_new(&g, &path);
    assert_int_equal(shp_propagator_apply(fresh, &path, in, b), SHP_OK);
    /* Power spectra per component do not depend on the time frame and
     * agree to rounding (phases of ~4e3 rad carry ~1e-12 rad each, and an
     * error in the thermal model would show at 1e-6). The fields agree to the
     * frame: each crystal's removed group delay is a numerical slope at the
     * carrier, whose rounding (~1e-12 ps) shifts a 50 fs pulse by ~1e-9 of its
     * peak. */
    double peak = 0, worst_s = 0;
    for (int c = 0; c < 2; c++)
      for (size_t k = 0; k < g.n; k++) {
        double pa = cabs(a->spec[c][k]), pb = cabs(b->spec[c][k]);
        worst_s = fmax(worst_s, fabs(pa * pa - pb * pb));
        peak = fmax(peak, pb * pb);
      }
    assert_true(worst_s < 1e-10 * peak);
    assert_true(field_distance(a, b) < 1e-8 * 4.5);
    shp_propagator_free(fresh);
  }
  shp_propagator_free(p);
  shp_field_free(a);
  shp_field_free(b);
  free(in);
}

/* A calibrated slope correction s is a phase of s (T - T0) on top of the
 * material model: at any temperature it equals the same crystal with that
 * phase as an offset instead, and it vanishes at the reference T0. */
static void test_slope_correction_is_a_temperature_linear_phase(void **state) {
  (void)state;
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 4096, 30.0, 800.0), SHP_OK);
  double t0 = shp_material_reference_temperature_c(bbo);
  const double s = 0.0123, temps[] = {t0, t0 + 7.5, t0 + 61.0};
  for (size_t k = 0; k < sizeof temps / sizeof temps[0]; k++) {
    shp_element a[2], b[2];
    for (int i = 0; i < 2; i++) {
      a[i].kind = b[i].kind = SHP_ELEMENT_CRYSTAL;
      a[i].crystal = (shp_crystal){.material = bbo,
                                   .length_mm = 3.0,
                                   .azimuth_deg = 22.5 + 45.0 * i,
                                   .temperature_c = temps[k],
                                   .phase_offset_rad = 0.4,
                                   .slope_correction_rad_per_k = s};
      b[i].crystal = a[i].crystal;
      b[i].crystal.slope_correction_rad_per_k = 0;
      b[i].crystal.phase_offset_rad = 0.4 + s * (temps[k] - t0);
    }
    shp_path pa = {.elements = a, .count = 2}, pb = {.elements = b, .count = 2};
    shp_propagator *p = shp_propagator_new(&g, &pa);
    shp_propagator *q = shp_propagator_new(&g, &pb);
    double complex *in = pulse_on(&g, 0.1);
    shp_field *fa = shp_field_new(g.n), *fb = shp_field_new(g.n);
    assert_int_equal(shp_propagator_apply(p, &pa, in, fa), SHP_OK);
    assert_int_equal(shp_propagator_apply(q, &pb, in, fb), SHP_OK);
    assert_true(field_distance(fa, fb) < 1e-12);
    shp_propagator_free(p);
    shp_propagator_free(q);
    shp_field_free(fa);
    shp_field_free(fb);
    free(in);
  }
}

/* Zero heap allocations per apply, on power-of-two and on 2-3-5-smooth
 * grids (FFTW's in-place batched plans allocate scratch there), with
 * measured and with estimated plans, re-bindings included. */
static void check_no_allocation(size_t n, double window_ps) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, n, window_ps, 1030.0), SHP_OK);
  shp_element el[8];
  for (int i = 0; i < 8; i++) {
    el[i].kind = SHP_ELEMENT_CRYSTAL;
    el[i].crystal = (shp_crystal){.material = bbo,
                                  .length_mm = 2.0,
                                  .azimuth_deg = 11.25 * i,
                                  .temperature_c = 40.0};
  }
  shp_path path = {.elements = el,
                   .count = 8,
                   .double_pass = n % 2 == 0 && n % 4 != 0,
                   .has_output_polarizer = true};
  /* The counter must see FFTW's aligned allocations, or a zero below would
   * prove nothing. */
  size_t aligned = alloc_count_aligned();
  shp_propagator *p = shp_propagator_new(&g, &path);
  assert_non_null(p);
  assert_true(alloc_count_aligned() > aligned);
  double complex *in = pulse_on(&g, 0.5);
  shp_field *out = shp_field_new(g.n);
  size_t before = alloc_count();
  for (int call = 0; call < 20; call++) {
    el[call % 8].crystal.temperature_c += 40.0; /* includes re-bindings */
    assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_OK);
  }
  assert_int_equal(alloc_count() - before, 0);
  shp_propagator_free(p);
  shp_field_free(out);
  free(in);
}

static void test_apply_allocates_nothing(void **state) {
  if (!alloc_count_enabled())
    skip();
  const size_t sizes[] = {8192, 600, 720, 1000, 6000};
  for (int effort = 0; effort < 2; effort++) {
    shp_set_plan_effort(effort ? SHP_PLAN_ESTIMATE : SHP_PLAN_MEASURE);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
      check_no_allocation(sizes[i], 0.0625 * (double)sizes[i]);
  }
  shp_set_plan_effort(SHP_PLAN_MEASURE);
}

static void test_bad_values_are_refused_with_the_element_named(void **state) {
  shp_grid g;
  assert_int_equal(shp_grid_init(&g, 1024, 20.0, 1030.0), SHP_OK);
  shp_element el = {.kind = SHP_ELEMENT_CRYSTAL,
                    .crystal = {.material = bbo, .length_mm = -3.0}};
  shp_path path = {.elements = &el, .count = 1};
  assert_null(shp_propagator_new(&g, &path));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_non_null(strstr(shp_error_detail(), "crystals[0].length_mm"));
  el.crystal.length_mm = NAN;
  assert_null(shp_propagator_new(&g, &path));
  el.crystal.length_mm = 1.0;
  shp_propagator *p = shp_propagator_new(&g, &path);
  assert_non_null(p);
  double complex *in = flat_input(g.n);
  shp_field *out = shp_field_new(g.n);
  el.crystal.temperature_c = NAN;
  assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_ERR_INVALID);
  el.crystal.temperature_c = 20.0;
  path.double_pass = true;
  assert_int_equal(shp_propagator_apply(p, &path, in, out), SHP_ERR_MISMATCH);
  shp_propagator_free(p);
  shp_field_free(out);
  free(in);
}

/* A grid reaching beyond alpha-BBO's 189 nm edge is refused, not
 * extrapolated. */
static void test_grid_outside_material_range_is_an_error(void **state) {
  shp_grid g;
  /* 200 nm carrier, +-25 % span in frequency: down to 160 nm. */
  double w0 = shp_omega_of_wavelength_um(0.2);
  double window = SHP_TWO_PI / (0.5 * w0 / 1024);
  assert_int_equal(shp_grid_init(&g, 1024, window, 200.0), SHP_OK);
  shp_element el = {.kind = SHP_ELEMENT_CRYSTAL,
                    .crystal = {.material = bbo, .length_mm = 1.0}};
  shp_path path = {.elements = &el, .count = 1};
  assert_null(shp_propagator_new(&g, &path));
  assert_int_equal(shp_error_last(), SHP_ERR_RANGE);
  assert_non_null(strstr(shp_error_detail(), "valid range"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fan_solc_matches_yariv_yeh_closed_form),
      cmocka_unit_test(test_folded_solc_matches_yariv_yeh_closed_form),
      cmocka_unit_test(
          test_fan_two_plate_impulse_response_has_taps_quarter_half_quarter),
      cmocka_unit_test(test_energy_is_conserved_without_polarizers),
      cmocka_unit_test(test_binary_stacker_gives_equal_orthogonal_replicas),
      cmocka_unit_test(test_double_pass_equals_palindromic_single_pass),
      cmocka_unit_test(test_retuned_temperature_matches_fresh_binding),
      cmocka_unit_test(test_slope_correction_is_a_temperature_linear_phase),
      cmocka_unit_test(test_apply_allocates_nothing),
      cmocka_unit_test(test_bad_values_are_refused_with_the_element_named),
      cmocka_unit_test(test_grid_outside_material_range_is_an_error),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
