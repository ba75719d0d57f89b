/* The Meerstetter TEC driver's table: MeCom frames over USB-serial.
 * protocol.c is the exchange; the codec is hardware/protocols/mecom. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/mecom.h"
#include "shp/yamlfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every parameter the driver uses, in one table (README: where each id and
 * value comes from). */
static const struct {
  uint16_t object_temperature;        /* FLOAT32, C, read */
  uint16_t target_object_temperature; /* FLOAT32, C, read and set */
  uint16_t device_status;             /* INT32, read */
  uint16_t coarse_temp_ramp;          /* FLOAT32, K/s, read and set */
} par = {
    .object_temperature = SHP_PROTO_MECOM_PAR_OBJECT_TEMPERATURE,
    .target_object_temperature = SHP_PROTO_MECOM_PAR_TARGET_OBJECT_TEMPERATURE,
    .device_status = SHP_PROTO_MECOM_PAR_DEVICE_STATUS,
    .coarse_temp_ramp = SHP_PROTO_MECOM_PAR_COARSE_TEMP_RAMP,
};
/* Device status values (README, D2). */
enum { MECOM_STATUS_RUN = 2, MECOM_STATUS_ERROR = 3 };
/* Channels 0 and 1 are MeCom instances 1 and 2 (dual-channel TEC-1122). */
#define MECOM_CHANNELS 2

static int mecom_open(const shp_device_config *cfg, shp_device **out) {
  static const char *const keys[] = {"address", NULL};
  char ctx[64];
  double address = 0.0;
  int rc = shp_serial_check(cfg, "mecom", keys, ctx, sizeof ctx);
  if (rc == SHP_OK && cfg->options != NULL)
    rc = shp_yaml_number_opt(cfg->yaml, cfg->options, ctx, "address", &address,
                             NULL);
  if (rc != SHP_OK)
    return rc;
  /* Checked as a double before the cast to the address byte. */
  if (!(address == floor(address) && address >= 0.0 && address <= 255.0))
    return shp_yaml_fail_code(
        SHP_ERR_RANGE, cfg->yaml,
        shp_yaml_get(cfg->yaml, cfg->options, "address"), ctx, "address",
        "must be a whole number from 0 to 255, got %g", address);
  shp_transport *io = NULL;
  if ((rc = shp_serial_open(cfg, MECOM_DEFAULT_BAUD, &io)) != SHP_OK)
    return rc;
  shp_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    shp_transport_close(io);
    return shp_error_set(SHP_ERR_NOMEM, "mecom: out of memory");
  }
  d->io = io;
  d->address = (uint8_t)address;
  *out = d;
  return SHP_OK;
}

static void mecom_close(shp_device *d) {
  if (d == NULL)
    return;
  shp_transport_close(d->io);
  free(d);
}

static int instance_of(shp_device *d, int channel, uint8_t *instance) {
  if (channel < 0 || channel >= MECOM_CHANNELS)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: a MeCom TEC channel is 0 or 1, not %d",
                         shp_transport_name(d->io), channel);
  *instance = (uint8_t)(channel + 1);
  return SHP_OK;
}

static int read_celsius(shp_device *d, uint16_t id, uint8_t instance,
                        double *c) {
  uint32_t raw;
  int rc = mecom_read_raw(d, id, instance, &raw);
  if (rc != SHP_OK)
    return rc;
  float v = shp_proto_mecom_as_float(raw);
  if (!isfinite(v))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: ?VR %u.%u: not a finite temperature (0x%08X)",
                         shp_transport_name(d->io), (unsigned)id,
                         (unsigned)instance, (unsigned)raw);
  *c = (double)v;
  return SHP_OK;
}

/* Three reads: object temperature, target object temperature, then the
 * device status (output on = Run, fault = Error). */
