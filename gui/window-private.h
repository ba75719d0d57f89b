/* What window.c, window-files.c and window-tasks.c share. */
#ifndef SHP_WINDOW_PRIVATE_H
#define SHP_WINDOW_PRIVATE_H

#include "metrics-view.h"
#include "plot-view.h"
#include "run-controller.h"
#include "stack-view.h"
#include "window.h"

struct _ShpWindow {
  GtkApplicationWindow parent_instance;

  /* Template children. */
  GtkRevealer *error_revealer; /* the message bar: an error, or news */
  GtkWidget *message_bar;
  GtkImage *message_icon;
  GtkLabel *error_label;
  GtkLabel *stack_title, *stack_path, *lab_label, *target_label;
  GtkLabel *status_label;
  GtkProgressBar *progress;
  GtkButton *run_button, *calibrate_button;
  ShpStackView *stack_view;
  ShpMetricsView *metrics_view;
  ShpPlotView *plot_intensity, *plot_ac, *plot_spectrum, *plot_temperature;
  GMenu *recent_menu;

  /* Models. */
  ShpStackModel *stack;
  ShpPlotModel *plots;
  ShpLabState *lab;
  ShpRunController *run;
  char *target_path;
  gboolean message_is_error; /* what the message bar shows */

  /* Background work. */
  guint pending;
  guint sim_generation;
  guint sim_idle;
  GCancellable *optimize_cancel;
  gboolean optimizing;
};

/* window.c */
void shp_window_show_error(ShpWindow *self, const char *message);
/* News in the message bar, styled as such: not an error. */
void shp_window_show_info(ShpWindow *self, const char *message);
void shp_window_set_status(ShpWindow *self, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
void shp_window_update_labels(ShpWindow *self);
void shp_window_update_actions(ShpWindow *self);
void shp_window_task_begin(ShpWindow *self);
void shp_window_task_end(ShpWindow *self);

/* window-files.c */
void shp_window_files_class_init(GtkWidgetClass *widget_class);
void shp_window_refresh_recent(ShpWindow *self);

/* window-tasks.c */
void shp_window_tasks_class_init(GtkWidgetClass *widget_class);
/* Simulate the stack as it is now, soon (coalesced). */
void shp_window_queue_simulate(ShpWindow *self);
void shp_window_measure(ShpWindow *self);

#endif
