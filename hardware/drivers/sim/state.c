/* The simulated lab across processes: see "the simulated lab across
 * processes" in shp/lab.h. The state file is plain text, one record a
 * line, numbers in the C locale and written to round-trip:
 *
 *   shaper-sim-state 1
 *   key 0123456789abcdef          hash of the lab's and stack's content
 *   wall_s 1764930000.25          when it was written (Unix time)
 *   sim_s 3600                    the lab's time then
 *   oven 0 SETPOINT_C TEMPERATURE_C OUTPUT_ON STUCK STUCK_READING_C
 *          HAS_READING LAST_READING_C          (one line, one per oven)
 */
#include "protocol.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC "shaper-sim-state"
#define STATE_VERSION "1"
/* A line per oven of a few dozen bytes: 64 KiB holds any real lab. */
#define STATE_MAX_BYTES ((size_t)64 << 10)
#define OVEN_FIELDS 9

/* ---- the file's name and key ----------------------------------------------
 */

#define FNV_START UINT64_C(1469598103934665603)

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

/* What the state is keyed by: the lab file's absolute path, or for a
 * built-in lab its stack file's, marked so the two never meet. */
static int key_text(const shp_lab *lab, char *buf, size_t size) {
  const char *file = lab->path ? lab->path : lab->stack_path;
  char abs[PATH_MAX];
  if (file == NULL || realpath(file, abs) == NULL)
    return shp_error_set(SHP_ERR_FILE, "%s: %s", file ? file : "lab",
                         strerror(errno));
  int n = snprintf(buf, size, "%s%s", lab->path ? "" : "builtin:", abs);
  if (n < 0 || (size_t)n >= size)
    return shp_error_set(SHP_ERR_INVALID, "%s: path too long", file);
  return SHP_OK;
}

/* $XDG_STATE_HOME/shaper/sim, or ~/.local/state/shaper/sim. The XDG base
 * directory specification ignores a relative XDG_STATE_HOME. */
static int state_dir(char *buf, size_t size) {
  const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  int n;
  if (xdg != NULL && xdg[0] == '/')
    n = snprintf(buf, size, "%s/shaper/sim", xdg);
  else if (home != NULL && home[0] == '/')
    n = snprintf(buf, size, "%s/.local/state/shaper/sim", home);
  else
    return shp_error_set(SHP_ERR_INVALID,
                         "sim: no state directory: neither XDG_STATE_HOME "
                         "nor HOME is an absolute path");
  if (n < 0 || (size_t)n >= size)
    return shp_error_set(SHP_ERR_INVALID,
                         "sim: the state directory's path is too long");
  return SHP_OK;
}

int shp_lab_sim_state_path(const shp_lab *lab, char *buf, size_t size) {
  char key[PATH_MAX + 16], dir[PATH_MAX];
  int rc = key_text(lab, key, sizeof key);
  if (rc == SHP_OK)
    rc = state_dir(dir, sizeof dir);
  if (rc != SHP_OK)
    return rc;
  unsigned long long h = fnv1a(FNV_START, key, strlen(key));
  int n = snprintf(buf, size, "%s/%016llx.state", dir, h);
  if (n < 0 || (size_t)n >= size)
    return shp_error_set(SHP_ERR_INVALID,
                         "sim: the state file's path is too long");
  return SHP_OK;
}

static int hash_file(uint64_t *h, const char *path) {
  char *text;
  size_t len;
  int rc = shp_file_read(path, SHP_FILE_MAX_TEXT, &text, &len);
  if (rc != SHP_OK)
    return rc;
  /* The length first, so that two files cannot trade bytes unnoticed. */
  uint64_t n = len;
  *h = fnv1a(fnv1a(*h, &n, sizeof n), text, len);
  free(text);
  return SHP_OK;
}

