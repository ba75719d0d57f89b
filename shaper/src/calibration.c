#include "shp/calibration.h"

#include "shp/error.h"
#include "shp/journal.h"
#include "shp/units.h"
#include "shp/yamlfile.h"
#include "yaml-write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifecycle ---------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *ok) {
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  if (d == NULL)
    *ok = false;
  return d;
}

shp_calibration *shp_calibration_new(size_t n, const char *lab,
                                     const char *stack,
                                     const char *stack_name) {
  shp_calibration *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  bool ok = true;
  c->lab = dup_or_null(lab, &ok);
  c->stack = dup_or_null(stack, &ok);
  c->stack_name = dup_or_null(stack_name, &ok);
  c->crystals = calloc(n ? n : 1, sizeof *c->crystals);
  if (!ok || c->crystals == NULL) {
    shp_calibration_free(c);
    return NULL;
  }
  return c;
}

void shp_calibration_free(shp_calibration *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->crystal_count; i++)
    free(c->crystals[i].material);
  free(c->crystals);
  free(c->path);
  free(c->created);
  free(c->lab);
  free(c->stack);
  free(c->stack_name);
  free(c->identifiability);
  free(c);
}

const shp_calibration_crystal *shp_calibration_find(const shp_calibration *c,
                                                    size_t index) {
  for (size_t i = 0; i < c->crystal_count; i++)
    if (c->crystals[i].index == index)
      return &c->crystals[i];
  return NULL;
}

/* ---- reading ------------------------------------------------------------ */

static const char *const top_keys[] = {
    "created",         "lab",      "stack", "stack_name", "residual_rms",
    "identifiability", "crystals", NULL};

static const char *const crystal_keys[] = {"index",
                                           "material",
                                           "length_mm",
                                           "reference_temperature_c",
                                           "phase_offset_rad",
                                           "phase_offset_sigma_rad",
                                           "slope_rad_per_k",
                                           "slope_sigma_rad_per_k",
                                           "model_slope_rad_per_k",
                                           "scan",
                                           NULL};

static const char *const scan_keys[] = {"from_c", "to_c", "points", NULL};

static int copy_string(shp_yaml *y, yaml_node_t *map, const char *ctx,
                       const char *key, bool required, char **out) {
  const char *s = NULL;
  bool present = true;
  int rc = required ? shp_yaml_string(y, map, ctx, key, &s)
                    : shp_yaml_string_opt(y, map, ctx, key, &s, &present);
  if (rc != SHP_OK || !present)
    return rc;
  if ((*out = strdup(s)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  return SHP_OK;
}

static int whole(shp_yaml *y, yaml_node_t *map, const char *ctx,
                 const char *key, double lo, double hi, size_t *out) {
  double v;
  int rc = shp_yaml_number(y, map, ctx, key, &v);
  if (rc != SHP_OK)
    return rc;
  if (!(v >= lo && v <= hi && v == floor(v)))
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, map, key), ctx, key,
        "must be a whole number from %g to %g, got %g", lo, hi, v);
  *out = (size_t)v;
  return SHP_OK;
}

static int positive(shp_yaml *y, yaml_node_t *map, const char *ctx,
                    const char *key, double *out) {
  int rc = shp_yaml_number(y, map, ctx, key, out);
  if (rc == SHP_OK && !(*out > 0))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, key), ctx,
                            key, "must be > 0, got %g", *out);
  return rc;
}

