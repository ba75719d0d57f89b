/* Thorlabs TC200 wire protocol; see README.md here and shp/proto/tc200.h. */
#include "shp/proto/tc200.h"

#include "shp/error.h"
#include "util.h"

#include <math.h>
#include <string.h>

static bool is_space(char c) {
  return c == ' ' || c == '\r' || c == '\n' || c == '\t';
}

double shp_proto_tc200_round_setpoint(double temperature_c) {
  if (!isfinite(temperature_c) || fabs(temperature_c) > 1e12)
    return temperature_c;
  double q = nearbyint(temperature_c * 10.0);
  /* temperature_c * 10 - q exactly: a single rounding in fma, and the
   * difference is a multiple of temperature_c's ulp below 1, so it fits. A
   * product that rounded onto a tie or across one is decided here. */
  double r = fma(temperature_c, 10.0, -q);
  if (r > 0.5 || (r == 0.5 && fmod(q, 2.0) != 0.0))
    q += 1.0;
  else if (r < -0.5 || (r == -0.5 && fmod(q, 2.0) != 0.0))
    q -= 1.0;
  return q / 10.0;
}

int shp_proto_tc200_encode_set_temperature(char *buf, size_t size,
                                           double temperature_c) {
  char num[24];
  size_t pos = 0;
  if (!isfinite(temperature_c) || temperature_c < SHP_PROTO_TC200_TSET_MIN_C ||
      temperature_c > SHP_PROTO_TC200_TSET_MAX_C)
    return shp_error_set(
        SHP_ERR_RANGE, "tc200: set temperature %g C outside %.1f..%.1f C",
        temperature_c, SHP_PROTO_TC200_TSET_MIN_C, SHP_PROTO_TC200_TSET_MAX_C);
  int n = shp_proto_format_fixed(
      num, sizeof num, shp_proto_tc200_round_setpoint(temperature_c), 1);
  if (n < 0 || !shp_proto_append(buf, size, &pos, "tset=", 5) ||
      !shp_proto_append(buf, size, &pos, num, (size_t)n) ||
      !shp_proto_append(buf, size, &pos, "\r", 1))
    return shp_error_set(SHP_ERR_RANGE,
                         "tc200: buffer of %zu bytes too "
                         "small for tset",
                         size);
  if (pos < size)
    buf[pos] = '\0';
  return (int)pos;
}

int shp_proto_tc200_encode_query(char *buf, size_t size, const char *keyword) {
  size_t n = keyword ? strnlen(keyword, 16) : 0, pos = 0;
  if (n == 0 || n > 15)
    return shp_error_set(SHP_ERR_INVALID, "tc200: query keyword must have "
                                          "1..15 characters");
  for (size_t i = 0; i < n; i++) {
    char c = keyword[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*'))
      return shp_error_set(SHP_ERR_INVALID,
                           "tc200: query keyword '%s' has a character "
                           "outside [a-z0-9*]",
                           keyword);
  }
  if (!shp_proto_append(buf, size, &pos, keyword, n) ||
      !shp_proto_append(buf, size, &pos, "?\r", 2))
    return shp_error_set(SHP_ERR_RANGE,
                         "tc200: buffer of %zu bytes too small for '%s?'", size,
                         keyword);
  if (pos < size)
    buf[pos] = '\0';
  return (int)pos;
}

int shp_proto_tc200_encode_toggle_output(char *buf, size_t size) {
  size_t pos = 0;
  if (!shp_proto_append(buf, size, &pos, "ens\r", 4))
    return shp_error_set(SHP_ERR_RANGE,
                         "tc200: buffer of %zu bytes too small for ens", size);
  if (pos < size)
    buf[pos] = '\0';
  return (int)pos;
}

static bool looks_like_command(const char *s, size_t n) {
  bool marker = false;
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '?' || c == '=')
      marker = true;
    else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' ||
               c == '.' || c == '-' || c == '+'))
      return false;
  }
  return marker || (n == 3 && memcmp(s, "ens", 3) == 0);
}

