/* The closed loop's journal: what each record holds, writing them before
 * acting, and replaying a journal to resume a run.
 *
 * Records (one JSON object a line, field "type"):
 *   start    the run's inputs: lab, stack, target, calibration, mode,
 *            limits, seed
 *   measure  iteration, setpoints_c, actual_c, delay_ps, signal, error
 *   fit      iteration, the fitted parameters and the identifiability report
 *   plan     iteration, setpoints_c (written before the ovens are moved)
 *   moved    iteration, setpoints_c (the ovens have settled)
 *   fault    code, message
 *   end      converged, iterations, final_error, setpoints_c, code, message
 * A resumed run replays measure/plan/moved records instead of acting, so it
 * makes the same decisions the interrupted one made, then goes on live. */
#include "run-private.h"

#include "shp/error.h"

#include <math.h>
#include <string.h>

json_t *run_json_array(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_real(v[i]));
  return a;
}

int run_json_doubles(json_t *a, double *v, size_t n) {
  if (!json_is_array(a) || json_array_size(a) != n)
    return SHP_ERR_PARSE;
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(a, i);
    if (!json_is_number(x))
      return SHP_ERR_PARSE;
    v[i] = json_number_value(x);
  }
  return SHP_OK;
}

int run_journal_record(run_ctx *c, json_t *record) {
  int rc = SHP_OK;
  if (c->journal != NULL && record != NULL)
    rc = shp_journal_append(c->journal, record);
  json_decref(record);
  return rc;
}

static const char *mode_name(shp_run_mode m) {
  return m == SHP_RUN_MODEL_FREE ? "model-free" : "model";
}

static json_t *start_record(const run_ctx *c) {
  char when[SHP_TIMESTAMP_SIZE];
  shp_utc_timestamp(when, false);
  const shp_run_spec *s = c->spec;
  return json_pack(
      "{s:s, s:i, s:s, s:s?, s:s, s:s?, s:s?, s:s, s:i, s:f, s:i, s:I, s:o, "
      "s:o}",
      "type", "start", "version", 1, "time", when, "lab", c->lab->path, "stack",
      c->lab->stack_path, "target", s->target->path, "calibration",
      s->calibration ? s->calibration->path : NULL, "mode", mode_name(s->mode),
      "max_iterations", (int)s->max_iterations, "tolerance", s->tolerance,
      "averages", (int)s->averages, "seed", (json_int_t)s->seed, "min_c",
      run_json_array(c->lo, c->nc), "max_c", run_json_array(c->hi, c->nc));
}

static bool same_string(json_t *rec, const char *key, const char *value) {
  const char *v = json_string_value(json_object_get(rec, key));
  if (v == NULL || value == NULL)
    return v == value;
  return strcmp(v, value) == 0;
}

/* A resumed journal must be this run's: same lab, stack, target, mode. */
static int check_start(run_ctx *c, json_t *rec) {
  const char *path = c->spec->resume_path;
  const shp_run_spec *s = c->spec;
  const char *why = NULL;
  if (!same_string(rec, "type", "start"))
    why = "it does not begin with a start record";
  else if (!same_string(rec, "lab", c->lab->path))
    why = "it was written for another lab file";
  else if (!same_string(rec, "stack", c->lab->stack_path))
    why = "it was written for another stack";
  else if (!same_string(rec, "target", s->target->path))
    why = "it was written for another target";
  else if (!same_string(rec, "mode", mode_name(s->mode)))
    why = "it was written in another mode";
  else if (!same_string(rec, "calibration",
                        s->calibration ? s->calibration->path : NULL))
    why = "it was written with another calibration (or none): give the "
          "same --calibration";
  if (why != NULL)
    return shp_error_set(SHP_ERR_PARSE, "%s: cannot resume: %s", path, why);
  return SHP_OK;
}

int run_journal_begin(run_ctx *c) {
  const shp_run_spec *s = c->spec;
  if (s->resume_path == NULL) {
    if (s->journal_path == NULL)
      return SHP_OK;
    if ((c->journal = shp_journal_create(s->journal_path)) == NULL)
      return shp_error_last();
    return run_journal_record(c, start_record(c));
  }
  size_t valid;
  bool torn;
  int rc = shp_journal_read(s->resume_path, &c->replay, &valid, &torn);
  if (rc != SHP_OK)
    return rc;
  if (json_array_size(c->replay) == 0)
    return shp_error_set(SHP_ERR_PARSE, "%s: cannot resume: no records",
                         s->resume_path);
  if ((rc = check_start(c, json_array_get(c->replay, 0))) != SHP_OK)
    return rc;
  c->cursor = 1;
  if ((c->journal = shp_journal_open_append(s->resume_path, valid)) == NULL)
    return shp_error_last();
  json_t *note = json_pack("{s:s, s:b}", "type", "resume", "torn", torn);
  return run_journal_record(c, note);
}

/* The next record of a type to replay, skipping records that carry no
 * decision (fits are recomputed, faults and resumes only note history).
 * NULL once the journal is used up: from then on the run is live. */
json_t *run_replay_next(run_ctx *c, const char *type) {
  if (c->replay == NULL)
    return NULL;
  while (c->cursor < json_array_size(c->replay)) {
    json_t *rec = json_array_get(c->replay, c->cursor);
    const char *t = json_string_value(json_object_get(rec, "type"));
    if (t != NULL && (strcmp(t, "fit") == 0 || strcmp(t, "fault") == 0 ||
                      strcmp(t, "resume") == 0)) {
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

int run_journal_end(run_ctx *c) {
  shp_run_result *r = c->result;
  if (r->code != SHP_OK && r->code != SHP_ERR_CANCELLED)
    run_journal_record(c, json_pack("{s:s, s:s, s:s}", "type", "fault", "code",
                                    shp_error_name(r->code), "message",
                                    r->message));
  json_t *end = json_pack(
      "{s:s, s:b, s:I, s:f, s:o, s:s, s:s}", "type", "end", "converged",
      r->converged, "iterations", (json_int_t)r->iterations, "final_error",
      isfinite(r->final_error) ? r->final_error : -1.0, "setpoints_c",
      run_json_array(r->setpoints_c, r->crystal_count), "code",
      shp_error_name(r->code), "message", r->message);
  int rc = run_journal_record(c, end);
  int crc = shp_journal_close(c->journal);
  c->journal = NULL;
  return rc != SHP_OK ? rc : crc;
}