static int mecom_oven_read(shp_device *d, int channel, shp_oven_reading *r) {
  uint8_t instance = 0;
  uint32_t status;
  shp_oven_reading got = {0};
  int rc = instance_of(d, channel, &instance);
  if (rc == SHP_OK)
    rc = read_celsius(d, par.object_temperature, instance, &got.actual_c);
  if (rc == SHP_OK)
    rc = read_celsius(d, par.target_object_temperature, instance,
                      &got.setpoint_c);
  if (rc == SHP_OK)
    rc = mecom_read_raw(d, par.device_status, 1, &status);
  if (rc != SHP_OK)
    return rc;
  int32_t s = shp_proto_mecom_as_int(status);
  got.output_on = s == MECOM_STATUS_RUN;
  if (s == MECOM_STATUS_ERROR) {
    got.fault = true;
    snprintf(got.fault_text, sizeof got.fault_text, "device status %d (error)",
             (int)s);
  }
  *r = got;
  return SHP_OK;
}

/* "VS" of the target object temperature as FLOAT32; the ACK must carry
 * the address, the sequence number and the request's CRC. */
static int mecom_oven_set(shp_device *d, int channel, double setpoint_c) {
  uint8_t instance = 0;
  int rc = instance_of(d, channel, &instance);
  if (rc != SHP_OK)
    return rc;
  if (!isfinite(setpoint_c) || fabs(setpoint_c) > 1000.0)
    return shp_error_set(SHP_ERR_RANGE, "%s: set temperature %g C refused",
                         shp_transport_name(d->io), setpoint_c);
  return mecom_set_float(d, par.target_object_temperature, instance,
                         (float)setpoint_c);
}

/* The controller's own ramp of the target temperature (3003, Coarse Temp
 * Ramp, K/s) set to the lab file's limit, so the supervisor writes the
 * target once per move instead of at every software ramp step: TEC firmware
 * before 6.00 saves every parameter write to flash unless parameter 108
 * says otherwise, and a software ramp writes the target every poll.
 * Parameter 108 is left alone: it is a device-wide setting that outlives
 * this session, and its meaning depends on the firmware (README).
 *
 * The ramp is read first and written only when it is faster than the lab
 * allows (or not positive): a slower ramp the operator configured stays,
 * and an unchanged ramp costs no flash write. The value sent is rounded
 * toward zero in FLOAT32, so it is never faster than the lab's. */
static int mecom_oven_set_ramp(shp_device *d, int channel, double k_per_min) {
  uint8_t instance = 0;
  uint32_t raw;
  int rc = instance_of(d, channel, &instance);
  if (rc != SHP_OK)
    return rc;
  if (!(k_per_min > 0.0) || !isfinite(k_per_min))
    return shp_error_set(SHP_ERR_RANGE, "%s: ramp %g K/min refused",
                         shp_transport_name(d->io), k_per_min);
  double limit_k_per_s = k_per_min / 60.0;
  if ((rc = mecom_read_raw(d, par.coarse_temp_ramp, instance, &raw)) != SHP_OK)
    return rc;
  float now = shp_proto_mecom_as_float(raw);
  if (isfinite(now) && now > 0.0f && (double)now <= limit_k_per_s)
    return SHP_OK;
  float send = (float)limit_k_per_s;
  if ((double)send > limit_k_per_s)
    send = nextafterf(send, 0.0f);
  return mecom_set_float(d, par.coarse_temp_ramp, instance, send);
}

/* Holding sends nothing: the controller keeps its target temperature and
 * output stage state by itself, and nothing here switches the output.
 * Nothing is read either: the link may be what failed. */
static int mecom_oven_hold(shp_device *d, int channel) {
  uint8_t instance;
  return instance_of(d, channel, &instance);
}

const shp_driver shp_driver_mecom = {
    .name = "mecom",
    .description = "Meerstetter TEC controller (USB-serial, MeCom with CRC)",
    .roles = SHP_ROLE_OVEN,
    .open = mecom_open,
    .close = mecom_close,
    .oven_read = mecom_oven_read,
    .oven_set = mecom_oven_set,
    .oven_set_ramp = mecom_oven_set_ramp,
    .oven_hold = mecom_oven_hold,
    .acquire = NULL,
};
