/* Writing small lab files for the hardware tests: four sim ovens on
 * examples/stacks/fan4.yml (limits 20..120 C, 6 K/min, settle 0.05 K for
 * 20 s), a sim autocorrelator, and a sim section on a manual clock with no
 * sensor noise and a 30 s time constant unless the caller's extra sim lines
 * say otherwise (speedup, sensor_noise_k, time_constant_s). */
#ifndef SHP_TEST_LABFILE_H
#define SHP_TEST_LABFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* |a - b| <= tol, printing both (cmocka before 1.1.6 has no double
 * assertion). Include after cmocka.h. */
#define assert_near(a, b, tol)                                                 \
  do {                                                                         \
    double a_ = (a), b_ = (b);                                                 \
    if (!(fabs(a_ - b_) <= (tol)))                                             \
      fail_msg("%s = %.17g, want %.17g within %g", #a, a_, b_, (double)(tol)); \
  } while (0)

/* Write text to a fresh temporary .yml file; returns its path (free it and
 * unlink it), or NULL. */
static inline char *lab_write_text(const char *text) {
  char *path = strdup("/tmp/shp-lab-XXXXXX.yml");
  int fd = path ? mkstemps(path, 4) : -1;
  if (fd < 0) {
    free(path);
    return NULL;
  }
  size_t n = strlen(text);
  if (write(fd, text, n) != (ssize_t)n) {
    close(fd);
    free(path);
    return NULL;
  }
  close(fd);
  return path;
}

static inline char *lab_write(const char *sim_lines) {
  char text[8192];
  const char *extra = sim_lines ? sim_lines : "";
  int len = snprintf(text, sizeof text,
                     "stack: %s/examples/stacks/fan4.yml\novens:\n",
                     SHP_SOURCE_DATADIR);
  for (int i = 0; i < 4; i++)
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "  - {driver: sim, connection: {kind: sim}, channel: %d, "
                    "min_c: 20.0, max_c: 120.0, max_ramp_k_per_min: 6.0, "
                    "settle_tolerance_k: 0.05, settle_time_s: 20.0}\n",
                    i);
  snprintf(text + len, sizeof text - (size_t)len,
           "autocorrelator:\n  driver: sim\n  connection: {kind: sim}\n"
           "  averages: 1\n"
           "  delay_calibration: {scale: 2.0, offset_ps: 0.5}\n"
           "sim:\n%s%s%s%s",
           strstr(extra, "speedup") ? "" : "  speedup: 0\n", extra,
           strstr(extra, "sensor_noise_k") ? "" : "  sensor_noise_k: 0\n",
           strstr(extra, "time_constant_s") ? "" : "  time_constant_s: 30\n");
  return lab_write_text(text);
}

#endif
