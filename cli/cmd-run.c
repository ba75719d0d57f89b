/* shapectl run: the closed loop on a lab (default: the simulated lab). */
#include "cli.h"
#include "lab-session.h"
#include "output.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/journal.h"
#include "shp/planning.h"
#include "shp/plot.h"
#include "shp/run.h"
#include "shp/simulation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: shapectl run [LAB.yml] --target TARGET.yml [--stack STACK.yml]\n"
    "           [--max-iterations N] [--tolerance X] [--averages N]\n"
    "           [--model-free] [--seed S] [--journal FILE | --resume FILE]\n"
    "           [--calibration FILE] [--force] [--json] [--plot FILE]\n"
    "\n"
    "Closed-loop shaping: each iteration acquires an averaged\n"
    "autocorrelation and fits the full model (per-crystal phase, azimuth\n"
    "and length errors, pulse width and GDD, the autocorrelator's delay\n"
    "scale and offset) to every trace so far, keeping every solution\n"
    "consistent with them (an autocorrelation cannot tell a pulse from its\n"
    "time reverse). It is converged only when the trace matches within its\n"
    "noise and every consistent solution predicts an output intensity within\n"
    "--tolerance of the target (relative RMS after the best shift and scale,\n"
    "default 0.02). While the solutions disagree, it moves the ovens where\n"
    "their predicted traces differ most per oven minute; once they agree, to\n"
    "the optimum. Before the first move it checks the target is reachable on\n"
    "the model within the lab's limits, and stops without moving when not\n"
    "(--force tries anyway). When the fitted model shows no setpoints would\n"
    "do better for any consistent solution, the run stops there, the ovens\n"
    "holding the stack's best (at_best in the JSON; status unreachable, or\n"
    "unconverged when the data cannot place it within --tolerance).\n"
    "--max-iterations bounds the oven moves (default 20; 200 with\n"
    "--model-free, a direct search on the measured autocorrelation error,\n"
    "converged on that error alone). Progress goes to stderr; --json prints\n"
    "the result, and on the simulated lab a separate\n"
    "sim_truth object (the true output, read after the run has decided).\n"
    "\n"
    "--journal FILE records every step (JSON Lines, synced before each\n"
    "action); --resume FILE continues an interrupted run from its journal\n"
    "(given the same --calibration). --calibration FILE starts the model\n"
    "from the crystal phases shapectl calibrate measured.\n"
    "Only one process at a time writes a journal: a second is refused\n"
    "before it touches a device. A resume must be given the same lab, stack,\n"
    "target and calibration files (compared by content) and the same\n"
    "--seed, --tolerance, --max-iterations, --averages and mode.\n"
    "Ctrl-C or a fault stops the run with every oven holding (exit 1).\n"
    "Without LAB.yml the simulated lab runs on --stack (default\n"
    "examples/stacks/design-flat-top-5ps.yml), its crystal errors hidden\n"
    "from the controller. --plot draws what the loop knows at the end:\n"
    "each consistent solution's predicted output pulse (up to 8) with its\n"
    "1-sigma band and predicted error, against the target; the measured\n"
    "and target autocorrelations; and per fit the trace residual against\n"
    "its noise and the predicted error range against --tolerance. On the\n"
    "simulated lab it adds the true output, which the loop never sees.\n"
    "\n"
    "Exit status: 0 converged; 3 the run finished cleanly without\n"
    "converging: status ambiguous, unreachable or unconverged (the JSON's\n"
    "status, reason and message say why); 1 a runtime failure (a device, a "
    "fault, a cancel, a journal or\n"
    "plot that cannot be written, a journal another process holds); 2 bad\n"
    "usage or input (a file that cannot be read, a damaged journal or one\n"
    "of another run).\n";

/* Exit status of a run that finished cleanly short of its goal. */
enum { RUN_EXIT_UNCONVERGED = 3 };

typedef struct {
  const char *lab, *target, *stack, *journal, *resume, *plot, *calibration;
  size_t max_iterations, averages, seed;
  double tolerance;
  bool model_free, json, force;
} run_args;

typedef struct {
  double *delay, *signal, *target_ac;
  size_t count;
} last_trace;

