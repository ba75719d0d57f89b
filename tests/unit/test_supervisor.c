/* The safety supervisor on the simulated lab: limits, ramp rate, settle,
 * and every injected fault ending with all ovens held and the fault
 * recorded, on a manual clock so that nothing waits in real time. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "labfile.h"
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/supervisor.h"

#define MAX_EVENTS 4096

/* What the log callback saw. */
typedef struct {
  shp_sup_event ev[MAX_EVENTS];
  size_t n;
  size_t faults, holds;
} journal;

static void record(const shp_sup_event *e, void *user) {
  journal *j = user;
  if (j->n < MAX_EVENTS)
    j->ev[j->n++] = *e;
  j->faults += e->kind == SHP_SUP_FAULT;
  j->holds += e->kind == SHP_SUP_HOLD && e->code == SHP_OK;
}

typedef struct {
  char *path;
  shp_lab *lab;
  shp_clock *clock;
  shp_supervisor *sup;
  journal *j;
} rig;

static void rig_open(rig *r, const char *sim_lines) {
  r->path = lab_write(sim_lines);
  r->lab = shp_lab_load(r->path);
  if (r->lab == NULL)
    fail_msg("%s", shp_error_detail());
  r->clock = shp_clock_new_sim(0);
  r->j = calloc(1, sizeof *r->j);
  r->sup = shp_supervisor_open(r->lab, r->clock, record, r->j);
  assert_non_null(r->sup);
}

static void rig_close(rig *r) {
  shp_supervisor_close(r->sup);
  shp_clock_free(r->clock);
  shp_lab_free(r->lab);
  unlink(r->path);
  free(r->path);
  free(r->j);
}

static size_t count_kind(const journal *j, shp_sup_event_kind k) {
  size_t n = 0;
  for (size_t i = 0; i < j->n; i++)
    n += j->ev[i].kind == k;
  return n;
}

static void test_supervisor_refuses_setpoint_outside_limits(void **state) {
  rig r;
  rig_open(&r, NULL);
  assert_int_equal(shp_supervisor_request(r.sup, 1, 130.0), SHP_ERR_SAFETY);
  assert_string_equal(shp_error_detail(),
                      "crystal 1: setpoint 130 C refused: outside the limits "
                      "20 to 120 C");
  assert_int_equal(shp_supervisor_request(r.sup, 1, 19.9), SHP_ERR_SAFETY);
  assert_int_equal(count_kind(r.j, SHP_SUP_SETPOINT), 0);
  /* A refusal is not a fault: the lab keeps working. */
  assert_null(shp_supervisor_fault(r.sup));
  assert_int_equal(shp_supervisor_request(r.sup, 1, 70.0), SHP_OK);
  rig_close(&r);
}

static void test_supervisor_ramps_within_rate_and_settles(void **state) {
  rig r;
  rig_open(&r, NULL);
  shp_supervisor_set_poll_s(r.sup, 0.7);
  double t0 = shp_clock_now_s(r.clock), prev_t = t0, prev_v = 66.7432;
  assert_int_equal(shp_supervisor_request(r.sup, 0, 90.0), SHP_OK);
  assert_int_equal(shp_supervisor_wait(r.sup, true, 1e4), SHP_OK);
  double worst = 0, last_v = prev_v;
  size_t steps = 0;
  for (size_t i = 0; i < r.j->n; i++) {
    const shp_sup_event *e = &r.j->ev[i];
    if (e->kind != SHP_SUP_SETPOINT)
      continue;
    assert_int_equal(e->crystal, 0);
    if (e->time_s > prev_t)
      worst = fmax(worst, fabs(e->value_c - prev_v) / (e->time_s - prev_t));
    else
      assert_near(e->value_c, prev_v, 0);
    prev_t = e->time_s;
    prev_v = last_v = e->value_c;
    steps++;
  }
  assert_true(worst * 60.0 <= 6.0 * (1 + 1e-9));
  assert_true(worst * 60.0 >= 6.0 * 0.99); /* it did ramp at the rate */
  assert_true(steps > 100);
  assert_near(last_v, 90.0, 0);
  /* The ramp takes (90 - 66.74) / 6 minutes, and settle 20 s more. */
  assert_true(prev_t - t0 >= (90.0 - 66.7432) / 6.0 * 60.0 - 1e-6);
  assert_int_equal(count_kind(r.j, SHP_SUP_SETTLED), 1);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(r.sup, 0, &st), SHP_OK);
  assert_true(st.settled);
  assert_true(fabs(st.reading.actual_c - 90.0) <= 0.05);
  assert_true(shp_clock_now_s(r.clock) - prev_t >= 20.0);
  rig_close(&r);
}

