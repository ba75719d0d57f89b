/* The closed loop on the simulated lab: it converges, it fits the hidden
 * phase offsets without ever reading them, faults stop it with the ovens
 * holding, and a journal cut at any record resumes to the same end. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "labfile.h"
#include "runlab.h"
#include "scpi_peer.h"
#include "spawn_run.h"

#include "shp/error.h"
#include "shp/journal.h"
#include "shp/planning.h"
#include "shp/run.h"
#include "shp/units.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* The tolerance on the predicted intensity error: the design's own error
 * on the flat top is ~0.01, so 0.03 leaves the noise room to decide. */
#define RUN_TOLERANCE 0.03

static int run_on(run_lab *r, shp_run_mode mode, const char *journal,
                  const char *resume, shp_run_result *res) {
  shp_run_spec spec = {.lab = r->lab,
                       .target = r->target,
                       .mode = mode,
                       .tolerance = RUN_TOLERANCE,
                       .seed = 1,
                       .journal_path = journal,
                       .resume_path = resume};
  return shp_run(r->sup, &spec, NULL, NULL, res);
}

/* Large random hidden phase offsets (sigma 1.5 rad), 1 % noise: the loop
 * reaches a 2 % autocorrelation error in a few moves, never sending a
 * setpoint outside the limits. */
static void test_run_converges_on_hidden_offsets(void **state) {
  (void)state;
  const char *seeds[] = {"  seed: 3\n", "  seed: 11\n", "  seed: 29\n"};
  for (size_t k = 0; k < 3; k++) {
    char lines[256];
    snprintf(lines, sizeof lines,
             "%s  phase_offset_sigma_rad: 1.5\n  azimuth_sigma_deg: 0.2\n"
             "  length_sigma_um: 0.5\n",
             seeds[k]);
    run_lab r;
    open_lab(&r, lines);
    shp_run_result res;
    int rc = run_on(&r, SHP_RUN_MODEL, NULL, NULL, &res);
    if (rc != SHP_OK || !res.converged)
      fail_msg("seed %zu: %s", k, res.message);
    assert_true(res.final_error <= 0.02);
    assert_in_range(res.iterations, 0, 6);
    assert_true(r.max_sent_excess <= 0);
    shp_run_result_clear(&res);
    close_lab(&r);
  }
}

/* With no azimuth or length errors the fitted offsets are the hidden ones
 * within four of the fit's own standard deviations (which must be below
 * 0.1 rad at this noise), once
 * two traces at different temperatures have resolved the conjugate
 * ambiguity; a different hidden draw gives different fits, so the
 * controller learnt them from the traces. */
static void fit_hidden(const char *seed_line, double *fitted, double *hidden) {
  char lines[256];
  snprintf(lines, sizeof lines,
           "%s  phase_offset_sigma_rad: 1.0\n  azimuth_sigma_deg: 0\n"
           "  length_sigma_um: 0\n",
           seed_line);
  run_lab r;
  open_lab(&r, lines);
  shp_run_result res;
  int rc = run_on(&r, SHP_RUN_MODEL, NULL, NULL, &res);
  if (rc != SHP_OK || !res.converged)
    fail_msg("%s", res.message);
  assert_true(res.iterations >= 1);
  assert_non_null(res.phase_offsets_rad);
  shp_stack *truth = shp_lab_sim_truth(r.lab);
  assert_non_null(truth);
  for (size_t i = 0; i < 4; i++) {
    fitted[i] = res.phase_offsets_rad[i];
    hidden[i] = truth->crystals[i].phase_offset_rad;
    double d = remainder(fitted[i] - hidden[i], SHP_TWO_PI);
    double sigma = res.phase_sigma_rad[i];
    if (!(sigma < 0.1 && fabs(d) < 4 * sigma + 0.02))
      fail_msg("crystal %zu: fitted %.4f +- %.4f, hidden %.4f", i, fitted[i],
               sigma, hidden[i]);
  }
  shp_stack_free(truth);
  shp_run_result_clear(&res);
  close_lab(&r);
}

static void test_run_fits_the_hidden_offsets(void **state) {
  (void)state;
  double f1[4], h1[4], f2[4], h2[4];
  fit_hidden("  seed: 5\n", f1, h1);
  fit_hidden("  seed: 6\n", f2, h2);
  double apart = 0;
  for (size_t i = 0; i < 4; i++)
    apart = fmax(apart, fabs(remainder(f1[i] - f2[i], SHP_TWO_PI)));
  assert_true(apart > 0.3);
}

/* A disconnect, a timeout or a stuck sensor mid-run: the run stops with
 * the error, the supervisor has latched, every oven was asked to hold, and
 * the journal ends cleanly with the fault. */
