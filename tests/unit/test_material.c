/* Unit tests of the material model: the shipped crystal data against the
 * published tables quoted in their files, derived quantities against closed
 * forms of a single-term Sellmeier fixture, the refractiveindex.info layout,
 * and the errors a bad file or a bad query must give. Expected values are
 * computed here independently of the library (closed forms, SI constants). */
#include "shp/error.h"
#include "shp/material.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#define PI 3.14159265358979323846
/* Speed of light in vacuum, exact (SI 2019), in m/s. */
#define C_M_PER_S 299792458.0
/* The same in mm/ps: 1 m/s = 1e3 mm / 1e12 ps. */
#define C_MM_PER_PS (C_M_PER_S * 1e3 / 1e12)

#define FIXTURE(name) SHP_TEST_DATADIR "/materials/" name
#define MATERIAL_FILE(name) SHP_SOURCE_DATADIR "/calibrations/materials/" name

/* |actual - expected| <= tol, with both numbers in the failure message. */
#define assert_near(actual, expected, tol)                                     \
  assert_near_at((actual), (expected), (tol), #actual, __FILE__, __LINE__)

static void assert_near_at(double actual, double expected, double tol,
                           const char *what, const char *file, int line) {
  if (!(fabs(actual - expected) <= tol)) {
    print_error("%s = %.12g, expected %.12g +- %.3g (off by %.3g)\n", what,
                actual, expected, tol, fabs(actual - expected));
    _fail(file, line);
  }
}

/* The last failure has this code and its message contains every needle. */
#define assert_error(code, ...)                                                \
  assert_error_at((code), (const char *const[]){__VA_ARGS__, NULL}, __FILE__,  \
                  __LINE__)

static void assert_error_at(int code, const char *const *needles,
                            const char *file, int line) {
  const char *detail = shp_error_detail();
  if (shp_error_last() != code) {
    print_error("error %s, expected %s; message: %s\n",
                shp_error_name(shp_error_last()), shp_error_name(code), detail);
    _fail(file, line);
  }
  for (const char *const *n = needles; *n != NULL; n++)
    if (strstr(detail, *n) == NULL) {
      print_error("message \"%s\" lacks \"%s\"\n", detail, *n);
      _fail(file, line);
    }
}

static shp_material *load(const char *path) {
  shp_material *m = shp_material_load(path);
  if (m == NULL)
    fail_msg("%s: %s", path, shp_error_detail());
  return m;
}

static shp_material *open_named(const char *name) {
  shp_material *m = shp_material_open(name);
  if (m == NULL)
    fail_msg("%s: %s", name, shp_error_detail());
  return m;
}

static double index_at(const shp_material *m, shp_axis axis, double um,
                       double temperature_c) {
  double n = 0;
  int rc = shp_material_index(m, axis, um, temperature_c, &n);
  if (rc != SHP_OK)
    fail_msg("%g um: %s", um, shp_error_detail());
  return n;
}

static shp_material_props props_at(const shp_material *m, double nm,
                                   double temperature_c, double length_mm) {
  shp_material_props p;
  memset(&p, 0, sizeof p);
  int rc = shp_material_props_at(m, nm, temperature_c, length_mm, &p);
  if (rc != SHP_OK)
    fail_msg("%g nm: %s", nm, shp_error_detail());
  return p;
}

/* ---- the shipped data against the tables quoted in its files ---------- */

/* One "# check:" row of a material file: n_o, n_e at um within tol. */
typedef struct {
  double um, n_o, n_e, tol;
} index_row;

static void assert_rows(const char *name, const index_row *rows, size_t n) {
  shp_material *m = open_named(name);
  double t0 = shp_material_reference_temperature_c(m);
  for (size_t i = 0; i < n; i++) {
    print_message("%s at %.4f um\n", name, rows[i].um);
    assert_near(index_at(m, SHP_AXIS_O, rows[i].um, t0), rows[i].n_o,
                rows[i].tol);
    assert_near(index_at(m, SHP_AXIS_E, rows[i].um, t0), rows[i].n_e,
                rows[i].tol);
  }
  shp_material_free(m);
}

/* CASIX alpha-BBO data sheet, "Refractive Indices, Birefringence and
 * Walk-off Angle" (archived at web.archive.org/web/20080517130745/
 * http://www.casix.com/product/prod_cry_bbo.html); four decimals, hence
 * 2e-4. */
static void test_alpha_bbo_reproduces_casix_table_to_2e4(void **state) {
  (void)state;
  static const index_row casix[] = {{1.0642, 1.6579, 1.5379, 2e-4},
                                    {0.5321, 1.6776, 1.5534, 2e-4},
                                    {0.2660, 1.7617, 1.6114, 2e-4}};
  assert_rows("alpha-BBO", casix, 3);
}

/* The exact model values quoted in each file were computed there with
 * python3 from the same coefficients; 1e-6 is their printed precision. They
 * pin the formula-4 and formula-2 evaluation, not the physics. */
static void
test_shipped_formulas_match_independent_evaluation_to_1e6(void **state) {
  (void)state;
  static const index_row bbo[] = {{1.0642, 1.657896, 1.537963, 1e-6},
                                  {0.5321, 1.677545, 1.553439, 1e-6},
                                  {0.2660, 1.761707, 1.611448, 1e-6}};
  static const index_row yvo4[] = {{0.6328, 1.992850, 2.215374, 1e-6},
                                   {1.0640, 1.957136, 2.164979, 1e-6},
                                   {1.3000, 1.950004, 2.155375, 1e-6},
                                   {1.5500, 1.944729, 2.148610, 1e-6}};
  static const index_row calcite[] = {{0.6328, 1.655690, 1.484909, 1e-6},
                                      {1.0640, 1.642457, 1.479643, 1e-6},
                                      {0.5000, 1.666048, 1.489738, 1e-6}};
  static const index_row quartz[] = {{0.6328, 1.542606, 1.551651, 1e-6},
                                     {1.0640, 1.534099, 1.542835, 1e-6},
                                     {0.5893, 1.544206, 1.553306, 1e-6}};
  assert_rows("alpha-BBO", bbo, 3);
  assert_rows("YVO4", yvo4, 4);
  assert_rows("calcite", calcite, 3);
  assert_rows("quartz", quartz, 3);
}

/* Vendor YVO4 sheet (CASIX lineage, copied on Wikipedia "Yttrium
 * orthovanadate"); its "0.63 um" row is the He-Ne line, see YVO4.yml. */
static void test_yvo4_reproduces_vendor_sheet_to_1e4(void **state) {
  (void)state;
  static const index_row sheet[] = {{0.6328, 1.9929, 2.2154, 1e-4},
                                    {1.3000, 1.9500, 2.1554, 1e-4},
                                    {1.5500, 1.9447, 2.1486, 1e-4}};
  assert_rows("YVO4", sheet, 3);
}

/* Ghosh (1999) against a vendor sheet (lcoptical.com, 630 nm) and the
 * commonly quoted sodium-D values; they differ from the fit by up to 3e-4
 * in n_e, the tolerance written in calcite.yml. */
static void test_calcite_reproduces_handbook_values_to_3e4(void **state) {
  (void)state;
  static const index_row sheet[] = {{0.6300, 1.6557, 1.4852, 3e-4},
                                    {0.5893, 1.6584, 1.4864, 3e-4}};
  assert_rows("calcite", sheet, 2);
}

/* PM Optics crystal quartz sheet at 630 nm (1e-4), and the approximate
 * He-Ne values (2e-4), as written in quartz.yml. */
static void test_quartz_reproduces_sheet_values(void **state) {
  (void)state;
  static const index_row sheet[] = {{0.6300, 1.542737, 1.551809, 1e-4},
                                    {0.6328, 1.5427, 1.5518, 2e-4}};
  assert_rows("quartz", sheet, 2);
}

/* The documented range ends are inside the range, 1 nm beyond is not. */
static void test_shipped_ranges_include_their_ends(void **state) {
  (void)state;
  static const struct {
    const char *name;
    double lo_nm, hi_nm;
  } ranges[] = {{"alpha-BBO", 189, 3500},
                {"YVO4", 400, 5000},
                {"calcite", 204, 2172},
                {"quartz", 198, 2053.1}};
  for (size_t i = 0; i < 4; i++) {
    shp_material *m = open_named(ranges[i].name);
    double lo, hi;
    shp_material_range_um(m, &lo, &hi);
    assert_near(lo * 1e3, ranges[i].lo_nm, 1e-9);
    assert_near(hi * 1e3, ranges[i].hi_nm, 1e-9);
    shp_material_props p;
    assert_int_equal(shp_material_props_at(m, ranges[i].lo_nm, 20, 1, &p),
                     SHP_OK);
    assert_int_equal(shp_material_props_at(m, ranges[i].hi_nm, 20, 1, &p),
                     SHP_OK);
    assert_int_equal(shp_material_props_at(m, ranges[i].lo_nm - 1, 20, 1, &p),
                     SHP_ERR_RANGE);
    assert_int_equal(shp_material_props_at(m, ranges[i].hi_nm + 1, 20, 1, &p),
                     SHP_ERR_RANGE);
    shp_material_free(m);
  }
}

/* ---- derived quantities against closed forms -------------------------- */

/* tests/data/materials/analytic.yml: per axis n^2 - 1 = B l^2/(l^2 - C),
 * dn/dT, and alpha_a = 5e-6/K, T0 = 20 C, valid 0.4-2.0 um. */
typedef struct {
  double b, c, dn_dT;
} sellmeier1;

static const sellmeier1 analytic_o = {1.2, 0.01, 1.0e-5};
static const sellmeier1 analytic_e = {1.0, 0.012, 3.0e-5};
#define ANALYTIC_T0 20.0
#define ANALYTIC_ALPHA_A 5.0e-6

/* With u = l^2 - C: n^2 = 1 + B + B C/u, so 2 n n' = -2 B C l/u^2, and
 * differentiating n n' = -B C l/u^2 once more gives
 * n'^2 + n n'' = -B C (u - 4 l^2)/u^3. Wavelength in um. */
static void closed_form(const sellmeier1 *s, double l, double *n, double *d1,
                        double *d2) {
  double u = l * l - s->c, bc = s->b * s->c;
  *n = sqrt(1.0 + s->b + bc / u);
  *d1 = -bc * l / (*n * u * u);
  *d2 = (-bc * (u - 4.0 * l * l) / (u * u * u) - *d1 * *d1) / *n;
}

static const double analytic_um[] = {0.45, 0.8, 1.03, 1.55, 1.95};
static const double analytic_temps_c[] = {ANALYTIC_T0, 70.0, -30.0};

/* n_g = n - lambda dn/dlambda. The library differentiates numerically
 * (five-point differences, h = 2 nm): the truncation error h^4 n^(5)/30
 * reaches ~3e-10 in n_g at 0.45 um, the shortest wavelength here, so 1e-9
 * holds without hiding a wrong step or stencil. */
static void test_group_index_matches_closed_form_to_1e9(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  for (size_t i = 0; i < sizeof analytic_um / sizeof *analytic_um; i++)
    for (size_t k = 0; k < 3; k++) {
      double l = analytic_um[i], t = analytic_temps_c[k];
      double no, d1o, d2o, ne, d1e, d2e;
      closed_form(&analytic_o, l, &no, &d1o, &d2o);
      closed_form(&analytic_e, l, &ne, &d1e, &d2e);
      no += analytic_o.dn_dT * (t - ANALYTIC_T0);
      ne += analytic_e.dn_dT * (t - ANALYTIC_T0);
      shp_material_props p = props_at(m, l * 1e3, t, 1.0);
      print_message("%g um, %g C\n", l, t);
      assert_near(p.n_o, no, 1e-12);
      assert_near(p.n_e, ne, 1e-12);
      assert_near(p.group_index_o, no - l * d1o, 1e-9);
      assert_near(p.group_index_e, ne - l * d1e, 1e-9);
    }
  shp_material_free(m);
}

/* GVD = lambda^3/(2 pi c^2) d2n/dlambda2, evaluated here in SI (lambda in m,
 * n'' in 1/m^2, giving s^2/m) and converted with 1 s^2/m = 1e30 fs^2 / 1e3
 * mm, so the library's unit handling is checked too. Numerical n'' carries
 * ~5e-10/um^2 of rounding against n'' >= 2e-3/um^2 here: 1e-6 relative. */
static void test_gvd_matches_closed_form_to_1e6_relative(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  for (size_t i = 0; i < sizeof analytic_um / sizeof *analytic_um; i++) {
    double l = analytic_um[i];
    double n, d1, d2o, d2e;
    closed_form(&analytic_o, l, &n, &d1, &d2o);
    closed_form(&analytic_e, l, &n, &d1, &d2e);
    double lm = l * 1e-6;
    double per_d2 = lm * lm * lm / (2 * PI * C_M_PER_S * C_M_PER_S) * 1e12 *
                    1e30 / 1e3; /* fs^2/mm per (1/um^2) */
    double gvd_o = per_d2 * d2o, gvd_e = per_d2 * d2e;
    shp_material_props p = props_at(m, l * 1e3, 45.0, 1.0);
    print_message("%g um: GVD o %g, e %g fs^2/mm\n", l, gvd_o, gvd_e);
    assert_near(p.gvd_o_fs2_per_mm, gvd_o, 1e-6 * fabs(gvd_o));
    assert_near(p.gvd_e_fs2_per_mm, gvd_e, 1e-6 * fabs(gvd_e));
  }
  shp_material_free(m);
}

/* Group-delay difference per mm: |n_g,o - n_g,e| / c with c in mm/ps; the
 * 1e-9 group-index tolerance becomes 2 * 1e-9 / 0.3 ~ 7e-9 ps/mm. */
static void test_group_delay_is_group_index_difference_over_c(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  for (size_t i = 0; i < sizeof analytic_um / sizeof *analytic_um; i++) {
    double l = analytic_um[i];
    double no, d1o, ne, d1e, d2;
    closed_form(&analytic_o, l, &no, &d1o, &d2);
    closed_form(&analytic_e, l, &ne, &d1e, &d2);
    double expected = fabs((no - l * d1o) - (ne - l * d1e)) / C_MM_PER_PS;
    shp_material_props p = props_at(m, l * 1e3, ANALYTIC_T0, 1.0);
    assert_near(p.group_delay_ps_per_mm, expected, 1e-8);
    /* And it is the library's own group indices over c, to rounding. */
    assert_near(p.group_delay_ps_per_mm,
                fabs(p.group_index_o - p.group_index_e) / C_MM_PER_PS, 1e-13);
  }
  shp_material_free(m);
}

/* Phase difference of an a-cut plate, L0 long at T0:
 *   phi(T) = (n_e(T) - n_o(T)) (2 pi / lambda) L0 (1 + alpha_a (T - T0)),
 * so per mm of L0
 *   dphi/dT = (2 pi / lambda) [(dn_e/dT - dn_o/dT)(1 + alpha_a (T - T0))
 *                              + (n_e(T) - n_o(T)) alpha_a],
 * the thermo-optic term weighted by the plate length at T. omega/c is
 * written 2 pi / lambda here, free of the library's constants. */
static void test_dphase_dT_is_thermo_optic_plus_expansion(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  for (size_t i = 0; i < sizeof analytic_um / sizeof *analytic_um; i++)
    for (size_t k = 0; k < 3; k++) {
      double l = analytic_um[i], t = analytic_temps_c[k];
      double no, ne, d1, d2;
      closed_form(&analytic_o, l, &no, &d1, &d2);
      closed_form(&analytic_e, l, &ne, &d1, &d2);
      double dt = t - ANALYTIC_T0;
      double dn = (ne + analytic_e.dn_dT * dt) - (no + analytic_o.dn_dT * dt);
      double k0 = 2 * PI / (l * 1e-3); /* rad/mm */
      double grow = 1.0 + ANALYTIC_ALPHA_A * dt;
      double expected = k0 * ((analytic_e.dn_dT - analytic_o.dn_dT) * grow +
                              dn * ANALYTIC_ALPHA_A);
      shp_material_props p = props_at(m, l * 1e3, t, 1.0);
      print_message("%g um, %g C\n", l, t);
      assert_near(p.dphase_dT_rad_per_K_per_mm, expected,
                  1e-12 * fabs(expected));
      assert_near(p.phase_delay_rad, dn * k0 * grow,
                  1e-12 * fabs(dn * k0 * grow));
    }
  shp_material_free(m);
}

/* The same slope as the derivative of the reported phase: phi(T) is a
 * quadratic in T (a linear index times a linear length), so a central
 * difference over +-0.5 K is exact up to rounding: ~1e-13 rad on phases of
 * ~2000 rad against slopes of ~0.1 rad/K, a few 1e-12 relative. */
static void test_dphase_dT_is_derivative_of_phase_delay(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  shp_material *bbo = open_named("alpha-BBO");
  shp_material *mats[] = {m, bbo};
  for (size_t j = 0; j < 2; j++)
    for (size_t k = 0; k < 3; k++) {
      double t = analytic_temps_c[k], length = 3.0;
      shp_material_props p = props_at(mats[j], 1030.0, t, length);
      shp_material_props up = props_at(mats[j], 1030.0, t + 0.5, length);
      shp_material_props down = props_at(mats[j], 1030.0, t - 0.5, length);
      double slope = up.phase_delay_rad - down.phase_delay_rad;
      assert_near(p.dphase_dT_rad_per_K_per_mm * length, slope,
                  1e-8 * fabs(slope));
    }
  shp_material_free(bbo);
  shp_material_free(m);
}

/* full_wave_temperature_k = 2 pi / |dphi/dT L| for the plate given, and the
 * length is only a factor: twice the plate, half the temperature step. */
static void
test_full_wave_temperature_is_two_pi_over_phase_slope(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  shp_material_props one = props_at(m, 800.0, 35.0, 1.0);
  shp_material_props p = props_at(m, 800.0, 35.0, 7.5);
  assert_near(p.length_mm, 7.5, 0.0);
  assert_near(p.dphase_dT_rad_per_K_per_mm, one.dphase_dT_rad_per_K_per_mm,
              0.0);
  double expected = 2 * PI / fabs(p.dphase_dT_rad_per_K_per_mm * 7.5);
  assert_near(p.full_wave_temperature_k, expected, 1e-12 * expected);
  assert_near(p.full_wave_temperature_k * 7.5, one.full_wave_temperature_k,
              1e-12 * one.full_wave_temperature_k);
  assert_near(p.phase_delay_rad, 7.5 * one.phase_delay_rad,
              1e-12 * fabs(p.phase_delay_rad));
  shp_material_free(m);
}

/* An a-cut plate grows along a: L(T) = L0 (1 + alpha_a (T - T0)). */
static void test_plate_length_follows_expansion_along_a(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("analytic.yml"));
  assert_near(shp_material_plate_length_mm(m, 10.0, ANALYTIC_T0), 10.0, 0.0);
  assert_near(shp_material_plate_length_mm(m, 10.0, 120.0),
              10.0 * (1 + ANALYTIC_ALPHA_A * 100.0), 1e-15);
  assert_near(shp_material_expansion_a(m), ANALYTIC_ALPHA_A, 0.0);
  assert_near(shp_material_expansion_c(m), 1.0e-5, 0.0);
  assert_near(shp_material_dn_dT(m, SHP_AXIS_O), analytic_o.dn_dT, 0.0);
  assert_near(shp_material_dn_dT(m, SHP_AXIS_E), analytic_e.dn_dT, 0.0);
  shp_material_free(m);
}

