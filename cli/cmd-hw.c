/* shapectl hw: the lab's ovens and autocorrelator, through the safety
 * supervisor. Without a lab file every subcommand runs against the built-in
 * simulated lab on examples/stacks/fan4.yml. */
#include "cli.h"
#include "lab-session.h"
#include "output.h"

#include "shp/datadir.h"
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/numbers.h"
#include "shp/plot.h"
#include "shp/supervisor.h"
#include "shp/usbtmc.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: shapectl hw list [LAB.yml] [--json]\n"
    "       shapectl hw status [LAB.yml] [--json]\n"
    "       shapectl hw set [LAB.yml] --crystal I --temperature-c T "
    "[--no-wait]\n"
    "       shapectl hw acquire [LAB.yml] [--average N] [--json | --csv FILE]"
    " [--plot FILE]\n"
    "       shapectl hw reset [LAB.yml]\n"
    "\n"
    "The lab's ovens and autocorrelator. Every setpoint passes the safety\n"
    "supervisor: one outside the crystal's limits is refused (exit 2), large\n"
    "changes are ramped at the allowed rate, and `set` waits until the oven\n"
    "has settled (unless --no-wait: then it returns once the final setpoint\n"
    "is sent). A fault holds every oven and exits 1. Without LAB.yml the\n"
    "simulated lab on examples/stacks/fan4.yml is used, on a fast clock.\n"
    "\n"
    "Simulated ovens keep their setpoints and temperatures from one command\n"
    "to the next, as real ones do, moving on by the time elapsed between\n"
    "(kept in $XDG_STATE_HOME/shaper/sim, else ~/.local/state/shaper/sim;\n"
    "a changed lab file starts afresh). `reset` starts the simulated lab\n"
    "afresh; it opens no device.\n"
    "\n"
    "`list` opens nothing: it shows the USBTMC instruments and USB-serial\n"
    "adapters present, the drivers, and for LAB.yml each device it names\n"
    "and whether it is present (a tty node that exists, a USB vendor:product\n"
    "[:serial] on the bus; sim always). Nothing present is not an error.\n";

/* ---- status -------------------------------------------------------------- */

static json_t *oven_json(const cli_lab *h, size_t i, const shp_oven_status *st,
                         int rc) {
  const shp_lab_oven *o = &h->lab->ovens[i];
  const shp_oven_reading *r = &st->reading;
  bool ok = rc == SHP_OK;
  bool in_band =
      ok && fabs(r->actual_c - r->setpoint_c) <= o->settle_tolerance_k;
  return json_pack(
      "{s:I, s:s, s:i, s:o, s:o, s:o, s:b, s:f, s:f, s:f, s:o}", "crystal",
      (json_int_t)i, "driver", o->driver->name, "channel", o->channel,
      "setpoint_c", ok ? out_number(r->setpoint_c) : json_null(), "actual_c",
      ok ? out_number(r->actual_c) : json_null(), "output_on",
      ok ? json_boolean(r->output_on) : json_null(), "within_tolerance",
      in_band, "min_c", o->min_c, "max_c", o->max_c, "max_ramp_k_per_min",
      o->max_ramp_k_per_min, "fault",
      ok ? (r->fault ? json_string(r->fault_text) : json_null())
         : json_string(shp_error_detail()));
}

static void oven_text(const cli_lab *h, size_t i, const shp_oven_status *st,
                      int rc) {
  const shp_lab_oven *o = &h->lab->ovens[i];
  const shp_oven_reading *r = &st->reading;
  if (rc != SHP_OK) {
    printf("crystal %zu  %s:%d  FAULT %s\n", i, o->driver->name, o->channel,
           shp_error_detail());
    return;
  }
  bool in_band = fabs(r->actual_c - r->setpoint_c) <= o->settle_tolerance_k;
  printf("crystal %zu  %s:%d  setpoint %.3f C  actual %.3f C  output %s  %s"
         "  limits %g..%g C\n",
         i, o->driver->name, o->channel, r->setpoint_c, r->actual_c,
         r->output_on ? "on" : "off",
         r->fault  ? r->fault_text
         : in_band ? "at setpoint"
                   : "moving",
         o->min_c, o->max_c);
}