static void fault_run(const char *fault, int want) {
  char lines[512];
  snprintf(lines, sizeof lines,
           "  seed: 3\n  phase_offset_sigma_rad: 1.5\n  faults:\n    - %s\n",
           fault);
  run_lab r;
  open_lab(&r, lines);
  char journal[] = "/tmp/shp-run-XXXXXX";
  int fd = mkstemp(journal);
  assert_true(fd >= 0);
  close(fd);
  unlink(journal); /* a journal is created, never overwritten */
  shp_run_result res;
  int rc = run_on(&r, SHP_RUN_MODEL, journal, NULL, &res);
  assert_int_equal(rc, want);
  assert_false(res.converged);
  assert_non_null(shp_supervisor_fault(r.sup));
  assert_true(r.holds >= 4);
  assert_true(r.max_sent_excess <= 0);
  json_t *recs;
  size_t valid;
  bool torn;
  assert_int_equal(shp_journal_read(journal, &recs, &valid, &torn), SHP_OK);
  assert_false(torn);
  size_t n = json_array_size(recs);
  assert_true(n >= 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(recs, n - 2), "type")),
      "fault");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(recs, n - 1), "type")),
      "end");
  json_decref(recs);
  unlink(journal);
  shp_run_result_clear(&res);
  close_lab(&r);
}

static void test_run_fault_holds_every_oven(void **state) {
  (void)state;
  /* The first move settles within ~200 s of sim time. */
  fault_run("{kind: disconnect, at_s: 100.0, crystal: 2}",
            SHP_ERR_DISCONNECTED);
  fault_run("{kind: timeout, at_s: 100.0, autocorrelator: true}",
            SHP_ERR_TIMEOUT);
  fault_run("{kind: stuck_sensor, at_s: 1.0, crystal: 1}", SHP_ERR_SAFETY);
}

/* ---- resuming -------------------------------------------------------------
 */

static const char *const RESUME_LINES =
    "  seed: 3\n  phase_offset_sigma_rad: 1.5\n  azimuth_sigma_deg: 0.2\n"
    "  length_sigma_um: 0.5\n";

/* Cut a journal after its first keep records, and leave half of the next
 * one as a torn line, as a crash mid-write would. */
static void cut_journal(const char *from, const char *to, size_t keep) {
  FILE *in = fopen(from, "r"), *out = fopen(to, "w");
  assert_non_null(in);
  assert_non_null(out);
  char *line = NULL;
  size_t cap = 0, n = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, in)) > 0) {
    if (n < keep)
      fwrite(line, 1, (size_t)len, out);
    else if (n == keep)
      fwrite(line, 1, (size_t)len / 2, out);
    n++;
  }
  free(line);
  fclose(in);
  fclose(out);
}

static void test_run_resumes_from_a_cut_journal(void **state) {
  (void)state;
  char whole[] = "/tmp/shp-run-XXXXXX";
  int fd = mkstemp(whole);
  close(fd);
  unlink(whole);
  char *lab = design_lab(RESUME_LINES);
  run_lab r;
  open_lab_at(&r, NULL, lab);
  shp_run_result full;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, whole, NULL, &full), SHP_OK);
  assert_true(full.converged);
  close_lab(&r);
  json_t *recs;
  size_t valid;
  assert_int_equal(shp_journal_read(whole, &recs, &valid, NULL), SHP_OK);
  size_t n = json_array_size(recs);
  /* Every cut point between decisions, after the start record up to just
   * before the end, and a few among the oven commands of ramps (a crash
   * mid-ramp), which are too many to try every one. The reach, verdict and
   * decision records are notes the replay recomputes, like the fit: after
   * the first of each (every later one replays the same way). */
  bool *cut_here = calloc(n, sizeof *cut_here);
  assert_non_null(cut_here);
  size_t commands = 0;
  bool seen_reach = false, seen_verdict = false, seen_decision = false;
  for (size_t k = 1; k + 1 < n; k++) {
    const char *t =
        json_string_value(json_object_get(json_array_get(recs, k), "type"));
    bool *seen = strcmp(t, "reach") == 0      ? &seen_reach
                 : strcmp(t, "verdict") == 0  ? &seen_verdict
                 : strcmp(t, "decision") == 0 ? &seen_decision
                                              : NULL;
    if (seen != NULL) {
      cut_here[k] = !*seen;
      *seen = true;
      continue;
    }
    cut_here[k] = strcmp(t, "oven_command") != 0 || commands++ % 97 == 13;
  }
#ifdef SHP_SANITIZED
  /* Under the sanitizers, several times slower, one cut per record type:
   * the replay code a cut exercises is the same at every record of a type,
   * and the normal build tries them all. */
  const char *tried[32];
  size_t ntried = 0;
  for (size_t k = 1; k + 1 < n; k++) {
    if (!cut_here[k])
      continue;
    const char *t =
        json_string_value(json_object_get(json_array_get(recs, k), "type"));
    bool again = false;
    for (size_t j = 0; j < ntried; j++)
      again = again || strcmp(tried[j], t) == 0;
    if (again || ntried == 32)
      cut_here[k] = false;
    else
      tried[ntried++] = t;
  }
