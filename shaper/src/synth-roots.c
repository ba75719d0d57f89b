/* The complementary polynomial: the roots of 1 - |A|^2, their pairing
 * into choice groups, and B for one selection of them. */
#include "synth-private.h"

#include "shp/error.h"
#include "shp/units.h"

#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_poly.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Imaginary parts below this fraction of the largest tap are rounding. */
#define REAL_TOL 1e-12
/* Double roots of 1 - |A|^2 on the unit circle split under rounding into
 * two roots about sqrt(eps) apart; anything this close (in |log|r||) is
 * taken as on the circle. Treating a true pair r, 1/conj(r) that close as
 * a circle root changes |B|^2 by O(1e-10), which the polish removes. */
#define CIRCLE_LOG 1e-5
/* Roots this close (relative) may be one double root split by rounding. */
#define DOUBLE_SEP 1e-6

/* ---- the complementary polynomial ------------------------------------- */

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
  synth_autocorr(cp->a, m + 1, r);
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
int synth_prepare(complement *cp, const double complex *a, size_t m,
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
void synth_build_b(const complement *cp, unsigned long mask,
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
