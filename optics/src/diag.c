#include "shp/diag.h"

#include "fft.h"
#include "shp/error.h"

#include <complex.h> /* before fftw3.h, so fftw_complex is double complex */
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

/* Every correlation is a product of spectra of traces zero-padded to m >= 2n
 * samples, so lags up to n - 1 never wrap onto each other. The metrics need
 * two correlations at once (numerator and denominator of the best scale), so
 * the workspace holds three padded real traces and two half spectra. */
#define REAL_BUFFERS 3
#define SPECTRA 2

struct shp_diag {
  size_t n; /* trace length */
  size_t m; /* padded length, see padded_length */
  double *r[REAL_BUFFERS];
  fftw_complex *c[SPECTRA]; /* m/2 + 1 bins each */
  fftw_plan r2c, c2r;       /* planned on r[0] -> c[0] and c[0] -> r[0] */
  /* A prepared target (shp_diag_prepare_target): the spectra of the padded
   * w T and w, which an optimizer would otherwise recompute every call. */
  const double *prep_target, *prep_weight;
  fftw_complex *prep_wt, *prep_w;
  double prep_tt;
};

/* Shifts whose overlap has less than this fraction of the largest possible
 * energy are treated as "no overlap": there the FFT correlations are at the
 * level of their rounding noise (~1e-16 of the largest value), and the ratio
 * num^2 / den of two noises is meaningless. */
#define OVERLAP_FLOOR 1e-9

/* Lifecycle */

static bool has_only_small_factors(size_t m) {
  static const size_t primes[] = {2, 3, 5, 7};
  for (size_t i = 0; i < sizeof primes / sizeof *primes; i++)
    while (m % primes[i] == 0)
      m /= primes[i];
  return m == 1;
}

/* The smallest even m >= 2n with no prime factor above 7. Any m >= 2n - 1
 * keeps the correlations linear. FFTW runs such sizes with its codelets
 * alone, while a large prime factor (2n = 2 * 4099, say) sends it to Rader's
 * or the generic algorithm, which malloc scratch space on every execute and
 * would break the promise that the hot path allocates nothing. Such numbers
 * are dense, so m stays within a few per cent of 2n. */
static size_t padded_length(size_t n) {
  size_t m = 2 * n;
  while (!has_only_small_factors(m))
    m += 2;
  return m;
}

static bool buffers_allocated(const shp_diag *d) {
  for (int i = 0; i < REAL_BUFFERS; i++)
    if (d->r[i] == NULL)
      return false;
  for (int i = 0; i < SPECTRA; i++)
    if (d->c[i] == NULL)
      return false;
  return true;
}

/* FFTW takes int sizes; the padded length stays below 2.2 n. */
#define MAX_POINTS ((size_t)INT_MAX / 4)

shp_diag *shp_diag_new(size_t n) {
  if (n < 4 || n > MAX_POINTS) {
    shp_error_set(SHP_ERR_INVALID,
                  "diag: a trace must have 4 to %zu samples, got %zu",
                  MAX_POINTS, n);
    return NULL;
  }
  shp_diag *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "diag: no memory for a workspace");
    return NULL;
  }
  d->n = n;
  d->m = padded_length(n);
  for (int i = 0; i < REAL_BUFFERS; i++)
    d->r[i] = fftw_alloc_real(d->m);
  for (int i = 0; i < SPECTRA; i++)
    d->c[i] = fftw_alloc_complex(d->m / 2 + 1);
  d->prep_wt = fftw_alloc_complex(d->m / 2 + 1);
  d->prep_w = fftw_alloc_complex(d->m / 2 + 1);
  if (!buffers_allocated(d) || d->prep_wt == NULL || d->prep_w == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "diag: no memory for %zu-point buffers", d->m);
    shp_diag_free(d);
    return NULL;
  }
  /* All buffers come from fftw_malloc, so they share the alignment the plans
   * are made for and fftw_execute_dft_r2c/c2r may run them on any of them. */
  shp_fft_plan_lock();
  d->r2c = fftw_plan_dft_r2c_1d((int)d->m, d->r[0], d->c[0], shp_fft_flags());
  d->c2r = fftw_plan_dft_c2r_1d((int)d->m, d->c[0], d->r[0], shp_fft_flags());
  shp_fft_plan_unlock();
  if (d->r2c == NULL || d->c2r == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "diag: FFTW could not plan %zu points", d->m);
    shp_diag_free(d);
    return NULL;
  }
  return d;
}

