/* The closed loop and the calibration as machines the caller steps: the
 * order of their events, the lab-clock time one step may take, a cancel
 * between steps, and the same setpoints whether stepped or run whole. */
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "labfile.h"
#include "runlab.h"
#include "spawn_run.h"

#include "shp/calibrate.h"
#include "shp/error.h"
#include "shp/planning.h"
#include "shp/run.h"
#include "shp/session.h"

#include <jansson.h>
#include <sys/stat.h>

#define HIDDEN                                                                 \
  "  seed: 3\n  phase_offset_sigma_rad: 1.5\n  azimuth_sigma_deg: 0.2\n"       \
  "  length_sigma_um: 0.5\n"

/* The supervisor's default poll: the longest a move's step may take. */
#define POLL_S 1.0

static char letter(shp_run_event_kind k) {
  switch (k) {
  case SHP_RUN_EV_MEASURED:
    return 'M';
  case SHP_RUN_EV_FITTED:
    return 'F';
  case SHP_RUN_EV_DECIDED:
    return 'D';
  case SHP_RUN_EV_MOVING:
    return 'V';
  case SHP_RUN_EV_SETTLED:
    return 'S';
  case SHP_RUN_EV_CONVERGED:
    return 'C';
  case SHP_RUN_EV_UNCONVERGED:
    return 'U';
  case SHP_RUN_EV_STOPPED:
    return 'X';
  default:
    return '?';
  }
}

static shp_run_spec spec_of(run_lab *r, const char *journal) {
  return (shp_run_spec){.lab = r->lab,
                        .target = r->target,
                        .mode = SHP_RUN_MODEL,
                        .tolerance = 0.03,
                        .seed = 1,
                        .journal_path = journal};
}

static void assert_matches(const char *text, const char *pattern) {
  regex_t re;
  assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
  int m = regexec(&re, text, 0, NULL, 0);
  regfree(&re);
  if (m != 0)
    fail_msg("events %s do not match %s", text, pattern);
}

/* A journal's last record, parsed. */
static json_t *last_record(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[1 << 16], last[1 << 16] = "";
  while (fgets(line, sizeof line, f) != NULL)
    snprintf(last, sizeof last, "%s", line);
  fclose(f);
  json_error_t err;
  json_t *j = json_loads(last, 0, &err);
  if (j == NULL)
    fail_msg("%s: last line is not JSON: %s", path, err.text);
  return j;
}

static char *temp_journal(char *dir, size_t size) {
  snprintf(dir, size, "/tmp/shp-machine-XXXXXX");
  assert_non_null(mkdtemp(dir));
  size_t n = strlen(dir);
  snprintf(dir + n, size - n, "/run.jsonl");
  return dir;
}

static void remove_journal(char *path) {
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
}

/* The target at time t, linear between its samples (0 outside). */
static double target_at(const shp_run_result *res, double t) {
  const double *x = res->target_time_ps;
  size_t n = res->target_count;
  if (!(t >= x[0] && t <= x[n - 1]))
    return 0;
  double dt = x[1] - x[0];
  size_t j = (size_t)((t - x[0]) / dt);
  if (j + 1 >= n)
    return res->target[n - 1];
  double f = (t - x[j]) / dt;
  return (1 - f) * res->target[j] + f * res->target[j + 1];
}

/* What the result shows the operator agrees with what the verdict said:
 * one prediction per consistent solution (up to the cap), finite, bands
 * not negative, the lowest and highest error + sigma being the verdict's
 * best and worst, and each curve drawn where the error measures it: its
 * relative RMS against the drawn target (peak 1) is its error. The
 * history has one entry per fit, ending with the result's numbers. */
