/* The measurement model of a stack: every solution of the full physical
 * model consistent with a set of measured traces, each with its covariance,
 * and what each solution predicts.
 *
 * The unknowns, in this order in every parameter vector:
 *   - per crystal, the phase offset added to its e-o phase difference (rad),
 *     including the carrier phase its length error adds at the stack's
 *     temperature (the two are one to the traces; so the model's offset is
 *     phase - Gamma_0 dL / L and the length error acts only through delays,
 *     dispersion and the phase per kelvin);
 *   - per crystal in the slope mask, a change of its phase per kelvin about
 *     the stack's temperature (rad/K; calibration scans);
 *   - per crystal, the error of its azimuth (deg) and of its length (um);
 *   - the input pulse's width, as a relative change w of the stack's FWHM
 *     (FWHM (1 + w), w held within [-0.4, 0.6], the span the grid is made
 *     for), unless the pulse is a measured spectrum;
 *   - the input pulse's GDD (fs^2), added to the stack's;
 *   - per diagnostic kind present among the traces, its own instrument
 *     parameters (shp_fit_model.params: e.g. the autocorrelator's delay
 *     scale and offset). Traces of one kind share one instrument.
 * Every unknown has a Gaussian prior (shp_fit_opts, the model table), so the
 * maximum-a-posteriori fit is well posed where the traces alone are not;
 * the fit works in units of the prior sigma (u = (p - mean) / sigma), where
 * the prior adds the identity to the normal matrix. Linear parameters of a
 * trace (amplitude, background) are solved in closed form inside every
 * evaluation (variable projection) and are not unknowns.
 *
 * A diagnostic is a const shp_fit_model (a row of the measurement-model
 * table): the fit calls its predict function with the simulated output
 * (field and intensity on the model's grid) and its parameters, and weights
 * residuals by each sample's noise sigma. shp_fit_model_ac is the intensity
 * autocorrelation; another kind (cross-correlator, spectrometer, FROG) is a
 * new const struct and needs no change here.
 *
 * How the closed loop uses it (one shp_fit per stack and run):
 *   shp_fit *f = shp_fit_new(stack, &opts);        once: grid, propagators
 *   per measurement: shp_fit_add(f, &trace);       copied
 *   shp_fit_solve_seeded(f, &previous, &set);      every consistent solution,
 *                                                  starting also from the
 *                                                  last move's set
 *   for each set.solutions[k]:
 *     shp_fit_predict_intensity(f, &sol, temps, target, &pred)
 *       -> pred.error +- pred.error_sigma: converged only when every
 *          solution's error is within tolerance (and the trace matches);
 *     shp_fit_predict_trace(f, &sol, &shp_fit_model_ac, temps, axis, n, y)
 *       -> compare solutions' traces at a candidate move relative to the
 *          noise to choose the move that separates them.
 *   the set becomes `previous` for the next move's solve; clear the one it
 *   replaces (shp_fit_set_clear).
 *
 * To write a solution into a stack of nominal lengths: phase_offset_rad =
 * params[shp_fit_index_phase(f, i)] (it already holds the length error's
 * carrier phase); azimuth and length errors are for the model, the stack
 * file keeps the nominal values.
 *
 * A fit allocates its workspaces once (shp_fit_new, shp_fit_add); evaluating
 * a residual allocates nothing. One fit serves one thread. */
#ifndef SHP_FIT_H
#define SHP_FIT_H

#include "shp/diag.h"
#include "shp/grid.h"
#include "shp/propagator.h"
#include "shp/stack.h"
#include "shp/target.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the measurement-model table ---------------------------------------- */

/* One instrument parameter of a diagnostic. */
typedef struct {
  const char *name; /* e.g. "delay_scale" */
  const char *unit; /* e.g. "1", "ps" */
  double prior_mean, prior_sigma;
} shp_fit_param_info;

/* What a diagnostic's predict function sees: the model's output on its grid
 * (t_j = (j - n/2) dt), a diag workspace of the grid's size and the
 * model's scratch of workspace_doubles(n) values. */
