#include "cli.h"

#include "shp/error.h"
#include "shp/numbers.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *fmt, ...) {
  va_list ap;
  fputs("shapectl: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_fail_lib(int code) {
  cli_error("%s", shp_error_detail());
  return shp_error_class_of(code) == SHP_ERROR_CLASS_INPUT ? CLI_USAGE
                                                           : CLI_FAILURE;
}

/* Options are read like files, in the C locale: "--temperature-c 40.5"
 * means the same under every locale. */
bool cli_parse_double(const char *name, const char *text, double *out) {
  double v;
  if (shp_parse_double(text, &v) != SHP_OK) {
    cli_error("%s: expected a finite number, got \"%s\"", name, text);
    return false;
  }
  *out = v;
  return true;
}

bool cli_parse_size(const char *name, const char *text, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || text[0] == '-') {
    cli_error("%s: expected a whole number, got \"%s\"", name, text);
    return false;
  }
  *out = (size_t)v;
  return true;
}

int cli_print_json(json_t *value) {
  if (value == NULL) {
    cli_error("out of memory");
    return CLI_FAILURE;
  }
  int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
  json_decref(value);
  if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
    cli_error("cannot write to standard output");
    return CLI_FAILURE;
  }
  return CLI_OK;
}

static void list_commands(FILE *out, const char *group,
                          const cli_command *table) {
  fprintf(out, "usage: shapectl %s%sCOMMAND [OPTIONS]\n\ncommands:\n",
          group ? group : "", group ? " " : "");
  for (const cli_command *c = table; c->name != NULL; c++)
    fprintf(out, "  %-12s %s\n", c->name, c->help);
}

int cli_dispatch(const char *group, const cli_command *table, int argc,
                 char **argv) {
  if (argc < 2) {
    list_commands(stderr, group, table);
    return CLI_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    list_commands(stdout, group, table);
    return CLI_OK;
  }
  for (const cli_command *c = table; c->name != NULL; c++)
    if (strcmp(c->name, argv[1]) == 0)
      return c->run(argc - 1, argv + 1);
  cli_error("unknown command \"%s%s%s\"; see 'shapectl %s%s--help'",
            group ? group : "", group ? " " : "", argv[1], group ? group : "",
            group ? " " : "");
  return CLI_USAGE;
}

/* The option table for getopt_long: entry i returns 256 + i. */
#define MAX_OPTIONS 40

static bool take_value(const cli_opt *o, const char *arg) {
  char name[64];
  snprintf(name, sizeof name, "--%s", o->name);
  switch (o->kind) {
  case CLI_FLAG:
    *(bool *)o->dest = true;
    return true;
  case CLI_DOUBLE:
    return cli_parse_double(name, arg, (double *)o->dest);
  case CLI_SIZE:
    return cli_parse_size(name, arg, (size_t *)o->dest);
  case CLI_STRING:
    *(const char **)o->dest = arg;
    return true;
  case CLI_CUSTOM:
    return o->parse(name, arg, o->dest);
  }
  return false;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage,
              char **positional, size_t max, size_t *count) {
  struct option table[MAX_OPTIONS + 2];
  size_t n = 0;
  for (; opts[n].name != NULL && n < MAX_OPTIONS; n++)
    table[n] = (struct option){opts[n].name,
                               opts[n].kind == CLI_FLAG ? no_argument
                                                        : required_argument,
                               NULL, 256 + (int)n};
  table[n] = (struct option){"help", no_argument, NULL, 'h'};
  table[n + 1] = (struct option){NULL, 0, NULL, 0};
  *count = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", table, NULL)) != -1) {
    if (c == 'h') {
      fputs(usage, stdout);
      return -1;
    }
    if (c < 256 || c >= 256 + (int)n) {
      fputs(usage, stderr);
      return CLI_USAGE;
    }
    const cli_opt *o = &opts[c - 256];
    if (!take_value(o, optarg))
      return CLI_USAGE;
    if (o->seen != NULL)
      *o->seen = true;
  }
  /* Extra positionals are counted, not kept: the caller says what it
   * expected. */
  for (; optind < argc; optind++, (*count)++)
    if (*count < max)
      positional[*count] = argv[optind];
  return CLI_OK;
}
