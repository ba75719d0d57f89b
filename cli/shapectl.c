/* shapectl: the command-line face of the pulse-shaping toolkit. One
 * subcommand per cmd-NAME.c, dispatched from the table below. */
#include "cli.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"materials", cmd_materials, "list crystal materials and their properties"},
    {"simulate", cmd_simulate, "what a stack file does to its pulse"},
    {"optimize", cmd_optimize, "temperatures and angles that reach a target"},
    {"tolerance", cmd_tolerance, "Monte Carlo of fabrication errors, ranked"},
    {"design", cmd_design, "design a stack and its fabrication sheet"},
    {"new", cmd_new, "write a ready Solc or binary-stacker stack file"},
    {"autocorr", cmd_autocorr, "autocorrelation of a measured trace"},
    {"hw", cmd_hw, "the lab's ovens and autocorrelator (default: simulated)"},
    {"calibrate", cmd_calibrate,
     "measure crystal phase offsets and slopes (default: simulated lab)"},
    {"run", cmd_run, "closed-loop shaping in the lab (default: simulated)"},
    {"journal", cmd_journal, "what a run journal recorded"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  /* GSL's default handler aborts; the libraries check every status. */
  gsl_set_error_handler_off();
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("shapectl %s\n", SHP_VERSION);
    return CLI_OK;
  }
  return cli_dispatch(NULL, commands, argc, argv);
}
