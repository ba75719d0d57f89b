#include "metrics-view.h"

#include <math.h>
#include <stdio.h>

struct _ShpMetricsView {
  GtkWidget parent_instance;
  GtkLabel *transmission, *fwhm, *rise, *fall, *ripple, *error;
  ShpPlotModel *model;
  gulong changed_id;
};

G_DEFINE_FINAL_TYPE(ShpMetricsView, shp_metrics_view, GTK_TYPE_WIDGET)

/* A value with its unit, or a dash when it is not defined (NAN). */
static void show(GtkLabel *label, const char *fmt, double v, double scale) {
  if (!isfinite(v)) {
    gtk_label_set_text(label, "—");
    return;
  }
  char buf[64];
  snprintf(buf, sizeof buf, fmt, v * scale);
  gtk_label_set_text(label, buf);
}

static void update(ShpMetricsView *self) {
  const shp_metrics *m =
      self->model ? shp_plot_model_get_metrics(self->model) : NULL;
  if (m == NULL) {
    GtkLabel *all[] = {self->transmission, self->fwhm,   self->rise,
                       self->fall,         self->ripple, self->error};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
      gtk_label_set_text(all[i], "—");
    return;
  }
  show(self->transmission, "%.4f", m->transmission, 1);
  show(self->fwhm, "%.4f ps", m->fwhm_ps, 1);
  show(self->rise, "%.4f ps", m->rise_time_ps, 1);
  show(self->fall, "%.4f ps", m->fall_time_ps, 1);
  show(self->ripple, "%.2f %%", m->ripple, 100);
  show(self->error, "%.2f %%", m->has_error ? m->error : NAN, 100);
}

static void on_changed(ShpPlotModel *model, guint kind, gpointer data) {
  if (kind == SHP_PLOT_INTENSITY)
    update(data);
}

void shp_metrics_view_set_model(ShpMetricsView *self, ShpPlotModel *model) {
  if (self->model != NULL) {
    g_clear_signal_handler(&self->changed_id, self->model);
    g_clear_object(&self->model);
  }
  if (model != NULL) {
    self->model = g_object_ref(model);
    self->changed_id =
        g_signal_connect(model, "changed", G_CALLBACK(on_changed), self);
  }
  update(self);
}

const char *shp_metrics_view_get_text(ShpMetricsView *self, const char *name) {
  struct {
    const char *name;
    GtkLabel *label;
  } table[] = {{"transmission", self->transmission},
               {"fwhm", self->fwhm},
               {"rise", self->rise},
               {"fall", self->fall},
               {"ripple", self->ripple},
               {"error", self->error}};
  for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
    if (g_strcmp0(name, table[i].name) == 0)
      return gtk_label_get_text(table[i].label);
  return NULL;
}

static void shp_metrics_view_dispose(GObject *object) {
  ShpMetricsView *self = SHP_METRICS_VIEW(object);
  shp_metrics_view_set_model(self, NULL);
  gtk_widget_dispose_template(GTK_WIDGET(self), SHP_TYPE_METRICS_VIEW);
  /* The template's root child is not bound: unparent it too. */
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))) != NULL)
    gtk_widget_unparent(child);
  G_OBJECT_CLASS(shp_metrics_view_parent_class)->dispose(object);
}

static void shp_metrics_view_class_init(ShpMetricsViewClass *klass) {
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
  G_OBJECT_CLASS(klass)->dispose = shp_metrics_view_dispose;
  gtk_widget_class_set_template_from_resource(
      widget_class, "/org/shaper/ShaperGui/metrics-view.ui");
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView,
                                       transmission);
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView, fwhm);
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView, rise);
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView, fall);
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView, ripple);
  gtk_widget_class_bind_template_child(widget_class, ShpMetricsView, error);
  gtk_widget_class_set_css_name(widget_class, "metricsview");
}

static void shp_metrics_view_init(ShpMetricsView *self) {
  gtk_widget_init_template(GTK_WIDGET(self));
  update(self);
}
