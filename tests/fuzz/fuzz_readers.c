/* libFuzzer harness of the readers fuzz_stack does not reach on their own:
 * refractiveindex.info files, numeric CSV files (spectra, traces and
 * targets: shp_csv_load) and crystal-phase calibration files.
 *
 * Input layout: the first byte picks the reader (its value modulo 3: 0 a
 * refractiveindex.info file, 1 a CSV file, 2 a calibration file); the rest
 * is the file, written to a private directory. A refractiveindex.info file
 * is read as the e axis of a fixed material file (mat.yml) that names it,
 * as calibrations/materials files do.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks properties:
 *  - a failure names the file read: the message starts with its path;
 *  - a material that loads gives a finite index, or a recorded error, at
 *    wavelengths across its range;
 *  - a CSV that loads has 1 to 16 columns of finite numbers on increasing
 *    lines;
 *  - a calibration that loads survives shp_calibration_save and
 *    shp_calibration_load unchanged, field for field, bit for bit.
 *
 * The readers go through shp_file (open(2), regular files only), and none
 * of these three formats names another file, so no input can make the
 * harness block. */
#include "shp/calibration.h"
#include "shp/csv.h"
#include "shp/error.h"
#include "shp/material.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[512];
static char mat_path[PATH_MAX], rii_path[PATH_MAX], csv_path[PATH_MAX],
    cal_path[PATH_MAX], out_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_dir(void) {
  unlink(mat_path);
  unlink(rii_path);
  unlink(csv_path);
  unlink(cal_path);
  unlink(out_path);
  rmdir(dir);
}

static void write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
      fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* The o axis inline, the e axis from the fuzzed file. */
static const char material[] = "name: fuzz\n"
                               "reference_temperature_c: 20.0\n"
                               "axes:\n"
                               "  o:\n"
                               "    formula: 2\n"
                               "    coefficients: [0, 1.2, 0.01]\n"
                               "    dn_dT_per_K: 1.0e-5\n"
                               "  e:\n"
                               "    refractiveindex_info: rii.yml\n"
                               "    dn_dT_per_K: 1.0e-5\n"
                               "thermal_expansion_per_K: {a: 1.0e-6, c: 0}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz_readers.XXXXXX",
           tmp != NULL && tmp[0] != '\0' && strlen(tmp) < 400 ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("fuzz_readers: mkdtemp");
    exit(1);
  }
  snprintf(mat_path, sizeof mat_path, "%s/mat.yml", dir);
  snprintf(rii_path, sizeof rii_path, "%s/rii.yml", dir);
  snprintf(csv_path, sizeof csv_path, "%s/in.csv", dir);
  snprintf(cal_path, sizeof cal_path, "%s/cal.yml", dir);
  snprintf(out_path, sizeof out_path, "%s/out.yml", dir);
  write_file(mat_path, material, sizeof material - 1);
  atexit(remove_dir);
  return 0;
}

/* A broken property: report it and stop, so libFuzzer keeps the input. */
#define require(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr,                                                          \
              "fuzz_readers: %s:%d: property failed: %s\nlast error: %s\n",    \
              __FILE__, __LINE__, #cond, shp_error_detail());                  \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static void require_names_file(const char *path) {
  const char *detail = shp_error_detail();
  size_t n = strlen(path);
  require(shp_error_last() < 0);
  require(strncmp(detail, path, n) == 0 && detail[n] == ':');
}

static void fuzz_rii(void) {
  shp_material *m = shp_material_load(mat_path);
  if (m == NULL) {
    require_names_file(mat_path);
    return;
  }
  double lo, hi;
  shp_material_range_um(m, &lo, &hi);
  require(lo > 0 && hi > lo && isfinite(hi));
  for (int i = 0; i <= 16; i++) {
    double l = lo + (hi - lo) * i / 16.0, n = NAN;
    int rc = shp_material_index(m, SHP_AXIS_E, l, 20.0, &n);
    require(rc == SHP_OK ? isfinite(n) : shp_error_last() == rc);
    shp_material_props p;
    (void)shp_material_props_at(m, l * 1e3, 20.0, 1.0, &p);
  }
  shp_material_free(m);
}