#endif
  json_decref(recs);
  for (size_t keep = 1; keep + 1 < n; keep++) {
    if (!cut_here[keep])
      continue;
    char cut[] = "/tmp/shp-run-cut-XXXXXX";
    fd = mkstemp(cut);
    close(fd);
    cut_journal(whole, cut, keep);
    open_lab_at(&r, NULL, lab);
    shp_run_result res;
    int rc = run_on(&r, SHP_RUN_MODEL, NULL, cut, &res);
    if (rc != SHP_OK || !res.converged)
      fail_msg("cut after %zu records: %s", keep, res.message);
    /* The same moves and the same end, within what 1 % noise moves a fit
     * (the resumed lab's noise starts afresh). */
    assert_int_equal(res.iterations, full.iterations);
    for (size_t i = 0; i < 4; i++)
      assert_near(res.setpoints_c[i], full.setpoints_c[i], 0.1);
    bool torn;
    assert_int_equal(shp_journal_read(cut, &recs, &valid, &torn), SHP_OK);
    assert_false(torn); /* the torn record was cut off before appending */
    json_decref(recs);
    shp_run_result_clear(&res);
    close_lab(&r);
    unlink(cut);
  }
  free(cut_here);
  shp_run_result_clear(&full);
  unlink(whole);
  unlink(lab);
  free(lab);
}

/* The FFT planning effort is journalled with the run and a resume takes
 * the journal's, whatever this process was set to: FFTW's plans decide
 * the last bits, so only then does the resume recompute the same. */
static void test_run_resume_plans_as_the_journal(void **state) {
  (void)state;
  unsetenv("SHP_FFTW_ESTIMATE");
  char whole[] = "/tmp/shp-run-XXXXXX", cut[] = "/tmp/shp-run-cut-XXXXXX";
  int fd = mkstemp(whole);
  close(fd);
  unlink(whole);
  char *lab = design_lab(RESUME_LINES);
  run_lab r;
  open_lab_at(&r, NULL, lab);
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, whole, NULL, &res), SHP_OK);
  shp_run_result_clear(&res);
  close_lab(&r);
  json_t *recs;
  size_t valid;
  assert_int_equal(shp_journal_read(whole, &recs, &valid, NULL), SHP_OK);
  assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0),
                                                        "fft_planning")),
                      "estimate");
  json_decref(recs);
  fd = mkstemp(cut);
  close(fd);
  cut_journal(whole, cut, 2);
  shp_set_plan_effort(SHP_PLAN_MEASURE);
  open_lab_at(&r, NULL, lab);
  shp_run_machine *m =
      shp_run_new_sup(r.sup, &(shp_run_spec){.lab = r.lab,
                                             .target = r.target,
                                             .tolerance = RUN_TOLERANCE,
                                             .seed = 1,
                                             .resume_path = cut});
  shp_run_event ev;
  assert_int_equal(shp_run_step(m, &ev), SHP_RUN_EV_MEASURED);
  assert_int_equal(shp_plan_effort_now(), SHP_PLAN_ESTIMATE);
  shp_run_free(m);
  close_lab(&r);
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  unlink(cut);
  unlink(whole);
  unlink(lab);
  free(lab);
}

/* shapectl run killed with SIGKILL at a random record, then resumed: the
 * journal parses with no torn record and the run ends where an
 * uninterrupted one does. */
static void test_cli_run_survives_sigkill(void **state) {
  (void)state;
  char *lab = design_lab(RESUME_LINES);
  char dir[] = "/tmp/shp-kill-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char ref[256], killed[256];
  snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
  snprintf(killed, sizeof killed, "%s/killed.jsonl", dir);
  const char *target = SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml";
  const char *ref_args[] = {"run",         lab,    "--target",  target,
                            "--tolerance", "0.03", "--journal", ref,
                            "--json",      NULL};
  spawn_result a = spawn_run(SHAPECTL_PATH, NULL, NULL, ref_args);
  assert_int_equal(a.status, 0);
  srand((unsigned)getpid());
  size_t at = 2 + (size_t)rand() % 4; /* kill once this many records exist */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(SHAPECTL_PATH, SHAPECTL_PATH, "run", lab, "--target", target,
          "--tolerance", "0.03", "--journal", killed, (char *)NULL);
    _exit(127);
  }
  for (int spin = 0; spin < 200000; spin++) {
    FILE *fp = fopen(killed, "r");
    size_t lines = 0;
    int c;
    while (fp != NULL && (c = fgetc(fp)) != EOF)
      lines += c == '\n';
    if (fp != NULL)
      fclose(fp);
    if (lines >= at)
      break;
    usleep(100);
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  json_t *recs;
  size_t valid;
  bool torn;
  assert_int_equal(shp_journal_read(killed, &recs, &valid, &torn), SHP_OK);
  assert_true(json_array_size(recs) >= 1);
  json_decref(recs);
  const char *resume_args[] = {"run",         lab,    "--target", target,
                               "--tolerance", "0.03", "--resume", killed,
                               "--json",      NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, resume_args);
  assert_int_equal(b.status, 0);
  json_error_t err;
  json_t *ja = json_loads(a.out, 0, &err), *jb = json_loads(b.out, 0, &err);
  assert_non_null(ja);
  assert_non_null(jb);
  assert_true(json_is_true(json_object_get(jb, "converged")));
  json_t *sa = json_object_get(ja, "setpoints_c"),
         *sb = json_object_get(jb, "setpoints_c");
  for (size_t i = 0; i < 4; i++)
    assert_near(json_number_value(json_array_get(sb, i)),
                json_number_value(json_array_get(sa, i)), 0.1);
  json_decref(ja);
  json_decref(jb);
  /* journal show tells the story: one resume, and how it ended. */
  const char *show_args[] = {"journal", "show", killed, NULL};
  spawn_result c = spawn_run(SHAPECTL_PATH, NULL, NULL, show_args);
  assert_int_equal(c.status, 0);
  assert_contains(c.out, "1 resume");
  assert_contains(c.out, "ended: converged");
  spawn_result_free(&c);
  spawn_result_free(&a);
  spawn_result_free(&b);
  unlink(ref);
  unlink(killed);
  rmdir(dir);
  unlink(lab);
  free(lab);
}

