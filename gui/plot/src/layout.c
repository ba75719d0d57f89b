/* Where everything goes: figure title, panel cells, and inside each cell the
 * plot area left over once tick labels, axis labels and the panel title have
 * room. Text is measured, not guessed, so nothing overlaps or gets clipped
 * whatever the font and the figure size. */
#include "plot-private.h"

#include "shp/error.h"

#include <math.h>
#include <stdio.h>

static bool has_text(const char *s) { return s != NULL && s[0] != '\0'; }

static int validate_range(size_t i, char axis, bool fixed, double lo,
                          double hi) {
  if (!fixed || (isfinite(lo) && isfinite(hi) && lo < hi))
    return SHP_OK;
  return shp_error_set(SHP_ERR_INVALID,
                       "plot panel %zu: fixed %c range must be finite with "
                       "%cmin < %cmax, got [%g, %g]",
                       i, axis, axis, axis, lo, hi);
}

static int validate_panel(const shp_plot_panel *p, size_t i) {
  if (p->series == NULL && p->series_count > 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "plot panel %zu: %zu series but series is NULL", i,
                         p->series_count);
  for (size_t k = 0; k < p->series_count; k++) {
    const shp_plot_series *s = &p->series[k];
    if (s->n > 0 && (s->x == NULL || s->y == NULL))
      return shp_error_set(SHP_ERR_INVALID,
                           "plot panel %zu: series %zu has %zu samples but no "
                           "x or y array",
                           i, k, s->n);
  }
  int rc = validate_range(i, 'x', p->fixed_x, p->xmin, p->xmax);
  return rc != SHP_OK ? rc
                      : validate_range(i, 'y', p->fixed_y, p->ymin, p->ymax);
}

int plot_validate(const shp_plot_figure *fig, double width, double height) {
  if (fig == NULL)
    return shp_error_set(SHP_ERR_INVALID, "plot: figure is NULL");
  if (!(width > 0 && height > 0 && isfinite(width) && isfinite(height)))
    return shp_error_set(SHP_ERR_INVALID,
                         "plot: size must be positive and finite, got %g x %g",
                         width, height);
  if (fig->panels == NULL && fig->panel_count > 0)
    return shp_error_set(SHP_ERR_INVALID, "plot: %zu panels but panels is NULL",
                         fig->panel_count);
  for (size_t i = 0; i < fig->panel_count; i++) {
    int rc = validate_panel(&fig->panels[i], i);
    if (rc != SHP_OK)
      return rc;
  }
  return SHP_OK;
}

/* Sizes follow the figure's area, tuned to read well at 1200 x 900, with a
 * floor so a small GUI widget still has legible text. */
void plot_metrics_for(double width, double height, plot_metrics *m) {
  double scale = sqrt(width * height / (1200.0 * 900.0));
  m->font = fmax(8.0, 14.0 * scale);
  m->line = fmax(1.0, 1.8 * scale);
  m->pad = 0.6 * m->font;
  m->tick = 0.4 * m->font;
}

static double widest_label(cairo_t *cr, const plot_metrics *m,
                           const plot_ticks *t) {
  double widest = 0;
  for (size_t i = 0; i < t->n; i++) {
    char buf[64];
    double w, h;
    plot_ticks_format(t, t->v[i], buf, sizeof buf);
    plot_text_size(cr, m, TEXT_TICK, buf, &w, &h);
    widest = fmax(widest, w);
  }
  return widest;
}

static double text_height(cairo_t *cr, const plot_metrics *m, text_role role,
                          const char *text) {
  double w, h;
  plot_text_size(cr, m, role, has_text(text) ? text : "0", &w, &h);
  return has_text(text) ? h : 0;
}

static void resolve_ranges(panel_view *v) {
  const shp_plot_panel *p = v->panel;
  v->has_data = plot_range_auto_x(p, SHP_PLOT_AUTO_THRESHOLD, &v->xr);
  if (p->fixed_x)
    v->xr = (plot_range){p->xmin, p->xmax};
  v->yr =
      p->fixed_y ? (plot_range){p->ymin, p->ymax} : plot_range_auto_y(p, v->xr);
}

