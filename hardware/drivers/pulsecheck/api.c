/* The pulsecheck driver's table: an A.P.E pulseCheck-style scanning
 * autocorrelator speaking SCPI over TCP. protocol.c is the exchange; the
 * codec is hardware/protocols/scpi. README.md here lists the options, the
 * commands and where each comes from. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/scpi.h"
#include "shp/yamlfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ------------------------------------------------------------ */

static const char *const option_keys[] = {
    "firmware",        "trace_query",      "trace_format",
    "block_type",      "byte_order",       "layout",
    "delay_unit",      "scan_range_query", "scan_range_unit",
    "scan_range_ps",   "error_query",      "instrument_averages",
    "scan_interval_s", "line_end",         NULL};

typedef struct {
  const shp_device_config *cfg;
  char ctx[64]; /* "autocorrelator.options" */
} reader;

static yaml_node_t *node_of(const reader *r, const char *key) {
  return shp_yaml_get(r->cfg->yaml, r->cfg->options, key);
}

/* An optional key whose value is one of choices; *index is left alone when
 * the key is absent. *present may be NULL. */
static int choice(const reader *r, const char *key, const char *const *choices,
                  int *index, bool *present) {
  const char *text;
  bool has = false;
  int rc = r->cfg->options == NULL
               ? SHP_OK
               : shp_yaml_string_opt(r->cfg->yaml, r->cfg->options, r->ctx, key,
                                     &text, &has);
  if (present != NULL)
    *present = has;
  if (rc != SHP_OK || !has)
    return rc;
  char expected[128] = "";
  size_t n = 0;
  for (int i = 0; choices[i] != NULL; i++) {
    if (strcmp(choices[i], text) == 0) {
      *index = i;
      return SHP_OK;
    }
    n++;
  }
  for (size_t i = 0; i < n; i++)
    snprintf(expected + strlen(expected), sizeof expected - strlen(expected),
             "%s%s",
             i == 0       ? ""
             : i + 1 == n ? " or "
                          : ", ",
             choices[i]);
  return shp_yaml_fail(r->cfg->yaml, node_of(r, key), r->ctx, key,
                       "expected %s, got \"%s\"", expected, text);
}

/* An optional SCPI command or query: printable, short enough to send. */
static int command(const reader *r, const char *key, char *out, size_t size,
                   bool *present) {
  const char *text;
  char scratch[PULSECHECK_COMMAND_MAX + 4];
  bool has = false;
  int rc = r->cfg->options == NULL
               ? SHP_OK
               : shp_yaml_string_opt(r->cfg->yaml, r->cfg->options, r->ctx, key,
                                     &text, &has);
  if (present != NULL)
    *present = has;
  if (rc != SHP_OK || !has)
    return rc;
  if (strlen(text) + 2 >= size ||
      shp_proto_scpi_encode_command(scratch, sizeof scratch, text) < 0)
    return shp_yaml_fail(r->cfg->yaml, node_of(r, key), r->ctx, key,
                         "must be 1 to %zu printable characters", size - 3);
  snprintf(out, size, "%s", text);
  return SHP_OK;
}

/* An optional number in (0, hi], or [0, hi] when zero_ok. */
static int number(const reader *r, const char *key, bool zero_ok, double hi,
                  double *out, bool *present) {
  bool has = false;
  int rc = r->cfg->options == NULL
               ? SHP_OK
               : shp_yaml_number_opt(r->cfg->yaml, r->cfg->options, r->ctx, key,
                                     out, &has);
  if (present != NULL)
    *present = has;
  if (rc != SHP_OK || !has)
    return rc;
  if ((zero_ok ? !(*out >= 0) : !(*out > 0)) || *out > hi)
    return shp_yaml_fail_code(SHP_ERR_RANGE, r->cfg->yaml, node_of(r, key),
                              r->ctx, key, "must be %s 0 and <= %g, got %g",
                              zero_ok ? ">=" : ">", hi, *out);
  return SHP_OK;
}

/* A key that only makes sense with another setting. */
static int only_with(const reader *r, const char *key, bool present, bool ok,
                     const char *setting) {
  if (!present || ok)
    return SHP_OK;
  return shp_yaml_fail(r->cfg->yaml, node_of(r, key), r->ctx, key,
                       "only used with %s", setting);
}

enum { FW_NX, FW_PULSELINK };
static const char *const firmwares[] = {"nx", "pulselink", NULL};
static const char *const formats[] = {"block", "ascii", NULL};
static const char *const block_types[] = {"float32", "float64", NULL};
static const char *const byte_orders[] = {"little", "big", NULL};
static const char *const layouts[] = {"pairs", "signal", NULL};
static const char *const line_ends[] = {"crlf", "lf", NULL};
static const char *const units[] = {"fs", "ps", "ns", "s", NULL};
static const double unit_ps[] = {1e-3, 1.0, 1e3, 1e12};

