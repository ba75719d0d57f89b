/* Shared plumbing of the shapectl subcommands. */
#ifndef SHAPECTL_CLI_H
#define SHAPECTL_CLI_H

#include <jansson.h>
#include <stdbool.h>

/* Exit statuses (DESIGN.md): success, runtime failure, bad usage or input. */
enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2 };

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help; /* one line for the command list */
} cli_command;

/* Print "shapectl: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report the library's last failure and return the exit status it maps to:
 * bad input (invalid, parse, range, not found, mismatch, grid, a file that
 * cannot be opened) is 2, anything else 1. */
int cli_fail_lib(int code);

/* Parse a finite number for option name; on failure print and return false. */
bool cli_parse_double(const char *name, const char *text, double *out);
bool cli_parse_size(const char *name, const char *text, size_t *out);

/* Print a JSON value to stdout, one document and a newline, and release it.
 * Returns CLI_OK, or CLI_FAILURE when it cannot be written. */
int cli_print_json(json_t *value);

/* Run a subcommand from a table: argv[0] is the group name ("materials"). */
int cli_dispatch(const char *group, const cli_command *table, int argc,
                 char **argv);

int cmd_materials(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_autocorr(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_tolerance(int argc, char **argv);
int cmd_design(int argc, char **argv);

#endif
