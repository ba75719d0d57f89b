#include "plot-model.h"

#include "gui-util.h"

#include "shp/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most series one figure holds: intensity has four; the temperature plot
 * two per crystal (actual and setpoint), for up to 16 crystals. */
#define MAX_SERIES 32

struct _ShpPlotModel {
  GObject parent_instance;
  char *name;
  shp_simulation *sim;
  double *target_t, *target_i; /* the target moved and scaled onto I */
  double *measured_delay, *measured_signal;
  size_t measured_count;
  /* Temperature history: one time axis (minutes) for every crystal. */
  guint crystals;
  size_t history_count;
  double *history_s, *history_min;
  double **actual_c, **setpoint_c; /* crystals arrays of SHP_PLOT_HISTORY_MAX */
  /* Figures handed out, rebuilt on every request. */
  shp_plot_series series[SHP_PLOT_KIND_COUNT][MAX_SERIES];
  shp_plot_panel panels[SHP_PLOT_KIND_COUNT];
  char labels[MAX_SERIES / 2][32];
};

G_DEFINE_FINAL_TYPE(ShpPlotModel, shp_plot_model, G_TYPE_OBJECT)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void free_history(ShpPlotModel *self) {
  for (guint i = 0; i < self->crystals; i++) {
    g_free(self->actual_c[i]);
    g_free(self->setpoint_c[i]);
  }
  g_clear_pointer(&self->actual_c, g_free);
  g_clear_pointer(&self->setpoint_c, g_free);
  g_clear_pointer(&self->history_s, g_free);
  g_clear_pointer(&self->history_min, g_free);
  self->crystals = 0;
  self->history_count = 0;
}

static void shp_plot_model_finalize(GObject *object) {
  ShpPlotModel *self = SHP_PLOT_MODEL(object);
  shp_simulation_free(self->sim);
  g_free(self->name);
  g_free(self->target_t);
  g_free(self->target_i);
  g_free(self->measured_delay);
  g_free(self->measured_signal);
  free_history(self);
  G_OBJECT_CLASS(shp_plot_model_parent_class)->finalize(object);
}

