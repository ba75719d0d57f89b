/* An open lab for the commands that drive one (hw, calibrate, run): a
 * session (shp/session.h: the lab file or the built-in simulated lab, its
 * clock, the safety supervisor) with the CLI's log lines, and Ctrl-C and
 * SIGTERM cancelling through the supervisor (the ovens then hold). */
#ifndef SHP_CLI_LAB_SESSION_H
#define SHP_CLI_LAB_SESSION_H

#include "shp/lab.h"
#include "shp/session.h"
#include "shp/supervisor.h"

#include <stdbool.h>

typedef struct {
  shp_session *session;
  const shp_lab *lab; /* the session's, borrowed */
  shp_clock *clock;
  shp_supervisor *sup;
  bool progress; /* stderr is a terminal */
  bool quiet;    /* no line per settled oven (the run reports its moves) */
  double last_progress_s;
} cli_lab;

/* Open path, or without one the simulated lab on default_stack (a data
 * path such as "examples/stacks/fan4.yml", or NULL for that one). Returns
 * CLI_OK or the exit status after printing why. */
int cli_lab_open(const char *path, const char *default_stack, cli_lab *h);
/* The same; with persist_sim, the simulated ovens continue from where the
 * last command left them (shp_lab_sim_persist), as real ovens do. */
int cli_lab_open_ex(const char *path, const char *default_stack,
                    bool persist_sim, cli_lab *h);
void cli_lab_close(cli_lab *h);

#endif
