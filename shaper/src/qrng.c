#include "qrng-private.h"

#include "shp/error.h"
#include "shp/gsl-guard.h"

gsl_qrng *shp_qrng_new(size_t dim, const char *what) {
  shp_gsl_guard();
  if (dim == 0 || dim > SHP_QRNG_HALTON_MAX) {
    shp_error_set(SHP_ERR_RANGE,
                  "%s: %zu variables; the quasi-random starts reach 1 to %d",
                  what, dim, SHP_QRNG_HALTON_MAX);
    return NULL;
  }
  gsl_qrng *q = gsl_qrng_alloc(dim <= SHP_QRNG_SOBOL_MAX ? gsl_qrng_sobol
                                                         : gsl_qrng_halton,
                               (unsigned)dim);
  if (q == NULL)
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", what);
  return q;
}
