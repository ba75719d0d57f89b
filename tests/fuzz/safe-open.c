/* What the fuzzed readers may open (linked into the harnesses whose input
 * names other files: stacks name materials and spectra, labs name stacks).
 *
 * The readers read through shp_file, which refuses what is not a regular
 * file, but /proc holds "regular" files whose reads block (/proc/kmsg). So
 * that no input can hang a harness, it is linked with
 * -Wl,--wrap=open,--wrap=fopen and these wrappers open for reading only
 * regular files outside /dev, /proc and /sys. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

/* Whether path may be read: a regular file outside /dev, /proc and /sys
 * (errno set when not). */
static bool readable(const char *path) {
  char real[PATH_MAX];
  struct stat st;
  if (realpath(path, real) == NULL)
    return false; /* errno from realpath, ENOENT mostly */
  if (strncmp(real, "/dev/", 5) == 0 || strncmp(real, "/proc/", 6) == 0 ||
      strncmp(real, "/sys/", 5) == 0 || stat(real, &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    errno = EACCES;
    return false;
  }
  return true;
}

FILE *__wrap_fopen(const char *path, const char *mode) {
  if (mode[0] == 'r' && !readable(path))
    return NULL;
  return __real_fopen(path, mode);
}

int __wrap_open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  if ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_DIRECTORY) &&
      !readable(path))
    return -1;
  return __real_open(path, flags, mode);
}
