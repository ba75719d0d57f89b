/* The window's files: opening stacks, labs and targets (told apart by
 * their keys), the example set it starts with, recent files, and saving the
 * stack, the plots and the run journal. */
#include "window-private.h"

#include "gui-util.h"

#include "shp/error.h"

#define RECENT_APP "shaper-gui"
#define RECENT_MAX 8

/* ---- recent files -------------------------------------------------------- */

static gint newest_first(gconstpointer a, gconstpointer b) {
  GDateTime *ta = gtk_recent_info_get_modified((GtkRecentInfo *)a);
  GDateTime *tb = gtk_recent_info_get_modified((GtkRecentInfo *)b);
  return g_date_time_compare(tb, ta);
}

void shp_window_refresh_recent(ShpWindow *self) {
  g_menu_remove_all(self->recent_menu);
  GList *items = gtk_recent_manager_get_items(gtk_recent_manager_get_default());
  items = g_list_sort(items, newest_first);
  guint shown = 0;
  for (GList *l = items; l != NULL && shown < RECENT_MAX; l = l->next) {
    GtkRecentInfo *info = l->data;
    if (!gtk_recent_info_has_application(info, RECENT_APP))
      continue;
    char *path = g_filename_from_uri(gtk_recent_info_get_uri(info), NULL, NULL);
    if (path == NULL)
      continue;
    GMenuItem *item =
        g_menu_item_new(gtk_recent_info_get_display_name(info), NULL);
    g_menu_item_set_action_and_target_value(item, "win.open-recent",
                                            g_variant_new_string(path));
    g_menu_append_item(self->recent_menu, item);
    g_object_unref(item);
    g_free(path);
    shown++;
  }
  g_list_free_full(items, (GDestroyNotify)gtk_recent_info_unref);
}

static void add_recent(ShpWindow *self, const char *path) {
  char *uri = g_filename_to_uri(path, NULL, NULL);
  if (uri == NULL) {
    char *abs = g_canonicalize_filename(path, NULL);
    uri = g_filename_to_uri(abs, NULL, NULL);
    g_free(abs);
  }
  if (uri == NULL)
    return;
  GtkRecentData data = {.display_name = NULL,
                        .mime_type = (char *)"application/x-yaml",
                        .app_name = (char *)RECENT_APP,
                        .app_exec = (char *)RECENT_APP " %f"};
  gtk_recent_manager_add_full(gtk_recent_manager_get_default(), uri, &data);
  g_free(uri);
  shp_window_refresh_recent(self);
}

/* ---- opening ------------------------------------------------------------- */

/* A lab to go with a stack just opened: the lab file in use when its ovens
 * match the crystals, else the built-in simulated lab on the stack. */
static gboolean pair_lab(ShpWindow *self, const char *stack_path,
                         GError **error) {
  const shp_lab *lab = shp_lab_state_get_lab(self->lab);
  if (lab != NULL && lab->path != NULL &&
      lab->oven_count == shp_stack_model_get_count(self->stack))
    return TRUE;
  shp_lab *sim = shp_lab_default_sim(stack_path);
  if (sim == NULL)
    return shp_gui_set_error(error, shp_error_last());
  return shp_lab_state_open(self->lab, sim, error);
}

/* A stack or lab replaces what an optimisation under way works on. */
static void cancel_optimization(ShpWindow *self) {
  if (self->optimize_cancel != NULL)
    g_cancellable_cancel(self->optimize_cancel);
}

static gboolean open_stack(ShpWindow *self, const char *path, GError **error) {
  cancel_optimization(self);
  if (shp_lab_state_is_busy(self->lab)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "the lab is busy: stop the task first");
    return FALSE;
  }
  if (!shp_stack_model_load(self->stack, path, error))
    return FALSE;
  shp_plot_model_set_measured(self->plots, NULL, NULL, 0);
  gboolean ok = pair_lab(self, path, error);
  shp_plot_model_reset_history(self->plots,
                               shp_lab_state_get_oven_count(self->lab));
  shp_lab_state_poll(self->lab);
  return ok;
}

