/* The scope-ac driver's exchanges: set up the waveform transfer, trigger a
 * scan, read its preamble and IEEE 488.2 block, scale and average. See
 * README.md here for the command set, its sources and the assumptions. */
#include "protocol.h"

#include "drivers.h"

#include "shp/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A :WAV:DATA? answer: "#9" and nine length digits, two bytes a sample, a
 * final LF, and room to spare. */
#define RAW_CAP (2u * SCOPE_AC_POINTS_MAX + 16u)

/* A DS1000Z sends at most 250000 BYTE points per :WAV:DATA? (ds1054z's
 * max_byte_len; the DS1000Z-E guide's batch example, 125000 WORD points). */
_Static_assert(SCOPE_AC_POINTS_MAX <= 250000,
               "a Rigol scan must fit one :WAV:DATA? read");

static const char *name_of(const shp_device *d) {
  return shp_usbtmc_name(d->io);
}

static int check_errors(shp_device *d, const char *after) {
  return shp_usb_scpi_check_errors(d->io, after);
}

/* ---- opening -------------------------------------------------------------
 */

/* The manufacturer field of *IDN? must match the flavour: the two scale
 * their samples by different formulas, so a wrong flavour would give wrong
 * volts without any error. */
static int identify(shp_device *d) {
  static const char *const keysight[] = {"KEYSIGHT TECHNOLOGIES",
                                         "AGILENT TECHNOLOGIES", NULL};
  static const char *const rigol[] = {"RIGOL TECHNOLOGIES", NULL};
  char reply[SCOPE_AC_REPLY_MAX], ex[80];
  size_t len = 0;
  int rc = shp_usb_scpi_query(d->io, "*IDN?", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  bool is_keysight = d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT;
  const char *const *makers = is_keysight ? keysight : rigol;
  const char *comma = memchr(reply, ',', len);
  size_t n = comma ? (size_t)(comma - reply) : 0;
  for (const char *const *m = makers; comma && *m; m++)
    if (strlen(*m) == n && strncasecmp(reply, *m, n) == 0)
      return SHP_OK;
  return shp_error_set(SHP_ERR_PROTOCOL,
                       "%s: *IDN? answered \"%s\": not a %s oscilloscope "
                       "(options.flavour: %s)",
                       name_of(d), shp_usb_excerpt(ex, reply, len),
                       is_keysight ? "Keysight/Agilent" : "Rigol",
                       is_keysight ? "keysight" : "rigol");
}

/* The waveform transfer, once: source channel, BYTE or WORD, unsigned
 * samples most significant byte first (Keysight; a Rigol is read in BYTE
 * only: its ADC has 8 bits and no source read here settles the byte order
 * of its WORD), the screen record
 * (:WAV:POIN:MODE NORM, :WAV:MODE NORM) and, unless the scope averages,
 * single-shot acquisitions (:ACQ:TYPE NORM). */
static int setup(shp_device *d) {
  char cmd[7][48];
  int n = 0;
  const char *format = d->opt.format == 1 ? "WORD" : "BYTE";
  snprintf(cmd[n++], sizeof cmd[0], ":WAV:SOUR CHAN%d", d->opt.channel);
  if (d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT) {
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:FORM %s", format);
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:BYT MSBF");
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:UNS 1");
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:POIN:MODE NORM");
  } else {
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:MODE NORM");
    snprintf(cmd[n++], sizeof cmd[0], ":WAV:FORM %s", format);
  }
  if (!d->opt.scope_averages)
    snprintf(cmd[n++], sizeof cmd[0], ":ACQ:TYPE NORM");
  for (int i = 0; i < n; i++) {
    int rc = shp_usb_scpi_write(d->io, cmd[i]);
    if (rc != SHP_OK)
      return rc;
  }
  return check_errors(d, "setting up the waveform transfer");
}

int scope_ac_device_new(shp_usbtmc *io, shp_clock *clock, double timeout_s,
                        const scope_ac_options *opt, shp_device **out) {
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_usbtmc_close(io);
    return shp_error_set(SHP_ERR_NOMEM, "scope-ac: out of memory");
  }
  if (opt->flavour == SHP_PROTO_SCPI_WAVEFORM_RIGOL && opt->format != 0) {
    shp_usbtmc_close(io);
    free(d);
    return shp_error_set(SHP_ERR_INVALID,
                         "scope-ac: a Rigol is read in BYTE only (README, A5)");
  }
  d->io = io;
  d->clock = clock;
  d->timeout_s = timeout_s;
  d->opt = *opt;
  d->raw_cap = RAW_CAP;
  d->raw = malloc(RAW_CAP);
  d->volts = malloc(SCOPE_AC_POINTS_MAX * sizeof *d->volts);
  d->sum = malloc(SCOPE_AC_POINTS_MAX * sizeof *d->sum);
  int rc = d->raw && d->volts && d->sum
               ? SHP_OK
               : shp_error_set(SHP_ERR_NOMEM, "scope-ac: out of memory");
  if (rc == SHP_OK)
    rc = identify(d);
  if (rc == SHP_OK)
    rc = setup(d);
  if (rc != SHP_OK) {
    scope_ac_device_free(d);
    return rc;
  }
  *out = d;
  return SHP_OK;
}

