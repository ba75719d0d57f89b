/* libFuzzer harness of the lab-file reader (shp_lab_load): ovens,
 * connections, the autocorrelator, the `sim:` section and, through the
 * safety supervisor, the drivers' option parsers and the simulated lab.
 *
 * Input layout: the whole input is the lab file, written to lab.yml in a
 * private directory beside stack.yml, examples/stacks/fan4.yml (four
 * crystals) on a small grid, so seeds name "stack: stack.yml".
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks:
 *  - a failure names the file: the message starts with the lab's path;
 *  - a lab that loads holds only values inside the bounds stated atop
 *    hardware/src/lab.c, and no two ovens on one channel of one device;
 *  - the supervisor opens it: every driver reads its options (the
 *    transports are wrapped to fail at once, so nothing real is opened),
 *    and an all-simulated lab then answers status, a setpoint, a few polls
 *    and one acquisition, on a manual clock so nothing waits.
 *
 * safe-open.c keeps the files the input names to regular files outside
 * /dev, /proc and /sys, so none can make a reader block or read forever. */
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/planning.h"
#include "shp/supervisor.h"
#include "shp/transport.h"
#include "shp/usbtmc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

shp_transport *__wrap_shp_transport_tty_open(const shp_connection *c,
                                             const shp_tty_options *o);
shp_transport *__wrap_shp_transport_tcp_open(const shp_connection *c);
int __wrap_shp_usbtmc_open(unsigned vendor, unsigned product,
                           const char *serial, double timeout_s,
                           shp_usbtmc **out);

/* No instrument is there: the drivers fail at their transport, after
 * reading their options. */
shp_transport *__wrap_shp_transport_tty_open(const shp_connection *c,
                                             const shp_tty_options *o) {
  (void)o;
  shp_error_set(SHP_ERR_NOT_FOUND, "%s: no such port (fuzzing)",
                c->port ? c->port : "tty");
  return NULL;
}

shp_transport *__wrap_shp_transport_tcp_open(const shp_connection *c) {
  (void)c;
  shp_error_set(SHP_ERR_IO, "tcp: refused (fuzzing)");
  return NULL;
}

int __wrap_shp_usbtmc_open(unsigned vendor, unsigned product,
                           const char *serial, double timeout_s,
                           shp_usbtmc **out) {
  (void)serial;
  (void)timeout_s;
  *out = NULL;
  return shp_error_set(SHP_ERR_NOT_FOUND, "usb %04x:%04x: no such device",
                       vendor, product);
}

static char dir[PATH_MAX], lab_path[PATH_MAX], stack_path[PATH_MAX];

static void remove_dir(void) {
  unlink(lab_path);
  unlink(stack_path);
  rmdir(dir);
}

static void write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
      fclose(f) != 0) {
    perror(path);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz_lab.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("fuzz_lab: mkdtemp");
    exit(1);
  }
  /* FFTW's measured plans would cost each acquisition a second. */
  shp_set_plan_effort(SHP_PLAN_ESTIMATE);
  snprintf(lab_path, sizeof lab_path, "%s/lab.yml", dir);
  snprintf(stack_path, sizeof stack_path, "%s/stack.yml", dir);
  atexit(remove_dir);
  /* examples/stacks/fan4.yml on a small grid, so that an acquisition of
   * the simulated lab takes milliseconds rather than a second. */
  static const char text[] = "name: fan4 on a small grid\n"
                             "pulse: {center_wavelength_nm: 1030.0, "
                             "fwhm_ps: 1.0, shape: gaussian}\n"
                             "grid: {points: 1024, window_ps: 64}\n"
                             "input_polarizer_deg: 0.0\n"
                             "output_polarizer_deg: 0.0\n"
                             "crystals:\n"
                             "- {material: alpha-BBO, length_mm: 2.465, "
                             "azimuth_deg: 11.25, temperature_c: 66.7432}\n"
                             "- {material: alpha-BBO, length_mm: 2.465, "
                             "azimuth_deg: 33.75, temperature_c: 66.7432}\n"
                             "- {material: alpha-BBO, length_mm: 2.465, "
                             "azimuth_deg: 56.25, temperature_c: 66.7432}\n"
                             "- {material: alpha-BBO, length_mm: 2.465, "
                             "azimuth_deg: 78.75, temperature_c: 66.7432}\n";
  size_t n = sizeof text - 1;
  write_file(stack_path, text, n);
  return 0;
}