static void check_what_the_plot_shows(const shp_run_result *res, size_t fits) {
  size_t want = res->solution_count < SHP_RUN_MAX_PREDICTIONS
                    ? res->solution_count
                    : SHP_RUN_MAX_PREDICTIONS;
  assert_true(want >= 1);
  assert_int_equal(res->prediction_count, want);
  assert_true(res->target_count >= 64);
  double tpeak = 0;
  for (size_t j = 0; j < res->target_count; j++)
    tpeak = fmax(tpeak, res->target[j]);
  assert_true(tpeak == 1.0);
  size_t lo = 0, hi = 0;
  for (size_t k = 0; k < res->prediction_count; k++) {
    const shp_run_prediction *p = &res->predictions[k];
    assert_int_equal(p->point_count, res->target_count);
    double num = 0, den = 0;
    for (size_t j = 0; j < p->point_count; j++) {
      assert_true(isfinite(p->time_ps[j]) && isfinite(p->intensity[j]));
      assert_true(isfinite(p->sigma[j]) && p->sigma[j] >= 0);
      double t = target_at(res, p->time_ps[j]);
      num += (p->intensity[j] - t) * (p->intensity[j] - t);
      den += t * t;
    }
    double drawn = sqrt(num / den);
    if (!(fabs(drawn - p->error) <= 0.05 * p->error + 0.001))
      fail_msg("solution %zu drawn %g from the target, its error %g", k, drawn,
               p->error);
    assert_true(isfinite(p->error_sigma) && p->error_sigma >= 0);
    const shp_run_prediction *l = &res->predictions[lo];
    const shp_run_prediction *h = &res->predictions[hi];
    if (p->error + p->error_sigma < l->error + l->error_sigma)
      lo = k;
    if (p->error + p->error_sigma > h->error + h->error_sigma)
      hi = k;
  }
  if (res->solution_count <= SHP_RUN_MAX_PREDICTIONS) {
    assert_true(res->predictions[lo].error == res->predicted_best);
    assert_true(res->predictions[lo].error_sigma == res->predicted_best_sigma);
    assert_true(res->predictions[hi].error == res->predicted_worst);
    assert_true(res->predictions[hi].error_sigma == res->predicted_worst_sigma);
  }
  assert_int_equal(res->history_count, fits);
  const shp_run_history *last = &res->history[fits - 1];
  assert_int_equal(last->iteration, res->iterations);
  assert_true(last->trace_residual == res->trace_residual);
  assert_true(last->trace_noise == res->trace_noise);
  assert_true(last->trace_error == res->final_error);
  assert_true(last->best == res->predicted_best);
  assert_true(last->worst_sigma == res->predicted_worst_sigma);
  assert_int_equal(last->solution_count, res->solution_count);
  for (size_t k = 1; k < fits; k++)
    assert_true(res->history[k].iteration >= res->history[k - 1].iteration);
}

/* Stepped event by event on hidden offsets: measure, fit, decide, a move
 * in polls, settle, measure again, ... converged; no step advances the lab
 * clock by more than one poll except an acquisition; the journal's end is
 * written. */
static void test_run_steps_event_by_event(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, HIDDEN);
  char journal[64];
  temp_journal(journal, sizeof journal);
  shp_run_spec spec = spec_of(&r, journal);
  shp_run_machine *m = shp_run_new_sup(r.sup, &spec);
  assert_non_null(m);
  char seq[4096];
  size_t n = 0, moving = 0;
  shp_run_event ev;
  do {
    assert_true(n + 1 < sizeof seq);
    double before = shp_clock_now_s(r.clock);
    shp_run_step(m, &ev);
    double took = shp_clock_now_s(r.clock) - before;
    seq[n++] = letter(ev.kind);
    if (ev.kind == SHP_RUN_EV_MOVING) {
      moving++;
      assert_non_null(ev.setpoints_c);
      assert_int_equal(ev.crystal_count, 4);
      assert_true(ev.polls >= 1);
    }
    if (ev.kind != SHP_RUN_EV_MEASURED && took > POLL_S + 1e-9)
      fail_msg("a %c step took %g s of lab time", seq[n - 1], took);
  } while (!shp_run_event_terminal(ev.kind));
  seq[n] = '\0';
  assert_matches(seq, "^M(FDV+SM)+F?C$");
  assert_true(moving >= 10); /* minutes of ramps, stepped a poll at a time */
  assert_int_equal(ev.code, SHP_OK);
  /* Terminal again on further steps. */
  assert_int_equal(shp_run_step(m, &ev), SHP_RUN_EV_CONVERGED);
  shp_run_result res;
  assert_int_equal(shp_run_take_result(m, &res), SHP_OK);
  assert_true(res.converged);
  assert_true(res.final_error <= 0.02);
  size_t fits = 0;
  for (size_t k = 0; k < n; k++)
    fits += seq[k] == 'F';
  check_what_the_plot_shows(&res, fits);
  for (size_t k = 0; k < res.prediction_count; k++)
    assert_true(res.predictions[k].error + res.predictions[k].error_sigma <=
                0.03);
  shp_run_free(m);
  json_t *end = last_record(journal);
  assert_string_equal(json_string_value(json_object_get(end, "type")), "end");
  assert_true(json_is_true(json_object_get(end, "converged")));
  json_decref(end);
  shp_run_result_clear(&res);
  remove_journal(journal);
  close_lab(&r);
}