void scope_ac_device_free(shp_device *d) {
  if (d == NULL)
    return;
  shp_usbtmc_close(d->io);
  free(d->raw);
  free(d->volts);
  free(d->sum);
  free(d);
}

/* ---- one scan -------------------------------------------------------------
 */

/* Keysight: :DIGitize acquires one record (averaged, when the scope
 * averages) and *OPC? answers once it is complete, so the wait is the
 * query's own timeout. */
static int digitize_keysight(shp_device *d) {
  char cmd[32], reply[SCOPE_AC_REPLY_MAX];
  size_t len = 0;
  double done;
  snprintf(cmd, sizeof cmd, ":DIG CHAN%d", d->opt.channel);
  int rc = shp_usb_scpi_write(d->io, cmd);
  if (rc == SHP_OK)
    rc = shp_usb_scpi_query(d->io, "*OPC?", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_scpi_decode_number(reply, len, &done) != SHP_OK)
    return shp_error_prefix("%s: *OPC?: ", name_of(d));
  if (done != 1.0)
    return shp_error_set(SHP_ERR_PROTOCOL, "%s: *OPC? answered %g, not 1",
                         name_of(d), done);
  return SHP_OK;
}

/* Rigol: one :TRIG:STAT? answer, line end stripped, into reply; *stop is
 * set when it is STOP. Any answer but STOP, TD, WAIT, RUN and AUTO is a
 * protocol error. */
static int trigger_status(shp_device *d, char *reply, size_t size, bool *stop) {
  static const char *const running[] = {"TD", "WAIT", "RUN", "AUTO", NULL};
  char ex[80];
  size_t len = 0;
  int rc = shp_usb_scpi_query(d->io, ":TRIG:STAT?", reply, size, &len);
  if (rc != SHP_OK)
    return rc;
  while (len > 0 && (reply[len - 1] == '\n' || reply[len - 1] == '\r'))
    reply[--len] = '\0';
  *stop = strcmp(reply, "STOP") == 0;
  bool known = *stop;
  for (const char *const *w = running; *w; w++)
    known = known || strcmp(reply, *w) == 0;
  if (!known)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: :TRIG:STAT? answered \"%s\", expected STOP, "
                         "TD, WAIT, RUN or AUTO",
                         name_of(d), shp_usb_excerpt(ex, reply, len));
  return SHP_OK;
}

/* Rigol: :SINGle arms one acquisition; :TRIGger:STATus? reads STOP once it
 * is complete (TD, WAIT, RUN or AUTO before). The status may still read
 * STOP from the previous acquisition right after :SING (a public DS1000Z
 * script waits a moment after :SINGle before polling), so the driver first
 * waits for it to leave STOP, then for STOP again: a STOP that never leaves
 * is an error, never the previous record taken for a new one. Both phases
 * poll on the lab clock every SCOPE_AC_POLL_S within one timeout. */
static int single_rigol(shp_device *d) {
  char reply[SCOPE_AC_REPLY_MAX];
  bool stop = true, armed = false;
  int rc = shp_usb_scpi_write(d->io, ":SING");
  if (rc != SHP_OK)
    return rc;
  double deadline = shp_clock_now_s(d->clock) + d->timeout_s;
  for (;;) {
    if ((rc = trigger_status(d, reply, sizeof reply, &stop)) != SHP_OK)
      return rc;
    armed = armed || !stop;
    if (armed && stop)
      return SHP_OK;
    if (shp_clock_now_s(d->clock) >= deadline)
      break;
    shp_clock_sleep_s(d->clock, SCOPE_AC_POLL_S);
  }
  if (!armed)
    return shp_error_set(SHP_ERR_TIMEOUT,
                         "%s: the trigger status stayed STOP for %g s after "
                         ":SING (the scope did not arm; no new acquisition)",
                         name_of(d), d->timeout_s);
  return shp_error_set(SHP_ERR_TIMEOUT,
                       "%s: no complete acquisition within %g s (trigger "
                       "status %s)",
                       name_of(d), d->timeout_s, reply);
}

