/* JSON Lines journals written with one write and an fsync per record. */
#include "shp/journal.h"

#include "shp/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct shp_journal {
  int fd;
  char *path;
  bool failed;
};

/* Make the directory entry of a new file durable too. */
static void sync_parent(const char *path) {
  char *copy = strdup(path);
  if (copy == NULL)
    return;
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  free(copy);
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
  return j;
}

shp_journal *shp_journal_create(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    shp_error_set(SHP_ERR_WRITE, "%s: %s%s", path, strerror(errno),
                  errno == EEXIST ? " (a journal is never overwritten; "
                                    "resume it or choose another name)"
                                  : "");
    return NULL;
  }
  sync_parent(path);
  return wrap(fd, path);
}

shp_journal *shp_journal_open_append(const char *path, size_t valid_bytes) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    shp_error_set(SHP_ERR_WRITE, "%s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 ||
      ((size_t)st.st_size > valid_bytes &&
       (ftruncate(fd, (off_t)valid_bytes) != 0 || fsync(fd) != 0))) {
    shp_error_set(SHP_ERR_WRITE, "%s: cannot cut the torn record: %s", path,
                  strerror(errno));
    close(fd);
    return NULL;
  }
  return wrap(fd, path);
}

int shp_journal_append(shp_journal *j, json_t *record) {
  if (!json_is_object(record))
    return shp_error_set(SHP_ERR_INVALID, "a journal record is an object");
  if (j->failed)
    return shp_error_set(SHP_ERR_WRITE, "%s: an earlier write failed", j->path);
  char *line = json_dumps(record, JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (line == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "%s: cannot encode a record", j->path);
  size_t len = strlen(line);
  line[len] = '\n'; /* json_dumps's terminator becomes the line's end */
  size_t done = 0;
  int rc = SHP_OK;
  while (done < len + 1) {
    ssize_t w = write(j->fd, line + done, len + 1 - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = shp_error_set(SHP_ERR_WRITE, "%s: %s", j->path,
                         w < 0 ? strerror(errno) : "nothing written");
      break;
    }
    done += (size_t)w;
  }
  free(line);
  if (rc == SHP_OK && fsync(j->fd) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: sync: %s", j->path, strerror(errno));
  if (rc != SHP_OK)
    j->failed = true;
  return rc;
}

int shp_journal_close(shp_journal *j) {
  if (j == NULL)
    return SHP_OK;
  int rc = SHP_OK;
  if (fsync(j->fd) != 0 || close(j->fd) != 0)
    rc = shp_error_set(SHP_ERR_WRITE, "%s: %s", j->path, strerror(errno));
  free(j->path);
  free(j);
  return rc;
}

const char *shp_journal_path(const shp_journal *j) { return j->path; }

int shp_journal_read(const char *path, json_t **records, size_t *valid_bytes,
                     bool *torn) {
  *records = NULL;
  *valid_bytes = 0;
  if (torn != NULL)
    *torn = false;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return shp_error_set(SHP_ERR_FILE, "%s: %s", path, strerror(errno));
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0, lineno = 0, offset = 0;
  ssize_t n;
  int rc = SHP_OK;
  while (rc == SHP_OK && (n = getline(&line, &cap, fp)) > 0) {
    lineno++;
    bool whole = line[n - 1] == '\n';
    json_error_t err;
    json_t *rec = json_loadb(line, (size_t)n, 0, &err);
    if (!whole || !json_is_object(rec)) {
      json_decref(rec);
      /* Only the last line may be torn: a crash cuts a record short. */
      int c = fgetc(fp);
      if (c == EOF && !ferror(fp)) {
        if (torn != NULL)
          *torn = true;
        break;
      }
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%zu: not a journal record%s%s",
                         path, lineno, rec == NULL ? ": " : "",
                         rec == NULL ? err.text : "");
      break;
    }
    json_array_append_new(all, rec);
    offset += (size_t)n;
  }
  if (rc == SHP_OK && ferror(fp))
    rc = shp_error_set(SHP_ERR_FILE, "%s: %s", path, strerror(errno));
  free(line);
  fclose(fp);
  if (rc != SHP_OK) {
    json_decref(all);
    return rc;
  }
  *records = all;
  *valid_bytes = offset;
  return SHP_OK;
}

void shp_utc_timestamp(char buf[SHP_TIMESTAMP_SIZE], bool compact) {
  time_t now = time(NULL);
  struct tm tm;
  strftime(buf, SHP_TIMESTAMP_SIZE,
           compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ",
           gmtime_r(&now, &tm));
}
