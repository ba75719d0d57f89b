/* shapectl simulate: what a stack does to its pulse. */
#include "cli.h"
#include "output.h"
#include "verdict.h"

#include "shp/error.h"
#include "shp/planning.h"
#include "shp/simulation.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: shapectl simulate STACK.yml [--target TARGET.yml] [--json | --csv "
    "DIR]\n"
    "                         [--plot FILE] [--no-dispersion]\n"
    "                         [--calibration FILE]\n"
    "\n"
    "Send the stack file's pulse through its crystals and report the output:\n"
    "intensity in both polarisations and total, spectrum, autocorrelation and\n"
    "metrics (transmission, FWHM, rise and fall time, ripple, peak, and the\n"
    "error against a target).\n"
    "\n"
    "  --target FILE    compare with a target waveform\n"
    "  --json           print one JSON object on stdout\n"
    "  --csv DIR        write intensity.csv, spectrum.csv, "
    "autocorrelation.csv\n"
    "                   and metrics.csv into DIR (created if missing)\n"
    "  --plot FILE      draw intensity, autocorrelation and spectrum to a\n"
    "                   .png, .svg or .pdf file\n"
    "  --no-dispersion  take each crystal's phase to first order about the\n"
    "                   carrier (pure delays), for comparison\n"
    "  --calibration FILE  use the crystal phases measured by shapectl\n"
    "                   calibrate (offsets and slopes) instead of the\n"
    "                   stack file's\n";

typedef struct {
  const char *stack, *target, *csv_dir, *plot, *calibration;
  bool json, no_dispersion;
} args;

static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  const cli_opt opts[] = {CLI_OPT("target", CLI_STRING, &a->target),
                          CLI_OPT("json", CLI_FLAG, &a->json),
                          CLI_OPT("csv", CLI_STRING, &a->csv_dir),
                          CLI_OPT("plot", CLI_STRING, &a->plot),
                          CLI_OPT("no-dispersion", CLI_FLAG, &a->no_dispersion),
                          CLI_OPT("calibration", CLI_STRING, &a->calibration),
                          CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  if (npos != 1) {
    cli_error("simulate: expected one stack file");
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  if (a->json && a->csv_dir != NULL) {
    cli_error("simulate: --json and --csv exclude each other");
    return CLI_USAGE;
  }
  a->stack = pos[0];
  if (a->plot != NULL && !cli_plot_path_ok(a->plot))
    return CLI_USAGE;
  return CLI_OK;
}

static json_t *to_json(const shp_stack *s, const shp_simulation *sim) {
  size_t n = sim->n;
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(s->name));
  json_object_set_new(o, "grid",
                      json_pack("{s:I, s:o, s:o}", "points", (json_int_t)n,
                                "window_ps",
                                out_number(shp_grid_window_ps(&sim->grid)),
                                "dt_ps", out_number(sim->grid.dt)));
  json_object_set_new(o, "metrics", out_metrics(&sim->metrics));
  json_object_set_new(o, "time_ps", out_array(sim->time_ps, n));
  json_object_set_new(o, "intensity", out_array(sim->intensity, n));
  json_object_set_new(o, "intensity_x", out_array(sim->intensity_x, n));
  json_object_set_new(o, "intensity_y", out_array(sim->intensity_y, n));
  if (sim->target != NULL)
    json_object_set_new(o, "target", out_array(sim->target, n));
  json_object_set_new(o, "spectrum",
                      json_pack("{s:o, s:o}", "wavelength_nm",
                                out_array(sim->wavelength_nm, n), "value",
                                out_array(sim->spectrum, n)));
  json_object_set_new(o, "autocorrelation",
                      json_pack("{s:o, s:o}", "delay_ps",
                                out_array(sim->delay_ps, 2 * n), "value",
                                out_array(sim->autocorrelation, 2 * n)));
  return o;
}

