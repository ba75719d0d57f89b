/* libFuzzer harness of the stack-file and target-file readers.
 *
 * Input layout: the first byte picks the reader (even: shp_stack_load, odd:
 * shp_target_load; the seeds use '0' and '1'). The rest is the YAML file,
 * written to in.yml in a private directory. If it contains a line "--8<--",
 * what follows that line is written beside it as aux.csv and aux.yml, so
 * seeds naming "spectrum_file: aux.csv", "file: aux.csv" or
 * "material: aux.yml" let the fuzzer reach the CSV and material readers.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks properties:
 *  - a failure names the file: the message starts with the file's path;
 *  - a stack that loads survives shp_stack_save and shp_stack_load
 *    unchanged, field for field, bit for bit;
 *  - shp_stack_grid and, for targets, shp_target_span_ps and
 *    shp_target_sample on a small grid run on whatever loaded.
 *
 * The readers resolve relative paths and may be pointed at any file:
 * safe-open.c keeps them to regular files outside /dev, /proc and /sys. */
#include "shp/error.h"
#include "shp/grid.h"
#include "shp/material.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char in_path[PATH_MAX], csv_path[PATH_MAX], yml_path[PATH_MAX],
    out_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_dir(void) {
  unlink(in_path);
  unlink(csv_path);
  unlink(yml_path);
  unlink(out_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz_stack.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("fuzz_stack: mkdtemp");
    exit(1);
  }
  snprintf(in_path, sizeof in_path, "%s/in.yml", dir);
  snprintf(csv_path, sizeof csv_path, "%s/aux.csv", dir);
  snprintf(yml_path, sizeof yml_path, "%s/aux.yml", dir);
  snprintf(out_path, sizeof out_path, "%s/out.yml", dir);
  atexit(remove_dir);
  return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
      fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* A broken property: report it and stop, so libFuzzer keeps the input. */
#define require(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr,                                                          \
              "fuzz_stack: %s:%d: property failed: %s\nlast error: %s\n",      \
              __FILE__, __LINE__, #cond, shp_error_detail());                  \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The message of a failed load starts with the path of the file read. */
static void require_names_file(void) {
  const char *detail = shp_error_detail();
  size_t n = strlen(in_path);
  require(shp_error_last() < 0);
  require(strncmp(detail, in_path, n) == 0 && detail[n] == ':');
}

static bool same_double(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static bool same_string(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_array(const double *a, const double *b, size_t n) {
  return n == 0 || (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && memcmp(a, b, n * sizeof *a) == 0);
}

static void require_same_stack(const shp_stack *a, const shp_stack *b) {
  require(same_string(a->name, b->name));
  require(a->pulse.shape == b->pulse.shape);
  require(same_double(a->pulse.center_wavelength_nm,
                      b->pulse.center_wavelength_nm));
  require(same_double(a->pulse.fwhm_ps, b->pulse.fwhm_ps));
  require(same_double(a->pulse.gdd_fs2, b->pulse.gdd_fs2));
  require(same_double(a->pulse.tod_fs3, b->pulse.tod_fs3));
  require(same_string(a->spectrum_file, b->spectrum_file));
  require(a->spectrum.count == b->spectrum.count);
  require(same_array(a->spectrum.wavelength_nm, b->spectrum.wavelength_nm,
                     a->spectrum.count));
  require(same_array(a->spectrum.intensity, b->spectrum.intensity,
                     a->spectrum.count));
  require((a->spectrum.phase_rad == NULL) == (b->spectrum.phase_rad == NULL));
  require(same_array(a->spectrum.phase_rad, b->spectrum.phase_rad,
                     a->spectrum.count));
  require(a->has_grid == b->has_grid);
  require(a->grid_points == b->grid_points);
  require(same_double(a->grid_window_ps, b->grid_window_ps));
  require(a->has_input_polarizer == b->has_input_polarizer);
  require(same_double(a->input_polarizer_deg, b->input_polarizer_deg));
  require(a->has_output_polarizer == b->has_output_polarizer);
  require(same_double(a->output_polarizer_deg, b->output_polarizer_deg));
  require(a->double_pass == b->double_pass);
  require(a->crystal_count == b->crystal_count);
  for (size_t i = 0; i < a->crystal_count; i++) {
    const shp_stack_crystal *ca = &a->crystals[i], *cb = &b->crystals[i];
    require(same_string(ca->material_name, cb->material_name));
    require(same_string(shp_material_name(ca->material),
                        shp_material_name(cb->material)));
    require(same_double(ca->length_mm, cb->length_mm));
    require(same_double(ca->azimuth_deg, cb->azimuth_deg));
    require(same_double(ca->temperature_c, cb->temperature_c));
    require(same_double(ca->phase_offset_rad, cb->phase_offset_rad));
    require(ca->has_temperature == cb->has_temperature);
    require(ca->has_phase_offset == cb->has_phase_offset);
  }
}

static void fuzz_stack(void) {
  shp_stack *s = shp_stack_load(in_path);
  if (s == NULL) {
    require_names_file();
    return;
  }
  shp_grid g;
  (void)shp_stack_grid(s, 0.0, &g);
  /* Saved in the same directory, relative paths keep their meaning. */
  require(shp_stack_save(s, out_path) == SHP_OK);
  shp_stack *again = shp_stack_load(out_path);
  require(again != NULL);
  require_same_stack(s, again);
  shp_stack_free(again);
  shp_stack_free(s);
}

static void fuzz_target(void) {
  shp_target *t = shp_target_load(in_path);
  if (t == NULL) {
    require_names_file();
    return;
  }
  double a, b, y[1024], w[1024];
  (void)shp_target_span_ps(t);
  (void)shp_target_plateau(t, &a, &b);
  shp_grid g;
  require(shp_grid_init(&g, 1024, 64.0, 800.0) == SHP_OK);
  if (shp_target_sample(t, &g, y, w) == SHP_OK)
    for (size_t j = 0; j < 1024; j++)
      require(y[j] >= 0 && y[j] <= 1 && (w[j] == 0 || w[j] == 1));
  shp_target_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  bool target = data[0] & 1;
  data++;
  size--;
  static const char cut[] = "\n--8<--\n";
  const uint8_t *aux = NULL;
  size_t main_size = size, aux_size = 0;
  for (size_t i = 0; i + sizeof cut - 1 <= size; i++)
    if (memcmp(data + i, cut, sizeof cut - 1) == 0) {
      main_size = i + 1;
      aux = data + i + sizeof cut - 1;
      aux_size = size - main_size - (sizeof cut - 2);
      break;
    }
  /* Every file is rewritten or removed, so each run is independent of the
   * ones before it. */
  write_file(in_path, data, main_size);
  unlink(out_path);
  if (aux != NULL) {
    write_file(csv_path, aux, aux_size);
    write_file(yml_path, aux, aux_size);
  } else {
    unlink(csv_path);
    unlink(yml_path);
  }
  shp_error_clear();
  if (target)
    fuzz_target();
  else
    fuzz_stack();
  return 0;
}