int shp_lab_sim_persist(shp_lab *lab) {
  char path[PATH_MAX];
  uint64_t key = FNV_START;
  int rc = shp_lab_sim_state_path(lab, path, sizeof path);
  if (rc == SHP_OK && lab->path != NULL)
    rc = hash_file(&key, lab->path);
  if (rc == SHP_OK)
    rc = hash_file(&key, lab->stack_path);
  if (rc != SHP_OK)
    return rc;
  /* A lab without a sim section runs on the defaults: make them explicit
   * so the state has somewhere to live. */
  if (lab->sim == NULL &&
      (lab->sim = shp_lab_sim_new(lab->oven_count, lab->stack)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  char *copy = strdup(path);
  if (copy == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  free(lab->sim->state_path);
  lab->sim->state_path = copy;
  lab->sim->state_key = key;
  return SHP_OK;
}

int shp_lab_sim_reset(const shp_lab *lab) {
  char path[PATH_MAX];
  int rc = shp_lab_sim_state_path(lab, path, sizeof path);
  if (rc != SHP_OK)
    return rc;
  if (unlink(path) != 0 && errno != ENOENT)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot remove: %s", path,
                         strerror(errno));
  return SHP_OK;
}

/* ---- time ------------------------------------------------------------------
 */

double sim_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sim_now_s(shp_device *d) { return d->t0_s + shp_clock_now_s(d->clock); }

/* Lab seconds per wall second: the sim clock's speedup, or real time for
 * sim ovens in a lab that also drives real instruments. */
static double speedup(const shp_device *d) {
  double s = shp_lab_sim_speedup(d->lab);
  return s < 0 ? 1.0 : s;
}

/* ---- reading
 * ----------------------------------------------------------------- */

typedef struct {
  double wall_s, sim_s;
  sim_oven *ovens; /* oven_count */
  size_t count;
} saved;

static int bad(const char *path, int line, const char *what) {
  return shp_error_set(SHP_ERR_PARSE,
                       "%s:%d: %s (the simulated lab's saved state; remove "
                       "it to start afresh)",
                       path, line, what);
}

/* Splits line in place at blanks into at most max words. */
static size_t words(char *line, char **w, size_t max) {
  size_t n = 0;
  for (char *p = line; *p != '\0';) {
    while (*p == ' ' || *p == '\t')
      *p++ = '\0';
    if (*p == '\0')
      break;
    if (n == max)
      return max + 1;
    w[n++] = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
      p++;
  }
  return n;
}

static bool temperature(const char *s, double *out) {
  return shp_parse_double(s, out) == SHP_OK && *out >= -273.15 &&
         *out <= 1000.0;
}

static bool flag(const char *s, bool *out) {
  if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
    return false;
  *out = s[0] == '1';
  return true;
}

static int oven_line(shp_device *d, const char *path, int line, char **w,
                     size_t n, saved *st) {
  if (n != OVEN_FIELDS || strcmp(w[0], "oven") != 0)
    return bad(path, line, "expected an oven record");
  if (st->count >= d->oven_count)
    return bad(path, line, "more ovens than the lab has");
  char want[24];
  snprintf(want, sizeof want, "%zu", st->count);
  sim_oven *o = &st->ovens[st->count];
  if (strcmp(w[1], want) != 0 || !temperature(w[2], &o->setpoint_c) ||
      !temperature(w[3], &o->temperature_c) || !flag(w[4], &o->output_on) ||
      !flag(w[5], &o->stuck) || !temperature(w[6], &o->stuck_reading_c) ||
      !flag(w[7], &o->has_reading) || !temperature(w[8], &o->last_reading_c))
    return bad(path, line, "malformed oven record");
  st->count++;
  return SHP_OK;
}

/* One line of the file; *fresh is set when it belongs to another lab (or
 * another version of this program's format). */
static int state_line(shp_device *d, const char *path, int line, char *text,
                      saved *st, bool *fresh) {
  char *w[OVEN_FIELDS];
  size_t n = words(text, w, OVEN_FIELDS);
  if (line == 1) {
    if (n != 2 || strcmp(w[0], STATE_MAGIC) != 0)
      return bad(path, line, "not a simulated lab's state");
    *fresh = strcmp(w[1], STATE_VERSION) != 0;
    return SHP_OK;
  }
  if (line == 2) {
    char want[24];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)d->p->state_key);
    if (n != 2 || strcmp(w[0], "key") != 0)
      return bad(path, line, "expected the lab's key");
    *fresh = strcmp(w[1], want) != 0;
    return SHP_OK;
  }
  if (line == 3 || line == 4) {
    double *v = line == 3 ? &st->wall_s : &st->sim_s;
    if (n != 2 || strcmp(w[0], line == 3 ? "wall_s" : "sim_s") != 0 ||
        shp_parse_double(w[1], v) != SHP_OK || !(*v >= 0 && *v <= 1e15))
      return bad(path, line,
                 line == 3 ? "expected wall_s SECONDS"
                           : "expected sim_s "
                             "SECONDS");
    return SHP_OK;
  }
  return oven_line(d, path, line, w, n, st);
}

