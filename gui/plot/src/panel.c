/* One panel: grid, curves, frame, ticks and their labels, axis labels,
 * title and legend, in that order so text is never drawn under a curve. */
#include "plot-private.h"

#include <math.h>

/* Hairlines of odd width on pixel centres, so a 1 px grid line is one crisp
 * pixel instead of two grey ones; harmless on vector surfaces. */
static double snap(double v, double lw) {
  return fmod(round(lw), 2) == 1 ? floor(v) + 0.5 : round(v);
}

static double hairline(const plot_metrics *m) {
  return fmax(1.0, round(0.55 * m->line));
}

static void draw_grid(cairo_t *cr, const plot_metrics *m, const panel_view *v) {
  const plot_rect *a = &v->area;
  double lw = hairline(m);
  cairo_set_line_width(cr, lw);
  cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
  for (size_t i = 0; i < v->xt.n; i++) {
    double x = snap(plot_map_x(v, v->xt.v[i]), lw);
    cairo_move_to(cr, x, a->y);
    cairo_line_to(cr, x, a->y + a->h);
  }
  for (size_t i = 0; i < v->yt.n; i++) {
    double y = snap(plot_map_y(v, v->yt.v[i]), lw);
    cairo_move_to(cr, a->x, y);
    cairo_line_to(cr, a->x + a->w, y);
  }
  cairo_stroke(cr);
}

static void draw_curves(cairo_t *cr, const plot_metrics *m,
                        const panel_view *v) {
  const plot_rect *a = &v->area;
  cairo_save(cr);
  cairo_rectangle(cr, a->x - m->line, a->y - m->line, a->w + 2 * m->line,
                  a->h + 2 * m->line);
  cairo_clip(cr);
  for (size_t k = 0; k < v->panel->series_count; k++)
    plot_series_draw(cr, m, v, &v->panel->series[k], k);
  cairo_restore(cr);
}

static void draw_frame_and_ticks(cairo_t *cr, const plot_metrics *m,
                                 const panel_view *v) {
  const plot_rect *a = &v->area;
  double lw = hairline(m);
  double left = snap(a->x, lw), top = snap(a->y, lw);
  double right = snap(a->x + a->w, lw), bottom = snap(a->y + a->h, lw);
  cairo_set_line_width(cr, lw);
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  for (size_t i = 0; i < v->xt.n; i++) {
    double x = snap(plot_map_x(v, v->xt.v[i]), lw);
    cairo_move_to(cr, x, bottom);
    cairo_line_to(cr, x, bottom + m->tick);
  }
  for (size_t i = 0; i < v->yt.n; i++) {
    double y = snap(plot_map_y(v, v->yt.v[i]), lw);
    cairo_move_to(cr, left, y);
    cairo_line_to(cr, left - m->tick, y);
  }
  cairo_stroke(cr);
}

static void draw_tick_labels(cairo_t *cr, const plot_metrics *m,
                             const panel_view *v) {
  const plot_rect *a = &v->area;
  const text_place below = {0.5, 0, false, 0};
  const text_place beside = {1, 0.5, false, 0};
  char buf[64];
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  for (size_t i = 0; i < v->xt.n; i++) {
    plot_ticks_format(&v->xt, v->xt.v[i], buf, sizeof buf);
    plot_text_draw(cr, m, TEXT_TICK, buf, plot_map_x(v, v->xt.v[i]),
                   a->y + a->h + m->tick + 0.3 * m->pad, &below);
  }
  for (size_t i = 0; i < v->yt.n; i++) {
    plot_ticks_format(&v->yt, v->yt.v[i], buf, sizeof buf);
    plot_text_draw(cr, m, TEXT_TICK, buf, a->x - m->tick - 0.5 * m->pad,
                   plot_map_y(v, v->yt.v[i]), &beside);
  }
}

/* Axis labels and title sit at the cell's edges, where layout.c left room
 * for them. */
static void draw_labels(cairo_t *cr, const plot_metrics *m,
                        const panel_view *v) {
  const shp_plot_panel *p = v->panel;
  const plot_rect *a = &v->area, *c = &v->cell;
  double cx = a->x + 0.5 * a->w;
  cairo_set_source_rgb(cr, 0, 0, 0);
  const text_place title = {0.5, 0, false, c->w - 2 * m->pad};
  plot_text_draw(cr, m, TEXT_PANEL_TITLE, p->title, cx, c->y + m->pad, &title);
  const text_place xlabel = {0.5, 1, false, a->w};
  plot_text_draw(cr, m, TEXT_LABEL, p->xlabel, cx, c->y + c->h - m->pad,
                 &xlabel);
  /* A long y label may run past the frame along the cell's edge, where
   * nothing else is drawn; only past the cell is it ellipsized. */
  double cy = a->y + 0.5 * a->h;
  double room = 2 * fmin(cy - c->y, c->y + c->h - cy) - m->pad;
  const text_place ylabel = {0, 0.5, true, room};
  plot_text_draw(cr, m, TEXT_LABEL, p->ylabel, c->x + m->pad, cy, &ylabel);
  if (!v->has_data) {
    const text_place note = {0.5, 0.5, false, a->w};
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    plot_text_draw(cr, m, TEXT_NOTE, "no data", cx, a->y + 0.5 * a->h, &note);
  }
}

void plot_panel_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v) {
  cairo_save(cr);
  draw_grid(cr, m, v);
  draw_curves(cr, m, v);
  draw_frame_and_ticks(cr, m, v);
  draw_tick_labels(cr, m, v);
  draw_labels(cr, m, v);
  plot_legend_draw(cr, m, v);
  cairo_restore(cr);
}
