/* The closed loop's journal: what each record holds, writing them before
 * acting, and replaying a journal to resume a run.
 *
 * Records (one JSON object a line, field "type"):
 *   start    the run's inputs: lab, stack, target, calibration (paths, and
 *            in "sha256" the SHA-256 of each file's bytes), mode, limits,
 *            seed, tolerance, iterations, averages; written with the file
 *   resume   a resumed run goes on from here (torn: a torn line was cut)
 *   measure  iteration, setpoints_c, actual_c, delay_ps, signal, error
 *   reach    reachable, best_error (e* on the nominal model), summary,
 *            forced: checked before the first move
 *   fit      (model mode) solutions, their predicted errors, the trace's
 *            residual and noise, the identifiability report
 *   verdict  kind, best/worst predicted error and sigma, reason
 *   decision iteration, kind, minutes, reason, per-solution predicted
 *            errors now and at the move (written before the plan)
 *   plan     iteration, setpoints_c, reason (written before the ovens move)
 *   oven_command  crystal, value_c, target_c, time_s (lab clock),
 *            instrument_ramp: every setpoint sent to an instrument, each
 *            software ramp step included, written before it is sent
 *   moved    iteration, setpoints_c (the ovens have settled)
 *   fault    code, message
 *   end      status, reason, converged, iterations, final_error, setpoints_c
 *            (the last accepted), holding_c and holding_known (what each
 *            oven holds: the last command sent; null where never known),
 *            code, message
 * Numbers that are not finite are null. A resumed run replays
 * measure/plan/moved records instead of acting, so it makes the same
 * decisions the interrupted one made, then goes on live. */
#include "run-private.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/planning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL_VERSION 2

json_t *run_json_array(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n && a != NULL; i++)
    if (json_array_append_new(a, shp_journal_number(v[i])) != 0) {
      json_decref(a);
      a = NULL;
    }
  return a;
}

int run_json_doubles(json_t *a, double *v, size_t n) {
  if (!json_is_array(a) || json_array_size(a) != n)
    return SHP_ERR_PARSE;
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(a, i);
    if (json_is_null(x))
      v[i] = NAN;
    else if (json_is_number(x))
      v[i] = json_number_value(x);
    else
      return SHP_ERR_PARSE;
  }
  return SHP_OK;
}

int run_journal_record(run_ctx *c, json_t *record) {
  int rc = SHP_OK;
  if (c->journal != NULL) {
    rc = shp_journal_append(c->journal, record);
    if (rc != SHP_OK)
      shp_error_prefix("the journal cannot be written, so the run stops: ");
  }
  json_decref(record);
  return rc;
}

int run_journal_oven_command(const shp_sup_command *cmd, void *journal) {
  json_t *rec = json_pack(
      "{s:s, s:I, s:o, s:o, s:o, s:b}", "type", "oven_command", "crystal",
      (json_int_t)cmd->crystal, "value_c", shp_journal_number(cmd->value_c),
      "target_c", shp_journal_number(cmd->target_c), "time_s",
      shp_journal_number(cmd->time_s), "instrument_ramp", cmd->instrument_ramp);
  /* Written before the command is sent; synced with the next record (a
   * ramp sends one a second and more). */
  int rc = shp_journal_append_unsynced(journal, rec);
  json_decref(rec);
  if (rc != SHP_OK)
    shp_error_prefix("the journal cannot be written: ");
  return rc;
}

void run_json_add_holding(json_t *rec, const shp_supervisor *sup, size_t nc) {
  json_t *held = json_array(), *known = json_array();
  for (size_t i = 0; i < nc; i++) {
    double v;
    bool k = shp_supervisor_commanded(sup, i, &v);
    json_array_append_new(held, k ? shp_journal_number(v) : json_null());
    json_array_append_new(known, json_boolean(k));
  }
  json_object_set_new(rec, "holding_c", held);
  json_object_set_new(rec, "holding_known", known);
}

static const char *mode_name(shp_run_mode m) {
  return m == SHP_RUN_MODEL_FREE ? "model-free" : "model";
}

/* ---- what identifies a run -------------------------------------------------
 */

/* The SHA-256 of a file as JSON, or null without a file. */
static int digest(const char *path, json_t **out) {
  *out = NULL;
  if (path == NULL) {
    *out = json_null();
    return SHP_OK;
  }
  char hex[65];
  int rc = shp_sha256_file(path, SHP_FILE_MAX_TEXT, hex);
  if (rc != SHP_OK)
    return rc;
  *out = json_string(hex);
  return SHP_OK;
}

