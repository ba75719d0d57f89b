/* The public drawing entry points: check the figure, lay it out, draw it. */
#include "plot-private.h"

#include "shp/error.h"

#include <stdlib.h>

static int cairo_failure(cairo_status_t status) {
  int code = status == CAIRO_STATUS_NO_MEMORY ? SHP_ERR_NOMEM : SHP_ERR_WRITE;
  return shp_error_set(code, "plot: cairo: %s", cairo_status_to_string(status));
}

/* Validate, then lay out into a new array of views the caller frees. */
static int prepare(cairo_t *cr, const shp_plot_figure *fig, double width,
                   double height, plot_metrics *m, panel_view **views) {
  *views = NULL;
  if (cr == NULL)
    return shp_error_set(SHP_ERR_INVALID, "plot: cairo context is NULL");
  int rc = plot_validate(fig, width, height);
  if (rc != SHP_OK)
    return rc;
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
    return cairo_failure(cairo_status(cr));
  /* calloc(0) may return NULL, which would read as out of memory. */
  *views = calloc(fig->panel_count > 0 ? fig->panel_count : 1, sizeof **views);
  if (*views == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "plot: no memory for %zu panels",
                         fig->panel_count);
  plot_metrics_for(width, height, m);
  plot_layout_panels(cr, fig, m, width, height, *views);
  return SHP_OK;
}

static void draw_title(cairo_t *cr, const plot_metrics *m,
                       const shp_plot_figure *fig, double width) {
  const text_place top = {0.5, 0, false, width - 2 * m->pad};
  cairo_set_source_rgb(cr, 0, 0, 0);
  plot_text_draw(cr, m, TEXT_FIGURE_TITLE, fig->title, 0.5 * width, m->pad,
                 &top);
}

int shp_plot_draw(cairo_t *cr, const shp_plot_figure *fig, double width,
                  double height) {
  plot_metrics m;
  panel_view *views;
  int rc = prepare(cr, fig, width, height, &m, &views);
  if (rc != SHP_OK)
    return rc;
  cairo_save(cr);
  cairo_rectangle(cr, 0, 0, width, height);
  cairo_clip(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw_title(cr, &m, fig, width);
  for (size_t i = 0; i < fig->panel_count; i++)
    plot_panel_draw(cr, &m, &views[i]);
  cairo_restore(cr);
  free(views);
  cairo_status_t status = cairo_status(cr);
  return status == CAIRO_STATUS_SUCCESS ? SHP_OK : cairo_failure(status);
}

int shp_plot_layout(cairo_t *cr, const shp_plot_figure *fig, double width,
                    double height, shp_plot_frame *frames, size_t frame_count) {
  if (frames == NULL || (fig != NULL && frame_count < fig->panel_count))
    return shp_error_set(
        SHP_ERR_INVALID, "plot layout: room for %zu frames, need %zu",
        frames == NULL ? 0 : frame_count, fig == NULL ? 0 : fig->panel_count);
  plot_metrics m;
  panel_view *views;
  int rc = prepare(cr, fig, width, height, &m, &views);
  if (rc != SHP_OK)
    return rc;
  for (size_t i = 0; i < fig->panel_count; i++) {
    const panel_view *v = &views[i];
    frames[i] = (shp_plot_frame){v->area.x, v->area.y, v->area.w, v->area.h,
                                 v->xr.lo,  v->xr.hi,  v->yr.lo,  v->yr.hi};
  }
  free(views);
  return SHP_OK;
}
