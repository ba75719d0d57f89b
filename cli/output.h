/* Writing results: CSV files written atomically, JSON helpers. */
#ifndef SHAPECTL_OUTPUT_H
#define SHAPECTL_OUTPUT_H

#include "shp/calibration.h"
#include "shp/diag.h"
#include "shp/plot.h"
#include "shp/simulation.h"

#include <jansson.h>
#include <stddef.h>

/* A JSON number, or null for NaN and infinities (JSON has neither). */
json_t *out_number(double v);
/* A JSON array of n numbers. */
json_t *out_array(const double *v, size_t n);

/* Write columns of n rows as CSV with a header line ("a,b,c") to path,
 * through a temporary file renamed into place. Returns 0, or -1 with
 * shp_error_detail() set. */
int out_csv(const char *path, const char *header, size_t n,
            const double *const *columns, size_t ncolumns);

/* Write "metric,value" rows, one per name, the same way. */
int out_csv_named(const char *path, const char *const *names,
                  const double *values, size_t n);

/* The metrics object shared by simulate and optimize: transmission, peak,
 * fwhm_ps, rise_time_ps, fall_time_ps, ripple, plateau_ps, and error,
 * error_shift_ps, error_scale when a target was given. */
json_t *out_metrics(const shp_metrics *m);

/* One line of metrics for a plot title: "NAME: transmission ..., ...", or
 * without the name when name is NULL. */
void out_metrics_title(char *buf, size_t size, const char *name,
                       const shp_metrics *m);

/* Draw a simulation (intensity with the aligned target, autocorrelation,
 * spectrum) to a .png, .svg or .pdf file and say so on stderr. Returns a
 * CLI exit status. */
int cli_plot_simulation(const char *file, const shp_stack *s,
                        const shp_simulation *sim);

/* Load a stack file, put a calibration file into it when calibration_path
 * is not NULL (saying so on stderr), and load a target file when
 * target_path is not NULL. Returns CLI_OK with both, or the exit status
 * after reporting the library's message (nothing is left to free). */
int cli_load_inputs(const char *stack_path, const char *calibration_path,
                    const char *target_path, shp_stack **stack,
                    shp_target **target);

/* Read a calibration file for --calibration: CLI_OK and *out, or the exit
 * status after reporting why. */
int cli_load_calibration(const char *path, shp_calibration **out);

/* The convergence panels of a run (run --plot, journal show --plot), per
 * fit at its oven-move count: the predicted intensity error of the
 * consistent solutions, a band from the best's error - 1 sigma to the
 * worst's + 1 sigma with the best and the worst as lines, against the
 * tolerance; and the measured trace's residual against the best solution's
 * trace with the noise the verdict allows it (1.25 times the trace's own),
 * on a scale of their own. The caller fills the count input arrays (NAN
 * where not known) after cli_convergence_alloc, then cli_convergence_panel
 * builds the panels, which point into c. */
typedef struct {
  size_t count;
  double *moves, *residual, *noise, *best, *best_sigma, *worst, *worst_sigma;
  double *band_x, *band_y, *allowed; /* owned scratch */
  double tol_x[2], tol_y[2];
  shp_plot_series series[6];
  shp_plot_panel predicted, trace;
} cli_convergence;

int cli_convergence_alloc(cli_convergence *c, size_t count);
void cli_convergence_panel(cli_convergence *c, double tolerance);
void cli_convergence_free(cli_convergence *c);

/* Whether a --plot path names a format we draw; says why not on stderr.
 * Checked before any work is done. */
bool cli_plot_path_ok(const char *path);

#endif
