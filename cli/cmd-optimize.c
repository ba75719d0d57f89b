/* shapectl optimize: temperatures, angles (and lengths) that reach a target
 * on the full physical model. */
#include "cli.h"
#include "output.h"
#include "verdict.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"
#include "shp/optimize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: shapectl optimize STACK.yml --target TARGET.yml\n"
    "           --vary temperature[,azimuth][,polarizer][,length]\n"
    "           [--starts N] [--seed S] [--method simplex|bfgs|lm]\n"
    "           [--weight-transmission W] [--max-ripple R] [--weight-ripple "
    "W]\n"
    "           [--temperature-range-c MIN:MAX] [--length-range F]\n"
    "           [--length-step-mm S]\n"
    "           [--tolerance E] [--out RESULT.yml] [--json] [--plot FILE]\n"
    "           [--calibration FILE]\n"
    "\n"
    "Minimise e^2 + W_T (1 - T)^2 + W_r max(0, ripple - R)^2 on the full "
    "model\n"
    "(e: RMS error against the target after the best shift and scale, T: "
    "energy\n"
    "transmission). Temperatures stay inside the allowed range and one phase\n"
    "period around their start; angles within a half-turn; lengths within F\n"
    "(default 0.1) of their start. A local method (default simplex) runs\n"
    "briefly from the stack's own values and N-1 Sobol points (default\n"
    "N = 64), the best six are run to convergence; the same for the same\n"
    "seed. Progress goes to stderr. The result is a stack file\n"
    "that simulate accepts. The target counts as reached when e <= E "
    "(default:\n"
    "the target file's max_error, else 0.05), the ripple <= R when\n"
    "--max-ripple (or the target's max_ripple) is given, and the transmission\n"
    ">= the target's min_transmission when given; otherwise the best result\n"
    "is still written, with a message, and the JSON's status is\n"
    "\"not_reached\" with the reason.\n"
    "--calibration FILE optimises the crystals as shapectl calibrate\n"
    "measured them (phase offsets and slopes), and the result carries them.\n"
    "\n"
    "Exit status: 0 the target was reached; 3 the search finished but did\n"
    "not reach it; 1 a runtime failure (a result that is not finite, a file\n"
    "that cannot be written: nothing is written then); 2 bad usage or input.\n";

typedef struct {
  const char *stack, *target, *out, *plot, *method, *calibration;
  unsigned vary;
  size_t starts;
  unsigned long seed;
  double w_t, ripple_max, w_r, length_range, length_step, tolerance;
  double trange[2]; /* allowed temperatures, NAN when not given */
  bool json, tolerance_set;
} args;

static bool parse_vary(const char *name, const char *text, void *dest) {
  unsigned *vary = dest;
  /* A copy as long as the option: a fixed buffer would cut a long list. */
  char *buf = strdup(text);
  if (buf == NULL) {
    cli_error("out of memory");
    return false;
  }
  *vary = 0;
  bool ok = true;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strcmp(t, "temperature") == 0)
      *vary |= SHP_VARY_TEMPERATURE;
    else if (strcmp(t, "azimuth") == 0)
      *vary |= SHP_VARY_AZIMUTH;
    else if (strcmp(t, "polarizer") == 0)
      *vary |= SHP_VARY_POLARIZER;
    else if (strcmp(t, "length") == 0)
      *vary |= SHP_VARY_LENGTH;
    else {
      cli_error("--vary: unknown variable \"%s\" (temperature, azimuth, "
                "polarizer, length)",
                t);
      ok = false;
      break;
    }
  }
  free(buf);
  return ok && *vary != 0;
}

/* MIN:MAX into the args' tmin and tmax. */
static bool parse_range(const char *name, const char *text, void *dest) {
  double *lo = dest, *hi = lo + 1;
  char *end;
  *lo = shp_strtod(text, &end);
  if (end == text || *end != ':' || !isfinite(*lo))
    goto bad;
  const char *rest = end + 1;
  *hi = shp_strtod(rest, &end);
  if (end == rest || *end != '\0' || !isfinite(*hi) || !(*hi > *lo))
    goto bad;
  return true;
bad:
  cli_error("--temperature-range-c: expected MIN:MAX with MIN < MAX, got "
            "\"%s\"",
            text);
  return false;
}