/* Equal dn/dT and no expansion along a: the phase does not tune with
 * temperature, the slope is exactly 0 and no finite step makes a wave. */
static void test_temperature_independent_phase_has_no_full_wave(void **state) {
  (void)state;
  shp_material *m = load(FIXTURE("odd-zero-thermal.yml"));
  shp_material_props p = props_at(m, 800.0, 60.0, 2.0);
  assert_true(p.dphase_dT_rad_per_K_per_mm == 0.0);
  assert_true(isinf(p.full_wave_temperature_k) &&
              p.full_wave_temperature_k > 0);
  shp_material_free(m);
}

/* Block lists, integers and absent optional keys read as the flow-style
 * file does; absent strings read as "". */
static void test_block_style_file_reads_as_flow_style(void **state) {
  (void)state;
  shp_material *a = load(FIXTURE("analytic.yml"));
  shp_material *b = load(FIXTURE("odd-block-style.yml"));
  for (size_t i = 0; i < sizeof analytic_um / sizeof *analytic_um; i++) {
    shp_material_props pa = props_at(a, analytic_um[i] * 1e3, 30.0, 2.0);
    shp_material_props pb = props_at(b, analytic_um[i] * 1e3, 30.0, 2.0);
    assert_memory_equal(&pa, &pb, sizeof pa);
  }
  double lo, hi;
  shp_material_range_um(b, &lo, &hi);
  assert_near(lo, 0.4, 0.0);
  assert_near(hi, 2.0, 0.0);
  assert_string_equal(shp_material_description(b), "");
  assert_string_equal(shp_material_source(b, SHP_AXIS_O), "");
  assert_string_equal(shp_material_expansion_source(b), "");
  assert_string_equal(shp_material_source(a, SHP_AXIS_E), "test fixture (e)");
  assert_string_equal(shp_material_expansion_source(a),
                      "test fixture (expansion)");
  shp_material_free(b);
  shp_material_free(a);
}

