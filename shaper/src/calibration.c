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
    "created",         "lab",      "stack", "stack_name",     "residual_rms",
    "identifiability", "crystals", "pulse", "autocorrelator", NULL};

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
                                           "azimuth_error_deg",
                                           "azimuth_error_sigma_deg",
                                           "length_error_um",
                                           "length_error_sigma_um",
                                           NULL};

static const char *const pulse_keys[] = {"fwhm_ps", "fwhm_sigma_ps", "gdd_fs2",
                                         "gdd_sigma_fs2", NULL};
static const char *const delay_keys[] = {"delay_scale", "delay_scale_sigma",
                                         "delay_offset_ps",
                                         "delay_offset_sigma_ps", NULL};

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

/* A value and its 1-sigma: keys[0], keys[1] of map; the sigma > 0. */
static int value_sigma(shp_yaml *y, yaml_node_t *map, const char *ctx,
                       const char *const *keys, double *v, double *sigma) {
  int rc = shp_yaml_number(y, map, ctx, keys[0], v);
  if (rc == SHP_OK)
    rc = positive(y, map, ctx, keys[1], sigma);
  return rc;
}

/* The fitted azimuth and length errors: all four keys or none (a file
 * written before they were fitted). */
static int read_errors(shp_yaml *y, yaml_node_t *map, const char *ctx,
                       shp_calibration_crystal *k) {
  static const char *const az[] = {"azimuth_error_deg",
                                   "azimuth_error_sigma_deg"};
  static const char *const len[] = {"length_error_um", "length_error_sigma_um"};
  size_t present = 0;
  for (size_t j = 0; j < 2; j++)
    present += (shp_yaml_get(y, map, az[j]) != NULL) +
               (shp_yaml_get(y, map, len[j]) != NULL);
  if (present == 0)
    return SHP_OK;
  k->has_errors = true;
  int rc = value_sigma(y, map, ctx, az, &k->azimuth_error_deg,
                       &k->azimuth_error_sigma_deg);
  if (rc == SHP_OK)
    rc = value_sigma(y, map, ctx, len, &k->length_error_um,
                     &k->length_error_sigma_um);
  return rc;
}

/* An optional mapping of two value-sigma pairs (pulse, autocorrelator). */
static int read_group(shp_yaml *y, yaml_node_t *root, const char *key,
                      const char *const *keys, bool *has, double *v) {
  yaml_node_t *map = shp_yaml_get(y, root, key);
  if (map == NULL)
    return SHP_OK;
  int rc = shp_yaml_expect_mapping(y, map, "", key);
  if (rc == SHP_OK)
    rc = shp_yaml_check_keys(y, map, key, keys);
  if (rc == SHP_OK)
    rc = value_sigma(y, map, key, keys, &v[0], &v[1]);
  if (rc == SHP_OK)
    rc = value_sigma(y, map, key, keys + 2, &v[2], &v[3]);
  *has = rc == SHP_OK;
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
      (rc = read_scan(y, map, ctx, k)) != SHP_OK ||
      (rc = read_errors(y, map, ctx, k)) != SHP_OK)
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
  double pulse[4] = {0}, delay[4] = {0};
  if (rc == SHP_OK)
    rc = read_group(y, root, "pulse", pulse_keys, &c->has_pulse, pulse);
  if (rc == SHP_OK)
    rc =
        read_group(y, root, "autocorrelator", delay_keys, &c->has_delay, delay);
  if (rc == SHP_OK && c->has_pulse && !(pulse[0] > 0))
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, y,
        shp_yaml_get(y, shp_yaml_get(y, root, "pulse"), "fwhm_ps"), "pulse",
        "fwhm_ps", "must be > 0, got %g", pulse[0]);
  if (rc == SHP_OK && c->has_delay && !(delay[0] > 0))
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, y,
        shp_yaml_get(y, shp_yaml_get(y, root, "autocorrelator"), "delay_scale"),
        "autocorrelator", "delay_scale", "must be > 0, got %g", delay[0]);
  if (rc != SHP_OK)
    return rc;
  c->pulse_fwhm_ps = pulse[0];
  c->pulse_fwhm_sigma_ps = pulse[1];
  c->pulse_gdd_fs2 = pulse[2];
  c->pulse_gdd_sigma_fs2 = pulse[3];
  c->delay_scale = delay[0];
  c->delay_scale_sigma = delay[1];
  c->delay_offset_ps = delay[2];
  c->delay_offset_sigma_ps = delay[3];
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
  if (k->has_errors) {
    shp_yw_key_number(w, "azimuth_error_deg", k->azimuth_error_deg);
    shp_yw_key_number(w, "azimuth_error_sigma_deg", k->azimuth_error_sigma_deg);
    shp_yw_key_number(w, "length_error_um", k->length_error_um);
    shp_yw_key_number(w, "length_error_sigma_um", k->length_error_sigma_um);
  }
  shp_yw_scalar(w, "scan", true);
  shp_yw_mapping(w, true, true);
  shp_yw_key_number(w, "from_c", k->scan_from_c);
  shp_yw_key_number(w, "to_c", k->scan_to_c);
  shp_yw_key_size(w, "points", k->scan_points);
  shp_yw_mapping(w, false, true);
  shp_yw_mapping(w, false, false);
}

