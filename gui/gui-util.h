/* Small helpers shared by the GUI's models and widgets: the error domain
 * that carries the libraries' messages, and file-kind detection. */
#ifndef SHP_GUI_UTIL_H
#define SHP_GUI_UTIL_H

#include <glib.h>

G_BEGIN_DECLS

/* Errors carry the library's code (SHP_ERR_*) and its detailed message,
 * exactly the sentence shapectl prints after "shapectl: ". */
#define SHP_GUI_ERROR (shp_gui_error_quark())
GQuark shp_gui_error_quark(void);

/* Set *error from the library's last failure on this thread (code and
 * shp_error_detail()). Returns FALSE, so callers can
 * `return shp_gui_set_error(error, rc);`. */
gboolean shp_gui_set_error(GError **error, int code);

typedef enum {
  SHP_FILE_UNKNOWN = 0,
  SHP_FILE_STACK,  /* has `crystals` */
  SHP_FILE_LAB,    /* has `ovens` */
  SHP_FILE_TARGET, /* has `shape` */
} ShpFileKind;

/* What a YAML file holds, judged by its top-level keys. A file that cannot
 * be read or is not a mapping fails with the reader's message. */
ShpFileKind shp_gui_file_kind(const char *path, GError **error);

/* The path of a file shipped with the toolkit ("examples/stacks/fan4.yml"),
 * found as the CLI finds it (shp_data_find). Free with g_free. */
char *shp_gui_data_file(const char *relpath, GError **error);

G_END_DECLS

#endif
