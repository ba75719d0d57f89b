/* See hidden_truth.h. */
#include "hidden_truth.h"

#include "shp/diag.h"
#include "shp/error.h"
#include "shp/propagator.h"
#include "shp/pulse.h"
#include "shp/units.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double truth_gauss(unsigned long *s) {
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  double u1 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  double u2 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(SHP_TWO_PI * u2);
}

void random_truth(const shp_stack *s, unsigned long seed, truth *t) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < s->crystal_count; i++) {
    t->phase[i] = shp_wrap_phase(1.5 * truth_gauss(&seed));
    t->daz_deg[i] = 0.3 * truth_gauss(&seed);
    t->dlen_um[i] = 2.0 * truth_gauss(&seed);
  }
  t->width_rel = 0.05 * truth_gauss(&seed);
}

void true_intensity(const shp_stack *s, const shp_grid *g, const truth *t,
                    const double *temps, double *out) {
  shp_element el[TRUTH_MAXC];
  shp_path path;
  shp_stack_path(s, el, &path);
  for (size_t i = 0; i < s->crystal_count; i++) {
    el[i].crystal.temperature_c = temps[i];
    el[i].crystal.phase_offset_rad = t->phase[i];
    el[i].crystal.azimuth_deg += t->daz_deg[i];
    el[i].crystal.length_mm += 1e-3 * t->dlen_um[i];
  }
  shp_pulse p = s->pulse;
  p.fwhm_ps *= 1 + t->width_rel;
  p.gdd_fs2 += t->gdd_fs2;
  double complex *in = fftw_alloc_complex(g->n);
  shp_field *field = shp_field_new(g->n);
  shp_propagator *prop = shp_propagator_new(g, &path);
  assert_non_null(prop);
  assert_int_equal(shp_pulse_fill(&p, g, in), SHP_OK);
  assert_int_equal(shp_propagator_apply(prop, &path, in, field), SHP_OK);
  shp_field_intensity(field, NULL, NULL, out);
  shp_propagator_free(prop);
  shp_field_free(field);
  fftw_free(in);
}

void true_ac(const shp_stack *s, const shp_grid *g, const truth *t,
             const double *temps, const double *delay, size_t count,
             double noise, unsigned long *seed, double *y) {
  size_t n = g->n;
  double *inten = calloc(n, sizeof *inten), *ac = calloc(2 * n, sizeof *ac);
  shp_diag *d = shp_diag_new(n);
  true_intensity(s, g, t, temps, inten);
  assert_int_equal(
      shp_diag_autocorrelation(d, inten, SHP_AC_BACKGROUND_FREE, ac), SHP_OK);
  for (size_t k = 0; k < count; k++) {
    double x = delay[k] / g->dt + (double)n;
    size_t j = (size_t)x;
    double w = x - (double)j;
    double v = (1 - w) * ac[j] + w * ac[j + 1];
    y[k] = 2.0 * v + 0.1 + noise * truth_gauss(seed);
  }
  shp_diag_free(d);
  free(inten);
  free(ac);
}
