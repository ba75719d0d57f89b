/* The shipped examples work: every stack in examples/stacks (found by
 * listing the directory, so a new example is covered the day it is added)
 * simulates with `shapectl simulate FILE --json`, and the examples that
 * stand for a claim of DESIGN.md show it: double pass is the palindromic
 * stack, dispersion chirps femtosecond replicas, the 16-replica stacker
 * makes its 16 ps flat top. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_check.h"

#include "spawn_run.h"

#define STACKS SHP_EXAMPLES_DIR "/stacks"
#define STACK(name) STACKS "/" name
#define TARGET(name) SHP_EXAMPLES_DIR "/targets/" name

/* ---- running shapectl -------------------------------------------------- */

/* Run shapectl with args (NULL-terminated, without argv[0]) in this
 * process's environment without SHP_DATA_DIR and SHP_FFTW_ESTIMATE, plus
 * extra_env when not NULL. */
static spawn_result run_env(const char *extra_env, const char *const *args) {
  static const char *const unset[] = {"SHP_DATA_DIR", "SHP_FFTW_ESTIMATE",
                                      NULL};
  return spawn_run(SHAPECTL_PATH, unset, extra_env, args);
}

/* Exactly the environment a user has. */
#define run_as_user(...) run_env(NULL, (const char *const[]){__VA_ARGS__, NULL})
/* FFTW_ESTIMATE plans: FFTW_MEASURE spends ~0.4 s in every process, and the
 * plan moves results only at the rounding level (1e-16). */
#define run(...)                                                               \
  run_env("SHP_FFTW_ESTIMATE=1", (const char *const[]){__VA_ARGS__, NULL})

/* ---- JSON -------------------------------------------------------------- */

/* `simulate` with extra arguments; exit 0 and one JSON object. */
static json_t *simulate(const char *stack, const char *opt1, const char *opt2) {
  const char *args[6] = {"simulate", stack, "--json", opt1, opt2, NULL};
  spawn_result r = run_env("SHP_FFTW_ESTIMATE=1", args);
  assert_int_equal(r.status, 0);
  json_t *j = parse_json(r.out);
  spawn_result_free(&r);
  return j;
}

static const json_t *metrics(const json_t *j) {
  const json_t *m = json_object_get(j, "metrics");
  assert_true(json_is_object(m));
  return m;
}

/* ---- every example ----------------------------------------------------- */

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_every_example_stack_simulates_with_finite_metrics(void **state) {
  (void)state;
  DIR *d = opendir(STACKS);
  if (d == NULL)
    fail_msg("cannot list %s: %s", STACKS, strerror(errno));
  char *names[256];
  size_t count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 4 && strcmp(e->d_name + len - 4, ".yml") == 0) {
      assert_true(count < 256);
      names[count] = strdup(e->d_name);
      assert_non_null(names[count]);
      count++;
    }
  }
  closedir(d);
  qsort(names, count, sizeof *names, by_name);
  /* At least the six this suite was written against. */
  assert_true(count >= 6);
  for (size_t i = 0; i < count; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", STACKS, names[i]);
    spawn_result r = run_as_user("simulate", path, "--json");
    if (r.status != 0)
      fail_msg("%s: exit %d: %s", names[i], r.status, r.err);
    json_t *j = parse_json(r.out);
    const json_t *m = metrics(j);
    static const char *const keys[] = {"transmission", "peak",
                                       "fwhm_ps",      "rise_time_ps",
                                       "fall_time_ps", "ripple"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
      if (!isfinite(number(m, keys[k])))
        fail_msg("%s: %s is not finite", names[i], keys[k]);
    /* A passive shaper: 0 < T <= 1 (FFT rounding above 1, ~1e-15). */
    double t = number(m, "transmission");
    assert_true(t > 0 && t < 1 + 1e-9);
    json_decref(j);
    spawn_result_free(&r);
    free(names[i]);
  }
}

/* ---- claims the examples stand for ------------------------------------- */

/* DESIGN: double pass through a mirror is the palindromic stack, crystals
 * 1..N then N..1. double-pass2.yml (plates A, B, double_pass: true) and
 * unfolded4.yml (A, B, B, A) are that pair; the same products of Jones
 * matrices in the same order give the same intensities up to rounding
 * (measured 1e-19 on a 0.73 /ps peak), so 1e-12 also covers the 12 printed
 * digits. */
static void test_double_pass_equals_unfolded_palindromic_stack(void **state) {
  (void)state;
  json_t *a = simulate(STACK("double-pass2.yml"), NULL, NULL);
  json_t *b = simulate(STACK("unfolded4.yml"), NULL, NULL);
  size_t na, nb;
  double *ia = numbers(a, "intensity", &na);
  double *ib = numbers(b, "intensity", &nb);
  assert_int_equal(na, nb);
  double worst = 0;
  for (size_t k = 0; k < na; k++)
    worst = fmax(worst, fabs(ia[k] - ib[k]));
  print_message("largest intensity difference %.3g\n", worst);
  assert_true(worst < 1e-12);
  assert_true(fabs(number(metrics(a), "transmission") -
                   number(metrics(b), "transmission")) < 1e-12);
  free(ia);
  free(ib);
  json_decref(a);
  json_decref(b);
}

/* 30 fs at 800 nm through 16.7 mm of alpha-BBO: the o and e paths carry
 * different GDD (75 and 48 fs^2/mm), so each replica is chirped to several
 * times its width and the peak falls (measured 1.46 /ps against 3.90 /ps,
 * 63 % lower), while no energy is lost either way (no polarizers: both
 * transmissions are 1 to rounding). */
static void test_dispersion_chirps_femtosecond_replicas(void **state) {
  (void)state;
  json_t *disp = simulate(STACK("fs-stacker-800nm.yml"), NULL, NULL);
  json_t *flat =
      simulate(STACK("fs-stacker-800nm.yml"), "--no-dispersion", NULL);
  double t1 = number(metrics(disp), "transmission");
  double t0 = number(metrics(flat), "transmission");
  assert_true(fabs(t1 - t0) < 1e-9);
  double p1 = number(metrics(disp), "peak");
  double p0 = number(metrics(flat), "peak");
  print_message("peak %.4f with dispersion, %.4f without\n", p1, p0);
  assert_true(p1 < 0.8 * p0);
  json_decref(disp);
  json_decref(flat);
}

/* 16 replicas of 1 ps, 1 ps apart: a 16 ps flat top (measured FWHM 15.92
 * ps, ripple 0.063, against the target's 0 ripple; the incoherent sum of the
 * 16 Gaussians alone has ripple 0.058, so 0.08 leaves room for little
 * else). */
static void test_stacker16_makes_its_16ps_flat_top(void **state) {
  (void)state;
  json_t *j = simulate(STACK("stacker16-uv.yml"), "--target",
                       TARGET("flat-top-16ps.yml"));
  const json_t *m = metrics(j);
  double fwhm = number(m, "fwhm_ps"), ripple = number(m, "ripple");
  print_message("FWHM %.4f ps, ripple %.4f, error %.4f\n", fwhm, ripple,
                number(m, "error"));
  assert_true(fabs(fwhm - 16.0) < 1.0);
  assert_true(ripple >= 0 && ripple < 0.08);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_example_stack_simulates_with_finite_metrics),
      cmocka_unit_test(test_double_pass_equals_unfolded_palindromic_stack),
      cmocka_unit_test(test_dispersion_chirps_femtosecond_replicas),
      cmocka_unit_test(test_stacker16_makes_its_16ps_flat_top),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
