/* Every solution consistent with the traces: multi-start, the conjugate
 * twins, clustering, the chi2 rule, covariances and the identifiability
 * report. */
#include "fit-private.h"

#include "qrng-private.h"

#include "shp/error.h"
#include "shp/numbers.h"
#include "shp/units.h"

#include <gsl/gsl_qrng.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two minima are one solution when every parameter is within this many
 * posterior sigmas (the larger of the two; phases compared on the
 * circle): starts that end apart only where the traces barely reach are
 * one solution. */
#define SAME_DISTANCE 2.0
/* A parameter whose posterior sigma is above this share of its prior's is
 * determined by the prior, not by the traces. */
#define PRIOR_ONLY_RATIO 0.7

typedef struct {
  double *u, *sig;
  double cost, chi2;
  size_t members;
} candidate;

static double distance(const shp_fit *f, const candidate *a, const double *b,
                       const double *bsig) {
  double d = 0;
  for (size_t j = 0; j < f->np; j++) {
    double x = a->u[j] - b[j];
    if (f->periodic[j])
      x = shp_wrap_phase(f->sigma[j] * x) / f->sigma[j];
    double s = fmax(fmax(a->sig[j], bsig[j]), 1e-6);
    d = fmax(d, fabs(x) / s);
  }
  return d;
}

static int cmp_cost(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  return (x->cost > y->cost) - (x->cost < y->cost);
}

/* Add a minimum: merged into a candidate it equals, or new. */
static void add_candidate(shp_fit *f, candidate *c, size_t *nc, const double *u,
                          const double *sig, double cost, double chi2) {
  for (size_t k = 0; k < *nc; k++)
    if (distance(f, &c[k], u, sig) < SAME_DISTANCE) {
      c[k].members++;
      if (cost < c[k].cost) {
        memcpy(c[k].u, u, f->np * sizeof *u);
        memcpy(c[k].sig, sig, f->np * sizeof *sig);
        c[k].cost = cost;
        c[k].chi2 = chi2;
      }
      return;
    }
  memcpy(c[*nc].u, u, f->np * sizeof *u);
  memcpy(c[*nc].sig, sig, f->np * sizeof *sig);
  c[*nc].cost = cost;
  c[*nc].chi2 = chi2;
  c[*nc].members = 1;
  (*nc)++;
}

/* Posterior covariance in prior units, (J^T J + I)^-1, into C (np x np),
 * and the singular values of J when asked. */
static int posterior(shp_fit *f, const double *J, double *C, double *sv) {
  size_t np = f->np, nd = f->points;
  for (size_t a = 0; a < np; a++)
    for (size_t b = 0; b < np; b++) {
      double s = a == b ? 1.0 : 0.0;
      for (size_t k = 0; k < nd; k++)
        s += J[k * np + a] * J[k * np + b];
      C[a * np + b] = s;
    }
  lapack_int info =
      LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)np, C, (lapack_int)np);
  if (info == 0)
    info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', (lapack_int)np, C,
                          (lapack_int)np);
  if (info != 0)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "the fit's posterior matrix cannot be inverted");
  for (size_t a = 0; a < np; a++)
    for (size_t b = 0; b < a; b++)
      C[a * np + b] = C[b * np + a];
  if (sv == NULL)
    return SHP_OK;
  double *A = malloc(nd * np * sizeof *A), *superb = malloc(np * sizeof *A);
  if (A == NULL || superb == NULL) {
    free(A);
    free(superb);
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  memcpy(A, J, nd * np * sizeof *A);
  info =
      LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)nd, (lapack_int)np,
                     A, (lapack_int)np, sv, NULL, 1, NULL, 1, superb);
  free(A);
  free(superb);
  if (info != 0)
    return shp_error_set(SHP_ERR_NUMERIC, "the fit's Jacobian has no SVD");
  for (size_t k = nd; k < np; k++)
    sv[k] = 0.0; /* fewer samples than parameters */
  return SHP_OK;
}

