/* Crystal-phase calibration on the simulated lab: the scans fit the hidden
 * phase offsets and slopes within the fit's own uncertainties, the file
 * reads back and puts the same phases into a stack, and faults, narrow
 * limits and files of other stacks are refused with the ovens holding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "labfile.h"
#include "runlab.h"
#include "spawn_run.h"

#include "shp/calibrate.h"
#include "shp/calibration.h"
#include "shp/decide.h"
#include "shp/error.h"
#include "shp/journal.h"
#include "shp/planning.h"
#include "shp/run.h"
#include "shp/simulation.h"
#include "shp/units.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* The lab's sim errors: hidden offsets, a 3 % error in the material
 * model's phase per kelvin, no azimuth or length errors (those the model
 * has no parameter for; they would land in the fitted offsets). */
#define HIDDEN                                                                 \
  "  phase_offset_sigma_rad: 1.0\n  slope_sigma_rel: 0.03\n"                   \
  "  azimuth_sigma_deg: 0\n  length_sigma_um: 0\n"

/* The model's phase beyond the material's, for crystal i of s at t. */
static double extra_phase(const shp_stack *s, size_t i, double t) {
  const shp_stack_crystal *c = &s->crystals[i];
  double t0 = shp_material_reference_temperature_c(c->material);
  return c->phase_offset_rad + c->slope_correction_rad_per_k * (t - t0);
}

/* Crystal i's whole e-o phase in s at t: the material's for its length
 * (which a length error changes) and the extra. */
static double total_phase(const shp_stack *s, size_t i, double t) {
  const shp_stack_crystal *c = &s->crystals[i];
  shp_material_props p;
  assert_int_equal(shp_material_props_at(c->material,
                                         s->pulse.center_wavelength_nm, t,
                                         c->length_mm, &p),
                   SHP_OK);
  return p.phase_delay_rad + extra_phase(s, i, t);
}

static double slope_of(const shp_stack *s, size_t i) {
  const shp_stack_crystal *c = &s->crystals[i];
  shp_material_props p;
  assert_int_equal(shp_material_props_at(c->material,
                                         s->pulse.center_wavelength_nm,
                                         c->temperature_c, c->length_mm, &p),
                   SHP_OK);
  return p.dphase_dT_rad_per_K_per_mm * c->length_mm +
         c->slope_correction_rad_per_k;
}

/* Every calibrated crystal against the lab's hidden truth: the offset at
 * the reference within 4 sigma (sigma below 0.1 rad at 1 % noise), the
 * slope within 4 sigma (sigma below 1 % of the slope). Returns how many
 * slopes the calibration tells from the material model's (by > 4 sigma):
 * the hidden 3 % slope errors are measured, not the model echoed. */
static size_t check_against_truth(const shp_calibration *cal, shp_lab *lab) {
  size_t seen = 0;
  shp_stack *truth = shp_lab_sim_truth(lab);
  shp_stack *nominal = shp_stack_load(lab->stack_path);
  assert_non_null(truth);
  assert_non_null(nominal);
  for (size_t k = 0; k < cal->crystal_count; k++) {
    const shp_calibration_crystal *e = &cal->crystals[k];
    size_t i = e->index;
    /* The phase beyond the nominal plate's: a length error's carrier phase
     * is part of what the traces see. */
    double t = e->reference_temperature_c;
    nominal->crystals[i].phase_offset_rad = 0;
    nominal->crystals[i].slope_correction_rad_per_k = 0;
    double want = total_phase(truth, i, t) - total_phase(nominal, i, t);
    double d = remainder(e->phase_offset_rad - want, SHP_TWO_PI);
    if (!(e->phase_offset_sigma_rad < 0.1 &&
          fabs(d) < 4 * e->phase_offset_sigma_rad + 0.01))
      fail_msg("crystal %zu: offset %.4f +- %.4f, hidden %.4f", i,
               e->phase_offset_rad, e->phase_offset_sigma_rad, want);
    double slope = slope_of(truth, i);
    if (!(e->slope_sigma_rad_per_k < 0.01 * fabs(slope) &&
          fabs(e->slope_rad_per_k - slope) < 4 * e->slope_sigma_rad_per_k))
      fail_msg("crystal %zu: slope %.5f +- %.5f, hidden %.5f (model %.5f)", i,
               e->slope_rad_per_k, e->slope_sigma_rad_per_k, slope,
               e->model_slope_rad_per_k);
    if (getenv("SHP_TEST_VERBOSE"))
      printf("crystal %zu: offset %.4f +- %.4f (hidden %.4f), slope %.5f +- "
             "%.5f (hidden %.5f, model %.5f)\n",
             i, e->phase_offset_rad, e->phase_offset_sigma_rad,
             remainder(want, SHP_TWO_PI), e->slope_rad_per_k,
             e->slope_sigma_rad_per_k, slope, e->model_slope_rad_per_k);
    if (fabs(e->model_slope_rad_per_k - e->slope_rad_per_k) >
        4 * e->slope_sigma_rad_per_k)
      seen++;
  }
  shp_stack_free(nominal);
  shp_stack_free(truth);
  return seen;
}

