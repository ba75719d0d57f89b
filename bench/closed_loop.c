/* bench/closed_loop: how often and how fast the closed loop converges on the
 * simulated lab, with the model (shp_run's default) and model-free.
 *
 * Two stacks: the 4-plate free design for a 5 ps flat top and an 8-plate
 * one for a 10 ps flat top (examples/stacks, examples/targets). Each seed
 * gets its own simulated lab, written to a temporary lab file: hidden phase
 * offsets drawn with sigma 1.5 rad (large, so the start is far off),
 * azimuth errors 0.2 deg, length errors 0.5 um, 1 % autocorrelation noise
 * per scan, 4 scans averaged, and a clock that moves only when slept on
 * (speedup 0), so a run's wall time is computing, not waiting. Every run
 * aims at a relative RMS autocorrelation error of 0.02: the model mode with
 * at most 20 oven moves, the model-free mode with at most 200.
 *
 * Prints, per stack and mode: the success rate (converged), the median and
 * 90th percentile of oven moves over the successful runs, the median wall
 * time of shp_run, and the ratio of the model-free median moves to the
 * model's.
 *
 *   bench/closed_loop [--seeds N] [--quick]
 *
 * (default 50 seeds; --quick runs 5, for a smoke test). */
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/planning.h"
#include "shp/run.h"
#include "shp/supervisor.h"
#include "shp/target.h"

#include <gsl/gsl_errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SHP_BENCH_EXAMPLES
#define SHP_BENCH_EXAMPLES "examples"
#endif

typedef struct {
  const char *name, *stack, *target;
  size_t crystals;
} bench_case;

static const bench_case cases[] = {
    {"4 plates, 5 ps flat top", "stacks/design-flat-top-5ps.yml",
     "targets/flat-top-5ps.yml", 4},
    {"8 plates, 10 ps flat top", "stacks/free8-flat-top-10ps.yml",
     "targets/flat-top-10ps.yml", 8},
};

static const struct {
  const char *name;
  shp_run_mode mode;
  size_t max_iterations;
} modes[] = {{"model", SHP_RUN_MODEL, 20},
             {"model-free", SHP_RUN_MODEL_FREE, 200}};

/* What one run gave. */
typedef struct {
  bool converged;
  size_t moves;
  double wall_s;
} run_outcome;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorted in place), by the nearest rank. */
static double quantile(double *v, size_t n, double q) {
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof *v, cmp_double);
  size_t k = (size_t)ceil(q * (double)n);
  return v[k > 0 ? k - 1 : 0];
}

/* A lab file for stack_path with the hidden errors drawn from seed. */
static int write_lab(const char *path, const char *stack_path, size_t crystals,
                     unsigned long seed) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return SHP_ERR_IO;
  fprintf(f, "stack: %s\novens:\n", stack_path);
  for (size_t i = 0; i < crystals; i++)
    fprintf(f,
            "  - {driver: sim, connection: {kind: sim}, channel: %zu, "
            "min_c: 20.0, max_c: 140.0, max_ramp_k_per_min: 10.0, "
            "settle_tolerance_k: 0.05, settle_time_s: 20.0}\n",
            i);
  fprintf(f,
          "autocorrelator:\n"
          "  driver: sim\n"
          "  connection: {kind: sim}\n"
          "  averages: 4\n"
          "  delay_calibration: {scale: 1.0, offset_ps: 0.0}\n"
          "sim:\n"
          "  seed: %lu\n"
          "  phase_offset_sigma_rad: 1.5\n"
          "  azimuth_sigma_deg: 0.2\n"
          "  length_sigma_um: 0.5\n"
          "  noise: 0.01\n"
          "  speedup: 0\n",
          seed);
  return fclose(f) == 0 ? SHP_OK : SHP_ERR_IO;
}