static void on_progress(const shp_run_event *e, void *user) {
  last_trace *t = user;
  switch (e->kind) {
  case SHP_RUN_EV_MEASURED:
    fprintf(stderr, "shapectl: %s\n", e->message);
    if (e->trace != NULL && e->trace->count > 0) {
      size_t n = e->trace->count;
      double *d = realloc(t->delay, n * sizeof *d);
      if (d != NULL)
        t->delay = d;
      double *s = realloc(t->signal, n * sizeof *s);
      if (s != NULL)
        t->signal = s;
      double *a = realloc(t->target_ac, n * sizeof *a);
      if (a != NULL)
        t->target_ac = a;
      if (d == NULL || s == NULL || a == NULL) {
        t->count = 0;
        break;
      }
      memcpy(t->delay, e->trace->delay_ps, n * sizeof *d);
      memcpy(t->signal, e->trace->signal, n * sizeof *s);
      memcpy(t->target_ac, e->target_ac, n * sizeof *a);
      t->count = n;
    }
    break;
  case SHP_RUN_EV_FITTED:
  case SHP_RUN_EV_DECIDED:
  case SHP_RUN_EV_SETTLED:
    fprintf(stderr, "shapectl: %s\n", e->message);
    break;
  default: /* each poll of a move, and the end (reported by the caller) */
    break;
  }
}

/* The measured trace scaled onto the target's (best amplitude and
 * background), for the plot. */
static void scale_onto(const last_trace *t, double *out) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = (double)t->count;
  for (size_t k = 0; k < t->count; k++) {
    sx += t->signal[k];
    sy += t->target_ac[k];
    sxx += t->signal[k] * t->signal[k];
    sxy += t->signal[k] * t->target_ac[k];
  }
  double det = n * sxx - sx * sx;
  double a = det != 0 ? (n * sxy - sx * sy) / det : 1.0;
  double b = (sy - a * sx) / n;
  for (size_t k = 0; k < t->count; k++)
    out[k] = a * t->signal[k] + b;
}

/* The simulated lab's hidden truth simulated at the run's final
 * setpoints, read only once the run has decided (the controller never
 * sees it). NULL on a real lab or when it cannot be simulated. */
static shp_simulation *sim_truth_at_end(const cli_lab *h,
                                        const shp_target *target,
                                        const shp_run_result *r) {
  if (shp_lab_sim_speedup(h->lab) < 0 || r->setpoints_c == NULL)
    return NULL;
  shp_stack *truth = shp_lab_sim_truth(h->lab);
  if (truth == NULL)
    return NULL;
  for (size_t i = 0; i < truth->crystal_count && i < r->crystal_count; i++)
    truth->crystals[i].temperature_c = r->setpoints_c[i];
  shp_simulation *sim = shp_simulate(truth, target, false);
  shp_stack_free(truth);
  return sim;
}

/* The same, moved and scaled onto the target as its error measures it and
 * divided by the target's peak: on the footing of the predictions. */
static shp_simulation *sim_truth_on_target(const cli_lab *h,
                                           const shp_target *target,
                                           const shp_run_result *r) {
  shp_simulation *sim = sim_truth_at_end(h, target, r);
  if (sim == NULL || sim->target == NULL) {
    shp_simulation_free(sim);
    return NULL;
  }
  double peak = 0;
  for (size_t j = 0; j < sim->n; j++)
    peak = fmax(peak, sim->target[j]);
  for (size_t j = 0; j < sim->n && peak > 0; j++) {
    sim->time_ps[j] += sim->metrics.error_shift_ps;
    sim->intensity[j] *= sim->metrics.error_scale / peak;
    sim->target[j] /= peak;
  }
  return sim;
}

/* Palette colours of the solutions: not the target's (1) nor the
 * truth's (6, black); more solutions than colours repeat them. */
static const int solution_color[SHP_RUN_MAX_PREDICTIONS] = {0, 2, 3, 4,
                                                            5, 7, 0, 2};

/* Each solution's band, as the outline a band series fills. */
static int band_outline(const shp_run_prediction *p, double **x, double **y) {
  size_t n = p->point_count;
  *x = malloc(2 * n * sizeof **x);
  *y = malloc(2 * n * sizeof **y);
  if (*x == NULL || *y == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t j = 0; j < n; j++) {
    (*x)[j] = (*x)[2 * n - 1 - j] = p->time_ps[j];
    (*y)[j] = p->intensity[j] + p->sigma[j];
    (*y)[2 * n - 1 - j] = p->intensity[j] - p->sigma[j];
  }
  return SHP_OK;
}

