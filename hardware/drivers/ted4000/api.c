/* The Thorlabs TED4000-series driver's table: one TEC channel over USBTMC,
 * in SCPI. protocol.c holds the exchanges; the codecs are
 * hardware/protocols/scpi and hardware/protocols/usbtmc. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"

static int ted4000_open(const shp_device_config *cfg, shp_device **out) {
  char ctx[64];
  shp_usbtmc *io = NULL;
  int rc = shp_usb_check(cfg, "ted4000", NULL, ctx, sizeof ctx);
  if (rc == SHP_OK)
    rc = shp_usb_open(cfg, &io);
  if (rc != SHP_OK)
    return rc;
  return ted4000_device_new(io, out);
}

static void ted4000_close(shp_device *d) { ted4000_device_free(d); }

static int check_channel(shp_device *d, int channel) {
  if (channel != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: a TED4000-series controller has one channel "
                         "(0), not %d",
                         shp_usbtmc_name(d->io), channel);
  return SHP_OK;
}

/* Four queries: set point, temperature, output state and the measurement
 * condition register, whose protection, sensor, TEC-connection and
 * over-temperature bits are the instrument's fault (README, A4). The
 * controller's own ramp is not used, so has_ramp stays false. */
static int ted4000_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  ted4000_status st;
  int rc = check_channel(d, channel);
  if (rc == SHP_OK)
    rc = ted4000_read_status(d->io, &st);
  if (rc != SHP_OK)
    return rc;
  shp_oven_reading got = {.setpoint_c = st.setpoint_c,
                          .actual_c = st.actual_c,
                          .output_on = st.output_on};
  if (st.condition & TED4000_FAULT_BITS) {
    got.fault = true;
    ted4000_condition_text(st.condition, got.fault_text, sizeof got.fault_text);
  }
  *r = got;
  return SHP_OK;
}

/* SOUR:TEMP, then SYST:ERR? must be empty: a write has no answer, so the
 * error queue is the only word the instrument gives on a refused value. */
static int ted4000_oven_set(shp_device *d, int channel, double setpoint_c) {
  int rc = check_channel(d, channel);
  if (rc != SHP_OK)
    return rc;
  return ted4000_set_temperature(d->io, setpoint_c);
}

/* Holding sends nothing: the controller keeps its set point and output
 * state by itself, and OUTP ON/OFF is the only output command; nothing is
 * read either, since the link may be what failed. */
static int ted4000_oven_hold(shp_device *d, int channel) {
  return check_channel(d, channel);
}

const shp_driver shp_driver_ted4000 = {
    .name = "ted4000",
    .description = "Thorlabs TED4000-series TEC controller (USBTMC, SCPI)",
    .roles = SHP_ROLE_OVEN,
    .open = ted4000_open,
    .close = ted4000_close,
    .oven_read = ted4000_oven_read,
    .oven_set = ted4000_oven_set,
    .oven_set_ramp = NULL, /* no ramp command relied on: the supervisor ramps */
    .oven_hold = ted4000_oven_hold,
    .acquire = NULL,
};
