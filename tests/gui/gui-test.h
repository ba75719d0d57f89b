/* Helpers of the GUI tests: waiting on the main loop with a deadline. */
#ifndef SHP_GUI_TEST_H
#define SHP_GUI_TEST_H

#include <gio/gio.h>
#include <math.h>

/* |a - b| <= tol, printing both. Include after cmocka.h. */
#define assert_near(a, b, tol)                                                 \
  do {                                                                         \
    double a_ = (a), b_ = (b);                                                 \
    if (!(fabs(a_ - b_) <= (tol)))                                             \
      fail_msg("%s = %.17g, want %.17g within %g", #a, a_, b_, (double)(tol)); \
  } while (0)

static gboolean gui_test_tick(gpointer data) { return G_SOURCE_CONTINUE; }

/* Run the main loop until cond(data) holds or seconds pass; returns
 * whether it held. A ticking source keeps the loop from blocking for
 * good. */
static inline gboolean gui_test_wait(gboolean (*cond)(gpointer), gpointer data,
                                     double seconds) {
  gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
  guint tick = g_timeout_add(10, gui_test_tick, NULL);
  gboolean ok;
  while (!(ok = cond(data)) && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(tick);
  return ok;
}

/* A lab file in dir: the built-in simulated lab (shp_lab_default_sim) on
 * the stack of n crystals at stack_path, but on a manual clock (speedup
 * 0), so that the ovens' ramps and settling take no real time. NULL when
 * it cannot be written; else free with g_free. */
static inline char *
gui_test_write_manual_time_lab(const char *dir, const char *stack_path, int n) {
  GString *text = g_string_new(NULL);
  g_string_append_printf(text, "stack: %s\novens:\n", stack_path);
  for (int i = 0; i < n; i++)
    g_string_append_printf(
        text,
        "  - {driver: sim, connection: {kind: sim}, channel: %d, min_c: 15.0,\n"
        "     max_c: 150.0, max_ramp_k_per_min: 10.0, "
        "settle_tolerance_k: 0.05,\n"
        "     settle_time_s: 10.0}\n",
        i);
  g_string_append(text, "autocorrelator: {driver: sim, connection: {kind: "
                        "sim}, averages: 4}\n"
                        "sim: {speedup: 0}\n");
  char *path = g_build_filename(dir, "manual-time-lab.yml", NULL);
  if (!g_file_set_contents(path, text->str, -1, NULL))
    g_clear_pointer(&path, g_free);
  g_string_free(text, TRUE);
  return path;
}

#endif
