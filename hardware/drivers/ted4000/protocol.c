/* The TED4000 driver's exchanges: SCPI queries and commands over USBTMC.
 * See README.md here for the command set, its sources and the assumptions. */
#include "protocol.h"

#include "drivers.h"

#include "shp/error.h"
#include "shp/proto/scpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int query_number(shp_usbtmc *c, const char *text, double *value) {
  char reply[TED4000_REPLY_MAX];
  size_t len = 0;
  int rc = shp_usb_scpi_query(c, text, reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_scpi_decode_number(reply, len, value) != SHP_OK)
    return shp_error_prefix("%s: %s: ", shp_usbtmc_name(c), text);
  return SHP_OK;
}

/* A number that must be a whole number from lo to hi. */
static int query_whole(shp_usbtmc *c, const char *text, double lo, double hi,
                       unsigned *value) {
  double v;
  int rc = query_number(c, text, &v);
  if (rc != SHP_OK)
    return rc;
  if (v != floor(v) || v < lo || v > hi)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: expected a whole number from %g to %g, got "
                         "%g",
                         shp_usbtmc_name(c), text, lo, hi, v);
  *value = (unsigned)v;
  return SHP_OK;
}

int ted4000_check_errors(shp_usbtmc *c, const char *after) {
  return shp_usb_scpi_check_errors(c, after);
}

/* One *IDN? and its check: SHP_ERR_PROTOCOL with "not a Thorlabs ..." for
 * any other answer; *wrong tells an identification of another instrument
 * apart from noise and from a failed exchange. */
static int identify_once(shp_usbtmc *c, bool *wrong) {
  char reply[TED4000_REPLY_MAX], ex[80];
  size_t len = 0;
  *wrong = false;
  int rc = shp_usb_scpi_query(c, "*IDN?", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  /* THORLABS,TED4015,<serial>,<firmware>: the manufacturer, then the
   * model. */
  const char *comma = memchr(reply, ',', len);
  bool ok = comma != NULL && comma - reply == 8 &&
            strncasecmp(reply, "THORLABS", 8) == 0 &&
            len - (size_t)(comma + 1 - reply) >= 4 &&
            strncasecmp(comma + 1, "TED4", 4) == 0;
  if (!ok) {
    /* Printable text with a comma is an identification, of another
     * instrument: final. Anything else is noise, worth another try. */
    size_t end = len;
    while (end > 0 && (reply[end - 1] == '\n' || reply[end - 1] == '\r'))
      end--;
    bool text = comma != NULL;
    for (size_t i = 0; i < end && text; i++)
      text = reply[i] >= 0x20 && reply[i] <= 0x7e;
    *wrong = text;
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: *IDN? answered \"%s\": not a Thorlabs "
                         "TED4000-series controller",
                         shp_usbtmc_name(c), shp_usb_excerpt(ex, reply, len));
  }
  return SHP_OK;
}

int ted4000_identify(shp_usbtmc *c) {
  char last[160];
  bool wrong = false;
  int rc = SHP_OK;
  /* Some units do not answer the first command after the connection is
   * opened (SweepMe!'s Series 4000 driver tries *IDN? four times for that
   * reason), so a silent or garbled exchange is tried again, a bounded
   * number of times. A clear answer naming another instrument, or a
   * device that is gone, is final at once. */
  for (int attempt = 1; attempt <= TED4000_IDN_ATTEMPTS; attempt++) {
    rc = identify_once(c, &wrong);
    if (rc == SHP_OK || wrong ||
        (rc != SHP_ERR_TIMEOUT && rc != SHP_ERR_PROTOCOL))
      return rc;
  }
  snprintf(last, sizeof last, "%s", shp_error_detail());
  return shp_error_set(rc,
                       "%s: *IDN? got no usable answer in %d attempts; the "
                       "last: %s",
                       shp_usbtmc_name(c), TED4000_IDN_ATTEMPTS, last);
}

int ted4000_device_new(shp_usbtmc *io, shp_device **out) {
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_usbtmc_close(io);
    return shp_error_set(SHP_ERR_NOMEM, "ted4000: out of memory");
  }
  d->io = io;
  /* *CLS empties the error queue (and the event registers), so the
   * SYST:ERR? that follows speaks of UNIT:TEMP alone; it changes no
   * setting, the output least of all. */
  int rc = ted4000_identify(io);
  if (rc == SHP_OK)
    rc = shp_usb_scpi_write(io, "*CLS");
  if (rc == SHP_OK)
    rc = shp_usb_scpi_write(io, "UNIT:TEMP C");
  if (rc == SHP_OK)
    rc = ted4000_check_errors(io, "UNIT:TEMP C");
  if (rc != SHP_OK) {
    ted4000_device_free(d);
    return rc;
  }
  *out = d;
  return SHP_OK;
}

void ted4000_device_free(shp_device *d) {
  if (d == NULL)
    return;
  shp_usbtmc_close(d->io);
  free(d);
}

int ted4000_read_status(shp_usbtmc *c, ted4000_status *st) {
  ted4000_status got = {0};
  unsigned output = 0;
  int rc = query_number(c, "SOUR:TEMP?", &got.setpoint_c);
  if (rc == SHP_OK)
    rc = query_number(c, "MEAS:TEMP?", &got.actual_c);
  if (rc == SHP_OK)
    rc = query_whole(c, "OUTP?", 0, 1, &output);
  if (rc == SHP_OK)
    rc = query_whole(c, "STAT:MEAS:COND?", 0, 65535, &got.condition);
  if (rc != SHP_OK)
    return rc;
  got.output_on = output == 1;
  *st = got;
  return SHP_OK;
}

int ted4000_set_temperature(shp_usbtmc *c, double setpoint_c) {
  char msg[48];
  int n = shp_proto_scpi_encode_set_temperature(msg, sizeof msg, setpoint_c);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_usbtmc_name(c));
  int rc = shp_usbtmc_write(c, msg, (size_t)n);
  if (rc != SHP_OK)
    return rc;
  msg[n - 1] = '\0'; /* the command without its LF, for messages */
  return ted4000_check_errors(c, msg);
}

void ted4000_condition_text(unsigned condition, char *buf, size_t size) {
  static const struct {
    unsigned bit;
    const char *text;
  } names[] = {
      {TED4000_COND_TEMP_PROTECTION, "temperature protection active"},
      {TED4000_COND_WINDOW, "temperature window failure"},
      {TED4000_COND_SENSOR, "temperature sensor failure"},
      {TED4000_COND_COMPLIANCE, "TEC compliance voltage reached"},
      {TED4000_COND_TEC_OPEN, "TEC connection failure"},
      {TED4000_COND_OVERTEMP, "over temperature"},
  };
  int n = snprintf(buf, size, "STAT:MEAS:COND? %u", condition);
  const char *sep = ": ";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(condition & names[i].bit) || n < 0 || (size_t)n >= size)
      continue;
    n += snprintf(buf + n, size - (size_t)n, "%s%s", sep, names[i].text);
    sep = ", ";
  }
}
