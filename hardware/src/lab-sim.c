/* The `sim:` section of a lab file: what the simulated lab hides from the
 * controller and how it misbehaves. */
#include "lab-sim.h"

#include "shp/error.h"
#include "shp/yamlfile.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sim_keys[] = {"seed",
                                       "phase_offset_rad",
                                       "phase_offset_sigma_rad",
                                       "azimuth_error_deg",
                                       "azimuth_sigma_deg",
                                       "length_error_um",
                                       "length_sigma_um",
                                       "slope_error_rel",
                                       "slope_sigma_rel",
                                       "noise",
                                       "background",
                                       "scan_range_ps",
                                       "points",
                                       "scan_time_s",
                                       "time_constant_s",
                                       "sensor_noise_k",
                                       "speedup",
                                       "start_c",
                                       "faults",
                                       NULL};

/* Exactly n numbers in [lo, hi] under key, into a fresh array; absent
 * leaves *out. */
static int per_crystal(shp_yaml *y, yaml_node_t *map, const char *key, size_t n,
                       double lo, double hi, double **out) {
  yaml_node_t *node = shp_yaml_get(y, map, key);
  if (node == NULL)
    return SHP_OK;
  double *v = calloc(n + 1, sizeof *v);
  if (v == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  size_t count = 0;
  int rc = shp_yaml_numbers(y, map, "sim", key, v, n + 1, &count);
  if (rc == SHP_OK && count != n)
    rc = shp_yaml_fail(y, node, "sim", key,
                       "expected %zu numbers, one per crystal, got %zu", n,
                       count);
  for (size_t i = 0; i < n && rc == SHP_OK; i++)
    if (!(v[i] >= lo && v[i] <= hi)) {
      char item[64];
      snprintf(item, sizeof item, "%s[%zu]", key, i);
      rc = shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_seq_item(y, node, i),
                              "sim", item, "must be from %g to %g, got %g", lo,
                              hi, v[i]);
    }
  if (rc != SHP_OK) {
    free(v);
    return rc;
  }
  free(*out);
  *out = v;
  return SHP_OK;
}

/* An optional number in [lo, hi] (bounds: the comment atop lab.c). */
static int bounded(shp_yaml *y, yaml_node_t *map, const char *key, double lo,
                   double hi, double *out) {
  double v = *out;
  bool has;
  int rc = shp_yaml_number_opt(y, map, "sim", key, &v, &has);
  if (rc != SHP_OK || !has)
    return rc;
  if (!(v >= lo && v <= hi))
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, key),
                              "sim", key, "must be from %g to %g, got %g", lo,
                              hi, v);
  *out = v;
  return SHP_OK;
}

/* An error given as values or as a sigma, not both. */
static int hidden_error(shp_yaml *y, yaml_node_t *map, const char *key,
                        const char *sigma_key, size_t n, double max,
                        double max_sigma, shp_sim_error *e) {
  if (shp_yaml_get(y, map, key) && shp_yaml_get(y, map, sigma_key))
    return shp_yaml_fail(y, shp_yaml_get(y, map, sigma_key), "sim", sigma_key,
                         "give either %s or %s", key, sigma_key);
  int rc = bounded(y, map, sigma_key, 0, max_sigma, &e->sigma);
  if (rc == SHP_OK)
    rc = per_crystal(y, map, key, n, -max, max, &e->values);
  return rc;
}

static const char *const fault_keys[] = {"kind", "at_s", "crystal",
                                         "autocorrelator", NULL};

static int fault_kind(shp_yaml *y, yaml_node_t *map, const char *ctx,
                      shp_sim_fault_kind *kind) {
  static const char *const names[] = {"timeout", "disconnect", "stuck_sensor",
                                      "garbage"};
  const char *text;
  int rc = shp_yaml_string(y, map, ctx, "kind", &text);
  if (rc != SHP_OK)
    return rc;
  for (int k = 0; k < 4; k++)
    if (strcmp(text, names[k]) == 0) {
      *kind = (shp_sim_fault_kind)k;
      return SHP_OK;
    }
  return shp_yaml_fail(y, shp_yaml_get(y, map, "kind"), ctx, "kind",
                       "expected timeout, disconnect, stuck_sensor or "
                       "garbage, got \"%s\"",
                       text);
}