/* A journal is never overwritten, and one from another run is refused. */
static void test_journal_is_never_overwritten(void **state) {
  (void)state;
  char path[] = "/tmp/shp-journal-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "{}\n", 3), 3);
  close(fd);
  json_t *first = json_pack("{s:s}", "type", "start");
  assert_null(shp_journal_create(path, first));
  json_decref(first);
  assert_int_equal(shp_error_last(), SHP_ERR_WRITE);
  run_lab r;
  open_lab(&r, "  seed: 3\n");
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, NULL, path, &res), SHP_ERR_PARSE);
  assert_non_null(strstr(res.message, "cannot resume"));
  shp_run_result_clear(&res);
  close_lab(&r);
  unlink(path);
}

/* ---- the journal tells the truth -------------------------------------------
 */

static char *temp_journal(void) {
  char *p = strdup("/tmp/shp-run-XXXXXX");
  assert_non_null(p);
  int fd = mkstemp(p);
  assert_true(fd >= 0);
  close(fd);
  unlink(p); /* a journal is created, never overwritten */
  return p;
}

static json_t *records_of(const char *path) {
  json_t *recs;
  size_t valid;
  bool torn;
  if (shp_journal_read(path, &recs, &valid, &torn) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  assert_false(torn);
  return recs;
}

static const char *type_of(json_t *rec) {
  const char *t = json_string_value(json_object_get(rec, "type"));
  assert_non_null(t);
  return t;
}

static json_t *last_of(json_t *recs, const char *type) {
  json_t *found = NULL;
  for (size_t k = 0; k < json_array_size(recs); k++)
    if (strcmp(type_of(json_array_get(recs, k)), type) == 0)
      found = json_array_get(recs, k);
  return found;
}

static size_t count_of(json_t *recs, const char *type) {
  size_t n = 0;
  for (size_t k = 0; k < json_array_size(recs); k++)
    n += strcmp(type_of(json_array_get(recs, k)), type) == 0;
  return n;
}

/* A disconnect mid-ramp: the end record says each oven holds the last
 * command sent to it (a ramp step short of the plan), and the journal's
 * own oven_command records say the same. */
static void test_run_end_record_holds_what_was_sent(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 3\n  phase_offset_sigma_rad: 1.5\n  faults:\n"
               "    - {kind: disconnect, at_s: 200.0, crystal: 2}\n");
  char *journal = temp_journal();
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, journal, NULL, &res),
                   SHP_ERR_DISCONNECTED);
  json_t *recs = records_of(journal);
  size_t n = json_array_size(recs);
  json_t *end = json_array_get(recs, n - 1);
  assert_string_equal(type_of(end), "end");
  assert_string_equal(type_of(json_array_get(recs, n - 2)), "fault");
  assert_string_equal(json_string_value(json_object_get(end, "status")),
                      "failed");
  json_t *held = json_object_get(end, "holding_c");
  json_t *known = json_object_get(end, "holding_known");
  json_t *plan = json_object_get(last_of(recs, "plan"), "setpoints_c");
  assert_int_equal(json_array_size(held), 4);
  double off_plan = 0;
  for (size_t i = 0; i < 4; i++) {
    assert_true(json_is_true(json_array_get(known, i)));
    double h = json_number_value(json_array_get(held, i));
    assert_near(h, r.last_sent_c[i], 1e-12);
    off_plan =
        fmax(off_plan, fabs(h - json_number_value(json_array_get(plan, i))));
    /* The journal alone tells it: its last command to crystal i. */
    double last = NAN;
    for (size_t k = 0; k < n; k++) {
      json_t *c = json_array_get(recs, k);
      if (strcmp(type_of(c), "oven_command") == 0 &&
          json_integer_value(json_object_get(c, "crystal")) == (json_int_t)i)
        last = json_number_value(json_object_get(c, "value_c"));
    }
    assert_near(last, h, 1e-12);
  }
  /* Mid-ramp: some oven is still more than a kelvin short of the plan. */
  assert_true(off_plan > 1.0);
  json_decref(recs);
  unlink(journal);
  free(journal);
  shp_run_result_clear(&res);
  close_lab(&r);
}

/* A fault at the very first oven read: the journal still holds start,
 * fault and end, and no oven is said to hold a setpoint it never had. */
