/* The metrics of the last simulation beside the plots: transmission, FWHM,
 * rise and fall time, ripple and the error against the target, in the
 * units and precision `shapectl simulate` prints them. */
#ifndef SHP_METRICS_VIEW_H
#define SHP_METRICS_VIEW_H

#include "plot-model.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SHP_TYPE_METRICS_VIEW (shp_metrics_view_get_type())
G_DECLARE_FINAL_TYPE(ShpMetricsView, shp_metrics_view, SHP, METRICS_VIEW,
                     GtkWidget)

void shp_metrics_view_set_model(ShpMetricsView *self, ShpPlotModel *model);
/* The text shown for a metric ("transmission", "fwhm", "rise", "fall",
 * "ripple", "error"), for tests. */
const char *shp_metrics_view_get_text(ShpMetricsView *self, const char *name);

G_END_DECLS

#endif