static int start_record(const run_ctx *c, json_t **out) {
  const shp_run_spec *s = c->spec;
  const char *cal = s->calibration ? s->calibration->path : NULL;
  json_t *d[4] = {NULL, NULL, NULL, NULL};
  int rc = digest(c->lab->path, &d[0]);
  if (rc == SHP_OK)
    rc = digest(c->lab->stack_path, &d[1]);
  if (rc == SHP_OK)
    rc = digest(s->target->path, &d[2]);
  if (rc == SHP_OK)
    rc = digest(cal, &d[3]);
  if (rc != SHP_OK) {
    for (int k = 0; k < 4; k++)
      json_decref(d[k]);
    return rc;
  }
  char when[SHP_TIMESTAMP_SIZE];
  shp_utc_timestamp(when, false);
  *out = json_pack(
      "{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:s, "
      "s:b, s:I, s:o, s:I, s:I, s:o, s:o}",
      "type", "start", "version", JOURNAL_VERSION, "time", when, "lab",
      shp_journal_string(c->lab->path), "stack",
      shp_journal_string(c->lab->stack_path), "target",
      shp_journal_string(s->target->path), "calibration",
      shp_journal_string(cal), "sha256", "lab", d[0], "stack", d[1], "target",
      d[2], "calibration", d[3], "mode", mode_name(s->mode), "with_calibration",
      s->calibration != NULL, "max_iterations", (json_int_t)s->max_iterations,
      "tolerance", shp_journal_number(s->tolerance), "averages",
      (json_int_t)s->averages, "seed", (json_int_t)s->seed, "min_c",
      run_json_array(c->lo, c->nc), "max_c", run_json_array(c->hi, c->nc));
  if (*out == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "cannot build the start record");
  /* How FFTW plans decides the last bits of every simulation: a resume
   * plans as the run did (check_start), so it recomputes the same. */
  if (json_object_set_new(*out, "fft_planning",
                          json_string(shp_plan_effort_now() == SHP_PLAN_ESTIMATE
                                          ? "estimate"
                                          : "measure")) != 0) {
    json_decref(*out);
    *out = NULL;
    return shp_error_set(SHP_ERR_NOMEM, "cannot build the start record");
  }
  return SHP_OK;
}

/* Where the journal's start record and this run's differ, in words, or
 * NULL: the files by content, then every parameter. */
static const char *start_differs(json_t *was, json_t *now, char *why,
                                 size_t size) {
  static const char *const files[] = {"lab", "stack", "target", "calibration"};
  json_t *wd = json_object_get(was, "sha256"),
         *nd = json_object_get(now, "sha256");
  if (!json_is_object(wd))
    return "it does not identify its inputs (written by an older version)";
  for (size_t k = 0; k < 4; k++) {
    json_t *a = json_object_get(wd, files[k]),
           *b = json_object_get(nd, files[k]);
    if (json_is_null(a) != json_is_null(b) && k == 3) {
      snprintf(why, size,
               json_is_null(a) ? "the journal's run had no calibration, this "
                                 "one has (--calibration)"
                               : "the journal's run had a calibration: give "
                                 "the same --calibration");
      return why;
    }
    if (!json_equal(a, b)) {
      snprintf(why, size, "%s file differs from the journal's", files[k]);
      return why;
    }
  }
  static const char *const params[] = {"mode", "max_iterations", "tolerance",
                                       "averages", "seed"};
  for (size_t k = 0; k < 5; k++) {
    json_t *a = json_object_get(was, params[k]),
           *b = json_object_get(now, params[k]);
    if (json_equal(a, b))
      continue;
    char *ta =
        a ? json_dumps(a, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6)) : NULL;
    char *tb = json_dumps(b, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    snprintf(why, size, "%s: journal %s, now %s", params[k], ta ? ta : "(none)",
             tb ? tb : "?");
    free(ta);
    free(tb);
    return why;
  }
  return NULL;
}

/* A resumed journal must be this run's: the same files, by content, and
 * the same parameters. */
static int check_start(run_ctx *c, json_t *rec, json_t *now) {
  const char *path = c->spec->resume_path;
  char buf[256];
  const char *t = json_string_value(json_object_get(rec, "type"));
  if (t == NULL || strcmp(t, "start") != 0)
    return shp_error_set(SHP_ERR_PARSE,
                         "%s: cannot resume: it does not begin with a start "
                         "record (not a run journal)",
                         path);
  const char *planning =
      json_string_value(json_object_get(rec, "fft_planning"));
  if (planning != NULL)
    shp_set_plan_effort(strcmp(planning, "estimate") == 0 ? SHP_PLAN_ESTIMATE
                                                          : SHP_PLAN_MEASURE);
  const char *why = start_differs(rec, now, buf, sizeof buf);
  if (why != NULL)
    return shp_error_set(SHP_ERR_MISMATCH, "%s: cannot resume: %s", path, why);
  return SHP_OK;
}