static int read_scan(shp_yaml *y, yaml_node_t *map, const char *ctx,
                     shp_calibration_crystal *k) {
  yaml_node_t *scan = shp_yaml_get(y, map, "scan");
  if (scan == NULL)
    return shp_yaml_fail(y, map, ctx, "scan", "missing required key");
  char sctx[48];
  snprintf(sctx, sizeof sctx, "%s.scan", ctx);
  int rc = shp_yaml_expect_mapping(y, scan, ctx, "scan");
  if (rc == SHP_OK)
    rc = shp_yaml_check_keys(y, scan, sctx, scan_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, scan, sctx, "from_c", &k->scan_from_c);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, scan, sctx, "to_c", &k->scan_to_c);
  if (rc == SHP_OK)
    rc = whole(y, scan, sctx, "points", 2, 100000, &k->scan_points);
  if (rc == SHP_OK && !(k->scan_to_c > k->scan_from_c))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, scan, "to_c"),
                            sctx, "to_c", "must be above from_c (%g), got %g",
                            k->scan_from_c, k->scan_to_c);
  return rc;
}

static int read_crystal(shp_yaml *y, yaml_node_t *map, size_t i,
                        shp_calibration *c) {
  char ctx[32];
  snprintf(ctx, sizeof ctx, "crystals[%zu]", i);
  int rc = shp_yaml_expect_mapping(y, map, "", ctx);
  if (rc == SHP_OK)
    rc = shp_yaml_check_keys(y, map, ctx, crystal_keys);
  if (rc != SHP_OK)
    return rc;
  shp_calibration_crystal *k = &c->crystals[c->crystal_count++];
  if ((rc = whole(y, map, ctx, "index", 0, 1e6, &k->index)) != SHP_OK ||
      (rc = copy_string(y, map, ctx, "material", true, &k->material)) !=
          SHP_OK ||
      (rc = positive(y, map, ctx, "length_mm", &k->length_mm)) != SHP_OK ||
      (rc = shp_yaml_number(y, map, ctx, "reference_temperature_c",
                            &k->reference_temperature_c)) != SHP_OK ||
      (rc = shp_yaml_number(y, map, ctx, "phase_offset_rad",
                            &k->phase_offset_rad)) != SHP_OK ||
      (rc = positive(y, map, ctx, "phase_offset_sigma_rad",
                     &k->phase_offset_sigma_rad)) != SHP_OK ||
      (rc = shp_yaml_number(y, map, ctx, "slope_rad_per_k",
                            &k->slope_rad_per_k)) != SHP_OK ||
      (rc = positive(y, map, ctx, "slope_sigma_rad_per_k",
                     &k->slope_sigma_rad_per_k)) != SHP_OK ||
      (rc = shp_yaml_number(y, map, ctx, "model_slope_rad_per_k",
                            &k->model_slope_rad_per_k)) != SHP_OK ||
      (rc = read_scan(y, map, ctx, k)) != SHP_OK)
    return rc;
  if (k->reference_temperature_c <= -273.15)
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, map, "reference_temperature_c"), ctx,
        "reference_temperature_c", "must be above absolute zero, got %g",
        k->reference_temperature_c);
  for (size_t j = 0; j + 1 < c->crystal_count; j++)
    if (c->crystals[j].index == k->index)
      return shp_yaml_fail(y, shp_yaml_get(y, map, "index"), ctx, "index",
                           "crystal %zu is calibrated twice (also "
                           "crystals[%zu])",
                           k->index, j);
  return SHP_OK;
}

