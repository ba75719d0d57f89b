#include "stack-view.h"

#include "shp/material.h"

#include <math.h>

typedef enum {
  COL_INDEX,
  COL_MATERIAL,
  COL_LENGTH,
  COL_AZIMUTH,
  COL_SETPOINT,
  COL_ACTUAL,
  COL_SETTLE,
  COL_FAULT,
  N_COLS
} column;

struct _ShpStackView {
  GtkWidget parent_instance;
  GtkColumnView *view;
  GtkColumnViewColumn *col_index, *col_material, *col_length, *col_azimuth,
      *col_setpoint, *col_actual, *col_settle, *col_fault;
  ShpStackModel *model;
  GtkStringList *materials;
};

G_DEFINE_FINAL_TYPE(ShpStackView, shp_stack_view, GTK_TYPE_WIDGET)

/* What a cell needs to find its way back: the view and the column. */
typedef struct {
  ShpStackView *view;
  column col;
} cell_info;

static const char *const notify_prop[N_COLS] = {
    "index",      "material", "length-mm",   "azimuth-deg",
    "setpoint-c", "actual-c", "settle-text", "fault"};

static ShpCrystalRow *cell_row(GtkWidget *cell) {
  GtkListItem *li = g_object_get_data(G_OBJECT(cell), "list-item");
  return li ? gtk_list_item_get_item(li) : NULL;
}

static void format_number(char *buf, size_t size, double v) {
  if (isfinite(v))
    g_snprintf(buf, size, "%.8g", v);
  else
    g_snprintf(buf, size, "—");
}

static double row_value(ShpCrystalRow *row, column col) {
  switch (col) {
  case COL_LENGTH:
    return shp_crystal_row_get_length_mm(row);
  case COL_AZIMUTH:
    return shp_crystal_row_get_azimuth_deg(row);
  case COL_SETPOINT:
    return shp_crystal_row_get_setpoint_c(row);
  case COL_ACTUAL:
    return shp_crystal_row_get_actual_c(row);
  default:
    return NAN;
  }
}

static ShpStackField field_of(column col) {
  return col == COL_LENGTH    ? SHP_FIELD_LENGTH_MM
         : col == COL_AZIMUTH ? SHP_FIELD_AZIMUTH_DEG
                              : SHP_FIELD_TEMPERATURE_C;
}

/* Show the row's present value in a cell. */
static void refresh(GtkWidget *cell, column col) {
  ShpCrystalRow *row = cell_row(cell);
  if (row == NULL)
    return;
  char buf[64];
  switch (col) {
  case COL_INDEX:
    g_snprintf(buf, sizeof buf, "%u", shp_crystal_row_get_index(row));
    gtk_label_set_text(GTK_LABEL(cell), buf);
    break;
  case COL_MATERIAL: {
    const char *m = shp_crystal_row_get_material(row);
    GtkStringList *list =
        GTK_STRING_LIST(gtk_drop_down_get_model(GTK_DROP_DOWN(cell)));
    guint n = g_list_model_get_n_items(G_LIST_MODEL(list)), at = n;
    for (guint k = 0; k < n; k++)
      if (g_strcmp0(gtk_string_list_get_string(list, k), m) == 0)
        at = k;
    if (at == n && m != NULL)
      gtk_string_list_append(list, m); /* a material given by path */
    g_object_set_data(G_OBJECT(cell), "refreshing", GINT_TO_POINTER(1));
    gtk_drop_down_set_selected(GTK_DROP_DOWN(cell), at);
    g_object_set_data(G_OBJECT(cell), "refreshing", NULL);
    break;
  }
  case COL_LENGTH:
  case COL_AZIMUTH:
  case COL_SETPOINT:
    format_number(buf, sizeof buf, row_value(row, col));
    gtk_editable_set_text(GTK_EDITABLE(cell), buf);
    break;
  case COL_ACTUAL:
    if (isfinite(row_value(row, col)))
      g_snprintf(buf, sizeof buf, "%.3f", row_value(row, col));
    else
      g_snprintf(buf, sizeof buf, "—");
    gtk_label_set_text(GTK_LABEL(cell), buf);
    break;
  case COL_SETTLE:
    gtk_label_set_text(GTK_LABEL(cell), shp_crystal_row_get_settle_text(row));
    break;
  case COL_FAULT: {
    const char *fault = shp_crystal_row_get_fault(row);
    gtk_widget_set_opacity(cell, fault ? 1.0 : 0.0);
    gtk_widget_set_tooltip_text(cell, fault);
    gtk_accessible_update_property(GTK_ACCESSIBLE(cell),
                                   GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   fault ? fault : "no fault", -1);
    break;
  }
  case N_COLS:
    break;
  }
}

