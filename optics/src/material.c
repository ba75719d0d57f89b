#include "shp/material.h"

#include "shp/datadir.h"
#include "shp/error.h"
#include "shp/gsl-guard.h"
#include "shp/numbers.h"
#include "shp/units.h"
#include "shp/yamlfile.h"

#include <dirent.h>
#include <gsl/gsl_interp.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_COEFF 17

/* One axis' n(lambda) at the reference temperature: a refractiveindex.info
 * formula or a table interpolated by a natural cubic spline. */
typedef struct {
  int formula; /* 1..9, or 0 for a table */
  double c[MAX_COEFF];
  double *tab_x, *tab_y;
  size_t tab_n;
  gsl_interp *spline;
  double lo_um, hi_um; /* where the formula or table holds */
} dispersion;

struct shp_material {
  char *name, *description, *path;
  double t_ref_c;
  double lo_um, hi_um;
  dispersion axis[2];
  double dn_dT[2];
  char *source[2];
  double expansion_a, expansion_c;
  char *expansion_source;
};

static void dispersion_clear(dispersion *d) {
  gsl_interp_free(d->spline);
  free(d->tab_x);
  free(d->tab_y);
  memset(d, 0, sizeof *d);
}

void shp_material_free(shp_material *m) {
  if (m == NULL)
    return;
  for (int a = 0; a < 2; a++) {
    dispersion_clear(&m->axis[a]);
    free(m->source[a]);
  }
  free(m->name);
  free(m->description);
  free(m->path);
  free(m->expansion_source);
  free(m);
}

/* The refractiveindex.info formulas, lambda in um, c[0] = C1. Terms whose
 * leading coefficient is zero are skipped so that an unused pole cannot turn
 * into 0/0. Source: refractiveindex.info database documentation, "Dispersion
 * formulas" (formulas 1 to 9). */
static double formula_eval(const dispersion *d, double l) {
  const double *c = d->c;
  double l2 = l * l;
  double v;
  switch (d->formula) {
  case 1: /* n^2 - 1 = C1 + sum C2i l^2 / (l^2 - C2i+1^2) */
    v = 1.0 + c[0];
    for (int i = 1; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] * l2 / (l2 - c[i + 1] * c[i + 1]);
    return sqrt(v);
  case 2: /* n^2 - 1 = C1 + sum C2i l^2 / (l^2 - C2i+1) */
    v = 1.0 + c[0];
    for (int i = 1; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] * l2 / (l2 - c[i + 1]);
    return sqrt(v);
  case 3: /* n^2 = C1 + sum C2i l^C2i+1 */
    v = c[0];
    for (int i = 1; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] * pow(l, c[i + 1]);
    return sqrt(v);
  case 4: /* n^2 = C1 + C2 l^C3/(l^2 - C4^C5) + C6 l^C7/(l^2 - C8^C9)
             + sum_{i>=10} Ci l^Ci+1 */
    v = c[0];
    if (c[1] != 0.0)
      v += c[1] * pow(l, c[2]) / (l2 - pow(c[3], c[4]));
    if (c[5] != 0.0)
      v += c[5] * pow(l, c[6]) / (l2 - pow(c[7], c[8]));
    for (int i = 9; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] * pow(l, c[i + 1]);
    return sqrt(v);
  case 5: /* n = C1 + sum C2i l^C2i+1 */
    v = c[0];
    for (int i = 1; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] * pow(l, c[i + 1]);
    return v;
  case 6: /* n - 1 = C1 + sum C2i / (C2i+1 - l^-2) */
    v = 1.0 + c[0];
    for (int i = 1; i + 1 < MAX_COEFF; i += 2)
      if (c[i] != 0.0)
        v += c[i] / (c[i + 1] - 1.0 / l2);
    return v;
  case 7: { /* Herzberger */
    double L = 1.0 / (l2 - 0.028);
    return c[0] + c[1] * L + c[2] * L * L + c[3] * l2 + c[4] * l2 * l2 +
           c[5] * l2 * l2 * l2;
  }
  case 8: { /* (n^2 - 1)/(n^2 + 2) = C1 + C2 l^2/(l^2 - C3) + C4 l^2 */
    double r = c[0] + c[1] * l2 / (l2 - c[2]) + c[3] * l2;
    return sqrt((1.0 + 2.0 * r) / (1.0 - r));
  }
  case 9: /* n^2 = C1 + C2/(l^2 - C3) + C4 (l - C5)/((l - C5)^2 + C6) */
    v = c[0] + c[1] / (l2 - c[2]) +
        c[3] * (l - c[4]) / ((l - c[4]) * (l - c[4]) + c[5]);
    return sqrt(v);
  default:
    return NAN;
  }
}

