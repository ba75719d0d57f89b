/* The stack as a table: one row per crystal with its material, length,
 * azimuth and temperature setpoint (editable; checked as the stack reader
 * checks a file) and its oven's actual temperature, settle state and fault.
 * A refused edit is reported through the "win.show-error" action with the
 * reader's message, and the cell goes back to the model's value. */
#ifndef SHP_STACK_VIEW_H
#define SHP_STACK_VIEW_H

#include "stack-model.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SHP_TYPE_STACK_VIEW (shp_stack_view_get_type())
G_DECLARE_FINAL_TYPE(ShpStackView, shp_stack_view, SHP, STACK_VIEW, GtkWidget)

void shp_stack_view_set_model(ShpStackView *self, ShpStackModel *model);
/* Rows the view shows (for tests). */
guint shp_stack_view_get_row_count(ShpStackView *self);

G_END_DECLS

#endif
