/* shapectl autocorr: the intensity autocorrelation of a trace. */
#include "cli.h"
#include "output.h"

#include "shp/diag.h"
#include "shp/error.h"
#include "shp/planning.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: shapectl autocorr FILE.csv [--json]\n"
    "\n"
    "The background-free intensity autocorrelation of a trace given as CSV\n"
    "rows \"time_ps, intensity\" on a uniform time step (a header line is\n"
    "allowed). Prints delay_ps,autocorrelation rows on stdout, or one JSON\n"
    "object with --json; the autocorrelation FWHM and the pulse FWHM it\n"
    "implies for Gaussian (/1.4142) and sech^2 (/1.5427) pulses go to stderr\n"
    "(and into the JSON).\n";

typedef struct {
  double *t, *v;
  int *line; /* the file line of each row, for messages */
  size_t n;
} trace;

static int read_trace(const char *path, trace *tr) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return shp_error_set(SHP_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
  char line[512];
  size_t cap = 0;
  int lineno = 0, rc = SHP_OK;
  while (rc == SHP_OK && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
      continue;
    char *end, *end2;
    double a = strtod(line, &end);
    while (*end == ',' || *end == ' ' || *end == '\t' || *end == ';')
      end++;
    double b = strtod(end, &end2);
    if (end == line || end2 == end || !isfinite(a) || !isfinite(b)) {
      if (tr->n == 0 && lineno == 1)
        continue; /* a header */
      rc =
          shp_error_set(SHP_ERR_PARSE, "%s:%d: expected \"time_ps, intensity\"",
                        path, lineno);
      break;
    }
    if (tr->n == cap) {
      cap = cap ? 2 * cap : 1024;
      double *nt = realloc(tr->t, cap * sizeof *nt);
      if (nt != NULL)
        tr->t = nt;
      double *nv = realloc(tr->v, cap * sizeof *nv);
      if (nv != NULL)
        tr->v = nv;
      int *nl = realloc(tr->line, cap * sizeof *nl);
      if (nl != NULL)
        tr->line = nl;
      if (nt == NULL || nv == NULL || nl == NULL) {
        rc = shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
    }
    tr->t[tr->n] = a;
    tr->v[tr->n] = b;
    tr->line[tr->n] = lineno;
    tr->n++;
  }
  fclose(f);
  if (rc == SHP_OK && tr->n < 4)
    rc = shp_error_set(SHP_ERR_PARSE, "%s: need at least 4 rows, got %zu", path,
                       tr->n);
  /* A uniform step, to a part in 1e6 of the step. */
  double dt = rc == SHP_OK ? (tr->t[tr->n - 1] - tr->t[0]) / (tr->n - 1) : 0;
  if (rc == SHP_OK && !(dt > 0))
    rc = shp_error_set(SHP_ERR_PARSE, "%s: time_ps must increase", path);
  for (size_t i = 1; rc == SHP_OK && i < tr->n; i++)
    if (fabs(tr->t[i] - tr->t[i - 1] - dt) > 1e-6 * dt)
      rc = shp_error_set(SHP_ERR_PARSE,
                         "%s:%d: time_ps: the step %g ps differs from the "
                         "average %g ps; resample onto a uniform step",
                         path, tr->line[i], tr->t[i] - tr->t[i - 1], dt);
  return rc;
}

int cmd_autocorr(int argc, char **argv) {
  /* One transform set per run: estimating beats measuring. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'j') {
      json = true;
    } else if (c == 'h') {
      fputs(usage, stdout);
      return CLI_OK;
    } else {
      fputs(usage, stderr);
      return CLI_USAGE;
    }
  }
  if (optind + 1 != argc) {
    cli_error("autocorr: expected one CSV file");
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  trace tr = {0};
  int rc = read_trace(argv[optind], &tr);
  shp_diag *d = rc == SHP_OK ? shp_diag_new(tr.n) : NULL;
  double *ac = d ? malloc(2 * tr.n * sizeof *ac) : NULL;
  double *delay = d ? malloc(2 * tr.n * sizeof *delay) : NULL;
  if (rc == SHP_OK && (d == NULL || ac == NULL || delay == NULL))
    rc = shp_error_last() ? shp_error_last()
                          : shp_error_set(SHP_ERR_NOMEM, "out of memory");
  if (rc == SHP_OK) {
    rc = shp_diag_autocorrelation(d, tr.v, SHP_AC_BACKGROUND_FREE, ac);
    if (rc != SHP_OK)
      shp_error_prefix("%s: ", argv[optind]);
  }
  int status = CLI_OK;
  if (rc != SHP_OK) {
    status = cli_fail_lib(rc);
  } else {
    double dt = (tr.t[tr.n - 1] - tr.t[0]) / (double)(tr.n - 1);
    for (size_t j = 0; j < 2 * tr.n; j++)
      delay[j] = ((double)j - (double)tr.n) * dt;
    double w = shp_fwhm(ac, 2 * tr.n, dt);
    fprintf(stderr,
            "shapectl: autocorrelation FWHM %.4g ps; pulse FWHM %.4g ps if "
            "Gaussian, %.4g ps if sech^2\n",
            w, w / sqrt(2.0), w / 1.5427);
    if (json) {
      json_t *o = json_object();
      json_object_set_new(o, "fwhm_ps", out_number(w));
      json_object_set_new(o, "pulse_fwhm_ps",
                          json_pack("{s:o, s:o}", "gaussian",
                                    out_number(w / sqrt(2.0)), "sech2",
                                    out_number(w / 1.5427)));
      json_object_set_new(o, "delay_ps", out_array(delay, 2 * tr.n));
      json_object_set_new(o, "value", out_array(ac, 2 * tr.n));
      status = cli_print_json(o);
    } else {
      printf("delay_ps,autocorrelation\n");
      for (size_t j = 0; j < 2 * tr.n; j++)
        printf("%.10g,%.10g\n", delay[j], ac[j]);
      if (fflush(stdout) != 0)
        status = CLI_FAILURE;
    }
  }
  shp_diag_free(d);
  free(ac);
  free(delay);
  free(tr.t);
  free(tr.v);
  free(tr.line);
  return status;
}
