/* bench/tolerance: how fast the Monte Carlo of a stack's tolerances runs.
 *
 * A fan Solc stack of 8 alpha-BBO plates, 2.465 mm each (1 ps o/e delay at
 * 1030 nm), for a 1 ps Gaussian pulse, against an 8 ps flat top with 1 ps
 * edges; every crystal's azimuth, length and temperature perturbed by
 * 0.1 deg, 1 um and 0.1 K (one sigma). Prints the wall time of the whole
 * run (workspaces, FFTW planning, the Jacobian and its SVD, the samples),
 * samples per second, threads and the peak resident memory.
 *
 *   bench/tolerance [SAMPLES] [THREADS] [measure]
 *
 * (defaults: 10000 samples, one thread per online CPU, FFTW plans
 * estimated as `shapectl tolerance` makes them; "measure" keeps the
 * library's default of measured plans, which costs about a second more
 * here). */
#include "shp/tolerance.h"
#include "shp/error.h"
#include "shp/generate.h"
#include "shp/planning.h"

#include <gsl/gsl_errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PLATE_MM 2.465

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  size_t samples = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
  size_t threads = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
  bool measure = argc > 3 && strcmp(argv[3], "measure") == 0;
  if (!measure)
    shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  shp_stack *s = shp_generate_solc(SHP_SOLC_FAN, 8, "alpha-BBO", PLATE_MM,
                                   1030.0, 1.0, 40.0);
  shp_target *t = calloc(1, sizeof *t);
  if (s == NULL || t == NULL) {
    fprintf(stderr, "tolerance: %s\n", shp_error_detail());
    return 1;
  }
  *t = (shp_target){.shape = SHP_TARGET_FLAT_TOP,
                    .duration_ps = 8.0,
                    .rise_time_ps = 1.0,
                    .has_max_error = true,
                    .max_error = 0.25,
                    .has_max_ripple = true,
                    .max_ripple = 0.4,
                    .has_min_transmission = true,
                    .min_transmission = 0.2};
  shp_tolerance_spec spec = {
      .stack = s,
      .target = t,
      .samples = samples,
      .sigma = {.azimuth_deg = 0.1, .length_um = 1.0, .temperature_k = 0.1},
      .seed = 1,
      .threads = threads};
  double t0 = now_s();
  shp_tolerance_result *r = shp_tolerance_run(&spec);
  double wall = now_s() - t0;
  if (r == NULL) {
    fprintf(stderr, "tolerance: %s\n", shp_error_detail());
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double load[3] = {0, 0, 0};
  FILE *f = fopen("/proc/loadavg", "r");
  if (f != NULL) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
      load[0] = load[1] = load[2] = 0;
    fclose(f);
  }
  printf("tolerance: fan Solc, 8 alpha-BBO plates, 1 ps at 1030 nm, 8 ps "
         "flat top\n");
  printf("  samples      %zu (failed %zu), threads %zu of %ld online CPUs, "
         "FFTW plans %s\n",
         r->samples, r->failed, r->threads, sysconf(_SC_NPROCESSORS_ONLN),
         measure ? "measured" : "estimated");
  printf("  wall time    %.3f s (%.0f samples/s)\n", wall,
         (double)r->samples / wall);
  printf("  peak RSS     %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
  printf("  load        %.2f (1-minute average, this run included)\n", load[0]);
  printf("  error        p5 %.4f p50 %.4f p95 %.4f\n", r->stats[0].p5,
         r->stats[0].p50, r->stats[0].p95);
  printf("  ripple       p5 %.4f p50 %.4f p95 %.4f\n", r->stats[1].p5,
         r->stats[1].p50, r->stats[1].p95);
  printf("  transmission p5 %.4f p50 %.4f p95 %.4f\n", r->stats[2].p5,
         r->stats[2].p50, r->stats[2].p95);
  printf("  yield        %.1f %%, most sensitive %s\n", 100 * r->yield,
         r->ranked_count ? r->params[r->ranking[0]].name : "-");
  shp_tolerance_result_free(r);
  shp_target_free(t);
  shp_stack_free(s);
  return 0;
}