/* Ramp crystal 0 from 66.7 to 100 C with a fault injected on fault_crystal
 * at 60 s, and check the supervisor stopped, held and recorded it. */
static void check_fault(const char *kind, int fault_crystal, int want) {
  char lines[256];
  snprintf(lines, sizeof lines,
           "  faults:\n    - {kind: %s, at_s: 60.0, crystal: %d}\n", kind,
           fault_crystal);
  rig r;
  rig_open(&r, lines);
  assert_int_equal(shp_supervisor_request(r.sup, 0, 100.0), SHP_OK);
  int rc = shp_supervisor_wait(r.sup, true, 1e4);
  assert_int_equal(rc, want);
  const shp_sup_fault *f = shp_supervisor_fault(r.sup);
  assert_non_null(f);
  assert_int_equal(f->code, want);
  assert_int_equal(f->crystal, fault_crystal);
  /* Bounded: it stopped soon after the fault, far from the budget. */
  assert_true(f->time_s >= 60.0 && f->time_s < 200.0);
  assert_int_equal(r.j->faults, 1);
  /* Every oven was asked to hold; no setpoint after the fault. */
  size_t at = 0, holds = 0;
  while (r.j->ev[at].kind != SHP_SUP_FAULT)
    at++;
  double last_sp = 0;
  for (size_t i = 0; i < at; i++)
    if (r.j->ev[i].kind == SHP_SUP_SETPOINT)
      last_sp = r.j->ev[i].value_c;
  for (size_t i = at; i < r.j->n; i++) {
    assert_int_not_equal(r.j->ev[i].kind, SHP_SUP_SETPOINT);
    holds += r.j->ev[i].kind == SHP_SUP_HOLD;
  }
  assert_int_equal(holds, 4);
  /* Later, the ovens still hold their setpoints, outputs on. */
  shp_clock_sleep_s(r.clock, 300);
  for (size_t i = 0; i < 4; i++) {
    shp_oven_status st;
    if (shp_supervisor_status(r.sup, i, &st) != SHP_OK)
      continue; /* the faulted channel may not answer */
    assert_near(st.reading.setpoint_c, i == 0 ? last_sp : 66.7432, 0);
    assert_true(st.reading.output_on);
  }
  assert_true(last_sp > 66.7432 && last_sp < 100.0);
  /* Latched: nothing more is sent. */
  assert_int_equal(shp_supervisor_request(r.sup, 2, 70.0), SHP_ERR_SAFETY);
  assert_int_equal(count_kind(r.j, SHP_SUP_FAULT), 1);
  rig_close(&r);
}

static void test_supervisor_holds_on_timeout(void **state) {
  check_fault("timeout", 1, SHP_ERR_TIMEOUT);
}
static void test_supervisor_holds_on_disconnect(void **state) {
  check_fault("disconnect", 2, SHP_ERR_DISCONNECTED);
}
static void test_supervisor_holds_on_garbage(void **state) {
  check_fault("garbage", 3, SHP_ERR_PROTOCOL);
}
static void test_supervisor_holds_on_stuck_sensor(void **state) {
  check_fault("stuck_sensor", 0, SHP_ERR_SAFETY);
}

