#include "output.h"

#include "cli.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

json_t *out_number(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

json_t *out_array(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < n; i++)
    json_array_append_new(a, out_number(v[i]));
  return a;
}

typedef struct {
  const char *header;
  size_t n, ncolumns;
  const double *const *columns;
} table;

/* A short write is caught by the atomic writer's flush and ferror. */
static int write_table(FILE *f, void *ctx) {
  const table *t = ctx;
  fprintf(f, "%s\n", t->header);
  for (size_t i = 0; i < t->n && !ferror(f); i++) {
    for (size_t c = 0; c < t->ncolumns; c++)
      shp_fprintf(f, c ? ",%.10g" : "%.10g", t->columns[c][i]);
    fputc('\n', f);
  }
  return SHP_OK;
}

int out_csv(const char *path, const char *header, size_t n,
            const double *const *columns, size_t ncolumns) {
  table t = {header, n, ncolumns, columns};
  return shp_file_write_atomic(path, write_table, &t) == SHP_OK ? 0 : -1;
}

typedef struct {
  const char *const *names;
  const double *values;
  size_t n;
} named;

static int write_named(FILE *f, void *ctx) {
  const named *t = ctx;
  fputs("metric,value\n", f);
  for (size_t i = 0; i < t->n && !ferror(f); i++)
    shp_fprintf(f, "%s,%.10g\n", t->names[i], t->values[i]);
  return SHP_OK;
}

int out_csv_named(const char *path, const char *const *names,
                  const double *values, size_t n) {
  named t = {names, values, n};
  return shp_file_write_atomic(path, write_named, &t) == SHP_OK ? 0 : -1;
}

json_t *out_metrics(const shp_metrics *m) {
  json_t *o = json_object();
  json_object_set_new(o, "transmission", out_number(m->transmission));
  json_object_set_new(o, "peak", out_number(m->peak));
  json_object_set_new(o, "fwhm_ps", out_number(m->fwhm_ps));
  json_object_set_new(o, "rise_time_ps", out_number(m->rise_time_ps));
  json_object_set_new(o, "fall_time_ps", out_number(m->fall_time_ps));
  json_object_set_new(o, "ripple", out_number(m->ripple));
  json_object_set_new(o, "plateau_ps",
                      json_pack("[o,o]", out_number(m->plateau_start_ps),
                                out_number(m->plateau_end_ps)));
  if (m->has_error) {
    json_object_set_new(o, "error", out_number(m->error));
    json_object_set_new(o, "error_shift_ps", out_number(m->error_shift_ps));
    json_object_set_new(o, "error_scale", out_number(m->error_scale));
  }
  return o;
}

void out_metrics_title(char *buf, size_t size, const char *name,
                       const shp_metrics *m) {
  int w =
      snprintf(buf, size,
               "%s%stransmission %.3f, FWHM %.3g ps, rise %.3g ps, fall "
               "%.3g ps, ripple %.1f %%",
               name ? name : "", name ? ": " : "", m->transmission, m->fwhm_ps,
               m->rise_time_ps, m->fall_time_ps, 100 * m->ripple);
  if (m->has_error && w > 0 && (size_t)w < size)
    snprintf(buf + w, size - (size_t)w, ", error %.1f %%", 100 * m->error);
}

int cli_load_calibration(const char *path, shp_calibration **out) {
  if ((*out = shp_calibration_load(path)) == NULL)
    return cli_fail_lib(shp_error_last());
  fprintf(stderr, "shapectl: calibration %s (%s, %zu crystal%s)\n", path,
          (*out)->created, (*out)->crystal_count,
          (*out)->crystal_count == 1 ? "" : "s");
  return CLI_OK;
}

int cli_load_inputs(const char *stack_path, const char *calibration_path,
                    const char *target_path, shp_stack **stack,
                    shp_target **target) {
  *target = NULL;
  if ((*stack = shp_stack_load(stack_path)) == NULL)
    return cli_fail_lib(shp_error_last());
  if (calibration_path != NULL) {
    shp_calibration *cal;
    int rc = cli_load_calibration(calibration_path, &cal);
    if (rc == CLI_OK && shp_calibration_apply(cal, *stack) != SHP_OK)
      rc = cli_fail_lib(shp_error_last());
    shp_calibration_free(cal);
    if (rc != CLI_OK) {
      shp_stack_free(*stack);
      *stack = NULL;
      return rc;
    }
  }
  if (target_path != NULL && (*target = shp_target_load(target_path)) == NULL) {
    shp_stack_free(*stack);
    *stack = NULL;
    return cli_fail_lib(shp_error_last());
  }
  return CLI_OK;
}
