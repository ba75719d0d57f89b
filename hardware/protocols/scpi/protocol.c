/* SCPI messages, IEEE 488.2 blocks and waveform preambles; see README.md
 * here and shp/proto/scpi.h. */
#include "shp/proto/scpi.h"

#include "shp/error.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The span of reply without surrounding blanks and the final line end. */
static void trim(const char *s, size_t len, size_t *b, size_t *e) {
  *b = 0;
  *e = len;
  while (*b < *e && is_blank(s[*b]))
    (*b)++;
  while (*e > *b && is_blank(s[*e - 1]))
    (*e)--;
}

int shp_proto_scpi_encode_command(char *buf, size_t size, const char *command) {
  size_t n = command ? strnlen(command, 256) : 0, pos = 0;
  if (n == 0 || n >= 256)
    return shp_error_set(SHP_ERR_INVALID,
                         "scpi: command must have 1..255 characters");
  for (size_t i = 0; i < n; i++)
    if (command[i] < 0x20 || command[i] > 0x7e)
      return shp_error_set(SHP_ERR_INVALID,
                           "scpi: command byte %zu is not printable", i);
  if (!shp_proto_append(buf, size, &pos, command, n) ||
      !shp_proto_append(buf, size, &pos, "\n", 1))
    return shp_error_set(SHP_ERR_RANGE,
                         "scpi: buffer of %zu bytes too small for '%s'", size,
                         command);
  if (pos < size)
    buf[pos] = '\0';
  return (int)pos;
}

int shp_proto_scpi_encode_set_temperature(char *buf, size_t size,
                                          double temperature_c) {
  char cmd[48] = "SOUR:TEMP ";
  if (!isfinite(temperature_c) || temperature_c < SHP_PROTO_SCPI_TSET_MIN_C ||
      temperature_c > SHP_PROTO_SCPI_TSET_MAX_C)
    return shp_error_set(
        SHP_ERR_RANGE, "scpi: set temperature %g C outside %.1f..%.1f C",
        temperature_c, SHP_PROTO_SCPI_TSET_MIN_C, SHP_PROTO_SCPI_TSET_MAX_C);
  if (shp_proto_format_fixed(cmd + 10, sizeof cmd - 10, temperature_c, 3) < 0)
    return shp_error_set(SHP_ERR_RANGE, "scpi: set temperature too long");
  return shp_proto_scpi_encode_command(buf, size, cmd);
}

int shp_proto_scpi_decode_number(const char *reply, size_t len, double *value) {
  char ex[32];
  size_t b, e, used;
  double v;
  trim(reply, len, &b, &e);
  if (b == e)
    return shp_error_set(SHP_ERR_PROTOCOL, "scpi: empty answer");
  int rc = shp_proto_parse_number(reply + b, e - b, "scpi answer", &v, &used);
  if (rc != SHP_OK)
    return rc;
  if (used != e - b)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi answer: trailing bytes after the number in "
                         "'%s'",
                         shp_proto_excerpt(ex, reply, len));
  if (fabs(v) >= SHP_PROTO_SCPI_NAN_THRESHOLD)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi answer: the instrument has no valid value "
                         "(%g)",
                         v);
  *value = v;
  return SHP_OK;
}

int shp_proto_scpi_decode_error(const char *reply, size_t len, int *code,
                                const char **message, size_t *message_len) {
  char ex[32];
  size_t b, e, used;
  double v;
  trim(reply, len, &b, &e);
  int rc =
      shp_proto_parse_number(reply + b, e - b, "scpi error code", &v, &used);
  if (rc != SHP_OK)
    return rc;
  if (v != floor(v) || fabs(v) > 32767.0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi error code: not an integer: %g", v);
  size_t p = b + used;
  if (e - p < 3 || reply[p] != ',' || reply[p + 1] != '"' ||
      reply[e - 1] != '"')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi error: expected <code>,\"<message>\", got "
                         "'%s'",
                         shp_proto_excerpt(ex, reply, len));
  *code = (int)v;
  *message = reply + p + 2;
  *message_len = e - 1 - (p + 2);
  return SHP_OK;
}