static int calibrate_on(run_lab *r, const size_t *which, size_t count,
                        const char *journal, shp_calibration **cal) {
  shp_calibrate_spec spec = {.lab = r->lab,
                             .crystals = which,
                             .crystal_count = count,
                             .seed = 1,
                             .journal_path = journal};
  return shp_calibrate(r->sup, &spec, NULL, NULL, cal);
}

static char *temp_path(const char *suffix) {
  char *p = malloc(64);
  assert_non_null(p);
  snprintf(p, 64, "/tmp/shp-cal-XXXXXX%s", suffix);
  int fd = mkstemps(p, (int)strlen(suffix));
  assert_true(fd >= 0);
  close(fd);
  unlink(p);
  return p;
}

static size_t count_type(json_t *records, const char *type) {
  size_t n = 0, i;
  json_t *rec;
  json_array_foreach(records, i, rec) {
    if (strcmp(json_string_value(json_object_get(rec, "type")), type) == 0)
      n++;
  }
  return n;
}

/* Every crystal scanned: the fit finds the hidden offsets and slopes, the
 * ovens end where they began, no setpoint beyond a limit is sent, and the
 * journal holds every trace. */
static void test_calibrate_every_crystal(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 5\n" HIDDEN);
  char *journal = temp_path(".jsonl");
  shp_calibration *cal = NULL;
  int rc = calibrate_on(&r, NULL, 0, journal, &cal);
  if (rc != SHP_OK)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(cal->crystal_count, 4);
  assert_true(check_against_truth(cal, r.lab) >= 2);
  assert_true(cal->residual_rms < 0.05);
  /* The scans leave one solution: no twin survives a whole period. */
  assert_non_null(strstr(cal->identifiability, "1 consistent solution;"));
  for (size_t i = 0; i < 4; i++) {
    const shp_calibration_crystal *e = shp_calibration_find(cal, i);
    assert_non_null(e);
    shp_oven_status st;
    assert_int_equal(shp_supervisor_status(r.sup, i, &st), SHP_OK);
    assert_near(st.target_c, e->reference_temperature_c, 1e-9);
    assert_near(fabs(st.reading.actual_c - st.target_c), 0, 0.05);
    assert_int_equal(e->scan_points, 9);
    /* At least one phase period, within the limits. */
    double period = SHP_TWO_PI / fabs(e->model_slope_rad_per_k);
    assert_true(e->scan_to_c - e->scan_from_c >= 0.99 * period);
    assert_true(e->scan_from_c >= 20.0 && e->scan_to_c <= 150.0);
  }
  assert_true(r.max_sent_excess <= 0);
  assert_int_equal(r.holds, 0);
  json_t *records;
  size_t valid;
  bool torn;
  assert_int_equal(shp_journal_read(journal, &records, &valid, &torn), SHP_OK);
  assert_false(torn);
  assert_int_equal(count_type(records, "calibrate"), 1);
  assert_int_equal(count_type(records, "measure"), 1 + 4 * 9);
  assert_int_equal(count_type(records, "move"), 4 * 10);
  assert_int_equal(count_type(records, "fit"), 1);
  assert_int_equal(count_type(records, "end"), 1);
  /* Every command sent is journalled, and the end says what each oven
   * holds: where it began. */
  assert_int_equal(count_type(records, "oven_command"), r.sent);
  json_t *first = json_array_get(records, 0);
  assert_int_equal(strlen(json_string_value(json_object_get(
                       json_object_get(first, "sha256"), "stack"))),
                   64);
  json_t *end = json_array_get(records, json_array_size(records) - 1);
  assert_string_equal(json_string_value(json_object_get(end, "status")),
                      "calibrated");
  for (size_t i = 0; i < 4; i++)
    assert_near(
        json_number_value(json_array_get(json_object_get(end, "holding_c"), i)),
        shp_calibration_find(cal, i)->reference_temperature_c, 1e-9);
  json_decref(records);
  unlink(journal);
  free(journal);
  shp_calibration_free(cal);
  close_lab(&r);
}

/* One crystal: only it is in the calibration, the others' ovens never
 * move, and it matches the truth. */
