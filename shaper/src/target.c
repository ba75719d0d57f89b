#include "shp/target.h"

#include "shp/csv.h"
#include "shp/error.h"
#include "shp/yamlfile.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 10-90 % time of an error-function edge in units of its sigma:
 * 2 * sqrt(2) * erfinv(0.8) = 2.563103. */
#define ERF_EDGE_10_90 2.5631031310892

void shp_target_free(shp_target *t) {
  if (t == NULL)
    return;
  free(t->file);
  free(t->file_time_ps);
  free(t->file_intensity);
  free(t->path);
  free(t);
}

static const struct {
  const char *name;
  shp_target_shape shape;
} shapes[] = {{"flat-top", SHP_TARGET_FLAT_TOP},
              {"ramp", SHP_TARGET_RAMP},
              {"triangle", SHP_TARGET_TRIANGLE},
              {"parabolic", SHP_TARGET_PARABOLIC},
              {"gaussian-train", SHP_TARGET_GAUSSIAN_TRAIN},
              {"file", SHP_TARGET_FILE}};

static const char *const target_keys[] = {
    "shape",      "duration_ps",      "rise_time_ps",
    "count",      "spacing_ps",       "pulse_fwhm_ps",
    "file",       "weight_window_ps", "max_error",
    "max_ripple", "min_transmission", "direction",
    NULL};

/* Keys every shape takes. */
static bool key_common(const char *key) {
  return strcmp(key, "shape") == 0 || strcmp(key, "weight_window_ps") == 0 ||
         strcmp(key, "max_error") == 0 || strcmp(key, "max_ripple") == 0 ||
         strcmp(key, "min_transmission") == 0;
}

/* Which keys each shape takes (beyond the common ones). */
static bool key_allowed(shp_target_shape s, const char *key) {
  if (key_common(key))
    return true;
  switch (s) {
  case SHP_TARGET_FLAT_TOP:
    return strcmp(key, "duration_ps") == 0 || strcmp(key, "rise_time_ps") == 0;
  case SHP_TARGET_RAMP:
    return strcmp(key, "duration_ps") == 0 ||
           strcmp(key, "rise_time_ps") == 0 || strcmp(key, "direction") == 0;
  case SHP_TARGET_TRIANGLE:
  case SHP_TARGET_PARABOLIC:
    return strcmp(key, "duration_ps") == 0;
  case SHP_TARGET_GAUSSIAN_TRAIN:
    return strcmp(key, "count") == 0 || strcmp(key, "spacing_ps") == 0 ||
           strcmp(key, "pulse_fwhm_ps") == 0;
  case SHP_TARGET_FILE:
    return strcmp(key, "file") == 0;
  }
  return false;
}

static int positive_number(shp_yaml *y, yaml_node_t *root, const char *key,
                           double *out) {
  int rc = shp_yaml_number(y, root, "", key, out);
  if (rc == SHP_OK && !(*out > 0))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y, shp_yaml_get(y, root, key), "",
                            key, "must be > 0, got %g", *out);
  return rc;
}

static int load_csv(shp_target *t, const char *path) {
  shp_csv csv;
  int rc = shp_csv_load(path, 2, 2, "time_ps, intensity", &csv);
  size_t n = csv.rows;
  if (rc == SHP_OK && n < 2)
    rc = shp_error_set(SHP_ERR_PARSE, "%s: a target needs at least 2 rows",
                       path);
  if (rc == SHP_OK) {
    t->file_time_ps = malloc(n * sizeof *t->file_time_ps);
    t->file_intensity = malloc(n * sizeof *t->file_intensity);
    if (t->file_time_ps == NULL || t->file_intensity == NULL)
      rc = shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  }
  for (size_t i = 0; rc == SHP_OK && i < n; i++) {
    double time = shp_csv_at(&csv, i, 0), v = shp_csv_at(&csv, i, 1);
    if (v < 0)
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%d: intensity: must be >= 0", path,
                         csv.lines[i]);
    else if (i > 0 && !(time > t->file_time_ps[i - 1]))
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%d: time_ps: must increase", path,
                         csv.lines[i]);
    t->file_time_ps[i] = time;
    t->file_intensity[i] = v;
  }
  if (rc == SHP_OK)
    t->file_count = n;
  shp_csv_clear(&csv);
  return rc;
}