/* The output pulse as the loop knows it: each consistent solution's
 * predicted intensity with its 1-sigma band and its predicted error, the
 * target, and on the simulated lab its true output (which the loop never
 * sees); the measured and the target autocorrelation; the convergence per
 * fit. */
static int plot_run(const char *file, const cli_lab *h,
                    const shp_target *target, const shp_run_result *r,
                    const last_trace *t, double tolerance) {
  double *scaled = calloc(t->count ? t->count : 1, sizeof *scaled);
  size_t np = r->prediction_count;
  double *bx[SHP_RUN_MAX_PREDICTIONS] = {0}, *by[SHP_RUN_MAX_PREDICTIONS] = {0};
  char labels[SHP_RUN_MAX_PREDICTIONS][96];
  shp_plot_series pulse[2 * SHP_RUN_MAX_PREDICTIONS + 2];
  cli_convergence conv = {0};
  shp_simulation *sim = NULL;
  int rc = scaled ? SHP_OK : shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t k = 0; k < np && rc == SHP_OK; k++)
    rc = band_outline(&r->predictions[k], &bx[k], &by[k]);
  if (rc != SHP_OK) {
    rc = cli_fail_lib(rc);
    goto done;
  }
  if (r->history_count > 0 &&
      (rc = cli_convergence_alloc(&conv, r->history_count)) != CLI_OK)
    goto done;
  scale_onto(t, scaled);
  sim = sim_truth_on_target(h, target, r);
  size_t ns = 0;
  /* Bands first, so every line is drawn over them. */
  for (size_t k = 0; k < np; k++) {
    const shp_run_prediction *p = &r->predictions[k];
    pulse[ns++] = (shp_plot_series){bx[k], by[k],         2 * p->point_count,
                                    NULL,  SHP_PLOT_BAND, solution_color[k]};
  }
  for (size_t k = 0; k < np; k++) {
    const shp_run_prediction *p = &r->predictions[k];
    snprintf(labels[k], sizeof labels[k], "solution %zu: error %.4f +- %.4f",
             k + 1, p->error, p->error_sigma);
    pulse[ns++] =
        (shp_plot_series){p->time_ps, p->intensity,  p->point_count,
                          labels[k],  SHP_PLOT_LINE, solution_color[k]};
  }
  if (r->target_count > 0)
    pulse[ns++] =
        (shp_plot_series){r->target_time_ps, r->target,       r->target_count,
                          "target",          SHP_PLOT_DASHED, 1};
  else if (sim != NULL)
    pulse[ns++] = (shp_plot_series){sim->time_ps, sim->target,     sim->n,
                                    "target",     SHP_PLOT_DASHED, 1};
  if (sim != NULL)
    pulse[ns++] = (shp_plot_series){
        sim->time_ps,    sim->intensity,
        sim->n,          "truth (simulated lab, unseen by the loop)",
        SHP_PLOT_DOTTED, 6};
  for (size_t k = 0; k < r->history_count; k++) {
    const shp_run_history *e = &r->history[k];
    conv.moves[k] = (double)e->iteration;
    conv.residual[k] = e->trace_residual;
    conv.noise[k] = e->trace_noise;
    conv.best[k] = e->best;
    conv.best_sigma[k] = e->best_sigma;
    conv.worst[k] = e->worst;
    conv.worst_sigma[k] = e->worst_sigma;
  }
  if (r->history_count > 0)
    cli_convergence_panel(&conv, tolerance);
  shp_plot_series ac[] = {
      {t->delay, scaled, t->count, "measured", SHP_PLOT_LINE, 0},
      {t->delay, t->target_ac, t->count, "target", SHP_PLOT_DASHED, 1}};
  shp_plot_panel panels[4];
  size_t npanels = 0;
  bool has_pulse = np > 0 || sim != NULL;
  if (has_pulse)
    panels[npanels++] = (shp_plot_panel){
        .title =
            np > 0 ? "Predicted output pulses (1-sigma bands), final setpoints"
                   : "Output pulse at the final setpoints",
        .xlabel = "time (ps)",
        .ylabel = "intensity (target peak 1)",
        .series = pulse,
        .series_count = ns};
  panels[npanels++] = (shp_plot_panel){.title = "Autocorrelation",
                                       .xlabel = "delay (ps)",
                                       .ylabel = "autocorrelation",
                                       .series = ac,
                                       .series_count = 2};
  if (r->history_count > 0) {
    panels[npanels++] = conv.predicted;
    panels[npanels++] = conv.trace;
  }
  char title[600];
  snprintf(title, sizeof title, "%s%s", r->message,
           sim ? "" : " (no simulated truth to show)");
  shp_plot_figure fig = {
      .title = title, .panels = panels, .panel_count = npanels};
  /* Four panels are a grid of two by two. */
  int prc = shp_plot_save(&fig, file, npanels > 3 ? 1600 : 1200,
                          npanels > 3 ? 1000 : 100 + 400 * (double)npanels);
  if (prc != SHP_OK) {
    rc = cli_fail_lib(prc);
    goto done;
  }
  /* What was drawn, in words: the file's text is outlines. */
  fprintf(stderr, "shapectl: wrote %s: ", file);
  if (np > 0)
    fprintf(stderr,
            "the predicted intensity with its 1-sigma band of %zu consistent "
            "solution%s, ",
            np, np == 1 ? "" : "s");
  fprintf(stderr,
          "%sthe target, the measured and the target "
          "autocorrelations",
          sim ? "the simulated lab's truth, " : "");
  if (r->history_count > 0)
    fprintf(stderr, ", convergence over %zu fit%s and %zu oven move%s",
            r->history_count, r->history_count == 1 ? "" : "s", r->iterations,
            r->iterations == 1 ? "" : "s");
  fprintf(stderr, "\n");
  rc = CLI_OK;