static void test_calibrate_one_crystal(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 6\n" HIDDEN);
  size_t which[] = {2};
  shp_calibration *cal = NULL;
  if (calibrate_on(&r, which, 1, NULL, &cal) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(cal->crystal_count, 1);
  assert_int_equal(cal->crystals[0].index, 2);
  assert_null(shp_calibration_find(cal, 0));
  check_against_truth(cal, r.lab);
  shp_calibration_free(cal);
  close_lab(&r);
}

/* Written and read back, the file is the same calibration, and applied to
 * the lab's stack it gives every crystal the hidden phase at any
 * temperature within the calibration's uncertainty. */
static void test_calibration_file_round_trip(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 5\n" HIDDEN);
  shp_calibration *cal = NULL;
  if (calibrate_on(&r, NULL, 0, NULL, &cal) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  char *path = temp_path(".yml");
  assert_int_equal(shp_calibration_save(cal, path), SHP_OK);
  shp_calibration *back = shp_calibration_load(path);
  if (back == NULL)
    fail_msg("%s", shp_error_detail());
  assert_string_equal(back->created, cal->created);
  assert_string_equal(back->stack, r.lab->stack_path);
  assert_int_equal(back->crystal_count, cal->crystal_count);
  for (size_t k = 0; k < cal->crystal_count; k++) {
    const shp_calibration_crystal *a = &cal->crystals[k],
                                  *b = &back->crystals[k];
    assert_int_equal(a->index, b->index);
    assert_string_equal(a->material, b->material);
    /* Numbers are written to read back exactly. */
    assert_true(a->phase_offset_rad == b->phase_offset_rad);
    assert_true(a->slope_rad_per_k == b->slope_rad_per_k);
    assert_true(a->slope_sigma_rad_per_k == b->slope_sigma_rad_per_k);
    assert_true(a->scan_from_c == b->scan_from_c);
  }
  shp_stack *model = shp_stack_load(r.lab->stack_path);
  shp_stack *truth = shp_lab_sim_truth(r.lab);
  assert_non_null(model);
  assert_non_null(truth);
  assert_int_equal(shp_calibration_apply(back, model), SHP_OK);
  for (size_t k = 0; k < back->crystal_count; k++) {
    const shp_calibration_crystal *e = &back->crystals[k];
    for (int side = -1; side <= 1; side++) {
      double t = e->reference_temperature_c + 10.0 * side;
      double d = remainder(total_phase(model, e->index, t) -
                               total_phase(truth, e->index, t),
                           SHP_TWO_PI);
      double sigma =
          e->phase_offset_sigma_rad + 10.0 * e->slope_sigma_rad_per_k;
      if (!(fabs(d) < 4 * sigma + 0.01))
        fail_msg("crystal %zu at %.1f C: model and truth differ by %.4f rad",
                 e->index, t, d);
    }
  }
  shp_stack_free(truth);
  shp_stack_free(model);
  unlink(path);
  free(path);
  shp_calibration_free(back);
  shp_calibration_free(cal);
  close_lab(&r);
}

/* Hidden azimuth (0.3 deg) and length (2 um) errors as well as phases and
 * slopes: the calibration's fitted errors are within 4 sigma of the hidden
 * ones, the phases and slopes as without them, the file keeps them bit
 * for bit, and the calibrated stack's output intensity at another set of
 * temperatures is the true one's (relative RMS below 2 %, and well below
 * the nominal stack's). */
#define HIDDEN_ALL                                                             \
  "  phase_offset_sigma_rad: 1.0\n  slope_sigma_rel: 0.03\n"                   \
  "  azimuth_sigma_deg: 0.3\n  length_sigma_um: 2.0\n"

/* The relative L2 difference of a's output intensity from b's, a's
 * interpolated onto b's time axis (the grids are sized per stack). */
static double intensity_difference(const shp_stack *a, const shp_stack *b) {
  shp_simulation *sa = shp_simulate(a, NULL, false);
  shp_simulation *sb = shp_simulate(b, NULL, false);
  if (sa == NULL || sb == NULL)
    fail_msg("%s", shp_error_detail());
  double d2 = 0, b2 = 0;
  for (size_t j = 0; j < sb->n; j++) {
    double t = sb->time_ps[j], v = 0;
    for (size_t k = 0; k + 1 < sa->n; k++)
      if (sa->time_ps[k] <= t && t <= sa->time_ps[k + 1]) {
        double w = (t - sa->time_ps[k]) / (sa->time_ps[k + 1] - sa->time_ps[k]);
        v = (1 - w) * sa->intensity[k] + w * sa->intensity[k + 1];
        break;
      }
    d2 += (v - sb->intensity[j]) * (v - sb->intensity[j]);
    b2 += sb->intensity[j] * sb->intensity[j];
  }
  shp_simulation_free(sa);
  shp_simulation_free(sb);
  return sqrt(d2 / b2);
}

static void set_temperatures(shp_stack *s, const double *t) {
  for (size_t i = 0; i < s->crystal_count; i++) {
    s->crystals[i].temperature_c = t[i];
    s->crystals[i].has_temperature = true;
  }
}

static void test_calibrate_finds_azimuth_and_length_errors(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 11\n" HIDDEN_ALL);
  shp_calibration *cal = NULL;
  if (calibrate_on(&r, NULL, 0, NULL, &cal) != SHP_OK)
    fail_msg("%s", shp_error_detail());
  check_against_truth(cal, r.lab);
  shp_stack *truth = shp_lab_sim_truth(r.lab);
  shp_stack *model = shp_stack_load(r.lab->stack_path);
  shp_stack *nominal = shp_stack_load(r.lab->stack_path);
  assert_non_null(truth);
  assert_non_null(model);
  assert_non_null(nominal);
  size_t measured_az = 0, measured_len = 0;
  for (size_t k = 0; k < cal->crystal_count; k++) {
    const shp_calibration_crystal *e = &cal->crystals[k];
    size_t i = e->index;
    assert_true(e->has_errors);
    double az = truth->crystals[i].azimuth_deg - model->crystals[i].azimuth_deg;
    double len =
        1e3 * (truth->crystals[i].length_mm - model->crystals[i].length_mm);
    if (getenv("SHP_TEST_VERBOSE"))
      printf("crystal %zu: azimuth error %.3f +- %.3f deg (hidden %.3f), "
             "length error %.2f +- %.2f um (hidden %.2f)\n",
             i, e->azimuth_error_deg, e->azimuth_error_sigma_deg, az,
             e->length_error_um, e->length_error_sigma_um, len);
    if (!(fabs(e->azimuth_error_deg - az) < 4 * e->azimuth_error_sigma_deg))
      fail_msg("crystal %zu: azimuth error %.3f +- %.3f deg, hidden %.3f", i,
               e->azimuth_error_deg, e->azimuth_error_sigma_deg, az);
    if (!(fabs(e->length_error_um - len) < 4 * e->length_error_sigma_um))
      fail_msg("crystal %zu: length error %.2f +- %.2f um, hidden %.2f", i,
               e->length_error_um, e->length_error_sigma_um, len);
    /* Measured, not the prior echoed: sigma well below the prior's. */
    measured_az += e->azimuth_error_sigma_deg < 0.15;
    measured_len += e->length_error_sigma_um < 1.0;
  }
  assert_true(measured_az >= 2);
  (void)measured_len;
  /* The file keeps the errors bit for bit. */
  char *path = temp_path(".yml");
  assert_int_equal(shp_calibration_save(cal, path), SHP_OK);
  shp_calibration *back = shp_calibration_load(path);
  if (back == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(back->has_pulse, cal->has_pulse);
  assert_int_equal(back->has_delay, cal->has_delay);
  assert_true(back->pulse_fwhm_ps == cal->pulse_fwhm_ps);
  assert_true(back->pulse_gdd_sigma_fs2 == cal->pulse_gdd_sigma_fs2);
  assert_true(back->delay_scale == cal->delay_scale);
  assert_true(back->delay_offset_sigma_ps == cal->delay_offset_sigma_ps);
  for (size_t k = 0; k < cal->crystal_count; k++) {
    const shp_calibration_crystal *a = &cal->crystals[k],
                                  *b = &back->crystals[k];
    assert_true(b->has_errors);
    assert_true(a->azimuth_error_deg == b->azimuth_error_deg);
    assert_true(a->azimuth_error_sigma_deg == b->azimuth_error_sigma_deg);
    assert_true(a->length_error_um == b->length_error_um);
    assert_true(a->length_error_sigma_um == b->length_error_sigma_um);
    assert_true(a->model_slope_rad_per_k == b->model_slope_rad_per_k);
  }
  /* Another set of temperatures than any scan's: the calibrated stack's
   * intensity is the truth's. */
  assert_int_equal(shp_calibration_apply(back, model), SHP_OK);
  double t[4];
  for (size_t i = 0; i < 4; i++)
    t[i] = cal->crystals[i].reference_temperature_c + 2.5 - 1.7 * (double)i;
  set_temperatures(model, t);
  set_temperatures(nominal, t);
  set_temperatures(truth, t);
  double calibrated = intensity_difference(model, truth);
  double uncalibrated = intensity_difference(nominal, truth);
  if (getenv("SHP_TEST_VERBOSE"))
    printf("intensity vs truth: calibrated %.4f, nominal %.4f\n", calibrated,
           uncalibrated);
  if (!(calibrated < 0.02 && calibrated < 0.25 * uncalibrated))
    fail_msg("intensity vs truth: calibrated %.4f, nominal %.4f", calibrated,
             uncalibrated);
  unlink(path);
  free(path);
  shp_calibration_free(back);
  shp_stack_free(nominal);
  shp_stack_free(model);
  shp_stack_free(truth);
  shp_calibration_free(cal);
  close_lab(&r);
}

/* The true intensity error against the lab's target at a run's final
 * setpoints: the hidden stack (read here only) simulated there. */
static double true_error(run_lab *r, const double *setpoints) {
  shp_stack *truth = shp_lab_sim_truth(r->lab);
  assert_non_null(truth);
  set_temperatures(truth, setpoints);
  shp_simulation *sim = shp_simulate(truth, r->target, false);
  if (sim == NULL)
    fail_msg("%s", shp_error_detail());
  assert_true(sim->metrics.has_error);
  double e = sim->metrics.error;
  shp_simulation_free(sim);
  shp_stack_free(truth);
  return e;
}

static double run_and_judge(run_lab *r, const shp_calibration *cal,
                            double tolerance, size_t *moves, bool *converged) {
  shp_run_spec spec = {.lab = r->lab,
                       .target = r->target,
                       .tolerance = tolerance,
                       .max_iterations = 8,
                       .seed = 1,
                       .calibration = cal};
  shp_run_result res = {0};
  int rc = shp_run(r->sup, &spec, NULL, NULL, &res);
  if (rc != SHP_OK)
    fail_msg("%s", shp_error_detail());
  double e = true_error(r, res.setpoints_c);
  *moves = res.iterations;
  if (converged)
    *converged = res.converged;
  shp_run_result_clear(&res);
  return e;
}

/* A calibration never leaves a run worse than no calibration on the same
 * hidden lab (phases, 3 % slopes, 0.3 deg azimuth and 2 um length errors,
 * 4 plates): one move to the calibrated model's optimum gives a true
 * intensity error (the hidden stack simulated there, read here only)
 * within 0.005 of e*, the best the hidden stack can do, and no worse than
 * the uncalibrated closed loop's final setpoints; and the calibrated loop
 * converges within two moves to a true pulse within its tolerance. */
static void test_calibration_is_not_worse_than_none(void **state) {
  (void)state;
  const unsigned seeds[] = {31, 32};
  for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
    char sim[256];
    snprintf(sim, sizeof sim, "  seed: %u\n" HIDDEN_ALL, seeds[k]);
    run_lab r;
    open_lab(&r, sim);
    size_t plain_moves;
    double plain = run_and_judge(&r, NULL, 0.02, &plain_moves, NULL);
    close_lab(&r);
    open_lab(&r, sim);
    shp_calibration *cal = NULL;
    if (calibrate_on(&r, NULL, 0, NULL, &cal) != SHP_OK)
      fail_msg("%s", shp_error_detail());
    double lo[4], hi[4];
    for (size_t i = 0; i < 4; i++) {
      lo[i] = r.lab->ovens[i].min_c;
      hi[i] = r.lab->ovens[i].max_c;
    }
    shp_stack *truth = shp_lab_sim_truth(r.lab);
    shp_stack *model = shp_stack_load(r.lab->stack_path);
    assert_non_null(truth);
    assert_non_null(model);
    assert_int_equal(shp_calibration_apply(cal, model), SHP_OK);
    shp_reach_result best = {0}, one = {0};
    assert_int_equal(shp_reach_check(truth, r.target, lo, hi, 0.02, 1, &best),
                     SHP_OK);
    assert_int_equal(shp_reach_check(model, r.target, lo, hi, 0.02, 1, &one),
                     SHP_OK);
    double one_move = true_error(&r, one.setpoints_c);
    if (getenv("SHP_TEST_VERBOSE"))
      printf("seed %u: true error of the uncalibrated loop %.4f (%zu moves); "
             "e* %.4f; at the calibrated model's optimum %.4f (the model "
             "predicts %.4f)\n",
             seeds[k], plain, plain_moves, best.best_error, one_move,
             one.best_error);
    if (!(one_move <= best.best_error + 0.005 && one_move <= plain + 0.01))
      fail_msg("seed %u: calibrated optimum's true error %.4f, e* %.4f, "
               "uncalibrated loop %.4f",
               seeds[k], one_move, best.best_error, plain);
    /* The calibrated loop itself: the calibration's narrow priors leave one
     * solution after the first trace, so it converges within two moves
     * (the benchmark median) on a tolerance the true stack can
     * reach, its true pulse within that tolerance. */
    size_t cal_moves;
    bool cal_converged;
    double tol = best.best_error + 0.02;
    double with = run_and_judge(&r, cal, tol, &cal_moves, &cal_converged);
    if (getenv("SHP_TEST_VERBOSE"))
      printf("seed %u: the calibrated loop: %s after %zu moves, true error "
             "%.4f, tolerance %.4f\n",
             seeds[k], cal_converged ? "converged" : "not converged", cal_moves,
             with, tol);
    if (!(cal_converged && cal_moves <= 2 && with <= tol + 0.005))
      fail_msg("seed %u: the calibrated loop %s after %zu moves, true error "
               "%.4f, tolerance %.4f",
               seeds[k], cal_converged ? "converged" : "did not converge",
               cal_moves, with, tol);
    shp_reach_result_clear(&best);
    shp_reach_result_clear(&one);
    shp_stack_free(model);
    shp_stack_free(truth);
    shp_calibration_free(cal);
    close_lab(&r);
  }
}

/* A scan wider than a crystal's limits is refused before anything moves;
 * a device fault mid-scan stops with the error, every oven held and the
 * journal closed with fault and end records. */
static void test_calibrate_refusals(void **state) {
  (void)state;
  run_lab r;
  char *path = design_lab("  seed: 5\n");
  assert_non_null(path);
  /* Squeeze crystal 1's limits to 75..85 C about its 79 C: one phase
   * period is wider. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_true(getdelim(&text, &len, '\0', f) > 0);
  fclose(f);
  char *at = strstr(text, "channel: 1, min_c: 20.0, max_c: 150.0");
  assert_non_null(at);
  memcpy(at, "channel: 1, min_c: 75.0, max_c: 085.0", 37);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  free(text);
  open_lab_at(&r, NULL, path);
  shp_calibration *cal = NULL;
  if (calibrate_on(&r, NULL, 0, NULL, &cal) != SHP_ERR_RANGE)
    fail_msg("%s", shp_error_detail());
  assert_null(cal);
  assert_non_null(strstr(shp_error_detail(), "crystal 1"));
  assert_int_equal(r.holds, 0);
  assert_true(r.max_sent_excess == -INFINITY); /* nothing was sent */
  close_lab(&r);
  unlink(path);
  free(path);

  open_lab(&r, "  seed: 5\n  faults:\n    - {kind: disconnect, at_s: 2000, "
               "crystal: 3}\n");
  char *journal = temp_path(".jsonl");
  assert_int_equal(calibrate_on(&r, NULL, 0, journal, &cal),
                   SHP_ERR_DISCONNECTED);
  assert_null(cal);
  assert_true(r.holds >= 3);
  json_t *records;
  size_t valid;
  assert_int_equal(shp_journal_read(journal, &records, &valid, NULL), SHP_OK);
  size_t n = json_array_size(records);
  assert_true(n >= 3);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(records, n - 2), "type")),
                      "fault");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(records, n - 1), "type")),
                      "end");
  json_decref(records);
  unlink(journal);
  free(journal);
  close_lab(&r);
}

