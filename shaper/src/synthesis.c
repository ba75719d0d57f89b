/* Network synthesis of ideal stacks of equal plates (synthesis.h).
 *
 * The forward model multiplies polynomial Jones vectors. Synthesis follows
 * Harris, Ammann and Chang, JOSA 54, 1267 (1964): the complementary
 * polynomial B comes from spectral factorisation of 1 - |A|^2, then the
 * plates are peeled one at a time from the output end, each peel being the
 * one rotation that makes the e component divisible by z and the o
 * component one degree lower. The double pass searches the root selections
 * for a network that reads the same both ways; the fit is Levenberg-
 * Marquardt on intensity residuals. */
#include "shp/synthesis.h"

#include "shp/error.h"
#include "shp/units.h"

#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_poly.h>
#include <gsl/gsl_qrng.h>
#include <gsl/gsl_spline.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PASSES (2 * SHP_SYNTH_MAX_PLATES)
#define MAX_TAPS (MAX_PASSES + 1)
/* How far max |A| may exceed 1 and still count as rounding of the taps. */
#define GAIN_SLACK 1e-12
/* Imaginary parts below this fraction of the largest tap are rounding. */
#define REAL_TOL 1e-12
/* Double roots of 1 - |A|^2 on the unit circle split under rounding into
 * two roots about sqrt(eps) apart; anything this close (in |log|r||) is
 * taken as on the circle. Treating a true pair r, 1/conj(r) that close as
 * a circle root changes |B|^2 by O(1e-10), which the polish removes. */
#define CIRCLE_LOG 1e-5
/* Roots this close (relative) may be one double root split by rounding. */
#define DOUBLE_SEP 1e-6
/* Points on the unit circle where |B|^2 is matched to 1 - |A|^2. */
#define NORM_POINTS 64
#define MAX_CHOICE_BITS 20
/* A palindromic candidate must reproduce the taps this well. */
#define EXACT_TOL 1e-9
/* Near the degenerate stacks (neighbouring plates crossed or parallel) the
 * tap error has long flat valleys in the azimuths, where Levenberg-
 * Marquardt converges only linearly; converged polishes stop long before. */
#define POLISH_ITERATIONS 1000
/* Worse than this, single-pass synthesis reports a numerical failure. */
#define NUMERIC_TOL 1e-6

static double norm2(double complex x, double complex y) {
  return creal(x) * creal(x) + cimag(x) * cimag(x) + creal(y) * creal(y) +
         cimag(y) * cimag(y);
}

/* p reduced to (-pi/2, pi/2]: angles of axes, which repeat every pi. */
static double reduce_half(double p) {
  p = remainder(p, SHP_PI);
  return p <= -0.5 * SHP_PI ? p + SHP_PI : p;
}

/* ---- the forward model -------------------------------------------------- */

static int check_stack(const shp_synth_stack *s) {
  if (s == NULL || s->n > SHP_SYNTH_MAX_PLATES)
    return shp_error_set(SHP_ERR_INVALID,
                         "synthesis: no stack, or more than %d plates",
                         SHP_SYNTH_MAX_PLATES);
  bool ok = isfinite(s->input_polarizer_deg) &&
            (!s->has_output_polarizer || isfinite(s->output_polarizer_deg));
  for (size_t k = 0; ok && k < s->n; k++)
    ok = isfinite(s->azimuth_deg[k]) && isfinite(s->phase_offset_rad[k]);
  return ok ? SHP_OK
            : shp_error_set(SHP_ERR_INVALID,
                            "synthesis: the stack's angles "
                            "and phase offsets must be finite");
}

/* One plate pass on the polynomial Jones vector (x, y) of degree deg: into
 * the plate's frame, e -> exp(-i phi/2) z e and o -> exp(+i phi/2) o (the
 * plate's matrix times z^(1/2)), and back. Top down, so it works in place. */
static void plate_pass(double complex *x, double complex *y, size_t deg,
                       double theta, double phi) {
  double c = cos(theta), s = sin(theta);
  double complex pe = phi == 0 ? 1 : cexp(-0.5 * I * phi), po = conj(pe);
  for (size_t k = deg + 2; k-- > 0;) {
    double complex e = k > 0 ? (c * x[k - 1] + s * y[k - 1]) * pe : 0;
    double complex o = k <= deg ? (-s * x[k] + c * y[k]) * po : 0;
    x[k] = c * e - s * o;
    y[k] = s * e + c * o;
  }
}

size_t shp_synth_tap_count(const shp_synth_stack *s) {
  return (s->double_pass ? 2 * s->n : s->n) + 1;
}

int shp_synth_taps(const shp_synth_stack *s, double complex *a,
                   double complex *b) {
  int rc = check_stack(s);
  if (rc != SHP_OK)
    return rc;
  if (a == NULL)
    return shp_error_set(SHP_ERR_INVALID, "synthesis: no tap array");
  double complex x[MAX_TAPS + 1] = {0}, y[MAX_TAPS + 1] = {0};
  double t0 = shp_deg_to_rad(s->input_polarizer_deg);
  x[0] = cos(t0);
  y[0] = sin(t0);
  size_t m = shp_synth_tap_count(s) - 1;
  for (size_t p = 0; p < m; p++) {
    size_t k = p < s->n ? p : 2 * s->n - 1 - p;
    plate_pass(x, y, p, shp_deg_to_rad(s->azimuth_deg[k]),
               s->phase_offset_rad[k]);
  }
  double u =
      s->has_output_polarizer ? shp_deg_to_rad(s->output_polarizer_deg) : 0.0;
  double cu = cos(u), su = sin(u);
  for (size_t k = 0; k <= m; k++) {
    a[k] = cu * x[k] + su * y[k];
    if (b != NULL)
      b[k] = -su * x[k] + cu * y[k];
  }
  return SHP_OK;
}

/* ---- the gain on the unit circle -------------------------------------- */

static int check_taps(const double complex *a, size_t count) {
  if (a == NULL || count == 0 || count > MAX_TAPS)
    return shp_error_set(SHP_ERR_INVALID,
                         "synthesis: need 1 to %d taps, got %zu", MAX_TAPS,
                         a == NULL ? 0 : count);
  for (size_t k = 0; k < count; k++)
    if (!isfinite(creal(a[k])) || !isfinite(cimag(a[k])))
      return shp_error_set(SHP_ERR_INVALID, "synthesis: tap %zu is not finite",
                           k);
  return SHP_OK;
}

/* r_m = sum_k a_{k+m} conj(a_k), so that on |z| = 1
 * |A(z)|^2 = r_0 + 2 Re sum_{m>0} r_m z^m. */
static void autocorr(const double complex *a, size_t count, double complex *r) {
  for (size_t m = 0; m < count; m++) {
    r[m] = 0;
    for (size_t k = 0; k + m < count; k++)
      r[m] += a[k + m] * conj(a[k]);
  }
}

/* |A|^2 at z = exp(-i w), and its first two derivatives in w. */
static double power_at(const double complex *r, size_t count, double w,
                       double *d1, double *d2) {
  double f = creal(r[0]), g = 0, h = 0;
  for (size_t m = 1; m < count; m++) {
    double dm = (double)m;
    double complex t = r[m] * cexp(-I * dm * w);
    f += 2 * creal(t);
    g += 2 * dm * cimag(t);
    h -= 2 * dm * dm * creal(t);
  }
  *d1 = g;
  *d2 = h;
  return f;
}

int shp_synth_max_gain(const double complex *a, size_t count, double *gain) {
  int rc = check_taps(a, count);
  if (rc != SHP_OK)
    return rc;
  double complex r[MAX_TAPS];
  autocorr(a, count, r);
  size_t n = 32 * count < 1024 ? 1024 : 32 * count;
  double best = -1, wbest = 0, d1, d2;
  for (size_t j = 0; j < n; j++) {
    double w = SHP_TWO_PI * (double)j / (double)n;
    double f = power_at(r, count, w, &d1, &d2);
    if (f > best) {
      best = f;
      wbest = w;
    }
  }
  /* Newton on the derivative from the best grid point: the grid puts it
   * within half a cell of the peak, well inside Newton's basin. */
  double w = wbest;
  for (int it = 0; it < 8; it++) {
    power_at(r, count, w, &d1, &d2);
    if (!(d2 < 0))
      break;
    w -= d1 / d2;
    best = fmax(best, power_at(r, count, w, &d1, &d2));
  }
  if (gain != NULL)
    *gain = sqrt(fmax(best, 0.0));
  return SHP_OK;
}