static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->starts = 64;
  a->trange[0] = a->trange[1] = NAN;
  a->tolerance = 0.05;
  a->w_r = 100.0;
  a->method = "simplex";
  size_t seed = 0;
  const cli_opt opts[] = {
      CLI_OPT("target", CLI_STRING, &a->target),
      CLI_OPT_PARSE("vary", parse_vary, &a->vary),
      CLI_OPT("starts", CLI_SIZE, &a->starts),
      CLI_OPT("seed", CLI_SIZE, &seed),
      CLI_OPT("method", CLI_STRING, &a->method),
      CLI_OPT("weight-transmission", CLI_DOUBLE, &a->w_t),
      CLI_OPT("max-ripple", CLI_DOUBLE, &a->ripple_max),
      CLI_OPT("weight-ripple", CLI_DOUBLE, &a->w_r),
      CLI_OPT_PARSE("temperature-range-c", parse_range, a->trange),
      CLI_OPT("length-range", CLI_DOUBLE, &a->length_range),
      CLI_OPT("length-step-mm", CLI_DOUBLE, &a->length_step),
      CLI_OPT_SEEN("tolerance", CLI_DOUBLE, &a->tolerance, &a->tolerance_set),
      CLI_OPT("out", CLI_STRING, &a->out),
      CLI_OPT("json", CLI_FLAG, &a->json),
      CLI_OPT("plot", CLI_STRING, &a->plot),
      CLI_OPT("calibration", CLI_STRING, &a->calibration),
      CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  a->seed = seed;

  if (npos != 1 || a->target == NULL || a->vary == 0) {
    cli_error("optimize: expected one stack file, --target and --vary");
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  if (a->starts < 1 || a->w_t < 0 || a->w_r < 0 || a->length_range < 0 ||
      a->length_range >= 1 || a->length_step < 0) {
    cli_error("optimize: --starts must be >= 1, weights >= 0 and "
              "--length-range in [0, 1)");
    return CLI_USAGE;
  }
  if (!(a->tolerance > 0)) {
    cli_error("--tolerance: must be > 0, got %g", a->tolerance);
    return CLI_USAGE;
  }
  if (shp_local_type_find(a->method) == NULL) {
    cli_error("--method: expected simplex, bfgs or lm, got \"%s\"", a->method);
    return CLI_USAGE;
  }
  a->stack = pos[0];
  if (a->plot != NULL && !cli_plot_path_ok(a->plot))
    return CLI_USAGE;
  /* Refused before the search, not after it. */
  const char *outputs[] = {a->out, a->plot};
  for (size_t i = 0; i < 2; i++)
    if (outputs[i] != NULL && shp_file_check_writable(outputs[i]) != SHP_OK)
      return cli_fail_lib(shp_error_last());
  return CLI_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  shp_problem *p;
  double *x0, *x;
  shp_metrics before, after;
  double f0, f;
  double seconds;
  cli_verdict verdict;
} outcome;

static int run_search(const args *a, shp_problem *p, outcome *o) {
  shp_search_opts so = {.local = shp_local_type_find(a->method),
                        .starts = a->starts,
                        .seed = a->seed};
  shp_search *s = shp_search_new(p, &so);
  if (s == NULL)
    return cli_fail_lib(shp_error_last());
  bool tty = isatty(STDERR_FILENO);
  double t0 = now_s(), shown = 0;
  int rc;
  while ((rc = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE) {
    if (tty && now_s() - shown > 0.2) {
      shown = now_s();
      fprintf(stderr, "\roptimize: start %zu/%zu, best objective %.6g   ",
              shp_search_start_index(s) + 1, shp_search_start_count(s),
              shp_search_best(s, NULL));
    }
  }
  o->seconds = now_s() - t0;
  if (tty)
    fputc('\n', stderr);
  o->f = shp_search_best(s, o->x);
  shp_search_free(s);
  if (rc < 0)
    return cli_fail_lib(rc);
  return CLI_OK;
}

/* Lengths from a catalogue: round each to the step (inside its bounds),
 * hold it there, and search the other variables again from that point. */
static int snap_lengths(const args *a, outcome *o) {
  if (!(a->vary & SHP_VARY_LENGTH) || !(a->length_step > 0))
    return CLI_OK;
  size_t n = shp_problem_size(o->p);
  double *lo = calloc(n, sizeof *lo), *hi = calloc(n, sizeof *hi);
  if (lo == NULL || hi == NULL) {
    free(lo);
    free(hi);
    cli_error("out of memory");
    return CLI_FAILURE;
  }
  shp_problem_bounds(o->p, lo, hi);
  for (size_t i = 0; i < n; i++) {
    if (strstr(shp_problem_name(o->p, i), "length_mm") == NULL)
      continue;
    double step = a->length_step, v = round(o->x[i] / step) * step;
    if (v > hi[i])
      v = floor(hi[i] / step) * step;
    if (v < lo[i])
      v = ceil(lo[i] / step) * step;
    if (v < lo[i] || v > hi[i])
      v = o->x[i]; /* no catalogue length inside the range */
    shp_problem_fix(o->p, i, v);
    o->x[i] = v;
  }
  free(lo);
  free(hi);
  double seconds = o->seconds;
  int rc = run_search(a, o->p, o);
  o->seconds += seconds;
  return rc;
}

static json_t *result_json(const args *a, const outcome *o) {
  json_t *vars = json_array();
  size_t n = shp_problem_size(o->p);
  double *lo = calloc(n, sizeof *lo), *hi = calloc(n, sizeof *hi);
  if (lo && hi)
    shp_problem_bounds(o->p, lo, hi);
  for (size_t i = 0; lo && hi && i < n; i++)
    json_array_append_new(
        vars,
        json_pack("{s:s, s:o, s:o, s:[o,o]}", "name", shp_problem_name(o->p, i),
                  "before", out_number(o->x0[i]), "after", out_number(o->x[i]),
                  "bounds", out_number(lo[i]), out_number(hi[i])));
  free(lo);
  free(hi);
  json_t *root = json_pack(
      "{s:o, s:o, s:{s:o, s:o}, s:o, s:I, s:o, s:s, s:I, s:I, s:b}", "before",
      out_metrics(&o->before), "after", out_metrics(&o->after), "objective",
      "before", out_number(o->f0), "after", out_number(o->f), "variables", vars,
      "evaluations", (json_int_t)shp_problem_evaluations(o->p), "wall_time_s",
      out_number(o->seconds), "method", a->method, "starts",
      (json_int_t)a->starts, "seed", (json_int_t)a->seed, "reached",
      o->verdict.reached);
  return cli_verdict_json(root, &o->verdict);
}

static void print_summary(const args *a, const outcome *o) {
  printf("optimized %zu variables with %s from %zu starts: %zu evaluations, "
         "%.2f s\n",
         shp_problem_size(o->p), a->method, a->starts,
         shp_problem_evaluations(o->p), o->seconds);
  printf("  %-34s %12s %12s\n", "", "before", "after");
  printf("  %-34s %12.4f %12.4f\n", "error", o->before.error, o->after.error);
  printf("  %-34s %12.4f %12.4f\n", "transmission", o->before.transmission,
         o->after.transmission);
  printf("  %-34s %12.4f %12.4f\n", "ripple", o->before.ripple,
         o->after.ripple);
  printf("  %-34s %12.4f %12.4f\n", "FWHM (ps)", o->before.fwhm_ps,
         o->after.fwhm_ps);
  for (size_t i = 0; i < shp_problem_size(o->p); i++)
    printf("  %-34s %12.4f %12.4f\n", shp_problem_name(o->p, i), o->x0[i],
           o->x[i]);
}

/* A result holding a non-finite number is a failure, and nothing of it is
 * written. */
static int check_finite(const outcome *o) {
  const char *names[] = {"objective", "error", "transmission"};
  double values[] = {o->f, o->after.error, o->after.transmission};
  int rc = cli_require_finite("optimize", names, values, 3);
  for (size_t i = 0; rc == CLI_OK && i < shp_problem_size(o->p); i++)
    rc = cli_require_finite(
        "optimize", (const char *[]){shp_problem_name(o->p, i)}, &o->x[i], 1);
  return rc;
}

static int report(const args *a, shp_stack *s, const shp_target *t,
                  outcome *o) {
  int rc = check_finite(o);
  if (rc != CLI_OK)
    return rc;
  cli_goal goal =
      cli_goal_of(t, a->tolerance, a->tolerance_set, 0.05, a->ripple_max);
  o->verdict = cli_judge(&goal, &o->after);
  if (!o->verdict.reached)
    cli_error("optimize: %s; the best result found is reported",
              o->verdict.reason);
  shp_problem_apply(o->p, o->x, s);
  if (a->out != NULL) {
    if (shp_stack_save(s, a->out) != SHP_OK)
      return cli_fail_lib(shp_error_last());
    fprintf(stderr, "shapectl: wrote %s\n", a->out);
  }
  if (a->plot != NULL) {
    shp_simulation *sim = shp_simulate(s, t, false);
    rc = sim ? cli_plot_simulation(a->plot, s, sim)
             : cli_fail_lib(shp_error_last());
    shp_simulation_free(sim);
    if (rc != CLI_OK)
      return rc;
  }
  if (a->json)
    rc = cli_print_json(result_json(a, o));
  else
    print_summary(a, o);
  if (rc == CLI_OK && !o->verdict.reached)
    rc = CLI_NOT_REACHED;
  return rc;
}

int cmd_optimize(int argc, char **argv) {
  args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_stack *s;
  shp_target *t;
  if ((rc = cli_load_inputs(a.stack, a.calibration, a.target, &s, &t)) !=
      CLI_OK)
    return rc;
  shp_problem_spec spec = {.stack = s,
                           .target = t,
                           .vary = a.vary,
                           .weight_transmission = a.w_t,
                           .ripple_max = a.ripple_max,
                           .weight_ripple = a.ripple_max > 0 ? a.w_r : 0,
                           .temperature_min_c = a.trange[0],
                           .temperature_max_c = a.trange[1],
                           .length_range = a.length_range};
  outcome o = {.p = shp_problem_new(&spec)};
  size_t n = o.p ? shp_problem_size(o.p) : 0;
  o.x0 = calloc(n + 1, sizeof *o.x0);
  o.x = calloc(n + 1, sizeof *o.x);
  if (o.p == NULL || o.x0 == NULL || o.x == NULL) {
    rc = cli_fail_lib(shp_error_last() ? shp_error_last() : SHP_ERR_NOMEM);
  } else {
    shp_problem_start(o.p, o.x0);
    o.f0 = shp_problem_eval(o.p, o.x0);
    rc = shp_problem_metrics(o.p, o.x0, &o.before);
    rc = rc == SHP_OK ? run_search(&a, o.p, &o) : cli_fail_lib(rc);
    if (rc == CLI_OK)
      rc = snap_lengths(&a, &o);
    if (rc == CLI_OK && shp_problem_metrics(o.p, o.x, &o.after) != SHP_OK)
      rc = cli_fail_lib(shp_error_last());
    if (rc == CLI_OK)
      rc = report(&a, s, t, &o);
  }
  free(o.x0);
  free(o.x);
  shp_problem_free(o.p);
  shp_target_free(t);
  shp_stack_free(s);
  return rc;
}
