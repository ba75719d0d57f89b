/* Peeling plates off a pair (A, B), polishing and checking the result,
 * and single-pass synthesis (shp_synth_from_taps). */
#include "synth-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/units.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
double synth_reduce_half(double p) {
  p = remainder(p, SHP_PI);
  return p <= -0.5 * SHP_PI ? p + SHP_PI : p;
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
  return p == 0 ? 0.0 : synth_reduce_half(-carg(p));
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
  double t = synth_reduce_half(j == 0 ? atan2(u, -v) : atan2(v, u));
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
  out->beta = real || ref == 0 ? 0.0 : synth_reduce_half(carg(ref));
  double complex ph = out->beta == 0 ? 1 : cexp(-I * out->beta);
  out->theta_in = atan2(creal(y[0] * ph), creal(x[0] * ph));
}

/* ---- polishing and checking --------------------------------------------- */

/* Levenberg-Marquardt (GSL's trust-region defaults) from x, overwritten with
 * the answer. Returns a GSL status; running out of iterations still returns
 * the best point found, as GSL_SUCCESS. */
int synth_run_lm(gsl_multifit_nlinear_fdf *fdf, double *x, size_t maxiter,
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

double synth_tap_error(const shp_synth_stack *s, const double complex *a,
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
void synth_polish(shp_synth_stack *s, const double complex *a) {
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
  if (synth_run_lm(&fdf, x, POLISH_ITERATIONS, NULL) != GSL_SUCCESS)
    return;
  gsl_vector_view v = gsl_vector_view_array(x, s->n + 1);
  set_angles(&trial, &v.vector);
  for (size_t k = 0; k < s->n; k++)
    trial.azimuth_deg[k] = shp_rad_to_deg(synth_reduce_half(x[k + 1]));
  if (synth_tap_error(&trial, a, 0) < synth_tap_error(s, a, 0))
    *s = trial;
}

/* ---- synthesis ---------------------------------------------------------- */

void synth_stack_init(shp_synth_stack *s, size_t n, bool double_pass) {
  memset(s, 0, sizeof *s);
  s->n = n;
  s->has_output_polarizer = true;
  s->output_polarizer_deg = 0;
  s->double_pass = double_pass;
}

int synth_check_request(const double complex *a, size_t n, size_t count,
                        const shp_synth_stack *stack) {
  if (stack == NULL || n == 0 || n > SHP_SYNTH_MAX_PLATES)
    return shp_error_set(SHP_ERR_INVALID,
                         "synthesis: need a stack and 1 to %d plates, got %zu",
                         SHP_SYNTH_MAX_PLATES, n);
  int rc = synth_check_taps(a, count);
  return rc == SHP_OK ? synth_check_gain(a, count) : rc;
}

/* The minimum-phase B (option 0 throughout), peeled into stack, polished
 * for real taps. Returns the common phase of the stack's taps relative to
 * cp->a: the plates' exp(i phi/2) factors less the input's phase. */
static double single_pass(const complement *cp, shp_synth_stack *stack) {
  size_t n = cp->m;
  double complex b[MAX_TAPS];
  synth_build_b(cp, 0, b);
  peeled pl;
  peel(cp->a, b, n, cp->real, &pl);
  synth_stack_init(stack, n, false);
  double sum_phi = 0;
  for (size_t k = 0; k < n; k++) {
    stack->azimuth_deg[k] = shp_rad_to_deg(pl.theta[k]);
    stack->phase_offset_rad[k] = pl.phi[k];
    sum_phi += pl.phi[k];
  }
  stack->input_polarizer_deg = shp_rad_to_deg(pl.theta_in);
  if (cp->real && synth_tap_error(stack, cp->a, 0) > 1e-14)
    synth_polish(stack, cp->a);
  return remainder(0.5 * sum_phi - pl.beta, SHP_TWO_PI);
}

int shp_synth_from_taps(const double complex *a, size_t n,
                        shp_synth_stack *stack, shp_synth_info *info) {
  shp_gsl_guard();
  int rc = synth_check_request(a, n, n + 1, stack);
  if (rc != SHP_OK)
    return rc;
  complement *cp = malloc(sizeof *cp);
  if (cp == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "synthesis: out of memory");
  double alpha;
  rc = synth_prepare(cp, a, n, &alpha);
  if (rc != SHP_OK) {
    free(cp);
    return rc;
  }
  double phase = remainder(single_pass(cp, stack) - alpha, SHP_TWO_PI);
  double err = synth_tap_error(stack, a, phase);
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
