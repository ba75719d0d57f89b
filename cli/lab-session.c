/* Opening a lab for a command: see lab-session.h. */
#include "lab-session.h"

#include "cli.h"

#include "shp/datadir.h"
#include "shp/error.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static shp_supervisor *volatile interrupted_sup;

static void on_interrupt(int sig) {
  (void)sig;
  if (interrupted_sup != NULL)
    shp_supervisor_cancel(interrupted_sup);
}

static void on_event(const shp_sup_event *e, void *user) {
  cli_lab *h = user;
  switch (e->kind) {
  case SHP_SUP_SETTLED:
    if (h->quiet)
      break;
    /* fall through */
  case SHP_SUP_FAULT:
  case SHP_SUP_HOLD:
    fprintf(stderr, "shapectl: [%.1f s] %s\n", e->time_s, e->message);
    break;
  case SHP_SUP_PROGRESS:
    /* A line every ten seconds of lab time is enough to watch a ramp. */
    if (h->progress && e->time_s - h->last_progress_s >= 10.0) {
      h->last_progress_s = e->time_s;
      fprintf(stderr, "shapectl: [%.1f s] %s\n", e->time_s, e->message);
    }
    break;
  case SHP_SUP_SETPOINT:
    break;
  }
}

void cli_lab_close(cli_lab *h) {
  interrupted_sup = NULL;
  shp_supervisor_close(h->sup);
  shp_clock_free(h->clock);
  shp_lab_free(h->lab);
  h->sup = NULL;
  h->clock = NULL;
  h->lab = NULL;
}

int cli_lab_open(const char *path, const char *default_stack, cli_lab *h) {
  return cli_lab_open_ex(path, default_stack, false, h);
}

int cli_lab_open_ex(const char *path, const char *default_stack,
                    bool persist_sim, cli_lab *h) {
  *h = (cli_lab){.progress = isatty(2), .last_progress_s = -1e300};
  if (path != NULL) {
    h->lab = shp_lab_load(path);
  } else {
    char stack[PATH_MAX];
    if (shp_data_find(default_stack ? default_stack
                                    : "examples/stacks/fan4.yml",
                      stack, sizeof stack) != SHP_OK)
      return cli_fail_lib(shp_error_last());
    fprintf(stderr, "shapectl: no lab file: using the simulated lab on %s\n",
            stack);
    h->lab = shp_lab_default_sim(stack);
  }
  if (h->lab == NULL)
    return cli_fail_lib(shp_error_last());
  if (persist_sim && shp_lab_sim_persist(h->lab) != SHP_OK)
    return cli_fail_lib(shp_error_last());
  double speedup = shp_lab_sim_speedup(h->lab);
  h->clock = speedup < 0 ? shp_clock_new_real() : shp_clock_new_sim(speedup);
  if (h->clock == NULL) {
    cli_error("out of memory");
    return CLI_FAILURE;
  }
  h->sup = shp_supervisor_open(h->lab, h->clock, on_event, h);
  if (h->sup == NULL)
    return cli_fail_lib(shp_error_last());
  interrupted_sup = h->sup;
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);
  return CLI_OK;
}