static int read_preamble(shp_device *d, shp_proto_scpi_preamble *pre) {
  char reply[SCOPE_AC_REPLY_MAX];
  size_t len = 0;
  int rc = shp_usb_scpi_query(d->io, ":WAV:PRE?", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_scpi_decode_preamble(reply, len, pre) != SHP_OK)
    return shp_error_prefix("%s: :WAV:PRE?: ", name_of(d));
  return SHP_OK;
}

/* The preamble must describe what was set up and asked for: the format, the
 * acquisition (Keysight: type 0 normal, or 2 average with the count asked
 * for; Rigol: waveform mode 0 normal) and a sample count that fits. */
static int check_preamble(shp_device *d, const shp_proto_scpi_preamble *pre,
                          size_t averages) {
  bool keysight = d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT;
  bool averaged = d->opt.scope_averages && averages > 1;
  int want_type = averaged ? 2 : 0;
  if (pre->format != d->opt.format)
    return shp_error_set(
        SHP_ERR_PROTOCOL, "%s: :WAV:PRE? gives format %d, but %s was set up",
        name_of(d), pre->format, d->opt.format == 1 ? "WORD (1)" : "BYTE (0)");
  if (pre->type != want_type)
    return shp_error_set(
        SHP_ERR_PROTOCOL, "%s: :WAV:PRE? gives %s %d, expected %d", name_of(d),
        keysight ? "acquisition type" : "waveform mode", pre->type, want_type);
  if (averaged && pre->count != averages)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: :WAV:PRE? gives %u averages, %zu were set",
                         name_of(d), (unsigned)pre->count, averages);
  if (pre->points == 0 || pre->points > SCOPE_AC_POINTS_MAX)
    return shp_error_set(
        SHP_ERR_PROTOCOL, "%s: :WAV:PRE? gives %u points (must be 1..%u)",
        name_of(d), (unsigned)pre->points, (unsigned)SCOPE_AC_POINTS_MAX);
  return SHP_OK;
}

/* :WAV:DATA?: one definite-length block, with at most a final LF after it,
 * holding exactly the preamble's points. A Rigol reads the points from
 * :WAV:STAR to :WAV:STOP, which need not be the whole record (they stay as
 * last set, by another program too), so both are set to the preamble's
 * count first, as ds1054z does; one read suffices (SCOPE_AC_POINTS_MAX is
 * below the 250000 BYTE points a DS1000Z sends at most per read). */
static int read_block(shp_device *d, const shp_proto_scpi_preamble *pre,
                      const uint8_t **data, size_t *data_len) {
  size_t len = 0, consumed;
  int rc = SHP_OK;
  if (d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_RIGOL) {
    char cmd[32];
    snprintf(cmd, sizeof cmd, ":WAV:STOP %u", (unsigned)pre->points);
    rc = shp_usb_scpi_write(d->io, ":WAV:STAR 1");
    if (rc == SHP_OK)
      rc = shp_usb_scpi_write(d->io, cmd);
  }
  if (rc == SHP_OK)
    rc = shp_usb_scpi_write(d->io, ":WAV:DATA?");
  if (rc == SHP_OK)
    rc = shp_usbtmc_read(d->io, d->raw, d->raw_cap, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_ieee4882_block_parse(d->raw, len, data, data_len, &consumed) !=
      SHP_OK)
    return shp_error_prefix("%s: :WAV:DATA?: ", name_of(d));
  if (len - consumed > 1 || (len > consumed && d->raw[consumed] != '\n'))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: :WAV:DATA?: %zu bytes after the block",
                         name_of(d), len - consumed);
  size_t width = pre->format == 1 ? 2 : 1;
  if (*data_len != (size_t)pre->points * width)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: :WAV:DATA?: a block of %zu bytes, the preamble "
                         "announces %u points of %zu bytes",
                         name_of(d), *data_len, (unsigned)pre->points, width);
  return SHP_OK;
}