void shp_diag_free(shp_diag *d) {
  if (d == NULL)
    return;
  /* Destroying a plan touches the planner's state, so it takes the lock. */
  shp_fft_plan_lock();
  if (d->r2c != NULL)
    fftw_destroy_plan(d->r2c);
  if (d->c2r != NULL)
    fftw_destroy_plan(d->c2r);
  shp_fft_plan_unlock();
  for (int i = 0; i < REAL_BUFFERS; i++)
    fftw_free(d->r[i]);
  fftw_free(d->prep_wt);
  fftw_free(d->prep_w);
  for (int i = 0; i < SPECTRA; i++)
    fftw_free(d->c[i]);
  free(d);
}

size_t shp_diag_size(const shp_diag *d) { return d == NULL ? 0 : d->n; }

/* Helpers */

static double time_of_index(double x, size_t n, double dt) {
  return (x - (double)(n / 2)) * dt;
}

/* Checks a trace of n samples for NULL and non-finite values; *energy gets
 * sum x^2 so the caller can reject an all-zero trace. */
static int check_trace(const double *x, size_t n, const char *what,
                       double *energy) {
  if (x == NULL)
    return shp_error_set(SHP_ERR_INVALID, "diag: %s: missing", what);
  double e = 0.0;
  for (size_t j = 0; j < n; j++) {
    if (!isfinite(x[j]))
      return shp_error_set(SHP_ERR_INVALID,
                           "diag: %s[%zu]: must be finite, got %g", what, j,
                           x[j]);
    e += x[j] * x[j];
  }
  *energy = e;
  return SHP_OK;
}

/* dst[0..m-1] = f(x[j]) (or 1 where x is NULL) for j < n, then zeros. */
typedef enum { COPY, SQUARE } load_op;

static void load_padded(const shp_diag *d, double *dst, const double *x,
                        load_op op) {
  for (size_t j = 0; j < d->n; j++) {
    double v = x == NULL ? 1.0 : x[j];
    dst[j] = op == SQUARE ? v * v : v;
  }
  for (size_t j = d->n; j < d->m; j++)
    dst[j] = 0.0;
}

/* a[s mod m] = sum_k a(k) b(k + s), the linear cross-correlation of the
 * padded traces a and b, by the correlation theorem: its spectrum is
 * conj(A) B (Bracewell, The Fourier Transform and Its Applications, ch. 6).
 * a receives the result and b is scratch; FFTW's c2r is unnormalised,
 * hence the 1/m. */
static void cross_correlate(shp_diag *d, double *a, double *b) {
  fftw_complex *ca = d->c[0], *cb = d->c[1];
  fftw_execute_dft_r2c(d->r2c, a, ca);
  fftw_execute_dft_r2c(d->r2c, b, cb);
  double scale = 1.0 / (double)d->m;
  for (size_t k = 0; k <= d->m / 2; k++)
    ca[k] = conj(ca[k]) * cb[k] * scale;
  fftw_execute_dft_c2r(d->c2r, ca, a);
}

/* The same with b's spectrum already known. */
static void cross_correlate_with(shp_diag *d, double *a,
                                 const fftw_complex *b_spectrum) {
  fftw_complex *ca = d->c[0];
  fftw_execute_dft_r2c(d->r2c, a, ca);
  double scale = 1.0 / (double)d->m;
  for (size_t k = 0; k <= d->m / 2; k++)
    ca[k] = conj(ca[k]) * b_spectrum[k] * scale;
  fftw_execute_dft_c2r(d->c2r, ca, a);
}

static size_t lag_index(const shp_diag *d, ptrdiff_t s) {
  return s >= 0 ? (size_t)s : d->m - (size_t)(-s);
}

/* Autocorrelation */

