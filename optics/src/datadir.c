#include "shp/datadir.h"

#include "shp/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 16

static char dir_store[MAX_DIRS][PATH_MAX];
static const char *dir_list[MAX_DIRS];
static size_t dir_count;
static int dirs_ready;

static void add_dir(const char *d) {
  if (d == NULL || d[0] == '\0' || dir_count >= MAX_DIRS)
    return;
  for (size_t i = 0; i < dir_count; i++)
    if (strcmp(dir_list[i], d) == 0)
      return;
  snprintf(dir_store[dir_count], PATH_MAX, "%s", d);
  dir_list[dir_count] = dir_store[dir_count];
  dir_count++;
}

/* The installed layout: PREFIX/BINDIR/program and PREFIX/DATADIR. Only used
 * when the executable really sits in a directory named like BINDIR, so a
 * program in the build tree does not pick up a stale installed copy. */
static void add_installed_dir(void) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0)
    return;
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash == NULL)
    return;
  *slash = '\0';
  const char *bindir = SHP_INSTALL_BINDIR;
  size_t bl = strlen(bindir), el = strlen(exe);
  if (el < bl + 1 || strcmp(exe + el - bl, bindir) != 0 ||
      exe[el - bl - 1] != '/')
    return;
  exe[el - bl - 1] = '\0';
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/%s", exe, SHP_INSTALL_DATADIR) <
      (int)sizeof dir)
    add_dir(dir);
}

static void init_dirs(void) {
  if (dirs_ready)
    return;
  const char *env = getenv("SHP_DATA_DIR");
  if (env != NULL) {
    char copy[PATH_MAX * 2];
    snprintf(copy, sizeof copy, "%s", env);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok != NULL;
         tok = strtok_r(NULL, ":", &save))
      add_dir(tok);
  }
  add_installed_dir();
  add_dir(SHP_SOURCE_DATADIR);
  dirs_ready = 1;
}

size_t shp_data_dirs(const char **dirs, size_t max) {
  init_dirs();
  for (size_t i = 0; i < dir_count && i < max; i++)
    dirs[i] = dir_list[i];
  return dir_count;
}

int shp_data_find(const char *relpath, char *buf, size_t size) {
  init_dirs();
  for (size_t i = 0; i < dir_count; i++) {
    int w = snprintf(buf, size, "%s/%s", dir_list[i], relpath);
    if (w < 0 || (size_t)w >= size)
      return shp_error_set(SHP_ERR_INVALID, "%s: path too long", relpath);
    struct stat st;
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
      return SHP_OK;
  }
  return shp_error_set(SHP_ERR_NOT_FOUND,
                       "%s: not found in the data directories (set "
                       "SHP_DATA_DIR to add one)",
                       relpath);
}
