/* Axis ranges and tick marks: which part of the data to show, and where the
 * labelled ticks go (steps of 1, 2 or 5 times a power of ten, the values
 * people read at a glance). */
#include "plot-private.h"

#include "shp/error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool sample_ok(const shp_plot_series *s, size_t i) {
  return isfinite(s->x[i]) && isfinite(s->y[i]);
}

/* The x extent of all finite samples and the largest |y|; false when the
 * panel has none. */
static bool panel_extent(const shp_plot_panel *p, plot_range *x, double *peak) {
  bool any = false;
  *peak = 0;
  for (size_t k = 0; k < p->series_count; k++) {
    const shp_plot_series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      if (!sample_ok(s, i))
        continue;
      if (!any || s->x[i] < x->lo)
        x->lo = s->x[i];
      if (!any || s->x[i] > x->hi)
        x->hi = s->x[i];
      *peak = fmax(*peak, fabs(s->y[i]));
      any = true;
    }
  }
  return any;
}

/* The x span of samples whose |y| exceeds level. */
static plot_range span_above(const shp_plot_panel *p, double level,
                             plot_range extent) {
  plot_range r = {extent.hi, extent.lo};
  for (size_t k = 0; k < p->series_count; k++) {
    const shp_plot_series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      if (sample_ok(s, i) && fabs(s->y[i]) >= level) {
        r.lo = fmin(r.lo, s->x[i]);
        r.hi = fmax(r.hi, s->x[i]);
      }
    }
  }
  return r;
}

bool plot_range_auto_x(const shp_plot_panel *p, double threshold,
                       plot_range *out) {
  plot_range extent;
  double peak;
  if (!panel_extent(p, &extent, &peak)) {
    *out = (plot_range){0, 1};
    return false;
  }
  /* >= with level 0 (a panel of zeros) keeps every sample: the whole extent. */
  plot_range r = span_above(p, threshold * peak, extent);
  double pad = 0.1 * (r.hi - r.lo);
  if (pad <= 0)
    pad = 0.01 * (extent.hi - extent.lo);
  r.lo = fmax(r.lo - pad, extent.lo);
  r.hi = fmin(r.hi + pad, extent.hi);
  *out = plot_range_pad_degenerate(r);
  return true;
}

plot_range plot_range_auto_y(const shp_plot_panel *p, plot_range xr) {
  plot_range r = {INFINITY, -INFINITY};
  for (size_t k = 0; k < p->series_count; k++) {
    const shp_plot_series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      if (sample_ok(s, i) && s->x[i] >= xr.lo && s->x[i] <= xr.hi) {
        r.lo = fmin(r.lo, s->y[i]);
        r.hi = fmax(r.hi, s->y[i]);
      }
    }
  }
  if (r.lo > r.hi)
    return (plot_range){0, 1};
  /* Halves and clamps keep samples near +-DBL_MAX from overflowing. */
  double pad = 0.1 * (0.5 * r.hi - 0.5 * r.lo);
  r.lo = fmax(r.lo - pad, -DBL_MAX);
  r.hi = fmin(r.hi + pad, DBL_MAX);
  return plot_range_pad_degenerate(r);
}

/* A range with no width (all samples equal) or one too thin for doubles to
 * resolve gets a width, so ticks and the mapping to pixels stay finite. */
plot_range plot_range_pad_degenerate(plot_range r) {
  double mag = fmax(fabs(r.lo), fabs(r.hi));
  if (r.hi - r.lo > 1e-9 * mag && r.hi - r.lo > 1e-300)
    return r;
  double c = 0.5 * r.lo + 0.5 * r.hi;
  double d = mag > 0 ? 0.1 * mag : 1.0;
  return (plot_range){c - d, c + d};
}

