#include "shp/tolerance.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/problem.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Samples a worker takes at a time: few enough that the last ones spread
 * over the threads, enough that neighbouring results are written by one
 * thread (no false sharing of cache lines). */
#define CHUNK 16
#define MAX_THREADS 256

/* Central-difference steps of the Jacobian, in the problem's variables'
 * units: those of shp_problem_gradient (1 millidegree, 10 nm, 1 mK). */
static const double steps[3] = {1e-3, 1e-5, 1e-3};
static const char *const kind_keys[3] = {"azimuth_deg", "length_mm",
                                         "temperature_c"};
static const char *const metric_names[SHP_TOL_METRICS] = {"error", "ripple",
                                                          "transmission"};

const char *shp_tolerance_metric_name(int m) {
  return m >= 0 && m < SHP_TOL_METRICS ? metric_names[m] : "";
}

typedef struct run run;

/* A worker's own workspaces, made before the threads start. */
typedef struct {
  run *run;
  shp_problem *problem;
  gsl_rng *rng;
  double *x;
  size_t failed;
  size_t first_failure; /* sample index, or SIZE_MAX */
  char failure[256];
  pthread_t thread;
} worker;

struct run {
  const shp_tolerance_spec *spec;
  shp_tolerance_result *r;
  size_t nvars;
  size_t *var_of; /* parameter -> problem variable */
  double *scale;  /* parameter -> sigma in the variable's unit */
  double *x0;     /* the nominal point */
  worker *workers;
  size_t worker_count;
  atomic_size_t next, done;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t finished;
};

/* ---- results ------------------------------------------------------------ */

