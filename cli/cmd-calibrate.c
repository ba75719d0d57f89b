/* shapectl calibrate: measure each crystal's phase offset and phase per
 * kelvin on a lab (default: the simulated lab). */
#include "cli.h"
#include "lab-session.h"
#include "output.h"

#include "shp/calibrate.h"
#include "shp/calibration.h"
#include "shp/error.h"
#include "shp/file.h"
#include "shp/journal.h"
#include "shp/planning.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: shapectl calibrate [LAB.yml] [--crystal I]... [--stack STACK.yml]\n"
    "           [--periods P] [--points N] [--averages N] [--seed S]\n"
    "           [--output FILE] [--journal FILE] [--json]\n"
    "\n"
    "Scan each crystal's oven (or only those given with --crystal, from 0)\n"
    "over P phase periods (default 1, the material model's full-wave\n"
    "temperature) in N steps (default 9) through the safety supervisor while\n"
    "the others hold, take an averaged autocorrelation at every step, and\n"
    "fit the full model to all of them: each scanned crystal's phase offset\n"
    "at its present setpoint and its phase per kelvin, with 1-sigma\n"
    "uncertainties, and an identifiability report. A crystal the scans do\n"
    "not determine is an error, not a result.\n"
    "\n"
    "The calibration is written atomically to --output (default\n"
    "calibrations/STACK-TIME.yml, the directory created if missing) and\n"
    "every step to --journal (default: the output with .journal.jsonl).\n"
    "simulate, optimize and run take it with --calibration FILE. Ctrl-C or\n"
    "a fault stops with every oven holding (exit 1). Without LAB.yml the\n"
    "simulated lab runs on --stack (default\n"
    "examples/stacks/design-flat-top-5ps.yml).\n"
    "\n"
    "The output and the journal must be writable before anything moves. A\n"
    "calibration that cannot be written at the end goes to JOURNAL.result.yml\n"
    "beside the journal, and the message says so (exit 1).\n"
    "\n"
    "Exit status: 0 calibrated; 3 the scans finished but a crystal stayed\n"
    "undetermined (no file is written; the JSON's status and reason say\n"
    "which); 1 a runtime failure (a device, a fault, a cancel, a file that\n"
    "cannot be written); 2 bad usage or input.\n";

/* Exit status of a calibration that finished short of its goal. */
enum { CAL_EXIT_UNDETERMINED = 3 };

typedef struct {
  const char *lab, *stack, *output, *journal;
  size_t crystals[64], crystal_count;
  size_t points, averages, seed;
  double periods;
  bool json;
} cal_args;

static bool parse_crystal(const char *name, const char *text, void *dest) {
  cal_args *a = dest;
  size_t i;
  if (!cli_parse_size(name, text, &i))
    return false;
  if (a->crystal_count == sizeof a->crystals / sizeof a->crystals[0]) {
    cli_error("calibrate: too many --crystal options");
    return false;
  }
  for (size_t k = 0; k < a->crystal_count; k++)
    if (a->crystals[k] == i) {
      cli_error("calibrate: --crystal %zu given twice", i);
      return false;
    }
  a->crystals[a->crystal_count++] = i;
  return true;
}

