/* The sim driver: ovens against the closed form of a first-order lag, the
 * autocorrelator against shp_simulate, hidden errors, and injected faults
 * at the driver level. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "labfile.h"
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/simulation.h"
#include "shp/supervisor.h"

typedef struct {
  char *path;
  shp_lab *lab;
  shp_clock *clock;
  shp_device *dev;
  const shp_driver *drv;
} rig;

static void rig_open(rig *r, const char *sim_lines) {
  r->path = lab_write(sim_lines);
  assert_non_null(r->path);
  r->lab = shp_lab_load(r->path);
  if (r->lab == NULL)
    fail_msg("%s", shp_error_detail());
  r->clock = shp_clock_new_sim(0);
  r->drv = shp_hw_driver_find("sim");
  assert_non_null(r->drv);
  shp_device_config cfg = {.connection = &r->lab->ovens[0].connection,
                           .clock = r->clock,
                           .lab = r->lab};
  assert_int_equal(r->drv->open(&cfg, &r->dev), SHP_OK);
}

static void rig_close(rig *r) {
  r->drv->close(r->dev);
  shp_clock_free(r->clock);
  shp_lab_free(r->lab);
  unlink(r->path);
  free(r->path);
}

static void test_sim_oven_follows_first_order_lag(void **state) {
  rig r;
  rig_open(&r, "  start_c: [30.0, 30.0, 30.0, 30.0]\n");
  const double tau = 30.0, t0 = 30.0, tset = 80.0;
  assert_int_equal(r.drv->oven_set(r.dev, 2, tset), SHP_OK);
  double start = shp_clock_now_s(r.clock);
  for (int k = 1; k <= 20; k++) {
    shp_clock_sleep_s(r.clock, 7.3);
    shp_oven_reading rd;
    assert_int_equal(r.drv->oven_read(r.dev, 2, &rd), SHP_OK);
    double t = shp_clock_now_s(r.clock) - start;
    double want = tset + (t0 - tset) * exp(-t / tau);
    assert_near(rd.actual_c, want, 1e-9);
    assert_near(rd.setpoint_c, tset, 0);
    assert_true(rd.output_on);
  }
  /* The other ovens stayed where they were. */
  shp_oven_reading other;
  assert_int_equal(r.drv->oven_read(r.dev, 0, &other), SHP_OK);
  assert_near(other.actual_c, t0, 1e-12);
  rig_close(&r);
}

static void test_sim_sensor_noise_is_seeded(void **state) {
  double first[2];
  for (int run = 0; run < 2; run++) {
    rig r;
    rig_open(&r, "  sensor_noise_k: 0.1\n  seed: 5\n");
    shp_oven_reading rd;
    assert_int_equal(r.drv->oven_read(r.dev, 0, &rd), SHP_OK);
    first[run] = rd.actual_c;
    assert_true(fabs(rd.actual_c - 66.7432) < 0.5);
    rig_close(&r);
  }
  assert_near(first[0], first[1], 0);
}

/* The simulated AC at tau, linear between samples (as the instrument
 * samples it), independently of the driver. */
static double interp(const shp_simulation *s, double tau) {
  double dt = s->delay_ps[1] - s->delay_ps[0];
  double x = (tau - s->delay_ps[0]) / dt;
  size_t j = (size_t)floor(x);
  if (x < 0 || j + 1 >= 2 * s->n)
    return 0;
  double f = x - (double)j;
  return (1 - f) * s->autocorrelation[j] + f * s->autocorrelation[j + 1];
}

/* The largest difference between a calibrated trace and shp_simulate. */
static double ac_difference(const char *sim_lines, size_t *count) {
  char *path = lab_write(sim_lines);
  shp_lab *lab = shp_lab_load(path);
  if (lab == NULL)
    fail_msg("%s", shp_error_detail());
  shp_clock *c = shp_clock_new_sim(0);
  shp_supervisor *s = shp_supervisor_open(lab, c, NULL, NULL);
  assert_non_null(s);
  const shp_trace *tr;
  assert_int_equal(shp_supervisor_acquire(s, 3, &tr), SHP_OK);
  shp_simulation *sim = shp_simulate(lab->stack, NULL, false);
  assert_non_null(sim);
  double worst = 0;
  for (size_t k = 0; k < tr->count; k++)
    worst = fmax(worst, fabs(tr->signal[k] - interp(sim, tr->delay_ps[k])));
  /* The calibrated axis spans the scan range, centred on zero delay. */
  assert_near(tr->delay_ps[0], -8.0, 1e-9);
  assert_near(tr->delay_ps[tr->count - 1], 8.0, 1e-9);
  *count = tr->count;
  shp_simulation_free(sim);
  shp_supervisor_close(s);
  shp_clock_free(c);
  shp_lab_free(lab);
  unlink(path);
  free(path);
  return worst;
}

