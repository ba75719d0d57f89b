/* shapectl materials list | show: what the toolkit knows of each crystal. */
#include "cli.h"

#include "shp/error.h"
#include "shp/material.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char list_usage[] =
    "usage: shapectl materials list [--json]\n"
    "\n"
    "List the crystal materials found in the data directories.\n"
    "\n"
    "  --json   print a JSON object {\"materials\": [...]}\n";

static const char show_usage[] =
    "usage: shapectl materials show NAME --wavelength-nm X [--temperature-c "
    "T]\n"
    "                               [--length-mm L] [--json]\n"
    "\n"
    "Indices, group indices, group-delay difference, GVD and temperature\n"
    "tuning of a material at one wavelength. NAME is a material name or the\n"
    "path of a material file.\n"
    "\n"
    "  --wavelength-nm X   vacuum wavelength in nm (required)\n"
    "  --temperature-c T   crystal temperature (default: the material's\n"
    "                      reference temperature)\n"
    "  --length-mm L       plate length for the phase delay and full-wave\n"
    "                      temperature (default 1)\n"
    "  --json              print one JSON object\n";

static int list_run(int argc, char **argv) {
  bool json = false;
  const cli_opt opts[] = {CLI_OPT("json", CLI_FLAG, &json), CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, list_usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if (npos != 0) {
    cli_error("materials list: unexpected argument \"%s\"", pos[0]);
    return CLI_USAGE;
  }
  char **names;
  size_t count;
  rc = shp_material_names(&names, &count);
  if (rc != SHP_OK)
    return cli_fail_lib(rc);
  json_t *arr = json ? json_array() : NULL;
  int status = CLI_OK;
  for (size_t i = 0; i < count; i++) {
    shp_material *m = shp_material_open(names[i]);
    if (m == NULL) {
      status = cli_fail_lib(shp_error_last());
      continue;
    }
    double lo, hi;
    shp_material_range_um(m, &lo, &hi);
    if (json) {
      json_array_append_new(
          arr, json_pack("{s:s, s:s, s:[f,f], s:f, s:s}", "name",
                         shp_material_name(m), "description",
                         shp_material_description(m), "wavelength_range_nm",
                         lo * 1e3, hi * 1e3, "reference_temperature_c",
                         shp_material_reference_temperature_c(m), "path",
                         shp_material_path(m)));
    } else {
      printf("%-12s %6.0f-%-6.0f nm  %s\n", shp_material_name(m), lo * 1e3,
             hi * 1e3, shp_material_description(m));
    }
    shp_material_free(m);
  }
  shp_material_names_free(names, count);
  if (json) {
    int prc = cli_print_json(json_pack("{s:o}", "materials", arr));
    return status != CLI_OK ? status : prc;
  }
  return status;
}

typedef struct {
  const char *name;
  double wavelength_nm, temperature_c, length_mm;
  bool has_wavelength, has_temperature, json;
} show_args;

static int parse_show(int argc, char **argv, show_args *a) {
  memset(a, 0, sizeof *a);
  a->length_mm = 1.0;
  const cli_opt opts[] = {CLI_OPT_SEEN("wavelength-nm", CLI_DOUBLE,
                                       &a->wavelength_nm, &a->has_wavelength),
                          CLI_OPT_SEEN("temperature-c", CLI_DOUBLE,
                                       &a->temperature_c, &a->has_temperature),
                          CLI_OPT("length-mm", CLI_DOUBLE, &a->length_mm),
                          CLI_OPT("json", CLI_FLAG, &a->json), CLI_OPT_END};
  char *pos[1];
  size_t npos;
  int rc = cli_parse(argc, argv, opts, show_usage, pos, 1, &npos);
  if (rc != CLI_OK)
    return rc;
  if (npos != 1) {
    cli_error("materials show: expected one material name");
    fputs(show_usage, stderr);
    return CLI_USAGE;
  }
  a->name = pos[0];
  if (!a->has_wavelength) {
    cli_error("materials show: --wavelength-nm is required");
    return CLI_USAGE;
  }
  if (!(a->wavelength_nm > 0)) {
    cli_error("--wavelength-nm: must be > 0, got %g", a->wavelength_nm);
    return CLI_USAGE;
  }
  if (!(a->length_mm > 0)) {
    cli_error("--length-mm: must be > 0, got %g", a->length_mm);
    return CLI_USAGE;
  }
  if (a->has_temperature &&
      !(a->temperature_c > SHP_MATERIAL_MIN_TEMPERATURE_C &&
        a->temperature_c <= SHP_MATERIAL_MAX_TEMPERATURE_C)) {
    cli_error("--temperature-c: must be above %g and at most %g C, got %g",
              SHP_MATERIAL_MIN_TEMPERATURE_C, SHP_MATERIAL_MAX_TEMPERATURE_C,
              a->temperature_c);
    return CLI_USAGE;
  }
  return CLI_OK;
}

static json_t *props_json(const shp_material *m, const show_args *a,
                          const shp_material_props *p) {
  /* JSON has no infinity: a phase that does not depend on temperature has no
   * full-wave temperature, written as null (json_pack fails on inf). */
  json_t *full_wave = isfinite(p->full_wave_temperature_k)
                          ? json_real(p->full_wave_temperature_k)
                          : json_null();
  return json_pack(
      "{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
      "s:o, s:{s:s, s:s, s:s}}",
      "material", shp_material_name(m), "wavelength_nm", a->wavelength_nm,
      "temperature_c", a->temperature_c, "length_mm", a->length_mm, "n_o",
      p->n_o, "n_e", p->n_e, "group_index_o", p->group_index_o, "group_index_e",
      p->group_index_e, "group_delay_ps_per_mm", p->group_delay_ps_per_mm,
      "gvd_o_fs2_per_mm", p->gvd_o_fs2_per_mm, "gvd_e_fs2_per_mm",
      p->gvd_e_fs2_per_mm, "dphase_dT_rad_per_K_per_mm",
      p->dphase_dT_rad_per_K_per_mm, "phase_delay_rad", p->phase_delay_rad,
      "full_wave_temperature_k", full_wave, "sources", "o",
      shp_material_source(m, SHP_AXIS_O), "e",
      shp_material_source(m, SHP_AXIS_E), "thermal_expansion",
      shp_material_expansion_source(m));
}

static void props_print(const shp_material *m, const show_args *a,
                        const shp_material_props *p) {
  printf("%s at %g nm, %g C\n", shp_material_name(m), a->wavelength_nm,
         a->temperature_c);
  printf("  n_o, n_e                 %.6f  %.6f\n", p->n_o, p->n_e);
  printf("  group index o, e         %.6f  %.6f\n", p->group_index_o,
         p->group_index_e);
  printf("  group delay o-e          %.6f ps/mm\n", p->group_delay_ps_per_mm);
  printf("  GVD o, e                 %.3f  %.3f fs^2/mm\n", p->gvd_o_fs2_per_mm,
         p->gvd_e_fs2_per_mm);
  printf("  d(phase e-o)/dT          %.6f rad/K/mm\n",
         p->dphase_dT_rad_per_K_per_mm);
  printf("  phase delay e-o          %.4f rad for %g mm\n", p->phase_delay_rad,
         a->length_mm);
  printf("  one full wave per        %.4f K for %g mm\n",
         p->full_wave_temperature_k, a->length_mm);
}

static int show_run(int argc, char **argv) {
  show_args a;
  int rc = parse_show(argc, argv, &a);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  shp_material *m = shp_material_open(a.name);
  if (m == NULL)
    return cli_fail_lib(shp_error_last());
  if (!a.has_temperature)
    a.temperature_c = shp_material_reference_temperature_c(m);
  shp_material_props p;
  rc = shp_material_props_at(m, a.wavelength_nm, a.temperature_c, a.length_mm,
                             &p);
  int status = CLI_OK;
  if (rc != SHP_OK)
    status = cli_fail_lib(rc);
  else if (a.json)
    status = cli_print_json(props_json(m, &a, &p));
  else
    props_print(m, &a, &p);
  shp_material_free(m);
  return status;
}

static const cli_command materials_commands[] = {
    {"list", list_run, "list the known materials"},
    {"show", show_run, "properties of one material at a wavelength"},
    {NULL, NULL, NULL},
};

int cmd_materials(int argc, char **argv) {
  return cli_dispatch("materials", materials_commands, argc, argv);
}
