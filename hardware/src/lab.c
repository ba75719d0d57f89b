/* Lab files: see shp/lab.h for the format.
 *
 * DESIGN-level bounds. Every number a lab file gives is checked against a
 * stated physical range before it is used (and before any cast to an
 * integer), and a value outside it is refused with "file:line: key: must
 * be from LO to HI, got V" (SHP_ERR_RANGE, exit 2). The ranges are wide
 * enough for every real lab and narrow enough that a typo or a hostile
 * file cannot disable a protection or make a run that never ends:
 *
 *   ovens[i].min_c, max_c          -50 .. 300 C, min_c < max_c (the
 *                                  supervisor's physical range)
 *   ovens[i].max_ramp_k_per_min    0.01 .. 100 K/min. Thermal shock cracks
 *       BBO: its expansion is strongly anisotropic (about 4e-6/K along a,
 *       36e-6/K along c), so a temperature gradient across a plate strains
 *       it, and crystal makers advise oven ramps of a few K/min. 100 K/min
 *       is already beyond any such advice (a larger value would disable the
 *       crack protection); below 0.01 K/min a 100 K move takes a week, so a
 *       run would in practice never end.
 *   ovens[i].settle_tolerance_k    0.001 .. 5 K (sensor resolution .. a
 *                                  band too wide to call settled)
 *   ovens[i].settle_time_s         0 .. 3600 s
 *   ovens[i].channel               a whole number 0 .. 255; no two ovens on
 *                                  one channel of one device
 *   connection.timeout_s           0.01 .. 120 s
 *   connection.baud                a whole number 1 .. 4000000
 *   connection.tcp_port            a whole number 1 .. 65535
 *   autocorrelator.averages        a whole number 1 .. 10000
 *   delay_calibration.scale        |scale| 0.01 .. 100 (the drivers report
 *                                  picoseconds already: this corrects them)
 *   delay_calibration.offset_ps    -1000 .. 1000 ps (a zero-delay error of
 *                                  more than 30 cm of path is no calibration)
 *
 * and for the `sim:` section (lab-sim.c): seed 0 .. 2^32-1, points 16 ..
 * 65536, noise 0 .. 1 and background 0 .. 10 (relative to the peak of 1),
 * scan_range_ps 0.1 .. 1000, scan_time_s 0 .. 60, time_constant_s 0.01 ..
 * 1e6, sensor_noise_k 0 .. 1, speedup 0 .. 10000, start_c -273.15 .. 1000
 * (beyond the supervisor's range on purpose, to exercise its checks),
 * phase offsets |v| <= 100 rad (sigma <= 10), azimuth errors |v| <= 45 deg
 * (sigma <= 10), length errors |v| <= 1000 um (sigma <= 100), slope errors
 * |v| <= 1 (sigma <= 1), fault times 0 .. 1e9 s.
 *
 * Drivers' options are bounded by the drivers (see their README files). */
#include "shp/lab.h"

#include "lab-sim.h"
#include "shp/error.h"
#include "shp/yamlfile.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifecycle ---------------------------------------------------------- */

void shp_lab_sim_free(shp_lab_sim *s) {
  if (s == NULL)
    return;
  free(s->phase_offset_rad.values);
  free(s->azimuth_error_deg.values);
  free(s->length_error_um.values);
  free(s->slope_error_rel.values);
  free(s->start_c);
  free(s->faults);
  free(s->state_path);
  free(s);
}

void shp_lab_free(shp_lab *lab) {
  if (lab == NULL)
    return;
  shp_lab_sim_free(lab->sim);
  shp_stack_free(lab->stack);
  free(lab->ovens);
  free(lab->stack_path);
  free(lab->path);
  shp_yaml_free(lab->yaml);
  free(lab);
}

double shp_lab_sim_speedup(const shp_lab *lab) {
  bool all_sim = strcmp(lab->autocorrelator.driver->name, "sim") == 0;
  for (size_t i = 0; i < lab->oven_count; i++)
    all_sim = all_sim && strcmp(lab->ovens[i].driver->name, "sim") == 0;
  if (!all_sim)
    return -1;
  return lab->sim ? lab->sim->speedup : 120.0;
}

