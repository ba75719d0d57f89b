#include "crystal-row.h"

#include <math.h>

struct _ShpCrystalRow {
  GObject parent_instance;
  guint index;
  char *material;
  double length_mm, azimuth_deg, setpoint_c, actual_c;
  ShpSettleState settle;
  char *fault;
};

G_DEFINE_FINAL_TYPE(ShpCrystalRow, shp_crystal_row, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_INDEX,
  PROP_MATERIAL,
  PROP_LENGTH_MM,
  PROP_AZIMUTH_DEG,
  PROP_SETPOINT_C,
  PROP_ACTUAL_C,
  PROP_SETTLE_TEXT,
  PROP_FAULT,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void shp_crystal_row_finalize(GObject *object) {
  ShpCrystalRow *self = SHP_CRYSTAL_ROW(object);
  g_free(self->material);
  g_free(self->fault);
  G_OBJECT_CLASS(shp_crystal_row_parent_class)->finalize(object);
}

static void shp_crystal_row_get_property(GObject *object, guint id,
                                         GValue *value, GParamSpec *pspec) {
  ShpCrystalRow *self = SHP_CRYSTAL_ROW(object);
  switch (id) {
  case PROP_INDEX:
    g_value_set_uint(value, self->index);
    break;
  case PROP_MATERIAL:
    g_value_set_string(value, self->material);
    break;
  case PROP_LENGTH_MM:
    g_value_set_double(value, self->length_mm);
    break;
  case PROP_AZIMUTH_DEG:
    g_value_set_double(value, self->azimuth_deg);
    break;
  case PROP_SETPOINT_C:
    g_value_set_double(value, self->setpoint_c);
    break;
  case PROP_ACTUAL_C:
    g_value_set_double(value, self->actual_c);
    break;
  case PROP_SETTLE_TEXT:
    g_value_set_string(value, shp_crystal_row_get_settle_text(self));
    break;
  case PROP_FAULT:
    g_value_set_string(value, self->fault);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void shp_crystal_row_class_init(ShpCrystalRowClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->finalize = shp_crystal_row_finalize;
  object_class->get_property = shp_crystal_row_get_property;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  props[PROP_INDEX] =
      g_param_spec_uint("index", NULL, NULL, 0, G_MAXUINT, 0, ro);
  props[PROP_MATERIAL] = g_param_spec_string("material", NULL, NULL, NULL, ro);
  props[PROP_LENGTH_MM] = g_param_spec_double("length-mm", NULL, NULL,
                                              -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  props[PROP_AZIMUTH_DEG] = g_param_spec_double(
      "azimuth-deg", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  props[PROP_SETPOINT_C] = g_param_spec_double(
      "setpoint-c", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  props[PROP_ACTUAL_C] = g_param_spec_double("actual-c", NULL, NULL,
                                             -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  props[PROP_SETTLE_TEXT] =
      g_param_spec_string("settle-text", NULL, NULL, NULL, ro);
  props[PROP_FAULT] = g_param_spec_string("fault", NULL, NULL, NULL, ro);
  g_object_class_install_properties(object_class, N_PROPS, props);
}

static void shp_crystal_row_init(ShpCrystalRow *self) { self->actual_c = NAN; }

ShpCrystalRow *shp_crystal_row_new(guint index) {
  ShpCrystalRow *row = g_object_new(SHP_TYPE_CRYSTAL_ROW, NULL);
  row->index = index;
  return row;
}

guint shp_crystal_row_get_index(ShpCrystalRow *row) { return row->index; }
const char *shp_crystal_row_get_material(ShpCrystalRow *row) {
  return row->material;
}
double shp_crystal_row_get_length_mm(ShpCrystalRow *row) {
  return row->length_mm;
}
double shp_crystal_row_get_azimuth_deg(ShpCrystalRow *row) {
  return row->azimuth_deg;
}
double shp_crystal_row_get_setpoint_c(ShpCrystalRow *row) {
  return row->setpoint_c;
}
double shp_crystal_row_get_actual_c(ShpCrystalRow *row) {
  return row->actual_c;
}
ShpSettleState shp_crystal_row_get_settle(ShpCrystalRow *row) {
  return row->settle;
}
const char *shp_crystal_row_get_fault(ShpCrystalRow *row) { return row->fault; }

const char *shp_crystal_row_get_settle_text(ShpCrystalRow *row) {
  switch (row->settle) {
  case SHP_SETTLE_MOVING:
    return "moving";
  case SHP_SETTLE_RAMPING:
    return "ramping";
  case SHP_SETTLE_SETTLED:
    return "settled";
  case SHP_SETTLE_STEADY:
    return "steady";
  case SHP_SETTLE_HOLDING:
    return "holding";
  case SHP_SETTLE_UNKNOWN:
    break;
  }
  return "";
}

/* Doubles compare exactly on purpose: a notify is due whenever the shown
 * value may differ; NAN equals NAN here. */
static gboolean same(double a, double b) {
  return a == b || (isnan(a) && isnan(b));
}

static void set_double(ShpCrystalRow *row, double *field, double v, int prop) {
  if (same(*field, v))
    return;
  *field = v;
  g_object_notify_by_pspec(G_OBJECT(row), props[prop]);
}

static void set_string(ShpCrystalRow *row, char **field, const char *v,
                       int prop) {
  if (g_strcmp0(*field, v) == 0)
    return;
  g_free(*field);
  *field = g_strdup(v);
  g_object_notify_by_pspec(G_OBJECT(row), props[prop]);
}

void shp_crystal_row_set_crystal(ShpCrystalRow *row, const char *material,
                                 double length_mm, double azimuth_deg,
                                 double setpoint_c) {
  g_object_freeze_notify(G_OBJECT(row));
  set_string(row, &row->material, material, PROP_MATERIAL);
  set_double(row, &row->length_mm, length_mm, PROP_LENGTH_MM);
  set_double(row, &row->azimuth_deg, azimuth_deg, PROP_AZIMUTH_DEG);
  set_double(row, &row->setpoint_c, setpoint_c, PROP_SETPOINT_C);
  g_object_thaw_notify(G_OBJECT(row));
}

void shp_crystal_row_set_oven(ShpCrystalRow *row, double actual_c,
                              ShpSettleState settle, const char *fault) {
  g_object_freeze_notify(G_OBJECT(row));
  set_double(row, &row->actual_c, actual_c, PROP_ACTUAL_C);
  if (row->settle != settle) {
    row->settle = settle;
    g_object_notify_by_pspec(G_OBJECT(row), props[PROP_SETTLE_TEXT]);
  }
  set_string(row, &row->fault, fault, PROP_FAULT);
  g_object_thaw_notify(G_OBJECT(row));
}
