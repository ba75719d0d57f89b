/* Tolerance analysis of a stack: how far real crystals, cut, mounted and
 * heated with errors, stray from the design, and which errors matter.
 *
 * Monte Carlo: every sample perturbs each crystal's azimuth, length and
 * temperature by independent Gaussian errors (gsl_ran_gaussian) of the given
 * standard deviations and reports three metrics of the output against the
 * target, as shp_problem_metrics computes them: the relative RMS error after
 * the best shift and scale, the ripple over the target's plateau (aligned
 * with that shift) and the energy transmission. Sample i draws its numbers
 * from a generator seeded from (seed, i) alone, so a run gives the same
 * samples for any number of threads.
 *
 * Sensitivity: the Jacobian J of (error, ripple, transmission) with respect
 * to each perturbation parameter at the nominal stack, by central
 * differences (steps of 1 millidegree, 10 nm and 1 mK), each column scaled
 * by its parameter's sigma, so that J maps a one-sigma error to the change of
 * the metrics it causes. Its singular value decomposition (LAPACK dgesvd)
 * gives the combinations of errors that move the metrics most (the right
 * singular vectors) and how much (the singular values). To first order the
 * metrics' covariance is J J^T.
 *
 * A stack at its design point often sits at an extremum of its metrics in
 * some parameters (a full-wave plate's phase, a symmetric azimuth), where J
 * is zero however much the errors matter. So each parameter is also moved by
 * one sigma either way, giving b = (M(+sigma) + M(-sigma))/2 - M(0), half
 * the second difference. For M = M0 + g e + c e^2 / 2 with e ~ N(0, sigma^2)
 * (one parameter alone), the mean moves by b = c sigma^2 / 2 and the
 * variance is (g sigma)^2 + 2 b^2. Parameters are ranked by that standard
 * deviation's norm over the metrics, sqrt(|J column|^2 + 2 |b column|^2),
 * which is the norm of the scaled column when the metrics are linear over
 * one sigma.
 *
 * Samples run in parallel on POSIX threads, each with its own workspaces
 * (a shp_problem) made before the threads start; a sample allocates
 * nothing. A failed sample records its error on its worker's thread, so an
 * error hook (shp_error_set_handler) may be called from those threads.
 *
 * Same seed, same samples: bit for bit, as long as no sample moves a plate
 * so far that the propagator re-binds it (its phase series is good for
 * length changes of about 0.01 / max residual phase per mm: far beyond any
 * realistic error). Past that, results depend on
 * which samples a worker ran before, at the level of rounding. (In the
 * examples that takes 0.2 mm for picosecond pulses and 25 um for the
 * femtosecond stacker.) */
#ifndef SHP_TOLERANCE_H
#define SHP_TOLERANCE_H

#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Standard deviations of the errors of one crystal. */
typedef struct {
  double azimuth_deg;
  double length_um;
  double temperature_k;
} shp_tolerance_sigma;

/* Called on the caller's thread about ten times a second while samples run,
 * with the number of samples done so far, and once with done == total when
 * they are all done. */
typedef void (*shp_tolerance_progress)(size_t done, size_t total, void *user);

typedef struct {
  const shp_stack *stack;    /* the nominal stack; borrowed */
  const shp_target *target;  /* borrowed; its thresholds give the yield */
  size_t samples;            /* >= 1 */
  shp_tolerance_sigma sigma; /* for every crystal, */
  /* or, when not NULL, one per crystal (stack->crystal_count) instead. */
  const shp_tolerance_sigma *crystal_sigma;
  unsigned long seed;
  size_t threads; /* 0: one per online CPU; never more than samples */
  bool no_dispersion;
  shp_tolerance_progress progress; /* may be NULL */
  void *progress_user;
} shp_tolerance_spec;