static double dispersion_eval(const dispersion *d, double l) {
  if (d->formula == 0) {
    double lc = fmin(fmax(l, d->tab_x[0]), d->tab_x[d->tab_n - 1]);
    return gsl_interp_eval(d->spline, d->tab_x, d->tab_y, lc, NULL);
  }
  return formula_eval(d, l);
}

/* dn/dlambda and d2n/dlambda2. Formulas: five-point central differences with
 * h = 2 nm, whose truncation error (h^4 n^(5)/30) is below 1e-12 for smooth
 * Sellmeier curves and whose rounding error is ~1e-10 on n''. Tables: the
 * spline's own derivatives. */
static void dispersion_derivs(const dispersion *d, double l, double *d1,
                              double *d2) {
  if (d->formula == 0) {
    *d1 = gsl_interp_eval_deriv(d->spline, d->tab_x, d->tab_y, l, NULL);
    *d2 = gsl_interp_eval_deriv2(d->spline, d->tab_x, d->tab_y, l, NULL);
    return;
  }
  const double h = 2e-3;
  double fm2 = formula_eval(d, l - 2 * h), fm1 = formula_eval(d, l - h);
  double f0 = formula_eval(d, l);
  double fp1 = formula_eval(d, l + h), fp2 = formula_eval(d, l + 2 * h);
  *d1 = (fm2 - 8 * fm1 + 8 * fp1 - fp2) / (12 * h);
  *d2 = (-fm2 + 16 * fm1 - 30 * f0 + 16 * fp1 - fp2) / (12 * h * h);
}

/* ---- reading ---------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Parse whitespace-separated numbers from a string (the refractiveindex.info
 * layout writes coefficients and ranges as "0.2 2.0"). */
static int parse_number_list(shp_yaml *y, yaml_node_t *node, const char *ctx,
                             const char *key, double *out, size_t max,
                             size_t *count) {
  if (node->type == YAML_SEQUENCE_NODE) {
    size_t n = shp_yaml_seq_count(node);
    if (n > max)
      return shp_yaml_fail(y, node, ctx, key, "at most %zu numbers, got %zu",
                           max, n);
    for (size_t i = 0; i < n; i++) {
      int rc = shp_yaml_as_number(y, shp_yaml_seq_item(y, node, i), ctx, key,
                                  &out[i]);
      if (rc != SHP_OK)
        return rc;
    }
    *count = n;
    return SHP_OK;
  }
  if (node->type != YAML_SCALAR_NODE)
    return shp_yaml_fail(y, node, ctx, key, "expected numbers");
  const char *s = (const char *)node->data.scalar.value;
  size_t n = 0;
  while (*s != '\0') {
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',')
      s++;
    if (*s == '\0')
      break;
    double v = shp_strtod(s, &end);
    if (end == s || !isfinite(v))
      return shp_yaml_fail(y, node, ctx, key, "expected numbers, got \"%.40s\"",
                           s);
    if (n == max)
      return shp_yaml_fail(y, node, ctx, key, "at most %zu numbers", max);
    out[n++] = v;
    s = end;
  }
  *count = n;
  return SHP_OK;
}

static int check_formula(shp_yaml *y, yaml_node_t *node, const char *ctx,
                         dispersion *d) {
  if (d->formula < 1 || d->formula > 9)
    return shp_yaml_fail(y, node, ctx, "formula",
                         "must be a refractiveindex.info formula 1..9, got %d",
                         d->formula);
  return SHP_OK;
}

/* A table row holds two or three numbers; a line longer than this is not a
 * row (it used to be cut silently). */