/* Vertical layout and y ticks; returns the left margin this panel needs. */
static double layout_vertical(cairo_t *cr, const plot_metrics *m,
                              panel_view *v) {
  const shp_plot_panel *p = v->panel;
  double tick_h = text_height(cr, m, TEXT_TICK, "0");
  double title_h = text_height(cr, m, TEXT_PANEL_TITLE, p->title);
  double xlabel_h = text_height(cr, m, TEXT_LABEL, p->xlabel);
  double ylabel_h = text_height(cr, m, TEXT_LABEL, p->ylabel);
  /* The top y tick label is centred on the frame's top edge: leave it room. */
  double top = fmax(title_h > 0 ? title_h + m->pad : 0, 0.5 * tick_h) + m->pad;
  double bottom = m->tick + 0.3 * m->pad + tick_h +
                  (xlabel_h > 0 ? 0.3 * m->pad + xlabel_h : 0) + m->pad;
  v->area.y = v->cell.y + top;
  v->area.h = fmax(1.0, v->cell.h - top - bottom);
  plot_ticks_make(v->yr, v->area.h, 2.5 * tick_h, 0, &v->yt);
  return m->pad + (ylabel_h > 0 ? ylabel_h + m->pad : 0) +
         widest_label(cr, m, &v->yt) + 0.5 * m->pad + m->tick;
}

/* Horizontal layout and x ticks, spaced so their labels never touch. */
static void layout_horizontal(cairo_t *cr, const plot_metrics *m, panel_view *v,
                              double left) {
  double right = 2 * m->pad;
  double gap = 5 * m->font;
  v->area.x = v->cell.x + left;
  for (int pass = 0; pass < 4; pass++) {
    v->area.w = fmax(1.0, v->cell.w - left - right);
    plot_ticks_make(v->xr, v->area.w, gap, v->panel->integer_x ? 1 : 0, &v->xt);
    double widest = widest_label(cr, m, &v->xt);
    /* The last label is centred on its tick and may hang past the frame. */
    right = fmax(2 * m->pad, 0.5 * widest + 0.5 * m->pad);
    double need = widest + 2 * m->font;
    double span = v->xr.hi - v->xr.lo;
    if (v->xt.n < 2 || v->xt.step * v->area.w / span >= need)
      break;
    gap = need;
  }
  v->area.w = fmax(1.0, v->cell.w - left - right);
}

static void grid_shape(size_t n, size_t *cols, size_t *rows) {
  *cols = n > 3 ? (size_t)ceil(sqrt((double)n)) : 1;
  *rows = n == 0 ? 1 : (n + *cols - 1) / *cols;
}

double plot_figure_title_height(cairo_t *cr, const plot_metrics *m,
                                const shp_plot_figure *fig) {
  double h = text_height(cr, m, TEXT_FIGURE_TITLE, fig->title);
  return h > 0 ? h + m->pad : 0;
}

/* The widest left margin among the panels of v's column. */
static double column_left(const panel_view *views, size_t count,
                          size_t column) {
  double left = 0;
  for (size_t i = 0; i < count; i++)
    if (views[i].column == column)
      left = fmax(left, views[i].left_need);
  return left;
}

void plot_layout_panels(cairo_t *cr, const shp_plot_figure *fig,
                        const plot_metrics *m, double width, double height,
                        panel_view *views) {
  size_t cols, rows;
  grid_shape(fig->panel_count, &cols, &rows);
  double top = m->pad + plot_figure_title_height(cr, m, fig);
  /* Cells fill the figure; each panel's margins keep text off the edges. */
  double cell_w = width / (double)cols;
  double cell_h = (height - top) / (double)rows;
  for (size_t i = 0; i < fig->panel_count; i++) {
    panel_view *v = &views[i];
    v->panel = &fig->panels[i];
    v->column = i % cols;
    v->cell = (plot_rect){(double)v->column * cell_w,
                          top + (double)(i / cols) * cell_h, cell_w, cell_h};
    resolve_ranges(v);
    v->left_need = layout_vertical(cr, m, v);
  }
  /* One left margin per column lines up the frames stacked in it. */
  for (size_t i = 0; i < fig->panel_count; i++)
    layout_horizontal(cr, m, &views[i],
                      column_left(views, fig->panel_count, views[i].column));
}