static int status_run(cli_lab *h, bool json) {
  json_t *ovens = json_array();
  int status = CLI_OK;
  for (size_t i = 0; i < h->lab->oven_count; i++) {
    shp_oven_status st;
    int rc = shp_supervisor_status(h->sup, i, &st);
    if (rc != SHP_OK)
      status = CLI_FAILURE;
    if (json)
      json_array_append_new(ovens, oven_json(h, i, &st, rc));
    else
      oven_text(h, i, &st, rc);
  }
  const shp_lab_autocorrelator *a = &h->lab->autocorrelator;
  if (!json) {
    json_decref(ovens);
    printf("autocorrelator  %s  averages %zu  delay = %g * d + %g ps\n",
           a->driver->name, a->averages, a->delay_scale, a->delay_offset_ps);
    return status;
  }
  json_t *o = json_pack("{s:o, s:s, s:b, s:o, s:{s:s, s:I, s:f, s:f}}", "lab",
                        h->lab->path ? json_string(h->lab->path) : json_null(),
                        "stack", h->lab->stack_path, "simulated",
                        shp_lab_sim_speedup(h->lab) >= 0, "ovens", ovens,
                        "autocorrelator", "driver", a->driver->name, "averages",
                        (json_int_t)a->averages, "delay_scale", a->delay_scale,
                        "delay_offset_ps", a->delay_offset_ps);
  int rc = cli_print_json(o);
  return status != CLI_OK ? status : rc;
}

/* ---- set ------------------------------------------------------------------
 */

static int set_run(cli_lab *h, size_t crystal, double t, bool wait) {
  int rc = shp_supervisor_request(h->sup, crystal, t);
  if (rc != SHP_OK) {
    cli_error("%s", shp_error_detail());
    /* A refused setpoint is bad input; a fault is a runtime failure. */
    return shp_supervisor_fault(h->sup) == NULL ? CLI_USAGE : CLI_FAILURE;
  }
  double budget = shp_supervisor_budget_s(h->sup, crystal, t);
  rc = shp_supervisor_wait(h->sup, wait, budget);
  if (rc != SHP_OK) {
    cli_error("%s", shp_error_detail());
    return CLI_FAILURE;
  }
  fprintf(stderr, "shapectl: crystal %zu %s %.3f C\n", crystal,
          wait ? "settled at" : "setpoint sent:", t);
  return CLI_OK;
}

/* ---- acquire --------------------------------------------------------------
 */

static int plot_trace(const char *file, const shp_trace *tr) {
  shp_plot_series series = {tr->delay_ps, tr->signal,    tr->count,
                            "measured",   SHP_PLOT_LINE, 0};
  shp_plot_panel panel = {.title = "Autocorrelation",
                          .xlabel = "delay (ps)",
                          .ylabel = "signal",
                          .series = &series,
                          .series_count = 1};
  shp_plot_figure fig = {.panels = &panel, .panel_count = 1};
  int rc = shp_plot_save(&fig, file, 1000, 600);
  if (rc != SHP_OK)
    return cli_fail_lib(rc);
  fprintf(stderr, "shapectl: wrote %s\n", file);
  return CLI_OK;
}

static int acquire_run(cli_lab *h, size_t averages, bool json, const char *csv,
                       const char *plot) {
  const shp_trace *tr;
  int rc = shp_supervisor_acquire(h->sup, averages, &tr);
  if (rc != SHP_OK) {
    cli_error("%s", shp_error_detail());
    return CLI_FAILURE;
  }
  int status = CLI_OK;
  size_t avg = averages ? averages : h->lab->autocorrelator.averages;
  if (json) {
    status = cli_print_json(json_pack(
        "{s:I, s:I, s:o, s:o}", "averages", (json_int_t)avg, "count",
        (json_int_t)tr->count, "delay_ps", out_array(tr->delay_ps, tr->count),
        "signal", out_array(tr->signal, tr->count)));
  } else if (csv != NULL) {
    const double *cols[] = {tr->delay_ps, tr->signal};
    if (out_csv(csv, "delay_ps,signal", tr->count, cols, 2) != 0)
      status = cli_fail_lib(shp_error_last());
    else
      fprintf(stderr, "shapectl: wrote %s\n", csv);
  } else {
    printf("delay_ps,signal\n");
    for (size_t k = 0; k < tr->count; k++)
      shp_fprintf(stdout, "%.10g,%.10g\n", tr->delay_ps[k], tr->signal[k]);
    if (fflush(stdout) != 0)
      status = CLI_FAILURE;
  }
  if (status == CLI_OK && plot != NULL)
    status = plot_trace(plot, tr);
  return status;
}

/* ---- options --------------------------------------------------------------
 */

typedef struct {
  const char *lab, *csv, *plot;
  bool json, no_wait, has_crystal, has_t;
  size_t crystal, averages;
  double t;
} hw_args;