#define TABLE_MAX_LINE 256

/* A table "lambda n [k]" per line, ascending in lambda. Its length is
 * bounded by the file's (SHP_FILE_MAX_TEXT). */
static int parse_table(shp_yaml *y, yaml_node_t *node, const char *ctx,
                       dispersion *d) {
  const char *s;
  int rc = shp_yaml_as_string(y, node, ctx, "data", &s);
  if (rc != SHP_OK)
    return rc;
  size_t cap = 64, n = 0, row = 0;
  d->tab_x = malloc(cap * sizeof(double));
  d->tab_y = malloc(cap * sizeof(double));
  if (d->tab_x == NULL || d->tab_y == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  while (*s != '\0') {
    const char *eol = strchr(s, '\n');
    size_t len = eol ? (size_t)(eol - s) : strlen(s);
    row++;
    if (len >= TABLE_MAX_LINE)
      return shp_yaml_fail(y, node, ctx, "data",
                           "line %zu: longer than %d bytes", row,
                           TABLE_MAX_LINE - 1);
    /* A copy, so that strtod's leading blanks cannot reach the next row. */
    char line[TABLE_MAX_LINE];
    memcpy(line, s, len);
    line[len] = '\0';
    s += len + (eol ? 1 : 0);
    double x, v;
    char *end;
    x = shp_strtod(line, &end);
    if (end == line)
      continue; /* blank line */
    char *end2;
    v = shp_strtod(end, &end2);
    if (end2 == end || !isfinite(x) || !isfinite(v) || !(v > 0))
      return shp_yaml_fail(y, node, ctx, "data",
                           "row %zu: expected \"wavelength_um n\"", n + 1);
    if (!(x > 0))
      return shp_yaml_fail(y, node, ctx, "data",
                           "row %zu: a wavelength must be > 0 um, got %g",
                           n + 1, x);
    if (n > 0 && !(x > d->tab_x[n - 1]))
      return shp_yaml_fail(y, node, ctx, "data",
                           "row %zu: wavelengths must increase", n + 1);
    if (n == cap) {
      cap *= 2;
      double *nx = realloc(d->tab_x, cap * sizeof(double));
      if (nx == NULL)
        return shp_error_set(SHP_ERR_NOMEM, "out of memory");
      d->tab_x = nx;
      double *ny = realloc(d->tab_y, cap * sizeof(double));
      if (ny == NULL)
        return shp_error_set(SHP_ERR_NOMEM, "out of memory");
      d->tab_y = ny;
    }
    d->tab_x[n] = x;
    d->tab_y[n] = v;
    n++;
  }
  if (n < 3)
    return shp_yaml_fail(y, node, ctx, "data",
                         "a table needs at least 3 rows, got %zu", n);
  d->tab_n = n;
  d->formula = 0;
  shp_gsl_guard(); /* a bad table is an error here, never an abort */
  d->spline = gsl_interp_alloc(gsl_interp_cspline, n);
  if (d->spline == NULL ||
      gsl_interp_init(d->spline, d->tab_x, d->tab_y, n) != 0)
    return shp_yaml_fail(y, node, ctx, "data", "cannot interpolate the table");
  d->lo_um = d->tab_x[0];
  d->hi_um = d->tab_x[n - 1];
  return SHP_OK;
}

/* "formula N" names one of the formulas 1..9 (atoi read "formula 1x" as 1
 * and "formula 99999999999" as undefined behaviour). */
static int parse_formula_type(shp_yaml *y, yaml_node_t *e, const char *ctx,
                              const char *type, dispersion *d) {
  double f;
  if (shp_parse_double(type + 8, &f) != SHP_OK || !(f >= 1 && f <= 9) ||
      f != floor(f))
    return shp_yaml_fail(y, shp_yaml_get(y, e, "type"), ctx, "type",
                         "must be a refractiveindex.info formula 1..9, got "
                         "\"%s\"",
                         type);
  d->formula = (int)f;
  return SHP_OK;
}

/* Read one axis from a file in the refractiveindex.info database layout:
 * REFERENCES, COMMENTS, DATA (a list whose entries have a type "formula N"
 * with wavelength_range and coefficients, or "tabulated n"/"tabulated nk"
 * with data), SPECS. The first usable DATA entry is taken. */
static int load_rii(const char *path, dispersion *d, char **source) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL)
    return shp_error_last();
  int rc = SHP_OK;
  yaml_node_t *root = shp_yaml_root(y);
  if ((rc = shp_yaml_expect_mapping(y, root, "", NULL)) != SHP_OK)
    goto out;
  const char *refs = NULL;
  if ((rc = shp_yaml_string_opt(y, root, "", "REFERENCES", &refs, NULL)) !=
      SHP_OK)
    goto out;
  yaml_node_t *data = shp_yaml_get(y, root, "DATA");
  if (data == NULL) {
    rc = shp_yaml_fail(y, root, "", "DATA", "missing required key");
    goto out;
  }
  if ((rc = shp_yaml_expect_sequence(y, data, "", "DATA")) != SHP_OK)
    goto out;
  for (size_t i = 0; i < shp_yaml_seq_count(data); i++) {
    yaml_node_t *e = shp_yaml_seq_item(y, data, i);
    char ctx[32];
    snprintf(ctx, sizeof ctx, "DATA[%zu]", i);
    const char *type;
    if ((rc = shp_yaml_expect_mapping(y, e, ctx, NULL)) != SHP_OK ||
        (rc = shp_yaml_string(y, e, ctx, "type", &type)) != SHP_OK)
      goto out;
    if (strncmp(type, "formula ", 8) == 0) {
      if ((rc = parse_formula_type(y, e, ctx, type, d)) != SHP_OK)
        goto out;
      double range[2];
      size_t n = 0;
      yaml_node_t *r = shp_yaml_get(y, e, "wavelength_range");
      yaml_node_t *c = shp_yaml_get(y, e, "coefficients");
      if (r == NULL || c == NULL) {
        rc = shp_yaml_fail(y, e, ctx, r ? "coefficients" : "wavelength_range",
                           "missing required key");
        goto out;
      }
      if ((rc = parse_number_list(y, r, ctx, "wavelength_range", range, 2,
                                  &n)) != SHP_OK)
        goto out;
      if (n != 2 || !(range[0] > 0 && range[1] > range[0])) {
        rc = shp_yaml_fail(y, r, ctx, "wavelength_range",
                           "expected two increasing wavelengths in um");
        goto out;
      }
      d->lo_um = range[0];
      d->hi_um = range[1];
      if ((rc = parse_number_list(y, c, ctx, "coefficients", d->c, MAX_COEFF,
                                  &n)) != SHP_OK)
        goto out;
      break;
    }
    if (strcmp(type, "tabulated n") == 0 || strcmp(type, "tabulated nk") == 0) {
      yaml_node_t *t = shp_yaml_get(y, e, "data");
      if (t == NULL) {
        rc = shp_yaml_fail(y, e, ctx, "data", "missing required key");
        goto out;
      }
      if ((rc = parse_table(y, t, ctx, d)) != SHP_OK)
        goto out;
      break;
    }
    if (i + 1 == shp_yaml_seq_count(data)) {
      rc = shp_yaml_fail(y, e, ctx, "type",
                         "no formula or tabulated n entry in DATA");
      goto out;
    }
  }
  if (d->formula == 0 && d->spline == NULL)
    rc = shp_yaml_fail(y, data, "", "DATA", "is empty");
  else if (*source == NULL && refs != NULL)
    *source = strdup(refs);