int shp_synth_taps_normalize(double complex *a, size_t count, double *scale) {
  double g;
  int rc = shp_synth_max_gain(a, count, &g);
  if (rc != SHP_OK)
    return rc;
  if (!(g > 0))
    return shp_error_set(SHP_ERR_RANGE, "synthesis: the taps are all zero");
  for (size_t k = 0; k < count; k++)
    a[k] /= g;
  if (scale != NULL)
    *scale = 1.0 / g;
  return SHP_OK;
}

static int check_gain(const double complex *a, size_t count) {
  double g;
  int rc = shp_synth_max_gain(a, count, &g);
  if (rc == SHP_OK && g > 1 + GAIN_SLACK)
    rc = shp_error_set(SHP_ERR_RANGE,
                       "synthesis: max |A(z)| on |z| = 1 is 1 + %.3g, above "
                       "what a lossless stack passes; scale the taps by %.9g "
                       "(shp_synth_taps_normalize)",
                       g - 1, 1.0 / g);
  return rc;
}

/* ---- the complementary polynomial ------------------------------------- */

typedef struct {
  size_t deg;
  double complex c[3];
} factor;

/* The complementary polynomials of one A. Every B with |B|^2 = 1 - |A|^2 on
 * the unit circle is, up to a unimodular constant, c times one root of each
 * reciprocal pair (r, 1/conj(r)) of z^m (1 - |A|^2): roots on the circle
 * come in double pairs and leave no choice (fixed factors); the others give
 * two options per group (the inside root or its reflection, with its
 * conjugate for real taps; or a root at 0 or at infinity). */
typedef struct {
  size_t m;
  bool real; /* real taps: keep B real */
  bool zero; /* |A| = 1 everywhere: B = 0 */
  double complex a[MAX_TAPS];
  factor fixed[MAX_TAPS];
  size_t n_fixed;
  factor opt[MAX_TAPS][2];
  size_t n_groups;
  double complex zs[NORM_POINTS];
  double d[NORM_POINTS]; /* 1 - |A(zs)|^2 */
} complement;

static double complex poly_eval(const double complex *p, size_t deg,
                                double complex z) {
  double complex v = p[deg];
  for (size_t j = deg; j-- > 0;)
    v = v * z + p[j];
  return v;
}

/* Q(z)/Q'(z), through the reversed polynomial when |z| > 1 so that large
 * roots neither overflow nor lose accuracy. */
static double complex newton_ratio(const double complex *q, size_t deg,
                                   double complex z) {
  double complex p = 0, dp = 0;
  if (cabs(z) <= 1) {
    p = q[deg];
    for (size_t j = deg; j-- > 0;) {
      dp = dp * z + p;
      p = p * z + q[j];
    }
    return p / dp;
  }
  /* Q(z) = z^d R(w), w = 1/z, R(w) = sum_j q_{d-j} w^j; then
   * Q/Q' = z R / (d R - w R'). */
  double complex w = 1.0 / z;
  p = q[0];
  for (size_t j = 1; j <= deg; j++) {
    dp = dp * w + p;
    p = p * w + q[j];
  }
  return z * p / ((double)deg * p - w * dp);
}

/* Aberth-Ehrlich iteration on all roots together, from the eigenvalues:
 * cubic convergence for simple roots, and the mutual repulsion keeps close
 * roots apart, which Newton on each root alone does not. The eigenvalues
 * are accurate only to about eps/separation, and a network whose plates
 * are nearly crossed has pairs of roots a few 1e-6 apart, which the peel
 * then needs to near full accuracy. */
static void polish_roots(const double complex *q, size_t deg, double complex *z,
                         bool real) {
  /* Real roots of a real polynomial stay real; rounding in the sums must
   * not turn one into a conjugate pair. */
  bool keep_real[2 * MAX_TAPS];
  for (size_t i = 0; i < deg; i++)
    keep_real[i] = real && cimag(z[i]) == 0;
  for (int it = 0; it < 50; it++) {
    double worst = 0;
    for (size_t i = 0; i < deg; i++) {
      double complex ratio = newton_ratio(q, deg, z[i]), sum = 0;
      for (size_t j = 0; j < deg; j++)
        if (j != i)
          sum += 1.0 / (z[i] - z[j]);
      double complex w = ratio / (1.0 - ratio * sum);
      if (!isfinite(creal(w)) || !isfinite(cimag(w)))
        continue;
      z[i] = keep_real[i] ? creal(z[i] - w) : z[i] - w;
      worst = fmax(worst, cabs(w) / fmax(cabs(z[i]), DBL_MIN));
    }
    if (worst <= 4 * DBL_EPSILON)
      break;
  }
}

/* Real coefficients: gsl_poly_complex_solve, which returns conjugate
 * pairs exactly. */
static int roots_real(const double complex *q, size_t deg, double complex *z) {
  double c[2 * MAX_TAPS], packed[4 * MAX_TAPS];
  for (size_t j = 0; j <= deg; j++)
    c[j] = creal(q[j]);
  gsl_poly_complex_workspace *w = gsl_poly_complex_workspace_alloc(deg + 1);
  if (w == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  int st = gsl_poly_complex_solve(c, deg + 1, w, packed);
  gsl_poly_complex_workspace_free(w);
  if (st != GSL_SUCCESS)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "synthesis: root finding of 1 - |A|^2 failed (%s)",
                         gsl_strerror(st));
  for (size_t j = 0; j < deg; j++)
    z[j] = packed[2 * j] + I * packed[2 * j + 1];
  return SHP_OK;
}

/* Complex coefficients: eigenvalues of the companion matrix (LAPACK zgeev,
 * which balances it first). */
static int roots_complex(const double complex *q, size_t deg,
                         double complex *z) {
  double complex *cm = calloc(deg * deg, sizeof *cm);
  if (cm == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  for (size_t j = 0; j < deg; j++) {
    cm[j * deg] = -q[deg - 1 - j] / q[deg]; /* first row, column major */
    if (j + 1 < deg)
      cm[(j + 1) + j * deg] = 1;
  }
  lapack_int n = (lapack_int)deg;
  lapack_int info =
      LAPACKE_zgeev(LAPACK_COL_MAJOR, 'N', 'N', n, cm, n, z, NULL, 1, NULL, 1);
  free(cm);
  if (info != 0)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "synthesis: root finding of 1 - |A|^2 failed "
                         "(LAPACK zgeev info %d)",
                         (int)info);
  return SHP_OK;
}

/* Q, Q' and Q''/2 at z by Horner's scheme. */
static void poly_eval3(const double complex *q, size_t deg, double complex z,
                       double complex v[3]) {
  double complex p = q[deg], d1 = 0, d2 = 0;
  for (size_t j = deg; j-- > 0;) {
    d2 = d2 * z + d1;
    d1 = d1 * z + p;
    p = p * z + q[j];
  }
  v[0] = p;
  v[1] = d1;
  v[2] = d2;
}

/* A double root of Q near z0: a simple root of Q', found by Newton's method
 * to full accuracy, accepted when Q vanishes there to within the rounding
 * of Q's coefficients (1000 ulp of sum |q_j| |z|^j). */
static bool refine_double(const double complex *q, size_t deg,
                          double complex z0, double complex *root) {
  double complex z = z0, v[3];
  for (int it = 0; it < 30; it++) {
    poly_eval3(q, deg, z, v);
    if (v[2] == 0)
      return false;
    double complex step = 0.5 * v[1] / v[2];
    z -= step;
    if (cabs(step) <= 1e-16 * cabs(z))
      break;
  }
  double size = 0, zn = 1;
  for (size_t j = 0; j <= deg; j++, zn *= cabs(z))
    size += cabs(q[j]) * zn;
  poly_eval3(q, deg, z, v);
  bool ok = isfinite(cabs(z)) && cabs(v[0]) <= 1e3 * DBL_EPSILON * size &&
            cabs(z - z0) <= 1e-2 * cabs(z0);
  if (ok)
    *root = z;
  return ok;
}

static void add_fixed(complement *cp, double complex root) {
  factor *f = &cp->fixed[cp->n_fixed++];
  f->deg = 1;
  f->c[0] = -root;
  f->c[1] = 1;
}

static factor linear(double complex root) {
  return (factor){.deg = 1, .c = {-root, 1, 0}};
}

/* (z - r)(z - conj r), real. */
static factor quadratic(double complex r) {
  return (factor){
      .deg = 2,
      .c = {creal(r) * creal(r) + cimag(r) * cimag(r), -2 * creal(r), 1}};
}

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* Roots on the circle, in double pairs: sort by angle and pair neighbours,
 * starting at whichever offset keeps the pairs tightest; each pair gives
 * one root at its mean angle. */
