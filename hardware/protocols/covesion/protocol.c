/* Covesion oven wire protocol; see README.md here and
 * shp/proto/covesion.h. */
#include "shp/proto/covesion.h"

#include "shp/error.h"
#include "util.h"

#include <math.h>
#include <string.h>

static const char hex_upper[] = "0123456789ABCDEF";

static bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

uint8_t shp_proto_covesion_checksum(const void *data, size_t len) {
  const unsigned char *p = data;
  unsigned sum = 0;
  for (size_t i = 0; i < len; i++)
    sum += p[i];
  return (uint8_t)(sum & 0xffu);
}

int shp_proto_covesion_encode(char *buf, size_t size, char command,
                              const char *data, size_t data_len) {
  if (!is_letter(command))
    return shp_error_set(SHP_ERR_INVALID,
                         "covesion: command must be a letter, got 0x%02x",
                         (unsigned char)command);
  if (data_len > SHP_PROTO_COVESION_DATA_MAX)
    return shp_error_set(SHP_ERR_RANGE,
                         "covesion: %zu data bytes, at most %d fit a frame",
                         data_len, SHP_PROTO_COVESION_DATA_MAX);
  for (size_t i = 0; i < data_len; i++)
    if (data[i] == SHP_PROTO_COVESION_SOH || data[i] == '\r' ||
        data[i] == '\n' || data[i] == '\0')
      return shp_error_set(SHP_ERR_INVALID,
                           "covesion: data byte %zu is a framing byte", i);
  size_t total = 4 + data_len + 2;
  if (size < total)
    return shp_error_set(SHP_ERR_RANGE,
                         "covesion: buffer of %zu bytes, frame needs %zu", size,
                         total);
  buf[0] = (char)SHP_PROTO_COVESION_SOH;
  buf[1] = command;
  buf[2] = (char)('0' + data_len / 10);
  buf[3] = (char)('0' + data_len % 10);
  if (data_len > 0)
    memcpy(buf + 4, data, data_len);
  uint8_t sum = shp_proto_covesion_checksum(buf, 4 + data_len);
  buf[4 + data_len] = hex_upper[sum >> 4];
  buf[5 + data_len] = hex_upper[sum & 15];
  if (total < size)
    buf[total] = '\0';
  return (int)total;
}

int shp_proto_covesion_encode_status_query(char *buf, size_t size) {
  return shp_proto_covesion_encode(buf, size, 'j', "", 0);
}

int shp_proto_covesion_encode_query(char *buf, size_t size, char command) {
  return shp_proto_covesion_encode(buf, size, command, "", 0);
}

/* A field of the set-point frame taken from the controller's own answer:
 * it must still be a plain number (digits, sign, point), so nothing else
 * can be smuggled into the frame. */
static bool plain_number(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= SHP_PROTO_COVESION_FIELD_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' ||
          s[i] == '+'))
      return false;
  return true;
}

/* The ramp-rate field: the controller's own value when it is already no
 * faster than the limit (sent back as it came), else the limit rounded
 * down to the field's three decimals. */
static int ramp_field(char *out, size_t size, double max_c_per_s,
                      const shp_proto_covesion_setpoint *keep) {
  if (keep->ramp_c_per_s > 0.0 && keep->ramp_c_per_s <= max_c_per_s) {
    size_t n = strlen(keep->text[4]);
    memcpy(out, keep->text[4], n + 1);
    return (int)n;
  }
  double steps = floor(max_c_per_s * 1000.0);
  /* The product may round up across a whole step: the value sent must
   * never exceed the limit, so step back until it does not. */
  while (steps >= 1.0 && steps / 1000.0 > max_c_per_s)
    steps -= 1.0;
  if (!(steps >= 1.0))
    return shp_error_set(SHP_ERR_RANGE,
                         "covesion: ramp limit %g C/s (%g K/min) is below "
                         "the slowest the set-point frame can carry, "
                         "%g C/s",
                         max_c_per_s, max_c_per_s * 60.0,
                         SHP_PROTO_COVESION_RAMP_STEP_C_PER_S);
  return shp_proto_format_fixed(out, size, steps / 1000.0, 3);
}

