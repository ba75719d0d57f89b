/* The lab's clock: real (CLOCK_MONOTONIC) or simulated. A simulated clock
 * with speedup s > 0 runs s times faster than real time, so a sleep of x
 * simulated seconds waits x / s real seconds; with speedup 0 it only moves
 * when slept on, which makes tests of hours of settling take no time. */
#include "shp/hw.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct shp_clock {
  bool sim;
  double speedup;
  double start_real_s;
  double manual_s; /* speedup 0: the simulated time */
};

static double monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void real_sleep(double seconds) {
  if (!(seconds > 0))
    return;
  struct timespec ts = {.tv_sec = (time_t)seconds};
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static shp_clock *clock_new(bool sim, double speedup) {
  shp_clock *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->sim = sim;
  c->speedup = speedup;
  c->start_real_s = monotonic_s();
  return c;
}

shp_clock *shp_clock_new_real(void) { return clock_new(false, 1.0); }

shp_clock *shp_clock_new_sim(double speedup) {
  return clock_new(true, speedup > 0 ? speedup : 0.0);
}

void shp_clock_free(shp_clock *c) { free(c); }

bool shp_clock_is_sim(const shp_clock *c) { return c->sim; }

double shp_clock_now_s(shp_clock *c) {
  if (c->sim && c->speedup == 0)
    return c->manual_s;
  return (monotonic_s() - c->start_real_s) * c->speedup;
}

void shp_clock_sleep_s(shp_clock *c, double seconds) {
  if (!(seconds > 0))
    return;
  if (c->sim && c->speedup == 0)
    c->manual_s += seconds;
  else
    real_sleep(seconds / c->speedup);
}