int shp_proto_ieee4882_block_header(const uint8_t *buf, size_t len,
                                    size_t *header_len, size_t *data_len) {
  if (len == 0)
    return shp_error_set(SHP_ERR_PROTOCOL, "ieee 488.2 block: empty");
  if (buf[0] != '#')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: unexpected prefix 0x%02x, "
                         "expected '#'",
                         buf[0]);
  if (len < 2)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: truncated header");
  if (buf[1] == '0')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: indefinite-length block (#0) is "
                         "not supported");
  if (buf[1] < '1' || buf[1] > '9')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: non-numeric digit count 0x%02x",
                         buf[1]);
  size_t nd = (size_t)(buf[1] - '0');
  if (len < 2 + nd)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: truncated header (%zu of %zu "
                         "length digits)",
                         len - 2, nd);
  size_t n = 0;
  for (size_t i = 0; i < nd; i++) {
    uint8_t c = buf[2 + i];
    if (c < '0' || c > '9')
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "ieee 488.2 block: non-numeric length digit "
                           "0x%02x",
                           c);
    n = n * 10 + (size_t)(c - '0'); /* at most 999999999: no overflow */
  }
  *header_len = 2 + nd;
  *data_len = n;
  return SHP_OK;
}

int shp_proto_ieee4882_block_parse(const uint8_t *buf, size_t len,
                                   const uint8_t **data, size_t *data_len,
                                   size_t *consumed) {
  size_t h, n;
  int rc = shp_proto_ieee4882_block_header(buf, len, &h, &n);
  if (rc != SHP_OK)
    return rc;
  if (len - h < n)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 block: truncated block: header "
                         "announces %zu bytes, %zu received",
                         n, len - h);
  *data = buf + h;
  *data_len = n;
  *consumed = h + n;
  return SHP_OK;
}

int shp_proto_scpi_decode_preamble(const char *reply, size_t len,
                                   shp_proto_scpi_preamble *pre) {
  static const char *const names[10] = {
      "preamble format",      "preamble type",        "preamble points",
      "preamble count",       "preamble x increment", "preamble x origin",
      "preamble x reference", "preamble y increment", "preamble y origin",
      "preamble y reference"};
  double v[10];
  size_t b, e, pos, used;
  trim(reply, len, &b, &e);
  pos = b;
  for (int k = 0; k < 10; k++) {
    if (pos >= e && k > 0)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "scpi preamble: %d fields, expected 10", k);
    const char *comma = memchr(reply + pos, ',', e - pos);
    size_t stop = comma ? (size_t)(comma - reply) : e;
    if (k < 9 && !comma)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "scpi preamble: %d fields, expected 10", k + 1);
    if (k == 9 && comma)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "scpi preamble: more than 10 fields");
    int rc =
        shp_proto_parse_number(reply + pos, stop - pos, names[k], &v[k], &used);
    if (rc != SHP_OK)
      return rc;
    if (used != stop - pos) {
      char ex[32];
      return shp_error_set(SHP_ERR_PROTOCOL, "%s: non-numeric field '%s'",
                           names[k],
                           shp_proto_excerpt(ex, reply + pos, stop - pos));
    }
    pos = stop + 1;
  }
  for (int k = 0; k < 4; k++)
    if (v[k] != floor(v[k]) || v[k] < 0 || v[k] > 4294967295.0)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: not a non-negative integer: %g", names[k],
                           v[k]);
  /* Format and acquisition type are small codes (0 BYTE, 1 WORD, 2 ASCII;
   * 0 normal, 1 peak, 2 average, ...): anything large is garbage, and would
   * not fit an int. */
  for (int k = 0; k < 2; k++)
    if (v[k] > 255)
      return shp_error_set(SHP_ERR_PROTOCOL, "%s: not a known code: %g",
                           names[k], v[k]);
  if (!(v[4] > 0))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "preamble x increment: must be > 0, got %g", v[4]);
  pre->format = (int)v[0];
  pre->type = (int)v[1];
  pre->points = (uint32_t)v[2];
  pre->count = (uint32_t)v[3];
  pre->x_increment_s = v[4];
  pre->x_origin_s = v[5];
  pre->x_reference = v[6];
  pre->y_increment_v = v[7];
  pre->y_origin = v[8];
  pre->y_reference = v[9];
  return SHP_OK;
}

double shp_proto_scpi_sample_time_s(const shp_proto_scpi_preamble *pre,
                                    size_t i) {
  return ((double)i - pre->x_reference) * pre->x_increment_s + pre->x_origin_s;
}