static int parse(shp_device *d, const char *path, char *text, saved *st,
                 bool *fresh) {
  int line = 0, rc = SHP_OK;
  char *p = text;
  while (rc == SHP_OK && !*fresh && *p != '\0') {
    char *end = strchr(p, '\n');
    if (end == NULL)
      return bad(path, line + 1, "unterminated line");
    *end = '\0';
    rc = state_line(d, path, ++line, p, st, fresh);
    p = end + 1;
  }
  if (rc == SHP_OK && line == 0)
    return bad(path, 1, "not a simulated lab's state");
  if (rc == SHP_OK && !*fresh && st->count != d->oven_count)
    return bad(path, line, "fewer ovens than the lab has");
  return rc;
}

/* The saved ovens, moved on by the wall time since they were saved: the
 * lag's exact solution over that time (see sim_oven_advance). */
static void restore(shp_device *d, const saved *st) {
  double now = shp_clock_now_s(d->clock);
  double dt = fmax(0.0, sim_wall_s() - st->wall_s) * speedup(d);
  for (size_t i = 0; i < d->oven_count; i++) {
    sim_oven o = st->ovens[i];
    o.temperature_c = o.setpoint_c + (o.temperature_c - o.setpoint_c) *
                                         exp(-dt / d->p->time_constant_s);
    o.updated_s = now;
    d->ovens[i] = o;
  }
  d->t0_s = st->sim_s + dt - now;
}

int sim_state_load(shp_device *d) {
  const char *path = d->p->state_path;
  struct stat sb;
  if (stat(path, &sb) != 0 && errno == ENOENT)
    return SHP_OK; /* never saved, or reset: start afresh */
  char *text;
  size_t len;
  int rc = shp_file_read(path, STATE_MAX_BYTES, &text, &len);
  if (rc != SHP_OK)
    return rc;
  saved st = {.ovens = calloc(d->oven_count, sizeof *st.ovens)};
  bool fresh = false;
  if (st.ovens == NULL)
    rc = shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
  else
    rc = parse(d, path, text, &st, &fresh);
  if (rc == SHP_OK && !fresh)
    restore(d, &st);
  free(st.ovens);
  free(text);
  return rc;
}

/* ---- writing
 * ------------------------------------------------------------------ */

static int fill(FILE *f, void *user) {
  shp_device *d = user;
  char a[40], b[40], c[40], e[40];
  fprintf(f, STATE_MAGIC " " STATE_VERSION "\nkey %016llx\n",
          (unsigned long long)d->p->state_key);
  shp_format_shortest(a, sizeof a, d->saved_wall_s);
  shp_format_shortest(b, sizeof b, sim_now_s(d));
  fprintf(f, "wall_s %s\nsim_s %s\n", a, b);
  for (size_t i = 0; i < d->oven_count; i++) {
    const sim_oven *o = &d->ovens[i];
    shp_format_shortest(a, sizeof a, o->setpoint_c);
    shp_format_shortest(b, sizeof b, o->temperature_c);
    shp_format_shortest(c, sizeof c, o->stuck_reading_c);
    shp_format_shortest(e, sizeof e, o->last_reading_c);
    fprintf(f, "oven %zu %s %s %d %d %s %d %s\n", i, a, b, o->output_on,
            o->stuck, c, o->has_reading, e);
  }
  return ferror(f) ? shp_error_set(SHP_ERR_WRITE, "%s: cannot write",
                                   d->p->state_path)
                   : SHP_OK;
}

/* mkdir -p of the directory that holds path, private to the user. */
static int make_parents(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      return shp_error_set(SHP_ERR_WRITE, "%s: cannot create: %s", dir,
                           strerror(errno));
    *p = '/';
  }
  return SHP_OK;
}

int sim_state_save(shp_device *d) {
  for (size_t i = 0; i < d->oven_count; i++)
    sim_oven_advance(d, i);
  d->saved_wall_s = sim_wall_s();
  int rc = make_parents(d->p->state_path);
  if (rc == SHP_OK)
    rc = shp_file_write_atomic(d->p->state_path, fill, d);
  return rc == SHP_OK ? rc : shp_error_prefix("sim: saving the ovens: ");
}