typedef struct {
  const shp_grid *grid;
  const shp_field *field; /* the output field */
  const double *intensity;
  shp_diag *diag;
  double *work;
} shp_fit_output;

#define SHP_FIT_MAX_LINEAR 4
#define SHP_FIT_MAX_MODEL_PARAMS 8

typedef struct shp_fit_model {
  const char *name;   /* "autocorrelation" */
  size_t param_count; /* <= SHP_FIT_MAX_MODEL_PARAMS */
  const shp_fit_param_info *params;
  /* The trace is sum_l c_l basis_l(axis) with c solved linearly (e.g.
   * amplitude and background): linear_count <= SHP_FIT_MAX_LINEAR. */
  size_t linear_count;
  size_t (*workspace_doubles)(size_t n);
  /* Fill basis[l * count + k], l < linear_count, for the axis values
   * axis[0..count-1], given the instrument parameters. Allocates nothing.
   * SHP_OK or an error code (with shp_error_set). */
  int (*predict)(const shp_fit_output *out, const double *params,
                 const double *axis, size_t count, double *basis);
  /* Per-sample sigma from the trace's single noise level (values are the
   * measured ones). NULL: the noise level for every sample. */
  void (*sigma)(double noise, const double *values, size_t count,
                double *sigma);
} shp_fit_model;

/* The intensity autocorrelation, background-free with peak 1 at zero model
 * delay: trace = amplitude * A(scale * tau + offset) + background.
 * Parameters: delay_scale (1, sigma 0.05), delay_offset_ps (0, sigma
 * 0.1 ps). A single noise level is the sigma of every sample. */
extern const shp_fit_model shp_fit_model_ac;

/* ---- inputs ------------------------------------------------------------- */

/* One measured trace: the model that explains it, its axis and values, its
 * noise (sigma per sample, or one level for all when sigma is NULL), and
 * the oven temperatures (readbacks) it was taken at. */
typedef struct {
  const shp_fit_model *model;
  const double *temperatures_c;
  size_t crystal_count;
  const double *axis; /* e.g. delay_ps, as the instrument reports it */
  const double *values;
  size_t count;
  const double *sigma; /* count values > 0, or NULL */
  double noise;        /* > 0 when sigma is NULL */
} shp_fit_trace;

/* Prior sigmas; 0 takes the default. */
typedef struct {
  const double *phase_prior_rad; /* means; NULL: the stack's offsets */
  double phase_sigma_rad;        /* default pi: the phase is unknown */
  double azimuth_sigma_deg;      /* default 0.3 (mounting) */
  double length_sigma_um;        /* default 2 (cutting) */
  double width_sigma_rel;        /* default 0.1 */
  double gdd_sigma_fs2;          /* default: the GDD that widens the pulse
                                    by width_sigma_rel */
  double slope_sigma_rel;        /* default 0.1 of the model's slope */
  const bool *slope_mask;        /* fit slope changes here; NULL: none */
  bool fixed_azimuth, fixed_length, fixed_pulse; /* leave out unknowns */
  size_t starts; /* quasi-random starts (default 8) */
  unsigned long seed;
  size_t max_iterations; /* per LM run (default 50) */
  /* Consistency: a solution is kept when its chi2 <= chi2_min +
   * chi2_allow * max(1, chi2_min / dof). Default 9 (3 sigma of evidence
   * against a discrete alternative; see shp_fit_solve). */
  double chi2_allow;
  /* Conjugate twins are sought at the first twin_sets distinct temperature
   * sets of the traces (0: at every one). A calibration, whose scans span
   * whole phase periods, asks for 1: a conjugate at one scan point is ruled
   * out by the rest of the scan, and each set costs an LM run over every
   * trace. */
  size_t twin_sets;
  /* The priors are knowledge (a calibration's), not only what makes the
   * fit well posed: a solution is then kept only when its cost (chi2 +
   * prior) too is within the allowance of the least cost, so a twin the
   * traces cannot tell apart but the calibration rules out is dropped.
   * Off, the rule is on chi2 alone (default priors are wide on purpose). */
  bool prior_informative;
} shp_fit_opts;