static void circle_pairs(complement *cp, const double complex *q, size_t deg,
                         const double complex *u, size_t cnt) {
  double ang[2 * MAX_TAPS];
  for (size_t i = 0; i < cnt; i++)
    ang[i] = carg(u[i]);
  qsort(ang, cnt, sizeof ang[0], cmp_double);
  double worst[2] = {0, 0};
  for (size_t s = 0; s < 2; s++)
    for (size_t p = 0; p < cnt; p += 2)
      worst[s] = fmax(
          worst[s], fabs(remainder(ang[(p + s) % cnt] - ang[(p + s + 1) % cnt],
                                   SHP_TWO_PI)));
  size_t s = worst[1] < worst[0] ? 1 : 0;
  for (size_t p = 0; p < cnt; p += 2) {
    double complex v =
        cexp(I * ang[(p + s) % cnt]) + cexp(I * ang[(p + s + 1) % cnt]);
    double complex r = cabs(v) > 0 ? v / cabs(v) : cexp(I * ang[p]), d;
    add_fixed(cp, refine_double(q, deg, r, &d) ? d / cabs(d) : r);
  }
}

typedef struct {
  double key;
  size_t i;
} keyed;

static int cmp_keyed(const void *pa, const void *pb) {
  return cmp_double(&((const keyed *)pa)->key, &((const keyed *)pb)->key);
}

/* How many roots, nearest the circle first, to treat as circle roots: all
 * within CIRCLE_LOG, made even, and more until the rest has as many roots
 * inside as outside. */
static size_t circle_count(const keyed *by, const double *ell, size_t deg) {
  size_t circ = 0;
  while (circ < deg && by[circ].key <= CIRCLE_LOG)
    circ++;
  circ += circ % 2;
  for (; circ < deg; circ += 2) {
    long bal = 0;
    for (size_t j = circ; j < deg; j++)
      bal += ell[by[j].i] < 0 ? 1 : -1;
    if (bal == 0)
      break;
  }
  return circ;
}

/* Merge inside roots that are one double root split by rounding: Aberth's
 * iteration converges only linearly to a double root and leaves the two
 * copies about sqrt(eps) apart, while Newton on Q' finds it to full
 * accuracy. */
static void merge_doubles(const double complex *q, size_t deg,
                          double complex *r, size_t cnt) {
  bool done[2 * MAX_TAPS] = {false};
  for (size_t i = 0; i < cnt; i++) {
    size_t best = cnt;
    for (size_t j = i + 1; j < cnt; j++)
      if (!done[j] && (best == cnt || cabs(r[j] - r[i]) < cabs(r[best] - r[i])))
        best = j;
    if (done[i] || best == cnt ||
        !(cabs(r[best] - r[i]) <= DOUBLE_SEP * cabs(r[i])))
      continue;
    double complex d;
    if (refine_double(q, deg, 0.5 * (r[i] + r[best]), &d)) {
      r[i] = r[best] = d;
      done[i] = done[best] = true;
    }
  }
}

/* Groups for real taps, so that every B is real: each root above the axis
 * with its nearest partner below as one quadratic, the rest as real roots.
 * Polishing clusters of close roots can leave a former conjugate pair as
 * two real roots with dust in their imaginary parts, or the reverse, so the
 * pairing is by distance rather than by exact conjugacy. */
static void real_groups(complement *cp, const double complex *u, size_t cnt) {
  bool used[2 * MAX_TAPS] = {false};
  for (size_t i = 0; i < cnt; i++) {
    if (used[i] || !(cimag(u[i]) > REAL_TOL * cabs(u[i])))
      continue;
    size_t best = cnt;
    for (size_t j = 0; j < cnt; j++)
      if (!used[j] && j != i && cimag(u[j]) < 0 &&
          (best == cnt || cabs(u[j] - conj(u[i])) < cabs(u[best] - conj(u[i]))))
        best = j;
    if (best == cnt)
      continue;
    used[i] = used[best] = true;
    double complex r = 0.5 * (u[i] + conj(u[best]));
    factor *o = cp->opt[cp->n_groups++];
    o[0] = quadratic(r);
    o[1] = quadratic(1.0 / conj(r));
  }
  for (size_t i = 0; i < cnt; i++)
    if (!used[i]) {
      factor *o = cp->opt[cp->n_groups++];
      o[0] = linear(creal(u[i]));
      o[1] = linear(1.0 / creal(u[i]));
    }
}

/* Sort the roots into circle pairs and choice groups. */
static void split_roots(complement *cp, const double complex *q,
                        const double complex *z, size_t deg) {
  double ell[2 * MAX_TAPS];
  keyed by[2 * MAX_TAPS];
  for (size_t i = 0; i < deg; i++) {
    ell[i] = log(cabs(z[i]));
    by[i] = (keyed){fabs(ell[i]), i};
  }
  qsort(by, deg, sizeof by[0], cmp_keyed);
  size_t circ = circle_count(by, ell, deg), cnt = 0;
  double complex u[2 * MAX_TAPS];
  for (size_t j = 0; j < circ; j++)
    u[j] = z[by[j].i];
  if (circ > 0)
    circle_pairs(cp, q, deg, u, circ);
  for (size_t j = circ; j < deg; j++)
    if (ell[by[j].i] < 0)
      u[cnt++] = z[by[j].i];
  merge_doubles(q, deg, u, cnt);
  if (cp->real)
    real_groups(cp, u, cnt);
  else
    for (size_t j = 0; j < cnt; j++) {
      factor *o = cp->opt[cp->n_groups++];
      o[0] = linear(u[j]);
      o[1] = linear(1.0 / conj(u[j]));
    }
}

/* z^m (1 - |A(z)|^2) as a polynomial of degree 2m. */
static void build_q(const complement *cp, double complex *q) {
  double complex r[MAX_TAPS];
  size_t m = cp->m;
  autocorr(cp->a, m + 1, r);
  for (size_t k = 0; k <= m; k++) {
    q[m + k] = (k == 0 ? 1.0 : 0.0) - r[k];
    q[m - k] = conj(q[m + k]);
  }
}

/* Roots of Q and the groups, after splitting off roots at 0 (and their
 * partners at infinity) where the end coefficients vanish. */
static int find_groups(complement *cp) {
  double complex q[2 * MAX_TAPS], z[2 * MAX_TAPS];
  size_t m = cp->m, zeros = 0;
  build_q(cp, q);
  double qmax = 0;
  for (size_t j = 0; j <= 2 * m; j++)
    qmax = fmax(qmax, cabs(q[j]));
  cp->zero = qmax <= 1e-14;
  if (cp->zero)
    return SHP_OK;
  /* Only exact zeros: a small end coefficient is a cluster of genuine
   * roots near 0 (double pass taps often have one), and stripping it would
   * misplace them. */
  while (zeros < m && q[zeros] == 0)
    zeros++;
  size_t deg = 2 * (m - zeros);
  if (deg > 0) {
    int rc = cp->real ? roots_real(q + zeros, deg, z)
                      : roots_complex(q + zeros, deg, z);
    if (rc != SHP_OK)
      return rc;
    polish_roots(q + zeros, deg, z, cp->real);
    split_roots(cp, q + zeros, z, deg);
  }
  for (size_t j = 0; j < zeros; j++) {
    cp->opt[cp->n_groups][0] = linear(0);
    cp->opt[cp->n_groups++][1] = (factor){.deg = 0, .c = {1, 0, 0}};
  }
  return SHP_OK;
}

/* Taps into the complement: real up to a common phase alpha (returned) or
 * complex; the circle points for the normalisation; the root groups. */
static int prepare(complement *cp, const double complex *a, size_t m,
                   double *alpha) {
  memset(cp, 0, sizeof *cp);
  cp->m = m;
  double complex s2 = 0;
  double amax = 0, imax = 0;
  for (size_t k = 0; k <= m; k++) {
    s2 += a[k] * a[k];
    amax = fmax(amax, cabs(a[k]));
  }
  double al = 0.5 * carg(s2);
  double complex rot = al == 0 ? 1 : cexp(-I * al);
  for (size_t k = 0; k <= m; k++)
    imax = fmax(imax, fabs(cimag(a[k] * rot)));
  cp->real = imax <= REAL_TOL * amax;
  *alpha = cp->real ? al : 0;
  for (size_t k = 0; k <= m; k++)
    cp->a[k] = cp->real ? creal(a[k] * rot) : a[k];
  for (size_t j = 0; j < NORM_POINTS; j++) {
    cp->zs[j] = cexp(-I * SHP_TWO_PI * ((double)j + 0.5) / NORM_POINTS);
    double complex v = poly_eval(cp->a, m, cp->zs[j]);
    cp->d[j] = 1 - (creal(v) * creal(v) + cimag(v) * cimag(v));
  }
  return find_groups(cp);
}

