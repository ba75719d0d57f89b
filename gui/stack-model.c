#include "stack-model.h"

#include "gui-util.h"

#include "shp/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _ShpStackModel {
  GObject parent_instance;
  shp_stack *stack;
  GListStore *rows;
  gboolean modified;
};

G_DEFINE_FINAL_TYPE(ShpStackModel, shp_stack_model, G_TYPE_OBJECT)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void shp_stack_model_finalize(GObject *object) {
  ShpStackModel *self = SHP_STACK_MODEL(object);
  shp_stack_free(self->stack);
  g_clear_object(&self->rows);
  G_OBJECT_CLASS(shp_stack_model_parent_class)->finalize(object);
}

static void shp_stack_model_class_init(ShpStackModelClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = shp_stack_model_finalize;
  /* The stack was replaced or a value of it changed. */
  signals[CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                   NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void shp_stack_model_init(ShpStackModel *self) {
  self->rows = g_list_store_new(SHP_TYPE_CRYSTAL_ROW);
}

ShpStackModel *shp_stack_model_new(void) {
  return g_object_new(SHP_TYPE_STACK_MODEL, NULL);
}

/* ---- rows ---------------------------------------------------------------- */

static void sync_row(ShpStackModel *self, guint i) {
  ShpCrystalRow *row = g_list_model_get_item(G_LIST_MODEL(self->rows), i);
  const shp_stack_crystal *c = &self->stack->crystals[i];
  shp_crystal_row_set_crystal(row, c->material_name, c->length_mm,
                              c->azimuth_deg, c->temperature_c);
  g_object_unref(row);
}

static void rebuild_rows(ShpStackModel *self) {
  guint n = (guint)self->stack->crystal_count;
  GPtrArray *rows = g_ptr_array_new_with_free_func(g_object_unref);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add(rows, shp_crystal_row_new(i));
  g_list_store_splice(self->rows, 0,
                      g_list_model_get_n_items(G_LIST_MODEL(self->rows)),
                      rows->pdata, n);
  g_ptr_array_unref(rows);
  for (guint i = 0; i < n; i++)
    sync_row(self, i);
}

static void edited(ShpStackModel *self, guint i) {
  self->modified = TRUE;
  sync_row(self, i);
  g_signal_emit(self, signals[CHANGED], 0);
}

/* ---- loading and saving -------------------------------------------------- */

gboolean shp_stack_model_load(ShpStackModel *self, const char *path,
                              GError **error) {
  shp_stack *s = shp_stack_load(path);
  if (s == NULL)
    return shp_gui_set_error(error, shp_error_last());
  shp_stack_free(self->stack);
  self->stack = s;
  self->modified = FALSE;
  rebuild_rows(self);
  g_signal_emit(self, signals[CHANGED], 0);
  return TRUE;
}

gboolean shp_stack_model_save(ShpStackModel *self, const char *path,
                              GError **error) {
  g_return_val_if_fail(self->stack != NULL, FALSE);
  int rc = shp_stack_save(self->stack, path);
  if (rc != SHP_OK)
    return shp_gui_set_error(error, rc);
  char *copy = strdup(path);
  if (copy == NULL)
    return shp_gui_set_error(
        error, shp_error_set(SHP_ERR_NOMEM, "%s", "out of memory"));
  free(self->stack->path);
  self->stack->path = copy;
  self->modified = FALSE;
  return TRUE;
}

const shp_stack *shp_stack_model_get_stack(ShpStackModel *self) {
  return self->stack;
}
const char *shp_stack_model_get_path(ShpStackModel *self) {
  return self->stack ? self->stack->path : NULL;
}
const char *shp_stack_model_get_name(ShpStackModel *self) {
  return self->stack ? self->stack->name : NULL;
}
guint shp_stack_model_get_count(ShpStackModel *self) {
  return self->stack ? (guint)self->stack->crystal_count : 0;
}
GListModel *shp_stack_model_get_rows(ShpStackModel *self) {
  return G_LIST_MODEL(self->rows);
}
gboolean shp_stack_model_is_modified(ShpStackModel *self) {
  return self->modified;
}

/* ---- checks, as the stack reader makes them ------------------------------ */

static const char *field_key(ShpStackField field) {
  switch (field) {
  case SHP_FIELD_LENGTH_MM:
    return "length_mm";
  case SHP_FIELD_AZIMUTH_DEG:
    return "azimuth_deg";
  case SHP_FIELD_TEMPERATURE_C:
    return "temperature_c";
  }
  return "?";
}

static int check_value(guint i, ShpStackField field, double v) {
  const char *key = field_key(field);
  if (!isfinite(v))
    return shp_error_set(
        SHP_ERR_PARSE, "crystals[%u].%s: expected a number, got %g", i, key, v);
  if (field == SHP_FIELD_LENGTH_MM && !(v > 0))
    return shp_error_set(SHP_ERR_RANGE, "crystals[%u].%s: must be > 0, got %g",
                         i, key, v);
  if (field == SHP_FIELD_TEMPERATURE_C && v <= -273.15)
    return shp_error_set(SHP_ERR_RANGE,
                         "crystals[%u].%s: must be above absolute zero, got "
                         "%g",
                         i, key, v);
  return SHP_OK;
}

static void store_value(shp_stack_crystal *c, ShpStackField field, double v) {
  switch (field) {
  case SHP_FIELD_LENGTH_MM:
    c->length_mm = v;
    break;
  case SHP_FIELD_AZIMUTH_DEG:
    c->azimuth_deg = v;
    break;
  case SHP_FIELD_TEMPERATURE_C:
    c->temperature_c = v;
    c->has_temperature = true;
    break;
  }
}

static gboolean check_index(ShpStackModel *self, guint i, GError **error) {
  if (self->stack != NULL && i < self->stack->crystal_count)
    return TRUE;
  return shp_gui_set_error(
      error, shp_error_set(SHP_ERR_INVALID, "no crystal %u (the stack has %u)",
                           i, shp_stack_model_get_count(self)));
}

gboolean shp_stack_model_set_value(ShpStackModel *self, guint i,
                                   ShpStackField field, double value,
                                   GError **error) {
  if (!check_index(self, i, error))
    return FALSE;
  int rc = check_value(i, field, value);
  if (rc != SHP_OK)
    return shp_gui_set_error(error, rc);
  store_value(&self->stack->crystals[i], field, value);
  edited(self, i);
  return TRUE;
}

gboolean shp_stack_model_set_text(ShpStackModel *self, guint i,
                                  ShpStackField field, const char *text,
                                  GError **error) {
  char *end;
  errno = 0;
  const char *start = text;
  while (g_ascii_isspace(*start))
    start++;
  /* g_ascii_strtod: a stack file's numbers do not follow the locale. */
  double v = g_ascii_strtod(start, &end);
  while (g_ascii_isspace(*end))
    end++;
  if (end == start || *end != '\0' || errno == ERANGE || !isfinite(v)) {
    if (!check_index(self, i, error))
      return FALSE;
    return shp_gui_set_error(
        error, shp_error_set(SHP_ERR_PARSE,
                             "crystals[%u].%s: expected a number, got \"%s\"",
                             i, field_key(field), text));
  }
  return shp_stack_model_set_value(self, i, field, v, error);
}

/* Give crystal i of s another material, checked as the reader checks one:
 * it must open and hold the pulse's wavelength. The material is loaded
 * through shp_stack_add_crystal (the stack keeps it) and the appended
 * crystal is folded back into slot i. */
static int swap_material(shp_stack *s, size_t i, const char *name) {
  size_t n = s->crystal_count;
  const shp_stack_crystal *c = &s->crystals[i];
  int rc = shp_stack_add_crystal(s, name, c->length_mm, c->azimuth_deg,
                                 c->temperature_c);
  if (rc != SHP_OK)
    return shp_error_prefix("crystals[%zu].material: ", i);
  shp_stack_crystal *added = &s->crystals[n];
  double lo, hi, l = s->pulse.center_wavelength_nm * 1e-3;
  shp_material_range_um(added->material, &lo, &hi);
  s->crystal_count = n;
  if (l < lo || l > hi) {
    rc = shp_error_set(SHP_ERR_RANGE,
                       "crystals[%zu].material: the pulse's %g nm is outside "
                       "%s's valid range %g to %g nm",
                       i, l * 1e3, shp_material_name(added->material), lo * 1e3,
                       hi * 1e3);
    free(added->material_name);
    return rc;
  }
  free(s->crystals[i].material_name);
  s->crystals[i].material_name = added->material_name;
  s->crystals[i].material = added->material;
  return SHP_OK;
}

gboolean shp_stack_model_set_material(ShpStackModel *self, guint i,
                                      const char *material, GError **error) {
  if (!check_index(self, i, error))
    return FALSE;
  if (g_strcmp0(self->stack->crystals[i].material_name, material) == 0)
    return TRUE;
  int rc = swap_material(self->stack, i, material);
  if (rc != SHP_OK)
    return shp_gui_set_error(error, rc);
  edited(self, i);
  return TRUE;
}

gboolean shp_stack_model_set_temperatures(ShpStackModel *self,
                                          const double *temperature_c, guint n,
                                          GError **error) {
  if (n != shp_stack_model_get_count(self))
    return shp_gui_set_error(
        error, shp_error_set(SHP_ERR_MISMATCH,
                             "%u temperatures for a stack of %u crystals", n,
                             shp_stack_model_get_count(self)));
  for (guint i = 0; i < n; i++) {
    int rc = check_value(i, SHP_FIELD_TEMPERATURE_C, temperature_c[i]);
    if (rc != SHP_OK)
      return shp_gui_set_error(error, rc);
  }
  for (guint i = 0; i < n; i++) {
    store_value(&self->stack->crystals[i], SHP_FIELD_TEMPERATURE_C,
                temperature_c[i]);
    sync_row(self, i);
  }
  self->modified = TRUE;
  g_signal_emit(self, signals[CHANGED], 0);
  return TRUE;
}

gboolean shp_stack_model_apply_calibration(ShpStackModel *self,
                                           const shp_calibration *cal,
                                           GError **error) {
  g_return_val_if_fail(self->stack != NULL && cal != NULL, FALSE);
  /* shp_calibration_apply checks every crystal before it changes one, so
   * the model's own stack takes it directly: refused, it is untouched. */
  int rc = shp_calibration_apply(cal, self->stack);
  if (rc != SHP_OK)
    return shp_gui_set_error(error, rc);
  /* The rows show no phases: nothing of them changed. */
  self->modified = TRUE;
  g_signal_emit(self, signals[CHANGED], 0);
  return TRUE;
}

shp_stack *shp_stack_model_dup_stack(ShpStackModel *self, GError **error) {
  const shp_stack *s = self->stack;
  g_return_val_if_fail(s != NULL && s->path != NULL, NULL);
  shp_stack *copy = shp_stack_load(s->path);
  if (copy == NULL) {
    shp_gui_set_error(error, shp_error_last());
    return NULL;
  }
  int rc = SHP_OK;
  if (copy->crystal_count != s->crystal_count)
    rc = shp_error_set(SHP_ERR_MISMATCH,
                       "%s: changed on disk: it now has %zu crystals, not %zu",
                       s->path, copy->crystal_count, s->crystal_count);
  for (size_t i = 0; rc == SHP_OK && i < s->crystal_count; i++) {
    const shp_stack_crystal *from = &s->crystals[i];
    if (strcmp(from->material_name, copy->crystals[i].material_name) != 0)
      rc = swap_material(copy, i, from->material_name);
    shp_stack_crystal *to = &copy->crystals[i];
    to->length_mm = from->length_mm;
    to->azimuth_deg = from->azimuth_deg;
    to->temperature_c = from->temperature_c;
    to->has_temperature = from->has_temperature;
    to->phase_offset_rad = from->phase_offset_rad;
    to->has_phase_offset = from->has_phase_offset;
    to->slope_correction_rad_per_k = from->slope_correction_rad_per_k;
    to->has_slope_correction = from->has_slope_correction;
  }
  if (rc != SHP_OK) {
    shp_gui_set_error(error, rc);
    shp_stack_free(copy);
    return NULL;
  }
  return copy;
}

/* ---- the lab's readings -------------------------------------------------- */

static ShpSettleState settle_of(const shp_oven_status *st, gboolean holding) {
  if (holding)
    return SHP_SETTLE_HOLDING;
  if (st == NULL || st->code != SHP_OK)
    return SHP_SETTLE_UNKNOWN;
  if (st->ramping)
    return SHP_SETTLE_RAMPING;
  if (st->settled)
    return SHP_SETTLE_SETTLED;
  double off = fabs(st->reading.actual_c - st->target_c);
  return off <= 0.05 ? SHP_SETTLE_STEADY : SHP_SETTLE_MOVING;
}

void shp_stack_model_set_oven(ShpStackModel *self, guint i,
                              const shp_oven_status *st, gboolean holding,
                              const char *fault) {
  if (i >= g_list_model_get_n_items(G_LIST_MODEL(self->rows)))
    return;
  ShpCrystalRow *row = g_list_model_get_item(G_LIST_MODEL(self->rows), i);
  gboolean ok = st != NULL && st->code == SHP_OK;
  shp_crystal_row_set_oven(row, ok ? st->reading.actual_c : NAN,
                           settle_of(st, holding), fault);
  g_object_unref(row);
}
