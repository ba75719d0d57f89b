/* The intensity autocorrelation as a measurement model (shp_fit_model). */
#include "shp/error.h"
#include "shp/fit.h"

#include <math.h>
#include <stddef.h>

static const shp_fit_param_info ac_params[] = {
    /* The lab file calibrates the delay axis; what is left is a few percent
     * of scale and a fraction of a picosecond of zero. */
    {"delay_scale", "1", 1.0, 0.05},
    {"delay_offset_ps", "ps", 0.0, 0.1},
};

static size_t ac_workspace(size_t n) { return 2 * n; }

static int ac_predict(const shp_fit_output *out, const double *params,
                      const double *axis, size_t count, double *basis) {
  size_t n = out->grid->n;
  double *ac = out->work;
  int rc = shp_diag_autocorrelation(out->diag, out->intensity,
                                    SHP_AC_BACKGROUND_FREE, ac);
  if (rc != SHP_OK)
    return rc;
  double scale = params[0], offset = params[1];
  for (size_t k = 0; k < count; k++) {
    /* Linear between grid delays, zero beyond the grid (as the simulated
     * instrument samples it). */
    double x = (scale * axis[k] + offset) / out->grid->dt + (double)n;
    double v = 0.0;
    if (x >= 0 && x < (double)(2 * n - 1)) {
      size_t j = (size_t)x;
      double w = x - (double)j;
      v = (1 - w) * ac[j] + w * ac[j + 1];
    }
    basis[k] = v;
    basis[count + k] = 1.0;
  }
  return SHP_OK;
}

const shp_fit_model shp_fit_model_ac = {
    .name = "autocorrelation",
    .param_count = 2,
    .params = ac_params,
    .linear_count = 2,
    .workspace_doubles = ac_workspace,
    .predict = ac_predict,
    .sigma = NULL,
};