static int parse(int argc, char **argv, cal_args *a) {
  *a = (cal_args){.periods = 1.0, .points = 9, .seed = 1};
  cli_opt opts[] = {CLI_OPT_PARSE("crystal", parse_crystal, a),
                    CLI_OPT("stack", CLI_STRING, &a->stack),
                    CLI_OPT("periods", CLI_DOUBLE, &a->periods),
                    CLI_OPT("points", CLI_SIZE, &a->points),
                    CLI_OPT("averages", CLI_SIZE, &a->averages),
                    CLI_OPT("seed", CLI_SIZE, &a->seed),
                    CLI_OPT("output", CLI_STRING, &a->output),
                    CLI_OPT("journal", CLI_STRING, &a->journal),
                    CLI_OPT("json", CLI_FLAG, &a->json),
                    CLI_OPT_END};
  char *pos[1] = {NULL};
  size_t count = 0;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &count);
  if (rc != CLI_OK)
    return rc;
  a->lab = pos[0];
  if (count > 1) {
    cli_error("calibrate: expected at most one lab file");
    return CLI_USAGE;
  }
  if (!(a->periods >= 1.0 && a->periods <= 10.0)) {
    cli_error("calibrate: --periods must be from 1 to 10 (at least one "
              "phase period), got %g",
              a->periods);
    return CLI_USAGE;
  }
  if (a->points < 4 || a->points > 1000) {
    cli_error("calibrate: --points must be from 4 to 1000, got %zu", a->points);
    return CLI_USAGE;
  }
  if (a->lab != NULL && a->stack != NULL) {
    cli_error("calibrate: --stack is for the simulated lab; LAB.yml names "
              "its own stack");
    return CLI_USAGE;
  }
  return CLI_OK;
}

static void on_progress(const shp_run_event *e, void *user) {
  (void)user;
  if (e->kind != SHP_RUN_EV_MOVING && !shp_run_event_terminal(e->kind))
    fprintf(stderr, "shapectl: %s\n", e->message);
}

/* The output path: given, or the session's new name under calibrations/
 * in the working directory. */
static int output_path(const cal_args *a, shp_session *session, char *buf,
                       size_t size) {
  if (a->output != NULL) {
    if (snprintf(buf, size, "%s", a->output) >= (int)size) {
      cli_error("calibrate: --output is too long");
      return CLI_USAGE;
    }
    return CLI_OK;
  }
  if (shp_session_calibration_path(session, buf, size) != SHP_OK)
    return cli_fail_lib(shp_error_last());
  return CLI_OK;
}

static int print_result(const shp_calibration *c, const char *path, bool json) {
  if (!json) {
    printf("calibration %s (residual %.4f)\n", path, c->residual_rms);
    for (size_t k = 0; k < c->crystal_count; k++) {
      const shp_calibration_crystal *e = &c->crystals[k];
      printf("crystal %zu  at %.2f C  phase offset %+.4f +- %.4f rad  slope "
             "%.5f +- %.5f rad/K (model %.5f)\n",
             e->index, e->reference_temperature_c, e->phase_offset_rad,
             e->phase_offset_sigma_rad, e->slope_rad_per_k,
             e->slope_sigma_rad_per_k, e->model_slope_rad_per_k);
    }
    printf("%s", c->identifiability);
    return CLI_OK;
  }
  json_t *crystals = json_array();
  for (size_t k = 0; k < c->crystal_count; k++) {
    const shp_calibration_crystal *e = &c->crystals[k];
    json_array_append_new(
        crystals,
        json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "index",
                  (json_int_t)e->index, "reference_temperature_c",
                  out_number(e->reference_temperature_c), "phase_offset_rad",
                  out_number(e->phase_offset_rad), "phase_offset_sigma_rad",
                  out_number(e->phase_offset_sigma_rad), "slope_rad_per_k",
                  out_number(e->slope_rad_per_k), "slope_sigma_rad_per_k",
                  out_number(e->slope_sigma_rad_per_k), "model_slope_rad_per_k",
                  out_number(e->model_slope_rad_per_k)));
  }
  return cli_print_json(json_pack("{s:s, s:o, s:s, s:o}", "file", path,
                                  "residual_rms", out_number(c->residual_rms),
                                  "identifiability", c->identifiability,
                                  "crystals", crystals));
}

/* Write the calibration to out or, failing that, beside the journal; the
 * path it went to in *written. CLI_OK, or CLI_FAILURE after saying where
 * it went (if anywhere). */
