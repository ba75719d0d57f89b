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

#endif
