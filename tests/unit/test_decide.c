/* The closed loop's decisions (shp/decide.h): reachability with its
 * reasons on the nominal model, and on fits of traces simulated from a
 * "true" stack with hidden errors, the convergence verdict and the move
 * that separates consistent solutions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/decide.h"
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/fit.h"
#include "shp/planning.h"
#include "shp/pulse.h"
#include "shp/stack.h"
#include "shp/units.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXAMPLES SHP_SOURCE_DATADIR "/examples/stacks/"
#define MAXC 16
#define NDELAY 161

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static shp_stack *load(const char *name) {
  shp_stack *s = shp_stack_load(name);
  assert_non_null(s);
  return s;
}

static shp_target flat_top(double duration_ps, double rise_ps) {
  shp_target t = {.shape = SHP_TARGET_FLAT_TOP,
                  .duration_ps = duration_ps,
                  .rise_time_ps = rise_ps};
  return t;
}

/* Limits of +- half a window around the stack's temperatures. */
static void limits(const shp_stack *s, double half, double *lo, double *hi) {
  for (size_t i = 0; i < s->crystal_count; i++) {
    lo[i] = s->crystals[i].temperature_c - half;
    hi[i] = s->crystals[i].temperature_c + half;
  }
}

static bool has_reason(const shp_reach_result *r, const char *start) {
  for (size_t k = 0; k < r->reason_count; k++)
    if (strncmp(r->reasons[k], start, strlen(start)) == 0)
      return true;
  return false;
}

static void test_reach(void **state) {
  (void)state;
  shp_stack *s = load(EXAMPLES "design-flat-top-5ps.yml");
  double lo[MAXC], hi[MAXC];
  limits(s, 10, lo, hi);

  /* The stack was designed for it. */
  shp_target t5 = flat_top(5, 1);
  shp_reach_result r = {0};
  double t0 = now_s();
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("5 ps: %.2f s, e* %.4f, T %.3f, span %.3f ps: %s\n", now_s() - t0,
         r.best_error, r.best_transmission, r.replica_span_ps, r.summary);
  assert_true(r.reachable);
  assert_int_equal(r.reason_count, 0);
  assert_true(fabs(r.best_error - 0.0089) < 0.004);
  for (size_t i = 0; i < s->crystal_count; i++)
    assert_true(r.setpoints_c[i] >= lo[i] && r.setpoints_c[i] <= hi[i]);
  shp_reach_result_clear(&r);

  /* Four 2.7 mm alpha-BBO plates spread replicas over ~5 ps: 20 ps is out
   * of reach whatever the temperatures. */
  shp_target t20 = flat_top(20, 1);
  assert_int_equal(shp_reach_check(s, &t20, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("20 ps: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_true(has_reason(&r, "the replica span"));
  assert_true(r.replica_span_ps > 3 && r.replica_span_ps < 8);
  assert_true(r.best_error > 0.05);
  assert_non_null(strstr(r.summary, "unreachable"));
  shp_reach_result_clear(&r);

  /* Edges of 50 fs from a 1 ps pulse. */
  shp_target tedge = flat_top(5, 0.05);
  assert_int_equal(shp_reach_check(s, &tedge, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("50 fs edges: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_true(has_reason(&r, "the target's rise time 0.05 ps is below"));
  assert_false(has_reason(&r, "the replica span"));
  shp_reach_result_clear(&r);

  /* Detuned by a quarter period and held within 0.1 K: the phases cannot
   * come back, the shape stays off. */
  shp_material_props mp;
  assert_int_equal(shp_material_props_at(s->crystals[0].material,
                                         s->pulse.center_wavelength_nm,
                                         s->crystals[0].temperature_c,
                                         s->crystals[0].length_mm, &mp),
                   SHP_OK);
  for (size_t i = 0; i < s->crystal_count; i += 2)
    s->crystals[i].temperature_c += 0.25 * mp.full_wave_temperature_k;
  limits(s, 0.05, lo, hi);
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("0.1 K window: e* %.4f: %s\n", r.best_error, r.summary);
  assert_false(r.reachable);
  assert_int_equal(r.reason_count, 1);
  assert_true(has_reason(&r, "temperatures alone cannot"));
  assert_true(r.best_error > 0.05);
  shp_reach_result_clear(&r);

  /* A transmission the crossed polarizers cannot give. */
  limits(s, 10, lo, hi);
  t5.has_min_transmission = true;
  t5.min_transmission = 0.999;
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r), SHP_OK);
  printf("T >= 0.999: T %.3f: %s\n", r.best_transmission, r.summary);
  assert_false(r.reachable);
  assert_int_equal(r.reason_count, 1);
  assert_true(has_reason(&r, "the transmission at the best setpoints is"));
  assert_true(r.best_error < 0.05);
  shp_reach_result_clear(&r);

  /* Bad limits are refused. */
  lo[1] = hi[1] + 1;
  assert_int_equal(shp_reach_check(s, &t5, lo, hi, 0.05, 1, &r),
                   SHP_ERR_INVALID);
  shp_reach_result_clear(&r);
  shp_stack_free(s);
}

int main(void) {
  /* Measured plans differ from run to run in their last bits. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reach),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
