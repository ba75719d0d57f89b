/* shapectl journal show: what a run or calibration journal recorded, and
 * its convergence or its scans. */
#include "cli.h"
#include "output.h"

#include "shp/error.h"
#include "shp/journal.h"
#include "shp/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: shapectl journal show FILE [--plot FILE] [--json]\n"
    "\n"
    "Summarises a run journal (shapectl run --journal): the run's inputs,\n"
    "every measured autocorrelation error, fit and oven move, and how it\n"
    "ended (or that it did not: a crash leaves no end record, and `run\n"
    "--resume` continues it). --plot draws, against oven moves, the\n"
    "convergence from the fit and verdict records (the trace residual and\n"
    "the noise the verdict allows it, the consistent solutions' predicted\n"
    "intensity error from the best's - 1 sigma to the worst's + 1 sigma,\n"
    "the tolerance) and the measured autocorrelation error with each\n"
    "move's predicted error. The solutions' predicted pulses are not\n"
    "drawn: the journal keeps only their phases, not the whole fit (`run\n"
    "--plot` draws them at the end of a run).\n"
    "\n"
    "A calibration journal (shapectl calibrate) shows its inputs, the\n"
    "traces and moves it made, the fit and how it ended; --plot draws every\n"
    "setpoint sent to each oven against the lab's clock.\n"
    "\n"
    "Both tell what the ovens held at the end (unknown where never read).\n"
    "Exit status: 0 shown; 1 the plot cannot be written; 2 not a journal.\n";

