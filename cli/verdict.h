/* Whether a finished offline command did what was asked (exit 0) or only
 * got as close as it could (exit 3), and the check that a result holding a
 * non-finite number is never reported as one. */
#ifndef SHAPECTL_VERDICT_H
#define SHAPECTL_VERDICT_H

#include "shp/diag.h"
#include "shp/target.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What "reached" means: the RMS error against the target at most
 * max_error, and when given (> 0) the ripple at most max_ripple and the
 * transmission at least min_transmission. */
typedef struct {
  double max_error, max_ripple, min_transmission;
} cli_goal;

/* The goal of a command: max_error from its --tolerance when given, else
 * the target file's max_error, else default_error; max_ripple from
 * --max-ripple when > 0, else the target's; min_transmission the
 * target's. */
cli_goal cli_goal_of(const shp_target *t, double tolerance, bool tolerance_set,
                     double default_error, double max_ripple);

typedef struct {
  bool reached;
  char reason[200]; /* "error 0.0123 <= 0.05", "ripple 0.21 > 0.1", ... */
} cli_verdict;

/* Judge metrics against a goal. */
cli_verdict cli_judge(const cli_goal *g, const shp_metrics *m);

/* Add "status": "reached" | "not_reached" and "reason" to a JSON object;
 * returns it. */
json_t *cli_verdict_json(json_t *o, const cli_verdict *v);

/* CLI_OK when every value is finite, else the failure (SHP_ERR_NUMERIC
 * with "what: NAME is not finite (VALUE)"), already reported: the command
 * then writes no result. names[i] names values[i]. */
int cli_require_finite(const char *what, const char *const *names,
                       const double *values, size_t count);

#endif