/* Published GVD of BBO at 800 nm: ~75 fs^2/mm for the o-ray (e.g. "1 mm
 * BBO crystal, chirp 75 fs^2" in the material table of
 * advancedfemtotech.com/Tutorial_Material.html; beta-BBO Sellmeier of
 * Eimerl et al. 1987). The ~70-80 figure usually quoted is the o-axis one;
 * the e axis of the same Sellmeier family (same B, C, D) gives ~50. The
 * bands below allow the ~1 % vendor spread in coefficients and alpha/beta
 * differences, and still catch a sign error, a lost factor 1e3 in the units,
 * a first instead of second derivative, or swapped axes (o is larger). */
static void
test_alpha_bbo_gvd_at_800nm_is_positive_and_bbo_sized(void **state) {
  (void)state;
  shp_material *m = open_named("alpha-BBO");
  shp_material_props p = props_at(m, 800.0, 20.0, 1.0);
  print_message("alpha-BBO GVD at 800 nm: o %g, e %g fs^2/mm\n",
                p.gvd_o_fs2_per_mm, p.gvd_e_fs2_per_mm);
  assert_true(p.gvd_o_fs2_per_mm > 60.0 && p.gvd_o_fs2_per_mm < 90.0);
  assert_true(p.gvd_e_fs2_per_mm > 35.0 && p.gvd_e_fs2_per_mm < 65.0);
  assert_true(p.gvd_o_fs2_per_mm > p.gvd_e_fs2_per_mm);
  shp_material_free(m);
}

