#include "shp/stack.h"

#include "shp/error.h"
#include "shp/yamlfile.h"
#include "yaml-write.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- lifecycle ---------------------------------------------------------- */

void shp_stack_free(shp_stack *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->crystal_count; i++)
    free(s->crystals[i].material_name);
  free(s->crystals);
  for (size_t i = 0; i < s->material_count; i++)
    shp_material_free(s->materials[i]);
  free(s->materials);
  shp_spectrum_clear(&s->spectrum);
  free(s->spectrum_file);
  free(s->name);
  free(s->path);
  free(s);
}

shp_stack *shp_stack_new(const char *name, double center_wavelength_nm,
                         double fwhm_ps) {
  shp_stack *s = calloc(1, sizeof *s);
  if (s == NULL || (s->name = strdup(name ? name : "")) == NULL) {
    free(s);
    shp_error_set(SHP_ERR_NOMEM, "stack: out of memory");
    return NULL;
  }
  s->pulse.shape = SHP_PULSE_GAUSSIAN;
  s->pulse.center_wavelength_nm = center_wavelength_nm;
  s->pulse.fwhm_ps = fwhm_ps;
  return s;
}

/* A path relative to the directory of the file that names it. */
static void sibling_path(char *buf, size_t size, const char *base,
                         const char *rel) {
  const char *slash = base ? strrchr(base, '/') : NULL;
  if (rel[0] == '/' || slash == NULL)
    snprintf(buf, size, "%s", rel);
  else
    snprintf(buf, size, "%.*s/%s", (int)(slash - base), base, rel);
}

/* The stack's copy of a material, loaded once per distinct name. */
static const shp_material *stack_material(shp_stack *s, const char *name) {
  for (size_t i = 0; i < s->crystal_count; i++)
    if (s->crystals[i].material != NULL &&
        strcmp(s->crystals[i].material_name, name) == 0)
      return s->crystals[i].material;
  shp_material *m;
  /* The test of shp_material_open for a path, so that every path is taken
   * relative to the stack file, "my.yml" as well as "dir/my.yml". */
  size_t len = strlen(name);
  if (strchr(name, '/') != NULL ||
      (len >= 4 && strcmp(name + len - 4, ".yml") == 0) ||
      (len >= 5 && strcmp(name + len - 5, ".yaml") == 0)) {
    char path[PATH_MAX];
    sibling_path(path, sizeof path, s->path, name);
    m = shp_material_open(path);
  } else {
    m = shp_material_open(name);
  }
  if (m == NULL)
    return NULL;
  shp_material **grown =
      realloc(s->materials, (s->material_count + 1) * sizeof *grown);
  if (grown == NULL) {
    shp_material_free(m);
    shp_error_set(SHP_ERR_NOMEM, "stack: out of memory");
    return NULL;
  }
  s->materials = grown;
  s->materials[s->material_count++] = m;
  return m;
}

static shp_stack_crystal *push_crystal(shp_stack *s, const char *material) {
  shp_stack_crystal *grown =
      realloc(s->crystals, (s->crystal_count + 1) * sizeof *grown);
  if (grown == NULL)
    return NULL;
  s->crystals = grown;
  shp_stack_crystal *c = &s->crystals[s->crystal_count];
  memset(c, 0, sizeof *c);
  if ((c->material_name = strdup(material)) == NULL)
    return NULL;
  s->crystal_count++;
  return c;
}

int shp_stack_add_crystal(shp_stack *s, const char *material, double length_mm,
                          double azimuth_deg, double temperature_c) {
  if (s->crystal_count == SHP_STACK_MAX_CRYSTALS)
    return shp_error_set(SHP_ERR_RANGE, "stack: at most %d crystals",
                         SHP_STACK_MAX_CRYSTALS);
  const shp_material *m = stack_material(s, material);
  if (m == NULL)
    return shp_error_last();
  shp_stack_crystal *c = push_crystal(s, material);
  if (c == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "stack: out of memory");
  c->material = m;
  c->length_mm = length_mm;
  c->azimuth_deg = azimuth_deg;
  c->temperature_c = temperature_c;
  c->has_temperature = true;
  return SHP_OK;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
  shp_yaml *y;
  shp_stack *s;
} reader;