int shp_diag_autocorrelation(shp_diag *d, const double *intensity,
                             shp_ac_kind kind, double *ac) {
  if (d == NULL || ac == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "diag: autocorrelation: missing workspace or output");
  if (kind != SHP_AC_BACKGROUND_FREE && kind != SHP_AC_COLLINEAR)
    return shp_error_set(SHP_ERR_INVALID,
                         "diag: autocorrelation: unknown kind %d", (int)kind);
  double energy = 0.0;
  int rc = check_trace(intensity, d->n, "intensity", &energy);
  if (rc != SHP_OK)
    return rc;
  if (energy == 0.0)
    return shp_error_set(SHP_ERR_INVALID, "diag: intensity: all zero");
  /* Wiener-Khinchin: the autocorrelation's spectrum is |F I|^2. */
  double *r = d->r[0];
  fftw_complex *c = d->c[0];
  load_padded(d, r, intensity, COPY);
  fftw_execute_dft_r2c(d->r2c, r, c);
  for (size_t k = 0; k <= d->m / 2; k++)
    c[k] = creal(c[k]) * creal(c[k]) + cimag(c[k]) * cimag(c[k]);
  fftw_execute_dft_c2r(d->c2r, c, r);
  /* A(0) = sum I^2 bounds |A(tau)| (Cauchy-Schwarz), so it is the peak. */
  double peak = r[0];
  for (size_t i = 0; i < 2 * d->n; i++) {
    double a = r[lag_index(d, (ptrdiff_t)i - (ptrdiff_t)d->n)] / peak;
    /* The autocorrelation of an intensity cannot be negative; the FFT's
     * rounding leaves values like -1e-16 where it vanishes. */
    a = a > 0.0 ? a : 0.0;
    /* Collinear (interferometric, fringe-averaged) intensity AC:
     * G(tau) = 1 + 2 A(tau)/A(0), normalised to its peak of 3 (Diels &
     * Rudolph, Ultrashort Laser Pulse Phenomena, 2nd ed., ch. 9). */
    ac[i] = kind == SHP_AC_COLLINEAR ? (1.0 + 2.0 * a) / 3.0 : a;
  }
  return SHP_OK;
}

/* Level crossings */

/* Fractional index where y first rises to level, interpolating linearly
 * between the first sample at or above it and the one before. NAN when y
 * starts at or above the level (the edge is not in the window) or never
 * reaches it. */
static double first_crossing(const double *y, size_t n, double level) {
  for (size_t i = 0; i < n; i++) {
    if (y[i] >= level) {
      if (i == 0)
        return NAN;
      return (double)(i - 1) + (level - y[i - 1]) / (y[i] - y[i - 1]);
    }
  }
  return NAN;
}

/* Mirror image of first_crossing: where y last falls below level. */
static double last_crossing(const double *y, size_t n, double level) {
  for (size_t i = n; i-- > 0;) {
    if (y[i] >= level) {
      if (i == n - 1)
        return NAN;
      return (double)i + (y[i] - level) / (y[i] - y[i + 1]);
    }
  }
  return NAN;
}

static double max_of(const double *y, size_t n) {
  double m = y[0];
  for (size_t i = 1; i < n; i++)
    m = y[i] > m ? y[i] : m;
  return m;
}

double shp_fwhm(const double *y, size_t n, double dx) {
  if (y == NULL || n < 3 || !isfinite(dx))
    return NAN;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(y[i]))
      return NAN;
  double peak = max_of(y, n);
  if (!(peak > 0.0))
    return NAN;
  return (last_crossing(y, n, 0.5 * peak) - first_crossing(y, n, 0.5 * peak)) *
         dx;
}

/* Ripple */

/* (max - min) / (max + min) of y[lo..hi]; NAN when that is not a ratio of
 * positive numbers. */
static double ripple_of(const double *y, size_t lo, size_t hi) {
  double mx = y[lo], mn = y[lo];
  for (size_t i = lo + 1; i <= hi; i++) {
    mx = y[i] > mx ? y[i] : mx;
    mn = y[i] < mn ? y[i] : mn;
  }
  return mx + mn > 0.0 ? (mx - mn) / (mx + mn) : NAN;
}

/* The plateau between the 90 % crossings, narrowed to its first and last
 * local maxima: the samples just inside a 90 % crossing still lie on the
 * edge, near 0.9 of the peak, and would count the edge as a 5 % ripple on a
 * perfectly flat top. Returns false when there is no such span. */