static size_t poly_mul(double complex *p, size_t deg, const factor *f) {
  for (size_t k = deg + f->deg + 1; k-- > 0;) {
    double complex v = 0;
    for (size_t j = 0; j <= f->deg; j++)
      if (k >= j && k - j <= deg)
        v += f->c[j] * p[k - j];
    p[k] = v;
  }
  return deg + f->deg;
}

/* B for one selection (bit g of mask picks group g's option), scaled so
 * that |B|^2 matches 1 - |A|^2 in the least-squares sense on the circle. */
static void build_b(const complement *cp, unsigned long mask,
                    double complex *b) {
  size_t m = cp->m, deg = 0;
  memset(b, 0, (m + 1) * sizeof *b);
  if (cp->zero)
    return;
  b[0] = 1;
  for (size_t j = 0; j < cp->n_fixed; j++)
    deg = poly_mul(b, deg, &cp->fixed[j]);
  for (size_t g = 0; g < cp->n_groups; g++)
    deg = poly_mul(b, deg, &cp->opt[g][(mask >> g) & 1]);
  double num = 0, den = 0;
  for (size_t j = 0; j < NORM_POINTS; j++) {
    double complex v = poly_eval(b, deg, cp->zs[j]);
    double p = creal(v) * creal(v) + cimag(v) * cimag(v);
    num += cp->d[j] * p;
    den += p * p;
  }
  double c = den > 0 && num > 0 ? sqrt(num / den) : 0;
  for (size_t k = 0; k <= m; k++)
    b[k] = cp->real ? c * creal(b[k]) : c * b[k];
}

/* ---- peeling ------------------------------------------------------------ */

typedef struct {
  double theta[MAX_PASSES]; /* rad, per pass in beam order */
  double phi[MAX_PASSES];
  double theta_in, beta; /* the input axis; V0 = exp(i beta) (cos, sin) */
  double residual;       /* what the peels dropped; 0 in exact arithmetic */
} peeled;

/* phi in (-pi/2, pi/2] making x exp(i phi) conj(y) real; 0 when x or y
 * vanishes, since then any phase does. */
static double align(double complex x, double complex y) {
  double complex p = x * conj(y);
  return p == 0 ? 0.0 : reduce_half(-carg(p));
}

/* Which end of (x, y), degree k, carries more weight: 0 or k. */
static size_t pick_end(const double complex *x, const double complex *y,
                       size_t k) {
  return norm2(x[0], y[0]) >= norm2(x[k], y[k]) ? 0 : k;
}

/* The real signed amplitudes of an aligned pair (equal phases up to sign). */
static void aligned(double complex x, double complex y, bool real, double *u,
                    double *v) {
  double complex ref = cabs(x) >= cabs(y) ? x : y;
  double complex ph = real || ref == 0 ? 1 : conj(ref) / cabs(ref);
  *u = creal(x * ph);
  *v = creal(y * ph);
}

/* Peel the last plate off (x, y) of degree k: the azimuth that makes
 * e = c x + s y vanish at z^0 (or, equivalently, o = -s x + c y at z^k;
 * the heavier end is used), then e/z and o rotated back, with the plate's
 * phase chosen so the next pair is aligned again. */
static void peel_step(double complex *x, double complex *y, size_t k, bool real,
                      double *theta, double *phi, double *resid) {
  size_t j = pick_end(x, y, k);
  double u, v;
  aligned(x[j], y[j], real, &u, &v);
  double t = reduce_half(j == 0 ? atan2(u, -v) : atan2(v, u));
  double c = cos(t), s = sin(t);
  double complex e[MAX_TAPS], o[MAX_TAPS];
  for (size_t i = 0; i <= k; i++) {
    e[i] = c * x[i] + s * y[i];
    o[i] = -s * x[i] + c * y[i];
  }
  *resid = fmax(*resid, fmax(cabs(e[0]), cabs(o[k])));
  size_t end = norm2(e[1], o[0]) >= norm2(e[k], o[k - 1]) ? 0 : k - 1;
  double f = real ? 0.0 : align(e[end + 1], o[end]);
  double complex pf = f == 0 ? 1 : cexp(I * f);
  for (size_t i = 0; i < k; i++) {
    double complex ei = e[i + 1] * pf;
    x[i] = c * ei - s * o[i];
    y[i] = s * ei + c * o[i];
  }
  x[k] = y[k] = 0;
  *theta = t;
  *phi = f;
}

static void peel(const double complex *a, const double complex *b, size_t m,
                 bool real, peeled *out) {
  double complex x[MAX_TAPS], y[MAX_TAPS];
  size_t j = pick_end(a, b, m);
  double psi = real ? 0.0 : align(b[j], a[j]);
  double complex pp = psi == 0 ? 1 : cexp(I * psi);
  for (size_t i = 0; i <= m; i++) {
    x[i] = a[i];
    y[i] = b[i] * pp;
  }
  out->residual = 0;
  for (size_t k = m; k > 0; k--)
    peel_step(x, y, k, real, &out->theta[k - 1], &out->phi[k - 1],
              &out->residual);
  double complex ref = cabs(x[0]) >= cabs(y[0]) ? x[0] : y[0];
  out->beta = real || ref == 0 ? 0.0 : reduce_half(carg(ref));
  double complex ph = out->beta == 0 ? 1 : cexp(-I * out->beta);
  out->theta_in = atan2(creal(y[0] * ph), creal(x[0] * ph));
}

/* ---- polishing and checking --------------------------------------------- */

/* Levenberg-Marquardt (GSL's trust-region defaults) from x, overwritten with
 * the answer. Returns a GSL status; running out of iterations still returns
 * the best point found, as GSL_SUCCESS. */
static int run_lm(gsl_multifit_nlinear_fdf *fdf, double *x, size_t maxiter,
                  size_t *iterations) {
  gsl_multifit_nlinear_parameters par =
      gsl_multifit_nlinear_default_parameters();
  gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(
      gsl_multifit_nlinear_trust, &par, fdf->n, fdf->p);
  if (w == NULL)
    return GSL_ENOMEM;
  gsl_vector_view v = gsl_vector_view_array(x, fdf->p);
  int info = 0;
  int st = gsl_multifit_nlinear_init(&v.vector, fdf, w);
  if (st == GSL_SUCCESS)
    st = gsl_multifit_nlinear_driver(maxiter, 1e-15, 1e-15, 0.0, NULL, NULL,
                                     &info, w);
  if (st == GSL_SUCCESS || st == GSL_EMAXITER) {
    gsl_vector *sol = gsl_multifit_nlinear_position(w);
    for (size_t i = 0; i < fdf->p; i++)
      x[i] = gsl_vector_get(sol, i);
    if (iterations != NULL)
      *iterations = gsl_multifit_nlinear_niter(w);
    st = GSL_SUCCESS;
  }
  gsl_multifit_nlinear_free(w);
  return st;
}

static double tap_error(const shp_synth_stack *s, const double complex *a,
                        double phase) {
  double complex t[MAX_TAPS];
  if (shp_synth_taps(s, t, NULL) != SHP_OK)
    return INFINITY;
  double complex rot = phase == 0 ? 1 : cexp(I * phase);
  double err = 0;
  for (size_t k = 0; k < shp_synth_tap_count(s); k++)
    err = fmax(err, cabs(t[k] - rot * a[k]));
  return err;
}

typedef struct {
  shp_synth_stack *s;
  const double complex *target; /* real */
} polish_ctx;

static void set_angles(shp_synth_stack *s, const gsl_vector *x) {
  s->input_polarizer_deg = shp_rad_to_deg(gsl_vector_get(x, 0));
  for (size_t k = 0; k < s->n; k++)
    s->azimuth_deg[k] = shp_rad_to_deg(gsl_vector_get(x, k + 1));
}

static int polish_f(const gsl_vector *x, void *params, gsl_vector *f) {
  polish_ctx *c = params;
  set_angles(c->s, x);
  double complex t[MAX_TAPS];
  if (shp_synth_taps(c->s, t, NULL) != SHP_OK)
    return GSL_EBADFUNC;
  for (size_t k = 0; k < f->size; k++)
    gsl_vector_set(f, k, creal(t[k]) - creal(c->target[k]));
  return GSL_SUCCESS;
}