int shp_proto_scpi_scale_samples(const shp_proto_scpi_preamble *pre,
                                 shp_proto_scpi_waveform_flavour flavour,
                                 bool msb_first, const uint8_t *raw,
                                 size_t n_bytes, double *volts,
                                 size_t n_volts) {
  size_t width;
  if (pre->format == 0)
    width = 1;
  else if (pre->format == 1)
    width = 2;
  else
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi waveform: format %d is not BYTE or WORD",
                         pre->format);
  if (n_bytes % width != 0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "scpi waveform: %zu bytes is not a whole number of "
                         "%zu-byte samples",
                         n_bytes, width);
  size_t n = n_bytes / width;
  if (n > n_volts)
    return shp_error_set(
        SHP_ERR_RANGE, "scpi waveform: %zu samples, room for %zu", n, n_volts);
  for (size_t i = 0; i < n; i++) {
    double code;
    if (width == 1)
      code = raw[i];
    else if (msb_first)
      code = (double)(((unsigned)raw[2 * i] << 8) | raw[2 * i + 1]);
    else
      code = (double)(((unsigned)raw[2 * i + 1] << 8) | raw[2 * i]);
    if (flavour == SHP_PROTO_SCPI_WAVEFORM_RIGOL)
      volts[i] = (code - pre->y_origin - pre->y_reference) * pre->y_increment_v;
    else
      volts[i] = (code - pre->y_reference) * pre->y_increment_v + pre->y_origin;
  }
  return SHP_OK;
}

int shp_proto_scpi_decode_number_list(const char *reply, size_t len,
                                      double *values, size_t capacity,
                                      size_t *count) {
  char ex[32];
  size_t b, e, n = 0;
  trim(reply, len, &b, &e);
  if (b == e)
    return shp_error_set(SHP_ERR_PROTOCOL, "scpi list: empty answer");
  for (size_t pos = b;;) {
    const char *comma = memchr(reply + pos, ',', e - pos);
    size_t stop = comma ? (size_t)(comma - reply) : e, fb, fe, used;
    trim(reply + pos, stop - pos, &fb, &fe);
    if (fb == fe)
      return shp_error_set(SHP_ERR_PROTOCOL, "scpi list: field %zu is empty",
                           n + 1);
    if (n == capacity)
      return shp_error_set(SHP_ERR_PROTOCOL, "scpi list: more than %zu values",
                           capacity);
    char what[40];
    snprintf(what, sizeof what, "scpi list: field %zu", n + 1);
    int rc = shp_proto_parse_number(reply + pos + fb, fe - fb, what, &values[n],
                                    &used);
    if (rc != SHP_OK)
      return rc;
    if (used != fe - fb)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "scpi list: field %zu is not a number: '%s'", n + 1,
                           shp_proto_excerpt(ex, reply + pos + fb, fe - fb));
    if (fabs(values[n]) >= SHP_PROTO_SCPI_NAN_THRESHOLD)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "scpi list: field %zu: the instrument has no "
                           "valid value (%g)",
                           n + 1, values[n]);
    n++;
    if (comma == NULL)
      break;
    pos = stop + 1;
  }
  *count = n;
  return SHP_OK;
}

/* The bytes are copied into a float or double as they are: both must be
 * the IEEE 754 binary32 and binary64 of every platform the toolkit runs on. */
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8,
               "IEEE 754 binary32 and binary64 expected");

int shp_proto_ieee4882_decode_reals(const uint8_t *data, size_t n_bytes,
                                    size_t width, bool big_endian,
                                    double *values, size_t capacity,
                                    size_t *count) {
  if (width != 4 && width != 8)
    return shp_error_set(SHP_ERR_INVALID,
                         "ieee 488.2 reals: width %zu is not 4 or 8", width);
  if (n_bytes % width != 0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 reals: %zu bytes is not a whole number "
                         "of %zu-byte values",
                         n_bytes, width);
  size_t n = n_bytes / width;
  if (n > capacity)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "ieee 488.2 reals: %zu values, room for %zu", n,
                         capacity);
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = data + i * width;
    uint64_t bits = 0;
    for (size_t k = 0; k < width; k++)
      bits = (bits << 8) | p[big_endian ? k : width - 1 - k];
    double v;
    if (width == 4) {
      uint32_t b32 = (uint32_t)bits;
      float f;
      memcpy(&f, &b32, sizeof f);
      v = (double)f;
    } else {
      memcpy(&v, &bits, sizeof v);
    }
    if (!isfinite(v))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "ieee 488.2 reals: value %zu is not finite", i + 1);
    values[i] = v;
  }
  *count = n;
  return SHP_OK;
}