static bool default_plateau(const double *y, size_t n, double peak, size_t *lo,
                            size_t *hi) {
  double level = 0.9 * peak;
  double a = first_crossing(y, n, level), b = last_crossing(y, n, level);
  if (isnan(a) || isnan(b))
    return false;
  /* The first and last samples at or above the level; i <= k. */
  size_t i = (size_t)ceil(a), k = (size_t)floor(b);
  while (i < k && y[i + 1] > y[i])
    i++;
  while (k > i && y[k - 1] > y[k])
    k--;
  *lo = i;
  *hi = k;
  return true;
}

/* Samples whose time lies in [start_ps, end_ps]; false when none does. */
static bool window_indices(size_t n, double dt, double start_ps, double end_ps,
                           size_t *lo, size_t *hi) {
  double half = (double)(n / 2);
  double a = ceil(start_ps / dt + half), b = floor(end_ps / dt + half);
  a = a < 0.0 ? 0.0 : a;
  b = b > (double)(n - 1) ? (double)(n - 1) : b;
  if (!(a <= b))
    return false;
  *lo = (size_t)a;
  *hi = (size_t)b;
  return true;
}

static void ripple_metrics(const double *y, size_t n, double dt,
                           const shp_metrics_opts *opts, shp_metrics *out) {
  size_t lo, hi;
  out->ripple = out->plateau_start_ps = out->plateau_end_ps = NAN;
  if (opts != NULL && opts->plateau_end_ps > opts->plateau_start_ps) {
    out->plateau_start_ps = opts->plateau_start_ps;
    out->plateau_end_ps = opts->plateau_end_ps;
    if (window_indices(n, dt, opts->plateau_start_ps, opts->plateau_end_ps, &lo,
                       &hi))
      out->ripple = ripple_of(y, lo, hi);
    return;
  }
  if (!(out->peak > 0.0) || !default_plateau(y, n, out->peak, &lo, &hi))
    return;
  out->plateau_start_ps = time_of_index((double)lo, n, dt);
  out->plateau_end_ps = time_of_index((double)hi, n, dt);
  out->ripple = ripple_of(y, lo, hi);
}

/* Shape metrics */

static void shape_metrics(const double *y, size_t n, double dt,
                          shp_metrics *out) {
  double sum = 0.0;
  for (size_t j = 0; j < n; j++)
    sum += y[j];
  out->transmission = sum * dt;
  out->peak = max_of(y, n);
  out->fwhm_ps = shp_fwhm(y, n, dt);
  out->rise_time_ps = out->fall_time_ps = NAN;
  if (!(out->peak > 0.0))
    return;
  double lo = 0.1 * out->peak, hi = 0.9 * out->peak;
  out->rise_time_ps =
      (first_crossing(y, n, hi) - first_crossing(y, n, lo)) * dt;
  out->fall_time_ps = (last_crossing(y, n, lo) - last_crossing(y, n, hi)) * dt;
}

/* Error against a target */

typedef struct {
  const double *y, *target, *weight; /* weight NULL means all ones */
  size_t n;
  double tt; /* sum w T^2 */
} error_problem;

typedef struct {
  double e2;    /* squared relative error */
  double scale; /* best a >= 0 */
} fit;

static double weight_at(const error_problem *p, size_t j) {
  return p->weight == NULL ? 1.0 : p->weight[j];
}

/* The fit at integer shift s evaluated directly, e^2 = sum w (a I_s - T)^2 /
 * sum w T^2, which keeps full precision near zero where the FFT formula
 * 1 - num^2 / (den tt) cancels to ~1e-16. a >= 0: a negative scale would
 * turn the intensity upside down. */