/* A ramp rises by default; "falling" is its mirror in time. An
 * autocorrelation cannot tell the two apart, which is why the closed loop
 * must not call either converged on a trace alone. */
static int read_direction(shp_yaml *y, yaml_node_t *root, shp_target *t) {
  const char *dir = "rising";
  int rc = shp_yaml_string_opt(y, root, "", "direction", &dir, NULL);
  if (rc != SHP_OK)
    return rc;
  if (strcmp(dir, "rising") == 0 || strcmp(dir, "falling") == 0) {
    t->falling = strcmp(dir, "falling") == 0;
    return SHP_OK;
  }
  return shp_yaml_fail(y, shp_yaml_get(y, root, "direction"), "", "direction",
                       "expected rising or falling, got \"%s\"", dir);
}

static int read_shape_keys(shp_yaml *y, yaml_node_t *root, shp_target *t) {
  int rc = SHP_OK;
  switch (t->shape) {
  case SHP_TARGET_FLAT_TOP:
  case SHP_TARGET_RAMP:
    rc = positive_number(y, root, "duration_ps", &t->duration_ps);
    if (rc == SHP_OK)
      rc = shp_yaml_number_opt(y, root, "", "rise_time_ps", &t->rise_time_ps,
                               NULL);
    if (rc == SHP_OK && t->shape == SHP_TARGET_FLAT_TOP &&
        !(t->rise_time_ps >= 0 && t->rise_time_ps < t->duration_ps))
      rc = shp_yaml_fail_code(SHP_ERR_RANGE, y,
                              shp_yaml_get(y, root, "rise_time_ps"), "",
                              "rise_time_ps",
                              "must be >= 0 and shorter than duration_ps, got "
                              "%g",
                              t->rise_time_ps);
    /* A ramp's linear part ends two rise times before its falling edge's
     * midpoint (see value_at), so it needs duration_ps > 2 rise_time_ps. */
    if (rc == SHP_OK && t->shape == SHP_TARGET_RAMP &&
        !(t->rise_time_ps >= 0 && 2 * t->rise_time_ps < t->duration_ps))
      rc = shp_yaml_fail_code(SHP_ERR_RANGE, y,
                              shp_yaml_get(y, root, "rise_time_ps"), "",
                              "rise_time_ps",
                              "must be >= 0 and shorter than half of "
                              "duration_ps for a ramp, got %g",
                              t->rise_time_ps);
    if (rc == SHP_OK && t->shape == SHP_TARGET_RAMP)
      rc = read_direction(y, root, t);
    return rc;
  case SHP_TARGET_TRIANGLE:
  case SHP_TARGET_PARABOLIC:
    return positive_number(y, root, "duration_ps", &t->duration_ps);
  case SHP_TARGET_GAUSSIAN_TRAIN: {
    double count;
    if ((rc = positive_number(y, root, "count", &count)) != SHP_OK ||
        (rc = positive_number(y, root, "spacing_ps", &t->spacing_ps)) !=
            SHP_OK ||
        (rc = positive_number(y, root, "pulse_fwhm_ps", &t->pulse_fwhm_ps)) !=
            SHP_OK)
      return rc;
    if (count != floor(count) || count > 4096)
      return shp_yaml_fail_code(
          SHP_ERR_RANGE, y, shp_yaml_get(y, root, "count"), "", "count",
          "must be a whole number from 1 to 4096, got %g", count);
    t->count = (size_t)count;
    return SHP_OK;
  }
  case SHP_TARGET_FILE: {
    const char *file;
    if ((rc = shp_yaml_string(y, root, "", "file", &file)) != SHP_OK)
      return rc;
    if ((t->file = strdup(file)) == NULL)
      return shp_error_set(SHP_ERR_NOMEM, "out of memory");
    char path[PATH_MAX];
    const char *slash = strrchr(shp_yaml_path(y), '/');
    if (file[0] == '/' || slash == NULL)
      snprintf(path, sizeof path, "%s", file);
    else
      snprintf(path, sizeof path, "%.*s/%s", (int)(slash - shp_yaml_path(y)),
               shp_yaml_path(y), file);
    if ((rc = load_csv(t, path)) != SHP_OK)
      return shp_error_prefix("%s:%d: file: ", shp_yaml_path(y),
                              shp_yaml_line(shp_yaml_get(y, root, "file")));
    return SHP_OK;
  }
  }
  return rc;
}