/* ---- results ------------------------------------------------------------ */

typedef struct {
  double *params;     /* parameter_count, physical units (see above) */
  double *sigma;      /* posterior 1 sigma of each */
  double *covariance; /* parameter_count^2, row-major, physical units */
  double chi2;        /* data only: sum ((model - y) / sigma)^2 */
  double cost;        /* chi2 + prior terms (u^2) */
  size_t members;     /* starts that ended in this solution */
} shp_fit_solution;

typedef struct {
  size_t parameter_count;
  size_t crystal_count;
  size_t points;               /* data samples */
  size_t dof;                  /* points - parameters - linear coefficients */
  shp_fit_solution *solutions; /* best first, all consistent */
  size_t count;
  /* Identifiability of the best solution, in prior units: the singular
   * values of the weighted data Jacobian (descending) and per parameter the
   * ratio posterior sigma / prior sigma (~1: only the prior determines it,
   * << 1: the data do). */
  double *singular_values;
  double *sigma_ratio;
  size_t data_determined; /* singular values above 1 */
  char report[2048];      /* for people: which directions are prior-only */
  size_t evaluations;
} shp_fit_set;

/* Parameter index helpers for a fit's layout. */
typedef struct shp_fit shp_fit;
size_t shp_fit_parameter_count(const shp_fit *f);
/* The name ("crystals[2].azimuth_error_deg", "pulse.gdd_fs2",
 * "autocorrelation.delay_scale") and the prior of parameter j. */
const char *shp_fit_parameter_name(const shp_fit *f, size_t j);
void shp_fit_parameter_prior(const shp_fit *f, size_t j, double *mean,
                             double *sigma);
/* Index of crystal i's phase, azimuth error and length error; SIZE_MAX when
 * not an unknown. */
size_t shp_fit_index_phase(const shp_fit *f, size_t i);
size_t shp_fit_index_azimuth(const shp_fit *f, size_t i);
size_t shp_fit_index_length(const shp_fit *f, size_t i);
size_t shp_fit_index_width(const shp_fit *f);
size_t shp_fit_index_gdd(const shp_fit *f);

/* ---- lifecycle ---------------------------------------------------------- */

/* A fit of stack's model (borrowed; must outlive the fit). opts may be
 * NULL. NULL with shp_error_detail() on a grid or material error or a
 * prior that is not finite and positive (SHP_ERR_INVALID). */
shp_fit *shp_fit_new(const shp_stack *stack, const shp_fit_opts *opts);
void shp_fit_free(shp_fit *f);

/* Add a trace (copied). SHP_ERR_INVALID with a sentence for a model
 * without predict, fewer than 4 samples, a wrong temperature count,
 * non-finite axis, values or temperatures, or a sigma that is not finite
 * and positive; SHP_ERR_RANGE past SHP_FIT_MAX_KINDS diagnostic kinds. */
#define SHP_FIT_MAX_KINDS 4
int shp_fit_add(shp_fit *f, const shp_fit_trace *trace);
size_t shp_fit_count(const shp_fit *f);
/* Forget every trace (the diagnostic kinds seen stay in the layout). */
void shp_fit_reset(shp_fit *f);