static void on_row_notify(GObject *row, GParamSpec *pspec, gpointer cell) {
  cell_info *info = g_object_get_data(G_OBJECT(cell), "cell-info");
  refresh(cell, info->col);
}

/* ---- edits --------------------------------------------------------------- */

static void report(ShpStackView *self, GError *error) {
  gtk_widget_activate_action(GTK_WIDGET(self), "win.show-error", "s",
                             error->message);
  g_error_free(error);
}

static void commit_entry(GtkWidget *entry) {
  cell_info *info = g_object_get_data(G_OBJECT(entry), "cell-info");
  ShpCrystalRow *row = cell_row(entry);
  if (row == NULL || info->view->model == NULL)
    return;
  const char *text = gtk_editable_get_text(GTK_EDITABLE(entry));
  char shown[64];
  format_number(shown, sizeof shown, row_value(row, info->col));
  if (g_strcmp0(text, shown) == 0)
    return;
  GError *error = NULL;
  if (!shp_stack_model_set_text(info->view->model,
                                shp_crystal_row_get_index(row),
                                field_of(info->col), text, &error)) {
    refresh(entry, info->col);
    report(info->view, error);
  }
}

static void on_entry_activate(GtkEntry *entry, gpointer data) {
  commit_entry(GTK_WIDGET(entry));
}

static void on_focus_leave(GtkEventControllerFocus *focus, gpointer data) {
  commit_entry(gtk_event_controller_get_widget(GTK_EVENT_CONTROLLER(focus)));
}

static void on_material_selected(GObject *drop, GParamSpec *pspec,
                                 gpointer data) {
  cell_info *info = g_object_get_data(drop, "cell-info");
  ShpCrystalRow *row = cell_row(GTK_WIDGET(drop));
  if (row == NULL || info->view->model == NULL ||
      g_object_get_data(drop, "refreshing") != NULL)
    return;
  GtkStringObject *item = gtk_drop_down_get_selected_item(GTK_DROP_DOWN(drop));
  if (item == NULL)
    return;
  GError *error = NULL;
  if (!shp_stack_model_set_material(
          info->view->model, shp_crystal_row_get_index(row),
          gtk_string_object_get_string(item), &error)) {
    refresh(GTK_WIDGET(drop), COL_MATERIAL);
    report(info->view, error);
  }
}

/* ---- cells --------------------------------------------------------------- */

static const char *const entry_names[] = {
    [COL_LENGTH] = "Length (mm)",
    [COL_AZIMUTH] = "Azimuth (degrees)",
    [COL_SETPOINT] = "Temperature setpoint (degrees Celsius)"};

static GtkWidget *make_cell(ShpStackView *self, column col) {
  GtkWidget *w;
  switch (col) {
  case COL_MATERIAL:
    w = gtk_drop_down_new(G_LIST_MODEL(g_object_ref(self->materials)), NULL);
    g_signal_connect(w, "notify::selected", G_CALLBACK(on_material_selected),
                     NULL);
    gtk_accessible_update_property(
        GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL, "Material", -1);
    return w;
  case COL_LENGTH:
  case COL_AZIMUTH:
  case COL_SETPOINT: {
    w = gtk_entry_new();
    gtk_editable_set_width_chars(GTK_EDITABLE(w), 7);
    gtk_editable_set_alignment(GTK_EDITABLE(w), 1.0);
    gtk_entry_set_input_purpose(GTK_ENTRY(w), GTK_INPUT_PURPOSE_NUMBER);
    gtk_accessible_update_property(
        GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL, entry_names[col], -1);
    g_signal_connect(w, "activate", G_CALLBACK(on_entry_activate), NULL);
    GtkEventController *focus = gtk_event_controller_focus_new();
    g_signal_connect(focus, "leave", G_CALLBACK(on_focus_leave), NULL);
    gtk_widget_add_controller(w, focus);
    return w;
  }
  case COL_FAULT:
    w = gtk_image_new_from_icon_name("dialog-error-symbolic");
    gtk_widget_add_css_class(w, "error");
    return w;
  default:
    w = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(w),
                         col == COL_ACTUAL || col == COL_INDEX ? 1.0 : 0.0);
    if (col == COL_ACTUAL)
      gtk_widget_add_css_class(w, "numeric");
    return w;
  }
}