/* One acquisition, its preamble and its samples in volts in d->volts. */
static int scan(shp_device *d, size_t averages, shp_proto_scpi_preamble *pre) {
  const uint8_t *data;
  size_t data_len;
  int rc = d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT
               ? digitize_keysight(d)
               : single_rigol(d);
  if (rc == SHP_OK)
    rc = read_preamble(d, pre);
  if (rc == SHP_OK)
    rc = check_preamble(d, pre, averages);
  if (rc == SHP_OK)
    rc = read_block(d, pre, &data, &data_len);
  if (rc != SHP_OK)
    return rc;
  /* Keysight: unsigned, most significant byte first as set up; a Rigol is
   * read in BYTE only (the flag is then unused). */
  bool msb_first = d->opt.flavour == SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT;
  if (shp_proto_scpi_scale_samples(pre, d->opt.flavour, msb_first, data,
                                   data_len, d->volts,
                                   SCOPE_AC_POINTS_MAX) != SHP_OK)
    return shp_error_prefix("%s: :WAV:DATA?: ", name_of(d));
  return SHP_OK;
}

/* ---- a trace ---------------------------------------------------------------
 */

/* Keysight's own averaging: :ACQ:TYPE AVER with :ACQ:COUN n (2..65536), or
 * NORM for one scan; sent only when the count changes. */
static int set_scope_averaging(shp_device *d, size_t averages) {
  if (averages == d->scope_count)
    return SHP_OK;
  if (averages > 65536)
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: %zu averages, the scope takes at most 65536",
                         name_of(d), averages);
  char cmd[48];
  int rc;
  if (averages == 1) {
    rc = shp_usb_scpi_write(d->io, ":ACQ:TYPE NORM");
  } else {
    snprintf(cmd, sizeof cmd, ":ACQ:COUN %zu", averages);
    rc = shp_usb_scpi_write(d->io, ":ACQ:TYPE AVER");
    if (rc == SHP_OK)
      rc = shp_usb_scpi_write(d->io, cmd);
  }
  if (rc == SHP_OK)
    rc = check_errors(d, "setting the scope's averaging");
  if (rc == SHP_OK)
    d->scope_count = averages;
  return rc;
}

static bool same_time_base(const shp_proto_scpi_preamble *a,
                           const shp_proto_scpi_preamble *b) {
  return a->points == b->points && a->x_increment_s == b->x_increment_s &&
         a->x_origin_s == b->x_origin_s && a->x_reference == b->x_reference;
}

int scope_ac_acquire(shp_device *d, size_t averages, shp_trace *trace) {
  shp_proto_scpi_preamble first = {0}, pre;
  if (averages == 0)
    return shp_error_set(SHP_ERR_INVALID, "%s: 0 averages", name_of(d));
  size_t scans = d->opt.scope_averages ? 1 : averages, n = 0;
  int rc = d->opt.scope_averages ? set_scope_averaging(d, averages) : SHP_OK;
  for (size_t k = 0; k < scans && rc == SHP_OK; k++) {
    if ((rc = scan(d, averages, &pre)) != SHP_OK)
      break;
    if (k == 0) {
      first = pre;
      n = pre.points;
      if (n > trace->capacity)
        return shp_error_set(SHP_ERR_RANGE,
                             "%s: a scan of %zu points, the trace holds %zu",
                             name_of(d), n, trace->capacity);
      memset(d->sum, 0, n * sizeof *d->sum);
    } else if (!same_time_base(&first, &pre)) {
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: the time base changed between scans 1 and "
                           "%zu (%u points from %g s by %g s, then %u from "
                           "%g s by %g s)",
                           name_of(d), k + 1, (unsigned)first.points,
                           first.x_origin_s, first.x_increment_s,
                           (unsigned)pre.points, pre.x_origin_s,
                           pre.x_increment_s);
    }
    for (size_t i = 0; i < n; i++)
      d->sum[i] += d->volts[i];
  }
  if (rc == SHP_OK)
    rc = check_errors(d, "acquiring the trace");
  if (rc != SHP_OK)
    return rc;
  /* The scope's time axis, in seconds, maps to the autocorrelator's delay
   * by its scan calibration: delay_ps = delay_ps_per_ms * t_ms. */
  for (size_t i = 0; i < n; i++) {
    double t_ms = 1e3 * shp_proto_scpi_sample_time_s(&first, i);
    trace->delay_ps[i] = d->opt.delay_ps_per_ms * t_ms;
    trace->signal[i] = d->sum[i] / (double)scans;
  }
  trace->count = n;
  return SHP_OK;
}