static int positive(reader *r, yaml_node_t *map, const char *ctx,
                    const char *key, double v) {
  if (v > 0)
    return SHP_OK;
  return shp_yaml_fail_code(SHP_ERR_RANGE, r->y, shp_yaml_get(r->y, map, key),
                            ctx, key, "must be > 0, got %g", v);
}

static const char *const pulse_keys[] = {
    "center_wavelength_nm", "fwhm_ps", "shape", "gdd_fs2", "tod_fs3",
    "spectrum_file",        NULL};

static int read_pulse(reader *r, yaml_node_t *root) {
  shp_yaml *y = r->y;
  shp_pulse *p = &r->s->pulse;
  yaml_node_t *map = shp_yaml_get(y, root, "pulse");
  if (map == NULL)
    return shp_yaml_fail(y, root, "", "pulse", "missing required key");
  int rc = shp_yaml_check_keys(y, map, "pulse", pulse_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, map, "pulse", "center_wavelength_nm",
                         &p->center_wavelength_nm);
  if (rc == SHP_OK)
    rc = positive(r, map, "pulse", "center_wavelength_nm",
                  p->center_wavelength_nm);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(y, map, "pulse", "gdd_fs2", &p->gdd_fs2, NULL);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(y, map, "pulse", "tod_fs3", &p->tod_fs3, NULL);
  if (rc != SHP_OK)
    return rc;
  const char *file = NULL, *shape = NULL;
  bool has_file = false, has_shape = false, has_fwhm = false;
  if ((rc = shp_yaml_string_opt(y, map, "pulse", "spectrum_file", &file,
                                &has_file)) != SHP_OK ||
      (rc = shp_yaml_string_opt(y, map, "pulse", "shape", &shape,
                                &has_shape)) != SHP_OK ||
      (rc = shp_yaml_number_opt(y, map, "pulse", "fwhm_ps", &p->fwhm_ps,
                                &has_fwhm)) != SHP_OK)
    return rc;
  if (has_file) {
    if (has_shape || has_fwhm)
      return shp_yaml_fail(y, shp_yaml_get(y, map, "spectrum_file"), "pulse",
                           "spectrum_file",
                           "give either spectrum_file or fwhm_ps and shape");
    char path[PATH_MAX];
    sibling_path(path, sizeof path, shp_yaml_path(y), file);
    if ((r->s->spectrum_file = strdup(file)) == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "out of memory");
    if ((rc = shp_spectrum_load_csv(path, &r->s->spectrum)) != SHP_OK)
      return shp_error_prefix(
          "%s:%d: pulse.spectrum_file: ", shp_yaml_path(y),
          shp_yaml_line(shp_yaml_get(y, map, "spectrum_file")));
    p->shape = SHP_PULSE_SPECTRUM;
    p->spectrum = &r->s->spectrum;
    return SHP_OK;
  }
  if (!has_fwhm)
    return shp_yaml_fail(y, map, "pulse", "fwhm_ps", "missing required key");
  if ((rc = positive(r, map, "pulse", "fwhm_ps", p->fwhm_ps)) != SHP_OK)
    return rc;
  p->shape = SHP_PULSE_GAUSSIAN;
  if (has_shape) {
    if (strcmp(shape, "gaussian") == 0)
      p->shape = SHP_PULSE_GAUSSIAN;
    else if (strcmp(shape, "sech2") == 0)
      p->shape = SHP_PULSE_SECH2;
    else
      return shp_yaml_fail(y, shp_yaml_get(y, map, "shape"), "pulse", "shape",
                           "expected gaussian or sech2, got \"%s\"", shape);
  }
  return SHP_OK;
}

static const char *const grid_keys[] = {"points", "window_ps", NULL};