/* shapectl calibrate as a user runs it: the file lands where asked with
 * its journal beside it, run and simulate take it, a broken calibration
 * file is refused naming file, line and key (exit 2), and one of another
 * stack is refused too. */
static void test_cli_calibrate(void **state) {
  (void)state;
  char *lab = design_lab("  seed: 5\n" HIDDEN);
  char dir[] = "/tmp/shp-calcli-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char out[256], journal[256], bad[256];
  snprintf(out, sizeof out, "%s/cal.yml", dir);
  snprintf(journal, sizeof journal, "%s/cal.journal.jsonl", dir);
  snprintf(bad, sizeof bad, "%s/bad.yml", dir);
  const char *cal_args[] = {"calibrate", lab, "--crystal", "1",
                            "--crystal", "3", "--output",  out,
                            "--json",    NULL};
  spawn_result a = spawn_run(SHAPECTL_PATH, NULL, NULL, cal_args);
  assert_int_equal(a.status, 0);
  assert_contains(a.out, "\"crystals\"");
  assert_contains(a.err, "wrote");
  shp_calibration *cal = shp_calibration_load(out);
  if (cal == NULL)
    fail_msg("%s", shp_error_detail());
  assert_int_equal(cal->crystal_count, 2);
  assert_non_null(shp_calibration_find(cal, 1));
  assert_non_null(shp_calibration_find(cal, 3));
  shp_calibration_free(cal);
  struct stat st;
  assert_int_equal(stat(journal, &st), 0);

  const char *target = SHP_SOURCE_DATADIR "/examples/targets/flat-top-5ps.yml";
  const char *run_args[] = {"run",           lab, "--target", target,
                            "--calibration", out, "--json",   NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, run_args);
  assert_int_equal(b.status, 0);
  assert_contains(b.out, "\"converged\": true");

  FILE *f = fopen(bad, "w");
  assert_non_null(f);
  fputs("created: x\nstack: s.yml\ncrystals:\n  - index: 0\n"
        "    material: alpha-BBO\n    length_mm: -2\n",
        f);
  fclose(f);
  const char *stack =
      SHP_SOURCE_DATADIR "/examples/stacks/design-flat-top-5ps.yml";
  const char *bad_args[] = {"simulate", stack, "--calibration", bad, NULL};
  spawn_result c = spawn_run(SHAPECTL_PATH, NULL, NULL, bad_args);
  assert_int_equal(c.status, 2);
  assert_contains(c.err, "bad.yml:6: crystals[0].length_mm: must be > 0");

  const char *other = SHP_SOURCE_DATADIR "/examples/stacks/fan4.yml";
  const char *other_args[] = {"simulate", other, "--calibration", out, NULL};
  spawn_result d = spawn_run(SHAPECTL_PATH, NULL, NULL, other_args);
  assert_int_equal(d.status, 2);
  assert_contains(d.err, "a calibration of another stack");
  assert_int_equal(d.out_len, 0);

  spawn_result_free(&a);
  spawn_result_free(&b);
  spawn_result_free(&c);
  spawn_result_free(&d);
  unlink(out);
  unlink(journal);
  unlink(bad);
  rmdir(dir);
  unlink(lab);
  free(lab);
}

