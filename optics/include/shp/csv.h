/* Numeric CSV files: measured spectra, traces and target waveforms.
 *
 * Rows of numbers separated by commas, semicolons or blanks. Blank lines and
 * lines starting with '#' are skipped, and so is one header line before the
 * first row. Every row must have the same number of columns. Errors name
 * the file and line. */
#ifndef SHP_CSV_H
#define SHP_CSV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t rows, columns;
  double *data; /* rows x columns, row after row */
  int *lines;   /* the file line of each row, for messages */
} shp_csv;

/* Read path, whose rows must have min_columns to max_columns finite
 * numbers; hint names the columns in messages ("time_ps, intensity").
 * Errors: SHP_ERR_IO (cannot open), SHP_ERR_PARSE ("path:line: expected
 * ..."), SHP_ERR_NOMEM. On failure *csv is empty. Clear with
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