out:
  shp_yaml_free(y);
  return rc;
}

/* A path relative to the directory of the file that names it. */
static void sibling_path(char *buf, size_t size, const char *base,
                         const char *rel) {
  const char *slash = strrchr(base, '/');
  if (rel[0] == '/' || slash == NULL)
    snprintf(buf, size, "%s", rel);
  else
    snprintf(buf, size, "%.*s/%s", (int)(slash - base), base, rel);
}

static const char *const axis_keys[] = {
    "formula",     "coefficients", "refractiveindex_info",
    "dn_dT_per_K", "source",       NULL};

static int load_axis(shp_yaml *y, yaml_node_t *axes, shp_material *m, int a) {
  const char *key = a == SHP_AXIS_O ? "o" : "e";
  char ctx[16];
  snprintf(ctx, sizeof ctx, "axes.%s", key);
  yaml_node_t *node = shp_yaml_get(y, axes, key);
  if (node == NULL)
    return shp_yaml_fail(y, axes, "axes", key, "missing required key");
  int rc = shp_yaml_check_keys(y, node, ctx, axis_keys);
  if (rc != SHP_OK)
    return rc;
  const char *src = NULL;
  if ((rc = shp_yaml_string_opt(y, node, ctx, "source", &src, NULL)) != SHP_OK)
    return rc;
  m->source[a] = dup_or_null(src);
  if ((rc = shp_yaml_number(y, node, ctx, "dn_dT_per_K", &m->dn_dT[a])) !=
      SHP_OK)
    return rc;
  const char *rii = NULL;
  bool has_rii = false;
  if ((rc = shp_yaml_string_opt(y, node, ctx, "refractiveindex_info", &rii,
                                &has_rii)) != SHP_OK)
    return rc;
  dispersion *d = &m->axis[a];
  if (has_rii) {
    if (shp_yaml_get(y, node, "formula") ||
        shp_yaml_get(y, node, "coefficients"))
      return shp_yaml_fail(y, node, ctx, "refractiveindex_info",
                           "give either a file or formula and coefficients, "
                           "not both");
    char path[PATH_MAX];
    sibling_path(path, sizeof path, shp_yaml_path(y), rii);
    rc = load_rii(path, d, &m->source[a]);
    if (rc != SHP_OK)
      return shp_error_prefix("%s:%d: %s.refractiveindex_info: ",
                              shp_yaml_path(y), shp_yaml_line(node), ctx);
    return SHP_OK;
  }
  double f;
  if ((rc = shp_yaml_number(y, node, ctx, "formula", &f)) != SHP_OK)
    return rc;
  /* Converting a double outside the range of int is undefined behaviour. */
  if (!(f >= 1 && f <= 9))
    return shp_yaml_fail(y, shp_yaml_get(y, node, "formula"), ctx, "formula",
                         "must be a refractiveindex.info formula 1..9, got %g",
                         f);
  d->formula = (int)f;
  if ((double)d->formula != f)
    return shp_yaml_fail(y, shp_yaml_get(y, node, "formula"), ctx, "formula",
                         "must be a whole number 1..9, got %g", f);
  if ((rc = check_formula(y, shp_yaml_get(y, node, "formula"), ctx, d)) !=
      SHP_OK)
    return rc;
  size_t n = 0;
  rc = shp_yaml_numbers(y, node, ctx, "coefficients", d->c, MAX_COEFF, &n);
  if (rc == SHP_OK && n == 0)
    rc = shp_yaml_fail(y, shp_yaml_get(y, node, "coefficients"), ctx,
                       "coefficients", "must not be empty");
  d->lo_um = 0.0;
  d->hi_um = INFINITY;
  return rc;
}