done:
  for (size_t k = 0; k < np; k++) {
    free(bx[k]);
    free(by[k]);
  }
  cli_convergence_free(&conv);
  free(scaled);
  shp_simulation_free(sim);
  return rc;
}

static json_t *decisions_json(const shp_run_result *r) {
  json_t *a = json_array();
  for (size_t k = 0; k < r->decision_count && a != NULL; k++) {
    const shp_run_decision *d = &r->decisions[k];
    json_array_append_new(
        a, json_pack("{s:I, s:s, s:o, s:s}", "iteration",
                     (json_int_t)d->iteration, "kind", d->kind, "minutes",
                     out_number(d->minutes), "reason", d->reason));
  }
  return a;
}

/* The simulated lab's truth at the final setpoints, read only now that
 * the run has decided (the controller never sees it): the true output's
 * error against the target and its metrics. NULL on a real lab. */
static json_t *sim_truth_json(const cli_lab *h, const shp_target *target,
                              const shp_run_result *r) {
  shp_simulation *sim = sim_truth_at_end(h, target, r);
  json_t *o = NULL;
  if (sim != NULL)
    o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "note",
                  "the simulated lab's hidden truth, read after the run "
                  "decided; the controller never reads it",
                  "intensity_error", out_number(sim->metrics.error), "fwhm_ps",
                  out_number(sim->metrics.fwhm_ps), "rise_time_ps",
                  out_number(sim->metrics.rise_time_ps), "fall_time_ps",
                  out_number(sim->metrics.fall_time_ps), "ripple",
                  out_number(sim->metrics.ripple), "transmission",
                  out_number(sim->metrics.transmission));
  shp_simulation_free(sim);
  return o;
}