static void write_group(shp_yaml_writer *w, const char *key,
                        const char *const *keys, const double *v) {
  shp_yw_scalar(w, key, true);
  shp_yw_mapping(w, true, true);
  for (size_t j = 0; j < 4; j++)
    shp_yw_key_number(w, keys[j], v[j]);
  shp_yw_mapping(w, false, true);
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
  if (c->has_pulse)
    write_group(w, "pulse", pulse_keys,
                (double[]){c->pulse_fwhm_ps, c->pulse_fwhm_sigma_ps,
                           c->pulse_gdd_fs2, c->pulse_gdd_sigma_fs2});
  if (c->has_delay)
    write_group(w, "autocorrelator", delay_keys,
                (double[]){c->delay_scale, c->delay_scale_sigma,
                           c->delay_offset_ps, c->delay_offset_sigma_ps});
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
                  k->scan_to_c,
                  k->has_errors ? k->azimuth_error_deg : 0,
                  k->has_errors ? k->azimuth_error_sigma_deg : 0,
                  k->has_errors ? k->length_error_um : 0,
                  k->has_errors ? k->length_error_sigma_um : 0};
    for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
      if (!isfinite(v[j]))
        return shp_error_set(SHP_ERR_INVALID,
                             "crystal %zu: a value that is not finite: not "
                             "determined by the calibration",
                             k->index);
  }
  double g[] = {c->pulse_fwhm_ps,   c->pulse_fwhm_sigma_ps,
                c->pulse_gdd_fs2,   c->pulse_gdd_sigma_fs2,
                c->delay_scale,     c->delay_scale_sigma,
                c->delay_offset_ps, c->delay_offset_sigma_ps};
  for (size_t j = 0; j < 8; j++)
    if ((j < 4 ? c->has_pulse : c->has_delay) && !isfinite(g[j]))
      return shp_error_set(SHP_ERR_INVALID, "%s: a value that is not finite",
                           j < 4 ? "pulse" : "autocorrelator");
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
  /* The carrier phases first, on the nominal lengths (nothing changed
   * yet), so a failure leaves the stack as it was. */
  double carrier[SHP_STACK_MAX_CRYSTALS] = {0};
  for (size_t i = 0; i < c->crystal_count; i++) {
    const shp_calibration_crystal *k = &c->crystals[i];
    const shp_stack_crystal *sc = &s->crystals[k->index];
    if (!k->has_errors || k->length_error_um == 0)
      continue;
    shp_material_props p;
    int rc =
        shp_material_props_at(sc->material, s->pulse.center_wavelength_nm,
                              k->reference_temperature_c, sc->length_mm, &p);
    if (rc != SHP_OK)
      return shp_error_prefix("%s: crystals[%zu]: ", name, i);
    carrier[i] = p.phase_delay_rad / sc->length_mm * 1e-3 * k->length_error_um;
  }
  for (size_t i = 0; i < c->crystal_count; i++) {
    const shp_calibration_crystal *k = &c->crystals[i];
    shp_stack_crystal *sc = &s->crystals[k->index];
    /* The stack's form: offset + correction * (T - T0) on top of the
     * material model, equal to the measured offset at the reference. A
     * length error's carrier phase is in the measured offset, and the
     * longer plate adds it itself: taken out once. */
    double t0 = shp_material_reference_temperature_c(sc->material);
    double corr = k->slope_rad_per_k - k->model_slope_rad_per_k;
    sc->slope_correction_rad_per_k = corr;
    sc->has_slope_correction = true;
    sc->phase_offset_rad =
        shp_wrap_phase(k->phase_offset_rad - carrier[i] -
                       corr * (k->reference_temperature_c - t0));
    sc->has_phase_offset = true;
    if (k->has_errors) {
      sc->azimuth_deg += k->azimuth_error_deg;
      sc->length_mm += 1e-3 * k->length_error_um;
    }
  }
  if (c->has_pulse && s->spectrum_file == NULL) {
    s->pulse.fwhm_ps = c->pulse_fwhm_ps;
    s->pulse.gdd_fs2 = c->pulse_gdd_fs2;
  }
  return SHP_OK;
}
