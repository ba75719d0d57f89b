/* bench/optimize: how reliably and how fast the search reaches a target.
 *
 * Problem 1: four alpha-BBO plates at 1030 nm cut for 1 ps replicas, a 1 ps
 * pulse, varying temperatures, azimuths and the output polarizer, to a 5 ps
 * flat top with 1 ps edges, weighted for transmission and a ripple limit.
 * Problem 2: a binary stacker of the same plates (8, 4, 2, 1 units long,
 * axes 45 degrees apart, no output polarizer), varying temperatures, to a
 * 16 ps flat top. Each is solved from 100 seeded random starting stacks; a
 * solve succeeds when its final RMS error is within 0.005 of the best over
 * all solves. Prints success rate, median and spread of the wall time per
 * solve (one core), and the best metrics reached.
 *
 *   bench/optimize [SOLVES] [STARTS] [EXPLORE_ITERATIONS]
 *
 * (defaults: 100 solves, the search's own defaults otherwise;
 * BENCH_VERBOSE=1 lists every solve on stderr). */
#include "shp/optimize.h"
#include "shp/error.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PLATE_MM 2.465 /* 1 ps o/e delay in alpha-BBO at 1030 nm */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double q) {
  qsort(v, n, sizeof *v, cmp);
  return v[(size_t)floor(q * (double)(n - 1) + 0.5)];
}

static shp_target *flat_top(double duration, double rise) {
  char text[128];
  snprintf(text, sizeof text,
           "shape: flat-top\nduration_ps: %g\nrise_time_ps: %g\n", duration,
           rise);
  char path[] = "/tmp/shp-bench-target-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  shp_target *t = shp_target_load(path);
  remove(path);
  return t;
}

/* A random starting stack for a solve: temperatures spread over a phase
 * period, azimuths over a half-turn. */
static shp_stack *start_stack(int problem, gsl_rng *rng) {
  shp_stack *s = shp_stack_new("bench", 1030.0, 1.0);
  for (int i = 0; i < 4; i++) {
    double len = problem == 1 ? PLATE_MM : PLATE_MM * (1 << (3 - i));
    double az = problem == 1 ? 180.0 * gsl_rng_uniform(rng) : (i % 2 ? 0 : 45);
    shp_stack_add_crystal(s, "alpha-BBO", len, az,
                          40.0 + 60.0 * gsl_rng_uniform(rng));
  }
  s->has_input_polarizer = true;
  if (problem == 1) {
    s->has_output_polarizer = true;
    s->output_polarizer_deg = 180.0 * gsl_rng_uniform(rng) - 90.0;
  }
  return s;
}

typedef struct {
  double error, f, seconds;
  shp_metrics m;
} solve;

static int run(int problem, size_t solves, size_t starts, size_t explore) {
  shp_target *t = problem == 1 ? flat_top(5.0, 1.0) : flat_top(16.0, 1.0);
  solve *out = calloc(solves, sizeof *out);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  for (size_t k = 0; k < solves; k++) {
    gsl_rng_set(rng, 1000 + k);
    shp_stack *s = start_stack(problem, rng);
    shp_problem_spec spec = {
        .stack = s,
        .target = t,
        .vary = problem == 1 ? SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH |
                                   SHP_VARY_OUTPUT_POLARIZER
                             : SHP_VARY_TEMPERATURE,
        .weight_transmission = problem == 1 ? 0.05 : 0.0,
        .ripple_max = problem == 1 ? 0.05 : 0.0,
        .weight_ripple = problem == 1 ? 1.0 : 0.0,
        .temperature_min_c = NAN,
        .temperature_max_c = NAN};
    double t0 = now_s();
    shp_problem *p = shp_problem_new(&spec);
    if (p == NULL) {
      fprintf(stderr, "optimize: %s\n", shp_error_detail());
      return 1;
    }
    shp_search_opts so = {
        .starts = starts, .seed = k, .explore_iterations = explore};
    shp_search *srch = shp_search_new(p, &so);
    while (shp_search_iterate(srch) == SHP_SEARCH_CONTINUE)
      ;
    double x[16];
    out[k].f = shp_search_best(srch, x);
    shp_problem_metrics(p, x, &out[k].m);
    out[k].seconds = now_s() - t0;
    out[k].error = out[k].m.error;
    shp_search_free(srch);
    shp_problem_free(p);
    shp_stack_free(s);
  }
  size_t best = 0, ok = 0;
  for (size_t k = 0; k < solves; k++)
    if (out[k].error < out[best].error)
      best = k;
  double *times = malloc(solves * sizeof *times);
  for (size_t k = 0; k < solves; k++) {
    ok += out[k].error <= out[best].error + 0.005;
    times[k] = out[k].seconds;
  }
  const shp_metrics *m = &out[best].m;
  if (getenv("BENCH_VERBOSE"))
    for (size_t k = 0; k < solves; k++)
      fprintf(stderr,
              "  solve %zu: error %.4f objective %.6f T %.3f ripple %.3f\n", k,
              out[k].error, out[k].f, out[k].m.transmission, out[k].m.ripple);
  printf("problem %d: %s\n", problem,
         problem == 1 ? "4 plates, T + azimuth + output polarizer -> 5 ps "
                        "flat top"
                      : "binary stacker 8-4-2-1, T -> 16 ps flat top");
  printf("  solves %zu, starts per solve %zu (0 = default)\n", solves, starts);
  printf("  success     %.1f %% (final error within 0.005 of the best)\n",
         100.0 * (double)ok / (double)solves);
  printf("  wall time   median %.3f s, 10-90 %% %.3f-%.3f s per solve\n",
         percentile(times, solves, 0.5), percentile(times, solves, 0.1),
         percentile(times, solves, 0.9));
  printf("  best        error %.4f, ripple %.4f, transmission %.4f, FWHM %.3f "
         "ps\n",
         m->error, m->ripple, m->transmission, m->fwhm_ps);
  free(times);
  free(out);
  gsl_rng_free(rng);
  shp_target_free(t);
  return 0;
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  size_t solves = argc > 1 ? (size_t)atoi(argv[1]) : 100;
  /* 0: the search's defaults */
  size_t starts = argc > 2 ? (size_t)atoi(argv[2]) : 0;
  size_t explore = argc > 3 ? (size_t)atoi(argv[3]) : 0;
  return run(1, solves, starts, explore) || run(2, solves, starts, explore);
}