static void test_run_fault_at_the_start_is_journalled(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 3\n  faults:\n"
               "    - {kind: disconnect, at_s: 0.0, crystal: 0}\n");
  char *journal = temp_journal();
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, journal, NULL, &res),
                   SHP_ERR_DISCONNECTED);
  assert_int_equal(r.sent, 0);
  /* Crystal 0's hold fails (disconnected); the others were never read. */
  assert_int_equal(r.unknown_holds, 3);
  assert_int_equal(r.zero_holds, 0);
  json_t *recs = records_of(journal);
  assert_int_equal(json_array_size(recs), 3);
  assert_string_equal(type_of(json_array_get(recs, 0)), "start");
  assert_string_equal(type_of(json_array_get(recs, 1)), "fault");
  json_t *end = json_array_get(recs, 2);
  assert_string_equal(type_of(end), "end");
  for (size_t i = 0; i < 4; i++) {
    assert_true(
        json_is_null(json_array_get(json_object_get(end, "holding_c"), i)));
    assert_true(json_is_false(
        json_array_get(json_object_get(end, "holding_known"), i)));
  }
  json_decref(recs);
  unlink(journal);
  free(journal);
  shp_run_result_clear(&res);
  close_lab(&r);
}

/* Four sim ovens on the 5 ps flat-top design and a pulseCheck autocorrelator on
 * a fake instrument at port (loopback). */
static char *pulsecheck_lab(int port) {
  char text[4096];
  int len = snprintf(text, sizeof text,
                     "stack: %s/examples/stacks/design-flat-top-5ps.yml\n"
                     "ovens:\n",
                     SHP_SOURCE_DATADIR);
  for (int i = 0; i < 4; i++)
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "  - {driver: sim, connection: {kind: sim}, channel: %d, "
                    "min_c: 20.0, max_c: 150.0, max_ramp_k_per_min: 10.0, "
                    "settle_tolerance_k: 0.05, settle_time_s: 10.0}\n",
                    i);
  snprintf(text + len, sizeof text - (size_t)len,
           "autocorrelator:\n  driver: pulsecheck\n"
           "  connection: {kind: tcp, host: 127.0.0.1, tcp_port: %d, "
           "timeout_s: 2}\n  averages: 1\n"
           "sim:\n  speedup: 0\n",
           port);
  char *path = lab_write_text(text);
  assert_non_null(path);
  return path;
}

/* An autocorrelator on loopback whose error text holds a Latin-1 degree
 * sign (0xB0, not UTF-8) at the first acquisition: the fault and end
 * records are there, parse, and carry the text with U+FFFD. */
static void test_run_device_text_not_utf8_is_journalled(void **state) {
  (void)state;
  scpi_peer_step steps[] = {
      {"*IDN?\r\n", "A.P.E,pulseCheck NX,S09797,1.2.3\n", 0, SCPI_PEER_ANSWER},
      {"CALCULATE:DATA:ALL?\r\n",
       "-300,\"crystal at 25\xB0"
       "C\"\r\n",
       0, SCPI_PEER_ANSWER},
  };
  scpi_peer *peer = scpi_peer_start(steps, 2);
  assert_non_null(peer);
  char *path = pulsecheck_lab(scpi_peer_port(peer));
  run_lab r;
  open_lab_at(&r, NULL, path);
  char *journal = temp_journal();
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, journal, NULL, &res),
                   SHP_ERR_PROTOCOL);
  json_t *recs = records_of(journal);
  assert_int_equal(json_array_size(recs), 3);
  json_t *fault = json_array_get(recs, 1), *end = json_array_get(recs, 2);
  assert_string_equal(type_of(fault), "fault");
  assert_string_equal(type_of(end), "end");
  const char *m = json_string_value(json_object_get(fault, "message"));
  if (strstr(m, "crystal at 25\xEF\xBF\xBD"
                "C") == NULL)
    fail_msg("fault message \"%s\"", m);
  assert_non_null(strstr(json_string_value(json_object_get(end, "message")),
                         "\xEF\xBF\xBD"));
  json_decref(recs);
  close_lab(&r);
  char why[256];
  if (!scpi_peer_stop(peer, why, sizeof why))
    fail_msg("peer: %s", why);
  unlink(journal);
  free(journal);
  unlink(path);
  free(path);
  shp_run_result_clear(&res);
}

/* A whole run's journal on the resume lab, its result and what the
 * supervisor saw (setpoints sent). */
typedef struct {
  char *lab, *journal;
  shp_run_result res;
  size_t sent;
} whole_run;

static void whole_run_make(whole_run *w) {
  w->lab = design_lab(RESUME_LINES);
  w->journal = temp_journal();
  run_lab r;
  open_lab_at(&r, NULL, w->lab);
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, w->journal, NULL, &w->res),
                   SHP_OK);
  assert_true(w->res.converged);
  w->sent = r.sent;
  close_lab(&r);
}

static void whole_run_free(whole_run *w) {
  unlink(w->lab);
  unlink(w->journal);
  free(w->lab);
  free(w->journal);
  shp_run_result_clear(&w->res);
}

/* Every command sent is in the journal, each within its crystal's limits,
 * and successive commands to a crystal no faster than its ramp rate; each
 * move's ramps end on the move's setpoints. An audit from the journal
 * alone. */