/* Where a fault strikes: crystal I's oven, or the autocorrelator. */
static int fault_target(shp_yaml *y, yaml_node_t *map, const char *ctx,
                        size_t n, shp_sim_fault *f) {
  double crystal = 0;
  bool has_crystal, ac = false;
  int rc = shp_yaml_number_opt(y, map, ctx, "crystal", &crystal, &has_crystal);
  if (rc == SHP_OK)
    rc = shp_yaml_bool_opt(y, map, ctx, "autocorrelator", &ac, NULL);
  if (rc != SHP_OK)
    return rc;
  if (has_crystal == ac)
    return shp_yaml_fail(y, map, ctx, "crystal",
                         "give either crystal or autocorrelator: true");
  if (ac && f->kind == SHP_SIM_FAULT_STUCK_SENSOR)
    return shp_yaml_fail(y, shp_yaml_get(y, map, "kind"), ctx, "kind",
                         "the autocorrelator has no temperature sensor");
  if (has_crystal &&
      !(crystal >= 0 && crystal < (double)n && crystal == floor(crystal)))
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, map, "crystal"), ctx, "crystal",
        "must be a crystal index from 0 to %zu, got %g", n - 1, crystal);
  f->crystal = ac ? -1 : (int)crystal;
  return SHP_OK;
}

static int read_fault(shp_yaml *y, yaml_node_t *map, size_t i, size_t n,
                      shp_sim_fault *f) {
  char ctx[48];
  snprintf(ctx, sizeof ctx, "sim.faults[%zu]", i);
  int rc = shp_yaml_check_keys(y, map, ctx, fault_keys);
  if (rc == SHP_OK)
    rc = fault_kind(y, map, ctx, &f->kind);
  if (rc == SHP_OK)
    rc = shp_yaml_number(y, map, ctx, "at_s", &f->at_s);
  if (rc == SHP_OK && !(f->at_s >= 0 && f->at_s <= 1e9))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, "at_s"), ctx,
                            "at_s", "must be from 0 to 1e+09, got %g", f->at_s);
  if (rc == SHP_OK)
    rc = fault_target(y, map, ctx, n, f);
  return rc;
}

static int read_faults(shp_yaml *y, yaml_node_t *map, shp_lab_sim *sim,
                       size_t n) {
  yaml_node_t *seq = shp_yaml_get(y, map, "faults");
  if (seq == NULL)
    return SHP_OK;
  int rc = shp_yaml_expect_sequence(y, seq, "sim", "faults");
  size_t count = shp_yaml_seq_count(seq);
  if (rc != SHP_OK || count == 0)
    return rc;
  if ((sim->faults = calloc(count, sizeof *sim->faults)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  sim->fault_count = count;
  for (size_t i = 0; i < count && rc == SHP_OK; i++)
    rc = read_fault(y, shp_yaml_seq_item(y, seq, i), i, n, &sim->faults[i]);
  return rc;
}

static int read_scalars(shp_yaml *y, yaml_node_t *map, shp_lab_sim *sim) {
  double seed = (double)sim->seed, points = (double)sim->points;
  int rc;
  if ((rc = shp_yaml_number_opt(y, map, "sim", "seed", &seed, NULL)) ||
      (rc = shp_yaml_number_opt(y, map, "sim", "points", &points, NULL)))
    return rc;
  if (!(seed >= 0 && seed <= 4294967295.0 && seed == floor(seed)))
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, "seed"),
                              "sim", "seed",
                              "must be a whole number from 0 to 4294967295, "
                              "got %g",
                              seed);
  if (!(points >= 16 && points <= 65536 && points == floor(points)))
    return shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, map, "points"),
                              "sim", "points",
                              "must be a whole number from 16 to 65536, "
                              "got %g",
                              points);
  sim->seed = (unsigned long)seed;
  sim->points = (size_t)points;
  if ((rc = bounded(y, map, "noise", 0, 1, &sim->noise)) ||
      (rc = bounded(y, map, "background", 0, 10, &sim->background)) ||
      (rc = bounded(y, map, "scan_range_ps", 0.1, 1000, &sim->scan_range_ps)) ||
      (rc = bounded(y, map, "scan_time_s", 0, 60, &sim->scan_time_s)) ||
      (rc = bounded(y, map, "time_constant_s", 0.01, 1e6,
                    &sim->time_constant_s)) ||
      (rc = bounded(y, map, "sensor_noise_k", 0, 1, &sim->sensor_noise_k)) ||
      (rc = bounded(y, map, "speedup", 0, 1e4, &sim->speedup)))
    return rc;
  return SHP_OK;
}

