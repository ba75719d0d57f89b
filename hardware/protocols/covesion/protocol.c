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

int shp_proto_covesion_encode_set_temperature(char *buf, size_t size,
                                              double temperature_c) {
  static const char tail[] = ";25.000;0.000;25;100.00;0.00;";
  char data[64], num[24];
  size_t pos = 0;
  if (!isfinite(temperature_c) ||
      temperature_c < SHP_PROTO_COVESION_TSET_MIN_C ||
      temperature_c > SHP_PROTO_COVESION_TSET_MAX_C)
    return shp_error_set(SHP_ERR_RANGE,
                         "covesion: set temperature %g C outside "
                         "%.1f..%.1f C",
                         temperature_c, SHP_PROTO_COVESION_TSET_MIN_C,
                         SHP_PROTO_COVESION_TSET_MAX_C);
  int n = shp_proto_format_fixed(num, sizeof num, temperature_c, 3);
  if (n < 0 || !shp_proto_append(data, sizeof data, &pos, "1;", 2) ||
      !shp_proto_append(data, sizeof data, &pos, num, (size_t)n) ||
      !shp_proto_append(data, sizeof data, &pos, tail, sizeof tail - 1))
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
