/* The forward model of ideal stacks (polynomial Jones vectors) and the
 * gain of tap polynomials on the unit circle (synthesis.h). */
#include "synth-private.h"

#include "shp/error.h"
#include "shp/units.h"

#include <math.h>

/* How far max |A| may exceed 1 and still count as rounding of the taps. */
#define GAIN_SLACK 1e-12

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

int synth_check_taps(const double complex *a, size_t count) {
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
void synth_autocorr(const double complex *a, size_t count, double complex *r) {
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
  int rc = synth_check_taps(a, count);
  if (rc != SHP_OK)
    return rc;
  double complex r[MAX_TAPS];
  synth_autocorr(a, count, r);
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

int synth_check_gain(const double complex *a, size_t count) {
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
