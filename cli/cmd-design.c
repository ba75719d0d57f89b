/* shapectl design: a stack and its fabrication sheet for a target. */
#include "cli.h"
#include "output.h"
#include "verdict.h"

#include "shp/design.h"
#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: shapectl design --target TARGET.yml --material M --crystals N\n"
    "           --wavelength-nm X --fwhm-ps W [--type fan|folded|free]\n"
    "           [--double-pass] [--base-temperature-c T] [--seed S]\n"
    "           [--tolerance E] [--out STACK.yml] [--json]\n"
    "\n"
    "Design N equal plates for a target: their delay spreads the replicas\n"
    "over the target; a free stack (the default) takes its azimuths from\n"
    "Harris-Ammann-Chang synthesis of replica amplitudes fitted to the\n"
    "target, single or double pass; fan and folded are the Solc patterns.\n"
    "Every plate is warmed (from T, default 40 C) to its design phase and the\n"
    "whole is polished on the full model. The stack goes to --out (default\n"
    "stdout); the fabrication sheet (lengths, azimuths and temperatures with\n"
    "tolerances, expected metrics) goes to stdout, or to stderr when the\n"
    "stack does, or as JSON with --json.\n"
    "\n"
    "The design reaches the target when its expected RMS error is at most E\n"
    "(default: the target file's max_error, else 0.02) and it meets the\n"
    "target's max_ripple and min_transmission when the file gives them;\n"
    "otherwise the stack and sheet are still written, with a message, and\n"
    "the JSON's status is \"not_reached\" with the reason.\n"
    "\n"
    "Exit status: 0 the design reaches the target; 3 it was made but does\n"
    "not reach it; 1 a runtime failure (a result that is not finite, a file\n"
    "that cannot be written: nothing is written then); 2 bad usage or input.\n";

typedef struct {
  shp_design_spec spec;
  const char *target, *out, *type;
  double tolerance;
  bool json, has_crystals, has_wavelength, has_fwhm, has_tolerance;
} args;

static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->spec.base_temperature_c = 40.0;
  a->out = "-";
  size_t seed = 0;
  const cli_opt opts[] = {
      CLI_OPT("target", CLI_STRING, &a->target),
      CLI_OPT("material", CLI_STRING, &a->spec.material),
      CLI_OPT_SEEN("crystals", CLI_SIZE, &a->spec.crystals, &a->has_crystals),
      CLI_OPT_SEEN("wavelength-nm", CLI_DOUBLE, &a->spec.wavelength_nm,
                   &a->has_wavelength),
      CLI_OPT_SEEN("fwhm-ps", CLI_DOUBLE, &a->spec.fwhm_ps, &a->has_fwhm),
      CLI_OPT("type", CLI_STRING, &a->type),
      CLI_OPT("double-pass", CLI_FLAG, &a->spec.double_pass),
      CLI_OPT("base-temperature-c", CLI_DOUBLE, &a->spec.base_temperature_c),
      CLI_OPT("seed", CLI_SIZE, &seed),
      CLI_OPT_SEEN("tolerance", CLI_DOUBLE, &a->tolerance, &a->has_tolerance),
      CLI_OPT("out", CLI_STRING, &a->out),
      CLI_OPT("json", CLI_FLAG, &a->json),
      CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 0, &npos);
  if (rc != CLI_OK)
    return rc;
  a->spec.seed = seed;
  const char *missing = a->target == NULL          ? "--target"
                        : a->spec.material == NULL ? "--material"
                        : !a->has_crystals         ? "--crystals"
                        : !a->has_wavelength       ? "--wavelength-nm"
                        : !a->has_fwhm             ? "--fwhm-ps"
                                                   : NULL;
  if (missing != NULL || npos != 0) {
    cli_error("design: %s", missing ? "missing option" : "unexpected argument");
    if (missing)
      cli_error("%s is required", missing);
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  if (a->type == NULL || strcmp(a->type, "free") == 0)
    a->spec.type = SHP_DESIGN_FREE;
  else if (strcmp(a->type, "fan") == 0)
    a->spec.type = SHP_DESIGN_FAN;
  else if (strcmp(a->type, "folded") == 0)
    a->spec.type = SHP_DESIGN_FOLDED;
  else {
    cli_error("--type: expected fan, folded or free, got \"%s\"", a->type);
    return CLI_USAGE;
  }
  if (a->spec.crystals < 1 || a->spec.crystals > 12) {
    cli_error("--crystals: must be 1 to 12, got %zu", a->spec.crystals);
    return CLI_USAGE;
  }
  if (a->json && strcmp(a->out, "-") == 0) {
    cli_error("design: --json needs --out FILE for the stack");
    return CLI_USAGE;
  }
  if (a->has_tolerance && !(a->tolerance > 0)) {
    cli_error("--tolerance: must be > 0, got %g", a->tolerance);
    return CLI_USAGE;
  }
  if (shp_file_check_writable(a->out) != SHP_OK)
    return cli_fail_lib(shp_error_last());
  return CLI_OK;
}

