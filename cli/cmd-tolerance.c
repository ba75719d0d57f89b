/* shapectl tolerance: Monte Carlo of a stack's metrics under fabrication
 * and mounting errors, and which errors matter most. */
#include "cli.h"
#include "output.h"
#include "verdict.h"

#include "shp/error.h"
#include "shp/planning.h"
#include "shp/tolerance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: shapectl tolerance STACK.yml --target TARGET.yml [--samples N]\n"
    "           [--sigma-azimuth-deg A] [--sigma-length-um L]\n"
    "           [--sigma-temperature-k T] [--seed S] [--threads N] [--json]\n"
    "\n"
    "Perturb every crystal's azimuth, length and temperature by independent\n"
    "Gaussian errors of standard deviation A degrees, L micrometres and T\n"
    "kelvin (each 0 unless given), N times (default 1000), and report the\n"
    "5th, 50th and 95th percentiles and the mean of the RMS error against\n"
    "the target, the ripple over its plateau and the transmission. The yield\n"
    "is the share of samples meeting the thresholds the target file gives\n"
    "(max_error, max_ripple, min_transmission). Which errors matter most\n"
    "comes from the metrics at the nominal stack: their Jacobian, each\n"
    "column scaled by its sigma, and each error alone moved one sigma either\n"
    "way (which a design at an optimum needs, where the Jacobian vanishes).\n"
    "Errors are ranked by the spread each causes alone, to second order;\n"
    "the singular values and vectors of the Jacobian give the combined\n"
    "errors that move the metrics most, to first order. Samples run on N\n"
    "threads (default: every core) and are the same for any N with the same\n"
    "seed (default 1). Progress goes to stderr when it is a terminal.\n"
    "\n"
    "Exit status: 0 the analysis ran (whatever its yield); 1 a runtime\n"
    "failure (the nominal stack or every sample not finite: nothing is\n"
    "printed then); 2 bad usage or input.\n";

typedef struct {
  const char *stack, *target;
  size_t samples, threads;
  unsigned long seed;
  shp_tolerance_sigma sigma;
  bool json;
} args;

static bool sigma_ok(const char *name, const char *text, void *dest) {
  double *out = dest;
  if (!cli_parse_double(name, text, out))
    return false;
  if (!(*out >= 0)) {
    cli_error("%s: must be >= 0, got %s", name, text);
    return false;
  }
  return true;
}

/* A whole number of at least 1. */
static bool at_least_one(const char *name, const char *text, void *dest) {
  size_t *out = dest;
  if (!cli_parse_size(name, text, out))
    return false;
  if (*out < 1) {
    cli_error("%s: must be >= 1, got %s", name, text);
    return false;
  }
  return true;
}