static const char *const top_keys[] = {"name",
                                       "description",
                                       "reference_temperature_c",
                                       "wavelength_range_um",
                                       "axes",
                                       "thermal_expansion_per_K",
                                       NULL};
static const char *const expansion_keys[] = {"a", "c", "source", NULL};

static int load_material(shp_yaml *y, shp_material *m) {
  yaml_node_t *root = shp_yaml_root(y);
  int rc = shp_yaml_check_keys(y, root, "", top_keys);
  if (rc != SHP_OK)
    return rc;
  const char *s;
  if ((rc = shp_yaml_string(y, root, "", "name", &s)) != SHP_OK)
    return rc;
  if (s[0] == '\0')
    return shp_yaml_fail(y, root, "", "name", "must not be empty");
  m->name = strdup(s);
  s = NULL;
  if ((rc = shp_yaml_string_opt(y, root, "", "description", &s, NULL)) !=
      SHP_OK)
    return rc;
  m->description = strdup(s ? s : "");
  if ((rc = shp_yaml_number(y, root, "", "reference_temperature_c",
                            &m->t_ref_c)) != SHP_OK)
    return rc;
  if (m->t_ref_c < -273.15)
    return shp_yaml_fail(y, shp_yaml_get(y, root, "reference_temperature_c"),
                         "", "reference_temperature_c",
                         "must be above absolute zero, got %g", m->t_ref_c);
  yaml_node_t *axes = shp_yaml_get(y, root, "axes");
  if (axes == NULL)
    return shp_yaml_fail(y, root, "", "axes", "missing required key");
  static const char *const axes_keys[] = {"o", "e", NULL};
  if ((rc = shp_yaml_check_keys(y, axes, "axes", axes_keys)) != SHP_OK)
    return rc;
  for (int a = 0; a < 2; a++)
    if ((rc = load_axis(y, axes, m, a)) != SHP_OK)
      return rc;
  /* The material's range: as given, else where both axis data hold. */
  m->lo_um = fmax(m->axis[0].lo_um, m->axis[1].lo_um);
  m->hi_um = fmin(m->axis[0].hi_um, m->axis[1].hi_um);
  yaml_node_t *rn = shp_yaml_get(y, root, "wavelength_range_um");
  if (rn != NULL) {
    double r[2];
    size_t n = 0;
    if ((rc = shp_yaml_numbers(y, root, "", "wavelength_range_um", r, 2, &n)) !=
        SHP_OK)
      return rc;
    if (n != 2 || !(r[0] > 0 && r[1] > r[0]))
      return shp_yaml_fail(y, rn, "", "wavelength_range_um",
                           "expected [low, high] in um with 0 < low < high");
    if (r[0] < m->lo_um || r[1] > m->hi_um)
      return shp_yaml_fail(y, rn, "", "wavelength_range_um",
                           "extends beyond the axis data (%g to %g um)",
                           m->lo_um, m->hi_um);
    m->lo_um = r[0];
    m->hi_um = r[1];
  } else if (!isfinite(m->hi_um)) {
    return shp_yaml_fail(y, root, "", "wavelength_range_um",
                         "missing required key");
  }
  yaml_node_t *ex = shp_yaml_get(y, root, "thermal_expansion_per_K");
  if (ex == NULL)
    return shp_yaml_fail(y, root, "", "thermal_expansion_per_K",
                         "missing required key");
  const char *ectx = "thermal_expansion_per_K";
  if ((rc = shp_yaml_check_keys(y, ex, ectx, expansion_keys)) != SHP_OK ||
      (rc = shp_yaml_number(y, ex, ectx, "a", &m->expansion_a)) != SHP_OK ||
      (rc = shp_yaml_number(y, ex, ectx, "c", &m->expansion_c)) != SHP_OK)
    return rc;
  s = NULL;
  if ((rc = shp_yaml_string_opt(y, ex, ectx, "source", &s, NULL)) != SHP_OK)
    return rc;
  m->expansion_source = dup_or_null(s);
  /* A formula that gives no real index inside its own range is a bad file. */
  for (int a = 0; a < 2; a++)
    for (int i = 0; i <= 8; i++) {
      double l = m->lo_um + (m->hi_um - m->lo_um) * i / 8.0;
      double n = dispersion_eval(&m->axis[a], l);
      if (!(isfinite(n) && n > 0.5 && n < 10.0))
        return shp_yaml_fail(y, shp_yaml_get(y, axes, a ? "e" : "o"), "axes",
                             a ? "e" : "o",
                             "the dispersion gives n = %g at %g um, not a "
                             "refractive index",
                             n, l);
    }
  return SHP_OK;
}