int shp_lab_read_sim(shp_yaml *y, yaml_node_t *map, shp_lab_sim *sim,
                     size_t n) {
  int rc = shp_yaml_check_keys(y, map, "sim", sim_keys);
  if (rc == SHP_OK)
    rc = read_scalars(y, map, sim);
  if (rc == SHP_OK)
    rc = hidden_error(y, map, "phase_offset_rad", "phase_offset_sigma_rad", n,
                      100, 10, &sim->phase_offset_rad);
  if (rc == SHP_OK)
    rc = hidden_error(y, map, "azimuth_error_deg", "azimuth_sigma_deg", n, 45,
                      10, &sim->azimuth_error_deg);
  if (rc == SHP_OK)
    rc = hidden_error(y, map, "length_error_um", "length_sigma_um", n, 1000,
                      100, &sim->length_error_um);
  if (rc == SHP_OK)
    rc = hidden_error(y, map, "slope_error_rel", "slope_sigma_rel", n, 1, 1,
                      &sim->slope_error_rel);
  if (rc == SHP_OK)
    rc = per_crystal(y, map, "start_c", n, -273.15, 1000, &sim->start_c);
  if (rc == SHP_OK)
    rc = read_faults(y, map, sim, n);
  return rc;
}

/* ---- the hidden truth ------------------------------------------------------
 */

static double hidden(gsl_rng *r, const shp_sim_error *e, size_t i) {
  /* Draw even when the value is given, so that giving one error explicitly
   * does not change the others drawn from the same seed. */
  double drawn = e->sigma > 0 ? gsl_ran_gaussian(r, e->sigma) : 0.0;
  return e->values ? e->values[i] : drawn;
}

shp_stack *shp_lab_sim_truth_of(const shp_lab *lab, const shp_lab_sim *p) {
  shp_stack *truth = shp_stack_load(lab->stack_path);
  if (truth == NULL)
    return NULL;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (r == NULL) {
    shp_stack_free(truth);
    shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
    return NULL;
  }
  gsl_rng_set(r, p->seed);
  for (size_t i = 0; i < truth->crystal_count; i++) {
    shp_stack_crystal *c = &truth->crystals[i];
    c->phase_offset_rad += hidden(r, &p->phase_offset_rad, i);
    c->azimuth_deg += hidden(r, &p->azimuth_error_deg, i);
    c->length_mm += 1e-3 * hidden(r, &p->length_error_um, i);
    c->has_temperature = c->has_phase_offset = true;
  }
  /* The material model's phase per kelvin is off by a relative error:
   * drawn after the others so that labs without it keep their draws. */
  for (size_t i = 0; i < truth->crystal_count; i++) {
    shp_stack_crystal *c = &truth->crystals[i];
    double rel = hidden(r, &p->slope_error_rel, i);
    if (rel == 0)
      continue;
    shp_material_props pr;
    if (shp_material_props_at(c->material, truth->pulse.center_wavelength_nm,
                              c->temperature_c, c->length_mm, &pr) != SHP_OK) {
      gsl_rng_free(r);
      shp_stack_free(truth);
      return NULL;
    }
    c->slope_correction_rad_per_k +=
        rel * pr.dphase_dT_rad_per_K_per_mm * c->length_mm;
    c->has_slope_correction = true;
  }
  gsl_rng_free(r);
  return truth;
}

shp_stack *shp_lab_sim_truth(const shp_lab *lab) {
  if (shp_lab_sim_speedup(lab) < 0) {
    shp_error_set(SHP_ERR_INVALID, "%s: not a simulated lab",
                  lab->path ? lab->path : "lab");
    return NULL;
  }
  if (lab->sim != NULL)
    return shp_lab_sim_truth_of(lab, lab->sim);
  shp_lab_sim *p = shp_lab_sim_new(lab->oven_count, lab->stack);
  if (p == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "sim: out of memory");
    return NULL;
  }
  shp_stack *t = shp_lab_sim_truth_of(lab, p);
  shp_lab_sim_free(p);
  return t;
}
