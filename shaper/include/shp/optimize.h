/* Minimising a shp_problem, GSL style: the caller owns the loop.
 *
 *   shp_search *s = shp_search_new(problem, &opts);
 *   while (shp_search_iterate(s) == SHP_SEARCH_CONTINUE)
 *     show_progress(shp_search_best(s, NULL));   // or stop early
 *   shp_search_best(s, x);
 *   shp_search_free(s);
 *
 * A search runs a local method (Nelder-Mead simplex, BFGS, or
 * Levenberg-Marquardt on the residual vector, all from GSL) from several
 * starts: the stack's own values, then points of a Sobol sequence over the
 * bounds (gsl_qrng; Halton beyond Sobol's 40 dimensions, up to 1229
 * variables) shifted by a random offset drawn from the seed, so a run is
 * deterministic for its seed. Runs from the starts are kept short
 * (explore_iterations); the best few are then run again to convergence. Bounds
 * are honoured exactly: a variable that spans a whole period (an angle, or a
 * temperature window of one phase period inside the allowed range) wraps around
 * its interval; any other is mapped as lo + (hi - lo)(1 + sin u)/2 from an
 * unbounded u. Gradients for BFGS are central differences
 * (shp_problem_gradient); Levenberg-Marquardt uses GSL's finite-difference
 * Jacobian of the residuals.
 *
 * The objective must be finite wherever the search goes inside the bounds:
 * a non-finite value (or gradient, or residual), or a GSL step that fails,
 * ends the search with SHP_ERR_NUMERIC and a sentence naming the run and
 * the model's reason or the point. GSL's aborting error handler is turned
 * off on first use (shp_gsl_guard). */
#ifndef SHP_OPTIMIZE_H
#define SHP_OPTIMIZE_H

#include "shp/problem.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_local_type shp_local_type;
extern const shp_local_type *const shp_local_simplex;
extern const shp_local_type *const shp_local_bfgs;
extern const shp_local_type *const shp_local_lm;

/* The local method of a name ("simplex", "bfgs", "lm"), or NULL. */
const shp_local_type *shp_local_type_find(const char *name);
const char *shp_local_type_name(const shp_local_type *t);

typedef struct {
  const shp_local_type *local;        /* default simplex */
  const shp_local_type *polish_local; /* for polishing; default local */
  size_t starts; /* runs from starts, the first the stack's (default 64) */
  unsigned long seed;
  size_t explore_iterations; /* per run from a start (default 40) */
  size_t polish;             /* the best this many are then run again to
                                convergence (default 6) */
  size_t max_iterations;     /* per polishing run (default 300); a polished
                                simplex that still gains is restarted where
                                it ended, up to 3 times */
  double tolerance;          /* stop a run when its steps are below this
                                in the variables' scale (default 1e-6) */
  double stop_below;         /* stop the search once f <= this (0: never) */
} shp_search_opts;

enum { SHP_SEARCH_CONTINUE = 1, SHP_SEARCH_DONE = 0 };

typedef struct shp_search shp_search;

/* Returns NULL with shp_error_detail() on failure: SHP_ERR_NOMEM, or
 * SHP_ERR_RANGE for more than 1229 variables. The problem is borrowed and
 * must outlive the search. */
shp_search *shp_search_new(shp_problem *p, const shp_search_opts *opts);
void shp_search_free(shp_search *s);

/* One iteration of the current local run (starting the next when one
 * ends). Returns SHP_SEARCH_CONTINUE, SHP_SEARCH_DONE, or SHP_ERR_NUMERIC
 * (see above); a failed search keeps returning it, and its best point is
 * the best before the failure. */
int shp_search_iterate(shp_search *s);

/* The best objective so far, and its point when x is not NULL. */
double shp_search_best(const shp_search *s, double *x);
/* Which run is going (0-based: the starts, then the polishing runs) and
 * how many there are. */
size_t shp_search_start_index(const shp_search *s);
size_t shp_search_start_count(const shp_search *s);

#ifdef __cplusplus
}
#endif
#endif