/* A number of a record, NAN where it is missing or null. */
static double num(json_t *rec, const char *key) {
  json_t *v = json_object_get(rec, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *rec, const char *key) {
  const char *s = json_string_value(json_object_get(rec, key));
  return s ? s : "-";
}

/* What the end record says each oven held. */
static void print_holding(json_t *end) {
  json_t *held = json_object_get(end, "holding_c");
  for (size_t i = 0; i < json_array_size(held); i++) {
    json_t *v = json_array_get(held, i);
    if (json_is_number(v))
      printf("  crystal %zu holds %.3f C\n", i, json_number_value(v));
    else
      printf("  crystal %zu holds an unknown setpoint (never read)\n", i);
  }
}

/* Every oven command against the lab's clock, one series per crystal. */
static int plot_commands(const char *path, const char *plot, json_t *recs) {
  size_t n = json_array_size(recs), nc = 0;
  for (size_t k = 0; k < n; k++) {
    json_t *r = json_array_get(recs, k);
    if (strcmp(str(r, "type"), "oven_command") == 0) {
      json_int_t i = json_integer_value(json_object_get(r, "crystal"));
      if (i >= 0 && i < 64 && (size_t)i + 1 > nc)
        nc = (size_t)i + 1;
    }
  }
  double *t = calloc(n ? n : 1, sizeof *t), *v = calloc(n ? n : 1, sizeof *v);
  shp_plot_series series[64];
  char names[64][32];
  size_t used = 0, ns = 0;
  int rc = t && v ? CLI_OK : CLI_FAILURE;
  for (size_t i = 0; i < nc && rc == CLI_OK; i++) {
    size_t first = used;
    for (size_t k = 0; k < n; k++) {
      json_t *r = json_array_get(recs, k);
      if (strcmp(str(r, "type"), "oven_command") != 0 ||
          json_integer_value(json_object_get(r, "crystal")) != (json_int_t)i)
        continue;
      t[used] = json_number_value(json_object_get(r, "time_s"));
      v[used++] = json_number_value(json_object_get(r, "value_c"));
    }
    if (used == first)
      continue;
    snprintf(names[ns], sizeof names[ns], "crystal %zu", i);
    series[ns] = (shp_plot_series){t + first, v + first,     used - first,
                                   names[ns], SHP_PLOT_LINE, (int)i};
    ns++;
  }
  if (rc == CLI_OK && ns > 0) {
    shp_plot_panel panel = {.title = "Oven commands",
                            .xlabel = "lab time (s)",
                            .ylabel = "setpoint sent (C)",
                            .series = series,
                            .series_count = ns};
    shp_plot_figure fig = {.title = path, .panels = &panel, .panel_count = 1};
    int prc = shp_plot_save(&fig, plot, 900, 500);
    if (prc != SHP_OK)
      rc = cli_fail_lib(prc);
    else
      fprintf(stderr, "shapectl: wrote %s\n", plot);
  } else if (rc == CLI_OK) {
    fprintf(stderr, "shapectl: %s: no oven commands to plot\n", path);
  } else {
    cli_error("out of memory");
  }
  free(t);
  free(v);
  return rc;
}

static int show_calibration(const char *path, json_t *recs, bool torn,
                            const char *plot, bool json) {
  json_t *start = json_array_get(recs, 0);
  size_t traces = 0, moves = 0, commands = 0;
  json_t *fit = NULL, *fault = NULL, *end = NULL;
  for (size_t k = 0; k < json_array_size(recs); k++) {
    json_t *r = json_array_get(recs, k);
    const char *t = str(r, "type");
    traces += strcmp(t, "measure") == 0;
    moves += strcmp(t, "move") == 0;
    commands += strcmp(t, "oven_command") == 0;
    if (strcmp(t, "fit") == 0)
      fit = r;
    else if (strcmp(t, "fault") == 0)
      fault = r;
    else if (strcmp(t, "end") == 0)
      end = r;
  }
  int rc = CLI_OK;
  if (json) {
    rc = cli_print_json(json_pack(
        "{s:s, s:s, s:s, s:s, s:O?, s:I, s:I, s:I, s:O?, s:b, s:o, s:O?}",
        "journal", path, "kind", "calibration", "lab", str(start, "lab"),
        "stack", str(start, "stack"), "crystals",
        json_object_get(start, "crystals"), "measurements", (json_int_t)traces,
        "moves", (json_int_t)moves, "oven_commands", (json_int_t)commands,
        "fit", fit, "torn", torn, "fault",
        fault ? json_string(str(fault, "message")) : json_null(), "end", end));
  } else {
    printf("journal %s: calibration, started %s\n", path, str(start, "time"));
    printf("  lab %s\n  stack %s\n", str(start, "lab"), str(start, "stack"));
    printf("  %zu trace%s, %zu move%s, %zu oven command%s%s\n", traces,
           traces == 1 ? "" : "s", moves, moves == 1 ? "" : "s", commands,
           commands == 1 ? "" : "s",
           torn ? "; the last record is torn (a crash mid-write)" : "");
    if (fit != NULL)
      printf("  fit residual %.4f\n",
             json_number_value(json_object_get(fit, "residual_rms")));
    if (fault != NULL)
      printf("  fault: %s\n", str(fault, "message"));
    if (end != NULL) {
      printf("  ended: %s (%s)\n", str(end, "status"), str(end, "message"));
      print_holding(end);
    } else {
      printf("  no end record: the calibration was cut off\n");
    }
  }
  if (rc == CLI_OK && plot != NULL)
    rc = plot_commands(path, plot, recs);
  return rc;
}

static int show(const char *path, const char *plot, bool json) {
  json_t *recs;
  size_t valid;
  bool torn;
  if (shp_journal_read(path, &recs, &valid, &torn) != SHP_OK)
    return cli_fail_lib(shp_error_last());
  size_t n = json_array_size(recs);
  json_t *start = json_array_get(recs, 0);
  if (n > 0 && strcmp(str(start, "type"), "calibrate") == 0) {
    int rc = show_calibration(path, recs, torn, plot, json);
    json_decref(recs);
    return rc;
  }
  if (n == 0 || strcmp(str(start, "type"), "start") != 0) {
    json_decref(recs);
    cli_error("journal: %s: not a run or calibration journal (no start "
              "record)",
              path);
    return CLI_USAGE;
  }
  double *it = calloc(n, sizeof *it), *err = calloc(n, sizeof *err);
  double *pit = calloc(n, sizeof *pit), *pred = calloc(n, sizeof *pred);
  if (it == NULL || err == NULL || pit == NULL || pred == NULL) {
    free(it);
    free(err);
    free(pit);
    free(pred);
    json_decref(recs);
    return cli_fail_lib(shp_error_set(SHP_ERR_NOMEM, "out of memory"));
  }
  size_t nm = 0, np = 0, fits = 0, resumes = 0, commands = 0;
  json_t *end = NULL, *fault = NULL;
  cli_convergence conv = {0};
  if (cli_convergence_alloc(&conv, n) != CLI_OK) {
    free(it);
    free(err);
    free(pit);
    free(pred);
    json_decref(recs);
    return CLI_FAILURE;
  }
  size_t nh = 0;
  json_t *last_fit = NULL;
  for (size_t k = 0; k < n; k++) {
    json_t *r = json_array_get(recs, k);
    const char *t = str(r, "type");
    double i = json_number_value(json_object_get(r, "iteration"));
    /* Numbers JSON cannot hold are null: not measured, not predicted. */
    json_t *e = json_object_get(r, "error");
    json_t *pe = json_object_get(r, "predicted_error");
    if (strcmp(t, "measure") == 0 && json_is_number(e)) {
      it[nm] = i;
      err[nm++] = json_number_value(e);
    } else if (strcmp(t, "plan") == 0) {
      double p = json_is_number(pe) ? json_number_value(pe) : -1;
      if (p >= 0) {
        pit[np] = i + 1;
        pred[np++] = p;
      }
    } else if (strcmp(t, "fit") == 0) {
      fits++;
      last_fit = r;
    } else if (strcmp(t, "verdict") == 0 && last_fit != NULL) {
      /* A verdict judges the fit just before it. */
      conv.moves[nh] = i;
      conv.residual[nh] = num(last_fit, "trace_residual");
      conv.noise[nh] = num(last_fit, "noise_level");
      conv.best[nh] = num(r, "best_error");
      conv.best_sigma[nh] = num(r, "best_sigma");
      conv.worst[nh] = num(r, "worst_error");
      conv.worst_sigma[nh++] = num(r, "worst_sigma");
      last_fit = NULL;
    } else if (strcmp(t, "resume") == 0) {
      resumes++;
    } else if (strcmp(t, "oven_command") == 0) {
      commands++;
    } else if (strcmp(t, "fault") == 0) {
      fault = r;
    } else if (strcmp(t, "end") == 0) {
      end = r;
    }
  }
  int rc = CLI_OK;
  if (json) {
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:b, s:o, s:O?}",
        "journal", path, "kind", "run", "lab", str(start, "lab"), "stack",
        str(start, "stack"), "mode", str(start, "mode"), "errors",
        out_array(err, nm), "measurements", (json_int_t)nm, "fits",
        (json_int_t)fits, "resumes", (json_int_t)resumes, "oven_commands",
        (json_int_t)commands, "torn", torn, "fault",
        fault ? json_string(str(fault, "message")) : json_null(), "end", end);
    rc = cli_print_json(o);
  } else {
    printf("journal %s: %s run, started %s\n", path, str(start, "mode"),
           str(start, "time"));
    printf("  lab %s\n  stack %s\n  target %s\n", str(start, "lab"),
           str(start, "stack"), str(start, "target"));
    for (size_t k = 0; k < nm; k++)
      printf("  moves %3.0f  measured error %.4f\n", it[k], err[k]);
    printf("  %zu fit%s, %zu resume%s, %zu oven command%s%s\n", fits,
           fits == 1 ? "" : "s", resumes, resumes == 1 ? "" : "s", commands,
           commands == 1 ? "" : "s",
           torn ? "; the last record is torn (a crash mid-write)" : "");
    if (fault != NULL)
      printf("  fault: %s\n", str(fault, "message"));
    if (end != NULL) {
      printf("  ended: %s\n", str(end, "message"));
      print_holding(end);
    } else
      printf("  no end record: the run was cut off (shapectl run --resume "
             "%s continues it)\n",
             path);
  }
  if (rc == CLI_OK && plot != NULL && nm > 0) {
    conv.count = nh;
    cli_convergence_panel(&conv, num(start, "tolerance"));
    shp_plot_series s[] = {
        {it, err, nm, "measured autocorrelation error", SHP_PLOT_LINE, 0},
        /* The plans' predictions: the best solution's intensity error at
         * the move (a model-free plan predicts nothing). */
        {pit, pred, np, "predicted intensity error at the move",
         SHP_PLOT_DASHED, 1}};
    shp_plot_panel panels[3] = {conv.predicted,
                                conv.trace,
                                {.title = "Measured error",
                                 .xlabel = "oven moves",
                                 .ylabel = "error (relative RMS)",
                                 .series = s,
                                 .series_count = np > 0 ? 2 : 1,
                                 .integer_x = true}};
    /* A model-free run fits nothing: its measured error alone. */
    shp_plot_figure fig = {.title = path,
                           .panels = nh > 0 ? panels : panels + 2,
                           .panel_count = nh > 0 ? 3 : 1};
    int prc = shp_plot_save(&fig, plot, 900, nh > 0 ? 1200 : 500);
    if (prc != SHP_OK)
      rc = cli_fail_lib(prc);
    else if (nh > 0)
      fprintf(stderr,
              "shapectl: wrote %s: convergence over %zu fit%s, measured "
              "error over %zu trace%s\n",
              plot, nh, nh == 1 ? "" : "s", nm, nm == 1 ? "" : "s");
    else
      fprintf(stderr, "shapectl: wrote %s: measured error over %zu trace%s\n",
              plot, nm, nm == 1 ? "" : "s");
  }
  cli_convergence_free(&conv);
  free(it);
  free(err);
  free(pit);
  free(pred);
  json_decref(recs);
  return rc;
}

static int journal_show(int argc, char **argv) {
  const char *plot = NULL;
  bool json = false;
  cli_opt opts[] = {CLI_OPT("plot", CLI_STRING, &plot),
                    CLI_OPT("json", CLI_FLAG, &json), CLI_OPT_END};
  char *pos[1] = {NULL};
  size_t count = 0;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &count);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if (count != 1) {
    cli_error("journal show: expected one journal file");
    return CLI_USAGE;
  }
  if (plot != NULL && !cli_plot_path_ok(plot))
    return CLI_USAGE;
  return show(pos[0], plot, json);
}

int cmd_journal(int argc, char **argv) {
  static const cli_command table[] = {
      {"show", journal_show,
       "summary and plot of a run or calibration journal"},
      {NULL, NULL, NULL}};
  return cli_dispatch("journal", table, argc, argv);
}