shp_material *shp_material_load(const char *path) {
  shp_yaml *y = shp_yaml_load(path);
  if (y == NULL)
    return NULL;
  shp_material *m = calloc(1, sizeof *m);
  if (m == NULL) {
    shp_yaml_free(y);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  m->path = strdup(path);
  int rc = load_material(y, m);
  shp_yaml_free(y);
  if (rc != SHP_OK || m->path == NULL || m->name == NULL) {
    if (rc == SHP_OK)
      shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    shp_material_free(m);
    return NULL;
  }
  return m;
}

/* ---- finding by name ------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcasecmp(*(char *const *)a, *(char *const *)b);
}

void shp_material_names_free(char **names, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(names[i]);
  free(names);
}

int shp_material_names(char ***names_out, size_t *count_out) {
  const char *dirs[16];
  size_t nd = shp_data_dirs(dirs, 16);
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < nd && i < 16; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/calibrations/materials", dirs[i]);
    DIR *dir = opendir(path);
    if (dir == NULL)
      continue;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".yml"))
        continue;
      size_t len = strlen(e->d_name) - 4;
      bool seen = false;
      for (size_t k = 0; k < n; k++)
        if (strlen(names[k]) == len &&
            strncasecmp(names[k], e->d_name, len) == 0)
          seen = true;
      if (seen)
        continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        char **nn = realloc(names, cap * sizeof *nn);
        if (nn == NULL) {
          closedir(dir);
          shp_material_names_free(names, n);
          return shp_error_set(SHP_ERR_NOMEM, "out of memory");
        }
        names = nn;
      }
      names[n] = strndup(e->d_name, len);
      if (names[n] == NULL) {
        closedir(dir);
        shp_material_names_free(names, n);
        return shp_error_set(SHP_ERR_NOMEM, "out of memory");
      }
      n++;
    }
    closedir(dir);
  }
  if (n > 1)
    qsort(names, n, sizeof *names, cmp_str);
  *names_out = names;
  *count_out = n;
  return SHP_OK;
}

shp_material *shp_material_open(const char *name) {
  if (name == NULL || name[0] == '\0') {
    shp_error_set(SHP_ERR_INVALID, "material: no name given");
    return NULL;
  }
  if (strchr(name, '/') != NULL || has_suffix(name, ".yml") ||
      has_suffix(name, ".yaml"))
    return shp_material_load(name);
  char **names = NULL;
  size_t count = 0;
  if (shp_material_names(&names, &count) != SHP_OK)
    return NULL;
  const char *match = NULL;
  for (size_t i = 0; i < count; i++)
    if (strcasecmp(names[i], name) == 0)
      match = names[i];
  shp_material *m = NULL;
  if (match != NULL) {
    char rel[PATH_MAX], path[PATH_MAX];
    snprintf(rel, sizeof rel, "calibrations/materials/%s.yml", match);
    if (shp_data_find(rel, path, sizeof path) == SHP_OK)
      m = shp_material_load(path);
  } else {
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof known; i++)
      used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
                               i ? ", " : "", names[i]);
    shp_error_set(SHP_ERR_NOT_FOUND, "unknown material \"%s\" (known: %s)",
                  name, count ? known : "none found");
  }
  shp_material_names_free(names, count);
  return m;
}

/* ---- queries ---------------------------------------------------------- */

const char *shp_material_name(const shp_material *m) { return m->name; }
const char *shp_material_description(const shp_material *m) {
  return m->description;
}
const char *shp_material_path(const shp_material *m) { return m->path; }
const char *shp_material_source(const shp_material *m, shp_axis axis) {
  return m->source[axis] ? m->source[axis] : "";
}
const char *shp_material_expansion_source(const shp_material *m) {
  return m->expansion_source ? m->expansion_source : "";
}
double shp_material_reference_temperature_c(const shp_material *m) {
  return m->t_ref_c;
}
void shp_material_range_um(const shp_material *m, double *lo, double *hi) {
  *lo = m->lo_um;
  *hi = m->hi_um;
}
double shp_material_dn_dT(const shp_material *m, shp_axis axis) {
  return m->dn_dT[axis];
}
double shp_material_expansion_a(const shp_material *m) {
  return m->expansion_a;
}
double shp_material_expansion_c(const shp_material *m) {
  return m->expansion_c;
}

double shp_material_plate_length_mm(const shp_material *m, double length_mm,
                                    double temperature_c) {
  return length_mm * (1.0 + m->expansion_a * (temperature_c - m->t_ref_c));
}

static int check_point(const shp_material *m, double l, double t) {
  if (!isfinite(l) || !isfinite(t))
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: wavelength and temperature must be finite",
                         m->name);
  if (!(t > SHP_MATERIAL_MIN_TEMPERATURE_C &&
        t <= SHP_MATERIAL_MAX_TEMPERATURE_C))
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: temperature %g C: must be above %g and at most "
                         "%g C",
                         m->name, t, SHP_MATERIAL_MIN_TEMPERATURE_C,
                         SHP_MATERIAL_MAX_TEMPERATURE_C);
  if (l < m->lo_um || l > m->hi_um)
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: wavelength %g nm is outside the valid range "
                         "%g to %g nm",
                         m->name, l * 1e3, m->lo_um * 1e3, m->hi_um * 1e3);
  return SHP_OK;
}