static int save(shp_calibration *cal, const char *out, const char *journal,
                char *fallback, size_t size, const char **written) {
  *written = out;
  if (shp_calibration_save(cal, out) == SHP_OK)
    return CLI_OK;
  char why[512];
  snprintf(why, sizeof why, "%s", shp_error_detail());
  snprintf(fallback, size, "%s.result.yml", journal);
  if (shp_calibration_save(cal, fallback) == SHP_OK) {
    *written = fallback;
    cli_error("%s; the calibration was written to %s instead", why, fallback);
  } else {
    *written = NULL;
    cli_error("%s; nor could it be written to %s (%s): the journal %s holds "
              "its fit record",
              why, fallback, shp_error_detail(), journal);
  }
  return CLI_FAILURE;
}

static int print_undetermined(const char *why, const char *journal, bool json) {
  cli_error("%s", why);
  if (!json)
    return CLI_OK;
  return cli_print_json(json_pack("{s:s, s:s, s:n, s:s}", "status",
                                  "undetermined", "reason", why, "file",
                                  "journal", journal));
}

int cmd_calibrate(int argc, char **argv) {
  cal_args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  /* A journal that exists is refused before the lab's devices open. */
  if (a.journal != NULL && shp_journal_probe(a.journal, false) != SHP_OK)
    return cli_fail_lib(shp_error_last());
  cli_lab h;
  rc = cli_lab_open(
      a.lab, a.stack ? a.stack : "examples/stacks/design-flat-top-5ps.yml", &h);
  h.quiet = true;
  char out[PATH_MAX], journal[PATH_MAX + 32], fallback[PATH_MAX + 64];
  if (rc == CLI_OK)
    rc = output_path(&a, h.session, out, sizeof out);
  if (rc == CLI_OK && a.journal == NULL) {
    size_t stem = strlen(out);
    if (stem > 4 && strcmp(out + stem - 4, ".yml") == 0)
      stem -= 4;
    snprintf(journal, sizeof journal, "%.*s.journal.jsonl", (int)stem, out);
  }
  const char *jpath = a.journal ? a.journal : journal;
  /* Before any oven moves: a result that cannot be written would throw
   * the whole scan away. */
  if (rc == CLI_OK && (shp_file_check_writable(out) != SHP_OK ||
                       shp_file_check_writable(jpath) != SHP_OK))
    rc = cli_fail_lib(shp_error_last());
  if (rc != CLI_OK) {
    cli_lab_close(&h);
    return rc;
  }
  bool undetermined = false;
  shp_calibrate_spec spec = {.lab = h.lab,
                             .crystals = a.crystal_count ? a.crystals : NULL,
                             .crystal_count = a.crystal_count,
                             .periods = a.periods,
                             .points = a.points,
                             .averages = a.averages,
                             .seed = a.seed,
                             .journal_path = jpath,
                             .undetermined = &undetermined};
  shp_calibration *cal = NULL;
  int lrc;
  shp_calibration_run *m = shp_calibration_run_new(h.session, &spec);
  if (m == NULL) {
    lrc = shp_error_last();
  } else {
    shp_run_event ev;
    do {
      shp_calibration_run_step(m, &ev);
      on_progress(&ev, NULL);
    } while (!shp_run_event_terminal(ev.kind));
    lrc = shp_calibration_run_take_result(m, &cal);
    shp_calibration_run_free(m);
  }
  const char *written = NULL;
  if (lrc != SHP_OK && undetermined) {
    print_undetermined(shp_error_detail(), jpath, a.json);
    rc = CAL_EXIT_UNDETERMINED;
  } else if (lrc != SHP_OK && cal == NULL) {
    rc = cli_fail_lib(lrc);
  } else {
    /* With lrc set, the journal failed after the fit: the calibration is
     * still written, and the exit status says something failed. */
    int jrc = lrc != SHP_OK ? cli_fail_lib(lrc) : CLI_OK;
    int src = save(cal, out, jpath, fallback, sizeof fallback, &written);
    int prc = CLI_OK;
    if (written == out)
      fprintf(stderr, "shapectl: wrote %s (journal %s)\n", written, jpath);
    if (written != NULL)
      prc = print_result(cal, written, a.json);
    rc = src != CLI_OK ? src : jrc != CLI_OK ? jrc : prc;
  }
  shp_calibration_free(cal);
  cli_lab_close(&h);
  return rc;
}