static void print_sheet(FILE *f, const shp_design *d) {
  const shp_stack *s = d->stack;
  shp_fprintf(f, "Fabrication sheet: %s\n", s->name);
  shp_fprintf(f, "pulse %g ps at %g nm; plate delay %.4f ps%s\n",
              s->pulse.fwhm_ps, s->pulse.center_wavelength_nm,
              d->plate_delay_ps,
              s->double_pass ? "; double pass off a mirror" : "");
  shp_fprintf(f, "input polarizer %.3f deg", s->input_polarizer_deg);
  if (s->has_output_polarizer)
    shp_fprintf(f, ", output polarizer %.3f deg", s->output_polarizer_deg);
  shp_fprintf(f,
              "\n\n  #  material      length (mm)          azimuth (deg)     "
              "   temperature (C)\n");
  for (size_t i = 0; i < s->crystal_count; i++) {
    const shp_design_plate *p = &d->plates[i];
    shp_fprintf(
        f, "  %zu  %-12s %9.4f +- %.4f   %9.3f +- %-7.3f   %9.4f +- %.4f\n",
        i + 1, s->crystals[i].material_name, p->length_mm,
        p->length_tolerance_mm, p->azimuth_deg, p->azimuth_tolerance_deg,
        p->temperature_c, p->temperature_tolerance_k);
  }
  shp_fprintf(f, "\nTolerances: azimuth and temperature raise the RMS error by "
                 "0.01; length moves a replica by 2 %% of the pulse width (its "
                 "phase is taken up by the oven).\n");
  const shp_metrics *m = &d->metrics;
  shp_fprintf(f,
              "Expected: error %.4f, transmission %.4f, ripple %.4f, FWHM %.3f "
              "ps, rise %.3f ps, fall %.3f ps\n",
              m->error, m->transmission, m->ripple, m->fwhm_ps, m->rise_time_ps,
              m->fall_time_ps);
  if (isfinite(d->fit_error))
    shp_fprintf(f, "Ideal replica fit: RMS intensity error %.4f\n",
                d->fit_error);
}

static json_t *sheet_json(const args *a, const shp_design *d,
                          const cli_verdict *v) {
  json_t *plates = json_array();
  for (size_t i = 0; i < d->stack->crystal_count; i++) {
    const shp_design_plate *p = &d->plates[i];
    json_array_append_new(
        plates,
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "material",
                  d->stack->crystals[i].material_name, "length_mm",
                  out_number(p->length_mm), "length_tolerance_mm",
                  out_number(p->length_tolerance_mm), "azimuth_deg",
                  out_number(p->azimuth_deg), "azimuth_tolerance_deg",
                  out_number(p->azimuth_tolerance_deg), "temperature_c",
                  out_number(p->temperature_c), "temperature_tolerance_k",
                  out_number(p->temperature_tolerance_k)));
  }
  return cli_verdict_json(json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "stack",
                                    a->out, "plate_delay_ps",
                                    out_number(d->plate_delay_ps), "fit_error",
                                    out_number(d->fit_error), "plates", plates,
                                    "synthesis", out_metrics(&d->synthesis),
                                    "metrics", out_metrics(&d->metrics)),
                          v);
}

/* Every number of the sheet finite, or a failure with nothing written. */
static int check_finite(const shp_design *d) {
  const shp_stack *s = d->stack;
  const char *names[] = {"error", "transmission", "plate delay"};
  double values[] = {d->metrics.error, d->metrics.transmission,
                     d->plate_delay_ps};
  int rc = cli_require_finite("design", names, values, 3);
  for (size_t i = 0; rc == CLI_OK && i < s->crystal_count; i++) {
    const shp_design_plate *p = &d->plates[i];
    const char *pn[] = {"length", "azimuth", "temperature"};
    double pv[] = {p->length_mm, p->azimuth_deg, p->temperature_c};
    rc = cli_require_finite("design", pn, pv, 3);
  }
  return rc;
}

int cmd_design(int argc, char **argv) {
  args a;
  int rc = parse(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_target *t = shp_target_load(a.target);
  if (t == NULL)
    return cli_fail_lib(shp_error_last());
  a.spec.target = t;
  shp_design *d = shp_design_run(&a.spec);
  int status = CLI_OK;
  cli_verdict v = {0};
  if (d != NULL) {
    cli_goal goal = cli_goal_of(t, a.tolerance, a.has_tolerance, 0.02, 0);
    v = cli_judge(&goal, &d->metrics);
  }
  if (d == NULL) {
    status = cli_fail_lib(shp_error_last());
  } else if ((status = check_finite(d)) != CLI_OK) {
    /* reported */
  } else if (shp_stack_save(d->stack, a.out) != SHP_OK) {
    status = cli_fail_lib(shp_error_last());
  } else if (a.json) {
    status = cli_print_json(sheet_json(&a, d, &v));
  } else {
    bool to_stdout = strcmp(a.out, "-") != 0;
    if (to_stdout)
      fprintf(stderr, "shapectl: wrote %s\n", a.out);
    print_sheet(to_stdout ? stdout : stderr, d);
  }
  if (status == CLI_OK && !v.reached) {
    cli_error("design: %s", v.reason);
    status = CLI_NOT_REACHED;
  }
  shp_design_free(d);
  shp_target_free(t);
  return status;
}