/* ---- the refractiveindex.info layout ----------------------------------- */

/* The o axis read from ../rii/quartz-o-ghosh.yml (formula 2 with Ghosh's
 * coefficients as strings) evaluates exactly as quartz.yml's inline axis. */
static void test_rii_formula_file_matches_inline_quartz_to_1e12(void **state) {
  (void)state;
  shp_material *rii = load(FIXTURE("rii-quartz-o.yml"));
  shp_material *q = load(MATERIAL_FILE("quartz.yml"));
  for (double l = 0.198; l <= 2.0531; l += 0.0125) {
    print_message("%g um\n", l);
    assert_near(index_at(rii, SHP_AXIS_O, l, 20.0),
                index_at(q, SHP_AXIS_O, l, 20.0), 1e-12);
    assert_near(index_at(rii, SHP_AXIS_E, l, 45.0),
                index_at(q, SHP_AXIS_E, l, 45.0), 1e-12);
  }
  shp_material_props a = props_at(rii, 800.0, 20.0, 1.0);
  shp_material_props b = props_at(q, 800.0, 20.0, 1.0);
  assert_near(a.group_index_o, b.group_index_o, 1e-12);
  assert_near(a.gvd_o_fs2_per_mm, b.gvd_o_fs2_per_mm, 1e-9);
  /* Ghosh's value quoted in the fixture's header, n(0.6328 um) = 1.542606. */
  assert_near(index_at(rii, SHP_AXIS_O, 0.6328, 20.0), 1.542606, 1e-6);
  /* No source key: the file's REFERENCES stand in. */
  assert_non_null(strstr(shp_material_source(rii, SHP_AXIS_O),
                         "Opt. Commun. 163, 95-102 (1999)"));
  shp_material_free(q);
  shp_material_free(rii);
}

