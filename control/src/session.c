/* A session: see shp/session.h. */
#include "shp/session.h"

#include "shp/calibration.h"
#include "shp/datadir.h"
#include "shp/error.h"
#include "shp/lab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct shp_session {
  shp_lab *lab;
  shp_clock *clock;
  shp_supervisor *sup;
  char *sim_stack;   /* the simulated lab's stack, or NULL */
  char *data_folder; /* or NULL: the working directory */
  shp_plan_effort plan_effort;
};

static char *dup_or_nomem(const char *text) {
  char *d = strdup(text);
  if (d == NULL)
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
  return d;
}

shp_session *shp_session_open(const shp_session_spec *spec) {
  shp_session *s = calloc(1, sizeof *s);
  if (s == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  s->plan_effort = spec->plan_effort;
  shp_set_plan_effort(spec->plan_effort);
  char path[PATH_MAX];
  int rc = SHP_OK;
  if (spec->data_folder != NULL &&
      (s->data_folder = dup_or_nomem(spec->data_folder)) == NULL)
    rc = SHP_ERR_NOMEM;
  if (rc == SHP_OK && spec->lab_path != NULL) {
    if ((s->lab = shp_lab_load(spec->lab_path)) == NULL)
      rc = shp_error_last();
  } else if (rc == SHP_OK) {
    rc = shp_data_find(spec->sim_stack ? spec->sim_stack
                                       : "examples/stacks/fan4.yml",
                       path, sizeof path);
    if (rc == SHP_OK && (s->sim_stack = dup_or_nomem(path)) == NULL)
      rc = SHP_ERR_NOMEM;
    if (rc == SHP_OK && (s->lab = shp_lab_default_sim(path)) == NULL)
      rc = shp_error_last();
  }
  if (rc == SHP_OK && spec->persist_sim)
    rc = shp_lab_sim_persist(s->lab);
  if (rc == SHP_OK) {
    double speedup = shp_lab_sim_speedup(s->lab);
    s->clock = speedup < 0 ? shp_clock_new_real() : shp_clock_new_sim(speedup);
    if (s->clock == NULL)
      rc = shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  if (rc == SHP_OK && (s->sup = shp_supervisor_open(s->lab, s->clock, spec->log,
                                                    spec->log_user)) == NULL)
    rc = shp_error_last();
  if (rc != SHP_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", shp_error_detail());
    shp_session_close(s);
    shp_error_set(rc, "%s", why);
    return NULL;
  }
  return s;
}

void shp_session_close(shp_session *s) {
  if (s == NULL)
    return;
  shp_supervisor_close(s->sup);
  shp_clock_free(s->clock);
  shp_lab_free(s->lab);
  free(s->sim_stack);
  free(s->data_folder);
  free(s);
}

const shp_lab *shp_session_lab(const shp_session *s) { return s->lab; }
shp_clock *shp_session_clock(shp_session *s) { return s->clock; }
shp_supervisor *shp_session_supervisor(shp_session *s) { return s->sup; }
const char *shp_session_sim_stack(const shp_session *s) { return s->sim_stack; }
shp_plan_effort shp_session_plan_effort(const shp_session *s) {
  return s->plan_effort;
}

/* mkdir -p: the data folder itself may not exist yet (a new user's
 * ~/.local/share/shaper). */
static int make_folders(const char *path) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (char *q = p + 1;; q++) {
    if (*q != '/' && *q != '\0')
      continue;
    char c = *q;
    *q = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
      return shp_error_set(SHP_ERR_WRITE, "%s: cannot create the folder: %s", p,
                           strerror(errno));
    *q = c;
    if (c == '\0')
      return SHP_OK;
  }
}

int shp_session_calibration_path_in(const char *data_folder,
                                    const char *stack_path, char *buf,
                                    size_t size) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/calibrations",
               data_folder ? data_folder : ".") >= (int)sizeof dir)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: the data folder's path is too long", data_folder);
  if (data_folder == NULL)
    snprintf(dir, sizeof dir, "calibrations");
  int rc = make_folders(dir);
  if (rc == SHP_OK)
    rc = shp_calibration_default_path(dir, stack_path, buf, size);
  if (rc != SHP_OK)
    return rc;
  /* Never an existing file's name: two calibrations within one second
   * would otherwise share one. */
  size_t stem = strlen(buf) - strlen(".yml");
  char first[PATH_MAX];
  snprintf(first, sizeof first, "%s", buf);
  struct stat st;
  for (int k = 2; stat(buf, &st) == 0; k++)
    if (snprintf(buf, size, "%.*s-%d.yml", (int)stem, first, k) >= (int)size)
      return shp_error_set(SHP_ERR_INVALID, "%s: the path is too long", first);
  return SHP_OK;
}

int shp_session_calibration_path(shp_session *s, char *buf, size_t size) {
  return shp_session_calibration_path_in(s->data_folder, s->lab->stack_path,
                                         buf, size);
}

shp_run_machine *shp_run_new(shp_session *s, const shp_run_spec *spec) {
  shp_run_spec own = *spec;
  own.lab = s->lab;
  return shp_run_new_sup(s->sup, &own);
}

shp_calibration_run *shp_calibration_run_new(shp_session *s,
                                             const shp_calibrate_spec *spec) {
  shp_calibrate_spec own = *spec;
  own.lab = s->lab;
  return shp_calibration_run_new_sup(s->sup, &own);
}