/* The simulation's defaults: a realistic but quick lab. */
shp_lab_sim *shp_lab_sim_new(size_t n, const shp_stack *stack) {
  shp_lab_sim *s = calloc(1, sizeof *s);
  if (s == NULL || (s->start_c = calloc(n, sizeof *s->start_c)) == NULL) {
    free(s);
    return NULL;
  }
  s->seed = 1;
  s->phase_offset_rad.sigma = 0.3;
  s->azimuth_error_deg.sigma = 0.2;
  s->length_error_um.sigma = 0.5;
  s->noise = 0.01;
  s->scan_range_ps = 20.0;
  s->points = 512;
  s->scan_time_s = 0.1;
  s->time_constant_s = 20.0;
  s->sensor_noise_k = 0.005;
  s->speedup = 120.0;
  for (size_t i = 0; i < n; i++)
    s->start_c[i] = stack->crystals[i].temperature_c;
  return s;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
  shp_yaml *y;
  shp_lab *lab;
} reader;

static int range_fail(reader *r, yaml_node_t *map, const char *ctx,
                      const char *key, const char *what, double v) {
  return shp_yaml_fail_code(SHP_ERR_RANGE, r->y, shp_yaml_get(r->y, map, key),
                            ctx, key, "%s, got %g", what, v);
}

/* A required (or, with present != NULL, optional) number in [lo, hi]; with
 * integer, a whole number. *out is left alone when the key is absent and
 * holds the value read otherwise, so callers cast only after SHP_OK. */
static int bounded(reader *r, yaml_node_t *map, const char *ctx,
                   const char *key, double lo, double hi, bool integer,
                   double *out, bool *present) {
  double v = *out;
  int rc = present ? shp_yaml_number_opt(r->y, map, ctx, key, &v, present)
                   : shp_yaml_number(r->y, map, ctx, key, &v);
  if (rc != SHP_OK || (present && !*present))
    return rc;
  if (v >= lo && v <= hi && (!integer || v == floor(v))) {
    *out = v;
    return SHP_OK;
  }
  char what[96];
  snprintf(what, sizeof what, "must be %sfrom %g to %g",
           integer ? "a whole number " : "", lo, hi);
  return range_fail(r, map, ctx, key, what, v);
}

static const char *const connection_keys[] = {
    "kind",   "port", "baud",     "vendor",    "product",
    "serial", "host", "tcp_port", "timeout_s", NULL};

static int usb_id(reader *r, yaml_node_t *map, const char *ctx, const char *key,
                  unsigned *out) {
  const char *text = NULL;
  bool present;
  int rc = shp_yaml_string_opt(r->y, map, ctx, key, &text, &present);
  if (rc != SHP_OK || !present)
    return rc;
  char *end;
  unsigned long v = strtoul(text, &end, 0);
  if (end == text || *end != '\0' || v > 0xffff)
    return shp_yaml_fail(r->y, shp_yaml_get(r->y, map, key), ctx, key,
                         "expected a 16-bit USB id such as 0x1313, got \"%s\"",
                         text);
  *out = (unsigned)v;
  return SHP_OK;
}

static int connection_strings(reader *r, yaml_node_t *map, const char *ctx,
                              shp_connection *c) {
  static const char *const kinds[] = {"sim", "tty", "usb", "tcp", NULL};
  int rc = shp_yaml_string(r->y, map, ctx, "kind", &c->kind);
  if (rc != SHP_OK)
    return rc;
  bool known = false;
  for (const char *const *k = kinds; *k; k++)
    known = known || strcmp(*k, c->kind) == 0;
  if (!known)
    return shp_yaml_fail(r->y, shp_yaml_get(r->y, map, "kind"), ctx, "kind",
                         "expected sim, tty, usb or tcp, got \"%s\"", c->kind);
  if ((rc = shp_yaml_string_opt(r->y, map, ctx, "port", &c->port, NULL)) ||
      (rc = shp_yaml_string_opt(r->y, map, ctx, "serial", &c->serial, NULL)) ||
      (rc = shp_yaml_string_opt(r->y, map, ctx, "host", &c->host, NULL)))
    return rc;
  return SHP_OK;
}

static int read_connection(reader *r, yaml_node_t *parent, const char *pctx,
                           shp_connection *c) {
  char ctx[64];
  shp_yaml_key_name(ctx, sizeof ctx, pctx, "connection");
  yaml_node_t *map = shp_yaml_get(r->y, parent, "connection");
  if (map == NULL)
    return shp_yaml_fail(r->y, parent, pctx, "connection",
                         "missing required key");
  double baud = 0, port = 0;
  bool has;
  int rc = shp_yaml_check_keys(r->y, map, ctx, connection_keys);
  if (rc == SHP_OK)
    rc = connection_strings(r, map, ctx, c);
  if (rc == SHP_OK)
    rc = bounded(r, map, ctx, "baud", 1, 4000000, true, &baud, &has);
  if (rc == SHP_OK)
    rc = bounded(r, map, ctx, "tcp_port", 1, 65535, true, &port, &has);
  if (rc == SHP_OK)
    rc = usb_id(r, map, ctx, "vendor", &c->vendor);
  if (rc == SHP_OK)
    rc = usb_id(r, map, ctx, "product", &c->product);
  c->timeout_s = 2.0;
  if (rc == SHP_OK)
    rc = bounded(r, map, ctx, "timeout_s", 0.01, 120, false, &c->timeout_s,
                 &has);
  if (rc != SHP_OK)
    return rc;
  c->baud = (int)baud;
  c->tcp_port = (int)port;
  return SHP_OK;
}