/* A fault at the first oven read: the calibration journal still holds its
 * first record, the fault and the end, and says no oven's setpoint is
 * known. */
static void test_calibrate_fault_at_the_start_is_journalled(void **state) {
  (void)state;
  run_lab r;
  open_lab(&r, "  seed: 5\n  faults:\n"
               "    - {kind: disconnect, at_s: 0.0, crystal: 0}\n");
  char *journal = temp_path(".jsonl");
  shp_calibration *cal = NULL;
  assert_int_equal(calibrate_on(&r, NULL, 0, journal, &cal),
                   SHP_ERR_DISCONNECTED);
  assert_null(cal);
  assert_int_equal(r.sent, 0);
  json_t *records;
  size_t valid;
  assert_int_equal(shp_journal_read(journal, &records, &valid, NULL), SHP_OK);
  assert_int_equal(json_array_size(records), 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(records, 0), "type")),
      "calibrate");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(records, 1), "type")),
      "fault");
  json_t *end = json_array_get(records, 2);
  assert_string_equal(json_string_value(json_object_get(end, "status")),
                      "failed");
  for (size_t i = 0; i < 4; i++)
    assert_true(json_is_false(
        json_array_get(json_object_get(end, "holding_known"), i)));
  json_decref(records);
  unlink(journal);
  free(journal);
  close_lab(&r);
}

