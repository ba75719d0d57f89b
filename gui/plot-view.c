#include "plot-view.h"

struct _ShpPlotView {
  GtkWidget parent_instance;
  GtkDrawingArea *area;
  ShpPlotModel *model;
  ShpPlotKind kind;
  gulong changed_id;
  guint draw_count;
};

G_DEFINE_FINAL_TYPE(ShpPlotView, shp_plot_view, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_MODEL, PROP_KIND, N_PROPS };
static GParamSpec *props[N_PROPS];

/* Nothing to show yet: the page the plot will be drawn on, with a word. */
static void draw_empty(ShpPlotView *self, cairo_t *cr, int width, int height) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  PangoLayout *layout = gtk_widget_create_pango_layout(
      GTK_WIDGET(self), shp_plot_model_kind_title(self->kind));
  int w, h;
  pango_layout_get_pixel_size(layout, &w, &h);
  cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
  cairo_move_to(cr, (width - w) / 2.0, (height - h) / 2.0 - h);
  pango_cairo_show_layout(cr, layout);
  pango_layout_set_text(layout, "no data yet", -1);
  pango_layout_get_pixel_size(layout, &w, &h);
  cairo_move_to(cr, (width - w) / 2.0, (height - h) / 2.0 + 2);
  pango_cairo_show_layout(cr, layout);
  g_object_unref(layout);
}

static void draw(GtkDrawingArea *area, cairo_t *cr, int width, int height,
                 gpointer data) {
  ShpPlotView *self = data;
  shp_plot_figure fig;
  if (self->model == NULL || width < 8 || height < 8 ||
      !shp_plot_model_figure(self->model, self->kind, &fig)) {
    draw_empty(self, cr, width, height);
    return;
  }
  /* A failure leaves cr in an error state; the page is then blank. */
  if (shp_plot_draw(cr, &fig, width, height) == 0)
    self->draw_count++;
}

static void on_changed(ShpPlotModel *model, guint kind, gpointer data) {
  ShpPlotView *self = data;
  if (kind == (guint)self->kind)
    gtk_widget_queue_draw(GTK_WIDGET(self->area));
}

static void update_label(ShpPlotView *self) {
  gtk_accessible_update_property(
      GTK_ACCESSIBLE(self), GTK_ACCESSIBLE_PROPERTY_LABEL,
      shp_plot_model_kind_title(self->kind),
      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "plot; save it with Save Plots", -1);
}

void shp_plot_view_set_model(ShpPlotView *self, ShpPlotModel *model) {
  if (self->model == model)
    return;
  if (self->model != NULL) {
    g_clear_signal_handler(&self->changed_id, self->model);
    g_clear_object(&self->model);
  }
  if (model != NULL) {
    self->model = g_object_ref(model);
    self->changed_id =
        g_signal_connect(model, "changed", G_CALLBACK(on_changed), self);
  }
  gtk_widget_queue_draw(GTK_WIDGET(self->area));
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_MODEL]);
}

void shp_plot_view_set_kind(ShpPlotView *self, ShpPlotKind kind) {
  g_return_if_fail(kind < SHP_PLOT_KIND_COUNT);
  self->kind = kind;
  update_label(self);
  gtk_widget_queue_draw(GTK_WIDGET(self->area));
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_KIND]);
}

ShpPlotKind shp_plot_view_get_kind(ShpPlotView *self) { return self->kind; }
guint shp_plot_view_get_draw_count(ShpPlotView *self) {
  return self->draw_count;
}

static void shp_plot_view_dispose(GObject *object) {
  ShpPlotView *self = SHP_PLOT_VIEW(object);
  shp_plot_view_set_model(self, NULL);
  gtk_widget_dispose_template(GTK_WIDGET(self), SHP_TYPE_PLOT_VIEW);
  G_OBJECT_CLASS(shp_plot_view_parent_class)->dispose(object);
}

static void shp_plot_view_get_property(GObject *object, guint id, GValue *value,
                                       GParamSpec *pspec) {
  ShpPlotView *self = SHP_PLOT_VIEW(object);
  switch (id) {
  case PROP_MODEL:
    g_value_set_object(value, self->model);
    break;
  case PROP_KIND:
    g_value_set_uint(value, self->kind);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void shp_plot_view_set_property(GObject *object, guint id,
                                       const GValue *value, GParamSpec *pspec) {
  ShpPlotView *self = SHP_PLOT_VIEW(object);
  switch (id) {
  case PROP_MODEL:
    shp_plot_view_set_model(self, g_value_get_object(value));
    break;
  case PROP_KIND:
    shp_plot_view_set_kind(self, (ShpPlotKind)g_value_get_uint(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void shp_plot_view_class_init(ShpPlotViewClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
  object_class->dispose = shp_plot_view_dispose;
  object_class->get_property = shp_plot_view_get_property;
  object_class->set_property = shp_plot_view_set_property;
  props[PROP_MODEL] =
      g_param_spec_object("model", NULL, NULL, SHP_TYPE_PLOT_MODEL,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[PROP_KIND] =
      g_param_spec_uint("kind", NULL, NULL, 0, SHP_PLOT_KIND_COUNT - 1, 0,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
  gtk_widget_class_set_template_from_resource(
      widget_class, "/org/shaper/ShaperGui/plot-view.ui");
  gtk_widget_class_bind_template_child(widget_class, ShpPlotView, area);
  gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_IMG);
  gtk_widget_class_set_css_name(widget_class, "plotview");
}

static void shp_plot_view_init(ShpPlotView *self) {
  gtk_widget_init_template(GTK_WIDGET(self));
  gtk_drawing_area_set_draw_func(self->area, draw, self, NULL);
  update_label(self);
}