static void test_run_journal_audits_every_oven_command(void **state) {
  (void)state;
  whole_run w;
  whole_run_make(&w);
  json_t *recs = records_of(w.journal);
  assert_int_equal(count_of(recs, "oven_command"), w.sent);
  assert_true(w.sent > 20);
  double last_v[4], last_t[4];
  for (size_t i = 0; i < 4; i++)
    last_v[i] = NAN;
  const double rate_k_per_s = 10.0 / 60.0;
  for (size_t k = 0; k < json_array_size(recs); k++) {
    json_t *c = json_array_get(recs, k);
    if (strcmp(type_of(c), "moved") == 0) {
      json_t *sp = json_object_get(c, "setpoints_c");
      for (size_t i = 0; i < 4; i++)
        assert_near(last_v[i], json_number_value(json_array_get(sp, i)), 1e-9);
      continue;
    }
    if (strcmp(type_of(c), "oven_command") != 0)
      continue;
    size_t i = (size_t)json_integer_value(json_object_get(c, "crystal"));
    assert_true(i < 4);
    double v = json_number_value(json_object_get(c, "value_c"));
    double t = json_number_value(json_object_get(c, "time_s"));
    assert_true(v >= 20.0 && v <= 150.0);
    assert_true(json_is_false(json_object_get(c, "instrument_ramp")));
    if (!isnan(last_v[i]) &&
        !(fabs(v - last_v[i]) <= rate_k_per_s * (t - last_t[i]) + 1e-9))
      fail_msg("crystal %zu: %.6f C at %.3f s after %.6f C at %.3f s", i, v, t,
               last_v[i], last_t[i]);
    last_v[i] = v;
    last_t[i] = t;
  }
  json_decref(recs);
  whole_run_free(&w);
}

/* A second writer of a journal, in this process or another, is refused
 * before anything reaches the lab, and the journal is left as it was. */
static void test_run_second_resume_is_refused(void **state) {
  (void)state;
  whole_run w;
  whole_run_make(&w);
  char cut[] = "/tmp/shp-run-cut-XXXXXX";
  int fd = mkstemp(cut);
  close(fd);
  cut_journal(w.journal, cut, 4);
  json_t *held;
  shp_journal *holder = shp_journal_resume(cut, &held, NULL);
  assert_non_null(holder);
  json_decref(held);
  struct stat before;
  assert_int_equal(stat(cut, &before), 0);

  run_lab r;
  open_lab_at(&r, NULL, w.lab);
  shp_run_result res;
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, NULL, cut, &res), SHP_ERR_BUSY);
  char want[256];
  snprintf(want, sizeof want, "%s: in use by another process (pid %ld)", cut,
           (long)getpid());
  assert_string_equal(res.message, want);
  assert_int_equal(r.sent, 0);
  assert_int_equal(r.holds, 0);
  shp_run_result_clear(&res);
  close_lab(&r);

  const char *target = SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml";
  const char *args[] = {"run",      w.lab, "--target", target,
                        "--resume", cut,   "--json",   NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, args);
  assert_int_equal(b.status, 1);
  assert_contains(b.err, "in use by another process (pid");
  assert_int_equal(strstr(b.err, "moving the ovens") == NULL, 1);
  spawn_result_free(&b);
  /* Before the lab's devices are even opened: an instrument that expects
   * no client sees none. */
  scpi_peer *peer = scpi_peer_start(NULL, 0);
  assert_non_null(peer);
  char *pclab = pulsecheck_lab(scpi_peer_port(peer));
  const char *pcargs[] = {"run",      pclab, "--target", target,
                          "--resume", cut,   NULL};
  spawn_result c = spawn_run(SHAPECTL_PATH, NULL, NULL, pcargs);
  assert_int_equal(c.status, 1);
  assert_contains(c.err, "in use by another process (pid");
  spawn_result_free(&c);
  char why[256];
  if (!scpi_peer_stop(peer, why, sizeof why))
    fail_msg("the instrument was contacted: %s", why);
  unlink(pclab);
  free(pclab);
  struct stat after;
  assert_int_equal(stat(cut, &after), 0);
  assert_int_equal(after.st_size, before.st_size);

  /* Once the holder lets go, the resume goes ahead. */
  assert_int_equal(shp_journal_close(holder), SHP_OK);
  open_lab_at(&r, NULL, w.lab);
  assert_int_equal(run_on(&r, SHP_RUN_MODEL, NULL, cut, &res), SHP_OK);
  assert_true(res.converged);
  shp_run_result_clear(&res);
  close_lab(&r);
  unlink(cut);
  whole_run_free(&w);
}

static int resume_with(const char *lab, const char *target, double tolerance,
                       unsigned long seed, const char *journal,
                       shp_run_result *res) {
  run_lab r;
  open_lab_at(&r, NULL, lab);
  shp_target *t = NULL;
  if (target != NULL) {
    t = shp_target_load(target);
    assert_non_null(t);
  }
  shp_run_spec spec = {.lab = r.lab,
                       .target = t ? t : r.target,
                       .mode = SHP_RUN_MODEL,
                       .tolerance = tolerance,
                       .seed = seed,
                       .resume_path = journal};
  int rc = shp_run(r.sup, &spec, NULL, NULL, res);
  if (rc != SHP_OK && rc != SHP_ERR_BUSY)
    assert_int_equal(r.sent, 0);
  shp_target_free(t);
  close_lab(&r);
  return rc;
}

