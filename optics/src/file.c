#include "shp/file.h"

#include "shp/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Opens path without blocking (a FIFO with no writer would block in open)
 * and checks that it is a regular file of at most max_bytes. */
static int open_regular(const char *path, size_t max_bytes, off_t *size) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return shp_error_set(SHP_ERR_FILE, "%s: cannot open: %s", path,
                         strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return shp_error_set(SHP_ERR_FILE, "%s: cannot read: %s", path,
                         strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return shp_error_set(SHP_ERR_FILE, "%s: not a regular file", path);
  }
  if ((uintmax_t)st.st_size > (uintmax_t)max_bytes) {
    close(fd);
    return shp_error_set(SHP_ERR_FILE,
                         "%s: %jd bytes, more than the %zu this reader accepts",
                         path, (intmax_t)st.st_size, max_bytes);
  }
  /* Reads block as usual from here on. */
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  *size = st.st_size;
  return fd;
}

int shp_file_read(const char *path, size_t max_bytes, char **text,
                  size_t *len) {
  *text = NULL;
  *len = 0;
  off_t size;
  int fd = open_regular(path, max_bytes, &size);
  if (fd < 0)
    return fd;
  /* The file may grow while it is read: read at most max_bytes + 1 so a
   * growing file is still bounded and caught. */
  size_t cap = (size_t)size + 1;
  char *buf = malloc(cap + 1);
  if (buf == NULL) {
    close(fd);
    return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  }
  size_t used = 0;
  for (;;) {
    if (used == cap) {
      if (cap > max_bytes)
        break;
      size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
      char *nb = realloc(buf, ncap + 1);
      if (nb == NULL) {
        free(buf);
        close(fd);
        return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      close(fd);
      return shp_error_set(SHP_ERR_FILE, "%s: cannot read: %s", path,
                           strerror(e));
    }
    if (n == 0)
      break;
    used += (size_t)n;
  }
  close(fd);
  if (used > max_bytes) {
    free(buf);
    return shp_error_set(SHP_ERR_FILE,
                         "%s: more than the %zu bytes this reader accepts",
                         path, max_bytes);
  }
  if (memchr(buf, '\0', used) != NULL) {
    free(buf);
    return shp_error_set(SHP_ERR_FILE, "%s: holds a NUL byte: not a text file",
                         path);
  }
  buf[used] = '\0';
  *text = buf;
  *len = used;
  return SHP_OK;
}

FILE *shp_file_open_read(const char *path, size_t max_bytes) {
  off_t size;
  int fd = open_regular(path, max_bytes, &size);
  if (fd < 0)
    return NULL;
  FILE *f = fdopen(fd, "r");
  if (f == NULL) {
    close(fd);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  }
  return f;
}

/* The directory and base name of path, in caller buffers. */
static int split_path(const char *path, char dir[PATH_MAX],
                      char base[NAME_MAX + 1]) {
  char a[PATH_MAX], b[PATH_MAX];
  if (strlen(path) >= sizeof a)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: path too long",
                         path);
  strcpy(a, path);
  strcpy(b, path);
  const char *bn = basename(b);
  if (strlen(bn) + 16 > NAME_MAX)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: name too long",
                         path);
  strcpy(dir, dirname(a));
  strcpy(base, bn);
  return SHP_OK;
}

static bool is_stale_temp(const char *name, const char *base) {
  size_t bl = strlen(base);
  return name[0] == '.' && strncmp(name + 1, base, bl) == 0 &&
         strncmp(name + 1 + bl, ".tmp-", 5) == 0 &&
         strlen(name + 1 + bl + 5) == 6;
}

/* Temporary files of path left by a writer killed mid-write: removed when
 * they are older than a minute (a younger one may belong to a live writer,
 * whose rename then wins). */
static void remove_stale_temps(const char *dir, const char *base) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  time_t now = time(NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_stale_temp(e->d_name, base))
      continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && now - st.st_mtime > 60)
      unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

static int temp_name(char *tmp, size_t size, const char *dir,
                     const char *base) {
  int n = snprintf(tmp, size, "%s/.%s.tmp-XXXXXX", dir, base);
  return n > 0 && (size_t)n < size ? SHP_OK : SHP_ERR_WRITE;
}

static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int write_stdout(int (*fill)(FILE *, void *), void *user) {
  int rc = fill(stdout, user);
  if (rc == SHP_OK && fflush(stdout) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "standard output: cannot write: %s",
                       strerror(errno));
  return rc;
}

int shp_file_write_atomic(const char *path, int (*fill)(FILE *f, void *user),
                          void *user) {
  if (strcmp(path, "-") == 0)
    return write_stdout(fill, user);
  char dir[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + NAME_MAX + 16];
  int rc = split_path(path, dir, base);
  if (rc != SHP_OK)
    return rc;
  remove_stale_temps(dir, base);
  if (temp_name(tmp, sizeof tmp, dir, base) != SHP_OK)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: path too long",
                         path);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                         strerror(errno));
  FILE *f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    unlink(tmp);
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                         strerror(errno));
  }
  /* mkstemp makes the file private; results are ordinary documents. */
  rc = fchmod(fd, 0644) == 0
           ? fill(f, user)
           : shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                           strerror(errno));
  if (rc == SHP_OK && (fflush(f) != 0 || ferror(f) || fsync(fd) != 0))
    rc = shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                       strerror(errno));
  if (fclose(f) != 0 && rc == SHP_OK)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                       strerror(errno));
  if (rc == SHP_OK && rename(tmp, path) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: cannot replace: %s", path,
                       strerror(errno));
  if (rc != SHP_OK) {
    unlink(tmp);
    return rc;
  }
  if (sync_dir(dir) != 0)
    return shp_error_set(SHP_ERR_WRITE,
                         "%s: written, but its directory "
                         "could not be synced: %s",
                         path, strerror(errno));
  return SHP_OK;
}

int shp_file_check_writable(const char *path) {
  if (strcmp(path, "-") == 0)
    return SHP_OK;
  char dir[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + NAME_MAX + 16];
  int rc = split_path(path, dir, base);
  if (rc != SHP_OK)
    return rc;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: is a directory",
                         path);
  if (temp_name(tmp, sizeof tmp, dir, base) != SHP_OK)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: path too long",
                         path);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                         strerror(errno));
  close(fd);
  unlink(tmp);
  return SHP_OK;
}
