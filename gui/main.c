/* shaper-gui [STACK.yml | LAB.yml | TARGET.yml ...]: the GTK4 application.
 * Without files it opens the example stack on the simulated lab. */
#include "application.h"

int main(int argc, char **argv) {
  ShpApplication *app = shp_application_new();
  int status = g_application_run(G_APPLICATION(app), argc, argv);
  g_object_unref(app);
  return status;
}
