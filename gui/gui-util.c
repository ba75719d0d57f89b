#include "gui-util.h"

#include "shp/datadir.h"
#include "shp/error.h"
#include "shp/yamlfile.h"

#include <limits.h>

G_DEFINE_QUARK(shp - gui - error - quark, shp_gui_error)

gboolean shp_gui_set_error(GError **error, int code) {
  if (code == SHP_OK)
    code = SHP_ERR_INVALID;
  g_set_error_literal(error, SHP_GUI_ERROR, code, shp_error_detail());
  return FALSE;
}

ShpFileKind shp_gui_file_kind(const char *path, GError **error) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL) {
    shp_gui_set_error(error, shp_error_last());
    return SHP_FILE_UNKNOWN;
  }
  ShpFileKind kind = SHP_FILE_UNKNOWN;
  yaml_node_t *root = shp_yaml_root(y);
  if (root != NULL && root->type == YAML_MAPPING_NODE) {
    if (shp_yaml_get(y, root, "ovens") != NULL)
      kind = SHP_FILE_LAB;
    else if (shp_yaml_get(y, root, "crystals") != NULL)
      kind = SHP_FILE_STACK;
    else if (shp_yaml_get(y, root, "shape") != NULL)
      kind = SHP_FILE_TARGET;
  }
  shp_yaml_free(y);
  if (kind == SHP_FILE_UNKNOWN)
    g_set_error(error, SHP_GUI_ERROR, SHP_ERR_PARSE,
                "%s: not a stack, lab or target file (no crystals, ovens or "
                "shape key)",
                path);
  return kind;
}

char *shp_gui_data_file(const char *relpath, GError **error) {
  char buf[PATH_MAX];
  int rc = shp_data_find(relpath, buf, sizeof buf);
  if (rc != SHP_OK) {
    shp_gui_set_error(error, rc);
    return NULL;
  }
  return g_strdup(buf);
}