/* The setpoints decided, in order. */
typedef struct {
  double v[64][4];
  size_t n;
} decisions;

static void on_decided(const shp_run_event *e, void *user) {
  decisions *d = user;
  if (e->kind == SHP_RUN_EV_DECIDED && e->setpoints_c != NULL && d->n < 64)
    memcpy(d->v[d->n++], e->setpoints_c, 4 * sizeof(double));
}

/* The same seed gives the same setpoints, to the bit, stepped or run. */
static void test_run_stepped_equals_run(void **state) {
  (void)state;
  decisions whole = {0}, stepped = {0};
  run_lab r;
  open_lab(&r, HIDDEN);
  shp_run_spec spec = spec_of(&r, NULL);
  shp_run_result a, b;
  assert_int_equal(shp_run(r.sup, &spec, on_decided, &whole, &a), SHP_OK);
  close_lab(&r);

  open_lab(&r, HIDDEN);
  spec = spec_of(&r, NULL);
  shp_run_machine *m = shp_run_new_sup(r.sup, &spec);
  shp_run_event ev;
  do {
    shp_run_step(m, &ev);
    on_decided(&ev, &stepped);
  } while (!shp_run_event_terminal(ev.kind));
  assert_int_equal(shp_run_take_result(m, &b), SHP_OK);
  shp_run_free(m);
  close_lab(&r);

  assert_true(whole.n >= 1);
  assert_int_equal(whole.n, stepped.n);
  assert_memory_equal(whole.v, stepped.v, whole.n * sizeof whole.v[0]);
  assert_int_equal(a.iterations, b.iterations);
  assert_memory_equal(a.setpoints_c, b.setpoints_c, 4 * sizeof(double));
  shp_run_result_clear(&a);
  shp_run_result_clear(&b);
}

/* A cancel between steps of a move: the next step ends STOPPED with
 * SHP_ERR_CANCELLED, every oven holds, the journal's end says so. */
static void test_run_cancel_between_steps(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, HIDDEN);
  char journal[64];
  temp_journal(journal, sizeof journal);
  shp_run_spec spec = spec_of(&r, journal);
  shp_run_machine *m = shp_run_new_sup(r.sup, &spec);
  shp_run_event ev;
  size_t polls = 0;
  while (shp_run_step(m, &ev) != SHP_RUN_EV_MOVING || ++polls < 3)
    assert_false(shp_run_event_terminal(ev.kind));
  assert_int_equal(r.holds, 0);
  size_t sent = r.sent;
  shp_run_cancel(m);
  assert_int_equal(shp_run_step(m, &ev), SHP_RUN_EV_STOPPED);
  assert_int_equal(ev.code, SHP_ERR_CANCELLED);
  assert_int_equal(r.holds, 4);
  assert_int_equal(r.sent, sent); /* nothing new after the cancel */
  assert_int_equal(shp_supervisor_fault(r.sup)->code, SHP_ERR_CANCELLED);
  shp_run_result res;
  assert_int_equal(shp_run_take_result(m, &res), SHP_ERR_CANCELLED);
  assert_false(res.converged);
  shp_run_free(m);
  json_t *end = last_record(journal);
  assert_string_equal(json_string_value(json_object_get(end, "type")), "end");
  assert_string_equal(json_string_value(json_object_get(end, "code")),
                      "SHP_ERR_CANCELLED");
  json_t *known = json_object_get(end, "holding_known");
  assert_int_equal(json_array_size(known), 4);
  for (size_t i = 0; i < 4; i++)
    assert_true(json_is_true(json_array_get(known, i)));
  json_decref(end);
  shp_run_result_clear(&res);
  remove_journal(journal);
  close_lab(&r);
}

/* A machine freed mid-run is cancelled and ends with its journal closed;
 * one never stepped touches nothing and writes no journal. */
