/* Whether a target can be reached on the nominal model within the lab's
 * limits, and why not (decide.h). */
#include "shp/decide.h"

#include "decide-private.h"
#include "shp/error.h"
#include "shp/numbers.h"
#include "shp/optimize.h"
#include "shp/problem.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Starts of the temperature search: a few suffice for a handful of phases
 * (one period each), and the check must stay a second or so. */
#define REACH_STARTS 24
#define REACH_EXPLORE 40
#define REACH_POLISH 3

int decide_optimise_temperatures(const shp_stack *stack,
                                 const shp_target *target, const double *lo_c,
                                 const double *hi_c, unsigned long seed,
                                 size_t starts, double stop_below_error,
                                 double *temps_c, double *error,
                                 double *transmission, size_t *evaluations) {
  shp_problem_spec spec = {.stack = stack,
                           .target = target,
                           .vary = SHP_VARY_TEMPERATURE,
                           .temperature_min_c = NAN,
                           .temperature_max_c = NAN,
                           .crystal_min_c = lo_c,
                           .crystal_max_c = hi_c};
  shp_problem *p = shp_problem_new(&spec);
  if (!p)
    return shp_error_last();
  shp_search_opts o = {.starts = starts > 0 ? starts : REACH_STARTS,
                       .seed = seed,
                       .explore_iterations = REACH_EXPLORE,
                       .polish = REACH_POLISH,
                       .stop_below = stop_below_error * stop_below_error};
  shp_search *s = shp_search_new(p, &o);
  if (!s) {
    int rc = shp_error_last();
    shp_problem_free(p);
    return rc;
  }
  int rc;
  while ((rc = shp_search_iterate(s)) == SHP_SEARCH_CONTINUE)
    ;
  size_t n = shp_problem_size(p);
  double *x = calloc(n, sizeof *x);
  if (!x) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
  } else if (rc == SHP_SEARCH_DONE || rc == SHP_ERR_NUMERIC) {
    shp_search_best(s, x);
    shp_metrics m;
    rc = shp_problem_metrics(p, x, &m);
    if (rc == SHP_OK) {
      /* Temperatures are the only variables, one per crystal, in order. */
      for (size_t i = 0; i < n && i < stack->crystal_count; i++)
        temps_c[i] = x[i];
      *error = m.error;
      *transmission = m.transmission;
    }
  }
  if (evaluations)
    *evaluations = shp_problem_evaluations(p);
  free(x);
  shp_search_free(s);
  shp_problem_free(p);
  return rc;
}

/* The duration the target asks the output to span (FWHM), 0 if unknown. */
static double target_duration(const shp_target *t) {
  switch (t->shape) {
  case SHP_TARGET_GAUSSIAN_TRAIN:
    return (double)(t->count > 0 ? t->count - 1 : 0) * t->spacing_ps +
           t->pulse_fwhm_ps;
  case SHP_TARGET_FILE:
    return 0;
  default:
    return t->duration_ps;
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
add_reason(shp_reach_result *r, const char *fmt, ...) {
  if (r->reason_count >= SHP_REACH_MAX_REASONS)
    return;
  va_list ap;
  va_start(ap, fmt);
  shp_vsnprintf(r->reasons[r->reason_count++], SHP_REACH_REASON_SIZE, fmt, ap);
  va_end(ap);
}

int shp_reach_check(const shp_stack *stack, const shp_target *target,
                    const double *lo_c, const double *hi_c, double tolerance,
                    unsigned long seed, shp_reach_result *r) {
  if (!stack || !target || !r || !(tolerance > 0) || stack->crystal_count == 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "reach: a stack with crystals, a target and a "
                         "positive tolerance are needed");
  size_t nc = stack->crystal_count;
  for (size_t i = 0; lo_c && hi_c && i < nc; i++)
    if (!(lo_c[i] <= hi_c[i]))
      return shp_error_set(SHP_ERR_INVALID,
                           "reach: crystals[%zu]: limits %g > %g", i, lo_c[i],
                           hi_c[i]);
  memset(r, 0, sizeof *r);
  r->crystal_count = nc;
  r->setpoints_c = calloc(nc, sizeof *r->setpoints_c);
  if (!r->setpoints_c)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");

  /* The physics: the longest output is the replicas' spread plus one
   * input pulse; the fastest edge is about one replica's. */
  double lambda = stack->pulse.center_wavelength_nm;
  double span = 0;
  for (size_t i = 0; i < nc; i++) {
    const shp_stack_crystal *c = &stack->crystals[i];
    shp_material_props mp;
    int rc = shp_material_props_at(c->material, lambda, c->temperature_c,
                                   c->length_mm, &mp);
    if (rc != SHP_OK)
      return rc;
    span += mp.group_delay_ps_per_mm * c->length_mm;
  }
  if (stack->double_pass)
    span *= 2;
  r->replica_span_ps = span;
  r->input_fwhm_ps = stack->pulse.fwhm_ps;
  r->longest_ps = span + stack->pulse.fwhm_ps;
  r->edge_limit_ps = 0.5 * stack->pulse.fwhm_ps;

  int rc = decide_optimise_temperatures(stack, target, lo_c, hi_c, seed, 0, 0,
                                        r->setpoints_c, &r->best_error,
                                        &r->best_transmission, &r->evaluations);
  if (rc != SHP_OK)
    return rc;

  bool span_short = false, edge_fast = false;
  double dur = target_duration(target);
  if (dur > r->longest_ps) {
    span_short = true;
    add_reason(r,
               "the replica span %.3g ps plus the input pulse %.3g ps is "
               "shorter than the target's %.3g ps",
               span, r->input_fwhm_ps, dur);
  }
  if ((target->shape == SHP_TARGET_FLAT_TOP ||
       target->shape == SHP_TARGET_RAMP) &&
      target->rise_time_ps > 0 && target->rise_time_ps < r->edge_limit_ps) {
    edge_fast = true;
    add_reason(r,
               "the target's rise time %.3g ps is below what the input pulse "
               "allows (about %.3g ps for a %.3g ps pulse)",
               target->rise_time_ps, r->edge_limit_ps, r->input_fwhm_ps);
  }
  if (!span_short && !edge_fast && r->best_error > tolerance)
    add_reason(r,
               "temperatures alone cannot set the amplitudes the shape needs: "
               "the best error within the limits is %.3g (tolerance %.3g) "
               "with the azimuths fixed",
               r->best_error, tolerance);
  if (target->has_min_transmission &&
      r->best_transmission < target->min_transmission)
    add_reason(r,
               "the transmission at the best setpoints is %.3g, below the "
               "target's %.3g",
               r->best_transmission, target->min_transmission);
  r->reachable = r->reason_count == 0;

  if (r->reachable) {
    shp_snprintf(r->summary, sizeof r->summary,
                 "reachable: best error %.3g within tolerance %.3g at the "
                 "lab's limits",
                 r->best_error, tolerance);
  } else {
    size_t used = (size_t)shp_snprintf(
        r->summary, sizeof r->summary,
        "unreachable (best error %.3g, tolerance %.3g): ", r->best_error,
        tolerance);
    for (size_t k = 0; k < r->reason_count && used < sizeof r->summary; k++)
      used += (size_t)shp_snprintf(r->summary + used, sizeof r->summary - used,
                                   "%s%s", k ? "; " : "", r->reasons[k]);
  }
  return SHP_OK;
}

void shp_reach_result_clear(shp_reach_result *r) {
  if (!r)
    return;
  free(r->setpoints_c);
  memset(r, 0, sizeof *r);
}