static int read_driver(reader *r, yaml_node_t *map, const char *ctx,
                       unsigned role, const shp_driver **out) {
  const char *name;
  int rc = shp_yaml_string(r->y, map, ctx, "driver", &name);
  if (rc != SHP_OK)
    return rc;
  yaml_node_t *node = shp_yaml_get(r->y, map, "driver");
  const shp_driver *d = shp_hw_driver_find(name);
  if (d == NULL) {
    char known[256] = "";
    for (const shp_driver *const *k = shp_hw_drivers; *k; k++)
      if ((*k)->roles & role)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 known[0] ? ", " : "", (*k)->name);
    return shp_yaml_fail_code(SHP_ERR_NOT_FOUND, r->y, node, ctx, "driver",
                              "unknown driver \"%s\" (known: %s)", name, known);
  }
  if (!(d->roles & role))
    return shp_yaml_fail(r->y, node, ctx, "driver", "driver \"%s\" has no %s",
                         name,
                         role == SHP_ROLE_OVEN ? "ovens" : "autocorrelator");
  *out = d;
  return SHP_OK;
}

static yaml_node_t *options_of(reader *r, yaml_node_t *map) {
  return shp_yaml_get(r->y, map, "options");
}

static const char *const oven_keys[] = {"driver",
                                        "connection",
                                        "channel",
                                        "min_c",
                                        "max_c",
                                        "max_ramp_k_per_min",
                                        "settle_tolerance_k",
                                        "settle_time_s",
                                        "options",
                                        NULL};

static int oven_limits(reader *r, yaml_node_t *map, const char *ctx,
                       shp_lab_oven *o) {
  int rc;
  if ((rc = bounded(r, map, ctx, "min_c", -50, 300, false, &o->min_c, NULL)) ||
      (rc = bounded(r, map, ctx, "max_c", -50, 300, false, &o->max_c, NULL)))
    return rc;
  if (!(o->max_c > o->min_c))
    return range_fail(r, map, ctx, "max_c", "must be greater than min_c",
                      o->max_c);
  if ((rc = bounded(r, map, ctx, "max_ramp_k_per_min", 0.01, 100, false,
                    &o->max_ramp_k_per_min, NULL)) ||
      (rc = bounded(r, map, ctx, "settle_tolerance_k", 0.001, 5, false,
                    &o->settle_tolerance_k, NULL)) ||
      (rc = bounded(r, map, ctx, "settle_time_s", 0, 3600, false,
                    &o->settle_time_s, NULL)))
    return rc;
  return SHP_OK;
}

static int read_oven(reader *r, yaml_node_t *map, size_t i) {
  char ctx[32];
  snprintf(ctx, sizeof ctx, "ovens[%zu]", i);
  shp_lab_oven *o = &r->lab->ovens[i];
  double channel = 0;
  int rc = shp_yaml_check_keys(r->y, map, ctx, oven_keys);
  if (rc == SHP_OK)
    rc = read_driver(r, map, ctx, SHP_ROLE_OVEN, &o->driver);
  if (rc == SHP_OK)
    rc = read_connection(r, map, ctx, &o->connection);
  /* Checked as a double first: a cast of 1e300 to int is undefined. */
  if (rc == SHP_OK)
    rc = bounded(r, map, ctx, "channel", 0, 255, true, &channel, NULL);
  if (rc == SHP_OK)
    o->channel = (int)channel;
  if (rc == SHP_OK)
    rc = oven_limits(r, map, ctx, o);
  o->options = options_of(r, map);
  return rc;
}