static void expect_refused(const char *lab, const char *target,
                           double tolerance, unsigned long seed,
                           const char *journal, int code, const char *why) {
  shp_run_result res;
  assert_int_equal(resume_with(lab, target, tolerance, seed, journal, &res),
                   code);
  char want[512];
  snprintf(want, sizeof want, "%s: cannot resume: %s", journal, why);
  if (code == SHP_ERR_MISMATCH)
    assert_string_equal(res.message, want);
  else if (strstr(res.message, why) == NULL)
    fail_msg("\"%s\" lacks \"%s\"", res.message, why);
  shp_run_result_clear(&res);
}

/* Resume knows its run by content: the same lab at another path goes on,
 * a changed lab, another target or other parameters are refused naming
 * what differs; a complete line that does not parse is an error naming
 * it; an empty journal (a crash as it was made) starts afresh. */
static void test_run_resume_identifies_the_run_by_content(void **state) {
  (void)state;
  whole_run w;
  whole_run_make(&w);
  char cut[] = "/tmp/shp-run-cut-XXXXXX";
  int fd = mkstemp(cut);
  close(fd);
  cut_journal(w.journal, cut, 3);
  struct stat before;
  assert_int_equal(stat(cut, &before), 0);

  expect_refused(w.lab, NULL, 0.05, 1, cut, SHP_ERR_MISMATCH,
                 "tolerance: journal 0.03, now 0.05");
  expect_refused(w.lab, NULL, RUN_TOLERANCE, 2, cut, SHP_ERR_MISMATCH,
                 "seed: journal 1, now 2");
  expect_refused(w.lab,
                 SHP_SOURCE_DATADIR "/examples/targets/flat-top-16ps.yml",
                 RUN_TOLERANCE, 1, cut, SHP_ERR_MISMATCH,
                 "target file differs from the journal's");
  /* The same bytes at another path, then a changed lab at the same one. */
  char *text;
  size_t len;
  FILE *f = fopen(w.lab, "r");
  assert_non_null(f);
  text = NULL;
  len = 0;
  assert_true(getdelim(&text, &len, '\0', f) > 0);
  fclose(f);
  char *copy = lab_write_text(text);
  char *changed = malloc(strlen(text) + 32);
  sprintf(changed, "%s# a note\n", text);
  free(text);
  f = fopen(w.lab, "w");
  fputs(changed, f);
  fclose(f);
  free(changed);
  expect_refused(w.lab, NULL, RUN_TOLERANCE, 1, cut, SHP_ERR_MISMATCH,
                 "lab file differs from the journal's");
  struct stat after;
  assert_int_equal(stat(cut, &after), 0);
  assert_int_equal(after.st_size, before.st_size); /* left as it was */

  shp_run_result res;
  assert_int_equal(resume_with(copy, NULL, RUN_TOLERANCE, 1, cut, &res),
                   SHP_OK);
  assert_true(res.converged);
  shp_run_result_clear(&res);

  /* A complete line that is not a record, at the end. */
  f = fopen(cut, "a");
  fputs("{\"type\": \"plan\", oops}\n", f);
  fclose(f);
  json_t *recs;
  size_t valid;
  assert_int_equal(shp_journal_read(cut, &recs, &valid, NULL), SHP_ERR_PARSE);
  char *line = strstr(shp_error_detail(), ": not a journal record");
  assert_non_null(line);
  expect_refused(copy, NULL, RUN_TOLERANCE, 1, cut, SHP_ERR_PARSE,
                 ": not a journal record");

  /* An empty journal: nothing happened yet. */
  f = fopen(cut, "w");
  fclose(f);
  assert_int_equal(resume_with(copy, NULL, RUN_TOLERANCE, 1, cut, &res),
                   SHP_OK);
  assert_true(res.converged);
  shp_run_result_clear(&res);
  recs = records_of(cut);
  assert_string_equal(type_of(json_array_get(recs, 0)), "start");
  assert_non_null(last_of(recs, "end"));
  json_decref(recs);
  unlink(copy);
  free(copy);
  unlink(cut);
  whole_run_free(&w);
}

/* Exit statuses: 3 when the run stops unconverged (with the JSON saying
 * why), 2 for a delay calibration that makes every trace miss the target,
 * 1 for a plot that cannot be written, found before anything moves. */
