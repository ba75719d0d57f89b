#include "shp/csv.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

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
    v[n] = shp_strtod(s, &end);
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

/* One line of f into buf (at most SHP_FILE_MAX_LINE bytes and its newline).
 * Returns 1 for a line, 0 at the end of the file, or an error: a line
 * longer than the bound (fgets would split it and read its tail as a row of
 * its own), a NUL byte, a read error. */
static int read_line(FILE *f, char *buf, const char *path, int lineno) {
  size_t n = 0;
  int c;
  while ((c = getc(f)) != EOF) {
    if (c == '\0')
      return shp_error_set(SHP_ERR_FILE,
                           "%s:%d: holds a NUL byte: not a text file", path,
                           lineno);
    if (c != '\n' && n == SHP_FILE_MAX_LINE)
      return shp_error_set(SHP_ERR_PARSE, "%s:%d: line longer than %zu bytes",
                           path, lineno, SHP_FILE_MAX_LINE);
    buf[n++] = (char)c;
    if (c == '\n')
      break;
  }
  if (ferror(f))
    return shp_error_set(SHP_ERR_FILE, "%s: cannot read", path);
  buf[n] = '\0';
  return n > 0;
}

static int read_rows(FILE *f, const char *path, size_t min_columns,
                     size_t max_columns, const char *hint, shp_csv *csv) {
  char *line = malloc(SHP_FILE_MAX_LINE + 2);
  if (line == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  double v[16];
  size_t cap = 0;
  int lineno = 0, rc;
  bool header_allowed = true;
  if (max_columns > 16)
    max_columns = 16;
  while ((rc = read_line(f, line, path, lineno + 1)) == 1) {
    lineno++;
    if (blank(line))
      continue;
    int n = parse_row(line, v, max_columns);
    if (n < 0 && header_allowed) {
      header_allowed = false;
      continue;
    }
    header_allowed = false;
    if (n < (int)min_columns) {
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%d: expected \"%s\"", path, lineno,
                         hint);
      break;
    }
    if (csv->columns == 0)
      csv->columns = (size_t)n;
    if ((size_t)n != csv->columns) {
      rc = shp_error_set(SHP_ERR_PARSE,
                         "%s:%d: %d columns where earlier rows have %zu", path,
                         lineno, n, csv->columns);
      break;
    }
    if (csv->rows == SHP_CSV_MAX_ROWS) {
      rc = shp_error_set(SHP_ERR_PARSE, "%s:%d: more than %d rows", path,
                         lineno, SHP_CSV_MAX_ROWS);
      break;
    }
    if (append(csv, &cap, v, lineno) != SHP_OK) {
      rc = shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
  }
  free(line);
  return rc < 0 ? rc : SHP_OK;
}

int shp_csv_load(const char *path, size_t min_columns, size_t max_columns,
                 const char *hint, shp_csv *csv) {
  memset(csv, 0, sizeof *csv);
  FILE *f = shp_file_open_read(path, SHP_FILE_MAX_DATA);
  if (f == NULL)
    return shp_error_last();
  int rc = read_rows(f, path, min_columns, max_columns, hint, csv);
  fclose(f);
  if (rc != SHP_OK)
    shp_csv_clear(csv);
  return rc;
}