int shp_material_index(const shp_material *m, shp_axis axis,
                       double wavelength_um, double temperature_c, double *n) {
  int rc = check_point(m, wavelength_um, temperature_c);
  if (rc != SHP_OK)
    return rc;
  double v = dispersion_eval(&m->axis[axis], wavelength_um);
  if (!(isfinite(v) && v > 0))
    return shp_error_set(SHP_ERR_NUMERIC,
                         "%s: the dispersion formula gives no index at %g nm",
                         m->name, wavelength_um * 1e3);
  *n = v + m->dn_dT[axis] * (temperature_c - m->t_ref_c);
  return SHP_OK;
}

int shp_material_props_at(const shp_material *m, double wavelength_nm,
                          double temperature_c, double length_mm,
                          shp_material_props *p) {
  if (!(isfinite(length_mm) && length_mm > 0))
    return shp_error_set(SHP_ERR_INVALID, "length_mm: must be > 0, got %g",
                         length_mm);
  double l = wavelength_nm * 1e-3;
  double n[2];
  for (int a = 0; a < 2; a++) {
    int rc = shp_material_index(m, (shp_axis)a, l, temperature_c, &n[a]);
    if (rc != SHP_OK)
      return rc;
  }
  double ng[2], gvd[2];
  /* lambda^3 / (2 pi c^2) with c in um/fs gives fs^2/um per unit n''
   * (um^-2); times 1e3 for fs^2/mm. */
  const double c_um_fs = SHP_C_UM_PER_PS * 1e-3;
  for (int a = 0; a < 2; a++) {
    double d1, d2;
    dispersion_derivs(&m->axis[a], l, &d1, &d2);
    ng[a] = n[a] - l * d1;
    gvd[a] = l * l * l / (SHP_TWO_PI * c_um_fs * c_um_fs) * d2 * 1e3;
  }
  double omega = shp_omega_of_wavelength_um(l); /* rad/ps */
  double dn = n[SHP_AXIS_E] - n[SHP_AXIS_O];
  double ddn_dT = m->dn_dT[SHP_AXIS_E] - m->dn_dT[SHP_AXIS_O];
  double len_t = shp_material_plate_length_mm(m, 1.0, temperature_c);
  p->n_o = n[SHP_AXIS_O];
  p->n_e = n[SHP_AXIS_E];
  p->group_index_o = ng[SHP_AXIS_O];
  p->group_index_e = ng[SHP_AXIS_E];
  p->group_delay_ps_per_mm =
      fabs(ng[SHP_AXIS_O] - ng[SHP_AXIS_E]) / SHP_C_MM_PER_PS;
  p->gvd_o_fs2_per_mm = gvd[SHP_AXIS_O];
  p->gvd_e_fs2_per_mm = gvd[SHP_AXIS_E];
  /* d/dT [dn(T) omega L(T) / c] = omega/c [ddn/dT L + dn dL/dT], with
   * dL/dT = alpha_a L0 for a plate L0 long at the reference temperature. */
  p->dphase_dT_rad_per_K_per_mm =
      omega / SHP_C_MM_PER_PS * (ddn_dT * len_t + dn * m->expansion_a);
  p->length_mm = length_mm;
  p->phase_delay_rad = dn * omega * len_t * length_mm / SHP_C_MM_PER_PS;
  double slope = p->dphase_dT_rad_per_K_per_mm * length_mm;
  p->full_wave_temperature_k = slope != 0 ? SHP_TWO_PI / fabs(slope) : INFINITY;
  return SHP_OK;
}
