/* Inside the measurement-model fit: shared by fit.c (layout, model,
 * residuals, least squares), fit-solutions.c (multi-start, clusters,
 * covariance, identifiability) and fit-predict.c (predictions). */
#ifndef SHP_FIT_PRIVATE_H
#define SHP_FIT_PRIVATE_H

#include "shp/fit.h"

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  size_t kind; /* into shp_fit.kinds */
  double *temps;
  double *axis, *values, *weight; /* weight = 1 / sigma */
  size_t count;
} fit_trace;

typedef struct {
  const shp_fit_model *model;
  size_t base; /* index of its first parameter */
} fit_kind;

struct shp_fit {
  const shp_stack *stack;
  shp_fit_opts opts;
  size_t nc, np;
  /* layout */
  size_t ns, *slope_of; /* slope parameters and their crystals */
  size_t i_slope, i_az, i_len, i_width, i_gdd, i_model;
  bool fit_az, fit_len, fit_pulse;
  fit_kind kinds[SHP_FIT_MAX_KINDS];
  size_t nkinds;
  double *mean, *sigma; /* np: the priors */
  bool *periodic;       /* np: phases */
  char (*names)[64];    /* np */
  /* the model */
  double *azimuth0, *length0, *slope, *tref; /* nc: the stack's */
  double *gamma0; /* nc: e-o phase at tref, per mm: the carrier phase a
                     length error adds, absorbed by the phase offset */
  shp_grid grid;
  shp_element *elements;
  shp_path path;
  shp_propagator *prop;
  shp_pulse pulse;
  double filled_width, filled_gdd; /* what input holds */
  double complex *input;
  shp_field *field;
  double *intensity; /* n */
  shp_diag *diag;
  double *work; /* the models' scratch */
  size_t work_size;
  double *phys;   /* np: the vector last unpacked */
  double *ufull;  /* np: the vector LM varies part of */
  size_t *active; /* the unknowns LM varies */
  size_t nactive;
  /* traces */
  fit_trace *traces;
  size_t nt, points, max_count;
  double *basis; /* max_count * SHP_FIT_MAX_LINEAR */
  double *rbuf;  /* residual count: for strided GSL vectors */
  size_t rbuf_size;
  size_t evaluations;
  bool nonfinite;
  size_t nonfinite_trace, nonfinite_sample;
};

/* u (prior units) to physical parameters, into f->phys. */
void fit_unpack(shp_fit *f, const double *u);
/* The model output (f->field, f->intensity) for physical parameters p at
 * these temperatures. */
int fit_model(shp_fit *f, const double *p, const double *temps);
/* Parameters of a kind in physical units, from p (or its priors when the
 * kind is not in the fit: kind == SIZE_MAX, model given). */
const double *fit_kind_params(const shp_fit *f, const double *p, size_t kind);
size_t fit_residual_count(const shp_fit *f);
/* Residuals (data then prior) of u; chi2 (data only) when asked. */
int fit_residuals(shp_fit *f, const double *u, double *r, double *chi2);
/* One LM run from u (in place): the final cost, INFINITY on failure; the
 * posterior sigmas in prior units (sqrt diag (J^T J)^-1 with the prior
 * rows; 1 where not fitted) into sig when not NULL. explore: the azimuth
 * and length errors stay fixed. */
double fit_lm(shp_fit *f, double *u, size_t iterations, double *sig,
              bool explore);
/* The conjugate-phase twin of u at temps, in place. */
int fit_conjugate(shp_fit *f, double *u, const double *temps);
/* The time-reversal twin of u at temps (fit.c explains), in place. */
int fit_reversed(shp_fit *f, double *u, const double *temps);
/* The data Jacobian (rows: weighted trace residuals) at u in prior units,
 * row-major points x np, by central differences; r0 and r1 hold residual
 * count values. */
int fit_jacobian(shp_fit *f, const double *u, double *J, double *r0,
                 double *r1);

#endif