static void fuzz_csv(void) {
  shp_csv csv;
  int rc = shp_csv_load(csv_path, 1, 16, "x, y", &csv);
  if (rc != SHP_OK) {
    require(rc == shp_error_last());
    require_names_file(csv_path);
    require(csv.rows == 0 && csv.data == NULL);
    return;
  }
  require(csv.rows <= SHP_CSV_MAX_ROWS);
  require(csv.rows == 0 || (csv.columns >= 1 && csv.columns <= 16));
  for (size_t i = 0; i < csv.rows; i++) {
    require(i == 0 || csv.lines[i] > csv.lines[i - 1]);
    for (size_t j = 0; j < csv.columns; j++)
      require(isfinite(shp_csv_at(&csv, i, j)));
  }
  shp_csv_clear(&csv);
}

static bool same_double(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static bool same_string(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void require_same_calibration(const shp_calibration *a,
                                     const shp_calibration *b) {
  require(same_string(a->created, b->created));
  require(same_string(a->lab, b->lab));
  require(same_string(a->stack, b->stack));
  require(same_string(a->stack_name, b->stack_name));
  require(same_double(a->residual_rms, b->residual_rms));
  require(same_string(a->identifiability, b->identifiability));
  require(a->has_pulse == b->has_pulse && a->has_delay == b->has_delay);
  const double ga[] = {a->pulse_fwhm_ps,   a->pulse_fwhm_sigma_ps,
                       a->pulse_gdd_fs2,   a->pulse_gdd_sigma_fs2,
                       a->delay_scale,     a->delay_scale_sigma,
                       a->delay_offset_ps, a->delay_offset_sigma_ps},
               gb[] = {b->pulse_fwhm_ps,   b->pulse_fwhm_sigma_ps,
                       b->pulse_gdd_fs2,   b->pulse_gdd_sigma_fs2,
                       b->delay_scale,     b->delay_scale_sigma,
                       b->delay_offset_ps, b->delay_offset_sigma_ps};
  for (size_t j = 0; j < 8; j++)
    require(!(j < 4 ? a->has_pulse : a->has_delay) ||
            same_double(ga[j], gb[j]));
  require(a->crystal_count == b->crystal_count);
  for (size_t i = 0; i < a->crystal_count; i++) {
    const shp_calibration_crystal *x = &a->crystals[i], *y = &b->crystals[i];
    require(x->index == y->index);
    require(same_string(x->material, y->material));
    require(same_double(x->length_mm, y->length_mm));
    require(
        same_double(x->reference_temperature_c, y->reference_temperature_c));
    require(same_double(x->phase_offset_rad, y->phase_offset_rad));
    require(same_double(x->phase_offset_sigma_rad, y->phase_offset_sigma_rad));
    require(same_double(x->slope_rad_per_k, y->slope_rad_per_k));
    require(same_double(x->slope_sigma_rad_per_k, y->slope_sigma_rad_per_k));
    require(same_double(x->model_slope_rad_per_k, y->model_slope_rad_per_k));
    require(same_double(x->scan_from_c, y->scan_from_c));
    require(same_double(x->scan_to_c, y->scan_to_c));
    require(x->scan_points == y->scan_points);
    require(x->has_errors == y->has_errors);
    if (x->has_errors) {
      require(same_double(x->azimuth_error_deg, y->azimuth_error_deg));
      require(
          same_double(x->azimuth_error_sigma_deg, y->azimuth_error_sigma_deg));
      require(same_double(x->length_error_um, y->length_error_um));
      require(same_double(x->length_error_sigma_um, y->length_error_sigma_um));
    }
  }
}

static void fuzz_calibration(void) {
  shp_calibration *c = shp_calibration_load(cal_path);
  if (c == NULL) {
    require_names_file(cal_path);
    return;
  }
  require(c->crystal_count >= 1);
  for (size_t i = 0; i < c->crystal_count; i++)
    require(shp_calibration_find(c, c->crystals[i].index) == &c->crystals[i]);
  require(shp_calibration_save(c, out_path) == SHP_OK);
  shp_calibration *again = shp_calibration_load(out_path);
  require(again != NULL);
  require_same_calibration(c, again);
  shp_calibration_free(again);
  shp_calibration_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  int reader = data[0] % 3;
  data++;
  size--;
  /* Every file is rewritten or removed, so each run is independent of the
   * ones before it. */
  unlink(out_path);
  unlink(rii_path);
  unlink(csv_path);
  unlink(cal_path);
  shp_error_clear();
  switch (reader) {
  case 0:
    write_file(rii_path, data, size);
    fuzz_rii();
    break;
  case 1:
    write_file(csv_path, data, size);
    fuzz_csv();
    break;
  default:
    write_file(cal_path, data, size);
    fuzz_calibration();
    break;
  }
  return 0;
}