#define require(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr,                                                          \
              "fuzz_lab: %s:%d: property failed: %s\nlast error: %s\n",        \
              __FILE__, __LINE__, #cond, shp_error_detail());                  \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static bool within(double v, double lo, double hi) {
  return v >= lo && v <= hi;
}

static bool same_string(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The bounds stated atop hardware/src/lab.c. */
static void require_bounded(const shp_lab *lab) {
  for (size_t i = 0; i < lab->oven_count; i++) {
    const shp_lab_oven *o = &lab->ovens[i];
    require(within(o->min_c, -50, 300) && within(o->max_c, -50, 300));
    require(o->max_c > o->min_c);
    require(within(o->max_ramp_k_per_min, 0.01, 100));
    require(within(o->settle_tolerance_k, 0.001, 5));
    require(within(o->settle_time_s, 0, 3600));
    require(within(o->channel, 0, 255));
    require(within(o->connection.timeout_s, 0.01, 120));
    require(within(o->connection.baud, 0, 4000000));
    require(within(o->connection.tcp_port, 0, 65535));
    for (size_t j = 0; j < i; j++) {
      const shp_lab_oven *p = &lab->ovens[j];
      require(!(p->driver == o->driver && p->channel == o->channel &&
                same_string(p->connection.kind, o->connection.kind) &&
                same_string(p->connection.port, o->connection.port) &&
                same_string(p->connection.host, o->connection.host) &&
                same_string(p->connection.serial, o->connection.serial) &&
                p->connection.tcp_port == o->connection.tcp_port &&
                p->connection.vendor == o->connection.vendor &&
                p->connection.product == o->connection.product));
    }
  }
  const shp_lab_autocorrelator *a = &lab->autocorrelator;
  require(a->averages >= 1 && a->averages <= 10000);
  require(within(fabs(a->delay_scale), 0.01, 100));
  require(within(a->delay_offset_ps, -1000, 1000));
  require(within(shp_lab_sim_speedup(lab), -1, 1e4));
}

/* Drive an all-simulated lab a little: every path stays bounded in time
 * because the clock is manual and only a few polls are made. */
static void exercise(shp_supervisor *sup, const shp_lab *lab) {
  for (size_t i = 0; i < lab->oven_count; i++) {
    shp_oven_status st;
    if (shp_supervisor_status(sup, i, &st) != SHP_OK)
      require(shp_error_detail()[0] != '\0');
  }
  const shp_lab_oven *o = &lab->ovens[0];
  (void)shp_supervisor_request(sup, 0, 0.5 * (o->min_c + o->max_c));
  for (int k = 0; k < 3; k++) {
    if (shp_supervisor_step(sup) != SHP_OK)
      break;
  }
  const shp_trace *tr;
  if (shp_supervisor_acquire(sup, 1, &tr) == SHP_OK) {
    require(tr->count >= 1 && tr->count <= tr->capacity);
    for (size_t k = 0; k < tr->count; k++)
      require(isfinite(tr->delay_ps[k]) && isfinite(tr->signal[k]));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_file(lab_path, data, size);
  shp_error_clear();
  shp_lab *lab = shp_lab_load(lab_path);
  if (lab == NULL) {
    const char *detail = shp_error_detail();
    size_t n = strlen(lab_path);
    require(shp_error_last() < 0);
    require(strncmp(detail, lab_path, n) == 0 && detail[n] == ':');
    return 0;
  }
  require_bounded(lab);
  shp_clock *clock = shp_clock_new_sim(0);
  require(clock != NULL);
  shp_error_clear();
  shp_supervisor *sup = shp_supervisor_open(lab, clock, NULL, NULL);
  if (sup == NULL)
    require(shp_error_last() < 0 && shp_error_detail()[0] != '\0');
  else if (shp_lab_sim_speedup(lab) >= 0)
    exercise(sup, lab);
  shp_supervisor_close(sup);
  shp_clock_free(clock);
  shp_lab_free(lab);
  return 0;
}