static int write_csv_dir(const char *dir, const shp_simulation *sim) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    cli_error("%s: cannot create the directory", dir);
    return CLI_FAILURE;
  }
  char path[PATH_MAX];
  size_t n = sim->n;
  const double *intensity[] = {sim->time_ps, sim->intensity, sim->intensity_x,
                               sim->intensity_y, sim->target};
  snprintf(path, sizeof path, "%s/intensity.csv", dir);
  if (out_csv(path,
              sim->target ? "time_ps,intensity,intensity_x,intensity_y,target"
                          : "time_ps,intensity,intensity_x,intensity_y",
              n, intensity, sim->target ? 5 : 4) != 0)
    return cli_fail_lib(shp_error_last());
  const double *spectrum[] = {sim->wavelength_nm, sim->spectrum,
                              sim->input_spectrum};
  snprintf(path, sizeof path, "%s/spectrum.csv", dir);
  if (out_csv(path, "wavelength_nm,spectral_density,input_spectral_density", n,
              spectrum, 3) != 0)
    return cli_fail_lib(shp_error_last());
  const double *ac[] = {sim->delay_ps, sim->autocorrelation};
  snprintf(path, sizeof path, "%s/autocorrelation.csv", dir);
  if (out_csv(path, "delay_ps,autocorrelation", 2 * n, ac, 2) != 0)
    return cli_fail_lib(shp_error_last());
  const shp_metrics *m = &sim->metrics;
  static const char *const names[] = {
      "transmission", "peak",  "fwhm_ps",        "rise_time_ps", "fall_time_ps",
      "ripple",       "error", "error_shift_ps", "error_scale"};
  double values[] = {m->transmission, m->peak,           m->fwhm_ps,
                     m->rise_time_ps, m->fall_time_ps,   m->ripple,
                     m->error,        m->error_shift_ps, m->error_scale};
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  /* The error rows only with a target. */
  if (out_csv_named(path, names, values, m->has_error ? 9 : 6) != 0)
    return cli_fail_lib(shp_error_last());
  fprintf(stderr,
          "shapectl: wrote intensity.csv, spectrum.csv, "
          "autocorrelation.csv and metrics.csv in %s\n",
          dir);
  return CLI_OK;
}

static void print_metrics(const shp_stack *s, const shp_simulation *sim) {
  const shp_metrics *m = &sim->metrics;
  printf("%s\n", s->name);
  printf("  grid          %zu points over %g ps\n", sim->n,
         shp_grid_window_ps(&sim->grid));
  printf("  transmission  %.6f\n", m->transmission);
  printf("  peak          %.6g /ps\n", m->peak);
  printf("  FWHM          %.4f ps\n", m->fwhm_ps);
  printf("  rise, fall    %.4f, %.4f ps (10-90 %%)\n", m->rise_time_ps,
         m->fall_time_ps);
  printf("  ripple        %.4f over %.3f to %.3f ps\n", m->ripple,
         m->plateau_start_ps, m->plateau_end_ps);
  if (m->has_error)
    printf("  error         %.4f (shift %.4f ps, scale %.4g)\n", m->error,
           m->error_shift_ps, m->error_scale);
}

int cmd_simulate(int argc, char **argv) {
  /* One transform set per run: estimating beats measuring. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_stack *s;
  shp_target *t;
  if ((rc = cli_load_inputs(a.stack, a.calibration, a.target, &s, &t)) !=
      CLI_OK)
    return rc;
  shp_simulation *sim = shp_simulate(s, t, a.no_dispersion);
  int status = CLI_OK;
  if (sim == NULL) {
    status = cli_fail_lib(shp_error_last());
  } else {
    /* A pulse with no finite energy or error is no result to print. */
    const char *names[] = {"transmission", "peak", "error"};
    double values[] = {sim->metrics.transmission, sim->metrics.peak,
                       sim->metrics.error};
    status = cli_require_finite("simulate", names, values,
                                sim->metrics.has_error ? 3 : 2);
  }
  if (status == CLI_OK && a.plot != NULL)
    status = cli_plot_simulation(a.plot, s, sim);
  if (status == CLI_OK) {
    if (a.json)
      status = cli_print_json(to_json(s, sim));
    else if (a.csv_dir != NULL)
      status = write_csv_dir(a.csv_dir, sim);
    else
      print_metrics(s, sim);
  }
  shp_simulation_free(sim);
  shp_target_free(t);
  shp_stack_free(s);
  return status;
}