static int print_result(const shp_run_result *r, const run_args *a,
                        const cli_lab *h, const shp_target *target) {
  if (!a->json) {
    printf("%s\n", r->message);
    for (size_t i = 0; i < r->crystal_count; i++) {
      printf("crystal %zu  setpoint %.4f C", i, r->setpoints_c[i]);
      if (r->phase_offsets_rad != NULL)
        printf("  fitted phase offset %+.4f rad", r->phase_offsets_rad[i]);
      printf("\n");
    }
    return CLI_OK;
  }
  json_t *o = json_pack(
      "{s:s, s:s?, s:b, s:I, s:o, s:s, s:o, s:o, s:s}", "status",
      shp_run_status_name(r->status), "reason",
      r->code == SHP_OK && !r->converged ? r->reason : NULL, "converged",
      r->converged, "iterations", (json_int_t)r->iterations, "final_error",
      out_number(r->final_error), "mode",
      a->model_free ? "model-free" : "model", "setpoints_c",
      out_array(r->setpoints_c, r->crystal_count), "phase_offsets_rad",
      r->phase_offsets_rad ? out_array(r->phase_offsets_rad, r->crystal_count)
                           : json_null(),
      "message", r->message);
  if (o == NULL)
    return cli_print_json(o);
  json_object_set_new(o, "at_best", json_boolean(r->at_best));
  json_object_set_new(o, "trace_error", out_number(r->final_error));
  json_object_set_new(o, "trace_residual", out_number(r->trace_residual));
  json_object_set_new(o, "trace_noise", out_number(r->trace_noise));
  json_object_set_new(o, "predicted_intensity_error",
                      json_pack("{s:o, s:o, s:o, s:o}", "best",
                                out_number(r->predicted_best), "best_sigma",
                                out_number(r->predicted_best_sigma), "worst",
                                out_number(r->predicted_worst), "worst_sigma",
                                out_number(r->predicted_worst_sigma)));
  json_object_set_new(o, "solutions",
                      json_integer((json_int_t)r->solution_count));
  json_object_set_new(
      o, "identifiability",
      json_pack("{s:I, s:I, s:s}", "parameters", (json_int_t)r->parameter_count,
                "data_determined", (json_int_t)r->data_determined, "report",
                r->identifiability));
  json_object_set_new(
      o, "reachability",
      r->reach_checked
          ? json_pack("{s:b, s:o, s:s, s:b}", "reachable", r->reachable,
                      "best_error", out_number(r->reach_best_error), "summary",
                      r->reach_summary, "forced", a->force)
          : json_null());
  json_object_set_new(o, "decisions", decisions_json(r));
  json_t *truth = sim_truth_json(h, target, r);
  if (truth != NULL)
    json_object_set_new(o, "sim_truth", truth);
  return cli_print_json(o);
}

static int parse(int argc, char **argv, run_args *a) {
  *a = (run_args){.tolerance = 0.02, .seed = 1};
  bool seen_tol = false;
  cli_opt opts[] = {
      CLI_OPT("target", CLI_STRING, &a->target),
      CLI_OPT("stack", CLI_STRING, &a->stack),
      CLI_OPT("max-iterations", CLI_SIZE, &a->max_iterations),
      CLI_OPT_SEEN("tolerance", CLI_DOUBLE, &a->tolerance, &seen_tol),
      CLI_OPT("averages", CLI_SIZE, &a->averages),
      CLI_OPT("seed", CLI_SIZE, &a->seed),
      CLI_OPT("model-free", CLI_FLAG, &a->model_free),
      CLI_OPT("force", CLI_FLAG, &a->force),
      CLI_OPT("journal", CLI_STRING, &a->journal),
      CLI_OPT("resume", CLI_STRING, &a->resume),
      CLI_OPT("json", CLI_FLAG, &a->json),
      CLI_OPT("plot", CLI_STRING, &a->plot),
      CLI_OPT("calibration", CLI_STRING, &a->calibration),
      CLI_OPT_END};
  char *pos[1] = {NULL};
  size_t count = 0;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &count);
  if (rc != CLI_OK)
    return rc;
  a->lab = pos[0];
  if (count > 1 || a->target == NULL) {
    cli_error("run: expected [LAB.yml] and --target TARGET.yml");
    return CLI_USAGE;
  }
  if (!(a->tolerance > 0 && a->tolerance < 1)) {
    cli_error("run: --tolerance must be between 0 and 1, got %g", a->tolerance);
    return CLI_USAGE;
  }
  if (a->journal != NULL && a->resume != NULL) {
    cli_error("run: --journal and --resume exclude each other (a resumed "
              "run appends to the journal it resumes)");
    return CLI_USAGE;
  }
  if (a->lab != NULL && a->stack != NULL) {
    cli_error("run: --stack is for the simulated lab; LAB.yml names its "
              "own stack");
    return CLI_USAGE;
  }
  if (a->plot != NULL && !cli_plot_path_ok(a->plot))
    return CLI_USAGE;
  return CLI_OK;
}

