/* Numeric CSV files: measured spectra, traces and target waveforms.
 *
 * Rows of numbers separated by commas, semicolons or blanks. Blank lines and
 * lines starting with '#' are skipped, and so is one header line before the
 * first row. Every row must have the same number of columns. Errors name
 * the file and line.
 *
 * Bounds (DESIGN.md, bounded inputs): a regular file of at most
 * SHP_FILE_MAX_DATA (32 MiB), lines of at most SHP_FILE_MAX_LINE (64 KiB),
 * at most SHP_CSV_MAX_ROWS rows of at most 16 columns. Numbers are read in
 * the C locale whatever the process's locale. */
#ifndef SHP_CSV_H
#define SHP_CSV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A measured spectrum or trace has thousands of samples; a million leaves
 * a wide margin and bounds memory to 128 MiB at 16 columns. */
#define SHP_CSV_MAX_ROWS 1000000

typedef struct {
  size_t rows, columns;
  double *data; /* rows x columns, row after row */
  int *lines;   /* the file line of each row, for messages */
} shp_csv;

/* Read path, whose rows must have min_columns to max_columns finite
 * numbers; hint names the columns in messages ("time_ps, intensity").
 * Errors: SHP_ERR_FILE ("path: ...": cannot open, not a regular file, larger
 * than the bound, a NUL byte), SHP_ERR_PARSE ("path:line: expected ...",
 * "path:line: line longer than N bytes", "path:line: more than N rows"),
 * SHP_ERR_NOMEM. On failure *csv is empty. Clear with
 * shp_csv_clear. */
int shp_csv_load(const char *path, size_t min_columns, size_t max_columns,
                 const char *hint, shp_csv *csv);
void shp_csv_clear(shp_csv *csv);

static inline double shp_csv_at(const shp_csv *csv, size_t row, size_t col) {
  return csv->data[row * csv->columns + col];
}

#ifdef __cplusplus
}
#endif
#endif
