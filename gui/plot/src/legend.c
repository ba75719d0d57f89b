/* The legend: a box inside the plot area listing the labelled series, each
 * with a short sample of its line, put in the corner where it covers the
 * least data. */
#include "plot-private.h"

#include <math.h>
#include <stdint.h>

typedef struct {
  size_t rows;
  double text_w, row_h, sample_w, max_text; /* user units */
  plot_rect box;
} legend_geom;

static bool labelled(const shp_plot_series *s) {
  return s->label != NULL && s->label[0] != '\0';
}

/* Box size from the widest label, labels capped at half the plot width
 * (longer ones are ellipsized when drawn). */
static void measure(cairo_t *cr, const plot_metrics *m, const panel_view *v,
                    legend_geom *g) {
  const shp_plot_panel *p = v->panel;
  g->rows = 0;
  g->text_w = 0;
  g->row_h = 0;
  g->sample_w = 2.5 * m->font;
  g->max_text = 0.5 * v->area.w;
  for (size_t k = 0; k < p->series_count; k++) {
    double w, h;
    if (!labelled(&p->series[k]))
      continue;
    plot_text_size(cr, m, TEXT_LEGEND, p->series[k].label, &w, &h);
    g->text_w = fmax(g->text_w, fmin(w, g->max_text));
    g->row_h = fmax(g->row_h, 1.2 * h);
    g->rows++;
  }
  g->box = (plot_rect){0, 0,
                       m->pad + g->sample_w + 0.6 * m->pad + g->text_w + m->pad,
                       0.8 * m->pad + (double)g->rows * g->row_h};
}

static size_t covered(const plot_metrics *m, const panel_view *v,
                      const plot_rect *r) {
  size_t hits = 0;
  for (size_t k = 0; k < v->panel->series_count; k++)
    hits += plot_series_hits(m, v, &v->panel->series[k], r);
  return hits;
}

/* Upper right first, as readers expect it there; then the other corners and
 * the middles of the top and bottom, each taken only when it hides strictly
 * less of the curves than every place before it. */
static void place(const plot_metrics *m, const panel_view *v, legend_geom *g) {
  const plot_rect *a = &v->area;
  double inset = 0.6 * m->pad;
  double left = a->x + inset, right = a->x + a->w - inset - g->box.w;
  double top = a->y + inset, bottom = a->y + a->h - inset - g->box.h;
  double mid_x = a->x + 0.5 * (a->w - g->box.w);
  /* Not the middles of the sides: curves are mostly there. */
  const double spots[6][2] = {{right, top},   {left, top},  {right, bottom},
                              {left, bottom}, {mid_x, top}, {mid_x, bottom}};
  size_t best_hits = SIZE_MAX;
  for (int c = 0; c < 6 && best_hits > 0; c++) {
    plot_rect r = {spots[c][0], spots[c][1], g->box.w, g->box.h};
    size_t hits = covered(m, v, &r);
    if (hits < best_hits) {
      best_hits = hits;
      g->box = r;
    }
  }
}

static void draw_sample(cairo_t *cr, const plot_metrics *m,
                        const shp_plot_series *s, size_t index, double x,
                        double y, double w) {
  double rgb[3];
  plot_series_color(s, index, rgb);
  cairo_save(cr);
  cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
  plot_series_set_style(cr, m, s->style);
  if (s->style == SHP_PLOT_POINTS) {
    cairo_arc(cr, x + 0.5 * w, y, 1.5 * m->line, 0, 2 * M_PI);
    cairo_fill(cr);
  } else if (s->style == SHP_PLOT_BAND) {
    cairo_rectangle(cr, x, y - 2 * m->line, w, 4 * m->line);
    plot_series_fill_band(cr, rgb);
  } else {
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x + w, y);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

static void draw_box(cairo_t *cr, const plot_metrics *m, const plot_rect *b) {
  cairo_rectangle(cr, b->x, b->y, b->w, b->h);
  /* Slightly see-through, so a curve behind a crowded legend still shows. */
  cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
  cairo_set_line_width(cr, fmax(1.0, 0.5 * m->line));
  cairo_stroke(cr);
}

void plot_legend_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v) {
  legend_geom g;
  measure(cr, m, v, &g);
  /* A legend that does not fit would hide the whole plot: leave it out. */
  if (g.rows == 0 || g.box.w > v->area.w || g.box.h > v->area.h)
    return;
  place(m, v, &g);
  cairo_save(cr);
  draw_box(cr, m, &g.box);
  double y = g.box.y + 0.4 * m->pad;
  for (size_t k = 0; k < v->panel->series_count; k++) {
    const shp_plot_series *s = &v->panel->series[k];
    if (!labelled(s))
      continue;
    double cy = y + 0.5 * g.row_h;
    double sx = g.box.x + m->pad;
    draw_sample(cr, m, s, k, sx, cy, g.sample_w);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    const text_place at = {0, 0.5, false, g.max_text};
    plot_text_draw(cr, m, TEXT_LEGEND, s->label, sx + g.sample_w + 0.6 * m->pad,
                   cy, &at);
    y += g.row_h;
  }
  cairo_restore(cr);
}