/* Without wavelength_range_um the material holds where both axes do: the
 * o-axis file's 0.198-2.0531 um, and the table's 0.25-2.0 um. */
static void test_rii_material_range_is_intersection_of_axes(void **state) {
  (void)state;
  double lo, hi, n;
  shp_material *q = load(FIXTURE("rii-quartz-o.yml"));
  shp_material_range_um(q, &lo, &hi);
  assert_near(lo, 0.198, 0.0);
  assert_near(hi, 2.0531, 0.0);
  assert_int_equal(shp_material_index(q, SHP_AXIS_E, 0.197, 20, &n),
                   SHP_ERR_RANGE);
  shp_material_free(q);
  shp_material *c = load(FIXTURE("rii-calcite-e-table.yml"));
  shp_material_range_um(c, &lo, &hi);
  assert_near(lo, 0.25, 0.0);
  assert_near(hi, 2.0, 0.0);
  /* The o axis is a formula valid anywhere, but the material is not. */
  assert_int_equal(shp_material_index(c, SHP_AXIS_O, 0.2499, 20, &n),
                   SHP_ERR_RANGE);
  assert_int_equal(shp_material_index(c, SHP_AXIS_O, 2.0001, 20, &n),
                   SHP_ERR_RANGE);
  assert_int_equal(shp_material_index(c, SHP_AXIS_E, 2.0, 20, &n), SHP_OK);
  shp_material_free(c);
}

/* The spline passes through the rows (to rounding), and the rows are
 * calcite.yml's formula rounded to 6 decimals (5e-7, plus 1e-9 slack). */
