/* JSON Lines journals: one write and an fsync per record, one locked
 * writer, bounded reading. */
#include "shp/journal.h"

#include "shp/error.h"
#include "shp/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

struct shp_journal {
  int fd;
  char *path;
  bool failed;
  bool dirty;       /* unsynced records were written */
  long long cut_to; /* a torn tail to cut before the first append, or -1 */
  double synced_at; /* monotonic seconds of the last sync */
};

static double monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- text that JSON can hold ---------------------------------------------
 */

/* The length of the valid UTF-8 sequence at p (of n bytes left), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;
    if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t k = 2; k < len; k++)
    if (p[k] < 0x80 || p[k] > 0xBF)
      return 0;
  return len;
}

json_t *shp_journal_string(const char *bytes) {
  if (bytes == NULL)
    return json_null();
  const unsigned char *p = (const unsigned char *)bytes;
  size_t n = strlen(bytes);
  /* Each invalid byte becomes three (U+FFFD). */
  char *out = malloc(3 * n + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len = utf8_sequence(p + i, n - i);
    if (len == 0) {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    } else {
      memcpy(out + o, p + i, len);
      o += len;
      i += len;
    }
  }
  json_t *s = json_stringn(out, o);
  free(out);
  return s;
}

json_t *shp_journal_number(double x) {
  return isfinite(x) ? json_real(x) : json_null();
}

/* ---- the lock --------------------------------------------------------------
 */

/* The process holding a lock on the file of fd, from /proc/locks (Linux),
 * or 0 when it cannot be told. */
static long lock_holder(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return 0;
  FILE *fp = fopen("/proc/locks", "re");
  if (fp == NULL)
    return 0;
  char line[256];
  long pid = 0;
  for (int k = 0; k < 100000 && fgets(line, sizeof line, fp) != NULL; k++) {
    long p;
    unsigned maj, min;
    unsigned long long ino;
    char kind[16];
    /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters
     * are listed with "->" and are not holders. */
    if (strstr(line, "->") != NULL ||
        sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &min,
               &ino) != 5)
      continue;
    if (strcmp(kind, "FLOCK") == 0 && maj == major(st.st_dev) &&
        min == minor(st.st_dev) && ino == (unsigned long long)st.st_ino &&
        p > 0) {
      pid = p;
      break;
    }
  }
  fclose(fp);
  return pid;
}

/* Take the journal's exclusive lock on fd without waiting. */
static int lock_journal(int fd, const char *path) {
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR)
      continue;
    if (errno == EWOULDBLOCK) {
      long pid = lock_holder(fd);
      if (pid > 0)
        return shp_error_set(
            SHP_ERR_BUSY, "%s: in use by another process (pid %ld)", path, pid);
      return shp_error_set(SHP_ERR_BUSY, "%s: in use by another process", path);
    }
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot lock: %s", path,
                         strerror(errno));
  }
  return SHP_OK;
}

/* ---- writing ---------------------------------------------------------------
 */

static int sync_dir_of(const char *path) {
  char *copy = strdup(path);
  if (copy == NULL)
    return -1;
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if (dfd < 0)
    return -1;
  int rc = fsync(dfd);
  close(dfd);
  return rc;
}

static shp_journal *wrap(int fd, const char *path) {
  shp_journal *j = calloc(1, sizeof *j);
  if (j == NULL || (j->path = strdup(path)) == NULL) {
    free(j);
    close(fd);
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  j->fd = fd;
  j->cut_to = -1;
  j->synced_at = monotonic_s();
  return j;
}

static int write_all(int fd, const char *path, const char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, buf + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                           w < 0 ? strerror(errno) : "nothing written");
    done += (size_t)w;
  }
  return SHP_OK;
}

/* The record as one line with its newline; NULL with the error set. */
static char *encode(const char *path, json_t *record, size_t *len) {
  if (!json_is_object(record)) {
    shp_error_set(SHP_ERR_INVALID,
                  "%s: a journal record could not be built (or is not an "
                  "object)",
                  path);
    return NULL;
  }
  char *line = json_dumps(record, JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (line == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "%s: cannot encode a record", path);
    return NULL;
  }
  *len = strlen(line);
  line[*len] = '\n'; /* json_dumps's terminator becomes the line's end */
  *len += 1;
  return line;
}

/* Temporary files of a journal at base in dir left by a process killed
 * between making one and naming it: removed when older than a minute and
 * held by no one (a live creator locks its own before writing). */
static void remove_stale_temps(const char *dir, const char *base) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  size_t bl = strlen(base);
  time_t now = time(NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (n[0] != '.' || strncmp(n + 1, base, bl) != 0 ||
        strncmp(n + 1 + bl, ".tmp-", 5) != 0 || strlen(n + 1 + bl + 5) != 6)
      continue;
    int fd = openat(dirfd(d), n,
                    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        now - st.st_mtime > 60 && flock(fd, LOCK_EX | LOCK_NB) == 0)
      unlinkat(dirfd(d), n, 0);
    if (fd >= 0)
      close(fd);
  }
  closedir(d);
}