/* Least squares on the azimuths and input angle of a stack without phase
 * offsets against real taps: removes what rounding in the roots left.
 * Keeps the stack unchanged unless the error falls. */
static void polish(shp_synth_stack *s, const double complex *a) {
  shp_synth_stack trial = *s;
  polish_ctx ctx = {&trial, a};
  double x[SHP_SYNTH_MAX_PLATES + 1];
  x[0] = shp_deg_to_rad(s->input_polarizer_deg);
  for (size_t k = 0; k < s->n; k++)
    x[k + 1] = shp_deg_to_rad(s->azimuth_deg[k]);
  gsl_multifit_nlinear_fdf fdf = {.f = polish_f,
                                  .df = NULL, /* finite differences */
                                  .n = shp_synth_tap_count(s),
                                  .p = s->n + 1,
                                  .params = &ctx};
  if (run_lm(&fdf, x, POLISH_ITERATIONS, NULL) != GSL_SUCCESS)
    return;
  gsl_vector_view v = gsl_vector_view_array(x, s->n + 1);
  set_angles(&trial, &v.vector);
  for (size_t k = 0; k < s->n; k++)
    trial.azimuth_deg[k] = shp_rad_to_deg(reduce_half(x[k + 1]));
  if (tap_error(&trial, a, 0) < tap_error(s, a, 0))
    *s = trial;
}

/* ---- synthesis ---------------------------------------------------------- */

static void stack_init(shp_synth_stack *s, size_t n, bool double_pass) {
  memset(s, 0, sizeof *s);
  s->n = n;
  s->has_output_polarizer = true;
  s->output_polarizer_deg = 0;
  s->double_pass = double_pass;
}

static int check_request(const double complex *a, size_t n, size_t count,
                         const shp_synth_stack *stack) {
  if (stack == NULL || n == 0 || n > SHP_SYNTH_MAX_PLATES)
    return shp_error_set(SHP_ERR_INVALID,
                         "synthesis: need a stack and 1 to %d plates, got %zu",
                         SHP_SYNTH_MAX_PLATES, n);
  int rc = check_taps(a, count);
  return rc == SHP_OK ? check_gain(a, count) : rc;
}

/* The minimum-phase B (option 0 throughout), peeled into stack, polished
 * for real taps. Returns the common phase of the stack's taps relative to
 * cp->a: the plates' exp(i phi/2) factors less the input's phase. */
static double single_pass(const complement *cp, shp_synth_stack *stack) {
  size_t n = cp->m;
  double complex b[MAX_TAPS];
  build_b(cp, 0, b);
  peeled pl;
  peel(cp->a, b, n, cp->real, &pl);
  stack_init(stack, n, false);
  double sum_phi = 0;
  for (size_t k = 0; k < n; k++) {
    stack->azimuth_deg[k] = shp_rad_to_deg(pl.theta[k]);
    stack->phase_offset_rad[k] = pl.phi[k];
    sum_phi += pl.phi[k];
  }
  stack->input_polarizer_deg = shp_rad_to_deg(pl.theta_in);
  if (cp->real && tap_error(stack, cp->a, 0) > 1e-14)
    polish(stack, cp->a);
  return remainder(0.5 * sum_phi - pl.beta, SHP_TWO_PI);
}