/* The scan range's options, which only layout: signal uses. */
static int read_scan_range(const reader *r, pulsecheck_options *o) {
  bool has_query, has_unit, has_fixed;
  int unit = 0; /* fs */
  bool signal = o->layout == PULSECHECK_SIGNAL;
  const char *with = "layout: signal";
  int rc = command(r, "scan_range_query", o->scan_range_query,
                   sizeof o->scan_range_query, &has_query);
  if (rc == SHP_OK)
    rc = choice(r, "scan_range_unit", units, &unit, &has_unit);
  if (rc == SHP_OK)
    rc = number(r, "scan_range_ps", false, 1e6, &o->scan_range_ps, &has_fixed);
  /* A scan narrower than 10 fs holds no pulse this toolkit shapes, and a
   * denormal span would make a delay axis of zeros. */
  if (rc == SHP_OK && has_fixed && o->scan_range_ps < 0.01)
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, r->cfg->yaml, node_of(r, "scan_range_ps"), r->ctx,
        "scan_range_ps", "must be >= 0.01 and <= %g, got %g", 1e6,
        o->scan_range_ps);
  if (rc == SHP_OK)
    rc = only_with(r, "scan_range_query", has_query, signal, with);
  if (rc == SHP_OK)
    rc = only_with(r, "scan_range_ps", has_fixed, signal, with);
  if (rc == SHP_OK)
    rc = only_with(r, "scan_range_unit", has_unit, has_query,
                   "scan_range_query");
  if (rc != SHP_OK)
    return rc;
  if (signal && has_query == has_fixed)
    return shp_yaml_fail(r->cfg->yaml, node_of(r, "layout"), r->ctx, "layout",
                         "signal needs either scan_range_query or "
                         "scan_range_ps");
  o->scan_range_to_ps = unit_ps[unit];
  return SHP_OK;
}