/* The stack of the calibration tests with crystal 0's axis along the input
 * polarizer: it splits nothing, so no scan can tell its phase. */
static char *inert_lab(char *dir) {
  char stack[256], text[8192];
  snprintf(stack, sizeof stack, "%s/inert.yml", dir);
  FILE *in =
      fopen(SHP_SOURCE_DATADIR "/examples/stacks/design-flat-top-5ps.yml", "r");
  assert_non_null(in);
  size_t n = fread(text, 1, sizeof text - 1, in);
  fclose(in);
  text[n] = '\0';
  char *at = strstr(text, "azimuth_deg: 14.730272909979263");
  assert_non_null(at);
  FILE *out = fopen(stack, "w");
  assert_non_null(out);
  fprintf(out, "%.*sazimuth_deg: 0.05661953174094947%s", (int)(at - text), text,
          at + strlen("azimuth_deg: 14.730272909979263"));
  fclose(out);
  char *lab = design_lab("  seed: 3\n  azimuth_sigma_deg: 0\n");
  in = fopen(lab, "r");
  n = fread(text, 1, sizeof text - 1, in);
  fclose(in);
  text[n] = '\0';
  char *nl = strchr(text, '\n');
  out = fopen(lab, "w");
  fprintf(out, "stack: %s%s", stack, nl);
  fclose(out);
  return lab;
}