static void test_rii_table_passes_through_its_rows(void **state) {
  (void)state;
  static const double rows[][2] = {{0.2500, 1.533776}, {0.4000, 1.497188},
                                   {0.6328, 1.484909}, {1.0640, 1.479643},
                                   {1.5500, 1.477702}, {2.0000, 1.476518}};
  shp_material *t = load(FIXTURE("rii-calcite-e-table.yml"));
  shp_material *c = load(MATERIAL_FILE("calcite.yml"));
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    print_message("row %g um\n", rows[i][0]);
    assert_near(index_at(t, SHP_AXIS_E, rows[i][0], 20), rows[i][1], 1e-12);
    assert_near(index_at(c, SHP_AXIS_E, rows[i][0], 20), rows[i][1], 5.01e-7);
  }
  /* dn/dT applies to tabulated axes as to formulas. */
  assert_near(index_at(t, SHP_AXIS_E, 1.064, 70), 1.479643 + 13.0e-6 * 50,
              1e-12);
  shp_material_free(c);
  shp_material_free(t);
}

/* Between rows, from 0.45 um up: a cubic through rows h apart misses a
 * smooth curve by at most (5/384) h^4 max|n''''|, below 5e-6 here for the
 * 0.05-0.24 um spacings (n'''' < 60/um^4 beyond 0.45 um), so the spline
 * must stay within 1e-5 of the formula it was tabulated from. */
static void test_rii_table_interpolates_within_1e5_above_450nm(void **state) {
  (void)state;
  shp_material *t = load(FIXTURE("rii-calcite-e-table.yml"));
  shp_material *c = load(MATERIAL_FILE("calcite.yml"));
  double worst = 0, at = 0;
  for (int nm = 450; nm <= 2000; nm++) {
    double l = nm * 1e-3;
    double d =
        fabs(index_at(t, SHP_AXIS_E, l, 20) - index_at(c, SHP_AXIS_E, l, 20));
    if (d > worst) {
      worst = d;
      at = l;
    }
  }
  print_message("worst deviation %.3g at %g um\n", worst, at);
  assert_near(worst, 0.0, 1e-5);
  /* The o axis of the same material is still calcite.yml's formula. */
  assert_near(index_at(t, SHP_AXIS_O, 0.6328, 20), 1.655690, 1e-6);
  /* The spline's slope gives the group index to 1e-4 (its derivative error
   * is O(h^3 n'''')), a 0.05 % error on a 0.2 ps/mm-scale delay. */
  shp_material_props pt = props_at(t, 1064.0, 20, 1);
  shp_material_props pc = props_at(c, 1064.0, 20, 1);
  assert_near(pt.group_index_e, pc.group_index_e, 1e-4);
  shp_material_free(c);
  shp_material_free(t);
}

/* In the UV the rows are 0.05 um apart where n'''' reaches ~2000/um^4, so
 * no cubic does better than ~2e-4; the natural-spline end condition
 * (n'' = 0 at 0.25 um, where the true n'' is ~5/um^2) adds to that. The
 * bound below is what this table can give: half a linear interpolation's
 * h^2 |n''| / 8 ~ 1.5e-3 near the end. */
static void test_rii_table_uv_error_is_bounded_by_row_spacing(void **state) {
  (void)state;
  shp_material *t = load(FIXTURE("rii-calcite-e-table.yml"));
  shp_material *c = load(MATERIAL_FILE("calcite.yml"));
  double worst = 0;
  for (int nm = 250; nm <= 450; nm++) {
    double l = nm * 1e-3;
    worst = fmax(worst, fabs(index_at(t, SHP_AXIS_E, l, 20) -
                             index_at(c, SHP_AXIS_E, l, 20)));
  }
  print_message("worst UV deviation %.3g\n", worst);
  assert_near(worst, 0.0, 1e-3);
  shp_material_free(c);
  shp_material_free(t);
}

/* ---- errors ----------------------------------------------------------- */

static void assert_load_fails(const char *path, int code, const char *what) {
  shp_error_clear();
  shp_material *m = shp_material_load(path);
  if (m != NULL) {
    shp_material_free(m);
    fail_msg("%s loaded, expected %s", path, shp_error_name(code));
  }
  assert_error(code, what);
}

static void test_missing_required_key_names_mapping_line_and_key(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-missing-key.yml"), SHP_ERR_PARSE,
                    "bad-missing-key.yml:15: axes.e.dn_dT_per_K: "
                    "missing required key");
}

static void test_unknown_key_is_refused_on_its_line(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-unknown-key.yml"), SHP_ERR_PARSE,
                    "bad-unknown-key.yml:7: wavelength_range_nm: unknown key");
}

static void test_word_for_number_is_quoted_in_message(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-wrong-type.yml"), SHP_ERR_PARSE,
                    "bad-wrong-type.yml:6: reference_temperature_c: "
                    "expected a number, got \"abc\"");
}

static void test_quoted_number_is_refused(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-quoted-number.yml"), SHP_ERR_PARSE,
                    "bad-quoted-number.yml:12: axes.o.dn_dT_per_K: expected "
                    "a number, got the quoted string \"1.0e-5\"");
}

static void test_nan_value_is_refused_as_not_finite(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-nan.yml"), SHP_ERR_PARSE,
                    "bad-nan.yml:20: thermal_expansion_per_K.a: "
                    "must be a finite number, got .nan");
}

static void test_duplicate_key_names_both_lines(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-duplicate-key.yml"), SHP_ERR_PARSE,
                    "bad-duplicate-key.yml:12: axes.o.formula: "
                    "duplicate key (first on line 10)");
}

static void test_formula_outside_1_to_9_is_refused(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-formula-12.yml"), SHP_ERR_PARSE,
                    "bad-formula-12.yml:10: axes.o.formula: must be a "
                    "refractiveindex.info formula 1..9, got 12");
  /* Far beyond int: refused before any conversion (UBSan watches). */
  assert_load_fails(FIXTURE("bad-formula-huge.yml"), SHP_ERR_PARSE,
                    "bad-formula-huge.yml:10: axes.o.formula: must be a "
                    "refractiveindex.info formula 1..9, got 1e+300");
}