static int read_calibration(shp_yaml *y, shp_calibration *c) {
  yaml_node_t *root = shp_yaml_root(y);
  int rc = shp_yaml_expect_mapping(y, root, "", "calibration");
  if (rc == SHP_OK)
    rc = shp_yaml_check_keys(y, root, "", top_keys);
  if (rc == SHP_OK)
    rc = copy_string(y, root, "", "created", true, &c->created);
  if (rc == SHP_OK)
    rc = copy_string(y, root, "", "lab", false, &c->lab);
  if (rc == SHP_OK)
    rc = copy_string(y, root, "", "stack", true, &c->stack);
  if (rc == SHP_OK)
    rc = copy_string(y, root, "", "stack_name", false, &c->stack_name);
  if (rc == SHP_OK)
    rc =
        copy_string(y, root, "", "identifiability", false, &c->identifiability);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(y, root, "", "residual_rms", &c->residual_rms,
                             NULL);
  if (rc != SHP_OK)
    return rc;
  yaml_node_t *seq = shp_yaml_get(y, root, "crystals");
  if (seq == NULL)
    return shp_yaml_fail(y, root, "", "crystals", "missing required key");
  if ((rc = shp_yaml_expect_sequence(y, seq, "", "crystals")) != SHP_OK)
    return rc;
  size_t n = shp_yaml_seq_count(seq);
  if (n == 0)
    return shp_yaml_fail(y, seq, "", "crystals", "must list at least one");
  /* A calibration is of a stack's crystals. */
  if (n > SHP_STACK_MAX_CRYSTALS)
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, seq, "", "crystals",
                              "at most %d crystals, got %zu",
                              SHP_STACK_MAX_CRYSTALS, n);
  free(c->crystals);
  if ((c->crystals = calloc(n, sizeof *c->crystals)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n && rc == SHP_OK; i++)
    rc = read_crystal(y, shp_yaml_seq_item(y, seq, i), i, c);
  return rc;
}

shp_calibration *shp_calibration_load(const char *path) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL)
    return NULL;
  shp_calibration *c = shp_calibration_new(0, NULL, NULL, NULL);
  if (c == NULL || (c->path = strdup(path)) == NULL) {
    shp_calibration_free(c);
    shp_yaml_free(y);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  int rc = read_calibration(y, c);
  shp_yaml_free(y);
  if (rc != SHP_OK) {
    shp_calibration_free(c);
    return NULL;
  }
  return c;
}

/* ---- writing ------------------------------------------------------------ */

static void write_crystal(shp_yaml_writer *w,
                          const shp_calibration_crystal *k) {
  shp_yw_mapping(w, true, false);
  shp_yw_key_size(w, "index", k->index);
  shp_yw_key_string(w, "material", k->material ? k->material : "");
  shp_yw_key_number(w, "length_mm", k->length_mm);
  shp_yw_key_number(w, "reference_temperature_c", k->reference_temperature_c);
  shp_yw_key_number(w, "phase_offset_rad", k->phase_offset_rad);
  shp_yw_key_number(w, "phase_offset_sigma_rad", k->phase_offset_sigma_rad);
  shp_yw_key_number(w, "slope_rad_per_k", k->slope_rad_per_k);
  shp_yw_key_number(w, "slope_sigma_rad_per_k", k->slope_sigma_rad_per_k);
  shp_yw_key_number(w, "model_slope_rad_per_k", k->model_slope_rad_per_k);
  shp_yw_scalar(w, "scan", true);
  shp_yw_mapping(w, true, true);
  shp_yw_key_number(w, "from_c", k->scan_from_c);
  shp_yw_key_number(w, "to_c", k->scan_to_c);
  shp_yw_key_size(w, "points", k->scan_points);
  shp_yw_mapping(w, false, true);
  shp_yw_mapping(w, false, false);
}

static void write_document(shp_yaml_writer *w, const void *doc) {
  const shp_calibration *c = doc;
  shp_yw_mapping(w, true, false);
  shp_yw_key_string(w, "created", c->created);
  if (c->lab != NULL)
    shp_yw_key_string(w, "lab", c->lab);
  shp_yw_key_string(w, "stack", c->stack ? c->stack : "");
  if (c->stack_name != NULL)
    shp_yw_key_string(w, "stack_name", c->stack_name);
  shp_yw_key_number(w, "residual_rms", c->residual_rms);
  if (c->identifiability != NULL)
    shp_yw_key_text(w, "identifiability", c->identifiability);
  shp_yw_scalar(w, "crystals", true);
  shp_yw_sequence(w, true, false);
  for (size_t i = 0; i < c->crystal_count; i++)
    write_crystal(w, &c->crystals[i]);
  shp_yw_sequence(w, false, false);
  shp_yw_mapping(w, false, false);
}

