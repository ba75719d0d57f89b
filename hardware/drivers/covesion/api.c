/* The Covesion OC2/OC3 driver's table: one crystal oven over USB-serial.
 * protocol.c is the exchange; the codec is hardware/protocols/covesion. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/lab.h"
#include "shp/yamlfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The lab file's ramp limit of the oven on this connection: every set
 * point carries a ramp rate, and it must be the lab's (README). One oven
 * per connection (channel 0 only), so the connection names it. */
static int lab_ramp_limit(const shp_device_config *cfg, double *k_per_min) {
  const shp_lab *lab = cfg->lab;
  for (size_t i = 0; lab != NULL && i < lab->oven_count; i++)
    if (&lab->ovens[i].connection == cfg->connection &&
        lab->ovens[i].driver == &shp_driver_covesion) {
      *k_per_min = lab->ovens[i].max_ramp_k_per_min;
      return SHP_OK;
    }
  return shp_error_set(SHP_ERR_INVALID,
                       "covesion: no oven of the lab uses this connection, "
                       "so the ramp limit its set points must carry is "
                       "unknown");
}

static int covesion_open(const shp_device_config *cfg, shp_device **out) {
  char ctx[64];
  double ramp = 0.0;
  shp_transport *io = NULL;
  int rc = shp_serial_check(cfg, "covesion", NULL, ctx, sizeof ctx);
  if (rc == SHP_OK)
    rc = lab_ramp_limit(cfg, &ramp);
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
  d->max_ramp_k_per_min = ramp;
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

/* Whether an enabled alarm is active: the status carries only the alarm
 * configuration (off, min, max, both), so when one is enabled the alarm
 * settings ('d') are read and the temperature compared with the enabled
 * thresholds (README, "Alarms"). */
static int alarm_state(shp_device *d, const shp_proto_covesion_status *st,
                       char *text, size_t size) {
  const char *data;
  size_t len;
  shp_proto_covesion_alarms al;
  text[0] = '\0';
  if (st->alarms == 0)
    return SHP_OK;
  int rc = covesion_request(d, 'd', &data, &len);
  if (rc == SHP_OK &&
      shp_proto_covesion_decode_alarms(data, len, &al) != SHP_OK)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  if (rc != SHP_OK || !shp_proto_covesion_alarm_active(&al, st->temperature_c))
    return rc;
  bool low = (al.mode & 1) && st->temperature_c < al.alarm_min_c;
  snprintf(text, size, "alarm: %.3f C %s the alarm %s %.3f C",
           st->temperature_c, low ? "below" : "above",
           low ? "minimum" : "maximum", low ? al.alarm_min_c : al.alarm_max_c);
  return SHP_OK;
}

/* One status request: set point, temperature, control state and the fault
 * word; output on = control not 0 (1 controlling, 5 temperature cycle). A
 * fault bit, or an enabled alarm whose threshold is crossed, is reported
 * as the instrument's fault; the fault bits are named in the text. */
static int covesion_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  shp_proto_covesion_status st;
  shp_oven_reading got = {0};
  char alarm[64];
  int rc = check_channel(d, channel);
  if (rc == SHP_OK)
    rc = covesion_read_status(d, &st);
  if (rc == SHP_OK)
    rc = alarm_state(d, &st, alarm, sizeof alarm);
  if (rc != SHP_OK)
    return rc;
  got.actual_c = st.temperature_c;
  got.setpoint_c = st.setpoint_c;
  got.output_on = st.control != 0;
  if (st.faults != 0)
    snprintf(got.fault_text, sizeof got.fault_text,
             "faults 0x%02X%s%s%s%s%s%s%s", (unsigned)st.faults,
             st.faults & 1 ? " (ADC no response)" : "",
             st.faults & 2 ? " (ADC out of range)" : "",
             st.faults & 4 ? " (supply low)" : "",
             st.faults & 8 ? " (sensor fault)" : "",
             st.faults & 16 ? " (heating inhibit)" : "",
             alarm[0] != '\0' ? ", " : "", alarm);
  else if (alarm[0] != '\0')
    snprintf(got.fault_text, sizeof got.fault_text, "%s", alarm);
  got.fault = got.fault_text[0] != '\0';
  *r = got;
  return SHP_OK;
}

/* Reads the set-point parameters ('q') first, then sends the 'i' frame
 * with them unchanged but for the source (1, this value), the temperature
 * (three decimals, 20..200 C) and the ramp rate: the oven's own when it is
 * no faster than the lab file's limit, else that limit, rounded down
 * (README, "Set point"). The controller's answer to 'i', if any, is not
 * read (D1): the next read shows the new set point, which the supervisor
 * compares. */
static int covesion_oven_set(shp_device *d, int channel, double setpoint_c) {
  char frame[SHP_PROTO_COVESION_DATA_MAX + 8];
  const char *data;
  size_t len;
  shp_proto_covesion_setpoint now;
  int rc = check_channel(d, channel);
  if (rc != SHP_OK)
    return rc;
  /* Refused before a word is sent when the temperature is out of range. */
  if (!(setpoint_c >= SHP_PROTO_COVESION_TSET_MIN_C &&
        setpoint_c <= SHP_PROTO_COVESION_TSET_MAX_C))
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: covesion: set temperature %g C outside "
                         "%.1f..%.1f C",
                         shp_transport_name(d->io), setpoint_c,
                         SHP_PROTO_COVESION_TSET_MIN_C,
                         SHP_PROTO_COVESION_TSET_MAX_C);
  if ((rc = covesion_request(d, 'q', &data, &len)) != SHP_OK)
    return rc;
  if (shp_proto_covesion_decode_setpoint(data, len, &now) != SHP_OK)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  int n = shp_proto_covesion_encode_set_temperature(
      frame, sizeof frame, setpoint_c, d->max_ramp_k_per_min / 60.0, &now);
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
    /* The supervisor ramps in software; each set point also carries the
     * lab's limit as the oven's own ramp rate (README). */
    .oven_set_ramp = NULL,
    .oven_hold = covesion_oven_hold,
    .acquire = NULL,
};
