/* Drawing one series into its panel: data to user space, segment clipping,
 * colours and line styles. */
#include "plot-private.h"

#include <math.h>

/* Okabe and Ito's colour-blind-safe set (8-bit sRGB), with yellow last since
 * it barely shows on white. */
static const unsigned char palette[][3] = {
    {0x00, 0x72, 0xB2}, /* blue */
    {0xD5, 0x5E, 0x00}, /* vermillion */
    {0x00, 0x9E, 0x73}, /* bluish green */
    {0xCC, 0x79, 0xA7}, /* reddish purple */
    {0xE6, 0x9F, 0x00}, /* orange */
    {0x56, 0xB4, 0xE9}, /* sky blue */
    {0x00, 0x00, 0x00}, /* black */
    {0xF0, 0xE4, 0x42}, /* yellow */
};
#define PALETTE_SIZE (sizeof palette / sizeof palette[0])

size_t shp_plot_palette_size(void) { return PALETTE_SIZE; }

void shp_plot_palette_rgb(int index, double rgb[3]) {
  size_t i = index < 0 ? 0 : (size_t)index % PALETTE_SIZE;
  for (int c = 0; c < 3; c++)
    rgb[c] = palette[i][c] / 255.0;
}

void plot_series_color(const shp_plot_series *s, size_t index, double rgb[3]) {
  size_t i = s->color < 0 ? index : (size_t)s->color;
  shp_plot_palette_rgb((int)(i % PALETTE_SIZE), rgb);
}

double plot_map_x(const panel_view *v, double x) {
  return v->area.x + (x - v->xr.lo) / (v->xr.hi - v->xr.lo) * v->area.w;
}

double plot_map_y(const panel_view *v, double y) {
  return v->area.y + v->area.h -
         (y - v->yr.lo) / (v->yr.hi - v->yr.lo) * v->area.h;
}

void plot_series_set_style(cairo_t *cr, const plot_metrics *m,
                           shp_plot_style style) {
  double lw = m->line;
  cairo_set_line_width(cr, lw);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  if (style == SHP_PLOT_DASHED) {
    const double dash[] = {5 * lw, 3 * lw};
    cairo_set_dash(cr, dash, 2, 0);
  } else if (style == SHP_PLOT_DOTTED) {
    /* Zero-length dashes with round caps are round dots. */
    const double dash[] = {0, 2.5 * lw};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  } else {
    cairo_set_dash(cr, NULL, 0, 0);
  }
}

/* Cohen and Sutherland's clipping (Newman and Sproull, "Principles of
 * Interactive Computer Graphics", 1979). Clipping here rather than leaving it
 * to cairo keeps far-off samples out of cairo's 24.8 fixed-point range,
 * where they would wrap around into stray lines. It is chosen over the
 * parametric (Liang-Barsky) form because it puts each cut exactly on the
 * edge: with samples at 1e300 px a parameter t cannot resolve the few pixels
 * that are visible. */
enum { OUT_LEFT = 1, OUT_RIGHT = 2, OUT_TOP = 4, OUT_BOTTOM = 8 };

static int outcode(const plot_rect *r, double x, double y) {
  return (x < r->x ? OUT_LEFT : 0) | (x > r->x + r->w ? OUT_RIGHT : 0) |
         (y < r->y ? OUT_TOP : 0) | (y > r->y + r->h ? OUT_BOTTOM : 0);
}

/* Move the outside end p[0..1] of segment p onto the edge it crosses. */
static void cut(const plot_rect *r, int code, double *x, double *y,
                const double p[4]) {
  double dx = p[2] - p[0], dy = p[3] - p[1];
  if (code & (OUT_TOP | OUT_BOTTOM)) {
    double edge = code & OUT_TOP ? r->y : r->y + r->h;
    *x = p[0] + dx * ((edge - p[1]) / dy);
    *y = edge;
  } else {
    double edge = code & OUT_LEFT ? r->x : r->x + r->w;
    *y = p[1] + dy * ((edge - p[0]) / dx);
    *x = edge;
  }
}

static bool clip_segment(const plot_rect *r, double p[4]) {
  int c0 = outcode(r, p[0], p[1]), c1 = outcode(r, p[2], p[3]);
  /* Each pass puts one end on an edge; four edges need at most four. */
  for (int pass = 0; pass < 8; pass++) {
    if ((c0 | c1) == 0)
      return true;
    if (c0 & c1)
      return false;
    if (c0 != 0) {
      cut(r, c0, &p[0], &p[1], p);
      c0 = outcode(r, p[0], p[1]);
    } else {
      const double q[4] = {p[2], p[3], p[0], p[1]};
      cut(r, c1, &p[2], &p[3], q);
      c1 = outcode(r, p[2], p[3]);
    }
  }
  return false;
}