static int read_grid(reader *r, yaml_node_t *root) {
  shp_yaml *y = r->y;
  yaml_node_t *map = shp_yaml_get(y, root, "grid");
  if (map == NULL)
    return SHP_OK;
  double points;
  int rc = shp_yaml_check_keys(y, map, "grid", grid_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, map, "grid", "points", &points);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, map, "grid", "window_ps", &r->s->grid_window_ps);
  if (rc != SHP_OK)
    return rc;
  if (!(points >= 16 && points <= (double)SHP_STACK_MAX_GRID_POINTS &&
        points == floor(points) && fmod(points, 2.0) == 0))
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, "points"),
                              "grid", "points",
                              "must be an even whole number from 16 to %zu, "
                              "got %g",
                              SHP_STACK_MAX_GRID_POINTS, points);
  if ((rc = positive(r, map, "grid", "window_ps", r->s->grid_window_ps)) !=
      SHP_OK)
    return rc;
  if (r->s->grid_window_ps > SHP_STACK_MAX_WINDOW_PS)
    return shp_yaml_fail_code(SHP_ERR_RANGE, y,
                              shp_yaml_get(y, map, "window_ps"), "grid",
                              "window_ps", "must be at most %g ps, got %g",
                              SHP_STACK_MAX_WINDOW_PS, r->s->grid_window_ps);
  r->s->grid_points = (size_t)points;
  r->s->has_grid = true;
  return SHP_OK;
}

static const char *const crystal_keys[] = {"material",
                                           "length_mm",
                                           "azimuth_deg",
                                           "temperature_c",
                                           "phase_offset_rad",
                                           "slope_correction_rad_per_k",
                                           NULL};

static int read_crystal(reader *r, yaml_node_t *map, size_t i) {
  shp_yaml *y = r->y;
  char ctx[32];
  snprintf(ctx, sizeof ctx, "crystals[%zu]", i);
  const char *material;
  int rc = shp_yaml_check_keys(y, map, ctx, crystal_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_string(y, map, ctx, "material", &material);
  if (rc != SHP_OK)
    return rc;
  const shp_material *m = stack_material(r->s, material);
  if (m == NULL)
    return shp_error_prefix("%s:%d: %s.material: ", shp_yaml_path(y),
                            shp_yaml_line(shp_yaml_get(y, map, "material")),
                            ctx);
  shp_stack_crystal *c = push_crystal(r->s, material);
  if (c == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  c->material = m;
  c->temperature_c = shp_material_reference_temperature_c(m);
  if ((rc = shp_yaml_number(y, map, ctx, "length_mm", &c->length_mm)) !=
          SHP_OK ||
      (rc = positive(r, map, ctx, "length_mm", c->length_mm)) != SHP_OK ||
      (rc = shp_yaml_number(y, map, ctx, "azimuth_deg", &c->azimuth_deg)) !=
          SHP_OK ||
      (rc = shp_yaml_number_opt(y, map, ctx, "temperature_c", &c->temperature_c,
                                &c->has_temperature)) != SHP_OK ||
      (rc = shp_yaml_number_opt(y, map, ctx, "phase_offset_rad",
                                &c->phase_offset_rad, &c->has_phase_offset)) !=
          SHP_OK ||
      (rc = shp_yaml_number_opt(y, map, ctx, "slope_correction_rad_per_k",
                                &c->slope_correction_rad_per_k,
                                &c->has_slope_correction)) != SHP_OK)
    return rc;
  if (c->temperature_c <= SHP_MATERIAL_MIN_TEMPERATURE_C)
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, map, "temperature_c"), ctx,
        "temperature_c", "must be above absolute zero, got %g",
        c->temperature_c);
  if (c->temperature_c > SHP_MATERIAL_MAX_TEMPERATURE_C)
    return shp_yaml_fail_code(SHP_ERR_RANGE, y,
                              shp_yaml_get(y, map, "temperature_c"), ctx,
                              "temperature_c", "must be at most %g C, got %g",
                              SHP_MATERIAL_MAX_TEMPERATURE_C, c->temperature_c);
  /* The carrier must lie where the material's data hold. */
  double lo, hi, l = r->s->pulse.center_wavelength_nm * 1e-3;
  shp_material_range_um(m, &lo, &hi);
  if (l < lo || l > hi)
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, map, "material"), ctx, "material",
        "the pulse's %g nm is outside %s's valid range %g to %g nm", l * 1e3,
        shp_material_name(m), lo * 1e3, hi * 1e3);
  return SHP_OK;
}