/* The defaults of the firmware, then each option that overrides them. */
static int read_options(const shp_device_config *cfg, pulsecheck_options *o) {
  reader r = {.cfg = cfg};
  shp_yaml_key_name(r.ctx, sizeof r.ctx, cfg->options_ctx, "options");
  int fw = FW_NX, format = 0, type, order = 0, layout = 0, end = 0, unit = 1;
  bool has_type, has_order;
  double interval = 0.2;
  int rc = cfg->options == NULL ? SHP_OK
                                : shp_yaml_check_keys(cfg->yaml, cfg->options,
                                                      r.ctx, option_keys);
  if (rc == SHP_OK)
    rc = choice(&r, "firmware", firmwares, &fw, NULL);
  if (rc == SHP_OK && cfg->options != NULL)
    rc =
        shp_yaml_bool_opt(cfg->yaml, cfg->options, r.ctx, "instrument_averages",
                          &o->instrument_averages, NULL);
  if (rc != SHP_OK)
    return rc;
  /* NX: CALCULATE:DATA:ALL?, float32 pairs; pulseLink: :ACF:DATA? (raw)
   * or :ACF:DACF? (as displayed, averaged), float64 pairs. */
  type = fw == FW_NX ? 0 : 1;
  snprintf(o->trace_query, sizeof o->trace_query, "%s",
           fw == FW_NX              ? "CALCULATE:DATA:ALL?"
           : o->instrument_averages ? ":ACF:DACF?"
                                    : ":ACF:DATA?");
  if ((rc = command(&r, "trace_query", o->trace_query, sizeof o->trace_query,
                    NULL)) ||
      (rc = choice(&r, "trace_format", formats, &format, NULL)) ||
      (rc = choice(&r, "block_type", block_types, &type, &has_type)) ||
      (rc = choice(&r, "byte_order", byte_orders, &order, &has_order)) ||
      (rc = choice(&r, "layout", layouts, &layout, NULL)) ||
      (rc = choice(&r, "delay_unit", units, &unit, NULL)) ||
      (rc = choice(&r, "line_end", line_ends, &end, NULL)) ||
      (rc = command(&r, "error_query", o->error_query, sizeof o->error_query,
                    NULL)) ||
      (rc = number(&r, "scan_interval_s", true, 60.0, &interval, NULL)))
    return rc;
  o->format = format == 0 ? PULSECHECK_BLOCK : PULSECHECK_ASCII;
  o->block_width = type == 0 ? 4 : 8;
  o->big_endian = order == 1;
  o->layout = layout == 0 ? PULSECHECK_PAIRS : PULSECHECK_SIGNAL;
  o->delay_to_ps = unit_ps[unit];
  o->line_end = end == 0 ? "\r\n" : "\n";
  o->scan_interval_s = interval;
  bool block = o->format == PULSECHECK_BLOCK;
  if ((rc = only_with(&r, "block_type", has_type, block,
                      "trace_format: block")) ||
      (rc = only_with(&r, "byte_order", has_order, block,
                      "trace_format: block")))
    return rc;
  return read_scan_range(&r, o);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void pulsecheck_close(shp_device *d) {
  if (d == NULL)
    return;
  shp_transport_close(d->io);
  free(d->raw);
  free(d->values);
  free(d);
}

/* Room for the largest trace of SHP_TRACE_MAX points in the configured
 * form: two values a point for pairs, one for signal only. */
static int alloc_buffers(shp_device *d) {
  size_t per_point = d->opt.layout == PULSECHECK_PAIRS ? 2 : 1;
  d->values_cap = SHP_TRACE_MAX * per_point;
  d->raw_size = d->values_cap * (d->opt.format == PULSECHECK_BLOCK
                                     ? d->opt.block_width
                                     : PULSECHECK_ASCII_BYTES_PER_VALUE);
  d->values = malloc(d->values_cap * sizeof *d->values);
  d->raw = malloc(d->raw_size);
  if (d->values == NULL || d->raw == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "pulsecheck: out of memory");
  return SHP_OK;
}

/* Errors left from before this connection would trip the first
 * acquisition; read them away (at most 32). */
static int drain_errors(shp_device *d) {
  const char *msg;
  size_t n, msg_len;
  int code = 0;
  if (d->opt.error_query[0] == '\0')
    return SHP_OK;
  for (int i = 0; i < 32; i++) {
    int rc = pulsecheck_query_line(d, d->opt.error_query, &n);
    if (rc != SHP_OK)
      return rc;
    if (shp_proto_scpi_decode_error(d->line, n, &code, &msg, &msg_len) !=
        SHP_OK)
      return shp_error_prefix("%s: %s: ", shp_transport_name(d->io),
                              d->opt.error_query);
    if (code == 0)
      return SHP_OK;
  }
  return shp_error_set(SHP_ERR_PROTOCOL,
                       "%s: %s: still reports errors after 32 reads (last "
                       "%d)",
                       shp_transport_name(d->io), d->opt.error_query, code);
}

static int pulsecheck_open(const shp_device_config *cfg, shp_device **out) {
  const shp_connection *c = cfg->connection;
  if (c->kind == NULL || strcmp(c->kind, "tcp") != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "pulsecheck: needs a tcp connection (kind: tcp, "
                         "host, tcp_port), got kind \"%s\"",
                         c->kind ? c->kind : "");
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL)
    return shp_error_set(SHP_ERR_NOMEM, "pulsecheck: out of memory");
  d->clock = cfg->clock;
  int rc = read_options(cfg, &d->opt);
  if (rc == SHP_OK)
    rc = alloc_buffers(d);
  if (rc == SHP_OK && (d->io = shp_transport_tcp_open(c)) == NULL)
    rc = shp_error_last();
  /* The identity proves an SCPI instrument answers at this address. */
  if (rc == SHP_OK && (rc = pulsecheck_query_line(d, "*IDN?", NULL)) == SHP_OK)
    snprintf(d->idn, sizeof d->idn, "%s", d->line);
  if (rc == SHP_OK)
    rc = drain_errors(d);
  if (rc != SHP_OK) {
    pulsecheck_close(d);
    return rc;
  }
  *out = d;
  return SHP_OK;
}

/* ---- acquisition -------------------------------------------------------- */

/* One scan's points, delay (ps) and signal, from d->values. */
typedef struct {
  size_t count;
  const double *delay; /* NULL: computed from the scan range */
  const double *signal;
  size_t stride;
  double range_ps;
} scan;

static double scan_delay(const shp_device *d, const scan *s, size_t k) {
  if (s->delay != NULL)
    return s->delay[k * s->stride] * d->opt.delay_to_ps;
  /* A signal-only trace spans the scan range centred on zero delay. */
  return ((double)k - 0.5 * (double)(s->count - 1)) * s->range_ps /
         (double)(s->count - 1);
}

static int scan_of(shp_device *d, size_t n, double range_ps, scan *s) {
  const char *port = shp_transport_name(d->io), *q = d->opt.trace_query;
  if (d->opt.layout == PULSECHECK_PAIRS) {
    if (n % 2 != 0)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: %s: %zu values, not delay and signal pairs",
                           port, q, n);
    *s = (scan){.count = n / 2,
                .delay = d->values,
                .signal = d->values + 1,
                .stride = 2};
  } else {
    *s = (scan){
        .count = n, .signal = d->values, .stride = 1, .range_ps = range_ps};
  }
  if (s->count < 2)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: a trace of %zu point%s, at least 2 needed",
                         port, q, s->count, s->count == 1 ? "" : "s");
  return SHP_OK;
}