static int valid_for_writing(const shp_calibration *c) {
  if (c->crystal_count == 0)
    return shp_error_set(SHP_ERR_INVALID, "a calibration without crystals");
  for (size_t i = 0; i < c->crystal_count; i++) {
    const shp_calibration_crystal *k = &c->crystals[i];
    double v[] = {k->length_mm,
                  k->reference_temperature_c,
                  k->phase_offset_rad,
                  k->phase_offset_sigma_rad,
                  k->slope_rad_per_k,
                  k->slope_sigma_rad_per_k,
                  k->model_slope_rad_per_k,
                  k->scan_from_c,
                  k->scan_to_c};
    for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
      if (!isfinite(v[j]))
        return shp_error_set(SHP_ERR_INVALID,
                             "crystal %zu: a value that is not finite: not "
                             "determined by the calibration",
                             k->index);
  }
  return SHP_OK;
}

int shp_calibration_save(shp_calibration *c, const char *path) {
  int rc = valid_for_writing(c);
  if (rc != SHP_OK)
    return shp_error_prefix("%s: ", path);
  if (c->created == NULL) {
    char buf[SHP_TIMESTAMP_SIZE];
    shp_utc_timestamp(buf, false);
    if ((c->created = strdup(buf)) == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  }
  return shp_yw_save(path, write_document, c);
}

int shp_calibration_default_path(const char *dir, const char *stack_path,
                                 char *buf, size_t size) {
  const char *base = stack_path ? strrchr(stack_path, '/') : NULL;
  base = base ? base + 1 : (stack_path ? stack_path : "stack");
  size_t stem = strcspn(base, ".");
  char when[SHP_TIMESTAMP_SIZE];
  shp_utc_timestamp(when, true);
  int n = snprintf(buf, size, "%s/%.*s-%s.yml", dir, (int)stem, base, when);
  if (n < 0 || (size_t)n >= size)
    return shp_error_set(SHP_ERR_INVALID, "%s: path too long", dir);
  return SHP_OK;
}

/* ---- use ---------------------------------------------------------------- */

int shp_calibration_apply(const shp_calibration *c, shp_stack *s) {
  const char *name = c->path ? c->path : "calibration";
  /* Check everything before changing anything. */
  for (size_t i = 0; i < c->crystal_count; i++) {
    const shp_calibration_crystal *k = &c->crystals[i];
    if (k->index >= s->crystal_count)
      return shp_error_set(SHP_ERR_INVALID,
                           "%s: crystals[%zu]: calibrates crystal %zu, but "
                           "%s has %zu crystals: a calibration of another "
                           "stack",
                           name, i, k->index, s->path ? s->path : "the stack",
                           s->crystal_count);
    const shp_stack_crystal *sc = &s->crystals[k->index];
    if (strcmp(sc->material_name, k->material) != 0 ||
        fabs(sc->length_mm - k->length_mm) > 1e-3)
      return shp_error_set(SHP_ERR_INVALID,
                           "%s: crystals[%zu]: calibrated %s %g mm, but "
                           "crystal %zu of %s is %s %g mm: a calibration of "
                           "another stack",
                           name, i, k->material, k->length_mm, k->index,
                           s->path ? s->path : "the stack", sc->material_name,
                           sc->length_mm);
  }
  for (size_t i = 0; i < c->crystal_count; i++) {
    const shp_calibration_crystal *k = &c->crystals[i];
    shp_stack_crystal *sc = &s->crystals[k->index];
    /* The stack's form: offset + correction * (T - T0) on top of the
     * material model, equal to the measured offset at the reference. */
    double t0 = shp_material_reference_temperature_c(sc->material);
    double corr = k->slope_rad_per_k - k->model_slope_rad_per_k;
    sc->slope_correction_rad_per_k = corr;
    sc->has_slope_correction = true;
    sc->phase_offset_rad = shp_wrap_phase(
        k->phase_offset_rad - corr * (k->reference_temperature_c - t0));
    sc->has_phase_offset = true;
  }
  return SHP_OK;
}