/* A stuck sensor repeats its last reading: it is the supervisor's stuck
 * detection (not an impossible reading) that stops the ramp, once the
 * setpoint has moved SHP_SUPERVISOR_STUCK_K from where the reading froze. */
static void
test_supervisor_detects_stuck_sensor_by_frozen_reading(void **state) {
  rig r;
  rig_open(&r, "  faults: [{kind: stuck_sensor, at_s: 60.0, crystal: 0}]\n");
  assert_int_equal(shp_supervisor_request(r.sup, 0, 100.0), SHP_OK);
  assert_int_equal(shp_supervisor_wait(r.sup, true, 1e4), SHP_ERR_SAFETY);
  /* The last reading the sensor gave before it stuck. */
  double frozen = NAN;
  for (size_t i = 0; i < r.j->n; i++)
    if (r.j->ev[i].kind == SHP_SUP_PROGRESS && r.j->ev[i].time_s < 60.0)
      frozen = r.j->ev[i].value_c;
  assert_true(frozen > 66.7432 && frozen < 100.0);
  const shp_sup_fault *f = shp_supervisor_fault(r.sup);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_SAFETY);
  assert_int_equal(f->crystal, 0);
  double at, from, to;
  if (sscanf(f->message,
             "crystal 0: the sensor is stuck at %lf C while the setpoint "
             "moved from %lf to %lf C",
             &at, &from, &to) != 3)
    fail_msg("not a stuck-sensor fault: %s", f->message);
  assert_near(at, frozen, 1e-5 * frozen);
  assert_true(to - from >= SHP_SUPERVISOR_STUCK_K);
  /* 2 K of setpoint at 6 K/min after the sensor stuck: 20 s and a poll. */
  assert_true(f->time_s >= 60.0 && f->time_s <= 60.0 + 20.0 + 2.0);
  assert_int_equal(r.j->faults, 1);
  assert_int_equal(r.j->holds, 4);
  /* Latched, the ovens holding; the sensor still shows its frozen value. */
  shp_clock_sleep_s(r.clock, 300.0);
  shp_oven_status st;
  /* The status read still judges the reading stuck, and says so. */
  assert_int_equal(shp_supervisor_status(r.sup, 0, &st), SHP_ERR_SAFETY);
  assert_near(st.reading.actual_c, frozen, 0);
  assert_true(st.reading.output_on);
  assert_int_equal(shp_supervisor_request(r.sup, 1, 70.0), SHP_ERR_SAFETY);
  rig_close(&r);
}

static void test_supervisor_settle_wait_times_out(void **state) {
  rig r;
  rig_open(&r, "  time_constant_s: 1.0e6\n");
  assert_int_equal(shp_supervisor_request(r.sup, 1, 67.5), SHP_OK);
  double t0 = shp_clock_now_s(r.clock);
  assert_int_equal(shp_supervisor_wait(r.sup, true, 500.0), SHP_ERR_TIMEOUT);
  assert_true(shp_clock_now_s(r.clock) - t0 <= 501.0);
  assert_int_equal(r.j->holds, 4);
  rig_close(&r);
}

static void test_supervisor_trips_on_impossible_reading(void **state) {
  rig r;
  rig_open(&r, "  start_c: [66.0, 400.0, 66.0, 66.0]\n");
  assert_int_equal(shp_supervisor_step(r.sup), SHP_ERR_SAFETY);
  assert_string_equal(shp_supervisor_fault(r.sup)->message,
                      "crystal 1: reading 400 C is outside the physical range "
                      "-50 to 300 C");
  assert_int_equal(r.j->holds, 4);
  rig_close(&r);
}

static void test_supervisor_holds_on_autocorrelator_fault(void **state) {
  rig r;
  rig_open(&r, "  faults: [{kind: garbage, at_s: 0, autocorrelator: true}]\n");
  const shp_trace *tr;
  assert_int_equal(shp_supervisor_acquire(r.sup, 1, &tr), SHP_ERR_PROTOCOL);
  assert_int_equal(shp_supervisor_fault(r.sup)->crystal, -1);
  assert_int_equal(r.j->holds, 4);
  rig_close(&r);
}