int shp_synth_from_taps(const double complex *a, size_t n,
                        shp_synth_stack *stack, shp_synth_info *info) {
  int rc = check_request(a, n, n + 1, stack);
  if (rc != SHP_OK)
    return rc;
  complement *cp = malloc(sizeof *cp);
  if (cp == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  double alpha;
  rc = prepare(cp, a, n, &alpha);
  if (rc != SHP_OK) {
    free(cp);
    return rc;
  }
  double phase = remainder(single_pass(cp, stack) - alpha, SHP_TWO_PI);
  double err = tap_error(stack, a, phase);
  free(cp);
  if (info != NULL)
    *info = (shp_synth_info){phase, err, 1, 1};
  if (!(err <= NUMERIC_TOL))
    return shp_error_set(SHP_ERR_NUMERIC,
                         "synthesis: the synthesised stack misses the taps by "
                         "%.3g; root finding lost accuracy",
                         err);
  return SHP_OK;
}

/* ---- double pass ---------------------------------------------------------
 *
 * Plates are symmetric matrices P = R^T diag(z, 1) R, so a palindromic stack
 * has the symmetric network matrix M = P_1 ... P_n P_n ... P_1. With output
 * along x and input p = (c, s), M = V p^T + W q^T where V = (A, B),
 * W = (-B^R, A^R) (X^R the coefficients of X reversed) and q = (-s, c), so
 * M is symmetric exactly when s (A + A^R) = c (B + B^R) (derived here from
 * the lossless form of M; cf. Ammann 1966). Conversely a symmetric lossless
 * M peels in pairs, M = P M' P, with M' symmetric again, since its leftmost
 * factor is unique (generically) and equals its rightmost. */

typedef struct {
  double m11[MAX_TAPS], m12[MAX_TAPS], m22[MAX_TAPS];
  size_t deg;
} sym_matrix;

/* The input (c, s) minimising |s (A + A^R) - c (B + B^R)|^2 / (|u|^2 +
 * |w|^2), the smallest eigenvalue of a 2x2 form, which is returned: 0 for a
 * symmetric network. */
static double asymmetry(const double *a, const double *b, size_t m, double *c,
                        double *s) {
  double ww = 0, uu = 0, uw = 0;
  for (size_t k = 0; k <= m; k++) {
    double u = a[k] + a[m - k], w = b[k] + b[m - k];
    ww += w * w;
    uu += u * u;
    uw += u * w;
  }
  /* (c, s) [[ww, -uw], [-uw, uu]] (c, s)^T: the minor axis. */
  double phi = 0.5 * atan2(-2 * uw, ww - uu) + 0.5 * SHP_PI;
  *c = cos(phi);
  *s = sin(phi);
  double tr = ww + uu, det = ww * uu - uw * uw;
  double lmin = 0.5 * tr - sqrt(fmax(0.25 * tr * tr - det, 0.0));
  return tr > 0 ? fmax(lmin, 0.0) / tr : 0.0;
}

static void build_sym(const double *a, const double *b, size_t m, double c,
                      double s, sym_matrix *x) {
  x->deg = m;
  for (size_t k = 0; k <= m; k++) {
    x->m11[k] = c * a[k] + s * b[m - k];
    /* the average of M12 = s A - c B^R and M21 = c B - s A^R */
    x->m12[k] = 0.5 * (s * a[k] - c * b[m - k] + c * b[k] - s * a[m - k]);
    x->m22[k] = s * b[k] + c * a[m - k];
  }
}

/* The axis (c, s) that best makes row e = c M_1 + s M_2 vanish at z^0 and
 * row o = -s M_1 + c M_2 at z^K: least squares over both ends and both
 * columns, so the heavier end dominates. */
static double pair_axis(const sym_matrix *x) {
  size_t k = x->deg;
  const double v[4][2] = {{x->m11[0], x->m12[0]},
                          {x->m12[0], x->m22[0]},
                          {x->m12[k], -x->m11[k]},
                          {x->m22[k], -x->m12[k]}};
  double g11 = 0, g12 = 0, g22 = 0;
  for (int i = 0; i < 4; i++) {
    g11 += v[i][0] * v[i][0];
    g12 += v[i][0] * v[i][1];
    g22 += v[i][1] * v[i][1];
  }
  return reduce_half(0.5 * atan2(2 * g12, g11 - g22) + 0.5 * SHP_PI);
}

/* Peel the outer plate pair: N = R M R^T = D N' D, D = diag(z, 1), then
 * M' = R^T N' R, symmetric by construction. Returns the largest dropped
 * coefficient (0 in exact arithmetic). */
static double peel_pair(sym_matrix *x, double t) {
  double c = cos(t), s = sin(t), cs = c * s, cc = c * c, ss = s * s;
  size_t k = x->deg;
  double n11[MAX_TAPS], n12[MAX_TAPS], n22[MAX_TAPS];
  for (size_t i = 0; i <= k; i++) {
    double p = x->m11[i], q = x->m12[i], r = x->m22[i];
    n11[i] = cc * p + 2 * cs * q + ss * r;
    n12[i] = -cs * p + (cc - ss) * q + cs * r;
    n22[i] = ss * p - 2 * cs * q + cc * r;
  }
  double drop =
      fmax(fmax(fabs(n11[0]), fabs(n11[1])), fmax(fabs(n12[0]), fabs(n12[k])));
  drop = fmax(drop, fmax(fabs(n22[k]), fabs(n22[k - 1])));
  x->deg = k - 2;
  for (size_t i = 0; i <= k - 2; i++) {
    double p = n11[i + 2], q = n12[i + 1], r = n22[i];
    x->m11[i] = cc * p - 2 * cs * q + ss * r;
    x->m12[i] = cs * p + (cc - ss) * q - cs * r;
    x->m22[i] = ss * p + 2 * cs * q + cc * r;
  }
  return drop;
}

/* Newton-type refinement of a candidate B (and the input axis) on the two
 * sets of equations it must satisfy: |A|^2 + |B|^2 = 1 (the autocorrelation
 * lags) and symmetry, s (A + A^R) = c (B + B^R). Palindromic taps often make
 * B contain both r and 1/conj(r), so 1 - |A|^2 has double roots that root
 * finding resolves only to about 1e-9; the symmetry equations make the
 * system regular again, and Levenberg-Marquardt brings B to rounding. */
typedef struct {
  const double *a;
  size_t m;
} refine_ctx;

static int refine_f(const gsl_vector *x, void *params, gsl_vector *f) {
  const refine_ctx *c = params;
  size_t m = c->m, r = 0;
  double ph = gsl_vector_get(x, m + 1), cc = cos(ph), ss = sin(ph);
  for (size_t k = 0; k <= m; k++) {
    double v = k == 0 ? -1.0 : 0.0;
    for (size_t j = 0; j + k <= m; j++)
      v += gsl_vector_get(x, j + k) * gsl_vector_get(x, j) +
           c->a[j + k] * c->a[j];
    gsl_vector_set(f, r++, v);
  }
  for (size_t k = 0; 2 * k <= m; k++)
    gsl_vector_set(f, r++,
                   ss * (c->a[k] + c->a[m - k]) -
                       cc * (gsl_vector_get(x, k) + gsl_vector_get(x, m - k)));
  return GSL_SUCCESS;
}

/* Refines b and (c, s) in place; returns the largest residual left, which
 * is at rounding level exactly when b is a symmetric complementary
 * polynomial. */
static double refine_b(const double *a, size_t m, double *b, double *c,
                       double *s) {
  refine_ctx ctx = {a, m};
  double x[MAX_TAPS + 1], r[2 * MAX_TAPS];
  memcpy(x, b, (m + 1) * sizeof *x);
  x[m + 1] = atan2(*s, *c);
  gsl_multifit_nlinear_fdf fdf = {.f = refine_f,
                                  .df = NULL, /* finite differences */
                                  .n = m + 1 + m / 2 + 1,
                                  .p = m + 2,
                                  .params = &ctx};
  if (run_lm(&fdf, x, 100, NULL) != GSL_SUCCESS)
    return INFINITY;
  memcpy(b, x, (m + 1) * sizeof *x);
  *c = cos(x[m + 1]);
  *s = sin(x[m + 1]);
  gsl_vector_view xv = gsl_vector_view_array(x, m + 2);
  gsl_vector_view rv = gsl_vector_view_array(r, fdf.n);
  refine_f(&xv.vector, &ctx, &rv.vector);
  double worst = 0;
  for (size_t i = 0; i < fdf.n; i++)
    worst = fmax(worst, fabs(r[i]));
  return worst;
}

/* Polish a palindromic start with the input either way round (p and -p are
 * one polarizer but give taps of opposite sign). */
static bool polish_both_ways(shp_synth_stack *st, const double complex *taps) {
  shp_synth_stack flip = *st;
  flip.input_polarizer_deg += flip.input_polarizer_deg > 0 ? -180 : 180;
  for (int way = 0; way < 2; way++) {
    shp_synth_stack *s = way == 0 ? st : &flip;
    if (tap_error(s, taps, 0) > 1e-14)
      polish(s, taps);
    if (tap_error(s, taps, 0) <= EXACT_TOL) {
      *st = *s;
      return true;
    }
  }
  return false;
}

/* Each pair peel multiplies the error of what is left by roughly the
 * inverse of the smallest end coefficient, so with nearly crossed or
 * parallel neighbours the inner plates can come out wrong although the
 * outer ones are exact. The outer plates are then kept and the inner ones
 * restarted from quasi-random angles (at most PAL_STARTS starts). */
#define PAL_TRUSTED 1e-8
#define PAL_STARTS 32

static bool restart_inner(shp_synth_stack *st, size_t trusted,
                          const double complex *taps) {
  size_t inner = st->n - trusted;
  gsl_qrng *q = gsl_qrng_alloc(gsl_qrng_halton, inner < 2 ? 2 : inner);
  bool ok = false;
  double v[SHP_SYNTH_MAX_PLATES];
  for (int k = 0; q != NULL && !ok && k < PAL_STARTS; k++) {
    if (gsl_qrng_get(q, v) != GSL_SUCCESS)
      break;
    shp_synth_stack t = *st;
    for (size_t i = 0; i < inner; i++)
      t.azimuth_deg[trusted + i] = 180 * v[i] - 90;
    ok = polish_both_ways(&t, taps);
    if (ok)
      *st = t;
  }
  gsl_qrng_free(q);
  return ok;
}

/* The palindromic stack of a symmetric network (b refined, input (c, s)):
 * plates from the outside in, then the polish. True when it reproduces the
 * taps to EXACT_TOL. */
static bool palindrome_from(const double *a, const double *b, double c,
                            double s, size_t n, const double complex *taps,
                            bool restart, shp_synth_stack *st) {
  sym_matrix x;
  build_sym(a, b, 2 * n, c, s, &x);
  stack_init(st, n, true);
  size_t trusted = 0;
  for (size_t k = 0; k < n; k++) {
    double t = pair_axis(&x);
    if (peel_pair(&x, t) <= PAL_TRUSTED && trusted == k)
      trusted++;
    st->azimuth_deg[k] = shp_rad_to_deg(t);
  }
  st->input_polarizer_deg = shp_rad_to_deg(atan2(s, c));
  if (polish_both_ways(st, taps))
    return true;
  return restart && trusted < n && restart_inner(st, trusted, taps);
}

/* Candidates: the selections of B with the least asymmetry, each refined
 * and accepted as symmetric when the refinement leaves no more than
 * SYMMETRIC_TOL. The asymmetry of an unrefined B can be 1e-4 when roots of
 * 1 - |A|^2 cluster, and that of a wrong B as small, so the shortlist is
 * only an order of trial. */
#define CANDIDATES 8
#define SYMMETRIC_TOL 1e-10

typedef struct {
  double asym[CANDIDATES];
  unsigned long mask[CANDIDATES];
  size_t count;
} shortlist;

static void shortlist_add(shortlist *l, double asym, unsigned long mask) {
  if (l->count == CANDIDATES && !(asym < l->asym[CANDIDATES - 1]))
    return;
  size_t i = l->count < CANDIDATES ? l->count++ : CANDIDATES - 1;
  for (; i > 0 && l->asym[i - 1] > asym; i--) {
    l->asym[i] = l->asym[i - 1];
    l->mask[i] = l->mask[i - 1];
  }
  l->asym[i] = asym;
  l->mask[i] = mask;
}

static void real_b(const complement *cp, unsigned long mask, double *b) {
  double complex bc[MAX_TAPS];
  build_b(cp, mask, bc);
  for (size_t k = 0; k <= cp->m; k++)
    b[k] = creal(bc[k]);
}

/* Every selection of B ranked by asymmetry, then the best few refined and
 * peeled. */
static int search_palindrome(const complement *cp, size_t n,
                             shp_synth_stack *stack, size_t *tried) {
  unsigned long total = 1UL << cp->n_groups;
  double a[MAX_TAPS], b[MAX_TAPS], c, s;
  for (size_t k = 0; k <= 2 * n; k++)
    a[k] = creal(cp->a[k]);
  shortlist l = {.count = 0};
  for (unsigned long mask = 0; mask < total; mask++) {
    real_b(cp, mask, b);
    shortlist_add(&l, asymmetry(a, b, 2 * n, &c, &s), mask);
  }
  *tried = total;
  bool symmetric = false;
  for (size_t i = 0; i < l.count; i++) {
    real_b(cp, l.mask[i], b);
    asymmetry(a, b, 2 * n, &c, &s);
    if (!(refine_b(a, 2 * n, b, &c, &s) <= SYMMETRIC_TOL))
      continue;
    /* Restarts are costly and any symmetric network will do: only the
     * first gets them. */
    if (palindrome_from(a, b, c, s, n, cp->a, !symmetric, stack))
      return SHP_OK;
    symmetric = true;
  }
  if (symmetric)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "synthesis: the taps give a symmetric network but "
                         "its %zu azimuths could not be recovered to %.0e; "
                         "nearly crossed or parallel neighbouring plates "
                         "leave them ill-determined",
                         n, EXACT_TOL);
  return shp_error_set(SHP_ERR_RANGE,
                       "synthesis: no palindromic (double-pass) stack of %zu "
                       "plates realises these taps: none of the %lu "
                       "complementary polynomials gives a symmetric network "
                       "(least asymmetry %.2g)",
                       n, total, l.count > 0 ? sqrt(l.asym[0]) : 1.0);
}

