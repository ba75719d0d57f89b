/* The Thorlabs TC200 driver's table: one heater channel over USB-serial.
 * protocol.c is the exchange; the codec is hardware/protocols/tc200. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/tc200.h"
#include "shp/yamlfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tc200_open(const shp_device_config *cfg, shp_device **out) {
  char ctx[64];
  shp_transport *io = NULL;
  int rc = shp_serial_check(cfg, "tc200", NULL, ctx, sizeof ctx);
  if (rc == SHP_OK)
    rc = shp_serial_open(cfg, TC200_DEFAULT_BAUD, &io);
  if (rc != SHP_OK)
    return rc;
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_transport_close(io);
    return shp_error_set(SHP_ERR_NOMEM, "tc200: out of memory");
  }
  d->io = io;
  *out = d;
  return SHP_OK;
}

static void tc200_close(shp_device *d) {
  if (d == NULL)
    return;
  shp_transport_close(d->io);
  free(d);
}

static int check_channel(shp_device *d, int channel) {
  return shp_serial_single_channel(d->io, "TC200", channel);
}

/* Three queries: actual and target temperature, then the status byte:
 * bit 0 the output state, bit 6 the sensor alarm, reported as the
 * instrument's fault (protocols/tc200/README.md, A1). The TC200 has no ramp
 * of its own. */
static int tc200_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  char cmd[16];
  const char *body;
  size_t body_len;
  shp_proto_tc200_status st;
  shp_oven_reading got = {0};
  int rc = check_channel(d, channel);
  if (rc == SHP_OK)
    rc = tc200_query_temperature(d, "tact", &got.actual_c);
  if (rc == SHP_OK)
    rc = tc200_query_temperature(d, "tset", &got.setpoint_c);
  if (rc != SHP_OK)
    return rc;
  int n = shp_proto_tc200_encode_query(cmd, sizeof cmd, "stat");
  if (n < 0)
    return n;
  if ((rc = tc200_exchange(d, cmd, (size_t)n, &body, &body_len)) != SHP_OK)
    return rc;
  if (shp_proto_tc200_decode_status(body, body_len, &st) != SHP_OK)
    return shp_error_prefix("%s: stat?: ", shp_transport_name(d->io));
  got.output_on = st.output_enabled;
  if (st.sensor_alarm) {
    got.fault = true;
    snprintf(got.fault_text, sizeof got.fault_text,
             "sensor alarm (status 0x%02X)", st.raw);
  }
  *r = got;
  return SHP_OK;
}

/* "tset=" rounded to the instrument's 0.1 C, half to even (codec); a
 * setter answers
 * nothing but the echo and the prompt, so any text is refused. */
static int tc200_oven_set(shp_device *d, int channel, double setpoint_c) {
  char cmd[32];
  const char *body;
  size_t body_len;
  int rc = check_channel(d, channel);
  if (rc != SHP_OK)
    return rc;
  int n = shp_proto_tc200_encode_set_temperature(cmd, sizeof cmd, setpoint_c);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  if ((rc = tc200_exchange(d, cmd, (size_t)n, &body, &body_len)) != SHP_OK)
    return rc;
  if (body_len != 0)
    return shp_error_set(
        SHP_ERR_PROTOCOL, "%s: unexpected answer to tset=: '%.*s'",
        shp_transport_name(d->io), (int)(body_len > 40 ? 40 : body_len), body);
  return SHP_OK;
}

/* Holding sends nothing. The TC200 keeps its last "tset=" and its output
 * state by itself; the only output command, "ens", toggles, so sending it
 * (or anything else) after a fault could switch a heater on or off
 * blindly. Nothing is read either: the link may be what failed. */
static int tc200_oven_hold(shp_device *d, int channel) {
  return check_channel(d, channel);
}

const shp_driver shp_driver_tc200 = {
    .name = "tc200",
    .description = "Thorlabs TC200 heater controller (USB-serial, ASCII)",
    .roles = SHP_ROLE_OVEN,
    .open = tc200_open,
    .close = tc200_close,
    .oven_read = tc200_oven_read,
    .oven_set = tc200_oven_set,
    .oven_set_ramp = NULL, /* no ramp command: the supervisor ramps */
    .oven_hold = tc200_oven_hold,
    .acquire = NULL,
};