static void setup(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data) {
  cell_info *info = data;
  GtkWidget *cell = make_cell(info->view, info->col);
  g_object_set_data(G_OBJECT(cell), "cell-info", info);
  g_object_set_data(G_OBJECT(cell), "list-item", li);
  gtk_list_item_set_child(li, cell);
  gtk_list_item_set_activatable(li, FALSE);
}

static void bind(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data) {
  cell_info *info = data;
  GtkWidget *cell = gtk_list_item_get_child(li);
  ShpCrystalRow *row = gtk_list_item_get_item(li);
  char signal[64];
  g_snprintf(signal, sizeof signal, "notify::%s", notify_prop[info->col]);
  gulong id = g_signal_connect(row, signal, G_CALLBACK(on_row_notify), cell);
  g_object_set_data(G_OBJECT(cell), "notify-id", GSIZE_TO_POINTER(id));
  refresh(cell, info->col);
}

static void unbind(GtkSignalListItemFactory *f, GtkListItem *li,
                   gpointer data) {
  GtkWidget *cell = gtk_list_item_get_child(li);
  gulong id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(cell), "notify-id"));
  ShpCrystalRow *row = gtk_list_item_get_item(li);
  if (id != 0 && row != NULL)
    g_signal_handler_disconnect(row, id);
  g_object_set_data(G_OBJECT(cell), "notify-id", NULL);
}

static void attach_factory(ShpStackView *self, GtkColumnViewColumn *c,
                           column col) {
  GtkListItemFactory *f = gtk_signal_list_item_factory_new();
  cell_info *info = g_new0(cell_info, 1);
  *info = (cell_info){self, col};
  g_signal_connect_data(f, "setup", G_CALLBACK(setup), info,
                        (GClosureNotify)(void (*)(void))g_free, 0);
  g_signal_connect(f, "bind", G_CALLBACK(bind), info);
  g_signal_connect(f, "unbind", G_CALLBACK(unbind), info);
  gtk_column_view_column_set_factory(c, f);
  g_object_unref(f);
}

/* ---- the view ------------------------------------------------------------ */

void shp_stack_view_set_model(ShpStackView *self, ShpStackModel *model) {
  g_set_object(&self->model, model);
  GtkNoSelection *sel = gtk_no_selection_new(
      model ? g_object_ref(shp_stack_model_get_rows(model)) : NULL);
  gtk_column_view_set_model(self->view, GTK_SELECTION_MODEL(sel));
  g_object_unref(sel);
}

guint shp_stack_view_get_row_count(ShpStackView *self) {
  GtkSelectionModel *m = gtk_column_view_get_model(self->view);
  return m ? g_list_model_get_n_items(G_LIST_MODEL(m)) : 0;
}

static void shp_stack_view_dispose(GObject *object) {
  ShpStackView *self = SHP_STACK_VIEW(object);
  if (self->view != NULL)
    gtk_column_view_set_model(self->view, NULL);
  g_clear_object(&self->model);
  gtk_widget_dispose_template(GTK_WIDGET(self), SHP_TYPE_STACK_VIEW);
  /* The template's root child is not bound: unparent it too. */
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))) != NULL)
    gtk_widget_unparent(child);
  g_clear_object(&self->materials);
  G_OBJECT_CLASS(shp_stack_view_parent_class)->dispose(object);
}

static void shp_stack_view_class_init(ShpStackViewClass *klass) {
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
  G_OBJECT_CLASS(klass)->dispose = shp_stack_view_dispose;
  gtk_widget_class_set_template_from_resource(
      widget_class, "/org/shaper/ShaperGui/stack-view.ui");
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, view);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_index);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView,
                                       col_material);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_length);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_azimuth);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView,
                                       col_setpoint);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_actual);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_settle);
  gtk_widget_class_bind_template_child(widget_class, ShpStackView, col_fault);
  gtk_widget_class_set_css_name(widget_class, "stackview");
}

static void shp_stack_view_init(ShpStackView *self) {
  gtk_widget_init_template(GTK_WIDGET(self));
  self->materials = gtk_string_list_new(NULL);
  char **names;
  size_t count;
  if (shp_material_names(&names, &count) == 0) {
    for (size_t i = 0; i < count; i++)
      gtk_string_list_append(self->materials, names[i]);
    shp_material_names_free(names, count);
  }
  GtkColumnViewColumn *cols[N_COLS] = {self->col_index,    self->col_material,
                                       self->col_length,   self->col_azimuth,
                                       self->col_setpoint, self->col_actual,
                                       self->col_settle,   self->col_fault};
  for (int c = 0; c < N_COLS; c++)
    attach_factory(self, cols[c], (column)c);
}