int shp_synth_double_pass(const double complex *a, size_t n,
                          shp_synth_stack *stack, shp_synth_info *info) {
  int rc = check_request(a, n, 2 * n + 1, stack);
  if (rc != SHP_OK)
    return rc;
  complement *cp = malloc(sizeof *cp);
  if (cp == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  double alpha;
  size_t tried = 0;
  rc = prepare(cp, a, 2 * n, &alpha);
  if (rc == SHP_OK && !cp->real)
    rc = shp_error_set(SHP_ERR_RANGE,
                       "synthesis: the taps are not real up to a common "
                       "phase, so no palindromic stack of plates without "
                       "phase offsets realises them");
  else if (rc == SHP_OK && cp->n_groups > MAX_CHOICE_BITS)
    rc = shp_error_set(SHP_ERR_NUMERIC,
                       "synthesis: 2^%zu root selections are too many to "
                       "search for a palindromic stack (limit 2^%d)",
                       cp->n_groups, MAX_CHOICE_BITS);
  else if (rc == SHP_OK)
    rc = search_palindrome(cp, n, stack, &tried);
  size_t total =
      cp->n_groups < 8 * sizeof(size_t) ? (size_t)1 << cp->n_groups : SIZE_MAX;
  free(cp);
  if (info != NULL)
    *info = (shp_synth_info){
        -alpha, rc == SHP_OK ? tap_error(stack, a, -alpha) : INFINITY, tried,
        total};
  return rc;
}

/* ---- taps for a target waveform ------------------------------------------ */

typedef struct {
  const shp_synth_fit_problem *p;
  size_t nk;             /* taps */
  double *basis;         /* count x nk: e(t_j - (k - M/2) tau) */
  double *target;        /* normalised to a peak of 1 */
  double complex *field; /* count */
  double complex *taps;  /* nk, scratch */
  bool real;
  size_t fixed; /* the tap whose imaginary part is held at 0 */
} fit_ctx;

static int check_problem(const shp_synth_fit_problem *p) {
  if (p == NULL || p->target == NULL || p->envelope == NULL || p->count < 4 ||
      p->order == 0 || p->order > MAX_PASSES || !(p->dt_ps > 0) ||
      !isfinite(p->dt_ps) || !isfinite(p->t0_ps) || !isfinite(p->tau_ps))
    return shp_error_set(SHP_ERR_INVALID,
                         "fit: need a target and an envelope of at least 4 "
                         "samples, dt_ps > 0, finite t0_ps and tau_ps, and "
                         "an order of 1 to %d",
                         MAX_PASSES);
  for (size_t j = 0; j < p->count; j++)
    if (!isfinite(p->target[j]) || !isfinite(p->envelope[j]))
      return shp_error_set(SHP_ERR_INVALID,
                           "fit: sample %zu of the target or envelope is not "
                           "finite",
                           j);
  return SHP_OK;
}

static void fit_ctx_clear(fit_ctx *c) {
  free(c->basis);
  free(c->target);
  free(c->field);
  free(c->taps);
}

/* The envelope shifted to every replica, by a cubic spline through its
 * samples and 0 outside the axis. */
static int fill_basis(fit_ctx *c) {
  const shp_synth_fit_problem *p = c->p;
  double *t = malloc(p->count * sizeof *t);
  gsl_spline *sp = gsl_spline_alloc(gsl_interp_cspline, p->count);
  gsl_interp_accel *acc = gsl_interp_accel_alloc();
  int st = t == NULL || sp == NULL || acc == NULL ? GSL_ENOMEM : GSL_SUCCESS;
  for (size_t j = 0; st == GSL_SUCCESS && j < p->count; j++)
    t[j] = p->t0_ps + (double)j * p->dt_ps;
  if (st == GSL_SUCCESS)
    st = gsl_spline_init(sp, t, p->envelope, p->count);
  double half = 0.5 * (double)p->order;
  for (size_t j = 0; st == GSL_SUCCESS && j < p->count; j++)
    for (size_t k = 0; st == GSL_SUCCESS && k < c->nk; k++) {
      double x = t[j] - ((double)k - half) * p->tau_ps, v = 0;
      if (x >= t[0] && x <= t[p->count - 1])
        st = gsl_spline_eval_e(sp, x, acc, &v);
      c->basis[j * c->nk + k] = v;
    }
  free(t);
  gsl_spline_free(sp);
  gsl_interp_accel_free(acc);
  if (st == GSL_ENOMEM)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  if (st != GSL_SUCCESS)
    return shp_error_set(SHP_ERR_NUMERIC,
                         "fit: interpolating the envelope "
                         "failed (%s)",
                         gsl_strerror(st));
  return SHP_OK;
}

static int fit_ctx_init(fit_ctx *c, const shp_synth_fit_problem *p, bool real) {
  memset(c, 0, sizeof *c);
  int rc = check_problem(p);
  if (rc != SHP_OK)
    return rc;
  c->p = p;
  c->nk = p->order + 1;
  c->real = real;
  c->basis = malloc(p->count * c->nk * sizeof *c->basis);
  c->target = malloc(p->count * sizeof *c->target);
  c->field = malloc(p->count * sizeof *c->field);
  c->taps = malloc(c->nk * sizeof *c->taps);
  if (!c->basis || !c->target || !c->field || !c->taps)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  double tmax = 0, emax = 0;
  for (size_t j = 0; j < p->count; j++) {
    tmax = fmax(tmax, p->target[j]);
    emax = fmax(emax, fabs(p->envelope[j]));
  }
  if (!(tmax > 0) || !(emax > 0))
    return shp_error_set(SHP_ERR_INVALID, "fit: the target and the envelope "
                                          "must be positive somewhere");
  for (size_t j = 0; j < p->count; j++)
    c->target[j] = p->target[j] / tmax;
  return fill_basis(c);
}

static size_t n_params(const fit_ctx *c) {
  return c->real ? c->nk : 2 * c->nk - 1;
}

static void unpack(const fit_ctx *c, const double *x, double complex *taps) {
  for (size_t k = 0, i = c->nk; k < c->nk; k++)
    taps[k] = x[k] + (c->real || k == c->fixed ? 0.0 : I * x[i++]);
}

/* The parameters of taps, turned first so the fixed tap is real. */
static void pack(const fit_ctx *c, const double complex *taps, double *x) {
  double complex f = taps[c->fixed];
  double complex rot = c->real || f == 0 ? 1 : conj(f) / cabs(f);
  for (size_t k = 0, i = c->nk; k < c->nk; k++) {
    x[k] = creal(taps[k] * rot);
    if (!c->real && k != c->fixed)
      x[i++] = cimag(taps[k] * rot);
  }
}

static void model_field(fit_ctx *c, const double complex *taps) {
  for (size_t j = 0; j < c->p->count; j++) {
    const double *e = c->basis + j * c->nk;
    double complex f = 0;
    for (size_t k = 0; k < c->nk; k++)
      f += taps[k] * e[k];
    c->field[j] = f;
  }
}

static double intensity(double complex f) {
  return creal(f) * creal(f) + cimag(f) * cimag(f);
}

static void load_params(const fit_ctx *c, const gsl_vector *x) {
  double v[2 * MAX_TAPS];
  for (size_t i = 0; i < x->size; i++)
    v[i] = gsl_vector_get(x, i);
  unpack(c, v, c->taps);
}

static int fit_f(const gsl_vector *x, void *params, gsl_vector *f) {
  fit_ctx *c = params;
  load_params(c, x);
  model_field(c, c->taps);
  for (size_t j = 0; j < c->p->count; j++)
    gsl_vector_set(f, j, intensity(c->field[j]) - c->target[j]);
  return GSL_SUCCESS;
}

/* dI_j/d(Re a_k) = 2 e_jk Re f_j and dI_j/d(Im a_k) = 2 e_jk Im f_j. */
static int fit_df(const gsl_vector *x, void *params, gsl_matrix *J) {
  fit_ctx *c = params;
  load_params(c, x);
  model_field(c, c->taps);
  for (size_t j = 0; j < c->p->count; j++) {
    const double *e = c->basis + j * c->nk;
    double fr = 2 * creal(c->field[j]), fi = 2 * cimag(c->field[j]);
    for (size_t k = 0, i = c->nk; k < c->nk; k++) {
      gsl_matrix_set(J, j, k, e[k] * fr);
      if (!c->real && k != c->fixed)
        gsl_matrix_set(J, j, i++, e[k] * fi);
    }
  }
  return GSL_SUCCESS;
}

static double fit_cost(fit_ctx *c, const double complex *taps) {
  model_field(c, taps);
  double s = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double r = intensity(c->field[j]) - c->target[j];
    s += r * r;
  }
  return s;
}