static fit fit_at(const error_problem *p, ptrdiff_t s) {
  ptrdiff_t n = (ptrdiff_t)p->n;
  /* I_s(j) = I(j - s) overlaps the window for j in [lo, hi). */
  ptrdiff_t lo = s > 0 ? s : 0, hi = s < 0 ? n + s : n;
  lo = lo < n ? lo : n;
  hi = hi > lo ? hi : lo;
  double num = 0.0, den = 0.0;
  for (ptrdiff_t j = lo; j < hi; j++) {
    double v = p->y[j - s], w = weight_at(p, (size_t)j);
    num += w * v * p->target[j];
    den += w * v * v;
  }
  fit f = {.scale = num > 0.0 && den > 0.0 ? num / den : 0.0};
  double r = 0.0;
  for (ptrdiff_t j = 0; j < n; j++) {
    double v = j >= lo && j < hi ? p->y[j - s] : 0.0;
    double diff = f.scale * v - p->target[j];
    r += weight_at(p, (size_t)j) * diff * diff;
  }
  f.e2 = r / p->tt;
  return f;
}

/* The integer shift of least error over all lags |s| < n, from the FFT
 * correlations num(s) = <I_s, w T> and den(s) = <I_s^2, w>, since
 * min_a e^2(s) = 1 - num^2 / (den tt) (for num > 0; else a = 0, e^2 = 1). */
static ptrdiff_t best_integer_shift(shp_diag *d, const error_problem *p) {
  double *num = d->r[0], *den = d->r[1], *aux = d->r[2];
  double wmax = 0.0, yy = 0.0;
  bool prepared = p->target == d->prep_target && p->weight == d->prep_weight;
  for (size_t j = 0; j < d->n; j++) {
    double w = weight_at(p, j);
    aux[j] = w * p->target[j];
    wmax = w > wmax ? w : wmax;
    yy += p->y[j] * p->y[j];
  }
  for (size_t j = d->n; j < d->m; j++)
    aux[j] = 0.0;
  load_padded(d, num, p->y, COPY);
  load_padded(d, den, p->y, SQUARE);
  if (prepared) {
    cross_correlate_with(d, num, d->prep_wt);
    cross_correlate_with(d, den, d->prep_w);
  } else {
    cross_correlate(d, num, aux);
    load_padded(d, aux, p->weight, COPY);
    cross_correlate(d, den, aux);
  }
  /* den(s) <= sum I^2 max w for every s. */
  double noise_floor = OVERLAP_FLOOR * yy * wmax;
  ptrdiff_t best = 0, smax = (ptrdiff_t)d->n - 1;
  double best_e2 = INFINITY;
  for (ptrdiff_t s = -smax; s <= smax; s++) {
    double nu = num[lag_index(d, s)], de = den[lag_index(d, s)];
    double e2 =
        nu > 0.0 && de > noise_floor ? 1.0 - nu * nu / (de * p->tt) : 1.0;
    /* Ties (a dark output fits equally badly everywhere) go to the
     * smallest shift. */
    if (e2 < best_e2 || (e2 == best_e2 && llabs(s) < llabs(best))) {
      best_e2 = e2;
      best = s;
    }
  }
  return best;
}

/* Refine the integer minimum s with the parabola through the direct fits at
 * s - 1, s, s + 1 (vertex of the Lagrange parabola, e.g. Press et al.,
 * Numerical Recipes, 3rd ed., sec. 10.3). The rounding-level ties the FFT
 * may have broken the wrong way are first settled by stepping downhill. */
static void refine_shift(const error_problem *p, ptrdiff_t s, double dt,
                         shp_metrics *out) {
  fit fm = fit_at(p, s - 1), f0 = fit_at(p, s), fp = fit_at(p, s + 1);
  for (int step = 0; step < 4; step++) {
    if (fm.e2 < f0.e2 && fm.e2 <= fp.e2) {
      fp = f0, f0 = fm, s--;
      fm = fit_at(p, s - 1);
    } else if (fp.e2 < f0.e2) {
      fm = f0, f0 = fp, s++;
      fp = fit_at(p, s + 1);
    } else {
      break;
    }
  }
  double curv = fm.e2 - 2.0 * f0.e2 + fp.e2, delta = 0.0, e2 = f0.e2;
  if (curv > 0.0) {
    delta = 0.5 * (fm.e2 - fp.e2) / curv;
    delta = delta > 0.5 ? 0.5 : delta < -0.5 ? -0.5 : delta;
    e2 = f0.e2 - 0.25 * (fm.e2 - fp.e2) * delta;
  }
  out->error = sqrt(e2 > 0.0 ? e2 : 0.0);
  out->error_shift_ps = ((double)s + delta) * dt;
  /* The scale at the vertex, from the parabola through the three scales. */
  out->error_scale =
      f0.scale + 0.5 * delta * (fp.scale - fm.scale) +
      0.5 * delta * delta * (fp.scale - 2.0 * f0.scale + fm.scale);
}

