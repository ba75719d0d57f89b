/* The shaper-gui application: one window per activation, opening the
 * files given on the command line (a stack, lab or target each), the app
 * actions (about, quit) and the desktop's light or dark preference. */
#ifndef SHP_APPLICATION_H
#define SHP_APPLICATION_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SHP_APPLICATION_ID "org.shaper.ShaperGui"

#define SHP_TYPE_APPLICATION (shp_application_get_type())
G_DECLARE_FINAL_TYPE(ShpApplication, shp_application, SHP, APPLICATION,
                     GtkApplication)

ShpApplication *shp_application_new(void);

/* Register the GUI's resources (templates, style, icon); idempotent. Tests
 * that build widgets without the application call it too. */
void shp_gui_resources_register(void);

G_END_DECLS

#endif
