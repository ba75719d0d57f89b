/* Offline design: synthesis-based stacks reach their targets on the full
 * model, the written stack reproduces the promised metrics, Solc types keep
 * their angle patterns, and impossible double passes say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/design.h"
#include "shp/error.h"
#include "shp/simulation.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGETS SHP_SOURCE_DATADIR "/examples/targets"

static shp_design_spec spec_for(const shp_target *t, size_t n,
                                shp_design_type type) {
  return (shp_design_spec){.target = t,
                           .material = "alpha-BBO",
                           .crystals = n,
                           .wavelength_nm = 1030.0,
                           .fwhm_ps = 1.0,
                           .type = type,
                           .base_temperature_c = 40.0};
}

/* Four free plates for the 5 ps flat top with 1 ps edges: the ideal replica
 * model fits it to 1 % and the full model keeps that to within 3 % RMS,
 * with the FWHM within 0.2 ps (a fifth of the pulse). The written stack,
 * read back and simulated, gives the metrics the sheet promises. */
static void test_free_design_reaches_the_flat_top(void **state) {
  shp_target *t = shp_target_load(TARGETS "/flat-top-5ps.yml");
  assert_non_null(t);
  shp_design_spec spec = spec_for(t, 4, SHP_DESIGN_FREE);
  shp_design *d = shp_design_run(&spec);
  assert_non_null(d);
  assert_true(d->fit_error < 0.02);
  assert_true(d->metrics.error < 0.03);
  assert_true(fabs(d->metrics.fwhm_ps - 5.0) < 0.2);
  assert_true(d->metrics.error <= d->synthesis.error + 1e-12);
  for (size_t i = 0; i < 4; i++) {
    assert_true(d->plates[i].length_tolerance_mm > 0);
    assert_true(d->plates[i].azimuth_tolerance_deg > 0);
    assert_true(d->plates[i].temperature_tolerance_k > 0);
  }
  char path[] = "/tmp/shp-design-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  assert_int_equal(shp_stack_save(d->stack, path), SHP_OK);
  shp_stack *s = shp_stack_load(path);
  unlink(path);
  assert_non_null(s);
  shp_simulation *sim = shp_simulate(s, t, false);
  assert_non_null(sim);
  /* The file keeps every double exactly, so the simulation is identical. */
  assert_true(fabs(sim->metrics.error - d->metrics.error) < 1e-12);
  assert_true(fabs(sim->metrics.transmission - d->metrics.transmission) <
              1e-12);
  shp_simulation_free(sim);
  shp_stack_free(s);
  shp_design_free(d);
  shp_target_free(t);
}

/* Fan and folded designs keep the Solc azimuth patterns exactly (only
 * their temperatures are polished) and their polarizers. */
static void test_solc_designs_keep_their_patterns(void **state) {
  shp_target *t = shp_target_load(TARGETS "/flat-top-5ps.yml");
  for (int type = SHP_DESIGN_FAN; type <= SHP_DESIGN_FOLDED; type++) {
    shp_design_spec spec = spec_for(t, 4, (shp_design_type)type);
    shp_design *d = shp_design_run(&spec);
    assert_non_null(d);
    assert_true(isnan(d->fit_error));
    const shp_stack *s = d->stack;
    assert_true(s->has_output_polarizer);
    assert_true(s->output_polarizer_deg == (type == SHP_DESIGN_FAN ? 0 : 90));
    double rho = 11.25;
    for (size_t i = 0; i < 4; i++) {
      double want =
          type == SHP_DESIGN_FAN ? (2 * i + 1) * rho : (i % 2 ? -rho : rho);
      assert_true(fabs(s->crystals[i].azimuth_deg - want) < 1e-12);
    }
    shp_design_free(d);
  }
  shp_target_free(t);
}

/* Two plates passed twice cannot realise the fitted five-replica flat top
 * (no palindromic stack does): a clear SHP_ERR_RANGE. */
static void test_impossible_double_pass_says_so(void **state) {
  shp_target *t = shp_target_load(TARGETS "/flat-top-5ps.yml");
  shp_design_spec spec = spec_for(t, 2, SHP_DESIGN_FREE);
  spec.double_pass = true;
  assert_null(shp_design_run(&spec));
  assert_int_equal(shp_error_last(), SHP_ERR_RANGE);
  assert_non_null(strstr(shp_error_detail(), "double-pass"));
  shp_target_free(t);
}

static void test_bad_specs_are_refused(void **state) {
  shp_target *t = shp_target_load(TARGETS "/flat-top-5ps.yml");
  shp_design_spec spec = spec_for(t, 0, SHP_DESIGN_FREE);
  assert_null(shp_design_run(&spec));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  spec = spec_for(t, 4, SHP_DESIGN_FREE);
  spec.material = "unobtainium";
  assert_null(shp_design_run(&spec));
  assert_int_equal(shp_error_last(), SHP_ERR_NOT_FOUND);
  spec = spec_for(t, 4, SHP_DESIGN_FREE);
  spec.fwhm_ps = -1;
  assert_null(shp_design_run(&spec));
  shp_target_free(t);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_design_reaches_the_flat_top),
      cmocka_unit_test(test_solc_designs_keep_their_patterns),
      cmocka_unit_test(test_impossible_double_pass_says_so),
      cmocka_unit_test(test_bad_specs_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
