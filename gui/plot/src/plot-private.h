/* Shared between the plotting sources; not installed. */
#ifndef SHP_PLOT_PRIVATE_H
#define SHP_PLOT_PRIVATE_H

#include "shp/plot.h"

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

/* Enough for the densest axis a 32767 px image can show legibly. */
#define PLOT_MAX_TICKS 64

typedef struct {
  double lo, hi;
} plot_range;

typedef struct {
  double x, y, w, h;
} plot_rect;

typedef struct {
  double v[PLOT_MAX_TICKS];
  size_t n;
  double step;
  bool sci;   /* labels in exponent notation */
  int digits; /* decimals (of the mantissa when sci) */
} plot_ticks;

/* Sizes in user units derived from the figure size, so a plot reads the
 * same at 600 px in a window and at 4000 px in a file. */
typedef struct {
  double font; /* tick label size; the other text roles scale from it */
  double line; /* curve width */
  double pad;  /* general spacing */
  double tick; /* tick mark length */
} plot_metrics;

typedef enum {
  TEXT_TICK,
  TEXT_LABEL,
  TEXT_PANEL_TITLE,
  TEXT_FIGURE_TITLE,
  TEXT_LEGEND,
  TEXT_NOTE
} text_role;

/* Where text sits relative to the anchor point: 0 = left/top, 0.5 =
 * centre, 1 = right/bottom of its box, in the final (maybe rotated) box. */
typedef struct {
  double ax, ay;
  bool vertical;   /* read bottom to top, for the y axis label */
  double max_size; /* ellipsize past this length; <= 0 = no limit */
} text_place;

/* Everything the drawing needs about one panel, worked out beforehand so
 * layout and drawing agree and the GUI can ask for frames without drawing. */
typedef struct {
  const shp_plot_panel *panel;
  plot_rect cell, area;
  plot_range xr, yr;
  plot_ticks xt, yt;
  size_t column;    /* in the grid of panels */
  double left_need; /* left margin this panel's y labels need */
  bool has_data;
} panel_view;

/* text.c */
void plot_text_size(cairo_t *cr, const plot_metrics *m, text_role role,
                    const char *text, double *w, double *h);
void plot_text_draw(cairo_t *cr, const plot_metrics *m, text_role role,
                    const char *text, double x, double y,
                    const text_place *place);

/* ticks.c */
bool plot_range_auto_x(const shp_plot_panel *p, double threshold,
                       plot_range *out);
plot_range plot_range_auto_y(const shp_plot_panel *p, plot_range xr);
plot_range plot_range_pad_degenerate(plot_range r);
void plot_ticks_make(plot_range r, double length_px, double min_gap_px,
                     double min_step, plot_ticks *t);
double plot_ticks_next_step(double step);
void plot_ticks_format(const plot_ticks *t, double v, char *buf, size_t size);

/* layout.c */
int plot_validate(const shp_plot_figure *fig, double width, double height);
double plot_figure_title_height(cairo_t *cr, const plot_metrics *m,
                                const shp_plot_figure *fig);
void plot_metrics_for(double width, double height, plot_metrics *m);
void plot_layout_panels(cairo_t *cr, const shp_plot_figure *fig,
                        const plot_metrics *m, double width, double height,
                        panel_view *views);

/* series.c */
double plot_map_x(const panel_view *v, double x);
double plot_map_y(const panel_view *v, double y);
void plot_series_color(const shp_plot_series *s, size_t index, double rgb[3]);
void plot_series_set_style(cairo_t *cr, const plot_metrics *m,
                           shp_plot_style style);
size_t plot_series_hits(const plot_metrics *m, const panel_view *v,
                        const shp_plot_series *s, const plot_rect *r);
/* Fill the current path as a band of colour rgb. */
void plot_series_fill_band(cairo_t *cr, const double rgb[3]);
void plot_series_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v,
                      const shp_plot_series *s, size_t index);

/* legend.c */
void plot_legend_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v);

/* panel.c */
void plot_panel_draw(cairo_t *cr, const plot_metrics *m, const panel_view *v);

#endif