static gboolean open_lab(ShpWindow *self, const char *path, GError **error) {
  cancel_optimization(self);
  if (shp_lab_state_is_busy(self->lab)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "the lab is busy: stop the task first");
    return FALSE;
  }
  shp_lab *lab = shp_lab_load(path);
  if (lab == NULL)
    return shp_gui_set_error(error, shp_error_last());
  char *stack_path = g_strdup(lab->stack_path);
  shp_plot_model_set_measured(self->plots, NULL, NULL, 0);
  gboolean connected = shp_lab_state_open(self->lab, lab, error);
  gboolean loaded =
      shp_stack_model_load(self->stack, stack_path, connected ? error : NULL);
  g_free(stack_path);
  shp_plot_model_reset_history(self->plots,
                               shp_lab_state_get_oven_count(self->lab));
  shp_lab_state_poll(self->lab);
  return connected && loaded;
}

static gboolean open_target(ShpWindow *self, const char *path, GError **error) {
  shp_target *t = shp_target_load(path);
  if (t == NULL)
    return shp_gui_set_error(error, shp_error_last());
  shp_target_free(t);
  g_free(self->target_path);
  self->target_path = g_strdup(path);
  shp_window_queue_simulate(self);
  return TRUE;
}

gboolean shp_window_open_file(ShpWindow *self, const char *path,
                              GError **error) {
  GError *local = NULL;
  gboolean ok = FALSE;
  /* Messages from here on are about this file. */
  gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
  switch (shp_gui_file_kind(path, &local)) {
  case SHP_FILE_STACK:
    ok = open_stack(self, path, &local);
    break;
  case SHP_FILE_LAB:
    ok = open_lab(self, path, &local);
    shp_window_measure(self);
    break;
  case SHP_FILE_TARGET:
    ok = open_target(self, path, &local);
    break;
  case SHP_FILE_UNKNOWN:
    break;
  }
  if (ok) {
    add_recent(self, path);
    shp_window_set_status(self, "Opened %s", path);
  } else {
    shp_window_show_error(self, local->message);
    g_propagate_error(error, local);
  }
  shp_window_update_labels(self);
  shp_window_update_actions(self);
  return ok;
}

void shp_window_open_defaults(ShpWindow *self) {
  static const char *const files[] = {"examples/stacks/fan4.yml",
                                      "examples/targets/flat-top-4ps.yml"};
  for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
    GError *error = NULL;
    char *path = shp_gui_data_file(files[i], &error);
    gboolean ok = path != NULL && (i == 0 ? open_stack(self, path, &error)
                                          : open_target(self, path, &error));
    if (!ok) {
      shp_window_show_error(self, error->message);
      g_error_free(error);
    }
    g_free(path);
  }
  shp_window_set_status(self, "The example stack on the simulated lab");
  shp_window_update_labels(self);
  shp_window_update_actions(self);
  shp_window_measure(self);
}

/* ---- dialogs ------------------------------------------------------------- */

typedef void (*chosen_fn)(ShpWindow *self, const char *path);

static void on_response(GtkNativeDialog *dialog, int response, gpointer data) {
  ShpWindow *self = data;
  chosen_fn fn = (chosen_fn)g_object_get_data(G_OBJECT(dialog), "chosen");
  if (response == GTK_RESPONSE_ACCEPT) {
    GFile *file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
    char *path = file ? g_file_get_path(file) : NULL;
    if (path != NULL)
      fn(self, path);
    g_free(path);
    g_clear_object(&file);
  }
  g_object_unref(dialog);
  g_object_unref(self);
}

static void choose(ShpWindow *self, const char *title,
                   GtkFileChooserAction action, const char *suggested,
                   const char *const *patterns, chosen_fn fn) {
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
      title, GTK_WINDOW(self), action,
      action == GTK_FILE_CHOOSER_ACTION_SAVE ? "_Save" : "_Open", "_Cancel");
  if (patterns != NULL) {
    GtkFileFilter *filter = gtk_file_filter_new();
    for (size_t i = 0; patterns[i] != NULL; i++)
      gtk_file_filter_add_pattern(filter, patterns[i]);
    gtk_file_filter_set_name(filter, title);
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), filter);
    g_object_unref(filter);
  }
  if (suggested != NULL)
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), suggested);
  g_object_set_data(G_OBJECT(dialog), "chosen", (gpointer)fn);
  g_signal_connect(dialog, "response", G_CALLBACK(on_response),
                   g_object_ref(self));
  gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void opened(ShpWindow *self, const char *path) {
  shp_window_open_file(self, path, NULL);
}