void shp_tolerance_result_free(shp_tolerance_result *r) {
  if (r == NULL)
    return;
  for (int m = 0; m < SHP_TOL_METRICS; m++)
    free(r->values[m]);
  free(r->params);
  free(r->jacobian);
  free(r->curvature);
  free(r->ranking);
  free(r->singular_values);
  free(r->left);
  free(r->right);
  free(r);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_sigma(const shp_tolerance_sigma *s, const char *what) {
  const double v[3] = {s->azimuth_deg, s->length_um, s->temperature_k};
  static const char *const names[3] = {"azimuth_deg", "length_um",
                                       "temperature_k"};
  for (int k = 0; k < 3; k++)
    if (!(isfinite(v[k]) && v[k] >= 0))
      return shp_error_set(SHP_ERR_INVALID,
                           "tolerance: %s sigma %s: must be finite and >= 0, "
                           "got %g",
                           what, names[k], v[k]);
  return SHP_OK;
}

static int check_spec(const shp_tolerance_spec *spec) {
  if (spec == NULL || spec->stack == NULL || spec->target == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "tolerance: a stack and a target are needed");
  if (spec->samples < 1)
    return shp_error_set(SHP_ERR_INVALID,
                         "tolerance: at least one sample is needed");
  if (spec->stack->crystal_count == 0)
    return shp_error_set(SHP_ERR_INVALID, "tolerance: the stack is empty");
  int rc = check_sigma(&spec->sigma, "the");
  for (size_t c = 0; rc == SHP_OK && spec->crystal_sigma != NULL &&
                     c < spec->stack->crystal_count;
       c++) {
    char what[48];
    snprintf(what, sizeof what, "crystals[%zu]", c);
    rc = check_sigma(&spec->crystal_sigma[c], what);
  }
  return rc;
}

/* The parameters, their sigmas and where each sits among the problem's
 * variables (found by name, so the problem may order them as it likes). */
static int make_params(run *u) {
  const shp_tolerance_spec *spec = u->spec;
  shp_tolerance_result *r = u->r;
  const shp_stack *s = spec->stack;
  size_t np = r->param_count = 3 * s->crystal_count;
  r->params = calloc(np, sizeof *r->params);
  u->var_of = calloc(np, sizeof *u->var_of);
  u->scale = calloc(np, sizeof *u->scale);
  u->x0 = calloc(np, sizeof *u->x0);
  if (!r->params || !u->var_of || !u->scale || !u->x0)
    return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  shp_problem *p = u->workers[0].problem;
  u->nvars = shp_problem_size(p);
  if (u->nvars != np)
    return shp_error_set(SHP_ERR_MISMATCH,
                         "tolerance: %zu problem variables for %zu crystals",
                         u->nvars, s->crystal_count);
  for (size_t j = 0; j < np; j++) {
    shp_tolerance_param *q = &r->params[j];
    q->crystal = j / 3;
    q->kind = (shp_tolerance_kind)(j % 3);
    snprintf(q->name, sizeof q->name, "crystals[%zu].%s", q->crystal,
             kind_keys[q->kind]);
    const shp_tolerance_sigma *sg =
        spec->crystal_sigma ? &spec->crystal_sigma[q->crystal] : &spec->sigma;
    const shp_stack_crystal *cr = &s->crystals[q->crystal];
    switch (q->kind) {
    case SHP_TOL_AZIMUTH:
      q->sigma = u->scale[j] = sg->azimuth_deg;
      u->x0[j] = cr->azimuth_deg;
      break;
    case SHP_TOL_LENGTH:
      q->sigma = sg->length_um;
      u->scale[j] = 1e-3 * sg->length_um;
      u->x0[j] = cr->length_mm;
      break;
    case SHP_TOL_TEMPERATURE:
      q->sigma = u->scale[j] = sg->temperature_k;
      u->x0[j] = cr->temperature_c;
      break;
    }
    size_t v = 0;
    while (v < u->nvars && strcmp(shp_problem_name(p, v), q->name) != 0)
      v++;
    if (v == u->nvars)
      return shp_error_set(SHP_ERR_MISMATCH,
                           "tolerance: no problem variable \"%s\"", q->name);
    u->var_of[j] = v;
  }
  /* The nominal point in the problem's order. */
  double *x = u->workers[0].x;
  for (size_t j = 0; j < np; j++)
    x[u->var_of[j]] = u->x0[j];
  memcpy(u->x0, x, np * sizeof *x);
  return SHP_OK;
}

/* ---- workers ------------------------------------------------------------ */

static void free_workers(run *u) {
  for (size_t w = 0; u->workers != NULL && w < u->worker_count; w++) {
    shp_problem_free(u->workers[w].problem);
    gsl_rng_free(u->workers[w].rng);
    free(u->workers[w].x);
  }
  free(u->workers);
}

/* Every worker's problem, generator and point, made here on one thread
 * (FFTW plans are made under the toolkit's planner lock regardless). */
static int make_workers(run *u, size_t count) {
  const shp_tolerance_spec *spec = u->spec;
  shp_problem_spec ps = {.stack = spec->stack,
                         .target = spec->target,
                         .vary = SHP_VARY_TEMPERATURE | SHP_VARY_AZIMUTH |
                                 SHP_VARY_LENGTH,
                         .temperature_min_c = NAN,
                         .temperature_max_c = NAN,
                         .no_dispersion = spec->no_dispersion};
  u->workers = calloc(count, sizeof *u->workers);
  if (u->workers == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  u->worker_count = count;
  size_t nv = 3 * spec->stack->crystal_count;
  for (size_t w = 0; w < count; w++) {
    worker *k = &u->workers[w];
    k->run = u;
    k->first_failure = SIZE_MAX;
    if ((k->problem = shp_problem_new(&ps)) == NULL)
      return shp_error_last();
    k->rng = gsl_rng_alloc(gsl_rng_mt19937);
    k->x = calloc(nv, sizeof *k->x);
    if (k->rng == NULL || k->x == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  }
  return SHP_OK;
}

/* A 32-bit seed for sample i: a bijection of i (an odd multiplier and an
 * offset drawn from the run's seed, then MurmurHash3's finaliser), so the
 * samples of a run have distinct seeds and neighbouring samples unrelated
 * ones. GSL's MT19937 takes 32 bits of its seed. */
static unsigned long sample_seed(unsigned long seed, size_t i) {
  uint64_t z = (uint64_t)seed + 0x9E3779B97F4A7C15u; /* splitmix64 */
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  uint32_t h = (uint32_t)i * ((uint32_t)z | 1u) + (uint32_t)(z >> 32);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

/* Sample i: draw the errors, evaluate, store. Allocates nothing. */
static void run_sample(worker *k, size_t i) {
  run *u = k->run;
  shp_tolerance_result *r = u->r;
  gsl_rng_set(k->rng, sample_seed(u->spec->seed, i));
  memcpy(k->x, u->x0, u->nvars * sizeof *k->x);
  /* Unit draws scaled afterwards: a parameter's draw does not depend on
   * the sigmas, so runs that differ only in sigmas share their numbers. */
  for (size_t j = 0; j < r->param_count; j++)
    k->x[u->var_of[j]] += u->scale[j] * gsl_ran_gaussian(k->rng, 1.0);
  shp_metrics m;
  if (shp_problem_metrics(k->problem, k->x, &m) != SHP_OK) {
    for (int q = 0; q < SHP_TOL_METRICS; q++)
      r->values[q][i] = NAN;
    k->failed++;
    if (i < k->first_failure) {
      k->first_failure = i;
      snprintf(k->failure, sizeof k->failure, "sample %zu: %s", i,
               shp_error_detail());
    }
    return;
  }
  r->values[SHP_TOL_ERROR][i] = m.error;
  r->values[SHP_TOL_RIPPLE][i] = m.ripple;
  r->values[SHP_TOL_TRANSMISSION][i] = m.transmission;
}

static void *worker_main(void *arg) {
  worker *k = arg;
  run *u = k->run;
  size_t n = u->r->samples;
  for (;;) {
    size_t start = atomic_fetch_add(&u->next, CHUNK);
    if (start >= n)
      break;
    size_t end = n - start < CHUNK ? n : start + CHUNK;
    for (size_t i = start; i < end; i++)
      run_sample(k, i);
    atomic_fetch_add(&u->done, end - start);
  }
  pthread_mutex_lock(&u->lock);
  u->finished++;
  pthread_cond_signal(&u->cond);
  pthread_mutex_unlock(&u->lock);
  return NULL;
}

/* Start the workers and wait, reporting progress on this thread. Returns
 * how many threads ran; when none can be started, the calling thread does
 * the work itself. */
static size_t run_workers(run *u) {
  const shp_tolerance_spec *spec = u->spec;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&u->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&u->lock, NULL);
  size_t started = 0;
  for (size_t w = 0; w < u->worker_count; w++) {
    if (pthread_create(&u->workers[w].thread, NULL, worker_main,
                       &u->workers[w]) != 0)
      break; /* the workers started share out all the samples */
    started++;
  }
  if (started == 0) {
    worker_main(&u->workers[0]);
  } else {
    pthread_mutex_lock(&u->lock);
    while (u->finished < started) {
      if (spec->progress == NULL) {
        pthread_cond_wait(&u->cond, &u->lock);
        continue;
      }
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_nsec += 100000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&u->cond, &u->lock, &until);
      size_t done = atomic_load(&u->done);
      if (done == u->r->samples)
        continue; /* reported once, below */
      pthread_mutex_unlock(&u->lock);
      spec->progress(done, u->r->samples, spec->progress_user);
      pthread_mutex_lock(&u->lock);
    }
    pthread_mutex_unlock(&u->lock);
    for (size_t w = 0; w < started; w++)
      pthread_join(u->workers[w].thread, NULL);
  }
  if (spec->progress != NULL)
    spec->progress(u->r->samples, u->r->samples, spec->progress_user);
  pthread_cond_destroy(&u->cond);
  pthread_mutex_destroy(&u->lock);
  return started > 0 ? started : 1;
}

/* ---- statistics --------------------------------------------------------- */

static bool meets(const shp_target *t, const double *v) {
  return (!t->has_max_error || v[SHP_TOL_ERROR] <= t->max_error) &&
         (!t->has_max_ripple || v[SHP_TOL_RIPPLE] <= t->max_ripple) &&
         (!t->has_min_transmission ||
          v[SHP_TOL_TRANSMISSION] >= t->min_transmission);
}

/* Percentiles (GSL's linear interpolation between order statistics) and
 * means over the finite values; then the yield. */
static int summarise(run *u) {
  shp_tolerance_result *r = u->r;
  size_t n = r->samples;
  double *sorted = malloc(n * sizeof *sorted);
  if (sorted == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
      if (isfinite(r->values[m][i]))
        sorted[count++] = r->values[m][i];
    shp_tolerance_stats *st = &r->stats[m];
    st->count = count;
    if (count == 0) {
      st->p5 = st->p50 = st->p95 = st->mean = NAN;
      continue;
    }
    gsl_sort(sorted, 1, count);
    st->p5 = gsl_stats_quantile_from_sorted_data(sorted, 1, count, 0.05);
    st->p50 = gsl_stats_quantile_from_sorted_data(sorted, 1, count, 0.50);
    st->p95 = gsl_stats_quantile_from_sorted_data(sorted, 1, count, 0.95);
    st->mean = gsl_stats_mean(sorted, 1, count);
  }
  free(sorted);
  const shp_target *t = u->spec->target;
  r->has_yield =
      t->has_max_error || t->has_max_ripple || t->has_min_transmission;
  r->nominal_passes = r->has_yield && meets(t, r->nominal);
  r->yield = NAN;
  if (r->has_yield) {
    r->passed = 0;
    for (size_t i = 0; i < n; i++) {
      double v[SHP_TOL_METRICS];
      for (int m = 0; m < SHP_TOL_METRICS; m++)
        v[m] = r->values[m][i];
      r->passed += meets(t, v);
    }
    r->yield = (double)r->passed / (double)n;
  }
  return SHP_OK;
}

/* ---- sensitivity -------------------------------------------------------- */

static int metrics_at(shp_problem *p, const double *x, double *v) {
  shp_metrics m;
  int rc = shp_problem_metrics(p, x, &m);
  v[SHP_TOL_ERROR] = m.error;
  v[SHP_TOL_RIPPLE] = m.ripple;
  v[SHP_TOL_TRANSMISSION] = m.transmission;
  return rc;
}

/* Metric m at x with parameter j moved by d (in the variable's unit). */
static int probe(run *u, size_t j, double d, double *v) {
  shp_problem *p = u->workers[0].problem;
  double *x = u->workers[0].x;
  size_t var = u->var_of[j];
  memcpy(x, u->x0, u->nvars * sizeof *x);
  x[var] += d;
  int rc = metrics_at(p, x, v);
  if (rc != SHP_OK)
    return shp_error_prefix(
        "tolerance: %s %+g from the nominal stack: ", u->r->params[j].name, d);
  return SHP_OK;
}

/* The nominal metrics, the scaled Jacobian (central differences with the
 * small steps above) and the second-order terms (differences over one sigma
 * either side), on worker 0's problem. */
static int derivatives(run *u) {
  shp_tolerance_result *r = u->r;
  size_t np = r->param_count;
  if (metrics_at(u->workers[0].problem, u->x0, r->nominal) != SHP_OK)
    return shp_error_prefix("tolerance: the nominal stack: ");
  r->jacobian = calloc(SHP_TOL_METRICS * np, sizeof *r->jacobian);
  r->curvature = calloc(SHP_TOL_METRICS * np, sizeof *r->curvature);
  if (r->jacobian == NULL || r->curvature == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  for (size_t j = 0; j < np; j++) {
    double sg = u->scale[j], h = steps[r->params[j].kind];
    if (sg == 0)
      continue;
    double hi[SHP_TOL_METRICS], lo[SHP_TOL_METRICS], up[SHP_TOL_METRICS],
        down[SHP_TOL_METRICS];
    int rc = probe(u, j, h, hi);
    if (rc == SHP_OK)
      rc = probe(u, j, -h, lo);
    if (rc == SHP_OK)
      rc = probe(u, j, sg, up);
    if (rc == SHP_OK)
      rc = probe(u, j, -sg, down);
    if (rc != SHP_OK)
      return rc;
    for (int m = 0; m < SHP_TOL_METRICS; m++) {
      r->jacobian[m * np + j] = (hi[m] - lo[m]) / (2 * h) * sg;
      r->curvature[m * np + j] = 0.5 * (up[m] + down[m]) - r->nominal[m];
    }
  }
  /* A metric that is not defined here (NAN) has no derivative. */
  for (int m = 0; m < SHP_TOL_METRICS; m++) {
    bool finite = isfinite(r->nominal[m]);
    for (size_t j = 0; finite && j < np; j++)
      finite = isfinite(r->jacobian[m * np + j]) &&
               isfinite(r->curvature[m * np + j]);
    for (size_t j = 0; !finite && j < np; j++)
      r->jacobian[m * np + j] = r->curvature[m * np + j] = NAN;
  }
  return SHP_OK;
}

typedef struct {
  double effect;
  size_t index;
} ranked;

/* Largest effect first, ties in parameter order (qsort is not stable). */
static int by_effect(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->effect != y->effect)
    return x->effect < y->effect ? 1 : -1;
  return (x->index > y->index) - (x->index < y->index);
}

static int rank_params(shp_tolerance_result *r) {
  size_t np = r->param_count;
  ranked *order = calloc(np, sizeof *order);
  r->ranking = calloc(np, sizeof *r->ranking);
  if (order == NULL || r->ranking == NULL) {
    free(order);
    return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  }
  for (size_t j = 0; j < np; j++)
    if (r->params[j].sigma > 0)
      order[r->ranked_count++] = (ranked){r->params[j].effect, j};
  qsort(order, r->ranked_count, sizeof *order, by_effect);
  for (size_t q = 0; q < r->ranked_count; q++)
    r->ranking[q] = order[q].index;
  free(order);
  return SHP_OK;
}

/* Each parameter's effect over the finite rows, the ranking, and the SVD
 * of those rows of the Jacobian. */
static int sensitivity(run *u) {
  shp_tolerance_result *r = u->r;
  size_t np = r->param_count;
  int rows[SHP_TOL_METRICS];
  size_t nrows = 0;
  for (int m = 0; m < SHP_TOL_METRICS; m++)
    if (isfinite(r->jacobian[m * np]))
      rows[nrows++] = m;
  /* With M = M0 + g e + c e^2 / 2 and e ~ N(0, sigma^2), the variance of
   * M is (g sigma)^2 + (c sigma^2)^2 / 2, and c sigma^2 / 2 is what the
   * curvature array holds. */
  for (size_t j = 0; j < np; j++) {
    double lin = 0, all = 0;
    for (size_t q = 0; q < nrows; q++) {
      double g = r->jacobian[rows[q] * np + j],
             b = r->curvature[rows[q] * np + j];
      lin += g * g;
      all += g * g + 2 * b * b;
    }
    r->params[j].linear = sqrt(lin);
    r->params[j].effect = sqrt(all);
  }
  int rc = rank_params(r);
  if (rc != SHP_OK)
    return rc;

  size_t k = nrows < np ? nrows : np;
  r->sv_count = k;
  if (k == 0)
    return SHP_OK;
  double *a = malloc(nrows * np * sizeof *a);
  double *uu = malloc(nrows * k * sizeof *uu);
  double *superb = malloc(k * sizeof *superb);
  r->singular_values = calloc(k, sizeof *r->singular_values);
  r->left = calloc(k * SHP_TOL_METRICS, sizeof *r->left);
  r->right = calloc(k * np, sizeof *r->right);
  if (!a || !uu || !superb || !r->singular_values || !r->left || !r->right) {
    rc = shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
    goto done;
  }
  for (size_t q = 0; q < nrows; q++)
    memcpy(a + q * np, r->jacobian + rows[q] * np, np * sizeof *a);
  lapack_int info =
      LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'S', (lapack_int)nrows,
                     (lapack_int)np, a, (lapack_int)np, r->singular_values, uu,
                     (lapack_int)k, r->right, (lapack_int)np, superb);
  if (info != 0) {
    rc = shp_error_set(SHP_ERR_NUMERIC,
                       "tolerance: the SVD of the Jacobian failed (dgesvd "
                       "info %d)",
                       (int)info);
    goto done;
  }
  /* Signs are arbitrary in an SVD: make each right vector's largest
   * component positive (and its left vector follow) so output is stable. */
  for (size_t s = 0; s < k; s++) {
    double *v = r->right + s * np, big = 0;
    for (size_t j = 0; j < np; j++)
      if (fabs(v[j]) > fabs(big))
        big = v[j];
    double sign = big < 0 ? -1.0 : 1.0;
    for (size_t j = 0; j < np; j++)
      v[j] *= sign;
    for (size_t q = 0; q < nrows; q++)
      r->left[s * SHP_TOL_METRICS + rows[q]] = sign * uu[q * k + s];
  }
done:
  free(a);
  free(uu);
  free(superb);
  return rc;
}

/* ---- the run ------------------------------------------------------------ */

static size_t thread_count(const shp_tolerance_spec *spec) {
  size_t n = spec->threads;
  if (n == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? (size_t)cpus : 1;
  }
  if (n > MAX_THREADS)
    n = MAX_THREADS;
  return n < spec->samples ? n : spec->samples;
}

static int analyse(run *u) {
  const shp_tolerance_spec *spec = u->spec;
  shp_tolerance_result *r = u->r;
  for (int m = 0; m < SHP_TOL_METRICS; m++)
    if ((r->values[m] = malloc(spec->samples * sizeof *r->values[m])) == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
  int rc = make_workers(u, thread_count(spec));
  if (rc == SHP_OK)
    rc = make_params(u);
  if (rc == SHP_OK)
    rc = derivatives(u);
  if (rc == SHP_OK)
    rc = sensitivity(u);
  if (rc != SHP_OK)
    return rc;
  atomic_init(&u->next, 0);
  atomic_init(&u->done, 0);
  r->threads = run_workers(u);
  size_t first = SIZE_MAX;
  for (size_t w = 0; w < u->worker_count; w++) {
    const worker *k = &u->workers[w];
    r->failed += k->failed;
    if (k->first_failure < first) {
      first = k->first_failure;
      snprintf(r->failure, sizeof r->failure, "%s", k->failure);
    }
  }
  return summarise(u);
}

shp_tolerance_result *shp_tolerance_run(const shp_tolerance_spec *spec) {
  shp_gsl_guard();
  if (check_spec(spec) != SHP_OK)
    return NULL;
  double t0 = now_s();
  shp_tolerance_result *r = calloc(1, sizeof *r);
  if (r == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "tolerance: out of memory");
    return NULL;
  }
  r->samples = spec->samples;
  run u = {.spec = spec, .r = r};
  int rc = analyse(&u);
  free_workers(&u);
  free(u.var_of);
  free(u.scale);
  free(u.x0);
  if (rc != SHP_OK) {
    shp_tolerance_result_free(r);
    return NULL;
  }
  r->wall_time_s = now_s() - t0;
  return r;
}