static double nice_step(double raw) {
  double e = pow(10, floor(log10(raw)));
  double f = raw / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

double plot_ticks_next_step(double step) {
  double e = pow(10, floor(log10(step) + 1e-9));
  double f = step / e;
  return (f < 1.5 ? 2 : f < 3.5 ? 5 : 10) * e;
}

/* Replace each ASCII minus by U+2212, which has the width of a digit and
 * lines up in a column of tick labels. */
static void typographic_minus(char *buf, size_t size) {
  for (char *c = strchr(buf, '-'); c != NULL; c = strchr(c, '-')) {
    size_t len = strlen(buf);
    if (len + 3 > size)
      return;
    memmove(c + 3, c + 1, len - (size_t)(c - buf));
    memcpy(c, "\xe2\x88\x92", 3);
  }
}

/* One notation per axis, so labels read alike: plain decimals with as many
 * places as the step needs, or, for values too large or too small for that,
 * an exponent with the same number of mantissa digits on every label. */
static void choose_notation(plot_ticks *t) {
  double biggest = 0;
  for (size_t i = 0; i < t->n; i++)
    biggest = fmax(biggest, fabs(t->v[i]));
  int step_exp = (int)floor(log10(t->step) + 1e-9);
  t->sci = biggest >= 1e5 || (biggest > 0 && biggest < 1e-3);
  if (t->sci) {
    int big_exp = (int)floor(log10(biggest) + 1e-9);
    t->digits = big_exp > step_exp ? big_exp - step_exp : 0;
  } else {
    t->digits = step_exp < 0 ? -step_exp : 0;
  }
}

void plot_ticks_format(const plot_ticks *t, double v, char *buf, size_t size) {
  if (v == 0) {
    snprintf(buf, size, "0");
  } else if (t->sci) {
    int e = (int)floor(log10(fabs(v)) + 1e-9);
    double mantissa = v / pow(10, e);
    /* Rounding may carry the mantissa to 10 (9.96 -> "10.0"). */
    if (fabs(mantissa) >= 10 - 0.5 * pow(10, -t->digits))
      mantissa /= 10, e++;
    snprintf(buf, size, "%.*fe%d", t->digits, mantissa, e);
  } else {
    snprintf(buf, size, "%.*f", t->digits, v);
  }
  typographic_minus(buf, size);
}

/* Ticks at multiples of a 1-2-5 step, aiming at one per target_gap pixels
 * but never closer than min_gap pixels (the caller's label size), and no
 * step below min_step (> 0: 1 keeps counts whole). */
void plot_ticks_make(plot_range r, double length_px, double min_gap_px,
                     double min_step, plot_ticks *t) {
  double span = r.hi - r.lo;
  t->n = 0;
  t->step = 0;
  t->sci = false;
  t->digits = 0;
  if (!(span > 0) || !isfinite(span) || !(length_px > 0))
    return;
  double step = nice_step(span * fmax(min_gap_px, 1) / length_px);
  if (min_step > 0 && step < min_step)
    step = min_step;
  while (span / step >= PLOT_MAX_TICKS)
    step = plot_ticks_next_step(step);
  double first = ceil(r.lo / step - 1e-9);
  for (size_t i = 0; i < PLOT_MAX_TICKS; i++) {
    double v = (first + (double)i) * step;
    if (v > r.hi + 1e-9 * step)
      break;
    t->v[t->n++] = fabs(v) < 1e-9 * step ? 0 : v;
  }
  t->step = step;
  choose_notation(t);
}

int shp_plot_auto_range(const shp_plot_panel *p, double threshold, double *xmin,
                        double *xmax) {
  if (p == NULL || xmin == NULL || xmax == NULL)
    return shp_error_set(SHP_ERR_INVALID, "plot auto range: NULL argument");
  if (!(threshold >= 0 && threshold < 1))
    return shp_error_set(SHP_ERR_INVALID,
                         "plot auto range: threshold must be in [0, 1), "
                         "got %g",
                         threshold);
  if (p->series == NULL && p->series_count > 0)
    return shp_error_set(SHP_ERR_INVALID, "plot auto range: series is NULL");
  for (size_t k = 0; k < p->series_count; k++)
    if (p->series[k].n > 0 && (p->series[k].x == NULL || !p->series[k].y))
      return shp_error_set(SHP_ERR_INVALID,
                           "plot auto range: series %zu has %zu samples but "
                           "no x or y array",
                           k, p->series[k].n);
  plot_range r;
  plot_range_auto_x(p, threshold, &r);
  *xmin = r.lo;
  *xmax = r.hi;
  return SHP_OK;
}