static void shp_plot_model_class_init(ShpPlotModelClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = shp_plot_model_finalize;
  /* The data behind a plot (a ShpPlotKind) changed. */
  signals[CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void shp_plot_model_init(ShpPlotModel *self) {}

ShpPlotModel *shp_plot_model_new(void) {
  return g_object_new(SHP_TYPE_PLOT_MODEL, NULL);
}

static void changed(ShpPlotModel *self, ShpPlotKind kind) {
  g_signal_emit(self, signals[CHANGED], 0, (guint)kind);
}

/* ---- simulation ---------------------------------------------------------- */

void shp_plot_model_set_simulation(ShpPlotModel *self, const char *name,
                                   shp_simulation *sim) {
  shp_simulation_free(self->sim);
  self->sim = sim;
  g_free(self->name);
  self->name = g_strdup(name);
  g_clear_pointer(&self->target_t, g_free);
  g_clear_pointer(&self->target_i, g_free);
  if (sim != NULL && sim->target != NULL) {
    /* As shapectl draws it: a I(t - s) ~ T(t), so the target goes to
     * t - s and is divided by a. */
    const shp_metrics *m = &sim->metrics;
    self->target_t = g_new(double, sim->n);
    self->target_i = g_new(double, sim->n);
    for (size_t j = 0; j < sim->n; j++) {
      self->target_t[j] = sim->time_ps[j] - m->error_shift_ps;
      self->target_i[j] = sim->target[j] / m->error_scale;
    }
  }
  changed(self, SHP_PLOT_INTENSITY);
  changed(self, SHP_PLOT_AUTOCORRELATION);
  changed(self, SHP_PLOT_SPECTRUM);
}

const shp_simulation *shp_plot_model_get_simulation(ShpPlotModel *self) {
  return self->sim;
}

const shp_metrics *shp_plot_model_get_metrics(ShpPlotModel *self) {
  return self->sim ? &self->sim->metrics : NULL;
}

void shp_plot_model_set_measured(ShpPlotModel *self, const double *delay_ps,
                                 const double *signal, size_t n) {
  g_clear_pointer(&self->measured_delay, g_free);
  g_clear_pointer(&self->measured_signal, g_free);
  self->measured_count = 0;
  double peak = 0;
  for (size_t k = 0; k < n; k++)
    if (isfinite(signal[k]) && signal[k] > peak)
      peak = signal[k];
  if (n > 0 && peak > 0) {
    self->measured_delay = g_memdup2(delay_ps, n * sizeof *delay_ps);
    self->measured_signal = g_new(double, n);
    for (size_t k = 0; k < n; k++)
      self->measured_signal[k] = signal[k] / peak;
    self->measured_count = n;
  }
  changed(self, SHP_PLOT_AUTOCORRELATION);
}

size_t shp_plot_model_get_measured_count(ShpPlotModel *self) {
  return self->measured_count;
}

/* ---- temperature history ------------------------------------------------- */

void shp_plot_model_reset_history(ShpPlotModel *self, guint n) {
  free_history(self);
  n = MIN(n, MAX_SERIES / 2);
  self->crystals = n;
  self->history_s = g_new(double, SHP_PLOT_HISTORY_MAX);
  self->history_min = g_new(double, SHP_PLOT_HISTORY_MAX);
  self->actual_c = g_new0(double *, n);
  self->setpoint_c = g_new0(double *, n);
  for (guint i = 0; i < n; i++) {
    self->actual_c[i] = g_new(double, SHP_PLOT_HISTORY_MAX);
    self->setpoint_c[i] = g_new(double, SHP_PLOT_HISTORY_MAX);
  }
  changed(self, SHP_PLOT_TEMPERATURE);
}

static void drop_oldest(double *v, size_t count, size_t drop) {
  memmove(v, v + drop, (count - drop) * sizeof *v);
}

void shp_plot_model_add_temperatures(ShpPlotModel *self, double time_s,
                                     const double *actual_c,
                                     const double *setpoint_c, guint n) {
  if (self->crystals == 0)
    return;
  if (self->history_count == SHP_PLOT_HISTORY_MAX) {
    /* Drop a quarter at once rather than shifting on every sample. */
    size_t drop = SHP_PLOT_HISTORY_MAX / 4;
    drop_oldest(self->history_s, self->history_count, drop);
    drop_oldest(self->history_min, self->history_count, drop);
    for (guint i = 0; i < self->crystals; i++) {
      drop_oldest(self->actual_c[i], self->history_count, drop);
      drop_oldest(self->setpoint_c[i], self->history_count, drop);
    }
    self->history_count -= drop;
  }
  size_t k = self->history_count++;
  self->history_s[k] = time_s;
  self->history_min[k] = time_s / 60.0;
  for (guint i = 0; i < self->crystals; i++) {
    self->actual_c[i][k] = i < n ? actual_c[i] : NAN;
    self->setpoint_c[i][k] = i < n ? setpoint_c[i] : NAN;
  }
  changed(self, SHP_PLOT_TEMPERATURE);
}

size_t shp_plot_model_get_history_count(ShpPlotModel *self) {
  return self->history_count;
}

void shp_plot_model_get_history(ShpPlotModel *self, guint i,
                                const double **time_s, const double **actual_c,
                                size_t *count) {
  gboolean ok = i < self->crystals;
  *time_s = ok ? self->history_s : NULL;
  *actual_c = ok ? self->actual_c[i] : NULL;
  *count = ok ? self->history_count : 0;
}

/* ---- figures ------------------------------------------------------------- */

const char *shp_plot_model_kind_title(ShpPlotKind kind) {
  static const char *const titles[SHP_PLOT_KIND_COUNT] = {
      "Output intensity", "Autocorrelation", "Spectrum", "Oven temperatures"};
  return kind < SHP_PLOT_KIND_COUNT ? titles[kind] : "";
}

static size_t intensity_series(ShpPlotModel *self, shp_plot_series *s) {
  const shp_simulation *sim = self->sim;
  size_t n = sim->n, k = 0;
  s[k++] = (shp_plot_series){sim->time_ps, sim->intensity, n,
                             "output",     SHP_PLOT_LINE,  0};
  s[k++] = (shp_plot_series){sim->time_ps, sim->intensity_x, n,
                             "x",          SHP_PLOT_DOTTED,  2};
  s[k++] = (shp_plot_series){sim->time_ps, sim->intensity_y, n,
                             "y",          SHP_PLOT_DOTTED,  3};
  if (self->target_t != NULL)
    s[k++] = (shp_plot_series){self->target_t, self->target_i,  n,
                               "target",       SHP_PLOT_DASHED, 1};
  return k;
}

static size_t ac_series(ShpPlotModel *self, shp_plot_series *s) {
  const shp_simulation *sim = self->sim;
  size_t k = 0;
  if (sim != NULL) {
    s[k++] = (shp_plot_series){sim->delay_ps, sim->autocorrelation, 2 * sim->n,
                               "model",       SHP_PLOT_LINE,        0};
    if (sim->target_autocorrelation != NULL)
      s[k++] = (shp_plot_series){sim->delay_ps,   sim->target_autocorrelation,
                                 2 * sim->n,      "target",
                                 SHP_PLOT_DASHED, 1};
  }
  if (self->measured_count > 0)
    s[k++] = (shp_plot_series){self->measured_delay, self->measured_signal,
                               self->measured_count, "measured",
                               SHP_PLOT_LINE,        5};
  return k;
}

static size_t spectrum_series(ShpPlotModel *self, shp_plot_series *s) {
  const shp_simulation *sim = self->sim;
  s[0] = (shp_plot_series){sim->wavelength_nm, sim->spectrum, sim->n,
                           "output",           SHP_PLOT_LINE, 0};
  s[1] = (shp_plot_series){sim->wavelength_nm,
                           sim->input_spectrum,
                           sim->n,
                           "input",
                           SHP_PLOT_DASHED,
                           4};
  return 2;
}

/* Actual temperatures as lines, setpoints dashed in the same colour; the
 * y range is at least 1 K so sensor noise does not fill the plot. */
static size_t temperature_series(ShpPlotModel *self, shp_plot_series *s,
                                 shp_plot_panel *p) {
  size_t n = self->history_count, k = 0;
  double lo = INFINITY, hi = -INFINITY;
  for (guint i = 0; i < self->crystals; i++) {
    snprintf(self->labels[i], sizeof self->labels[i], "crystal %u", i);
    s[k++] = (shp_plot_series){self->history_min, self->actual_c[i], n,
                               self->labels[i],   SHP_PLOT_LINE,     (int)i};
    s[k++] = (shp_plot_series){self->history_min,
                               self->setpoint_c[i],
                               n,
                               NULL,
                               SHP_PLOT_DASHED,
                               (int)i};
    for (size_t j = 0; j < n; j++) {
      double a = self->actual_c[i][j], b = self->setpoint_c[i][j];
      if (isfinite(a))
        lo = fmin(lo, a), hi = fmax(hi, a);
      if (isfinite(b))
        lo = fmin(lo, b), hi = fmax(hi, b);
    }
  }
  if (isfinite(lo) && hi - lo < 1.0) {
    double mid = 0.5 * (lo + hi);
    p->fixed_y = true;
    p->ymin = mid - 0.5;
    p->ymax = mid + 0.5;
  }
  if (n == 1) {
    p->fixed_x = true;
    p->xmin = self->history_min[0] - 0.5;
    p->xmax = self->history_min[0] + 0.5;
  }
  return k;
}

gboolean shp_plot_model_figure(ShpPlotModel *self, ShpPlotKind kind,
                               shp_plot_figure *fig) {
  *fig = (shp_plot_figure){0};
  if (kind >= SHP_PLOT_KIND_COUNT)
    return FALSE;
  shp_plot_panel *p = &self->panels[kind];
  shp_plot_series *s = self->series[kind];
  *p = (shp_plot_panel){.title = shp_plot_model_kind_title(kind), .series = s};
  switch (kind) {
  case SHP_PLOT_INTENSITY:
    if (self->sim == NULL)
      return FALSE;
    p->title = self->name ? self->name : p->title;
    p->xlabel = "time (ps)";
    p->ylabel = "intensity (1/ps)";
    p->series_count = intensity_series(self, s);
    break;
  case SHP_PLOT_AUTOCORRELATION:
    p->xlabel = "delay (ps)";
    p->ylabel = "autocorrelation";
    p->series_count = ac_series(self, s);
    break;
  case SHP_PLOT_SPECTRUM:
    if (self->sim == NULL)
      return FALSE;
    p->xlabel = "wavelength (nm)";
    p->ylabel = "spectral density (ps/rad)";
    p->series_count = spectrum_series(self, s);
    break;
  case SHP_PLOT_TEMPERATURE:
    p->xlabel = "lab time (min)";
    p->ylabel = "temperature (C)";
    p->series_count = self->history_count ? temperature_series(self, s, p) : 0;
    break;
  default:
    return FALSE;
  }
  if (p->series_count == 0)
    return FALSE;
  fig->panels = p;
  fig->panel_count = 1;
  return TRUE;
}

gboolean shp_plot_model_save(ShpPlotModel *self, const char *path,
                             GError **error) {
  shp_plot_panel panels[SHP_PLOT_KIND_COUNT];
  size_t count = 0;
  for (int k = 0; k < SHP_PLOT_KIND_COUNT; k++) {
    shp_plot_figure one;
    if (shp_plot_model_figure(self, (ShpPlotKind)k, &one))
      panels[count++] = one.panels[0];
  }
  if (count == 0)
    return shp_gui_set_error(
        error, shp_error_set(SHP_ERR_INVALID, "%s: nothing to plot yet", path));
  char title[512] = "";
  const shp_metrics *m = shp_plot_model_get_metrics(self);
  if (m != NULL) {
    int w = snprintf(title, sizeof title,
                     "transmission %.3f, FWHM %.3g ps, rise %.3g ps, fall "
                     "%.3g ps, ripple %.1f %%",
                     m->transmission, m->fwhm_ps, m->rise_time_ps,
                     m->fall_time_ps, 100 * m->ripple);
    if (m->has_error && w > 0 && (size_t)w < sizeof title)
      snprintf(title + w, sizeof title - (size_t)w, ", error %.1f %%",
               100 * m->error);
  }
  shp_plot_figure fig = {
      .title = m ? title : NULL, .panels = panels, .panel_count = count};
  int rc = shp_plot_save(&fig, path, 1200, count > 3 ? 1000 : 330.0 * count);
  if (rc != SHP_OK)
    return shp_gui_set_error(error, rc);
  return TRUE;
}
