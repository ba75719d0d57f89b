/* The stack being worked on: a stack file loaded with the library's reader,
 * its crystals as ShpCrystalRow items for the stack view, and edits checked
 * as the reader checks a file, with the same messages (without the file and
 * line, since no file was typed): "crystals[1].length_mm: must be > 0, got
 * -3". No GTK: tests use it without a display. */
#ifndef SHP_STACK_MODEL_H
#define SHP_STACK_MODEL_H

#include "crystal-row.h"

#include "shp/calibration.h"
#include "shp/stack.h"
#include "shp/supervisor.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SHP_TYPE_STACK_MODEL (shp_stack_model_get_type())
G_DECLARE_FINAL_TYPE(ShpStackModel, shp_stack_model, SHP, STACK_MODEL, GObject)

/* The editable columns of a crystal. */
typedef enum {
  SHP_FIELD_LENGTH_MM,
  SHP_FIELD_AZIMUTH_DEG,
  SHP_FIELD_TEMPERATURE_C,
} ShpStackField;

ShpStackModel *shp_stack_model_new(void);

/* Read a stack file with shp_stack_load. On failure the model keeps what it
 * had and error carries the reader's message. Emits "changed". */
gboolean shp_stack_model_load(ShpStackModel *self, const char *path,
                              GError **error);
/* Write the stack, edits included, with shp_stack_save (atomic); the model
 * then belongs to that file. */
gboolean shp_stack_model_save(ShpStackModel *self, const char *path,
                              GError **error);

/* Borrowed; NULL before anything was loaded. Valid until the next load. */
const shp_stack *shp_stack_model_get_stack(ShpStackModel *self);
const char *shp_stack_model_get_path(ShpStackModel *self);
const char *shp_stack_model_get_name(ShpStackModel *self);
guint shp_stack_model_get_count(ShpStackModel *self);
/* The rows, a GListModel of ShpCrystalRow; borrowed, lives with the model
 * (a load replaces its items). */
GListModel *shp_stack_model_get_rows(ShpStackModel *self);
/* Edited since it was loaded or saved. */
gboolean shp_stack_model_is_modified(ShpStackModel *self);

/* A copy for a background task to own: the stack's file read again with
 * this model's values written over it. Returns NULL with error when the
 * file can no longer be read or no longer has the same crystals. Free with
 * shp_stack_free. */
shp_stack *shp_stack_model_dup_stack(ShpStackModel *self, GError **error);

/* Edits of crystal i. A value the reader would refuse is refused with its
 * message and the model is left as it was. Each emits "changed". */
gboolean shp_stack_model_set_value(ShpStackModel *self, guint i,
                                   ShpStackField field, double value,
                                   GError **error);
/* The same from text as typed: it must be a plain finite number. */
gboolean shp_stack_model_set_text(ShpStackModel *self, guint i,
                                  ShpStackField field, const char *text,
                                  GError **error);
/* A material name (calibrations/materials) or a path to a material file,
 * which must hold the pulse's wavelength. */
gboolean shp_stack_model_set_material(ShpStackModel *self, guint i,
                                      const char *material, GError **error);
/* Every crystal's temperature (an optimiser's result): n must be the count. */
gboolean shp_stack_model_set_temperatures(ShpStackModel *self,
                                          const double *temperature_c, guint n,
                                          GError **error);

/* Put a crystal-phase calibration into the stack (shp_calibration_apply):
 * the calibrated crystals' phase offsets and slope corrections, which
 * simulate and the copies of shp_stack_model_dup_stack then carry. A
 * calibration of another stack (a crystal's material or length differs)
 * is refused with the library's message and the stack is left as it was.
 * Emits "changed". */
gboolean shp_stack_model_apply_calibration(ShpStackModel *self,
                                           const shp_calibration *cal,
                                           GError **error);

/* The lab's view of crystal i's oven, shown in its row: st NULL when there
 * is no reading; holding when the supervisor has stopped; fault NULL when
 * none. Does not emit "changed" (the stack did not change). */
void shp_stack_model_set_oven(ShpStackModel *self, guint i,
                              const shp_oven_status *st, gboolean holding,
                              const char *fault);

G_END_DECLS

#endif