static void test_supervisor_cancel_stops_and_holds(void **state) {
  rig r;
  rig_open(&r, NULL);
  assert_int_equal(shp_supervisor_request(r.sup, 0, 100.0), SHP_OK);
  shp_supervisor_cancel(r.sup);
  assert_int_equal(shp_supervisor_wait(r.sup, true, 1e4), SHP_ERR_CANCELLED);
  assert_int_equal(r.j->holds, 4);
  rig_close(&r);
}

/* An operator's stop while nothing waits: the ramp under way stops where
 * it is, every oven holds, and the supervisor latches. */
static void test_supervisor_hold_stops_ramp_and_latches(void **state) {
  rig r;
  rig_open(&r, NULL);
  assert_int_equal(shp_supervisor_request(r.sup, 0, 100.0), SHP_OK);
  for (int k = 0; k < 5; k++) {
    shp_clock_sleep_s(r.clock, 10.0);
    assert_int_equal(shp_supervisor_step(r.sup), SHP_OK);
  }
  size_t sent = count_kind(r.j, SHP_SUP_SETPOINT);
  double last_sp = 0;
  for (size_t i = 0; i < r.j->n; i++)
    if (r.j->ev[i].kind == SHP_SUP_SETPOINT)
      last_sp = r.j->ev[i].value_c;
  assert_true(last_sp > 66.7432 && last_sp < 100.0);

  assert_int_equal(shp_supervisor_hold(r.sup, "emergency stop"),
                   SHP_ERR_CANCELLED);
  const shp_sup_fault *f = shp_supervisor_fault(r.sup);
  assert_non_null(f);
  assert_int_equal(f->code, SHP_ERR_CANCELLED);
  assert_int_equal(f->crystal, -1);
  assert_string_equal(f->message, "emergency stop");
  assert_int_equal(r.j->faults, 1);
  assert_int_equal(r.j->holds, 4);
  /* Later polls send nothing: the ramp stopped at its last setpoint. */
  shp_clock_sleep_s(r.clock, 300.0);
  assert_int_equal(shp_supervisor_step(r.sup), SHP_ERR_CANCELLED);
  assert_int_equal(count_kind(r.j, SHP_SUP_SETPOINT), sent);
  shp_oven_status st;
  assert_int_equal(shp_supervisor_status(r.sup, 0, &st), SHP_OK);
  assert_near(st.reading.setpoint_c, last_sp, 0);
  assert_true(st.reading.output_on);
  assert_int_equal(shp_supervisor_request(r.sup, 1, 70.0), SHP_ERR_SAFETY);
  /* A second stop holds again and keeps the first fault. */
  assert_int_equal(shp_supervisor_hold(r.sup, "again"), SHP_ERR_CANCELLED);
  assert_string_equal(shp_supervisor_fault(r.sup)->message, "emergency stop");
  assert_int_equal(r.j->faults, 1);
  assert_int_equal(r.j->holds, 8);
  rig_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_supervisor_refuses_setpoint_outside_limits),
      cmocka_unit_test(test_supervisor_ramps_within_rate_and_settles),
      cmocka_unit_test(test_supervisor_holds_on_timeout),
      cmocka_unit_test(test_supervisor_holds_on_disconnect),
      cmocka_unit_test(test_supervisor_holds_on_garbage),
      cmocka_unit_test(test_supervisor_holds_on_stuck_sensor),
      cmocka_unit_test(test_supervisor_detects_stuck_sensor_by_frozen_reading),
      cmocka_unit_test(test_supervisor_settle_wait_times_out),
      cmocka_unit_test(test_supervisor_trips_on_impossible_reading),
      cmocka_unit_test(test_supervisor_holds_on_autocorrelator_fault),
      cmocka_unit_test(test_supervisor_cancel_stops_and_holds),
      cmocka_unit_test(test_supervisor_hold_stops_ramp_and_latches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
