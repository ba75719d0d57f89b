#include "shp/csv.h"

#include "shp/error.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shp_csv_clear(shp_csv *csv) {
  if (csv == NULL)
    return;
  free(csv->data);
  free(csv->lines);
  memset(csv, 0, sizeof *csv);
}

/* Up to max numbers from a line; returns how many, or -1 when something
 * that is not a number stands in it. */
static int parse_row(const char *line, double *v, size_t max) {
  size_t n = 0;
  const char *s = line;
  for (;;) {
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s == '\0' || *s == '\n' || *s == '\r')
      return (int)n;
    if (n == max)
      return -1;
    char *end;
    v[n] = strtod(s, &end);
    if (end == s || !isfinite(v[n]))
      return -1;
    n++;
    s = end;
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s == ',' || *s == ';')
      s++;
  }
}

static bool blank(const char *line) {
  return line[0] == '#' || strspn(line, " \t\r\n") == strlen(line);
}

static int append(shp_csv *csv, size_t *cap, const double *v, int line) {
  if (csv->rows == *cap) {
    *cap = *cap ? 2 * *cap : 256;
    double *d = realloc(csv->data, *cap * csv->columns * sizeof *d);
    if (d == NULL)
      return SHP_ERR_NOMEM;
    csv->data = d;
    int *l = realloc(csv->lines, *cap * sizeof *l);
    if (l == NULL)
      return SHP_ERR_NOMEM;
    csv->lines = l;
  }
  memcpy(csv->data + csv->rows * csv->columns, v, csv->columns * sizeof *v);
  csv->lines[csv->rows++] = line;
  return SHP_OK;
}

static int read_rows(FILE *f, const char *path, size_t min_columns,
                     size_t max_columns, const char *hint, shp_csv *csv) {
  char line[4096];
  double v[16];
  size_t cap = 0;
  int lineno = 0;
  bool header_allowed = true;
  if (max_columns > 16)
    max_columns = 16;
  while (fgets(line, sizeof line, f) != NULL) {
    lineno++;
    if (blank(line))
      continue;
    int n = parse_row(line, v, max_columns);
    if (n < 0 && header_allowed) {
      header_allowed = false;
      continue;
    }
    header_allowed = false;
    if (n < (int)min_columns)
      return shp_error_set(SHP_ERR_PARSE, "%s:%d: expected \"%s\"", path,
                           lineno, hint);
    if (csv->columns == 0)
      csv->columns = (size_t)n;
    if ((size_t)n != csv->columns)
      return shp_error_set(SHP_ERR_PARSE,
                           "%s:%d: %d columns where earlier rows have %zu",
                           path, lineno, n, csv->columns);
    if (append(csv, &cap, v, lineno) != SHP_OK)
      return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  }
  return SHP_OK;
}

int shp_csv_load(const char *path, size_t min_columns, size_t max_columns,
                 const char *hint, shp_csv *csv) {
  memset(csv, 0, sizeof *csv);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return shp_error_set(SHP_ERR_FILE, "%s: cannot open: %s", path,
                         strerror(errno));
  int rc = read_rows(f, path, min_columns, max_columns, hint, csv);
  fclose(f);
  if (rc != SHP_OK)
    shp_csv_clear(csv);
  return rc;
}
