/* Quasi-random start points whatever the number of variables. */
#ifndef SHP_QRNG_PRIVATE_H
#define SHP_QRNG_PRIVATE_H

#include <gsl/gsl_qrng.h>
#include <stddef.h>

/* GSL's generators have fixed upper dimensions (GSL 2.7: Sobol 40,
 * Niederreiter 12, Halton and reverse Halton 1229), and gsl_qrng_alloc
 * ignores a failed initialisation: beyond its limit a generator hands out
 * uninitialised state or reads past its tables. So: Sobol up to 40
 * dimensions (the points every search of up to 40 variables has always
 * used, so results for a seed stay as they were), Halton from 41 to 1229
 * (deterministic as well, with no seed of its own: the callers' seeded
 * shifts and skips keep results a function of the seed), and NULL with
 * SHP_ERR_RANGE beyond, naming what (e.g. "optimize") asked. The caller
 * owns the generator (gsl_qrng_free); a point of it holds dim values. */
gsl_qrng *shp_qrng_new(size_t dim, const char *what);

#define SHP_QRNG_SOBOL_MAX 40
#define SHP_QRNG_HALTON_MAX 1229

#endif