static bool same_string(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* One device, as the supervisor shares devices: the same driver on the
 * same connection (the baud and timeout do not make another device). */
static bool same_device(const shp_lab_oven *a, const shp_lab_oven *b) {
  const shp_connection *p = &a->connection, *q = &b->connection;
  return a->driver == b->driver && same_string(p->kind, q->kind) &&
         same_string(p->port, q->port) && same_string(p->host, q->host) &&
         same_string(p->serial, q->serial) && p->tcp_port == q->tcp_port &&
         p->vendor == q->vendor && p->product == q->product;
}

/* Two ovens on one channel of one device would be one heater driven
 * toward two setpoints, each watched against another crystal's limits. */
static int check_channels(reader *r, yaml_node_t *seq) {
  const shp_lab *lab = r->lab;
  for (size_t j = 1; j < lab->oven_count; j++)
    for (size_t i = 0; i < j; i++)
      if (lab->ovens[i].channel == lab->ovens[j].channel &&
          same_device(&lab->ovens[i], &lab->ovens[j])) {
        char ctx[32];
        snprintf(ctx, sizeof ctx, "ovens[%zu]", j);
        yaml_node_t *map = shp_yaml_seq_item(r->y, seq, j);
        return shp_yaml_fail_code(
            SHP_ERR_RANGE, r->y, shp_yaml_get(r->y, map, "channel"), ctx,
            "channel",
            "ovens[%zu] and ovens[%zu] are both channel %d of one %s device", i,
            j, lab->ovens[j].channel, lab->ovens[j].driver->name);
      }
  return SHP_OK;
}

static int read_ovens(reader *r, yaml_node_t *root) {
  yaml_node_t *seq = shp_yaml_get(r->y, root, "ovens");
  if (seq == NULL)
    return shp_yaml_fail(r->y, root, "", "ovens", "missing required key");
  int rc = shp_yaml_expect_sequence(r->y, seq, "", "ovens");
  if (rc != SHP_OK)
    return rc;
  size_t n = shp_yaml_seq_count(seq), want = r->lab->stack->crystal_count;
  if (n != want)
    return shp_yaml_fail(r->y, seq, "", "ovens",
                         "expected %zu entries, one per crystal of %s, got %zu",
                         want, r->lab->stack_path, n);
  r->lab->ovens = calloc(n, sizeof *r->lab->ovens);
  if (r->lab->ovens == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  r->lab->oven_count = n;
  for (size_t i = 0; i < n && rc == SHP_OK; i++)
    rc = read_oven(r, shp_yaml_seq_item(r->y, seq, i), i);
  return rc == SHP_OK ? check_channels(r, seq) : rc;
}

static const char *const ac_keys[] = {
    "driver", "connection", "averages", "delay_calibration", "options", NULL};
static const char *const cal_keys[] = {"scale", "offset_ps", NULL};

static int read_calibration(reader *r, yaml_node_t *map,
                            shp_lab_autocorrelator *a) {
  const char *ctx = "autocorrelator.delay_calibration";
  a->delay_scale = 1.0;
  a->delay_offset_ps = 0.0;
  yaml_node_t *cal = shp_yaml_get(r->y, map, "delay_calibration");
  if (cal == NULL)
    return SHP_OK;
  int rc = shp_yaml_check_keys(r->y, cal, ctx, cal_keys);
  if (rc == SHP_OK)
    rc = shp_yaml_number(r->y, cal, ctx, "scale", &a->delay_scale);
  /* A reversed delay axis is a real wiring, so the sign is free. */
  double mag = fabs(a->delay_scale);
  if (rc == SHP_OK && !(mag >= 0.01 && mag <= 100))
    rc = range_fail(r, cal, ctx, "scale",
                    "must be from 0.01 to 100 in magnitude", a->delay_scale);
  bool has;
  if (rc == SHP_OK)
    rc = bounded(r, cal, ctx, "offset_ps", -1000, 1000, false,
                 &a->delay_offset_ps, &has);
  return rc;
}

static int read_autocorrelator(reader *r, yaml_node_t *root) {
  const char *ctx = "autocorrelator";
  shp_lab_autocorrelator *a = &r->lab->autocorrelator;
  yaml_node_t *map = shp_yaml_get(r->y, root, ctx);
  if (map == NULL)
    return shp_yaml_fail(r->y, root, "", ctx, "missing required key");
  double averages = 1;
  bool has;
  int rc = shp_yaml_check_keys(r->y, map, ctx, ac_keys);
  if (rc == SHP_OK)
    rc = read_driver(r, map, ctx, SHP_ROLE_AUTOCORRELATOR, &a->driver);
  if (rc == SHP_OK)
    rc = read_connection(r, map, ctx, &a->connection);
  if (rc == SHP_OK)
    rc = bounded(r, map, ctx, "averages", 1, 10000, true, &averages, &has);
  if (rc == SHP_OK)
    a->averages = (size_t)averages;
  if (rc == SHP_OK)
    rc = read_calibration(r, map, a);
  a->options = options_of(r, map);
  return rc;
}

/* A path relative to the directory of the file that names it. */
static int sibling_path(char *buf, size_t size, const char *base,
                        const char *rel) {
  const char *slash = strrchr(base, '/');
  int n = rel[0] == '/' || slash == NULL
              ? snprintf(buf, size, "%s", rel)
              : snprintf(buf, size, "%.*s/%s", (int)(slash - base), base, rel);
  return n >= 0 && (size_t)n < size ? SHP_OK : SHP_ERR_INVALID;
}

static int read_stack_file(reader *r, yaml_node_t *root) {
  const char *rel;
  int rc = shp_yaml_string(r->y, root, "", "stack", &rel);
  if (rc != SHP_OK)
    return rc;
  char path[PATH_MAX];
  yaml_node_t *node = shp_yaml_get(r->y, root, "stack");
  if (sibling_path(path, sizeof path, r->lab->path, rel) != SHP_OK)
    return shp_yaml_fail(r->y, node, "", "stack", "path too long");
  if ((r->lab->stack_path = strdup(path)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  r->lab->stack = shp_stack_load(path);
  if (r->lab->stack == NULL)
    return shp_error_prefix("%s:%d: stack: ", r->lab->path,
                            shp_yaml_line(node));
  return SHP_OK;
}

static const char *const top_keys[] = {"stack", "ovens", "autocorrelator",
                                       "sim", NULL};

static int read_lab(reader *r) {
  yaml_node_t *root = shp_yaml_root(r->y);
  int rc = shp_yaml_check_keys(r->y, root, "", top_keys);
  if (rc == SHP_OK)
    rc = read_stack_file(r, root);
  if (rc == SHP_OK)
    rc = read_ovens(r, root);
  if (rc == SHP_OK)
    rc = read_autocorrelator(r, root);
  yaml_node_t *sim = shp_yaml_get(r->y, root, "sim");
  if (rc != SHP_OK || sim == NULL)
    return rc;
  size_t n = r->lab->oven_count;
  if ((r->lab->sim = shp_lab_sim_new(n, r->lab->stack)) == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "out of memory");
  return shp_lab_read_sim(r->y, sim, r->lab->sim, n);
}

shp_lab *shp_lab_load(const char *path) {
  shp_lab *lab = calloc(1, sizeof *lab);
  if (lab == NULL || (lab->path = strdup(path)) == NULL) {
    free(lab);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  if ((lab->yaml = shp_yaml_load(path)) == NULL) {
    shp_lab_free(lab);
    return NULL;
  }
  reader r = {.y = lab->yaml, .lab = lab};
  if (read_lab(&r) != SHP_OK) {
    shp_lab_free(lab);
    return NULL;
  }
  return lab;
}

/* ---- the built-in lab ---------------------------------------------------- */

shp_lab *shp_lab_default_sim(const char *stack_path) {
  shp_lab *lab = calloc(1, sizeof *lab);
  if (lab == NULL || (lab->stack_path = strdup(stack_path)) == NULL ||
      (lab->stack = shp_stack_load(stack_path)) == NULL) {
    if (lab != NULL && lab->stack_path == NULL)
      shp_error_set(SHP_ERR_NOMEM, "out of memory");
    shp_lab_free(lab);
    return NULL;
  }
  size_t n = lab->stack->crystal_count;
  const shp_driver *sim = shp_hw_driver_find("sim");
  lab->ovens = calloc(n, sizeof *lab->ovens);
  lab->sim = shp_lab_sim_new(n, lab->stack);
  if (lab->ovens == NULL || lab->sim == NULL) {
    shp_lab_free(lab);
    shp_error_set(SHP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  lab->oven_count = n;
  shp_connection conn = {.kind = "sim", .timeout_s = 2.0};
  for (size_t i = 0; i < n; i++)
    lab->ovens[i] = (shp_lab_oven){.driver = sim,
                                   .connection = conn,
                                   .channel = (int)i,
                                   .min_c = 15.0,
                                   .max_c = 150.0,
                                   .max_ramp_k_per_min = 10.0,
                                   .settle_tolerance_k = 0.05,
                                   .settle_time_s = 10.0};
  lab->autocorrelator = (shp_lab_autocorrelator){
      .driver = sim, .connection = conn, .averages = 4, .delay_scale = 1.0};
  return lab;
}