int shp_proto_covesion_encode_set_temperature(
    char *buf, size_t size, double temperature_c, double max_ramp_c_per_s,
    const shp_proto_covesion_setpoint *keep) {
  char data[SHP_PROTO_COVESION_DATA_MAX + 1], num[24], rate[24];
  size_t pos = 0;
  if (!isfinite(temperature_c) ||
      temperature_c < SHP_PROTO_COVESION_TSET_MIN_C ||
      temperature_c > SHP_PROTO_COVESION_TSET_MAX_C)
    return shp_error_set(SHP_ERR_RANGE,
                         "covesion: set temperature %g C outside "
                         "%.1f..%.1f C",
                         temperature_c, SHP_PROTO_COVESION_TSET_MIN_C,
                         SHP_PROTO_COVESION_TSET_MAX_C);
  if (!(max_ramp_c_per_s < 1e6)) /* also NaN */
    return shp_error_set(SHP_ERR_RANGE, "covesion: ramp limit %g C/s",
                         max_ramp_c_per_s);
  for (int k = 0; k < SHP_PROTO_COVESION_SETPOINT_FIELDS; k++)
    if (k != 0 && k != 1 && !plain_number(keep->text[k]))
      return shp_error_set(SHP_ERR_INVALID,
                           "covesion: set-point field %d to send back is "
                           "not a plain number",
                           k);
  int n = shp_proto_format_fixed(num, sizeof num, temperature_c, 3);
  int nr = ramp_field(rate, sizeof rate, max_ramp_c_per_s, keep);
  if (n < 0 || nr < 0)
    return n < 0 ? n : nr;
  /* Field 0 "1": the set point is the value given, not the potentiometer. */
  const char *field[SHP_PROTO_COVESION_SETPOINT_FIELDS] = {
      "1",  num,           keep->text[2], keep->text[3],
      rate, keep->text[5], keep->text[6]};
  for (int k = 0; k < SHP_PROTO_COVESION_SETPOINT_FIELDS; k++)
    if (!shp_proto_append(data, sizeof data, &pos, field[k],
                          strlen(field[k])) ||
        !shp_proto_append(data, sizeof data, &pos, ";", 1))
      return shp_error_set(SHP_ERR_RANGE, "covesion: set-point data too long");
  return shp_proto_covesion_encode(buf, size, 'i', data, pos);
}

int shp_proto_covesion_decode(const char *reply, size_t len, char *command,
                              const char **data, size_t *data_len) {
  char ex[32];
  uint32_t sum_sent;
  size_t end = len;
  /* A line end after the checksum is allowed (the unit ends with CR). */
  while (end > 0 && (reply[end - 1] == '\r' || reply[end - 1] == '\n'))
    end--;
  if (end == 0)
    return shp_error_set(SHP_ERR_PROTOCOL, "covesion: empty reply");
  if ((unsigned char)reply[0] != SHP_PROTO_COVESION_SOH)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: unexpected prefix '%s', expected SOH",
                         shp_proto_excerpt(ex, reply, len));
  if (end < 6)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: truncated frame of %zu bytes", end);
  if (!is_letter(reply[1]))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: command byte 0x%02x is not a letter",
                         (unsigned char)reply[1]);
  if (reply[2] < '0' || reply[2] > '9' || reply[3] < '0' || reply[3] > '9')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: non-numeric length field in '%s'",
                         shp_proto_excerpt(ex, reply, len));
  size_t n = (size_t)(reply[2] - '0') * 10 + (size_t)(reply[3] - '0');
  if (end < 4 + n + 2)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: truncated frame: length field says %zu "
                         "data bytes, %zu received",
                         n, end < 6 ? 0 : end - 6);
  if (end > 4 + n + 2)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: %zu bytes after the checksum",
                         end - (4 + n + 2));
  if (!shp_proto_parse_hex(reply + 4 + n, 2, &sum_sent))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: non-hex checksum field in '%s'",
                         shp_proto_excerpt(ex, reply, len));
  uint8_t sum = shp_proto_covesion_checksum(reply, 4 + n);
  if (sum != sum_sent)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion: bad checksum 0x%02X, computed 0x%02X",
                         (unsigned)sum_sent, (unsigned)sum);
  *command = reply[1];
  *data = reply + 4;
  *data_len = n;
  return SHP_OK;
}

/* Splits off the next ';'-ended field of s[*pos..len). */
static bool next_field(const char *s, size_t len, size_t *pos, size_t *start,
                       size_t *flen) {
  if (*pos >= len)
    return false;
  const char *semi = memchr(s + *pos, ';', len - *pos);
  size_t stop = semi ? (size_t)(semi - s) : len;
  *start = *pos;
  *flen = stop - *pos;
  *pos = semi ? stop + 1 : len;
  return true;
}