static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->samples = 1000;
  size_t seed = 1;
  const cli_opt opts[] = {
      CLI_OPT("target", CLI_STRING, &a->target),
      CLI_OPT_PARSE("samples", at_least_one, &a->samples),
      CLI_OPT_PARSE("sigma-azimuth-deg", sigma_ok, &a->sigma.azimuth_deg),
      CLI_OPT_PARSE("sigma-length-um", sigma_ok, &a->sigma.length_um),
      CLI_OPT_PARSE("sigma-temperature-k", sigma_ok, &a->sigma.temperature_k),
      CLI_OPT("seed", CLI_SIZE, &seed),
      CLI_OPT_PARSE("threads", at_least_one, &a->threads),
      CLI_OPT("json", CLI_FLAG, &a->json),
      CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  a->seed = seed;
  if (npos != 1 || a->target == NULL) {
    cli_error("tolerance: expected one stack file and --target");
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  a->stack = pos[0];
  return CLI_OK;
}

static void show_progress(size_t done, size_t total, void *user) {
  (void)user;
  fprintf(stderr, "\rtolerance: %zu/%zu samples   ", done, total);
  if (done == total)
    fputc('\n', stderr);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *thresholds_json(const shp_target *t) {
  return json_pack(
      "{s:o, s:o, s:o}", "max_error",
      t->has_max_error ? out_number(t->max_error) : json_null(), "max_ripple",
      t->has_max_ripple ? out_number(t->max_ripple) : json_null(),
      "min_transmission",
      t->has_min_transmission ? out_number(t->min_transmission) : json_null());
}

/* {"error": x, "ripple": y, "transmission": z} from v[m * stride]. */
static json_t *per_metric(const double *v, size_t stride) {
  json_t *o = json_object();
  for (int m = 0; m < SHP_TOL_METRICS; m++)
    json_object_set_new(o, shp_tolerance_metric_name(m),
                        out_number(v[(size_t)m * stride]));
  return o;
}

static json_t *sensitivity_json(const shp_tolerance_result *r, json_t *root) {
  size_t np = r->param_count;
  json_t *params = json_array(), *ranking = json_array(),
         *vectors = json_array();
  for (size_t j = 0; j < np; j++) {
    const shp_tolerance_param *q = &r->params[j];
    json_array_append_new(
        params, json_pack("{s:s, s:o, s:o, s:o}", "name", q->name, "sigma",
                          out_number(q->sigma), "jacobian",
                          per_metric(r->jacobian + j, np), "curvature",
                          per_metric(r->curvature + j, np)));
  }
  for (size_t k = 0; k < r->ranked_count; k++) {
    const shp_tolerance_param *q = &r->params[r->ranking[k]];
    json_array_append_new(ranking, json_pack("{s:s, s:o, s:o}", "name", q->name,
                                             "effect", out_number(q->effect),
                                             "linear", out_number(q->linear)));
  }
  for (size_t k = 0; k < r->sv_count; k++)
    json_array_append_new(
        vectors,
        json_pack("{s:o, s:o, s:o}", "value", out_number(r->singular_values[k]),
                  "metrics", per_metric(r->left + k * SHP_TOL_METRICS, 1),
                  "parameters", out_array(r->right + k * np, np)));
  json_object_set_new(root, "parameters", params);
  json_object_set_new(root, "ranking", ranking);
  json_object_set_new(root, "singular_values",
                      out_array(r->singular_values, r->sv_count));
  json_object_set_new(root, "singular_vectors", vectors);
  return root;
}

static json_t *result_json(const args *a, const shp_target *t,
                           const shp_tolerance_result *r) {
  json_t *pct = json_object();
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    const shp_tolerance_stats *s = &r->stats[m];
    json_object_set_new(
        pct, shp_tolerance_metric_name(m),
        json_pack("{s:o, s:o, s:o, s:o, s:I}", "p5", out_number(s->p5), "p50",
                  out_number(s->p50), "p95", out_number(s->p95), "mean",
                  out_number(s->mean), "count", (json_int_t)s->count));
  }
  json_t *root = json_pack(
      "{s:s, s:I, s:I, s:{s:o, s:o, s:o}, s:o, s:o, s:I, s:o, s:o, s:o, "
      "s:o}",
      "stack", a->stack, "samples", (json_int_t)r->samples, "seed",
      (json_int_t)a->seed, "sigmas", "azimuth_deg",
      out_number(a->sigma.azimuth_deg), "length_um",
      out_number(a->sigma.length_um), "temperature_k",
      out_number(a->sigma.temperature_k), "nominal", per_metric(r->nominal, 1),
      "percentiles", pct, "failed", (json_int_t)r->failed, "yield",
      r->has_yield ? out_number(r->yield) : json_null(), "thresholds",
      thresholds_json(t), "wall_time_s", out_number(r->wall_time_s), "threads",
      json_integer((json_int_t)r->threads));
  if (root == NULL)
    return NULL;
  if (r->has_yield)
    json_object_set_new(root, "nominal_meets_thresholds",
                        json_boolean(r->nominal_passes));
  return sensitivity_json(r, root);
}

/* ---- text --------------------------------------------------------------- */

static void print_thresholds(const shp_target *t) {
  const char *sep = "";
  printf("(");
  if (t->has_max_error) {
    printf("error <= %g", t->max_error);
    sep = ", ";
  }
  if (t->has_max_ripple) {
    printf("%sripple <= %g", sep, t->max_ripple);
    sep = ", ";
  }
  if (t->has_min_transmission)
    printf("%stransmission >= %g", sep, t->min_transmission);
  printf(")");
}

/* The few largest components of singular vector k, with their signs. */
static void print_direction(const shp_tolerance_result *r, size_t k) {
  enum { SHOWN = 4 };
  size_t np = r->param_count, chosen[SHOWN], shown = 0;
  const double *v = r->right + k * np;
  printf("    along");
  while (shown < SHOWN) {
    size_t best = np;
    for (size_t j = 0; j < np; j++) {
      bool taken = false;
      for (size_t q = 0; q < shown; q++)
        taken = taken || chosen[q] == j;
      if (!taken && (best == np || fabs(v[j]) > fabs(v[best])))
        best = j;
    }
    if (best == np || fabs(v[best]) < 0.05)
      break;
    chosen[shown] = best;
    printf("%s %+.3f %s", shown ? "," : "", v[best], r->params[best].name);
    shown++;
  }
  printf("\n    moves");
  for (int m = 0; m < SHP_TOL_METRICS; m++)
    printf(" %s %+.3f", shp_tolerance_metric_name(m),
           r->singular_values[k] * r->left[k * SHP_TOL_METRICS + m]);
  printf("\n");
}

static void print_summary(const args *a, const shp_target *t,
                          const shp_tolerance_result *r) {
  printf("tolerance of %s: %zu samples (seed %lu) on %zu threads, %.2f s\n",
         a->stack, r->samples, a->seed, r->threads, r->wall_time_s);
  printf("  errors per crystal (1 sigma): azimuth %g deg, length %g um, "
         "temperature %g K\n",
         a->sigma.azimuth_deg, a->sigma.length_um, a->sigma.temperature_k);
  printf("  %-14s %10s %10s %10s %10s %10s\n", "", "nominal", "p5", "p50",
         "p95", "mean");
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    const shp_tolerance_stats *s = &r->stats[m];
    printf("  %-14s %10.4f %10.4f %10.4f %10.4f %10.4f\n",
           shp_tolerance_metric_name(m), r->nominal[m], s->p5, s->p50, s->p95,
           s->mean);
  }
  if (r->failed > 0)
    printf("  %zu samples could not be evaluated (they count as failing)\n",
           r->failed);
  if (r->has_yield) {
    printf("  yield %.1f %% ", 100.0 * r->yield);
    print_thresholds(t);
    printf("%s\n",
           r->nominal_passes ? "" : "; the nominal stack itself fails them");
  } else {
    printf("  no yield: the target gives no thresholds (max_error, "
           "max_ripple, min_transmission)\n");
  }
  if (r->ranked_count == 0) {
    printf("  no errors to rank: every sigma is 0\n");
    return;
  }
  printf("errors that matter most (standard deviation each causes alone, "
         "to second order):\n");
  size_t np = r->param_count;
  printf("  %-26s %9s %9s %9s %9s %12s\n", "", "effect", "1st order", "error",
         "ripple", "transmission");
  for (size_t k = 0; k < r->ranked_count && k < 10; k++) {
    size_t j = r->ranking[k];
    double sd[SHP_TOL_METRICS];
    for (int m = 0; m < SHP_TOL_METRICS; m++) {
      double g = r->jacobian[m * np + j], b = r->curvature[m * np + j];
      sd[m] = sqrt(g * g + 2 * b * b);
    }
    printf("  %-26s %9.2e %9.2e %9.2e %9.2e %12.2e\n", r->params[j].name,
           r->params[j].effect, r->params[j].linear, sd[0], sd[1], sd[2]);
  }
  if (r->ranked_count > 10)
    printf("  ... %zu more (--json lists all)\n", r->ranked_count - 10);
  printf("singular values of the scaled Jacobian (first order):\n");
  for (size_t k = 0; k < r->sv_count; k++) {
    printf("  %zu: %.3e\n", k + 1, r->singular_values[k]);
    if (r->singular_values[k] > 0)
      print_direction(r, k);
  }
}