static void open_action(GtkWidget *widget, const char *name, GVariant *param) {
  static const char *const yml[] = {"*.yml", "*.yaml", NULL};
  choose(SHP_WINDOW(widget), "Stack, lab or target files",
         GTK_FILE_CHOOSER_ACTION_OPEN, NULL, yml, opened);
}

static void open_recent_action(GtkWidget *widget, const char *name,
                               GVariant *param) {
  shp_window_open_file(SHP_WINDOW(widget), g_variant_get_string(param, NULL),
                       NULL);
}

static void open_defaults_action(GtkWidget *widget, const char *name,
                                 GVariant *param) {
  shp_window_open_defaults(SHP_WINDOW(widget));
}

static void stack_chosen(ShpWindow *self, const char *path) {
  GError *error = NULL;
  if (!shp_stack_model_save(self->stack, path, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  add_recent(self, path);
  shp_window_set_status(self, "Wrote %s", path);
  shp_window_update_labels(self);
}

static void save_stack_action(GtkWidget *widget, const char *name,
                              GVariant *param) {
  static const char *const yml[] = {"*.yml", "*.yaml", NULL};
  choose(SHP_WINDOW(widget), "Stack files", GTK_FILE_CHOOSER_ACTION_SAVE,
         "stack.yml", yml, stack_chosen);
}

static void plots_chosen(ShpWindow *self, const char *path) {
  GError *error = NULL;
  if (!shp_plot_model_save(self->plots, path, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
    return;
  }
  shp_window_set_status(self, "Wrote %s", path);
}

static void save_plots_action(GtkWidget *widget, const char *name,
                              GVariant *param) {
  static const char *const images[] = {"*.png", "*.svg", "*.pdf", NULL};
  choose(SHP_WINDOW(widget), "Plots (PNG, SVG or PDF)",
         GTK_FILE_CHOOSER_ACTION_SAVE, "plots.png", images, plots_chosen);
}

static void journal_chosen(ShpWindow *self, const char *path) {
  const char *from = shp_run_controller_get_journal_path(self->run);
  GFile *src = g_file_new_for_path(from), *dst = g_file_new_for_path(path);
  GError *error = NULL;
  if (!g_file_copy(src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error)) {
    shp_window_show_error(self, error->message);
    g_error_free(error);
  } else {
    shp_window_set_status(self, "Wrote %s", path);
  }
  g_object_unref(src);
  g_object_unref(dst);
}

static void save_journal_action(GtkWidget *widget, const char *name,
                                GVariant *param) {
  static const char *const jsonl[] = {"*.jsonl", "*.json", NULL};
  choose(SHP_WINDOW(widget), "Run journals", GTK_FILE_CHOOSER_ACTION_SAVE,
         "run.jsonl", jsonl, journal_chosen);
}

void shp_window_files_class_init(GtkWidgetClass *wc) {
  gtk_widget_class_install_action(wc, "win.open", NULL, open_action);
  gtk_widget_class_install_action(wc, "win.open-recent", "s",
                                  open_recent_action);
  gtk_widget_class_install_action(wc, "win.open-defaults", NULL,
                                  open_defaults_action);
  gtk_widget_class_install_action(wc, "win.save-stack", NULL,
                                  save_stack_action);
  gtk_widget_class_install_action(wc, "win.save-plots", NULL,
                                  save_plots_action);
  gtk_widget_class_install_action(wc, "win.save-journal", NULL,
                                  save_journal_action);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_o, GDK_CONTROL_MASK,
                                      "win.open", NULL);
  gtk_widget_class_add_binding_action(wc, GDK_KEY_s, GDK_CONTROL_MASK,
                                      "win.save-stack", NULL);
  gtk_widget_class_add_binding_action(
      wc, GDK_KEY_s, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.save-plots", NULL);
}