/* Every output must be writable before the first oven moves: a plot or a
 * journal refused at the end would throw the run away. */
static int check_outputs(const run_args *a) {
  const char *paths[] = {a->plot, a->journal};
  for (size_t k = 0; k < 2; k++)
    if (paths[k] != NULL && shp_file_check_writable(paths[k]) != SHP_OK)
      return cli_fail_lib(shp_error_last());
  /* A journal another process holds, or one that exists, is refused
   * before the lab's devices are opened (the run takes it itself). */
  if ((a->journal != NULL && shp_journal_probe(a->journal, false) != SHP_OK) ||
      (a->resume != NULL && shp_journal_probe(a->resume, true) != SHP_OK))
    return cli_fail_lib(shp_error_last());
  return CLI_OK;
}

int cmd_run(int argc, char **argv) {
  run_args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if ((rc = check_outputs(&a)) != CLI_OK)
    return rc;
  /* Every process plans alike, so a resumed run recomputes exactly. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  shp_target *target = shp_target_load(a.target);
  if (target == NULL)
    return cli_fail_lib(shp_error_last());
  shp_calibration *cal = NULL;
  if (a.calibration != NULL &&
      (rc = cli_load_calibration(a.calibration, &cal)) != CLI_OK) {
    shp_target_free(target);
    return rc;
  }
  cli_lab h;
  const char *stack =
      a.stack ? a.stack : "examples/stacks/design-flat-top-5ps.yml";
  rc = cli_lab_open(a.lab, stack, &h);
  h.quiet = true;
  if (rc != CLI_OK) {
    cli_lab_close(&h);
    shp_target_free(target);
    shp_calibration_free(cal);
    return rc;
  }
  shp_run_spec spec = {.lab = h.lab,
                       .target = target,
                       .mode =
                           a.model_free ? SHP_RUN_MODEL_FREE : SHP_RUN_MODEL,
                       .max_iterations = a.max_iterations,
                       .tolerance = a.tolerance,
                       .averages = a.averages,
                       .seed = a.seed,
                       .journal_path = a.journal,
                       .resume_path = a.resume,
                       .calibration = cal,
                       .force = a.force};
  last_trace t = {0};
  shp_run_result r = {.final_error = NAN};
  int lrc;
  shp_run_machine *m = shp_run_new(h.session, &spec);
  if (m == NULL) {
    lrc = r.code = shp_error_last();
    snprintf(r.message, sizeof r.message, "%s", shp_error_detail());
  } else {
    /* Stepped, each event printed as it comes; a Ctrl-C cancels through
     * the supervisor and ends the run at its next step. */
    shp_run_event ev;
    do {
      shp_run_step(m, &ev);
      on_progress(&ev, &t);
    } while (!shp_run_event_terminal(ev.kind));
    lrc = shp_run_take_result(m, &r);
    shp_run_free(m);
  }
  if (lrc == SHP_OK)
    fprintf(stderr, "shapectl: %s\n", r.message);
  /* After a fault the setpoints reached are worth printing; a run refused
   * before it touched the lab has none. */
  if (r.setpoints_c != NULL && (lrc == SHP_OK || isfinite(r.final_error) ||
                                shp_supervisor_fault(h.sup) != NULL)) {
    int prc = print_result(&r, &a, &h, target);
    if (a.plot != NULL && t.count > 0 && r.setpoints_c != NULL) {
      int plrc = plot_run(a.plot, &h, target, &r, &t, a.tolerance);
      if (prc == CLI_OK)
        prc = plrc;
    }
    if (lrc == SHP_OK)
      rc = prc != CLI_OK ? prc : r.converged ? CLI_OK : RUN_EXIT_UNCONVERGED;
  }
  if (lrc != SHP_OK) {
    /* A journal of another run, or one that is damaged, is bad input; a
     * device, a fault or a disk is a runtime failure. */
    cli_error("%s", r.message);
    rc = shp_error_class_of(lrc) == SHP_ERROR_CLASS_INPUT ? CLI_USAGE
                                                          : CLI_FAILURE;
  }
  shp_run_result_clear(&r);
  free(t.delay);
  free(t.signal);
  free(t.target_ac);
  cli_lab_close(&h);
  shp_target_free(target);
  shp_calibration_free(cal);
  return rc;
}
