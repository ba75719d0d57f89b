/* The simulated lab of the closed-loop and calibration tests: the 4-plate
 * 5 ps flat-top design in sim ovens (limits 20..150 C), 1 % noise per scan,
 * 4 scans a trace, on a sim clock that runs as fast as it is computed; a
 * supervisor that records the largest setpoint beyond a limit and counts
 * holds. Include after cmocka.h and labfile.h. */
#ifndef SHP_TEST_RUNLAB_H
#define SHP_TEST_RUNLAB_H

#include "shp/error.h"
#include "shp/lab.h"
#include "shp/supervisor.h"
#include "shp/target.h"

#include <math.h>
#include <stdbool.h>

/* The 4-plate flat-top design in sim ovens with the given sim lines: 1 %
 * noise per scan, 4 scans a trace. */
static inline char *design_lab(const char *sim_lines) {
  char text[8192];
  int len = snprintf(text, sizeof text,
                     "stack: %s/examples/stacks/design-flat-top-5ps.yml\n"
                     "ovens:\n",
                     SHP_SOURCE_DATADIR);
  for (int i = 0; i < 4; i++)
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "  - {driver: sim, connection: {kind: sim}, channel: %d, "
                    "min_c: 20.0, max_c: 150.0, max_ramp_k_per_min: 10.0, "
                    "settle_tolerance_k: 0.05, settle_time_s: 10.0}\n",
                    i);
  snprintf(text + len, sizeof text - (size_t)len,
           "autocorrelator:\n  driver: sim\n  connection: {kind: sim}\n"
           "  averages: 4\n"
           "sim:\n  speedup: 0\n  noise: 0.01\n  points: 512\n"
           "  scan_range_ps: 20.0\n%s",
           sim_lines);
  return lab_write_text(text);
}

typedef struct {
  shp_lab *lab;
  shp_clock *clock;
  shp_supervisor *sup;
  shp_target *target;
  char *path;
  bool keep;              /* the lab file is the caller's */
  double max_sent_excess; /* largest setpoint beyond a limit (K), <= 0 */
  size_t holds;
  size_t sent;           /* setpoints sent to instruments */
  double last_sent_c[8]; /* the last sent to crystal i */
  size_t unknown_holds;  /* holds of ovens whose setpoint was never known */
  size_t zero_holds;     /* holds claiming a setpoint of 0.000 C */
} run_lab;

static inline void on_sup(const shp_sup_event *e, void *user) {
  run_lab *r = user;
  if (e->kind == SHP_SUP_SETPOINT && e->crystal >= 0) {
    r->sent++;
    if (e->crystal < 8)
      r->last_sent_c[e->crystal] = e->value_c;
    const shp_lab_oven *o = &r->lab->ovens[e->crystal];
    r->max_sent_excess = fmax(
        r->max_sent_excess, fmax(e->value_c - o->max_c, o->min_c - e->value_c));
  }
  if (e->kind == SHP_SUP_HOLD) {
    r->holds++;
    r->unknown_holds += strstr(e->message, "unknown setpoint") != NULL;
    r->zero_holds += strstr(e->message, "holding setpoint 0.000 C") != NULL;
  }
}

/* Open a lab written from sim_lines, or the file at path when sim_lines is
 * NULL (then the caller keeps the file). */
static inline void open_lab_at(run_lab *r, const char *sim_lines,
                               const char *path) {
  memset(r, 0, sizeof *r);
  r->max_sent_excess = -INFINITY;
  r->path = sim_lines ? design_lab(sim_lines) : strdup(path);
  assert_non_null(r->path);
  r->lab = shp_lab_load(r->path);
  if (r->lab == NULL)
    fail_msg("%s", shp_error_detail());
  r->clock = shp_clock_new_sim(0);
  r->sup = shp_supervisor_open(r->lab, r->clock, on_sup, r);
  assert_non_null(r->sup);
  r->target =
      shp_target_load(SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml");
  assert_non_null(r->target);
  r->keep = sim_lines == NULL;
}

static inline void open_lab(run_lab *r, const char *sim_lines) {
  open_lab_at(r, sim_lines, NULL);
}

static inline void close_lab(run_lab *r) {
  shp_supervisor_close(r->sup);
  shp_clock_free(r->clock);
  shp_lab_free(r->lab);
  shp_target_free(r->target);
  if (!r->keep)
    unlink(r->path);
  free(r->path);
}

#endif
