/* Finding the toolkit's data files (materials, calibrations) both in a build
 * tree and once installed.
 *
 * Directories are searched in this order: each entry of $SHP_DATA_DIR
 * (colon-separated), the installed data directory beside the running
 * executable (BINDIR/../share/shaper), and the source tree the toolkit was
 * built from. A relative path such as "calibrations/materials/YVO4.yml" is
 * looked up under each. */
#ifndef SHP_DATADIR_H
#define SHP_DATADIR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write the first existing DIR/relpath into buf. Errors: SHP_ERR_NOT_FOUND
 * (naming the directories searched), SHP_ERR_INVALID (buf too small). */
int shp_data_find(const char *relpath, char *buf, size_t size);

/* The directories searched, in order; fills at most max entries with
 * pointers into a static table and returns how many there are. Not
 * thread-safe on its first call. */
size_t shp_data_dirs(const char **dirs, size_t max);

#ifdef __cplusplus
}
#endif
#endif