static void test_run_free_mid_run(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, HIDDEN);
  char journal[64];
  temp_journal(journal, sizeof journal);
  shp_run_spec spec = spec_of(&r, journal);
  shp_run_free(shp_run_new_sup(r.sup, &spec));
  struct stat st;
  assert_int_equal(stat(journal, &st), -1);
  assert_int_equal(r.sent, 0);

  shp_run_machine *m = shp_run_new_sup(r.sup, &spec);
  shp_run_event ev;
  while (shp_run_step(m, &ev) != SHP_RUN_EV_MOVING)
    assert_false(shp_run_event_terminal(ev.kind));
  shp_run_free(m);
  assert_int_equal(r.holds, 4);
  json_t *end = last_record(journal);
  assert_string_equal(json_string_value(json_object_get(end, "code")),
                      "SHP_ERR_CANCELLED");
  json_decref(end);
  remove_journal(journal);
  close_lab(&r);
}

static shp_calibrate_spec cal_spec(run_lab *r) {
  return (shp_calibrate_spec){.lab = r->lab, .points = 5, .seed = 1};
}

/* A calibration stepped: settles and traces for the first trace and every
 * scan point, polls of moves between, one fit, calibrated; the same
 * calibration as shp_calibrate gives on the same lab. */
static void test_calibration_steps_and_equals_the_whole(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, HIDDEN);
  shp_calibrate_spec spec = cal_spec(&r);
  shp_calibration_run *m = shp_calibration_run_new_sup(r.sup, &spec);
  assert_non_null(m);
  char seq[8192];
  size_t n = 0, measured = 0;
  shp_run_event ev;
  do {
    assert_true(n + 1 < sizeof seq);
    double before = shp_clock_now_s(r.clock);
    shp_calibration_run_step(m, &ev);
    double took = shp_clock_now_s(r.clock) - before;
    seq[n++] = letter(ev.kind);
    measured += ev.kind == SHP_RUN_EV_MEASURED;
    if (ev.kind != SHP_RUN_EV_MEASURED && took > POLL_S + 1e-9)
      fail_msg("a %c step took %g s of lab time", seq[n - 1], took);
  } while (!shp_run_event_terminal(ev.kind));
  seq[n] = '\0';
  assert_matches(seq, "^M((V*S)+M)+(V*S)*FC$");
  assert_int_equal(measured, 1 + 4 * 5);
  shp_calibration *stepped = NULL, *whole = NULL;
  assert_int_equal(shp_calibration_run_take_result(m, &stepped), SHP_OK);
  assert_non_null(stepped);
  shp_calibration_run_free(m);
  close_lab(&r);

  open_lab(&r, HIDDEN);
  spec = cal_spec(&r);
  assert_int_equal(shp_calibrate(r.sup, &spec, NULL, NULL, &whole), SHP_OK);
  close_lab(&r);
  assert_int_equal(stepped->crystal_count, whole->crystal_count);
  for (size_t i = 0; i < whole->crystal_count; i++) {
    assert_true(stepped->crystals[i].phase_offset_rad ==
                whole->crystals[i].phase_offset_rad);
    assert_true(stepped->crystals[i].slope_rad_per_k ==
                whole->crystals[i].slope_rad_per_k);
  }
  shp_calibration_free(stepped);
  shp_calibration_free(whole);
}

/* A calibration cancelled between the polls of a scan move: STOPPED,
 * SHP_ERR_CANCELLED, no calibration, every oven holding. */
static void test_calibration_cancel_between_steps(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, HIDDEN);
  shp_calibrate_spec spec = cal_spec(&r);
  shp_calibration_run *m = shp_calibration_run_new_sup(r.sup, &spec);
  shp_run_event ev;
  while (shp_calibration_run_step(m, &ev) != SHP_RUN_EV_MOVING)
    assert_false(shp_run_event_terminal(ev.kind));
  shp_calibration_run_cancel(m);
  assert_int_equal(shp_calibration_run_step(m, &ev), SHP_RUN_EV_STOPPED);
  assert_int_equal(ev.code, SHP_ERR_CANCELLED);
  assert_true(r.holds >= 4); /* asked of every oven, again on the way out */
  assert_int_equal(shp_supervisor_fault(r.sup)->code, SHP_ERR_CANCELLED);
  shp_calibration *cal = NULL;
  assert_int_equal(shp_calibration_run_take_result(m, &cal), SHP_ERR_CANCELLED);
  assert_null(cal);
  shp_calibration_run_free(m);
  close_lab(&r);
}