/* The square root of the target at the replica centres (linear
 * interpolation): the taps when replicas do not overlap. */
static void sqrt_start(const fit_ctx *c, double *mag) {
  const shp_synth_fit_problem *p = c->p;
  double any = 0;
  for (size_t k = 0; k < c->nk; k++) {
    double tc = ((double)k - 0.5 * (double)p->order) * p->tau_ps;
    double pos = (tc - p->t0_ps) / p->dt_ps, v = 0;
    if (pos >= 0 && pos <= (double)(p->count - 1)) {
      size_t j = (size_t)pos;
      size_t j1 = j + 1 < p->count ? j + 1 : j;
      double f = pos - (double)j;
      v = c->target[j] * (1 - f) + c->target[j1] * f;
    }
    mag[k] = sqrt(fmax(v, 0.0));
    any = fmax(any, mag[k]);
  }
  for (size_t k = 0; any == 0 && k < c->nk; k++)
    mag[k] = 1;
}

/* Start `which`: 0 the square root of the target, 1 equal taps, then the
 * same magnitudes (at least a tenth of the largest) with quasi-random
 * signs or phases; scaled to the target's least-squares level. */
static int start_taps(fit_ctx *c, size_t which, gsl_qrng *q, const double *mag,
                      double complex *taps) {
  double mmax = 0, qv[MAX_TAPS];
  for (size_t k = 0; k < c->nk; k++)
    mmax = fmax(mmax, mag[k]);
  if (which >= 2 && gsl_qrng_get(q, qv) != GSL_SUCCESS)
    return shp_error_set(SHP_ERR_NUMERIC, "fit: no quasi-random start");
  for (size_t k = 0; k < c->nk; k++) {
    double m = fmax(mag[k], 0.1 * mmax);
    if (which == 0)
      taps[k] = mag[k];
    else if (which == 1)
      taps[k] = mmax;
    else if (c->real)
      taps[k] = qv[k] < 0.5 ? -m : m;
    else
      taps[k] = m * cexp(I * SHP_TWO_PI * qv[k]);
  }
  model_field(c, taps);
  double num = 0, den = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double v = intensity(c->field[j]);
    num += v * c->target[j];
    den += v * v;
  }
  for (size_t k = 0; num > 0 && den > 0 && k < c->nk; k++)
    taps[k] *= sqrt(sqrt(num / den));
  return SHP_OK;
}

/* The error measure against the target as given. */
static void measure(fit_ctx *c, const double complex *taps, double *rms,
                    double *scale) {
  const double *t = c->p->target;
  model_field(c, taps);
  double it = 0, tt = 0, ii = 0, err = 0;
  for (size_t j = 0; j < c->p->count; j++) {
    double v = intensity(c->field[j]);
    it += v * t[j];
    tt += t[j] * t[j];
    ii += v * v;
  }
  double s = it / tt;
  for (size_t j = 0; j < c->p->count; j++) {
    double r = intensity(c->field[j]) - s * t[j];
    err += r * r;
  }
  if (rms != NULL)
    *rms = ii > 0 ? sqrt(err / ii) : 1.0;
  if (scale != NULL)
    *scale = s;
}

typedef struct {
  double cost;
  size_t start, iterations;
  int status; /* of the last failed start */
} fit_best;

/* One start: LM from it, keeping the taps in best when they do better. */
static int fit_one(fit_ctx *c, gsl_multifit_nlinear_fdf *fdf, size_t which,
                   size_t maxiter, double complex *t, double complex *best,
                   fit_best *fb) {
  double x[2 * MAX_TAPS];
  pack(c, t, x);
  size_t it = 0;
  int st = run_lm(fdf, x, maxiter, &it);
  if (st != GSL_SUCCESS) {
    fb->status = st;
    return st == GSL_ENOMEM ? shp_error_set(SHP_ERR_NOMEM, "fit: out of memory")
                            : SHP_OK;
  }
  unpack(c, x, t);
  double cost = fit_cost(c, t);
  if (cost < fb->cost) {
    *fb = (fit_best){cost, which, it, fb->status};
    memcpy(best, t, c->nk * sizeof *t);
  }
  return SHP_OK;
}

static int fit_run(fit_ctx *c, const shp_synth_fit_options *o,
                   double complex *best, shp_synth_fit_result *res) {
  double mag[MAX_TAPS], tt = 0;
  sqrt_start(c, mag);
  for (size_t k = 0; k < c->nk; k++)
    c->fixed = mag[k] > mag[c->fixed] ? k : c->fixed;
  for (size_t j = 0; j < c->p->count; j++)
    tt += c->target[j] * c->target[j];
  gsl_qrng *q = o->starts > 2 ? gsl_qrng_alloc(gsl_qrng_halton, c->nk) : NULL;
  if (o->starts > 2 && q == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "fit: out of memory");
  gsl_multifit_nlinear_fdf fdf = {.f = fit_f,
                                  .df = fit_df,
                                  .n = c->p->count,
                                  .p = n_params(c),
                                  .params = c};
  fit_best fb = {INFINITY, 0, 0, GSL_SUCCESS};
  double complex t[MAX_TAPS];
  int rc = SHP_OK;
  /* A relative cost of 1e-24 is rounding: no start will do better. */
  for (size_t s = 0; rc == SHP_OK && s < o->starts && !(fb.cost <= 1e-24 * tt);
       s++) {
    rc = start_taps(c, s, q, mag, t);
    if (rc == SHP_OK)
      rc = fit_one(c, &fdf, s, o->max_iterations, t, best, &fb);
  }
  gsl_qrng_free(q);
  if (rc == SHP_OK && !isfinite(fb.cost))
    rc = shp_error_set(SHP_ERR_NUMERIC, "fit: every start failed (%s)",
                       gsl_strerror(fb.status));
  if (rc == SHP_OK)
    rc = shp_synth_taps_normalize(best, c->nk, NULL);
  if (rc == SHP_OK && res != NULL) {
    measure(c, best, &res->rms_error, &res->scale);
    res->start = fb.start;
    res->iterations = fb.iterations;
  }
  return rc;
}

void shp_synth_fit_options_init(shp_synth_fit_options *o) {
  *o = (shp_synth_fit_options){
      .real_taps = false, .starts = 8, .max_iterations = 200};
}

int shp_synth_fit(const shp_synth_fit_problem *p,
                  const shp_synth_fit_options *options, double complex *taps,
                  shp_synth_fit_result *result) {
  shp_synth_fit_options o;
  shp_synth_fit_options_init(&o);
  if (options != NULL)
    o = *options;
  o.starts = o.starts == 0 ? 1 : o.starts;
  o.max_iterations = o.max_iterations == 0 ? 200 : o.max_iterations;
  if (taps == NULL)
    return shp_error_set(SHP_ERR_INVALID, "fit: no tap array");
  fit_ctx c;
  int rc = fit_ctx_init(&c, p, o.real_taps);
  if (rc == SHP_OK && p->count < n_params(&c))
    rc = shp_error_set(SHP_ERR_INVALID,
                       "fit: %zu samples are fewer than the %zu parameters",
                       p->count, n_params(&c));
  if (rc == SHP_OK)
    rc = fit_run(&c, &o, taps, result);
  fit_ctx_clear(&c);
  return rc;
}

int shp_synth_fit_error(const shp_synth_fit_problem *p,
                        const double complex *taps, double *rms_error,
                        double *scale) {
  fit_ctx c;
  int rc = fit_ctx_init(&c, p, true);
  if (rc == SHP_OK)
    rc = check_taps(taps, c.nk);
  if (rc == SHP_OK)
    measure(&c, taps, rms_error, scale);
  fit_ctx_clear(&c);
  return rc;
}