/* Sample i in user space; false for samples that cannot be drawn (NaN or
 * infinite data, or so far out that the mapping overflows). */
static bool map_sample(const panel_view *v, const shp_plot_series *s, size_t i,
                       double *px, double *py) {
  *px = plot_map_x(v, s->x[i]);
  *py = plot_map_y(v, s->y[i]);
  return isfinite(*px) && isfinite(*py);
}

/* The rectangle curves may reach: the plot area plus a line width, so a
 * curve along an edge of a fixed range is not cut in half. */
static plot_rect draw_bounds(const panel_view *v, const plot_metrics *m) {
  return (plot_rect){v->area.x - m->line, v->area.y - m->line,
                     v->area.w + 2 * m->line, v->area.h + 2 * m->line};
}

static void path_lines(cairo_t *cr, const plot_metrics *m, const panel_view *v,
                       const shp_plot_series *s) {
  plot_rect bounds = draw_bounds(v, m);
  bool have_prev = false, pen_down = false;
  double prev_x = 0, prev_y = 0, pen_x = 0, pen_y = 0;
  for (size_t i = 0; i < s->n; i++) {
    double x, y;
    if (!map_sample(v, s, i, &x, &y)) {
      have_prev = false; /* a gap in the data is a gap in the line */
      continue;
    }
    double seg[4] = {prev_x, prev_y, x, y};
    if (have_prev && clip_segment(&bounds, seg)) {
      if (!pen_down || seg[0] != pen_x || seg[1] != pen_y)
        cairo_move_to(cr, seg[0], seg[1]);
      cairo_line_to(cr, seg[2], seg[3]);
      pen_down = true, pen_x = seg[2], pen_y = seg[3];
    }
    have_prev = true, prev_x = x, prev_y = y;
  }
}

static void path_points(cairo_t *cr, const plot_metrics *m, const panel_view *v,
                        const shp_plot_series *s) {
  plot_rect b = draw_bounds(v, m);
  for (size_t i = 0; i < s->n; i++) {
    double x, y;
    if (!map_sample(v, s, i, &x, &y) || x < b.x || x > b.x + b.w || y < b.y ||
        y > b.y + b.h)
      continue;
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, 1.5 * m->line, 0, 2 * M_PI);
  }
}

/* How many of the series' segments (or points) fall in r, so the legend can
 * go where it hides the least. */
size_t plot_series_hits(const plot_metrics *m, const panel_view *v,
                        const shp_plot_series *s, const plot_rect *r) {
  size_t hits = 0;
  bool have_prev = false;
  double prev_x = 0, prev_y = 0;
  for (size_t i = 0; i < s->n; i++) {
    double x, y;
    if (!map_sample(v, s, i, &x, &y)) {
      have_prev = false;
      continue;
    }
    double seg[4] = {s->style == SHP_PLOT_POINTS || !have_prev ? x : prev_x,
                     s->style == SHP_PLOT_POINTS || !have_prev ? y : prev_y, x,
                     y};
    if (clip_segment(r, seg))
      hits++;
    have_prev = true, prev_x = x, prev_y = y;
  }
  return hits;
}

/* A band's outline. Vertices are held within a million pixels of the plot
 * area: beyond that cairo's 24.8 fixed point would wrap them around, and
 * the panel's clip cuts what lies outside the area anyway. */
static void path_band(cairo_t *cr, const panel_view *v,
                      const shp_plot_series *s) {
  const double far = 1e6;
  bool first = true;
  for (size_t i = 0; i < s->n; i++) {
    double x, y;
    if (!map_sample(v, s, i, &x, &y))
      continue;
    x = fmin(fmax(x, v->area.x - far), v->area.x + v->area.w + far);
    y = fmin(fmax(y, v->area.y - far), v->area.y + v->area.h + far);
    if (first)
      cairo_move_to(cr, x, y);
    else
      cairo_line_to(cr, x, y);
    first = false;
  }
  cairo_close_path(cr);
}

/* How see-through a band is: light enough for the curves under it. */
#define BAND_ALPHA 0.25

void plot_series_fill_band(cairo_t *cr, const double rgb[3]) {
  cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], BAND_ALPHA);
  cairo_fill(cr);
}

void plot_series_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v,
                      const shp_plot_series *s, size_t index) {
  double rgb[3];
  if (s->n == 0)
    return;
  plot_series_color(s, index, rgb);
  cairo_save(cr);
  cairo_new_path(cr);
  cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
  plot_series_set_style(cr, m, s->style);
  if (s->style == SHP_PLOT_POINTS) {
    path_points(cr, m, v, s);
    cairo_fill(cr);
  } else if (s->style == SHP_PLOT_BAND) {
    path_band(cr, v, s);
    plot_series_fill_band(cr, rgb);
  } else {
    path_lines(cr, m, v, s);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}
