/* Double-pass synthesis: the palindromic stack of a symmetric network
 * (shp_synth_double_pass). */
#include "synth-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_qrng.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHOICE_BITS 20
/* A palindromic candidate must reproduce the taps this well. */
#define EXACT_TOL 1e-9

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
  return synth_reduce_half(0.5 * atan2(2 * g12, g11 - g22) + 0.5 * SHP_PI);
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
  if (synth_run_lm(&fdf, x, 100, NULL) != GSL_SUCCESS)
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
    if (synth_tap_error(s, taps, 0) > 1e-14)
      synth_polish(s, taps);
    if (synth_tap_error(s, taps, 0) <= EXACT_TOL) {
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
  synth_stack_init(st, n, true);
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
  synth_build_b(cp, mask, bc);
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
  shp_gsl_guard();
  int rc = synth_check_request(a, n, 2 * n + 1, stack);
  if (rc != SHP_OK)
    return rc;
  complement *cp = malloc(sizeof *cp);
  if (cp == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  double alpha;
  size_t tried = 0;
  rc = synth_prepare(cp, a, 2 * n, &alpha);
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
        -alpha, rc == SHP_OK ? synth_tap_error(stack, a, -alpha) : INFINITY,
        tried, total};
  return rc;
}