/* shapectl calibrate: an --output that cannot be written is refused before
 * anything moves (exit 1, no journal); a crystal the scans cannot
 * determine ends with exit 3, no calibration file, the JSON and the
 * journal saying why; journal show reads calibration journals. */
static void test_cli_calibrate_outputs_and_exit_statuses(void **state) {
  (void)state;
  char dir[] = "/tmp/shp-calcli-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *lab = inert_lab(dir);
  char out[256], journal[256];
  snprintf(out, sizeof out, "%s/no/such/dir/cal.yml", dir);
  snprintf(journal, sizeof journal, "%s/cal.jsonl", dir);
  const char *a1[] = {"calibrate", lab,     "--crystal", "1", "--output", out,
                      "--journal", journal, "--points",  "4", NULL};
  spawn_result a = spawn_run(SHAPECTL_PATH, NULL, NULL, a1);
  assert_int_equal(a.status, 1);
  assert_contains(a.err, "cal.yml: cannot write");
  assert_int_equal(strstr(a.err, "settled") == NULL, 1);
  struct stat st;
  assert_int_equal(stat(journal, &st), -1);
  spawn_result_free(&a);

  snprintf(out, sizeof out, "%s/cal.yml", dir);
  const char *a2[] = {"calibrate", lab,     "--crystal", "0", "--output", out,
                      "--journal", journal, "--points",  "4", "--json",   NULL};
  spawn_result b = spawn_run(SHAPECTL_PATH, NULL, NULL, a2);
  assert_int_equal(b.status, 3);
  json_error_t err;
  json_t *j = json_loads(b.out, 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "status")),
                      "undetermined");
  assert_non_null(strstr(json_string_value(json_object_get(j, "reason")),
                         "crystal 0 is not determined by the scan"));
  assert_true(json_is_null(json_object_get(j, "file")));
  json_decref(j);
  assert_int_equal(stat(out, &st), -1);
  spawn_result_free(&b);

  const char *a3[] = {"journal", "show", journal, "--json", NULL};
  spawn_result c = spawn_run(SHAPECTL_PATH, NULL, NULL, a3);
  assert_int_equal(c.status, 0);
  j = json_loads(c.out, 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "kind")),
                      "calibration");
  assert_int_equal(json_integer_value(json_object_get(j, "measurements")), 5);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(j, "end"), "status")),
      "undetermined");
  json_decref(j);
  spawn_result_free(&c);
  const char *a4[] = {"journal", "show", journal, NULL};
  spawn_result d = spawn_run(SHAPECTL_PATH, NULL, NULL, a4);
  assert_int_equal(d.status, 0);
  assert_contains(d.out, "calibration, started");
  assert_contains(d.out, "5 traces, 5 moves");
  assert_contains(d.out, "ended: undetermined");
  spawn_result_free(&d);
  char png[256];
  snprintf(png, sizeof png, "%s/commands.png", dir);
  const char *a5[] = {"journal", "show", journal, "--plot", png, NULL};
  spawn_result e = spawn_run(SHAPECTL_PATH, NULL, NULL, a5);
  assert_int_equal(e.status, 0);
  assert_int_equal(stat(png, &st), 0);
  assert_true(st.st_size > 1000);
  spawn_result_free(&e);
  unlink(png);

  char stack[256];
  snprintf(stack, sizeof stack, "%s/inert.yml", dir);
  unlink(stack);
  unlink(journal);
  unlink(lab);
  free(lab);
  rmdir(dir);
}

