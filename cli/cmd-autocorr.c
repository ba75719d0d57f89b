/* shapectl autocorr: the intensity autocorrelation of a trace. */
#include "cli.h"
#include "output.h"

#include "shp/csv.h"
#include "shp/diag.h"
#include "shp/error.h"
#include "shp/numbers.h"
#include "shp/planning.h"

#include <errno.h>
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

/* A trace on a uniform time step, to a part in 1e6 of the step. */
static int read_trace(const char *path, shp_csv *tr, double *dt) {
  int rc = shp_csv_load(path, 2, 2, "time_ps, intensity", tr);
  if (rc != SHP_OK)
    return rc;
  size_t n = tr->rows;
  if (n < 4)
    return shp_error_set(SHP_ERR_PARSE, "%s: need at least 4 rows, got %zu",
                         path, n);
  *dt = (shp_csv_at(tr, n - 1, 0) - shp_csv_at(tr, 0, 0)) / (double)(n - 1);
  if (!(*dt > 0))
    return shp_error_set(SHP_ERR_PARSE, "%s: time_ps must increase", path);
  for (size_t i = 1; i < n; i++) {
    double step = shp_csv_at(tr, i, 0) - shp_csv_at(tr, i - 1, 0);
    if (fabs(step - *dt) > 1e-6 * *dt)
      return shp_error_set(SHP_ERR_PARSE,
                           "%s:%d: time_ps: the step %g ps differs from the "
                           "average %g ps; resample onto a uniform step",
                           path, tr->lines[i], step, *dt);
  }
  return SHP_OK;
}

int cmd_autocorr(int argc, char **argv) {
  /* One transform set per run: estimating beats measuring. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  bool json = false;
  const cli_opt opts[] = {CLI_OPT("json", CLI_FLAG, &json), CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int prc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (prc != CLI_OK)
    return prc < 0 ? CLI_OK : prc;
  if (npos != 1) {
    cli_error("autocorr: expected one CSV file");
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  shp_csv tr = {0};
  double dt = 0;
  int rc = read_trace(pos[0], &tr, &dt);
  size_t n = tr.rows;
  double *v = rc == SHP_OK ? malloc(n * sizeof *v) : NULL;
  shp_diag *d = v ? shp_diag_new(n) : NULL;
  double *ac = d ? malloc(2 * n * sizeof *ac) : NULL;
  double *delay = d ? malloc(2 * n * sizeof *delay) : NULL;
  if (rc == SHP_OK && (v == NULL || d == NULL || ac == NULL || delay == NULL))
    rc = shp_error_last() ? shp_error_last()
                          : shp_error_set(SHP_ERR_NOMEM, "out of memory");
  if (rc == SHP_OK) {
    for (size_t j = 0; j < n; j++)
      v[j] = shp_csv_at(&tr, j, 1);
    rc = shp_diag_autocorrelation(d, v, SHP_AC_BACKGROUND_FREE, ac);
    if (rc != SHP_OK)
      shp_error_prefix("%s: ", pos[0]);
  }
  int status = CLI_OK;
  if (rc != SHP_OK) {
    status = cli_fail_lib(rc);
  } else {
    for (size_t j = 0; j < 2 * n; j++)
      delay[j] = ((double)j - (double)n) * dt;
    double w = shp_fwhm(ac, 2 * n, dt);
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
      json_object_set_new(o, "delay_ps", out_array(delay, 2 * n));
      json_object_set_new(o, "value", out_array(ac, 2 * n));
      status = cli_print_json(o);
    } else {
      printf("delay_ps,autocorrelation\n");
      for (size_t j = 0; j < 2 * n; j++)
        shp_fprintf(stdout, "%.10g,%.10g\n", delay[j], ac[j]);
      if (fflush(stdout) != 0)
        status = CLI_FAILURE;
    }
  }
  shp_diag_free(d);
  free(ac);
  free(delay);
  free(v);
  shp_csv_clear(&tr);
  return status;
}
