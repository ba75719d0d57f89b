/* The Covesion OC2/OC3 driver's table: one crystal oven over USB-serial.
 * protocol.c is the exchange; the codec is hardware/protocols/covesion. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/yamlfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int covesion_open(const shp_device_config *cfg, shp_device **out) {
  char ctx[64];
  shp_transport *io = NULL;
  int rc = shp_serial_check(cfg, "covesion", NULL, ctx, sizeof ctx);
  if (rc == SHP_OK)
    rc = shp_serial_open(cfg, COVESION_DEFAULT_BAUD, &io);
  if (rc != SHP_OK)
    return rc;
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_transport_close(io);
    return shp_error_set(SHP_ERR_NOMEM, "covesion: out of memory");
  }
  d->io = io;
  *out = d;
  return SHP_OK;
}

static void covesion_close(shp_device *d) {
  if (d == NULL)
    return;
  shp_transport_close(d->io);
  free(d);
}

static int check_channel(shp_device *d, int channel) {
  return shp_serial_single_channel(d->io, "Covesion OC controller", channel);
}

/* One status request: set point, temperature, control state and the
 * alarm and fault fields. Output on = control not 0 (1 controlling, 5
 * temperature cycle). A non-zero fault word or alarm is reported as the
 * instrument's fault; the codec's fault bits are named in the text. */
static int covesion_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  shp_proto_covesion_status st;
  shp_oven_reading got = {0};
  int rc = check_channel(d, channel);
  if (rc == SHP_OK)
    rc = covesion_read_status(d, &st);
  if (rc != SHP_OK)
    return rc;
  got.actual_c = st.temperature_c;
  got.setpoint_c = st.setpoint_c;
  got.output_on = st.control != 0;
  if (st.faults != 0 || st.alarms != 0) {
    got.fault = true;
    snprintf(got.fault_text, sizeof got.fault_text,
             "faults 0x%02X%s%s%s%s%s, alarms %d", (unsigned)st.faults,
             st.faults & 1 ? " (ADC no response)" : "",
             st.faults & 2 ? " (ADC out of range)" : "",
             st.faults & 4 ? " (supply low)" : "",
             st.faults & 8 ? " (sensor fault)" : "",
             st.faults & 16 ? " (heating inhibit)" : "", st.alarms);
  }
  *r = got;
  return SHP_OK;
}

/* The 'i' set-point frame (three decimals, 20..200 C); the controller's
 * answer, if any, is not read (README, D1): the next read shows the new
 * set point, which the supervisor compares. */
static int covesion_oven_set(shp_device *d, int channel, double setpoint_c) {
  char frame[SHP_PROTO_COVESION_DATA_MAX + 8];
  int rc = check_channel(d, channel);
  if (rc != SHP_OK)
    return rc;
  int n = shp_proto_covesion_encode_set_temperature(frame, sizeof frame,
                                                    setpoint_c);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  return covesion_send(d, frame, (size_t)n);
}

/* Holding sends nothing: the controller keeps its last set point and
 * control state by itself, and the output command ('m') would change the
 * drive. Nothing is read either: the link may be what failed. */
static int covesion_oven_hold(shp_device *d, int channel) {
  return check_channel(d, channel);
}

const shp_driver shp_driver_covesion = {
    .name = "covesion",
    .description = "Covesion OC2/OC3 crystal oven (USB-serial, checksummed "
                   "frames)",
    .roles = SHP_ROLE_OVEN,
    .open = covesion_open,
    .close = covesion_close,
    .oven_read = covesion_oven_read,
    .oven_set = covesion_oven_set,
    .oven_set_ramp = NULL, /* no ramp field known: the supervisor ramps */
    .oven_hold = covesion_oven_hold,
    .acquire = NULL,
};
