/* Shared plumbing of the shapectl subcommands. */
#ifndef SHAPECTL_CLI_H
#define SHAPECTL_CLI_H

#include <jansson.h>
#include <stdbool.h>

/* Exit statuses (DESIGN.md): success, runtime failure, bad usage or input,
 * and finished cleanly without reaching the target (the JSON says why). */
enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2, CLI_NOT_REACHED = 3 };

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help; /* one line for the command list */
} cli_command;

/* Print "shapectl: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report the library's last failure and return the exit status its code's
 * class maps to (shp_error_class_of): bad input 2, anything else 1. */
int cli_fail_lib(int code);

/* Parse a finite number for option name; on failure print and return false. */
bool cli_parse_double(const char *name, const char *text, double *out);
bool cli_parse_size(const char *name, const char *text, size_t *out);

/* A subcommand's options as a table (git's parse-options in small): each
 * entry names a long option and where its value goes. */
typedef enum {
  CLI_FLAG,   /* bool *, set to true */
  CLI_DOUBLE, /* double *, a finite number */
  CLI_SIZE,   /* size_t *, a whole number */
  CLI_STRING, /* const char **, the argument as given */
  CLI_CUSTOM  /* parse(name, arg, dest) decides, printing why not */
} cli_opt_kind;

typedef struct {
  const char *name; /* without the leading "--" */
  cli_opt_kind kind;
  void *dest;
  bool *seen; /* set to true when the option is given; may be NULL */
  bool (*parse)(const char *name, const char *arg, void *dest);
} cli_opt;

/* Table entries: an option, one that records whether it was given, one
 * parsed by a function, and the end of the table. */
#define CLI_OPT(n, k, d)                                                       \
  { .name = (n), .kind = (k), .dest = (d) }
#define CLI_OPT_SEEN(n, k, d, s)                                               \
  { .name = (n), .kind = (k), .dest = (d), .seen = (s) }
#define CLI_OPT_PARSE(n, f, d)                                                 \
  { .name = (n), .kind = CLI_CUSTOM, .dest = (d), .parse = (f) }
#define CLI_OPT_END                                                            \
  { .name = NULL }

/* Parse argv[1..] against opts (a NULL name ends the table; --help is
 * added). The first max positional arguments go to positional[], and
 * *count counts them all, so the caller can say what it expected. Returns
 * CLI_OK; -1 after printing usage for --help (the caller then exits 0);
 * CLI_USAGE after printing why (unknown option, bad value). */
int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage,
              char **positional, size_t max, size_t *count);

/* Print a JSON value to stdout, one document and a newline, and release it.
 * Returns CLI_OK, or CLI_FAILURE when it cannot be written. */
int cli_print_json(json_t *value);

/* Run a subcommand from a table: argv[0] is the group name ("materials"). */
int cli_dispatch(const char *group, const cli_command *table, int argc,
                 char **argv);

/* hw list (cmd-hw-list.c): devices present, drivers, and a lab's devices. */
int cli_hw_list(const char *path, bool json);

int cmd_materials(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_autocorr(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_tolerance(int argc, char **argv);
int cmd_design(int argc, char **argv);
int cmd_hw(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_journal(int argc, char **argv);

#endif