int run_journal_begin(run_ctx *c) {
  const shp_run_spec *s = c->spec;
  if (s->resume_path == NULL && s->journal_path == NULL)
    return SHP_OK;
  json_t *start;
  int rc = start_record(c, &start);
  if (rc != SHP_OK)
    return rc;
  if (s->resume_path == NULL) {
    c->journal = shp_journal_create(s->journal_path, start);
    json_decref(start);
    return c->journal != NULL ? SHP_OK : shp_error_last();
  }
  bool torn;
  c->journal = shp_journal_resume(s->resume_path, &c->replay, &torn);
  if (c->journal == NULL) {
    json_decref(start);
    return shp_error_last();
  }
  if (json_array_size(c->replay) == 0) {
    /* A journal with no record yet (a crash as it was made): nothing
     * happened, so the run starts here. */
    json_decref(c->replay);
    c->replay = NULL;
    return run_journal_record(c, start);
  }
  rc = check_start(c, json_array_get(c->replay, 0), start);
  json_decref(start);
  if (rc != SHP_OK) {
    /* Another run's journal: left exactly as it was. */
    shp_journal_close(c->journal);
    c->journal = NULL;
    return rc;
  }
  c->cursor = 1;
  json_t *note = json_pack("{s:s, s:b}", "type", "resume", "torn", torn);
  return run_journal_record(c, note);
}

/* The next record of a type to replay, skipping records that carry no
 * decision (fits are recomputed, faults, resumes and oven commands only
 * note history). NULL once the journal is used up: from then on the run
 * is live. */
json_t *run_replay_next(run_ctx *c, const char *type) {
  static const char *const notes[] = {
      "fit", "fault", "resume", "oven_command", "reach", "decision", "verdict"};
  if (c->replay == NULL)
    return NULL;
  while (c->cursor < json_array_size(c->replay)) {
    json_t *rec = json_array_get(c->replay, c->cursor);
    const char *t = json_string_value(json_object_get(rec, "type"));
    bool note = false;
    for (size_t k = 0; t != NULL && k < sizeof notes / sizeof *notes; k++)
      note = note || strcmp(t, notes[k]) == 0;
    if (note) {
      c->cursor++;
      continue;
    }
    if (t != NULL && strcmp(t, type) == 0) {
      c->cursor++;
      return rec;
    }
    break;
  }
  /* Anything else (an end record, or the journal ran out): live from here. */
  json_decref(c->replay);
  c->replay = NULL;
  return NULL;
}

bool run_replaying(run_ctx *c) {
  if (c->replay == NULL)
    return false;
  for (size_t k = c->cursor; k < json_array_size(c->replay); k++) {
    const char *t = json_string_value(
        json_object_get(json_array_get(c->replay, k), "type"));
    if (t != NULL && (strcmp(t, "measure") == 0 || strcmp(t, "plan") == 0 ||
                      strcmp(t, "moved") == 0))
      return true;
  }
  return false;
}

static const char *status_name(const shp_run_result *r) {
  if (r->code != SHP_OK)
    return "failed";
  return shp_run_status_name(r->status);
}

int run_journal_end(run_ctx *c) {
  shp_run_result *r = c->result;
  int frc = SHP_OK;
  if (r->code != SHP_OK && r->code != SHP_ERR_CANCELLED)
    frc = run_journal_record(c, json_pack("{s:s, s:s, s:o}", "type", "fault",
                                          "code", shp_error_name(r->code),
                                          "message",
                                          shp_journal_string(r->message)));
  json_t *end = json_pack(
      "{s:s, s:s, s:o, s:b, s:I, s:o, s:o, s:s, s:o}", "type", "end", "status",
      status_name(r), "reason", shp_journal_string(r->reason), "converged",
      r->converged, "iterations", (json_int_t)r->iterations, "final_error",
      shp_journal_number(r->final_error), "setpoints_c",
      run_json_array(r->setpoints_c, r->crystal_count), "code",
      shp_error_name(r->code), "message", shp_journal_string(r->message));
  if (end != NULL)
    run_json_add_holding(end, c->sup, c->nc);
  int rc = run_journal_record(c, end);
  int crc = shp_journal_close(c->journal);
  c->journal = NULL;
  return frc != SHP_OK ? frc : rc != SHP_OK ? rc : crc;
}
