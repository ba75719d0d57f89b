/* Opening a lab for a command: see lab-session.h. */
#include "lab-session.h"

#include "cli.h"

#include "shp/error.h"

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
  shp_session_close(h->session);
  *h = (cli_lab){0};
}

int cli_lab_open(const char *path, const char *default_stack, cli_lab *h) {
  return cli_lab_open_ex(path, default_stack, false, h);
}

int cli_lab_open_ex(const char *path, const char *default_stack,
                    bool persist_sim, cli_lab *h) {
  *h = (cli_lab){.progress = isatty(2), .last_progress_s = -1e300};
  /* Commands run once: estimating FFT plans beats measuring them. */
  shp_session_spec spec = {.lab_path = path,
                           .sim_stack = default_stack,
                           .persist_sim = persist_sim,
                           .plan_effort = SHP_PLAN_ESTIMATE,
                           .log = on_event,
                           .log_user = h};
  h->session = shp_session_open(&spec);
  if (h->session == NULL)
    return cli_fail_lib(shp_error_last());
  if (shp_session_sim_stack(h->session) != NULL)
    fprintf(stderr, "shapectl: no lab file: using the simulated lab on %s\n",
            shp_session_sim_stack(h->session));
  h->lab = shp_session_lab(h->session);
  h->clock = shp_session_clock(h->session);
  h->sup = shp_session_supervisor(h->session);
  interrupted_sup = h->sup;
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);
  return CLI_OK;
}
