/* One crystal of the stack as the stack view shows it: what the stack file
 * says (material, length, azimuth, temperature setpoint) and what its oven
 * reports (actual temperature, settle state, fault). A plain object with
 * properties, so list widgets bind to it and tests read it without a
 * display. */
#ifndef SHP_CRYSTAL_ROW_H
#define SHP_CRYSTAL_ROW_H

#include <glib-object.h>

G_BEGIN_DECLS

#define SHP_TYPE_CRYSTAL_ROW (shp_crystal_row_get_type())
G_DECLARE_FINAL_TYPE(ShpCrystalRow, shp_crystal_row, SHP, CRYSTAL_ROW, GObject)

/* What the oven is doing, as the settle column shows it. */
typedef enum {
  SHP_SETTLE_UNKNOWN = 0, /* no lab, or not read yet */
  SHP_SETTLE_MOVING,      /* heading for its setpoint */
  SHP_SETTLE_RAMPING,     /* a software ramp is under way */
  SHP_SETTLE_SETTLED,     /* within tolerance for the settle time */
  SHP_SETTLE_STEADY,      /* at its setpoint, nothing requested */
  SHP_SETTLE_HOLDING,     /* the supervisor stopped: the oven holds */
} ShpSettleState;

ShpCrystalRow *shp_crystal_row_new(guint index);

guint shp_crystal_row_get_index(ShpCrystalRow *row);
const char *shp_crystal_row_get_material(ShpCrystalRow *row);
double shp_crystal_row_get_length_mm(ShpCrystalRow *row);
double shp_crystal_row_get_azimuth_deg(ShpCrystalRow *row);
double shp_crystal_row_get_setpoint_c(ShpCrystalRow *row);
/* NAN while no reading is known. */
double shp_crystal_row_get_actual_c(ShpCrystalRow *row);
ShpSettleState shp_crystal_row_get_settle(ShpCrystalRow *row);
/* A word for people: "settled", "ramping", "holding", ... ("" unknown). */
const char *shp_crystal_row_get_settle_text(ShpCrystalRow *row);
/* The fault on this crystal's oven, or NULL. */
const char *shp_crystal_row_get_fault(ShpCrystalRow *row);

/* Values from the stack; notifies only what changed. */
void shp_crystal_row_set_crystal(ShpCrystalRow *row, const char *material,
                                 double length_mm, double azimuth_deg,
                                 double setpoint_c);
/* Readings from the lab; fault may be NULL. */
void shp_crystal_row_set_oven(ShpCrystalRow *row, double actual_c,
                              ShpSettleState settle, const char *fault);

G_END_DECLS

#endif
