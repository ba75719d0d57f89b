/* One plot of a ShpPlotModel, drawn with the shared cairo plotting code
 * (gui/plot) exactly as shapectl writes it to a file. The view only draws
 * the figure the model prepared. */
#ifndef SHP_PLOT_VIEW_H
#define SHP_PLOT_VIEW_H

#include "plot-model.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SHP_TYPE_PLOT_VIEW (shp_plot_view_get_type())
G_DECLARE_FINAL_TYPE(ShpPlotView, shp_plot_view, SHP, PLOT_VIEW, GtkWidget)

/* Properties "model" (ShpPlotModel) and "kind" (a ShpPlotKind). */
void shp_plot_view_set_model(ShpPlotView *self, ShpPlotModel *model);
void shp_plot_view_set_kind(ShpPlotView *self, ShpPlotKind kind);
ShpPlotKind shp_plot_view_get_kind(ShpPlotView *self);
/* How many times the figure was drawn with data (for tests). */
guint shp_plot_view_get_draw_count(ShpPlotView *self);

G_END_DECLS

#endif