static int parse(int argc, char **argv, hw_args *a) {
  const cli_opt opts[] = {
      CLI_OPT("json", CLI_FLAG, &a->json),
      CLI_OPT_SEEN("crystal", CLI_SIZE, &a->crystal, &a->has_crystal),
      CLI_OPT_SEEN("temperature-c", CLI_DOUBLE, &a->t, &a->has_t),
      CLI_OPT("no-wait", CLI_FLAG, &a->no_wait),
      CLI_OPT("average", CLI_SIZE, &a->averages),
      CLI_OPT("csv", CLI_STRING, &a->csv),
      CLI_OPT("plot", CLI_STRING, &a->plot),
      CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  if (npos > 1) {
    cli_error("hw: expected at most one lab file");
    return CLI_USAGE;
  }
  a->lab = npos == 1 ? pos[0] : NULL;
  return CLI_OK;
}

static int check_args(const char *cmd, const hw_args *a) {
  bool set = strcmp(cmd, "set") == 0, acq = strcmp(cmd, "acquire") == 0;
  if (set && (!a->has_crystal || !a->has_t)) {
    cli_error("hw set: --crystal and --temperature-c are required");
    return CLI_USAGE;
  }
  if (!set && (a->has_crystal || a->has_t || a->no_wait)) {
    cli_error("hw %s: --crystal, --temperature-c and --no-wait belong to set",
              cmd);
    return CLI_USAGE;
  }
  if (!acq && (a->csv || a->plot || a->averages)) {
    cli_error("hw %s: --average, --csv and --plot belong to acquire", cmd);
    return CLI_USAGE;
  }
  if (((set || strcmp(cmd, "reset") == 0) && a->json) || (a->json && a->csv)) {
    cli_error("hw %s: --json does not go with this", cmd);
    return CLI_USAGE;
  }
  if (a->plot && !cli_plot_path_ok(a->plot))
    return CLI_USAGE;
  return CLI_OK;
}

/* ---- reset ------------------------------------------------------------------
 */

static int reset_run(const char *path) {
  char stack[PATH_MAX];
  shp_lab *lab;
  if (path != NULL)
    lab = shp_lab_load(path);
  else if (shp_data_find("examples/stacks/fan4.yml", stack, sizeof stack) !=
           SHP_OK)
    return cli_fail_lib(shp_error_last());
  else
    lab = shp_lab_default_sim(stack);
  if (lab == NULL)
    return cli_fail_lib(shp_error_last());
  int rc = shp_lab_sim_reset(lab);
  if (rc == SHP_OK)
    fprintf(stderr, "shapectl: the simulated lab on %s starts afresh\n",
            path != NULL ? path : stack);
  shp_lab_free(lab);
  return rc == SHP_OK ? CLI_OK : cli_fail_lib(rc);
}

static int hw_run(const char *cmd, int argc, char **argv) {
  hw_args a = {0};
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if ((rc = check_args(cmd, &a)) != CLI_OK)
    return rc;
  if (strcmp(cmd, "list") == 0)
    return cli_hw_list(a.lab, a.json);
  if (strcmp(cmd, "reset") == 0)
    return reset_run(a.lab);
  cli_lab h;
  if ((rc = cli_lab_open_ex(a.lab, NULL, true, &h)) == CLI_OK) {
    if (strcmp(cmd, "status") == 0)
      rc = status_run(&h, a.json);
    else if (strcmp(cmd, "set") == 0)
      rc = a.crystal < h.lab->oven_count
               ? set_run(&h, a.crystal, a.t, !a.no_wait)
               : (cli_error("hw set: no crystal %zu (the lab has %zu)",
                            a.crystal, h.lab->oven_count),
                  CLI_USAGE);
    else
      rc = acquire_run(&h, a.averages, a.json, a.csv, a.plot);
  }
  cli_lab_close(&h);
  return rc;
}

static int hw_list(int argc, char **argv) { return hw_run("list", argc, argv); }
static int hw_status(int argc, char **argv) {
  return hw_run("status", argc, argv);
}
static int hw_set(int argc, char **argv) { return hw_run("set", argc, argv); }
static int hw_acquire(int argc, char **argv) {
  return hw_run("acquire", argc, argv);
}
static int hw_reset(int argc, char **argv) {
  return hw_run("reset", argc, argv);
}

int cmd_hw(int argc, char **argv) {
  static const cli_command table[] = {
      {"list", hw_list, "USB devices present, drivers, a lab file's devices"},
      {"status", hw_status, "every oven and the autocorrelator"},
      {"set", hw_set, "a crystal's temperature, through the supervisor"},
      {"acquire", hw_acquire, "an averaged autocorrelation trace"},
      {"reset", hw_reset, "start the simulated lab's ovens afresh"},
      {NULL, NULL, NULL}};
  return cli_dispatch("hw", table, argc, argv);
}