static size_t lines_in(const char *path) {
  FILE *fp = fopen(path, "r");
  size_t n = 0;
  int c;
  while (fp != NULL && (c = fgetc(fp)) != EOF)
    n += c == '\n';
  if (fp != NULL)
    fclose(fp);
  return n;
}

/* The output's folder vanishes while the scans run: the calibration is not
 * lost but written beside the journal, the message says where, exit 1. */
static void test_cli_calibrate_falls_back_beside_the_journal(void **state) {
  (void)state;
  char *lab = design_lab("  seed: 5\n" HIDDEN);
  char dir[] = "/tmp/shp-calfb-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char outdir[64], out[96], journal[96], fallback[128], errfile[96];
  snprintf(outdir, sizeof outdir, "%s/out", dir);
  snprintf(out, sizeof out, "%s/cal.yml", outdir);
  snprintf(journal, sizeof journal, "%s/cal.jsonl", dir);
  snprintf(fallback, sizeof fallback, "%s.result.yml", journal);
  snprintf(errfile, sizeof errfile, "%s/stderr", dir);
  assert_int_equal(mkdir(outdir, 0755), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    int err = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(devnull, 1);
    dup2(err, 2);
    execl(SHAPECTL_PATH, SHAPECTL_PATH, "calibrate", lab, "--crystal", "1",
          "--output", out, "--journal", journal, (char *)NULL);
    _exit(127);
  }
  /* Once the first scan has begun, the outputs were checked. */
  for (int spin = 0; spin < 2000000 && lines_in(journal) < 4; spin++)
    usleep(50);
  assert_int_equal(rmdir(outdir), 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 1);
  shp_calibration *cal = shp_calibration_load(fallback);
  if (cal == NULL)
    fail_msg("%s", shp_error_detail());
  assert_non_null(shp_calibration_find(cal, 1));
  shp_calibration_free(cal);
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(errfile, "r");
  assert_non_null(f);
  assert_true(getdelim(&text, &len, '\0', f) > 0);
  fclose(f);
  char want[400];
  snprintf(want, sizeof want, "the calibration was written to %s instead",
           fallback);
  if (strstr(text, want) == NULL)
    fail_msg("stderr lacks \"%s\":\n%s", want, text);
  free(text);
  unlink(fallback);
  unlink(journal);
  unlink(errfile);
  rmdir(dir);
  unlink(lab);
  free(lab);
}

int main(void) {
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calibrate_every_crystal),
      cmocka_unit_test(test_calibrate_one_crystal),
      cmocka_unit_test(test_calibration_file_round_trip),
      cmocka_unit_test(test_calibrate_finds_azimuth_and_length_errors),
      cmocka_unit_test(test_calibration_is_not_worse_than_none),
      cmocka_unit_test(test_calibrate_refusals),
      cmocka_unit_test(test_cli_calibrate),
      cmocka_unit_test(test_calibrate_fault_at_the_start_is_journalled),
      cmocka_unit_test(test_cli_calibrate_outputs_and_exit_statuses),
      cmocka_unit_test(test_cli_calibrate_falls_back_beside_the_journal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