static int field_number(const char *s, size_t len, const char *name,
                        double *v) {
  size_t used;
  int rc = shp_proto_parse_number(s, len, name, v, &used);
  if (rc != SHP_OK)
    return rc;
  if (used != len) {
    char ex[32];
    return shp_error_set(SHP_ERR_PROTOCOL, "%s: non-numeric field '%s'", name,
                         shp_proto_excerpt(ex, s, len));
  }
  return SHP_OK;
}

int shp_proto_covesion_decode_status(const char *data, size_t len,
                                     shp_proto_covesion_status *status) {
  static const char *const names[8] = {
      "covesion status: set point", "covesion status: temperature",
      "covesion status: control",   "covesion status: output %",
      "covesion status: alarms",    "covesion status: faults",
      "covesion status: temp ok",   "covesion status: supply voltage"};
  double v[8];
  size_t pos = 0, start, flen;
  for (int k = 0; k < 8; k++) {
    if (!next_field(data, len, &pos, &start, &flen))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "covesion status: %d fields, expected at least 8",
                           k);
    int rc = field_number(data + start, flen, names[k], &v[k]);
    if (rc != SHP_OK)
      return rc;
  }
  for (int k = 2; k <= 6; k += (k == 2 ? 2 : 1))
    if (v[k] != floor(v[k]) || fabs(v[k]) > 65535.0)
      return shp_error_set(SHP_ERR_PROTOCOL, "%s: not an integer: %g", names[k],
                           v[k]);
  status->setpoint_c = v[0];
  status->temperature_c = v[1];
  status->control = (int)v[2];
  status->output_percent = v[3];
  status->alarms = (int)v[4];
  status->faults = (int)v[5];
  status->temperature_ok = v[6] != 0.0;
  status->supply_v = v[7];
  return SHP_OK;
}

int shp_proto_covesion_decode_setpoint(const char *data, size_t len,
                                       shp_proto_covesion_setpoint *sp) {
  static const char *const names[SHP_PROTO_COVESION_SETPOINT_FIELDS] = {
      "covesion set point: source",    "covesion set point: temperature",
      "covesion set point: field 2",   "covesion set point: field 3",
      "covesion set point: ramp rate", "covesion set point: field 5",
      "covesion set point: field 6"};
  size_t pos = 0, start, flen;
  double v[SHP_PROTO_COVESION_SETPOINT_FIELDS];
  for (int k = 0; k < SHP_PROTO_COVESION_SETPOINT_FIELDS; k++) {
    if (!next_field(data, len, &pos, &start, &flen))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "covesion set point: %d fields, expected 7", k);
    if (flen >= SHP_PROTO_COVESION_FIELD_MAX)
      return shp_error_set(SHP_ERR_PROTOCOL, "%s: %zu bytes, at most %d",
                           names[k], flen, SHP_PROTO_COVESION_FIELD_MAX - 1);
    int rc = field_number(data + start, flen, names[k], &v[k]);
    if (rc != SHP_OK)
      return rc;
    memcpy(sp->text[k], data + start, flen);
    sp->text[k][flen] = '\0';
  }
  sp->ramp_c_per_s = v[4];
  return SHP_OK;
}

int shp_proto_covesion_decode_alarms(const char *data, size_t len,
                                     shp_proto_covesion_alarms *alarms) {
  static const char *const names[3] = {"covesion alarms: mode",
                                       "covesion alarms: minimum",
                                       "covesion alarms: maximum"};
  size_t pos = 0, start, flen;
  double v[3];
  for (int k = 0; k < 3; k++) {
    if (!next_field(data, len, &pos, &start, &flen))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "covesion alarms: %d fields, expected at least 3",
                           k);
    int rc = field_number(data + start, flen, names[k], &v[k]);
    if (rc != SHP_OK)
      return rc;
  }
  if (v[0] != floor(v[0]) || v[0] < 0.0 || v[0] > 3.0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "covesion alarms: mode %g is not 0..3", v[0]);
  alarms->mode = (int)v[0];
  alarms->alarm_min_c = v[1];
  alarms->alarm_max_c = v[2];
  return SHP_OK;
}

bool shp_proto_covesion_alarm_active(const shp_proto_covesion_alarms *alarms,
                                     double temperature_c) {
  return ((alarms->mode & 1) && temperature_c < alarms->alarm_min_c) ||
         ((alarms->mode & 2) && temperature_c > alarms->alarm_max_c);
}