/* Whether the delays rise (true) or fall, strictly; anything else is not
 * a scan. */
static int scan_direction(shp_device *d, const scan *s, bool *rising) {
  double first = scan_delay(d, s, 0), second = scan_delay(d, s, 1);
  *rising = second > first;
  for (size_t k = 1; k < s->count; k++) {
    double a = scan_delay(d, s, k - 1), b = scan_delay(d, s, k);
    if (*rising ? !(b > a) : !(b < a))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: %s: the delay axis is not monotonic at point "
                           "%zu (%g ps after %g ps)",
                           shp_transport_name(d->io), d->opt.trace_query, k, b,
                           a);
  }
  return SHP_OK;
}

/* Store the first scan, or add a later one after checking that it has the
 * same delay axis. The trace is kept in rising delay. */
static int take_scan(shp_device *d, const scan *s, size_t index, shp_trace *t) {
  const char *port = shp_transport_name(d->io), *q = d->opt.trace_query;
  bool rising;
  if (s->count > t->capacity)
    return shp_error_set(SHP_ERR_RANGE, "%s: %s: %zu points, room for %zu",
                         port, q, s->count, t->capacity);
  int rc = scan_direction(d, s, &rising);
  if (rc != SHP_OK)
    return rc;
  if (index > 0 && s->count != t->count)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: scan %zu has %zu points, the first had %zu",
                         port, q, index + 1, s->count, t->count);
  double span = fabs(scan_delay(d, s, s->count - 1) - scan_delay(d, s, 0));
  for (size_t k = 0; k < s->count; k++) {
    size_t j = rising ? k : s->count - 1 - k;
    double delay = scan_delay(d, s, k), signal = s->signal[k * s->stride];
    if (index == 0) {
      t->delay_ps[j] = delay;
      t->signal[j] = signal;
    } else if (fabs(delay - t->delay_ps[j]) > 1e-9 * span) {
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: %s: the delay axis changed between scans "
                           "(point %zu: %g ps, first scan %g ps)",
                           port, q, j, delay, t->delay_ps[j]);
    } else {
      t->signal[j] += signal;
    }
  }
  t->count = s->count;
  return SHP_OK;
}

static int scan_range(shp_device *d, double *range_ps) {
  double v;
  *range_ps = d->opt.scan_range_ps;
  if (d->opt.layout != PULSECHECK_SIGNAL || d->opt.scan_range_query[0] == '\0')
    return SHP_OK;
  int rc = pulsecheck_query_number(d, d->opt.scan_range_query, &v);
  if (rc != SHP_OK)
    return rc;
  *range_ps = v * d->opt.scan_range_to_ps;
  if (!(*range_ps > 0))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: scan range %g, expected > 0",
                         shp_transport_name(d->io), d->opt.scan_range_query, v);
  return SHP_OK;
}

/* averages scans, one after the other scan_interval_s apart, averaged here;
 * or, when the instrument averages, its one averaged trace. */
static int pulsecheck_acquire(shp_device *d, size_t averages, shp_trace *t) {
  size_t scans = d->opt.instrument_averages || averages == 0 ? 1 : averages;
  double range_ps;
  t->count = 0;
  int rc = scan_range(d, &range_ps);
  for (size_t i = 0; i < scans && rc == SHP_OK; i++) {
    size_t n = 0;
    scan s = {0};
    if (i > 0 && d->opt.scan_interval_s > 0 && d->clock != NULL)
      shp_clock_sleep_s(d->clock, d->opt.scan_interval_s);
    rc = pulsecheck_query_trace(d, &n);
    if (rc == SHP_OK)
      rc = pulsecheck_check_error(d, d->opt.trace_query);
    if (rc == SHP_OK)
      rc = scan_of(d, n, range_ps, &s);
    if (rc == SHP_OK)
      rc = take_scan(d, &s, i, t);
  }
  if (rc != SHP_OK) {
    t->count = 0;
    return rc;
  }
  for (size_t k = 0; k < t->count; k++) {
    t->signal[k] /= (double)scans;
    if (!isfinite(t->signal[k]))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: %s: the averaged signal overflows at point %zu",
                           shp_transport_name(d->io), d->opt.trace_query, k);
  }
  return SHP_OK;
}

const shp_driver shp_driver_pulsecheck = {
    .name = "pulsecheck",
    .description = "A.P.E pulseCheck-style autocorrelator (SCPI over TCP)",
    .roles = SHP_ROLE_AUTOCORRELATOR,
    .open = pulsecheck_open,
    .close = pulsecheck_close,
    .oven_read = NULL,
    .oven_set = NULL,
    .oven_set_ramp = NULL,
    .oven_hold = NULL,
    .acquire = pulsecheck_acquire,
};