/* A session on the built-in simulated lab: the stack found in the data,
 * calibrations named under the front end's data folder (made, parents and
 * all), the FFT planning pinned and journalled by a run started on it. */
static void test_session_owns_the_lab_and_the_paths(void **state) {
  (void)state;
  char base[64];
  snprintf(base, sizeof base, "/tmp/shp-session-XXXXXX");
  assert_non_null(mkdtemp(base));
  char folder[128];
  snprintf(folder, sizeof folder, "%s/new/shaper", base);
  shp_session_spec spec = {.sim_stack =
                               "examples/stacks/design-flat-top-5ps.yml",
                           .data_folder = folder,
                           .plan_effort = SHP_PLAN_ESTIMATE};
  shp_session *s = shp_session_open(&spec);
  if (s == NULL)
    fail_msg("%s", shp_error_detail());
  assert_string_equal(shp_session_sim_stack(s), SHP_SOURCE_DATADIR
                      "/examples/stacks/design-flat-top-5ps.yml");
  assert_int_equal(shp_session_lab(s)->oven_count, 4);
  assert_int_equal(shp_session_plan_effort(s), SHP_PLAN_ESTIMATE);
  assert_int_equal(shp_plan_effort_now(), SHP_PLAN_ESTIMATE);
  char path[512], prefix[256];
  assert_int_equal(shp_session_calibration_path(s, path, sizeof path), SHP_OK);
  snprintf(prefix, sizeof prefix, "%s/calibrations/design-flat-top-5ps-",
           folder);
  assert_memory_equal(path, prefix, strlen(prefix));
  assert_string_equal(path + strlen(path) - 5, "Z.yml");
  /* A name taken (a calibration saved within the same second) is not
   * given again. */
  FILE *taken = fopen(path, "w");
  assert_non_null(taken);
  fclose(taken);
  char second[512];
  assert_int_equal(shp_session_calibration_path(s, second, sizeof second),
                   SHP_OK);
  if (strcmp(second, path) == 0)
    fail_msg("an existing calibration's name was given again: %s", second);
  size_t stem = strlen(path) - strlen(".yml");
  if (strncmp(second, path, stem) == 0)
    assert_string_equal(second + stem, "-2.yml");
  unlink(path);
  struct stat st;
  snprintf(prefix, sizeof prefix, "%s/calibrations", folder);
  assert_int_equal(stat(prefix, &st), 0);
  assert_true(S_ISDIR(st.st_mode));

  /* A run on the session: its journal's start records the planning. */
  shp_target *target =
      shp_target_load(SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml");
  assert_non_null(target);
  char journal[160];
  snprintf(journal, sizeof journal, "%s/run.jsonl", base);
  shp_run_spec rs = {.target = target,
                     .seed = 1,
                     .max_iterations = 1,
                     .journal_path = journal};
  shp_run_machine *m = shp_run_new(s, &rs);
  shp_run_event ev;
  assert_int_equal(shp_run_step(m, &ev), SHP_RUN_EV_MEASURED);
  shp_run_free(m);
  FILE *f = fopen(journal, "r");
  assert_non_null(f);
  char line[1 << 14];
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  json_t *start = json_loads(line, 0, NULL);
  assert_non_null(start);
  assert_string_equal(json_string_value(json_object_get(start, "type")),
                      "start");
  assert_string_equal(json_string_value(json_object_get(start, "fft_planning")),
                      "estimate");
  json_decref(start);
  shp_target_free(target);
  shp_session_close(s);
  unlink(journal);
  rmdir(prefix);
  rmdir(folder);
  snprintf(prefix, sizeof prefix, "%s/new", base);
  rmdir(prefix);
  rmdir(base);
}

/* How many times needle occurs in the file at path. */
static size_t count_in_file(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *text = NULL;
  size_t len = 0;
  assert_true(getdelim(&text, &len, '\0', f) > 0);
  fclose(f);
  size_t n = 0;
  for (const char *at = strstr(text, needle); at != NULL;
       at = strstr(at + 1, needle))
    n++;
  free(text);
  return n;
}

/* The fill of a band in palette colour 0 (solution 1) and 2 (the predicted
 * error range), as cairo writes it into an SVG. */
#define BAND_BLUE "fill:rgb(0%,44.705882%,69.803922%);fill-opacity:0.25;"
#define BAND_GREEN "fill:rgb(0%,61.960784%,45.098039%);fill-opacity:0.25;"

/* The README's demo with --plot: the plot says, and its SVG holds, each
 * consistent solution's shaded band, the simulated truth and the
 * convergence per fit; journal show --plot draws the same convergence from
 * the journal. */
static void test_cli_plots_show_what_the_loop_knows(void **state) {
  (void)state;
  char dir[] = "/tmp/shp-plots-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char svg[128], journal[128], jsvg[128];
  snprintf(svg, sizeof svg, "%s/run.svg", dir);
  snprintf(journal, sizeof journal, "%s/run.jsonl", dir);
  snprintf(jsvg, sizeof jsvg, "%s/journal.svg", dir);
  const char *a1[] = {
      "run",       SHP_SOURCE_DATADIR "/examples/labs/sim-flat-top-5ps.yml",
      "--target",  SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml",
      "--plot",    svg,
      "--journal", journal,
      "--json",    NULL};
  spawn_result a = spawn_run(SHAPECTL_PATH, NULL, NULL, a1);
  assert_true(a.status == 0 || a.status == 3);
  json_error_t err;
  json_t *j = json_loads(a.out, 0, &err);
  assert_non_null(j);
  size_t solutions =
      (size_t)json_integer_value(json_object_get(j, "solutions"));
  size_t moves = (size_t)json_integer_value(json_object_get(j, "iterations"));
  json_decref(j);
  assert_true(solutions >= 1);
  size_t drawn =
      solutions < SHP_RUN_MAX_PREDICTIONS ? solutions : SHP_RUN_MAX_PREDICTIONS;
  /* One fit, and one verdict, per trace. */
  size_t fits = count_in_file(journal, "\"type\":\"fit\"");
  assert_true(fits >= 1);
  char said[512];
  snprintf(said, sizeof said,
           "shapectl: wrote %s: the predicted intensity with its 1-sigma "
           "band of %zu consistent solution%s, the simulated lab's truth, "
           "the target, the measured and the target autocorrelations, "
           "convergence over %zu fit%s and %zu oven move%s\n",
           svg, drawn, drawn == 1 ? "" : "s", fits, fits == 1 ? "" : "s", moves,
           moves == 1 ? "" : "s");
  assert_contains(a.err, said);
  /* Each solution's band (no legend swatch: its line carries the label;
   * solutions 1 and 7 are blue, 2 and 8 green), and the convergence
   * panel's green band with its legend swatch. */
  assert_int_equal(count_in_file(svg, BAND_BLUE), 1 + (drawn >= 7));
  assert_int_equal(count_in_file(svg, BAND_GREEN),
                   2 + (drawn >= 2) + (drawn >= 8));
  assert_int_equal(count_in_file(svg, "fill-opacity:0.25;"), drawn + 2);
  spawn_result_free(&a);

  const char *a2[] = {"journal", "show", journal, "--plot", jsvg, NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, a2);
  assert_int_equal(b.status, 0);
  snprintf(said, sizeof said,
           "shapectl: wrote %s: convergence over %zu fit%s, measured error "
           "over %zu trace%s\n",
           jsvg, fits, fits == 1 ? "" : "s", fits, fits == 1 ? "" : "s");
  assert_contains(b.err, said);
  assert_int_equal(count_in_file(jsvg, BAND_GREEN), 2);
  assert_int_equal(count_in_file(jsvg, "fill-opacity:0.25;"), 2);
  spawn_result_free(&b);
  unlink(svg);
  unlink(jsvg);
  unlink(journal);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_steps_event_by_event),
      cmocka_unit_test(test_cli_plots_show_what_the_loop_knows),
      cmocka_unit_test(test_run_stepped_equals_run),
      cmocka_unit_test(test_run_cancel_between_steps),
      cmocka_unit_test(test_run_free_mid_run),
      cmocka_unit_test(test_calibration_steps_and_equals_the_whole),
      cmocka_unit_test(test_calibration_cancel_between_steps),
      cmocka_unit_test(test_session_owns_the_lab_and_the_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