static int read_crystals(reader *r, yaml_node_t *root) {
  shp_yaml *y = r->y;
  yaml_node_t *seq = shp_yaml_get(y, root, "crystals");
  if (seq == NULL)
    return shp_yaml_fail(y, root, "", "crystals", "missing required key");
  int rc = shp_yaml_expect_sequence(y, seq, "", "crystals");
  if (rc != SHP_OK)
    return rc;
  size_t n = shp_yaml_seq_count(seq);
  if (n == 0)
    return shp_yaml_fail(y, seq, "", "crystals", "must list at least one");
  if (n > SHP_STACK_MAX_CRYSTALS)
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, seq, "", "crystals",
                              "at most %d crystals, got %zu",
                              SHP_STACK_MAX_CRYSTALS, n);
  for (size_t i = 0; i < n && rc == SHP_OK; i++)
    rc = read_crystal(r, shp_yaml_seq_item(y, seq, i), i);
  return rc;
}

static const char *const top_keys[] = {"name",        "pulse",
                                       "grid",        "input_polarizer_deg",
                                       "crystals",    "output_polarizer_deg",
                                       "double_pass", NULL};

static int read_stack(reader *r) {
  shp_yaml *y = r->y;
  yaml_node_t *root = shp_yaml_root(y);
  const char *name;
  int rc = shp_yaml_check_keys(y, root, "", top_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_string(y, root, "", "name", &name);
  if (rc != SHP_OK)
    return rc;
  if ((r->s->name = strdup(name)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  if ((rc = read_pulse(r, root)) != SHP_OK ||
      (rc = read_grid(r, root)) != SHP_OK)
    return rc;
  if ((rc = shp_yaml_number_opt(y, root, "", "input_polarizer_deg",
                                &r->s->input_polarizer_deg,
                                &r->s->has_input_polarizer)) != SHP_OK ||
      (rc = shp_yaml_number_opt(y, root, "", "output_polarizer_deg",
                                &r->s->output_polarizer_deg,
                                &r->s->has_output_polarizer)) != SHP_OK ||
      (rc = shp_yaml_bool_opt(y, root, "", "double_pass", &r->s->double_pass,
                              NULL)) != SHP_OK)
    return rc;
  return read_crystals(r, root);
}

shp_stack *shp_stack_load(const char *path) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL)
    return NULL;
  shp_stack *s = calloc(1, sizeof *s);
  if (s == NULL || (s->path = strdup(path)) == NULL) {
    free(s);
    shp_yaml_free(y);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  reader r = {.y = y, .s = s};
  int rc = read_stack(&r);
  shp_yaml_free(y);
  if (rc != SHP_OK) {
    shp_stack_free(s);
    return NULL;
  }
  return s;
}

/* ---- writing ------------------------------------------------------------ */

static void write_pulse(shp_yaml_writer *w, const shp_stack *s) {
  const shp_pulse *p = &s->pulse;
  shp_yw_scalar(w, "pulse", true);
  shp_yw_mapping(w, true, false);
  shp_yw_key_number(w, "center_wavelength_nm", p->center_wavelength_nm);
  if (p->shape == SHP_PULSE_SPECTRUM && s->spectrum_file != NULL) {
    shp_yw_key_string(w, "spectrum_file", s->spectrum_file);
  } else {
    shp_yw_key_number(w, "fwhm_ps", p->fwhm_ps);
    shp_yw_key_string(w, "shape",
                      p->shape == SHP_PULSE_SECH2 ? "sech2" : "gaussian");
  }
  if (p->gdd_fs2 != 0)
    shp_yw_key_number(w, "gdd_fs2", p->gdd_fs2);
  if (p->tod_fs3 != 0)
    shp_yw_key_number(w, "tod_fs3", p->tod_fs3);
  shp_yw_mapping(w, false, false);
}

static void write_crystals(shp_yaml_writer *w, const shp_stack *s) {
  shp_yw_scalar(w, "crystals", true);
  shp_yw_sequence(w, true, false);
  for (size_t i = 0; i < s->crystal_count; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    shp_yw_mapping(w, true, false);
    shp_yw_key_string(w, "material", c->material_name);
    shp_yw_key_number(w, "length_mm", c->length_mm);
    shp_yw_key_number(w, "azimuth_deg", c->azimuth_deg);
    if (c->has_temperature)
      shp_yw_key_number(w, "temperature_c", c->temperature_c);
    if (c->has_phase_offset)
      shp_yw_key_number(w, "phase_offset_rad", c->phase_offset_rad);
    if (c->has_slope_correction)
      shp_yw_key_number(w, "slope_correction_rad_per_k",
                        c->slope_correction_rad_per_k);
    shp_yw_mapping(w, false, false);
  }
  shp_yw_sequence(w, false, false);
}

static void write_document(shp_yaml_writer *w, const void *doc) {
  const shp_stack *s = doc;
  shp_yw_mapping(w, true, false);
  shp_yw_key_string(w, "name", s->name ? s->name : "");
  write_pulse(w, s);
  if (s->has_grid) {
    shp_yw_scalar(w, "grid", true);
    shp_yw_mapping(w, true, false);
    shp_yw_key_number(w, "points", (double)s->grid_points);
    shp_yw_key_number(w, "window_ps", s->grid_window_ps);
    shp_yw_mapping(w, false, false);
  }
  if (s->has_input_polarizer)
    shp_yw_key_number(w, "input_polarizer_deg", s->input_polarizer_deg);
  write_crystals(w, s);
  if (s->has_output_polarizer)
    shp_yw_key_number(w, "output_polarizer_deg", s->output_polarizer_deg);
  if (s->double_pass) {
    shp_yw_scalar(w, "double_pass", true);
    shp_yw_scalar(w, "true", true);
  }
  shp_yw_mapping(w, false, false);
}

int shp_stack_save(const shp_stack *s, const char *path) {
  return shp_yw_save(path, write_document, s);
}

/* ---- use ---------------------------------------------------------------- */

void shp_stack_path(const shp_stack *s, shp_element *elements, shp_path *path) {
  for (size_t i = 0; i < s->crystal_count; i++) {
    const shp_stack_crystal *c = &s->crystals[i];
    elements[i].kind = SHP_ELEMENT_CRYSTAL;
    elements[i].crystal = (shp_crystal){.material = c->material,
                                        .length_mm = c->length_mm,
                                        .azimuth_deg = c->azimuth_deg,
                                        .temperature_c = c->temperature_c,
                                        .phase_offset_rad = c->phase_offset_rad,
                                        .slope_correction_rad_per_k =
                                            c->slope_correction_rad_per_k};
  }
  memset(path, 0, sizeof *path);
  path->elements = elements;
  path->count = s->crystal_count;
  path->input_polarization_deg =
      s->has_input_polarizer ? s->input_polarizer_deg : 0.0;
  path->has_output_polarizer = s->has_output_polarizer;
  path->output_polarizer.angle_deg = s->output_polarizer_deg;
  path->double_pass = s->double_pass;
}

int shp_stack_grid(const shp_stack *s, double min_span_ps, shp_grid *g) {
  shp_element *el = calloc(s->crystal_count + 1, sizeof *el);
  if (el == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  shp_path path;
  shp_stack_path(s, el, &path);
  shp_grid_needs needs;
  double wl = s->pulse.center_wavelength_nm;
  int rc =
      shp_pulse_needs(&s->pulse, &needs.pulse_fwhm_ps, &needs.pulse_extent_ps);
  if (rc == SHP_OK)
    rc = shp_path_delay_span_ps(&path, wl, &needs.delay_span_ps);
  free(el);
  if (rc == SHP_OK && needs.delay_span_ps < min_span_ps)
    needs.delay_span_ps = min_span_ps;
  if (rc == SHP_OK) {
    if (s->has_grid) {
      rc = shp_grid_init(g, s->grid_points, s->grid_window_ps, wl);
      if (rc == SHP_OK)
        rc = shp_grid_check(g, &needs);
    } else {
      rc = shp_grid_choose(&needs, wl, g);
    }
  }
  if (rc != SHP_OK && s->path != NULL)
    shp_error_prefix("%s: ", s->path);
  return rc;
}