static void test_cli_run_exit_statuses(void **state) {
  (void)state;
  char *lab = design_lab(RESUME_LINES);
  const char *target = SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml";
  /* Out of reach (e* ~0.01 on this stack) but forced, one move: the
   * iteration limit ends it, and the status says whether the solutions
   * still disagreed. */
  const char *a1[] = {"run",
                      lab,
                      "--target",
                      target,
                      "--tolerance",
                      "0.001",
                      "--max-iterations",
                      "1",
                      "--force",
                      "--json",
                      NULL};
  spawn_result a = spawn_run(SHAPECTL_PATH, NULL, NULL, a1);
  assert_int_equal(a.status, 3);
  json_error_t err;
  json_t *j = json_loads(a.out, 0, &err);
  assert_non_null(j);
  const char *status = json_string_value(json_object_get(j, "status"));
  if (strcmp(status, "unconverged") != 0 && strcmp(status, "ambiguous") != 0)
    fail_msg("status %s", status);
  assert_int_equal(json_integer_value(json_object_get(j, "iterations")), 1);
  assert_true(json_is_false(
      json_object_get(json_object_get(j, "reachability"), "reachable")));
  /* The simulated lab's truth, apart from what the loop reports: the
   * true pulse is far from a 0.001 tolerance, whatever the loop predicted. */
  json_t *truth = json_object_get(j, "sim_truth");
  assert_non_null(truth);
  assert_true(json_number_value(json_object_get(truth, "intensity_error")) >
              0.001);
  assert_true(json_integer_value(json_object_get(j, "solutions")) >= 1);
  assert_int_equal(json_array_size(json_object_get(j, "decisions")), 1);
  assert_string_equal(json_string_value(json_object_get(j, "reason")),
                      "the iteration limit was reached");
  assert_true(json_is_false(json_object_get(j, "converged")));
  json_decref(j);
  spawn_result_free(&a);

  const char *a2[] = {"run",  lab,      "--target",
                      target, "--plot", "/nonexistent-dir/run.png",
                      NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, a2);
  assert_int_equal(b.status, 1);
  assert_contains(b.err, "/nonexistent-dir/run.png: cannot write");
  assert_int_equal(strstr(b.err, "measured") == NULL, 1);
  spawn_result_free(&b);

  char *far = design_lab("  seed: 3\n");
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(far, "r");
  assert_true(getdelim(&text, &len, '\0', f) > 0);
  fclose(f);
  char *at = strstr(text, "  averages: 4\n");
  assert_non_null(at);
  char fixed[8192];
  snprintf(fixed, sizeof fixed,
           "%.*s  averages: 4\n  delay_calibration: "
           "{scale: 1.0, offset_ps: 1e300}\n%s",
           (int)(at - text), text, at + strlen("  averages: 4\n"));
  free(text);
  f = fopen(far, "w");
  fputs(fixed, f);
  fclose(f);
  const char *a3[] = {"run", far, "--target", target, "--json", NULL};
  spawn_result c = spawn_run(SHAPECTL_PATH, NULL, NULL, a3);
  assert_int_equal(c.status, 2);
  assert_int_equal(strstr(c.out, "\"converged\": true") == NULL, 1);
  spawn_result_free(&c);
  unlink(far);
  free(far);
  unlink(lab);
  free(lab);
}

/* The journal's disk fills up mid-run (a file size limit in a child
 * process): the run stops with the error saying so, every oven holding,
 * and nothing sent unjournalled after the failure. */
static void test_run_stops_when_the_journal_cannot_be_written(void **state) {
  (void)state;
  char *journal = temp_journal();
  char *lab = design_lab(RESUME_LINES);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
    struct rlimit lim = {.rlim_cur = 120000, .rlim_max = 120000};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
      _exit(10);
    run_lab r;
    open_lab_at(&r, NULL, lab);
    shp_run_result res;
    int rc = run_on(&r, SHP_RUN_MODEL, journal, NULL, &res);
    int code = 0;
    if (rc != SHP_ERR_WRITE)
      code = 11;
    else if (strstr(res.message, "the journal cannot be written") == NULL)
      code = 12;
    else if (shp_supervisor_fault(r.sup) == NULL || r.holds < 4)
      code = 13;
    else if (res.converged)
      code = 14;
    if (code != 0)
      fprintf(stderr, "%s: %s\n", shp_error_name(rc), res.message);
    shp_run_result_clear(&res);
    close_lab(&r);
    _exit(code);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* What was written is whole records (and at most a torn last line). */
  json_t *recs;
  size_t valid;
  assert_int_equal(shp_journal_read(journal, &recs, &valid, NULL), SHP_OK);
  assert_string_equal(type_of(json_array_get(recs, 0)), "start");
  assert_true(count_of(recs, "measure") >= 1);
  json_decref(recs);
  unlink(journal);
  free(journal);
  unlink(lab);
  free(lab);
}

int main(void) {
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_converges_on_hidden_offsets),
      cmocka_unit_test(test_run_fits_the_hidden_offsets),
      cmocka_unit_test(test_run_fault_holds_every_oven),
      cmocka_unit_test(test_run_resumes_from_a_cut_journal),
      cmocka_unit_test(test_run_resume_plans_as_the_journal),
      cmocka_unit_test(test_cli_run_survives_sigkill),
      cmocka_unit_test(test_journal_is_never_overwritten),
      cmocka_unit_test(test_run_end_record_holds_what_was_sent),
      cmocka_unit_test(test_run_fault_at_the_start_is_journalled),
      cmocka_unit_test(test_run_device_text_not_utf8_is_journalled),
      cmocka_unit_test(test_run_journal_audits_every_oven_command),
      cmocka_unit_test(test_run_second_resume_is_refused),
      cmocka_unit_test(test_run_resume_identifies_the_run_by_content),
      cmocka_unit_test(test_cli_run_exit_statuses),
      cmocka_unit_test(test_run_stops_when_the_journal_cannot_be_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