/* The metrics, in this order in every array indexed by metric. */
enum {
  SHP_TOL_ERROR = 0,
  SHP_TOL_RIPPLE = 1,
  SHP_TOL_TRANSMISSION = 2,
  SHP_TOL_METRICS = 3
};

/* The name of metric m ("error", "ripple", "transmission"). */
const char *shp_tolerance_metric_name(int m);

typedef enum {
  SHP_TOL_AZIMUTH = 0,
  SHP_TOL_LENGTH = 1,
  SHP_TOL_TEMPERATURE = 2
} shp_tolerance_kind;

/* One perturbation parameter. Parameters come crystal by crystal, each with
 * its azimuth, length and temperature, in that order (also the order of the
 * draws of a sample). */
typedef struct {
  char name[48]; /* the stack key: "crystals[2].azimuth_deg", ...length_mm,
                    ...temperature_c */
  size_t crystal;
  shp_tolerance_kind kind;
  double sigma;  /* deg, um or K */
  double linear; /* norm of its scaled Jacobian column */
  double effect; /* sqrt(linear^2 + 2 |its curvature column|^2) */
} shp_tolerance_param;

/* Percentiles and mean of a metric over the samples where it is finite. */
typedef struct {
  double p5, p50, p95, mean;
  size_t count; /* samples with a finite value */
} shp_tolerance_stats;

typedef struct {
  size_t samples;
  size_t threads; /* workers that ran */
  double wall_time_s;
  double nominal[SHP_TOL_METRICS];
  /* values[m][i]: metric m of sample i; NAN where the model failed (a
   * length or temperature pushed past what is physical) or the metric is
   * not defined. */
  double *values[SHP_TOL_METRICS];
  shp_tolerance_stats stats[SHP_TOL_METRICS];
  size_t failed;     /* samples where the model failed */
  char failure[256]; /* why the first of them (in sample order) failed */
  /* The yield: the share of samples meeting every threshold the target
   * gives (a failed sample meets none). has_yield is false, and yield NAN,
   * when the target gives no threshold. */
  bool has_yield;
  double yield;
  size_t passed;
  bool nominal_passes;
  /* Sensitivity. */
  size_t param_count; /* 3 per crystal */
  shp_tolerance_param *params;
  /* SHP_TOL_METRICS x param_count, row-major: J[m * param_count + j] is the
   * change of metric m for a one-sigma error of parameter j (0 for a
   * parameter with sigma 0). A row whose metric is not finite at the nominal
   * stack or its neighbours is NAN and left out of what follows. */
  double *jacobian;
  /* Likewise: (M(+sigma) + M(-sigma))/2 - M(0) for metric m and parameter
   * j alone, the mean shift that parameter causes to second order. */
  double *curvature;
  /* Parameters with sigma > 0 by effect, largest first (ties in parameter
   * order): ranked_count indices into params. */
  size_t *ranking;
  size_t ranked_count;
  /* The SVD of the finite rows of J: sv_count = min(rows, param_count)
   * singular values, descending; left[k * SHP_TOL_METRICS + m] the metric
   * mix of direction k (0 for rows left out) and right[k * param_count + j]
   * the parameter mix, each vector's largest component positive. */
  size_t sv_count;
  double *singular_values;
  double *left;
  double *right;
} shp_tolerance_result;

/* Run the analysis. Returns NULL with shp_error_detail() on failure:
 * SHP_ERR_INVALID (no stack or target, samples 0, a sigma negative or not
 * finite), the errors of shp_problem_new (grid, materials), SHP_ERR_NUMERIC
 * (the nominal stack cannot be evaluated, or the SVD fails), SHP_ERR_NOMEM.
 * A sample that fails does not fail the run: it is counted in failed. Owned
 * by the caller: shp_tolerance_result_free. */
shp_tolerance_result *shp_tolerance_run(const shp_tolerance_spec *spec);
void shp_tolerance_result_free(shp_tolerance_result *r);

#ifdef __cplusplus
}
#endif
#endif