static int fill_solution(shp_fit *f, const candidate *c, double *J, double *r0,
                         double *r1, double *C, double *sv,
                         shp_fit_solution *s) {
  size_t np = f->np;
  s->params = calloc(np, sizeof *s->params);
  s->sigma = calloc(np, sizeof *s->sigma);
  s->covariance = calloc(np * np, sizeof *s->covariance);
  if (s->params == NULL || s->sigma == NULL || s->covariance == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  int rc = fit_jacobian(f, c->u, J, r0, r1);
  if (rc == SHP_OK)
    rc = posterior(f, J, C, sv);
  if (rc != SHP_OK)
    return rc;
  fit_unpack(f, c->u);
  for (size_t a = 0; a < np; a++) {
    s->params[a] = f->periodic[a] ? shp_wrap_phase(f->phys[a]) : f->phys[a];
    for (size_t b = 0; b < np; b++)
      s->covariance[a * np + b] = f->sigma[a] * f->sigma[b] * C[a * np + b];
    s->sigma[a] = sqrt(s->covariance[a * np + a]);
  }
  s->chi2 = c->chi2;
  s->cost = c->cost;
  s->members = c->members;
  return SHP_OK;
}

static void report(const shp_fit *f, shp_fit_set *set) {
  char *p = set->report;
  size_t left = sizeof set->report;
  int w =
      shp_snprintf(p, left,
                   "%zu consistent solution%s; the traces determine %zu "
                   "of %zu directions (chi2 %.1f for %zu samples)",
                   set->count, set->count == 1 ? "" : "s", set->data_determined,
                   f->np, set->solutions[0].chi2, f->points);
  if (w < 0 || (size_t)w >= left)
    return;
  p += w;
  left -= (size_t)w;
  bool first = true;
  for (size_t j = 0; j < f->np; j++) {
    if (set->sigma_ratio[j] < PRIOR_ONLY_RATIO)
      continue;
    w = shp_snprintf(p, left, "%s%s", first ? "; prior only: " : ", ",
                     f->names[j]);
    if (w < 0 || (size_t)w >= left)
      return;
    p += w;
    left -= (size_t)w;
    first = false;
  }
}

static int solve(shp_fit *f, const shp_fit_set *seeds, size_t fresh,
                 size_t skip, shp_fit_set *set);

int shp_fit_solve(shp_fit *f, shp_fit_set *set) {
  return solve(f, NULL, f->opts.starts, f->opts.seed % 64, set);
}

int shp_fit_solve_seeded(shp_fit *f, const shp_fit_set *seeds,
                         shp_fit_set *set) {
  return solve(f, seeds, f->opts.starts, f->opts.seed % 64, set);
}

int shp_fit_solve_wider(shp_fit *f, const shp_fit_set *seeds, size_t factor,
                        shp_fit_set *set) {
  if (factor < 2)
    return shp_error_set(SHP_ERR_INVALID,
                         "a wider solve needs a factor of at least 2");
  /* Past the points the usual solves take: new ones. */
  return solve(f, seeds, factor * f->opts.starts,
               f->opts.seed % 64 + f->opts.starts, set);
}

static int solve(shp_fit *f, const shp_fit_set *seeds, size_t fresh,
                 size_t skip, shp_fit_set *set) {
  if (f->nt == 0)
    return shp_error_set(SHP_ERR_INVALID, "nothing to fit: no traces");
  size_t np = f->np, nr = fit_residual_count(f), nd = f->points;
  size_t nseeds = seeds != NULL ? seeds->count : 0;
  if (nseeds > 0 &&
      (seeds->parameter_count > np || seeds->crystal_count != f->nc))
    return shp_error_set(SHP_ERR_INVALID,
                         "the seeds are solutions of another fit (%zu "
                         "parameters for %zu crystals; this fit has %zu for "
                         "%zu)",
                         seeds->parameter_count, seeds->crystal_count, np,
                         f->nc);
  size_t starts = fresh + nseeds;
  /* Each start's minimum, its conjugates at every trace's temperatures,
   * its time-reversed twin and that twin's conjugate. */
  size_t maxc = starts * (f->nt + 3);
  candidate *cand = calloc(maxc, sizeof *cand);
  double *pool = calloc(2 * maxc * np, sizeof *pool),
         *sg = calloc(np, sizeof *sg);
  double *u = calloc(np, sizeof *u), *q = calloc(f->nc, sizeof *q);
  double *r0 = calloc(nr, sizeof *r0), *r1 = calloc(nr, sizeof *r1);
  double *J = calloc(nd * np, sizeof *J), *C = calloc(np * np, sizeof *C);
  double *sv = calloc(np > nd ? np : nd, sizeof *sv);
  gsl_qrng *g = shp_qrng_new(f->nc, "fit");
  int rc = SHP_OK;
  if (g == NULL) {
    rc = shp_error_last();
    goto done;
  }
  if (cand == NULL || pool == NULL || sg == NULL || u == NULL || q == NULL ||
      r0 == NULL || r1 == NULL || J == NULL || C == NULL || sv == NULL) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t k = 0; k < maxc; k++) {
    cand[k].u = pool + 2 * k * np;
    cand[k].sig = cand[k].u + np;
  }
  f->evaluations = 0;
  f->nonfinite = false;
  size_t ncand = 0;
  size_t explore_iterations = f->opts.max_iterations;
  /* Starts: the prior, then phases spread over the torus (other unknowns
   * at their prior means: their priors are tight). */
  for (size_t k = 0; k < skip; k++)
    gsl_qrng_get(g, q);
  for (size_t s = 0; s < starts; s++) {
    memset(u, 0, np * sizeof *u);
    if (s < nseeds) {
      /* A previous solution; parameters added since at their priors. */
      const double *p = seeds->solutions[s].params;
      for (size_t j = 0; j < seeds->parameter_count; j++)
        u[j] = (f->periodic[j] ? shp_wrap_phase(p[j] - f->mean[j])
                               : p[j] - f->mean[j]) /
               f->sigma[j];
    } else if (s > nseeds) {
      gsl_qrng_get(g, q);
      for (size_t i = 0; i < f->nc; i++)
        u[i] = (SHP_TWO_PI * q[i] - SHP_PI) / f->sigma[i];
    }
    double cost = fit_lm(f, u, explore_iterations, sg, true);
    if (!isfinite(cost))
      continue;
    double chi2;
    if (fit_residuals(f, u, r0, &chi2) == SHP_OK)
      add_candidate(f, cand, &ncand, u, sg, cost, chi2);
  }
  if (ncand == 0) {
    if (f->nonfinite && f->nonfinite_trace < f->nt)
      rc = shp_error_set(SHP_ERR_NUMERIC,
                         "the model fit found no solution: the residual of "
                         "trace %zu, sample %zu is not finite from every one "
                         "of %zu starts",
                         f->nonfinite_trace + 1, f->nonfinite_sample + 1,
                         starts);
    else
      rc = shp_error_set(SHP_ERR_NUMERIC,
                         "the model fit found no solution from any of %zu "
                         "starts",
                         starts);
    goto done;
  }
  /* The consistency rule: chi2 within what the noise allows of the best,
   * chi2 <= chi2_min + chi2_allow * max(1, chi2_min / dof). Two solutions
   * fitted to the same samples share their noise, so their chi2 differ by
   * the evidence between them, not by the spread of chi2 over noise
   * realisations (sqrt(2 dof)): a difference of 9 is 3 sigma for a discrete
   * alternative. Where the best fit does not reach the noise (chi2_min >
   * dof: model imperfections), the allowance grows with the reduced chi2. */
  size_t npar = np;
  for (size_t m = 0; m < f->nt; m++)
    npar += f->kinds[f->traces[m].kind].model->linear_count;
  size_t dof = nd > npar ? nd - npar : 1;
  double chi2_min = INFINITY;
  for (size_t k = 0; k < ncand; k++)
    chi2_min = fmin(chi2_min, cand[k].chi2);
#define ALLOW (f->opts.chi2_allow * fmax(1.0, chi2_min / (double)dof))
  /* The twins of every minimum found: the conjugate phases at each trace's
   * temperatures, the time-reversed pulse and its conjugate. Each stays in
   * the set until a trace rules it out. Only the twins of consistent minima
   * are sought (a twin fits its trace as well as its source, no better). */
  for (size_t k = 0; k < ncand; k++) {
    if (!(cand[k].chi2 <= chi2_min + ALLOW))
      continue; /* twins of a minimum the traces reject are rejected too */
    size_t sets = 0;
    for (size_t m = 0; m <= f->nt && ncand < maxc; m++) {
      memcpy(u, cand[k].u, np * sizeof *u);
      const double *temps = f->traces[m < f->nt ? m : 0].temps;
      if (m > 0 && m < f->nt &&
          memcmp(temps, f->traces[0].temps, f->nc * sizeof *temps) == 0)
        continue;
      if (m < f->nt && f->opts.twin_sets > 0 && sets++ >= f->opts.twin_sets)
        continue;
      int twin =
          m < f->nt ? fit_conjugate(f, u, temps) : fit_reversed(f, u, temps);
      if (twin != SHP_OK)
        continue;
      for (int pass = 0; pass < (m < f->nt ? 1 : 2) && ncand < maxc; pass++) {
        if (pass == 1 && fit_conjugate(f, u, temps) != SHP_OK)
          break;
        double cost = fit_lm(f, u, explore_iterations, sg, true);
        double chi2;
        if (isfinite(cost) && fit_residuals(f, u, r0, &chi2) == SHP_OK) {
          add_candidate(f, cand, &ncand, u, sg, cost, chi2);
          chi2_min = fmin(chi2_min, chi2);
        }
      }
    }
  }
  /* Polish the promising minima with every unknown free (exploring kept
   * the azimuth and length errors at their priors; freeing them lowers a
   * chi2 by little, so a margin of three allowances is ample), best first,
   * then merge those that met and apply the consistency rule. */
  qsort(cand, ncand, sizeof *cand, cmp_cost);
  size_t polished = 0;
  for (size_t k = 0; k < ncand; k++) {
    if (!(cand[k].chi2 <= chi2_min + 3 * ALLOW))
      continue;
    double cost =
        fit_lm(f, cand[k].u, f->opts.max_iterations, cand[k].sig, false);
    double chi2;
    if (!isfinite(cost) || fit_residuals(f, cand[k].u, r0, &chi2) != SHP_OK)
      continue;
    cand[k].cost = cost;
    cand[k].chi2 = chi2;
    chi2_min = fmin(chi2_min, chi2);
    candidate t = cand[polished];
    cand[polished++] = cand[k];
    cand[k] = t;
  }
  qsort(cand, polished, sizeof *cand, cmp_cost);
  /* Informative priors (a calibration's) are knowledge the traces add to:
   * a solution must then be consistent with both, by its cost. The cost
   * is sorted, so the least is the first polished. */
  double cost_min = polished > 0 ? cand[0].cost : INFINITY;
  size_t keep = 0;
  for (size_t k = 0; k < polished; k++) {
    if (!(cand[k].chi2 <= chi2_min + ALLOW))
      continue;
    if (f->opts.prior_informative && !(cand[k].cost <= cost_min + ALLOW))
      continue;
    bool merged = false;
    for (size_t e = 0; e < keep && !merged; e++)
      if (distance(f, &cand[e], cand[k].u, cand[k].sig) < SAME_DISTANCE) {
        cand[e].members += cand[k].members;
        merged = true;
      }
    if (!merged) {
      candidate t = cand[keep];
      cand[keep++] = cand[k];
      cand[k] = t;
    }
  }
  set->parameter_count = np;
  set->crystal_count = f->nc;
  set->points = nd;
  set->dof = dof;
  set->solutions = calloc(keep, sizeof *set->solutions);
  set->singular_values = calloc(np, sizeof *set->singular_values);
  set->sigma_ratio = calloc(np, sizeof *set->sigma_ratio);
  if (set->solutions == NULL || set->singular_values == NULL ||
      set->sigma_ratio == NULL) {
    rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
    goto done;
  }
  set->count = keep;
  for (size_t k = 0; k < keep && rc == SHP_OK; k++)
    rc = fill_solution(f, &cand[k], J, r0, r1, C, k == 0 ? sv : NULL,
                       &set->solutions[k]);
  if (rc != SHP_OK)
    goto done;
  /* The best's identifiability, in prior units. */
  set->data_determined = 0;
  for (size_t j = 0; j < np; j++) {
    set->singular_values[j] = sv[j];
    if (sv[j] > 1.0)
      set->data_determined++;
    set->sigma_ratio[j] = set->solutions[0].sigma[j] / f->sigma[j];
  }
  report(f, set);
  set->evaluations = f->evaluations;
#undef ALLOW
done:
  if (g != NULL)
    gsl_qrng_free(g);
  free(cand);
  free(pool);
  free(sg);
  free(u);
  free(q);
  free(r0);
  free(r1);
  free(J);
  free(C);
  free(sv);
  return rc;
}

void shp_fit_set_clear(shp_fit_set *set) {
  if (set == NULL)
    return;
  for (size_t k = 0; k < set->count; k++) {
    free(set->solutions[k].params);
    free(set->solutions[k].sigma);
    free(set->solutions[k].covariance);
  }
  free(set->solutions);
  free(set->singular_values);
  free(set->sigma_ratio);
  *set = (shp_fit_set){0};
}
