/* What the plots show, prepared for drawing: the last simulation (output
 * intensity against the aligned target, the model's autocorrelation, the
 * spectrum), the last measured autocorrelation, and each crystal's
 * temperature history; the metrics beside them. Views only ask it for a
 * shp_plot_figure and draw it with the shared gui/plot code, the same
 * figures `shapectl simulate --plot` writes. No GTK: tests use it without a
 * display. */
#ifndef SHP_PLOT_MODEL_H
#define SHP_PLOT_MODEL_H

#include "shp/plot.h"
#include "shp/simulation.h"

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  SHP_PLOT_INTENSITY,
  SHP_PLOT_AUTOCORRELATION,
  SHP_PLOT_SPECTRUM,
  SHP_PLOT_TEMPERATURE,
  SHP_PLOT_KIND_COUNT
} ShpPlotKind;

#define SHP_TYPE_PLOT_MODEL (shp_plot_model_get_type())
G_DECLARE_FINAL_TYPE(ShpPlotModel, shp_plot_model, SHP, PLOT_MODEL, GObject)

/* Samples kept per crystal in the temperature history; older ones go. */
#define SHP_PLOT_HISTORY_MAX 2000

ShpPlotModel *shp_plot_model_new(void);

/* Take a simulation (owned from now on; NULL clears) of the stack called
 * name. Emits "changed" for the intensity, autocorrelation and spectrum. */
void shp_plot_model_set_simulation(ShpPlotModel *self, const char *name,
                                   shp_simulation *sim);
/* Borrowed, or NULL. */
const shp_simulation *shp_plot_model_get_simulation(ShpPlotModel *self);
/* The simulation's metrics, or NULL without one. */
const shp_metrics *shp_plot_model_get_metrics(ShpPlotModel *self);

/* A measured autocorrelation (copied, scaled to a peak of 1); n 0 clears. */
void shp_plot_model_set_measured(ShpPlotModel *self, const double *delay_ps,
                                 const double *signal, size_t n);
size_t shp_plot_model_get_measured_count(ShpPlotModel *self);

/* Start the temperature history over for n crystals. */
void shp_plot_model_reset_history(ShpPlotModel *self, guint n);
/* One sample of every crystal at lab time time_s: actual temperatures
 * (NAN for a failed reading) and setpoints, n values each. */
void shp_plot_model_add_temperatures(ShpPlotModel *self, double time_s,
                                     const double *actual_c,
                                     const double *setpoint_c, guint n);
size_t shp_plot_model_get_history_count(ShpPlotModel *self);
/* The history of crystal i: *count samples of time (s) and temperature. */
void shp_plot_model_get_history(ShpPlotModel *self, guint i,
                                const double **time_s, const double **actual_c,
                                size_t *count);

/* Fill fig with the figure of one plot. Its panels and series live in the
 * model and stay valid until the model next changes. Returns FALSE, with
 * fig empty, when there is nothing to draw yet. */
gboolean shp_plot_model_figure(ShpPlotModel *self, ShpPlotKind kind,
                               shp_plot_figure *fig);
/* A title for people: "Output intensity", ... */
const char *shp_plot_model_kind_title(ShpPlotKind kind);

/* Write every plot that has data as one figure to a .png, .svg or .pdf
 * file (shp_plot_save: atomic). */
gboolean shp_plot_model_save(ShpPlotModel *self, const char *path,
                             GError **error);

G_END_DECLS

#endif
