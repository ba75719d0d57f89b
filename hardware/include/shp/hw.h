/* The hardware layer's device model: ovens and autocorrelators, the drivers
 * that speak to them, and the clock they live on.
 *
 * A driver is one const table of functions (libsigrok style: see STYLE.md),
 * registered in shp_hw_drivers. A driver opens a device from a connection
 * and the driver's own options (the lab file's mapping for that device);
 * the device then answers for one or more oven channels and/or an
 * autocorrelator. Every call that talks to an instrument has a timeout and
 * returns SHP_ERR_TIMEOUT, SHP_ERR_DISCONNECTED or SHP_ERR_PROTOCOL rather
 * than waiting or guessing.
 *
 * Nothing here decides whether a setpoint is safe: only the safety
 * supervisor (supervisor.h) calls oven_set, after checking it. */
#ifndef SHP_HW_H
#define SHP_HW_H

#include "shp/yamlfile.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the clock ---------------------------------------------------------- */

/* Real time, or a simulated clock that runs faster than real time (speedup
 * > 1) or only when told (speedup 0: sleeping advances it at once), so tests
 * and demos can run hours of thermal settling in seconds. */
typedef struct shp_clock shp_clock;

shp_clock *shp_clock_new_real(void);
shp_clock *shp_clock_new_sim(double speedup);
void shp_clock_free(shp_clock *c);
bool shp_clock_is_sim(const shp_clock *c);
/* Seconds since the clock was made. */
double shp_clock_now_s(shp_clock *c);
/* Wait (or advance a simulated clock by) seconds. */
void shp_clock_sleep_s(shp_clock *c, double seconds);

/* ---- devices ------------------------------------------------------------ */

enum { SHP_ROLE_OVEN = 1u << 0, SHP_ROLE_AUTOCORRELATOR = 1u << 1 };

/* What an oven channel reports. */
typedef struct {
  double setpoint_c;
  double actual_c;
  bool output_on;
  bool has_ramp; /* the instrument ramps by itself */
  double ramp_k_per_min;
  bool fault; /* the instrument reports a fault */
  char fault_text[128];
} shp_oven_reading;

/* An autocorrelation trace: delay axis (ps) and signal, count samples, in
 * caller-provided arrays of capacity samples. A driver reports the
 * instrument's own, uncalibrated delay axis; the supervisor applies the lab
 * file's delay calibration (scale and offset). */
typedef struct {
  size_t capacity, count;
  double *delay_ps;
  double *signal;
} shp_trace;

typedef struct shp_device shp_device; /* driver-private */

/* Where a device is: the lab file's `connection` mapping. */
typedef struct {
  const char *kind;         /* "sim", "tty", "usb", "tcp" */
  const char *port;         /* tty: /dev/ttyUSB0 */
  int baud;                 /* tty */
  unsigned vendor, product; /* usb */
  const char *serial;       /* usb, optional */
  const char *host;         /* tcp */
  int tcp_port;             /* tcp */
  double timeout_s;         /* every exchange; default 2 s */
} shp_connection;

/* What a driver is given to open a device. */
typedef struct {
  const shp_connection *connection;
  shp_clock *clock;        /* borrowed, outlives the device */
  shp_yaml *yaml;          /* the lab file, for driver options */
  yaml_node_t *options;    /* the driver's mapping in it, or NULL */
  const char *options_ctx; /* its key path for messages */
  const void *lab;         /* the shp_lab being opened (sim: the stack) */
} shp_device_config;

typedef struct shp_driver {
  const char *name;
  const char *description;
  unsigned roles;
  /* Returns SHP_OK and *dev, or an error with its message. */
  int (*open)(const shp_device_config *cfg, shp_device **dev);
  void (*close)(shp_device *dev);
  /* Ovens. */
  int (*oven_read)(shp_device *dev, int channel, shp_oven_reading *r);
  int (*oven_set)(shp_device *dev, int channel, double setpoint_c);
  /* The instrument's own ramp, or NULL when it has none. */
  int (*oven_set_ramp)(shp_device *dev, int channel, double k_per_min);
  /* Hold: keep the present setpoint and output state as they are. Must not
   * toggle anything (a TC200's "ens" is a toggle). */
  int (*oven_hold)(shp_device *dev, int channel);
  /* Autocorrelator: acquire one trace averaged over averages scans. */
  int (*acquire)(shp_device *dev, size_t averages, shp_trace *trace);
} shp_driver;

/* The registry, NULL-terminated, and lookup by name (NULL if unknown). */
extern const shp_driver *const shp_hw_drivers[];
const shp_driver *shp_hw_driver_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
