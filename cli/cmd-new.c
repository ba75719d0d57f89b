/* shapectl new solc | stacker: write a ready stack file. */
#include "cli.h"

#include "shp/error.h"
#include "shp/generate.h"
#include "shp/planning.h"

#include <stdio.h>
#include <string.h>

static const char solc_usage[] =
    "usage: shapectl new solc --type fan|folded --crystals N --material M\n"
    "                         --length-mm L --wavelength-nm X --fwhm-ps W\n"
    "                         [--base-temperature-c T] [--out FILE]\n"
    "\n"
    "A Solc shaper of N equal plates, rho = 45/N degrees: fan (rho, 3 rho,\n"
    "... between parallel polarizers) or folded (+rho, -rho, ... between\n"
    "crossed polarizers). Each plate is warmed to the lowest temperature\n"
    "from T (default 40 C) where it is a full wave (fan) or a half wave\n"
    "(folded) at the wavelength. The stack file goes to FILE or stdout.\n";

static const char stacker_usage[] =
    "usage: shapectl new stacker --crystals N --material M --wavelength-nm X\n"
    "                            --fwhm-ps W [--spacing-ps S]\n"
    "                            [--base-temperature-c T] [--out FILE]\n"
    "\n"
    "A binary stacker: N plates with lengths halving, axes 45 degrees apart,\n"
    "giving 2^N replicas S ps apart (default: the pulse FWHM, which joins\n"
    "them into a flat top). Each plate is tuned to a full wave from T\n"
    "(default 40 C). The stack file goes to FILE or stdout.\n";

typedef struct {
  const char *type, *material, *out;
  size_t crystals;
  double length_mm, wavelength_nm, fwhm_ps, spacing_ps, base_c;
  bool has_crystals, has_length, has_wavelength, has_fwhm;
} args;

static int parse(int argc, char **argv, args *a, const char *usage) {
  memset(a, 0, sizeof *a);
  a->base_c = 40.0;
  a->out = "-";
  const cli_opt opts[] = {
      CLI_OPT("type", CLI_STRING, &a->type),
      CLI_OPT_SEEN("crystals", CLI_SIZE, &a->crystals, &a->has_crystals),
      CLI_OPT("material", CLI_STRING, &a->material),
      CLI_OPT_SEEN("length-mm", CLI_DOUBLE, &a->length_mm, &a->has_length),
      CLI_OPT_SEEN("wavelength-nm", CLI_DOUBLE, &a->wavelength_nm,
                   &a->has_wavelength),
      CLI_OPT_SEEN("fwhm-ps", CLI_DOUBLE, &a->fwhm_ps, &a->has_fwhm),
      CLI_OPT("spacing-ps", CLI_DOUBLE, &a->spacing_ps),
      CLI_OPT("base-temperature-c", CLI_DOUBLE, &a->base_c),
      CLI_OPT("out", CLI_STRING, &a->out),
      CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  if (npos != 0) {
    cli_error("unexpected argument \"%s\"", pos[0]);
    return CLI_USAGE;
  }
  const char *missing = !a->has_crystals      ? "--crystals"
                        : a->material == NULL ? "--material"
                        : !a->has_wavelength  ? "--wavelength-nm"
                        : !a->has_fwhm        ? "--fwhm-ps"
                                              : NULL;
  if (missing != NULL) {
    cli_error("%s is required", missing);
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  if (!(a->wavelength_nm > 0) || !(a->fwhm_ps > 0)) {
    cli_error("--wavelength-nm and --fwhm-ps must be > 0");
    return CLI_USAGE;
  }
  return CLI_OK;
}

static int finish(shp_stack *s, const char *out) {
  if (s == NULL) {
    if (shp_error_last() == SHP_ERR_NOT_FOUND)
      shp_error_prefix("--material: ");
    return cli_fail_lib(shp_error_last());
  }
  int rc = shp_stack_save(s, out);
  shp_stack_free(s);
  if (rc != SHP_OK)
    return cli_fail_lib(rc);
  if (strcmp(out, "-") != 0)
    fprintf(stderr, "shapectl: wrote %s\n", out);
  return CLI_OK;
}

static int solc_run(int argc, char **argv) {
  args a;
  int rc = parse(argc, argv, &a, solc_usage);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_solc_type type;
  if (a.type != NULL && strcmp(a.type, "fan") == 0) {
    type = SHP_SOLC_FAN;
  } else if (a.type != NULL && strcmp(a.type, "folded") == 0) {
    type = SHP_SOLC_FOLDED;
  } else {
    cli_error("--type: expected fan or folded%s%s%s", a.type ? ", got \"" : "",
              a.type ? a.type : "", a.type ? "\"" : "");
    return CLI_USAGE;
  }
  if (!a.has_length || !(a.length_mm > 0)) {
    cli_error("--length-mm: required, and must be > 0");
    return CLI_USAGE;
  }
  if (a.crystals < 1 || a.crystals > 64) {
    cli_error("--crystals: must be 1 to 64, got %zu", a.crystals);
    return CLI_USAGE;
  }
  return finish(shp_generate_solc(type, a.crystals, a.material, a.length_mm,
                                  a.wavelength_nm, a.fwhm_ps, a.base_c),
                a.out);
}

static int stacker_run(int argc, char **argv) {
  args a;
  int rc = parse(argc, argv, &a, stacker_usage);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if (a.type != NULL || a.has_length) {
    cli_error("new stacker: --type and --length-mm do not apply (lengths "
              "follow from --spacing-ps)");
    return CLI_USAGE;
  }
  if (a.crystals < 1 || a.crystals > 12) {
    cli_error("--crystals: must be 1 to 12, got %zu", a.crystals);
    return CLI_USAGE;
  }
  return finish(shp_generate_stacker(a.crystals, a.material, a.wavelength_nm,
                                     a.fwhm_ps, a.spacing_ps, a.base_c),
                a.out);
}

static const cli_command new_commands[] = {
    {"solc", solc_run, "a fan or folded Solc shaper"},
    {"stacker", stacker_run, "a binary stacker"},
    {NULL, NULL, NULL},
};

int cmd_new(int argc, char **argv) {
  /* One transform set per run: estimating beats measuring. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  return cli_dispatch("new", new_commands, argc, argv);
}