static void test_empty_coefficients_are_refused(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-empty-coefficients.yml"), SHP_ERR_PARSE,
                    "bad-empty-coefficients.yml:16: axes.e.coefficients: "
                    "must not be empty");
}

/* libyaml notices the unclosed flow list where the next key starts. */
static void test_yaml_syntax_error_reports_line(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-syntax.yml"), SHP_ERR_PARSE,
                    "bad-syntax.yml:11: ");
  assert_error(SHP_ERR_PARSE, "flow sequence");
}

static void test_empty_file_is_an_error(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-empty.yml"), SHP_ERR_PARSE,
                    "bad-empty.yml:1: the file is empty");
  assert_load_fails(FIXTURE("bad-comments-only.yml"), SHP_ERR_PARSE,
                    "bad-comments-only.yml:1: the file is empty");
}

static void test_nonexistent_file_is_an_io_error(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("no-such-material.yml"), SHP_ERR_FILE,
                    "no-such-material.yml: cannot open: ");
  /* By path through shp_material_open as well. */
  shp_error_clear();
  assert_null(shp_material_open(FIXTURE("no-such-material.yml")));
  assert_error(SHP_ERR_FILE, "no-such-material.yml: cannot open");
}

static void test_negative_range_is_refused_on_its_line(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-negative-range.yml"), SHP_ERR_PARSE,
                    "bad-negative-range.yml:7: wavelength_range_um: ");
  assert_error(SHP_ERR_PARSE, "0 < low < high");
}

static void test_range_beyond_axis_data_is_refused(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-range-beyond-data.yml"), SHP_ERR_PARSE,
                    "bad-range-beyond-data.yml:7: wavelength_range_um: "
                    "extends beyond the axis data (0.198 to 2.0531 um)");
}

static void test_formula_without_real_index_is_refused(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-no-real-index.yml"), SHP_ERR_PARSE,
                    "bad-no-real-index.yml:10: axes.o: ");
  assert_error(SHP_ERR_PARSE, "not a refractive index");
}

static void test_rii_file_and_inline_formula_are_exclusive(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-rii-and-formula.yml"), SHP_ERR_PARSE,
                    "bad-rii-and-formula.yml:10: axes.o.refractiveindex_info:"
                    " give either a file or formula and coefficients");
}

/* The message names the material file, line and key, then the missing
 * file resolved beside it. */
static void test_missing_rii_file_is_named(void **state) {
  (void)state;
  assert_load_fails(FIXTURE("bad-rii-missing.yml"), SHP_ERR_FILE,
                    "bad-rii-missing.yml:10: axes.o.refractiveindex_info: ");
  assert_error(SHP_ERR_FILE,
               "materials/../rii/no-such-file.yml: cannot open: No such file");
}

static void test_unknown_material_name_lists_known_ones(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_material_open("unobtainium"));
  assert_error(SHP_ERR_NOT_FOUND, "unknown material \"unobtainium\"",
               "alpha-BBO", "calcite", "quartz", "YVO4");
  shp_error_clear();
  assert_null(shp_material_open(""));
  assert_error(SHP_ERR_INVALID, "no name given");
}

static void test_material_names_are_case_insensitive(void **state) {
  (void)state;
  shp_material *m = open_named("ALPHA-bbo");
  assert_string_equal(shp_material_name(m), "alpha-BBO");
  assert_non_null(strstr(shp_material_path(m), "alpha-BBO.yml"));
  shp_material_free(m);
  m = open_named("yvo4");
  assert_string_equal(shp_material_name(m), "YVO4");
  shp_material_free(m);
}

/* Sorted ignoring case, no duplicates, the four shipped crystals. */
static void test_material_names_list_shipped_crystals_sorted(void **state) {
  (void)state;
  char **names = NULL;
  size_t count = 0;
  assert_int_equal(shp_material_names(&names, &count), SHP_OK);
  const char *want[] = {"alpha-BBO", "calcite", "quartz", "YVO4"};
  for (size_t w = 0; w < 4; w++) {
    size_t hits = 0;
    for (size_t i = 0; i < count; i++)
      hits += strcmp(names[i], want[w]) == 0;
    if (hits != 1)
      fail_msg("%s listed %zu times", want[w], hits);
  }
  for (size_t i = 1; i < count; i++)
    assert_true(strcasecmp(names[i - 1], names[i]) < 0);
  shp_material_names_free(names, count);
}

static void test_index_outside_range_names_nm_range(void **state) {
  (void)state;
  shp_material *m = open_named("alpha-BBO");
  double n = -1;
  shp_error_clear();
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, 0.1, 20, &n),
                   SHP_ERR_RANGE);
  assert_error(SHP_ERR_RANGE,
               "alpha-BBO: wavelength 100 nm is outside the valid range "
               "189 to 3500 nm");
  assert_int_equal(shp_material_index(m, SHP_AXIS_E, 3.6, 20, &n),
                   SHP_ERR_RANGE);
  assert_error(SHP_ERR_RANGE, "3600 nm", "189 to 3500 nm");
  assert_near(n, -1, 0.0); /* no result written */
  shp_material_props p;
  assert_int_equal(shp_material_props_at(m, 4000.0, 20, 1, &p), SHP_ERR_RANGE);
  assert_error(SHP_ERR_RANGE, "4000 nm");
  shp_material_free(m);
}