/* The optional acceptance thresholds. */
static int read_thresholds(shp_yaml *y, yaml_node_t *root, shp_target *t) {
  int rc = shp_yaml_number_opt(y, root, "", "max_error", &t->max_error,
                               &t->has_max_error);
  if (rc == SHP_OK && t->has_max_error && !(t->max_error > 0))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y,
                            shp_yaml_get(y, root, "max_error"), "", "max_error",
                            "must be > 0, got %g", t->max_error);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(y, root, "", "max_ripple", &t->max_ripple,
                             &t->has_max_ripple);
  if (rc == SHP_OK && t->has_max_ripple && !(t->max_ripple > 0))
    rc = shp_yaml_fail_code(SHP_ERR_RANGE, y,
                            shp_yaml_get(y, root, "max_ripple"), "",
                            "max_ripple", "must be > 0, got %g", t->max_ripple);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(y, root, "", "min_transmission",
                             &t->min_transmission, &t->has_min_transmission);
  if (rc == SHP_OK && t->has_min_transmission &&
      !(t->min_transmission > 0 && t->min_transmission <= 1))
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, y, shp_yaml_get(y, root, "min_transmission"), "",
        "min_transmission", "must be in (0, 1], got %g", t->min_transmission);
  return rc;
}

static int read_target(shp_yaml *y, shp_target *t) {
  yaml_node_t *root = shp_yaml_root(y);
  const char *shape;
  int rc = shp_yaml_check_keys(y, root, "", target_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_string(y, root, "", "shape", &shape);
  if (rc != SHP_OK)
    return rc;
  size_t i = 0;
  while (i < sizeof shapes / sizeof shapes[0] && strcmp(shapes[i].name, shape))
    i++;
  if (i == sizeof shapes / sizeof shapes[0])
    return shp_yaml_fail(y, shp_yaml_get(y, root, "shape"), "", "shape",
                         "expected flat-top, ramp, triangle, parabolic, "
                         "gaussian-train or file, got \"%s\"",
                         shape);
  t->shape = shapes[i].shape;
  for (const char *const *key = target_keys; *key != NULL; key++)
    if (shp_yaml_get(y, root, *key) != NULL && !key_allowed(t->shape, *key))
      return shp_yaml_fail(y, shp_yaml_get(y, root, *key), "", *key,
                           "does not apply to shape %s", shape);
  if ((rc = read_shape_keys(y, root, t)) != SHP_OK)
    return rc;
  yaml_node_t *win = shp_yaml_get(y, root, "weight_window_ps");
  if (win != NULL) {
    double w[2];
    size_t n = 0;
    if ((rc = shp_yaml_numbers(y, root, "", "weight_window_ps", w, 2, &n)) !=
        SHP_OK)
      return rc;
    if (n != 2 || !(w[1] > w[0]))
      return shp_yaml_fail(y, win, "", "weight_window_ps",
                           "expected [start, end] with start < end");
    t->has_window = true;
    t->window_start_ps = w[0];
    t->window_end_ps = w[1];
  }
  return read_thresholds(y, root, t);
}

shp_target *shp_target_load(const char *path) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL)
    return NULL;
  shp_target *t = calloc(1, sizeof *t);
  if (t == NULL || (t->path = strdup(path)) == NULL) {
    free(t);
    shp_yaml_free(y);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  int rc = read_target(y, t);
  shp_yaml_free(y);
  if (rc != SHP_OK) {
    shp_target_free(t);
    return NULL;
  }
  return t;
}

/* ---- sampling ----------------------------------------------------------- */

/* A rising error-function edge at t0 with 10-90 % time rise (a step when
 * rise is 0). */
static double edge(double t, double t0, double rise) {
  if (rise <= 0)
    return t >= t0 ? 1.0 : 0.0;
  double sigma = rise / ERF_EDGE_10_90;
  return 0.5 * (1 + erf((t - t0) / (sqrt(2.0) * sigma)));
}

static double file_value(const shp_target *t, double time) {
  const double *x = t->file_time_ps, *v = t->file_intensity;
  size_t n = t->file_count;
  if (time < x[0] || time > x[n - 1])
    return 0.0;
  size_t lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (x[mid] <= time)
      lo = mid;
    else
      hi = mid;
  }
  double f = (time - x[lo]) / (x[hi] - x[lo]);
  return v[lo] + f * (v[hi] - v[lo]);
}