#define NO_ERRORS                                                              \
  "  phase_offset_rad: [0, 0, 0, 0]\n  azimuth_error_deg: [0, 0, 0, 0]\n"      \
  "  length_error_um: [0, 0, 0, 0]\n  noise: 0\n  background: 0\n"             \
  "  scan_range_ps: 16\n  points: 301\n"

static void test_sim_ac_without_errors_equals_simulation(void **state) {
  size_t count;
  assert_true(ac_difference(NO_ERRORS, &count) < 1e-9);
  assert_int_equal(count, 301);
}

/* Hidden phase and angle errors of the size a real stack has change the
 * trace far beyond the 1e-9 agreement above. */
static void test_sim_ac_with_hidden_errors_differs(void **state) {
  size_t count;
  double d = ac_difference("  noise: 0\n  scan_range_ps: 16\n  points: 301\n"
                           "  phase_offset_rad: [0.8, -0.6, 0.9, -0.7]\n"
                           "  azimuth_error_deg: [2.0, -2.0, 1.5, -1.0]\n",
                           &count);
  assert_true(d > 1e-2);
}

static void test_sim_faults_return_their_errors(void **state) {
  rig r;
  rig_open(&r, "  faults:\n"
               "    - {kind: timeout, at_s: 10, crystal: 0}\n"
               "    - {kind: disconnect, at_s: 10, crystal: 1}\n"
               "    - {kind: garbage, at_s: 10, crystal: 2}\n"
               "    - {kind: stuck_sensor, at_s: 10, crystal: 3}\n"
               "    - {kind: garbage, at_s: 10, autocorrelator: true}\n");
  shp_oven_reading rd;
  for (int ch = 0; ch < 4; ch++)
    assert_int_equal(r.drv->oven_read(r.dev, ch, &rd), SHP_OK);
  assert_int_equal(r.drv->oven_set(r.dev, 3, 90.0), SHP_OK);
  shp_clock_sleep_s(r.clock, 10);
  double before = shp_clock_now_s(r.clock);
  assert_int_equal(r.drv->oven_read(r.dev, 0, &rd), SHP_ERR_TIMEOUT);
  /* A timeout costs the connection's timeout (2 s by default). */
  assert_near(shp_clock_now_s(r.clock) - before, 2.0, 1e-12);
  assert_int_equal(r.drv->oven_set(r.dev, 1, 50), SHP_ERR_DISCONNECTED);
  assert_int_equal(r.drv->oven_hold(r.dev, 1), SHP_ERR_DISCONNECTED);
  assert_int_equal(r.drv->oven_read(r.dev, 2, &rd), SHP_ERR_PROTOCOL);
  double stuck[3];
  for (int k = 0; k < 3; k++) {
    assert_int_equal(r.drv->oven_read(r.dev, 3, &rd), SHP_OK);
    stuck[k] = rd.actual_c;
    shp_clock_sleep_s(r.clock, 30);
  }
  assert_near(stuck[0], stuck[2], 0);
  double buf[2][512];
  shp_trace tr = {.capacity = 512, .delay_ps = buf[0], .signal = buf[1]};
  assert_int_equal(r.drv->acquire(r.dev, 1, &tr), SHP_ERR_PROTOCOL);
  rig_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sim_oven_follows_first_order_lag),
      cmocka_unit_test(test_sim_sensor_noise_is_seeded),
      cmocka_unit_test(test_sim_ac_without_errors_equals_simulation),
      cmocka_unit_test(test_sim_ac_with_hidden_errors_differs),
      cmocka_unit_test(test_sim_faults_return_their_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