/* Every solution consistent with the traces.
 *  - Starts: the prior means, then opts.starts - 1 quasi-random phase sets
 *    over the whole torus (other unknowns at their prior means).
 *  - Twins: for every minimum consistent so far, its conjugate phases at
 *    each distinct temperature set of the traces (same intensity there),
 *    its time-reversed twin (retardances in reverse order: exact for
 *    stacks symmetric about 45 degrees, a start otherwise) and that twin's
 *    conjugate, each polished by LM.
 *  - Clusters: two minima are one solution when every parameter differs
 *    by less than 2 posterior sigmas (the larger of the two; phases on the
 *    circle); the lower cost represents it.
 *  - Consistency: kept when chi2 <= chi2_min + chi2_allow * max(1,
 *    chi2_min / dof): solutions fitted to the same samples differ in chi2
 *    by the evidence between them, so 9 is 3 sigma against a discrete
 *    alternative; a best fit above the noise (model imperfection) widens
 *    the allowance by its reduced chi2.
 *  - Per solution: parameters, posterior covariance (J^T W J + prior)^-1
 *    (central-difference Jacobian at the solution), chi2, cost.
 * Solutions are sorted by cost (chi2 + prior), best first. set must be
 * zeroed or cleared before, and cleared after, also after an error.
 * Errors: SHP_ERR_INVALID (no traces), SHP_ERR_NUMERIC (no start
 * converged, naming the first non-finite residual). */
int shp_fit_solve(shp_fit *f, shp_fit_set *set);
/* The same, starting also from every solution of seeds (a previous solve
 * of this fit, before traces were added: the loop's usual case, which
 * keeps the branches it already found and needs fewer fresh starts).
 * Parameters added since (a new diagnostic kind) start at their priors.
 * SHP_ERR_INVALID for seeds of another stack or layout. */
int shp_fit_solve_seeded(shp_fit *f, const shp_fit_set *seeds,
                         shp_fit_set *set);
/* The same with factor times the fresh starts, taken past the ones the
 * usual solves use: for when the solutions found do not explain the traces
 * (a branch the usual starts missed). factor >= 2. */
int shp_fit_solve_wider(shp_fit *f, const shp_fit_set *seeds, size_t factor,
                        shp_fit_set *set);
void shp_fit_set_clear(shp_fit_set *set);

/* ---- predictions -------------------------------------------------------- */

typedef struct {
  size_t n;           /* the model's grid */
  double dt_ps;       /* t_j = (j - n/2) dt */
  double *intensity;  /* n */
  double *sigma;      /* n: 1 sigma from the covariance (linearised) */
  double error;       /* vs the target: shp_diag_metrics' error, NAN
                         without a target */
  double error_sigma; /* its 1 sigma */
} shp_fit_prediction;

/* A solution's output intensity at these temperatures (one per crystal)
 * with its band, and its error against target (may be NULL) as `simulate`
 * reports it (relative RMS after best shift and scale). pred must be
 * zeroed or cleared before. Costs parameter_count + 1 propagations. */
int shp_fit_predict_intensity(shp_fit *f, const shp_fit_solution *sol,
                              const double *temperatures_c,
                              const shp_target *target,
                              shp_fit_prediction *pred);
void shp_fit_prediction_clear(shp_fit_prediction *pred);

/* The trace a solution predicts for diagnostic model at these temperatures
 * on axis: the basis with unit linear coefficients for the first (peak 1,
 * background-free for the autocorrelation). The model need not be among
 * the traces (its prior means are then used). */
int shp_fit_predict_trace(shp_fit *f, const shp_fit_solution *sol,
                          const shp_fit_model *model,
                          const double *temperatures_c, const double *axis,
                          size_t count, double *values);

/* The trace the target's intensity would give on diagnostic model at its
 * prior (nominal) parameters, on axis, peak-normalised: what a measured
 * trace is compared with when the pulse is on target. The model's predict
 * sees the target's intensity and no field (a target has no phase): a
 * model that needs the field refuses (SHP_ERR_INVALID). */
int shp_fit_target_trace(shp_fit *f, const shp_fit_model *model,
                         const shp_target *target, const double *axis,
                         size_t count, double *values);

/* A measured trace against a reference one on the same axis: the RMS of
 * reference - (a measured + b), a and b by least squares, relative to the
 * reference's peak (amplitude and background of a measurement are the
 * instrument's, not the pulse's). NAN for fewer than 2 points or a zero
 * reference. */
double shp_trace_error(const double *measured, const double *reference,
                       size_t count);

/* The grid of the model. */
const shp_grid *shp_fit_grid(const shp_fit *f);

#ifdef __cplusplus
}
#endif
#endif