/* Give the temporary file its name without ever replacing a file: link
 * (unlike rename, it never replaces), or where the file system has no hard
 * links, rename without replacing. */
static int put_in_place(const char *tmp, const char *path) {
  if (link(tmp, path) == 0)
    return SHP_OK;
  int e = errno;
  if (e != EEXIST) {
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
      return SHP_OK;
    e = errno;
  }
  return shp_error_set(SHP_ERR_WRITE, "%s: %s%s", path, strerror(e),
                       e == EEXIST ? " (a journal is never overwritten; "
                                     "resume it or choose another name)"
                                   : "");
}

shp_journal *shp_journal_create(const char *path, json_t *first) {
  size_t len;
  char *line = encode(path, first, &len);
  if (line == NULL)
    return NULL;
  char dir[PATH_MAX], base[PATH_MAX], tmp[2 * PATH_MAX + 32];
  if (strlen(path) >= sizeof dir) {
    free(line);
    shp_error_set(SHP_ERR_WRITE, "%s: path too long", path);
    return NULL;
  }
  strcpy(dir, path);
  strcpy(base, path);
  const char *d = dirname(dir), *b = basename(base);
  remove_stale_temps(d, b);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", d, b);
  int fd = mkostemp(tmp, O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    shp_error_set(SHP_ERR_WRITE, "%s: cannot create: %s", path,
                  strerror(errno));
    free(line);
    return NULL;
  }
  /* Locked before it has its name, so no one can take it in between. */
  int rc = lock_journal(fd, path);
  if (rc == SHP_OK && fchmod(fd, 0644) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: %s", path, strerror(errno));
  if (rc == SHP_OK)
    rc = write_all(fd, path, line, len);
  if (rc == SHP_OK && fsync(fd) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: sync: %s", path, strerror(errno));
  free(line);
  if (rc == SHP_OK)
    rc = put_in_place(tmp, path);
  unlink(tmp);
  if (rc != SHP_OK) {
    close(fd);
    return NULL;
  }
  sync_dir_of(path);
  return wrap(fd, path);
}

static int sync_now(shp_journal *j) {
  if (fsync(j->fd) != 0) {
    j->failed = true;
    return shp_error_set(SHP_ERR_WRITE, "%s: sync: %s", j->path,
                         strerror(errno));
  }
  j->dirty = false;
  j->synced_at = monotonic_s();
  return SHP_OK;
}

static int append(shp_journal *j, json_t *record, bool sync) {
  if (j->failed)
    return shp_error_set(SHP_ERR_WRITE, "%s: an earlier write failed", j->path);
  if (j->cut_to >= 0) {
    if (ftruncate(j->fd, (off_t)j->cut_to) != 0 || fsync(j->fd) != 0) {
      j->failed = true;
      return shp_error_set(SHP_ERR_WRITE, "%s: cannot cut the torn record: %s",
                           j->path, strerror(errno));
    }
    j->cut_to = -1;
  }
  size_t len;
  char *line = encode(j->path, record, &len);
  if (line == NULL)
    return shp_error_last();
  int rc = write_all(j->fd, j->path, line, len);
  free(line);
  if (rc != SHP_OK) {
    j->failed = true;
    return rc;
  }
  j->dirty = true;
  if (sync || monotonic_s() - j->synced_at >= 1.0)
    return sync_now(j);
  return SHP_OK;
}

int shp_journal_append(shp_journal *j, json_t *record) {
  return append(j, record, true);
}

int shp_journal_append_unsynced(shp_journal *j, json_t *record) {
  return append(j, record, false);
}

int shp_journal_close(shp_journal *j) {
  if (j == NULL)
    return SHP_OK;
  int rc = SHP_OK;
  if (fsync(j->fd) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: sync: %s", j->path, strerror(errno));
  if (close(j->fd) != 0 && rc == SHP_OK)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: %s", j->path, strerror(errno));
  free(j->path);
  free(j);
  return rc;
}

const char *shp_journal_path(const shp_journal *j) { return j->path; }

/* ---- reading ---------------------------------------------------------------
 */

/* One line of at most SHP_JOURNAL_MAX_LINE bytes into *buf (grown as
 * needed): its length with the newline, 0 at the end; *whole says whether
 * it ended in a newline. -1 with the error set for a line too long. */
static long read_line(FILE *fp, char **buf, size_t *cap, bool *whole) {
  size_t n = 0;
  int c;
  *whole = false;
  while ((c = getc(fp)) != EOF) {
    if (n + 2 > *cap) {
      size_t ncap = *cap ? 2 * *cap : 4096;
      char *nb = realloc(*buf, ncap);
      if (nb == NULL)
        return -2;
      *buf = nb;
      *cap = ncap;
    }
    (*buf)[n++] = (char)c;
    if (c == '\n') {
      *whole = true;
      break;
    }
    if (n > SHP_JOURNAL_MAX_LINE)
      return -1;
  }
  return (long)n;
}

static int read_stream(FILE *fp, const char *path, json_t **records,
                       size_t *valid_bytes, bool *torn) {
  json_t *all = json_array();
  if (all == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  char *line = NULL;
  size_t cap = 0, lineno = 0, offset = 0;
  long n;
  bool whole;
  int rc = SHP_OK;
  while (rc == SHP_OK && (n = read_line(fp, &line, &cap, &whole)) != 0) {
    lineno++;
    if (n == -2) {
      rc = shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
    if (n < 0) {
      rc = shp_error_set(SHP_ERR_PARSE,
                         "%s:%zu: a line longer than %zu bytes: not a journal",
                         path, lineno, SHP_JOURNAL_MAX_LINE);
      break;
    }
    if (!whole) {
      /* Only an unterminated last line is torn: a crash cut it short. */
      if (torn != NULL)
        *torn = true;
      break;
    }
    json_error_t err;
    json_t *rec = json_loadb(line, (size_t)n, 0, &err);
    if (!json_is_object(rec)) {
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%zu: not a journal record%s%s",
                         path, lineno, rec == NULL ? ": " : "",
                         rec == NULL ? err.text : "");
      json_decref(rec);
      break;
    }
    json_array_append_new(all, rec);
    offset += (size_t)n;
  }
  if (rc == SHP_OK && ferror(fp))
    rc = shp_error_set(SHP_ERR_FILE, "%s: %s", path, strerror(errno));
  free(line);
  if (rc != SHP_OK) {
    json_decref(all);
    return rc;
  }
  *records = all;
  *valid_bytes = offset;
  return SHP_OK;
}

int shp_journal_read(const char *path, json_t **records, size_t *valid_bytes,
                     bool *torn) {
  *records = NULL;
  *valid_bytes = 0;
  if (torn != NULL)
    *torn = false;
  FILE *fp = shp_file_open_read(path, SHP_FILE_MAX_JOURNAL);
  if (fp == NULL)
    return shp_error_last();
  int rc = read_stream(fp, path, records, valid_bytes, torn);
  fclose(fp);
  return rc;
}

shp_journal *shp_journal_resume(const char *path, json_t **records,
                                bool *torn) {
  *records = NULL;
  if (torn != NULL)
    *torn = false;
  /* Not blocking on a FIFO, and refusing what is not a file before it is
   * opened for writing (a FIFO with no reader cannot be). */
  struct stat pre;
  if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode)) {
    shp_error_set(SHP_ERR_FILE, "%s: not a regular file", path);
    return NULL;
  }
  int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    shp_error_set(errno == ENOENT ? SHP_ERR_FILE : SHP_ERR_WRITE,
                  "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    shp_error_set(SHP_ERR_FILE, "%s: not a regular file", path);
    return NULL;
  }
  int rc = lock_journal(fd, path);
  size_t valid = 0;
  if (rc == SHP_OK) {
    FILE *fp = shp_file_open_read(path, SHP_FILE_MAX_JOURNAL);
    struct stat rs;
    if (fp == NULL)
      rc = shp_error_last();
    else if (fstat(fileno(fp), &rs) != 0 || rs.st_ino != st.st_ino ||
             rs.st_dev != st.st_dev)
      rc = shp_error_set(SHP_ERR_BUSY, "%s: replaced while being opened", path);
    else
      rc = read_stream(fp, path, records, &valid, torn);
    if (fp != NULL)
      fclose(fp);
  }
  if (rc != SHP_OK) {
    json_decref(*records);
    *records = NULL;
    close(fd);
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  shp_journal *j = wrap(fd, path);
  /* The torn tail is cut by the first append, so a journal opened and
   * closed again (another run's, refused) is left exactly as it was. */
  if (j != NULL && fstat(fd, &st) == 0 && (size_t)st.st_size > valid)
    j->cut_to = (long long)valid;
  return j;
}

int shp_journal_probe(const char *path, bool existing) {
  struct stat st;
  if (!existing) {
    if (lstat(path, &st) == 0)
      return shp_error_set(SHP_ERR_WRITE,
                           "%s: exists (a journal is never overwritten; "
                           "resume it or choose another name)",
                           path);
    return SHP_OK;
  }
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return shp_error_set(SHP_ERR_FILE, "%s: not a regular file", path);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return shp_error_set(SHP_ERR_FILE, "%s: cannot open: %s", path,
                         strerror(errno));
  int rc = lock_journal(fd, path);
  close(fd); /* the lock goes with it */
  return rc;
}

void shp_utc_timestamp(char buf[SHP_TIMESTAMP_SIZE], bool compact) {
  time_t now = time(NULL);
  struct tm tm;
  strftime(buf, SHP_TIMESTAMP_SIZE,
           compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ",
           gmtime_r(&now, &tm));
}
