#include "application.h"

#include "window.h"

#include "shaper-resources.h"
#include "shp/planning.h"

struct _ShpApplication {
  GtkApplication parent_instance;
  GDBusProxy *portal;
};

G_DEFINE_FINAL_TYPE(ShpApplication, shp_application, GTK_TYPE_APPLICATION)

void shp_gui_resources_register(void) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    shp_gui_register_resource();
    g_once_init_leave(&once, 1);
  }
}

/* ---- light or dark ------------------------------------------------------- */

/* The desktop's preference from the settings portal
 * (org.freedesktop.appearance color-scheme: 0 none, 1 dark, 2 light). GTK
 * 4 without libadwaita does not follow it by itself. Without a portal the
 * theme's own choice stands. */
static void apply_color_scheme(GVariant *value) {
  while (value != NULL && g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
    GVariant *inner = g_variant_get_variant(value);
    g_variant_unref(value);
    value = inner;
  }
  if (value == NULL)
    return;
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
    g_object_set(gtk_settings_get_default(),
                 "gtk-application-prefer-dark-theme",
                 g_variant_get_uint32(value) == 1, NULL);
  g_variant_unref(value);
}

static void on_portal_signal(GDBusProxy *proxy, const char *sender,
                             const char *signal, GVariant *params,
                             gpointer data) {
  const char *ns, *key;
  GVariant *value;
  if (g_strcmp0(signal, "SettingChanged") != 0 ||
      !g_variant_is_of_type(params, G_VARIANT_TYPE("(ssv)")))
    return;
  g_variant_get(params, "(&s&sv)", &ns, &key, &value);
  if (g_strcmp0(ns, "org.freedesktop.appearance") == 0 &&
      g_strcmp0(key, "color-scheme") == 0)
    apply_color_scheme(g_variant_new_variant(value));
  g_variant_unref(value);
}

static void on_read(GObject *source, GAsyncResult *res, gpointer data) {
  GVariant *ret = g_dbus_proxy_call_finish(G_DBUS_PROXY(source), res, NULL);
  if (ret == NULL)
    return;
  GVariant *value = NULL;
  g_variant_get(ret, "(v)", &value);
  apply_color_scheme(value);
  g_variant_unref(ret);
}

static void on_proxy(GObject *source, GAsyncResult *res, gpointer data) {
  ShpApplication *self = data;
  self->portal = g_dbus_proxy_new_for_bus_finish(res, NULL);
  if (self->portal != NULL) {
    g_signal_connect(self->portal, "g-signal", G_CALLBACK(on_portal_signal),
                     NULL);
    g_dbus_proxy_call(
        self->portal, "Read",
        g_variant_new("(ss)", "org.freedesktop.appearance", "color-scheme"),
        G_DBUS_CALL_FLAGS_NONE, 2000, NULL, on_read, NULL);
  }
  g_object_unref(self);
}

/* ---- actions ------------------------------------------------------------- */

static void quit_action(GSimpleAction *a, GVariant *p, gpointer data) {
  GList *windows = gtk_application_get_windows(GTK_APPLICATION(data));
  while (windows != NULL) {
    GList *next = windows->next;
    gtk_window_destroy(GTK_WINDOW(windows->data));
    windows = next;
  }
}

static void about_action(GSimpleAction *a, GVariant *p, gpointer data) {
  static const char *const authors[] = {"The shaper developers", NULL};
  gtk_show_about_dialog(
      gtk_application_get_active_window(GTK_APPLICATION(data)), "program-name",
      "Shaper", "logo-icon-name", SHP_APPLICATION_ID, "version", SHP_VERSION,
      "comments",
      "Shaping laser pulses with stacks of birefringent crystals: simulate, "
      "optimise and drive the lab's ovens through the safety supervisor",
      "authors", authors, "license-type", GTK_LICENSE_UNKNOWN, NULL);
}

static const GActionEntry app_actions[] = {
    {.name = "quit", .activate = quit_action},
    {.name = "about", .activate = about_action}};

/* ---- the application ----------------------------------------------------- */

static ShpWindow *new_window(ShpApplication *self) {
  ShpWindow *win = shp_window_new(GTK_APPLICATION(self), 500);
  shp_window_open_defaults(win);
  return win;
}

static void shp_application_activate(GApplication *app) {
  gtk_window_present(GTK_WINDOW(new_window(SHP_APPLICATION(app))));
}

static void shp_application_open(GApplication *app, GFile **files, int n_files,
                                 const char *hint) {
  ShpWindow *win = new_window(SHP_APPLICATION(app));
  for (int i = 0; i < n_files; i++) {
    char *path = g_file_get_path(files[i]);
    if (path != NULL)
      shp_window_open_file(win, path, NULL);
    g_free(path);
  }
  gtk_window_present(GTK_WINDOW(win));
}

static void shp_application_startup(GApplication *app) {
  G_APPLICATION_CLASS(shp_application_parent_class)->startup(app);
  ShpApplication *self = SHP_APPLICATION(app);
  g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions,
                                  G_N_ELEMENTS(app_actions), app);
  const char *quit[] = {"<Control>q", NULL};
  gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit);
  gtk_window_set_default_icon_name(SHP_APPLICATION_ID);
  g_dbus_proxy_new_for_bus(
      G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE, NULL,
      "org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
      "org.freedesktop.portal.Settings", NULL, on_proxy, g_object_ref(self));
}

static void shp_application_dispose(GObject *object) {
  g_clear_object(&SHP_APPLICATION(object)->portal);
  G_OBJECT_CLASS(shp_application_parent_class)->dispose(object);
}

static void shp_application_class_init(ShpApplicationClass *klass) {
  GApplicationClass *app_class = G_APPLICATION_CLASS(klass);
  G_OBJECT_CLASS(klass)->dispose = shp_application_dispose;
  app_class->activate = shp_application_activate;
  app_class->open = shp_application_open;
  app_class->startup = shp_application_startup;
}

static void shp_application_init(ShpApplication *self) {}

ShpApplication *shp_application_new(void) {
  shp_gui_resources_register();
  /* A simulation is one-shot; an optimisation repays measured plans, but a
   * window must not stall on planning: estimate, as shapectl simulate. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  return g_object_new(SHP_TYPE_APPLICATION, "application-id",
                      SHP_APPLICATION_ID, "flags", G_APPLICATION_HANDLES_OPEN,
                      NULL);
}