/* The nominal metrics and at least one sample finite, or a failure: a
 * table of NaN percentiles is no result. */
static int check_finite(const shp_tolerance_result *r) {
  const char *names[] = {"nominal error", "nominal transmission"};
  double values[] = {r->nominal[SHP_TOL_ERROR],
                     r->nominal[SHP_TOL_TRANSMISSION]};
  int rc = cli_require_finite("tolerance", names, values, 2);
  if (rc == CLI_OK && r->stats[SHP_TOL_ERROR].count == 0)
    rc = cli_fail_lib(
        shp_error_set(SHP_ERR_NUMERIC,
                      "tolerance: none of the %zu samples could be "
                      "evaluated; the first: %s",
                      r->samples, r->failure));
  return rc;
}

int cmd_tolerance(int argc, char **argv) {
  args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_stack *s;
  shp_target *t;
  if ((rc = cli_load_inputs(a.stack, NULL, a.target, &s, &t)) != CLI_OK)
    return rc;
  if (a.sigma.azimuth_deg == 0 && a.sigma.length_um == 0 &&
      a.sigma.temperature_k == 0)
    cli_error("tolerance: every sigma is 0, so every sample is the nominal "
              "stack");
  /* Measured plans cost about a second for the grids of the examples and
   * made no sample faster (61 us a sample either way for stacker16-uv), so
   * they do not repay even 10^4 samples. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  shp_tolerance_spec spec = {.stack = s,
                             .target = t,
                             .samples = a.samples,
                             .sigma = a.sigma,
                             .seed = a.seed,
                             .threads = a.threads,
                             .progress =
                                 isatty(STDERR_FILENO) ? show_progress : NULL};
  shp_tolerance_result *r = shp_tolerance_run(&spec);
  if (r == NULL) {
    rc = cli_fail_lib(shp_error_last());
  } else if ((rc = check_finite(r)) != CLI_OK) {
    /* reported */
  } else {
    if (r->failed > 0)
      cli_error("tolerance: %zu of %zu samples could not be evaluated; the "
                "first: %s",
                r->failed, r->samples, r->failure);
    if (a.json) {
      rc = cli_print_json(result_json(&a, t, r));
    } else {
      print_summary(&a, t, r);
      rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAILURE;
    }
  }
  shp_tolerance_result_free(r);
  shp_target_free(t);
  shp_stack_free(s);
  return rc;
}