static bool contains(const char *s, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(s + i, needle, n) == 0)
      return true;
  return false;
}

int shp_proto_tc200_reply_body(const char *reply, size_t len,
                               const char *command, const char **body,
                               size_t *body_len) {
  char ex[32];
  size_t cmd_len = command ? strlen(command) : 0;
  size_t b = 0, e = len;
  if (cmd_len > 0 && command[cmd_len - 1] == '\r')
    cmd_len--;
  /* The prompt ends the answer: "> " (the trailing space may still be in
   * flight, so ">" alone is accepted too). */
  if (e > 0 && reply[e - 1] == ' ')
    e--;
  if (e == 0 || reply[e - 1] != '>')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "tc200: reply '%s' does not end with the '>' prompt",
                         shp_proto_excerpt(ex, reply, len));
  e--;
  while (b < e && is_space(reply[b]))
    b++;
  size_t l = b; /* end of the first line */
  while (l < e && reply[l] != '\r' && reply[l] != '\n')
    l++;
  if (cmd_len > 0 && l - b == cmd_len &&
      memcmp(reply + b, command, cmd_len) == 0) {
    b = l; /* the echo of our command */
  } else if (looks_like_command(reply + b, l - b)) {
    /* With echo off the first line is the answer; but a line shaped like a
     * command (no spaces, lower case, '?' or '=') is the echo of another
     * command: the stream is out of step. */
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "tc200: reply '%s' echoes another command than "
                         "'%.*s'",
                         shp_proto_excerpt(ex, reply, len), (int)cmd_len,
                         command ? command : "");
  }
  while (b < e && is_space(reply[b]))
    b++;
  while (e > b && is_space(reply[e - 1]))
    e--;
  if (contains(reply + b, e - b, "CMD_") ||
      contains(reply + b, e - b, "Command error") ||
      contains(reply + b, e - b, "Out-Of-Range"))
    return shp_error_set(
        SHP_ERR_PROTOCOL, "tc200: instrument refused '%.*s': %s", (int)cmd_len,
        command ? command : "", shp_proto_excerpt(ex, reply + b, e - b));
  *body = reply + b;
  *body_len = e - b;
  return SHP_OK;
}

int shp_proto_tc200_decode_temperature(const char *body, size_t len,
                                       double *temperature_c) {
  char ex[32];
  double v;
  size_t used, i;
  int rc = shp_proto_parse_number(body, len, "tc200 temperature", &v, &used);
  if (rc != SHP_OK)
    return rc;
  i = used;
  while (i < len && body[i] == ' ')
    i++;
  size_t unit_len = len - i;
  const char *unit = body + i;
  if (unit_len == 0 || (unit_len == 1 && unit[0] == 'C') ||
      (unit_len == 7 && memcmp(unit, "Celsius", 7) == 0)) {
    *temperature_c = v;
  } else if (unit_len == 1 && unit[0] == 'F') {
    *temperature_c = (v - 32.0) * 5.0 / 9.0;
  } else if (unit_len == 1 && unit[0] == 'K') {
    *temperature_c = v - 273.15;
  } else {
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "tc200 temperature: unknown unit in '%s'",
                         shp_proto_excerpt(ex, body, len));
  }
  return SHP_OK;
}

int shp_proto_tc200_decode_status(const char *body, size_t len,
                                  shp_proto_tc200_status *status) {
  char ex[32];
  size_t n = 0;
  uint32_t v;
  while (n < len && n < 5 &&
         ((body[n] >= '0' && body[n] <= '9') ||
          (body[n] >= 'a' && body[n] <= 'f') ||
          (body[n] >= 'A' && body[n] <= 'F')))
    n++;
  if (n == 0 || n > 4 || (n < len && !is_space(body[n])) ||
      !shp_proto_parse_hex(body, n, &v))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "tc200 status: expected 1..4 hex digits, got '%s'",
                         shp_proto_excerpt(ex, body, len));
  status->raw = v;
  status->output_enabled = (v & 0x01u) != 0;
  status->sensor_alarm = (v & 0x40u) != 0;
  return SHP_OK;
}