/* One closed-loop run on a fresh simulated lab. */
static int run_one(const char *lab_path, const shp_target *target,
                   shp_run_mode mode, size_t max_iterations, unsigned long seed,
                   run_outcome *out) {
  shp_lab *lab = shp_lab_load(lab_path);
  if (lab == NULL)
    return shp_error_last();
  shp_clock *clock = shp_clock_new_sim(0);
  if (clock == NULL) {
    shp_lab_free(lab);
    return SHP_ERR_NOMEM;
  }
  shp_supervisor *sup = shp_supervisor_open(lab, clock, NULL, NULL);
  if (sup == NULL) {
    int rc = shp_error_last();
    shp_clock_free(clock);
    shp_lab_free(lab);
    return rc;
  }
  shp_run_spec spec = {.lab = lab,
                       .target = target,
                       .mode = mode,
                       .max_iterations = max_iterations,
                       .tolerance = 0.02,
                       .seed = seed};
  shp_run_result r;
  double t0 = now_s();
  int rc = shp_run(sup, &spec, NULL, NULL, &r);
  out->wall_s = now_s() - t0;
  out->converged = rc == SHP_OK && r.converged;
  out->moves = r.iterations;
  if (rc != SHP_OK)
    fprintf(stderr, "closed_loop: seed %lu: %s\n", seed, r.message);
  shp_run_result_clear(&r);
  shp_supervisor_close(sup);
  shp_clock_free(clock);
  shp_lab_free(lab);
  return SHP_OK;
}

/* Runs every seed of one stack in one mode and prints its line; returns the
 * median moves of the successful runs (NAN when none succeeded). */
static double bench_mode(const bench_case *c, size_t m, const char *dir,
                         const char *stack_path, const shp_target *target,
                         size_t seeds) {
  double *moves = calloc(seeds, sizeof *moves);
  double *walls = calloc(seeds, sizeof *walls);
  if (moves == NULL || walls == NULL) {
    fprintf(stderr, "closed_loop: out of memory\n");
    exit(1);
  }
  size_t ok = 0, ran = 0;
  char lab_path[PATH_MAX];
  for (size_t s = 0; s < seeds; s++) {
    unsigned long seed = (unsigned long)s + 1;
    snprintf(lab_path, sizeof lab_path, "%s/lab-%lu.yml", dir, seed);
    run_outcome o = {0};
    int rc = write_lab(lab_path, stack_path, c->crystals, seed);
    if (rc == SHP_OK)
      rc = run_one(lab_path, target, modes[m].mode, modes[m].max_iterations,
                   seed, &o);
    remove(lab_path);
    if (rc != SHP_OK) {
      fprintf(stderr, "closed_loop: seed %lu: %s\n", seed, shp_error_detail());
      continue;
    }
    walls[ran++] = o.wall_s;
    if (o.converged)
      moves[ok++] = (double)o.moves;
  }
  double median_moves = quantile(moves, ok, 0.5);
  printf("  %-10s  converged %3zu/%-3zu (%5.1f %%)  moves median %5.1f  "
         "p90 %5.1f  wall median %7.3f s\n",
         modes[m].name, ok, seeds, 100.0 * (double)ok / (double)seeds,
         median_moves, quantile(moves, ok, 0.9), quantile(walls, ran, 0.5));
  fflush(stdout);
  free(moves);
  free(walls);
  return median_moves;
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  size_t seeds = 50;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      seeds = 5;
    } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: closed_loop [--seeds N] [--quick]\n");
      return 2;
    }
  }
  if (seeds == 0) {
    fprintf(stderr, "closed_loop: --seeds must be at least 1\n");
    return 2;
  }
  char dir[] = "/tmp/shp-closed-loop-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("closed_loop: mkdtemp");
    return 1;
  }
  printf("closed_loop: %zu seeds, simulated lab (noise 0.01, phase offsets "
         "sigma 1.5 rad, azimuth 0.2 deg, length 0.5 um, 4 averages), "
         "tolerance 0.02\n",
         seeds);
  int status = 0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const bench_case *c = &cases[k];
    char stack_path[PATH_MAX], target_path[PATH_MAX];
    snprintf(stack_path, sizeof stack_path, "%s/%s", SHP_BENCH_EXAMPLES,
             c->stack);
    snprintf(target_path, sizeof target_path, "%s/%s", SHP_BENCH_EXAMPLES,
             c->target);
    shp_target *target = shp_target_load(target_path);
    if (target == NULL) {
      fprintf(stderr, "closed_loop: %s\n", shp_error_detail());
      status = 1;
      continue;
    }
    printf("%s (%s)\n", c->name, c->stack);
    double med[2];
    for (size_t m = 0; m < 2; m++)
      med[m] = bench_mode(c, m, dir, stack_path, target, seeds);
    printf("  model-free / model median moves: %.1f\n", med[1] / med[0]);
    shp_target_free(target);
  }
  rmdir(dir);
  return status;
}
