#include "verdict.h"

#include "cli.h"

#include "shp/error.h"

#include <math.h>
#include <stdio.h>

cli_goal cli_goal_of(const shp_target *t, double tolerance, bool tolerance_set,
                     double default_error, double max_ripple) {
  cli_goal g = {.max_error = default_error};
  if (tolerance_set)
    g.max_error = tolerance;
  else if (t->has_max_error)
    g.max_error = t->max_error;
  if (max_ripple > 0)
    g.max_ripple = max_ripple;
  else if (t->has_max_ripple)
    g.max_ripple = t->max_ripple;
  if (t->has_min_transmission)
    g.min_transmission = t->min_transmission;
  return g;
}

cli_verdict cli_judge(const cli_goal *g, const shp_metrics *m) {
  cli_verdict v = {.reached = true};
  if (!(m->error <= g->max_error)) {
    v.reached = false;
    snprintf(v.reason, sizeof v.reason,
             "error %.4g > %.4g: the target was not reached", m->error,
             g->max_error);
  } else if (g->max_ripple > 0 && !(m->ripple <= g->max_ripple)) {
    v.reached = false;
    snprintf(v.reason, sizeof v.reason,
             "ripple %.4g > %.4g: the target was not reached", m->ripple,
             g->max_ripple);
  } else if (g->min_transmission > 0 &&
             !(m->transmission >= g->min_transmission)) {
    v.reached = false;
    snprintf(v.reason, sizeof v.reason,
             "transmission %.4g < %.4g: the target was not reached",
             m->transmission, g->min_transmission);
  } else {
    snprintf(v.reason, sizeof v.reason, "error %.4g <= %.4g", m->error,
             g->max_error);
  }
  return v;
}

json_t *cli_verdict_json(json_t *o, const cli_verdict *v) {
  if (o == NULL)
    return NULL;
  json_object_set_new(o, "status",
                      json_string(v->reached ? "reached" : "not_reached"));
  json_object_set_new(o, "reason", json_string(v->reason));
  return o;
}

int cli_require_finite(const char *what, const char *const *names,
                       const double *values, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (!isfinite(values[i]))
      return cli_fail_lib(
          shp_error_set(SHP_ERR_NUMERIC,
                        "%s: the result's %s is not finite (%g); nothing "
                        "was written",
                        what, names[i], values[i]));
  return CLI_OK;
}
