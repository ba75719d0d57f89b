/* Inside the autocorrelation fit: shared by acfit.c (model and solver) and
 * acfit-report.c (uncertainties and identifiability). */
#ifndef SHP_ACFIT_PRIVATE_H
#define SHP_ACFIT_PRIVATE_H

#include "shp/acfit.h"
#include "shp/diag.h"
#include "shp/propagator.h"

#include <complex.h>
#include <fftw3.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  double *temps;
  size_t count;
  double *delay, *signal;
  double span; /* max - min of the signal: residuals are relative to it */
} acfit_meas;

struct shp_acfit {
  const shp_stack *stack;
  shp_acfit_opts opts;
  size_t nc; /* crystals */
  size_t np; /* parameters */
  bool fit_width, fit_delay;
  double *prior;    /* nc */
  double *vt;       /* np x np: the last fit's right singular vectors */
  double *slope;    /* nc, the model's phase per kelvin */
  double *tref;     /* nc, the stack's temperatures */
  size_t ns;        /* slope parameters */
  size_t *slope_of; /* ns: the crystal of each slope parameter */
  double *dslope;   /* nc: the slope changes of the vector last unpacked */
  shp_grid grid;
  shp_element *elements;
  shp_path path;
  shp_propagator *prop;
  shp_pulse pulse;
  double width; /* the scale the input is filled for */
  double complex *input;
  shp_field *field;
  double *intensity; /* n */
  double *ac;        /* 2n */
  shp_diag *diag;
  acfit_meas *meas;
  size_t nm, npoints;
  double *model; /* npoints */
  double *rbuf;  /* residual count: for strided GSL vectors */
  size_t evaluations;
  /* The first residual that was not finite in a solve (trace and sample,
   * 0-based; trace == measurement count for the prior), or none. */
  bool nonfinite;
  size_t nonfinite_trace, nonfinite_sample;
};

/* A parameter vector, unpacked. */
typedef struct {
  const double *phase;  /* nc */
  const double *dslope; /* nc (0 where not fitted) or NULL */
  double width, delay_scale, delay_offset;
} acfit_params;

void acfit_unpack(const shp_acfit *f, const double *p, acfit_params *q);
int acfit_model_ac(shp_acfit *f, const acfit_params *q, const double *temps);
double acfit_ac_at(const shp_acfit *f, const acfit_params *q, double tau);
int acfit_residuals(shp_acfit *f, const double *p, double *r, double *amp,
                    double *bg);
size_t acfit_residual_count(const shp_acfit *f);
double acfit_cost(shp_acfit *f, const double *p, double *r);
double acfit_lm(shp_acfit *f, double *p, size_t iterations);
void acfit_start(const shp_acfit *f, const double *phase, double *p);
int acfit_mirror(const shp_acfit *f, const double *phase, const double *temps,
                 double *mirror);

/* acfit-report.c */
bool acfit_same_fit(const shp_acfit *f, double cost_a, double cost_b);
double acfit_phase_distance(const shp_acfit *f, const double *a,
                            const double *b);
int acfit_fill_result(shp_acfit *f, const double *p, shp_acfit_result *r);
void acfit_report(const shp_acfit *f, shp_acfit_result *r);

#endif