static double value_at(const shp_target *t, double time) {
  double d = t->duration_ps, r = t->rise_time_ps;
  switch (t->shape) {
  case SHP_TARGET_FLAT_TOP:
    return edge(time, -d / 2, r) * (1 - edge(time, d / 2, r));
  case SHP_TARGET_RAMP: {
    /* A falling ramp is the rising one mirrored about d / 2, so its half
     * maxima stay at 0 and d. */
    if (t->falling)
      time = d - time;
    /* A line from 0 at -b to 1 at b, then the falling edge centred on d.
     * With b = d - 2r the edge has fallen by only 1.5e-7 where the line
     * tops out, so the peak is 1, the half maxima are at 0 and d (FWHM d)
     * and the fall keeps its 10-90 % time r. A line running on into the
     * edge would lower the peak and so move both half maxima. */
    double b = d - 2 * r;
    double x = (time + b) / (2 * b);
    return fmin(fmax(x, 0.0), 1.0) * (1 - edge(time, d, r));
  }
  case SHP_TARGET_TRIANGLE:
    return fmax(0.0, 1 - fabs(time) / d);
  case SHP_TARGET_PARABOLIC: {
    double x = time * sqrt(2.0) / d;
    return fmax(0.0, 1 - x * x);
  }
  case SHP_TARGET_GAUSSIAN_TRAIN: {
    double sum = 0, w = t->pulse_fwhm_ps;
    for (size_t m = 0; m < t->count; m++) {
      double c = ((double)m - (double)(t->count - 1) / 2) * t->spacing_ps;
      double u = (time - c) / w;
      sum += exp(-4 * log(2) * u * u);
    }
    return sum;
  }
  case SHP_TARGET_FILE:
    return file_value(t, time);
  }
  return 0.0;
}

double shp_target_span_ps(const shp_target *t) {
  switch (t->shape) {
  case SHP_TARGET_FLAT_TOP:
    return t->duration_ps + 4 * t->rise_time_ps;
  case SHP_TARGET_RAMP:
    /* Not centred: from -d to d + 2 r (as the flat-top, two rise times
     * past the edge's midpoint, 1.5e-7 of the peak) in a centred window. */
    return 2 * t->duration_ps + 4 * t->rise_time_ps;
  case SHP_TARGET_TRIANGLE:
    return 2 * t->duration_ps;
  case SHP_TARGET_PARABOLIC:
    return sqrt(2.0) * t->duration_ps;
  case SHP_TARGET_GAUSSIAN_TRAIN:
    return (double)(t->count - 1) * t->spacing_ps + 3 * t->pulse_fwhm_ps;
  case SHP_TARGET_FILE:
    /* The trace keeps its own time axis, so a centred window must reach
     * its farther end. */
    return 2 * fmax(fabs(t->file_time_ps[0]),
                    fabs(t->file_time_ps[t->file_count - 1]));
  }
  return 0.0;
}

bool shp_target_plateau(const shp_target *t, double *start_ps, double *end_ps) {
  if (t->shape != SHP_TARGET_FLAT_TOP)
    return false;
  *start_ps = -t->duration_ps / 2 + t->rise_time_ps / 2;
  *end_ps = t->duration_ps / 2 - t->rise_time_ps / 2;
  return *end_ps > *start_ps;
}

int shp_target_sample(const shp_target *t, const shp_grid *g, double *intensity,
                      double *weight) {
  double window = shp_grid_window_ps(g), span = shp_target_span_ps(t);
  if (span >= window)
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: the target spans %g ps, more than the %g ps "
                         "time window",
                         t->path ? t->path : "target", span, window);
  double peak = 0;
  for (size_t j = 0; j < g->n; j++) {
    intensity[j] = value_at(t, shp_grid_time_ps(g, j));
    peak = fmax(peak, intensity[j]);
  }
  if (!(peak > 0))
    return shp_error_set(SHP_ERR_RANGE, "%s: the target is zero on the grid",
                         t->path ? t->path : "target");
  for (size_t j = 0; j < g->n; j++)
    intensity[j] /= peak;
  if (weight != NULL)
    for (size_t j = 0; j < g->n; j++) {
      double time = shp_grid_time_ps(g, j);
      weight[j] = !t->has_window ||
                  (time >= t->window_start_ps && time <= t->window_end_ps);
    }
  return SHP_OK;
}