static int check_error_inputs(const shp_diag *d, const shp_metrics_opts *opts,
                              double *tt) {
  double energy = 0.0;
  int rc = check_trace(opts->target, d->n, "target", &energy);
  if (rc == SHP_OK && opts->weight != NULL)
    rc = check_trace(opts->weight, d->n, "weight", &energy);
  if (rc != SHP_OK)
    return rc;
  double s = 0.0;
  for (size_t j = 0; j < d->n; j++) {
    double w = opts->weight == NULL ? 1.0 : opts->weight[j];
    if (w < 0.0)
      return shp_error_set(SHP_ERR_INVALID,
                           "diag: weight[%zu]: must be >= 0, got %g", j, w);
    s += w * opts->target[j] * opts->target[j];
  }
  if (!(s > 0.0))
    return shp_error_set(SHP_ERR_INVALID,
                         "diag: target: zero wherever the weight is not");
  *tt = s;
  return SHP_OK;
}

int shp_diag_metrics(shp_diag *d, const double *intensity, double dt_ps,
                     const shp_metrics_opts *opts, shp_metrics *out) {
  if (d == NULL || out == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "diag: metrics: missing workspace or output");
  if (!(isfinite(dt_ps) && dt_ps > 0.0))
    return shp_error_set(SHP_ERR_INVALID, "diag: dt_ps: must be > 0, got %g",
                         dt_ps);
  double energy = 0.0, tt = 0.0;
  int rc = check_trace(intensity, d->n, "intensity", &energy);
  bool has_target = opts != NULL && opts->target != NULL;
  if (rc == SHP_OK && has_target) {
    if (opts->target == d->prep_target && opts->weight == d->prep_weight)
      tt = d->prep_tt; /* checked when it was prepared */
    else
      rc = check_error_inputs(d, opts, &tt);
  }
  if (rc != SHP_OK)
    return rc;
  shp_metrics m = {.has_error = has_target,
                   .error = NAN,
                   .error_shift_ps = NAN,
                   .error_scale = NAN};
  if (opts != NULL && opts->error_only) {
    double sum = 0.0;
    for (size_t j = 0; j < d->n; j++)
      sum += intensity[j];
    m.transmission = sum * dt_ps;
    m.peak = max_of(intensity, d->n);
    m.fwhm_ps = m.rise_time_ps = m.fall_time_ps = m.ripple = NAN;
    m.plateau_start_ps = m.plateau_end_ps = NAN;
  } else {
    shape_metrics(intensity, d->n, dt_ps, &m);
    ripple_metrics(intensity, d->n, dt_ps, opts, &m);
  }
  if (has_target) {
    error_problem p = {intensity, opts->target, opts->weight, d->n, tt};
    ptrdiff_t s = best_integer_shift(d, &p);
    refine_shift(&p, s, dt_ps, &m);
  }
  *out = m;
  return SHP_OK;
}

int shp_diag_prepare_target(shp_diag *d, const double *target,
                            const double *weight) {
  if (d == NULL)
    return shp_error_set(SHP_ERR_INVALID, "diag: missing workspace");
  d->prep_target = d->prep_weight = NULL;
  shp_metrics_opts opts = {.target = target, .weight = weight};
  double tt;
  int rc = check_error_inputs(d, &opts, &tt);
  if (rc != SHP_OK)
    return rc;
  double *aux = d->r[2];
  for (size_t j = 0; j < d->n; j++)
    aux[j] = (weight == NULL ? 1.0 : weight[j]) * target[j];
  for (size_t j = d->n; j < d->m; j++)
    aux[j] = 0.0;
  fftw_execute_dft_r2c(d->r2c, aux, d->prep_wt);
  load_padded(d, aux, weight, COPY);
  fftw_execute_dft_r2c(d->r2c, aux, d->prep_w);
  d->prep_target = target;
  d->prep_weight = weight;
  d->prep_tt = tt;
  return SHP_OK;
}