static void test_non_finite_wavelength_or_temperature_is_invalid(void **state) {
  (void)state;
  shp_material *m = open_named("quartz");
  double n = -1;
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, NAN, 20, &n),
                   SHP_ERR_INVALID);
  assert_error(SHP_ERR_INVALID, "quartz: ", "must be finite");
  assert_int_equal(shp_material_index(m, SHP_AXIS_O, INFINITY, 20, &n),
                   SHP_ERR_INVALID);
  assert_int_equal(shp_material_index(m, SHP_AXIS_E, 0.8, NAN, &n),
                   SHP_ERR_INVALID);
  assert_near(n, -1, 0.0);
  shp_material_props p;
  assert_int_equal(shp_material_props_at(m, NAN, 20, 1, &p), SHP_ERR_INVALID);
  assert_error(SHP_ERR_INVALID, "must be finite");
  shp_material_free(m);
}

static void test_bad_plate_length_is_invalid(void **state) {
  (void)state;
  shp_material *m = open_named("calcite");
  shp_material_props p;
  assert_int_equal(shp_material_props_at(m, 800, 20, NAN, &p), SHP_ERR_INVALID);
  assert_error(SHP_ERR_INVALID, "length_mm: must be > 0, got nan");
  assert_int_equal(shp_material_props_at(m, 800, 20, -3, &p), SHP_ERR_INVALID);
  assert_error(SHP_ERR_INVALID, "length_mm: must be > 0, got -3");
  assert_int_equal(shp_material_props_at(m, 800, 20, 0, &p), SHP_ERR_INVALID);
  assert_int_equal(shp_material_props_at(m, 800, 20, INFINITY, &p),
                   SHP_ERR_INVALID);
  shp_material_free(m);
}

int main(void) {
  /* The library finds the shipped materials in the source tree by itself;
   * a data directory from the caller's environment must not shadow them. */
  unsetenv("SHP_DATA_DIR");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alpha_bbo_reproduces_casix_table_to_2e4),
      cmocka_unit_test(
          test_shipped_formulas_match_independent_evaluation_to_1e6),
      cmocka_unit_test(test_yvo4_reproduces_vendor_sheet_to_1e4),
      cmocka_unit_test(test_calcite_reproduces_handbook_values_to_3e4),
      cmocka_unit_test(test_quartz_reproduces_sheet_values),
      cmocka_unit_test(test_shipped_ranges_include_their_ends),
      cmocka_unit_test(test_group_index_matches_closed_form_to_1e9),
      cmocka_unit_test(test_gvd_matches_closed_form_to_1e6_relative),
      cmocka_unit_test(test_group_delay_is_group_index_difference_over_c),
      cmocka_unit_test(test_dphase_dT_is_thermo_optic_plus_expansion),
      cmocka_unit_test(test_dphase_dT_is_derivative_of_phase_delay),
      cmocka_unit_test(test_full_wave_temperature_is_two_pi_over_phase_slope),
      cmocka_unit_test(test_plate_length_follows_expansion_along_a),
      cmocka_unit_test(test_temperature_independent_phase_has_no_full_wave),
      cmocka_unit_test(test_block_style_file_reads_as_flow_style),
      cmocka_unit_test(test_alpha_bbo_gvd_at_800nm_is_positive_and_bbo_sized),
      cmocka_unit_test(test_rii_formula_file_matches_inline_quartz_to_1e12),
      cmocka_unit_test(test_rii_material_range_is_intersection_of_axes),
      cmocka_unit_test(test_rii_table_passes_through_its_rows),
      cmocka_unit_test(test_rii_table_interpolates_within_1e5_above_450nm),
      cmocka_unit_test(test_rii_table_uv_error_is_bounded_by_row_spacing),
      cmocka_unit_test(test_missing_required_key_names_mapping_line_and_key),
      cmocka_unit_test(test_unknown_key_is_refused_on_its_line),
      cmocka_unit_test(test_word_for_number_is_quoted_in_message),
      cmocka_unit_test(test_quoted_number_is_refused),
      cmocka_unit_test(test_nan_value_is_refused_as_not_finite),
      cmocka_unit_test(test_duplicate_key_names_both_lines),
      cmocka_unit_test(test_formula_outside_1_to_9_is_refused),
      cmocka_unit_test(test_empty_coefficients_are_refused),
      cmocka_unit_test(test_yaml_syntax_error_reports_line),
      cmocka_unit_test(test_empty_file_is_an_error),
      cmocka_unit_test(test_nonexistent_file_is_an_io_error),
      cmocka_unit_test(test_negative_range_is_refused_on_its_line),
      cmocka_unit_test(test_range_beyond_axis_data_is_refused),
      cmocka_unit_test(test_formula_without_real_index_is_refused),
      cmocka_unit_test(test_rii_file_and_inline_formula_are_exclusive),
      cmocka_unit_test(test_missing_rii_file_is_named),
      cmocka_unit_test(test_unknown_material_name_lists_known_ones),
      cmocka_unit_test(test_material_names_are_case_insensitive),
      cmocka_unit_test(test_material_names_list_shipped_crystals_sorted),
      cmocka_unit_test(test_index_outside_range_names_nm_range),
      cmocka_unit_test(test_non_finite_wavelength_or_temperature_is_invalid),
      cmocka_unit_test(test_bad_plate_length_is_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
