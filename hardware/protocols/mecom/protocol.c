/* Meerstetter MeCom wire protocol; see README.md here and
 * shp/proto/mecom.h. */
#include "shp/proto/mecom.h"

#include "shp/error.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static const char hex_upper[] = "0123456789ABCDEF";

uint16_t shp_proto_mecom_crc16(const void *data, size_t len) {
  const unsigned char *p = data;
  uint16_t crc = 0x0000;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; b++)
      crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u)
                            : (uint16_t)(crc << 1);
  }
  return crc;
}

static void put_hex(char *dst, uint32_t v, int digits) {
  for (int i = digits - 1; i >= 0; i--) {
    dst[i] = hex_upper[v & 15u];
    v >>= 4;
  }
}

int shp_proto_mecom_encode_frame(char *buf, size_t size, char start,
                                 uint8_t address, uint16_t sequence,
                                 const char *payload, size_t payload_len) {
  if (start != '#' && start != '!')
    return shp_error_set(SHP_ERR_INVALID,
                         "mecom: start character must be '#' or '!'");
  if (payload_len > SHP_PROTO_MECOM_PAYLOAD_MAX)
    return shp_error_set(SHP_ERR_RANGE,
                         "mecom: payload of %zu bytes, at most %d", payload_len,
                         SHP_PROTO_MECOM_PAYLOAD_MAX);
  for (size_t i = 0; i < payload_len; i++)
    if (payload[i] < 0x20 || payload[i] > 0x7e)
      return shp_error_set(SHP_ERR_INVALID,
                           "mecom: payload byte %zu is not printable", i);
  size_t total = 7 + payload_len + 4 + 1;
  if (size < total)
    return shp_error_set(SHP_ERR_RANGE,
                         "mecom: buffer of %zu bytes, frame needs %zu", size,
                         total);
  buf[0] = start;
  put_hex(buf + 1, address, 2);
  put_hex(buf + 3, sequence, 4);
  if (payload_len > 0)
    memcpy(buf + 7, payload, payload_len);
  put_hex(buf + 7 + payload_len, shp_proto_mecom_crc16(buf, 7 + payload_len),
          4);
  buf[total - 1] = '\r';
  if (total < size)
    buf[total] = '\0';
  return (int)total;
}

int shp_proto_mecom_encode_read(char *buf, size_t size, uint8_t address,
                                uint16_t sequence, uint16_t parameter_id,
                                uint8_t instance) {
  char p[9] = "?VR";
  put_hex(p + 3, parameter_id, 4);
  put_hex(p + 7, instance, 2);
  return shp_proto_mecom_encode_frame(buf, size, '#', address, sequence, p, 9);
}

static int encode_set(char *buf, size_t size, uint8_t address,
                      uint16_t sequence, uint16_t parameter_id,
                      uint8_t instance, uint32_t raw) {
  char p[16] = "VS";
  put_hex(p + 2, parameter_id, 4);
  put_hex(p + 6, instance, 2);
  put_hex(p + 8, raw, 8);
  return shp_proto_mecom_encode_frame(buf, size, '#', address, sequence, p, 16);
}

int shp_proto_mecom_encode_set_int(char *buf, size_t size, uint8_t address,
                                   uint16_t sequence, uint16_t parameter_id,
                                   uint8_t instance, int32_t value) {
  return encode_set(buf, size, address, sequence, parameter_id, instance,
                    (uint32_t)value);
}

int shp_proto_mecom_encode_set_float(char *buf, size_t size, uint8_t address,
                                     uint16_t sequence, uint16_t parameter_id,
                                     uint8_t instance, float value) {
  uint32_t raw;
  if (!isfinite(value))
    return shp_error_set(SHP_ERR_RANGE, "mecom: value is not finite");
  memcpy(&raw, &value, sizeof raw);
  return encode_set(buf, size, address, sequence, parameter_id, instance, raw);
}

/* Address and sequence of a frame's header; the start is checked apart. */
static int parse_header(const char *s, size_t len, uint8_t *address,
                        uint16_t *sequence) {
  char ex[32];
  uint32_t a, q;
  if (len < 7)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: truncated frame of %zu bytes", len);
  if (!shp_proto_parse_hex(s + 1, 2, &a) || !shp_proto_parse_hex(s + 3, 4, &q))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: non-hex address or sequence in '%s'",
                         shp_proto_excerpt(ex, s, len));
  *address = (uint8_t)a;
  *sequence = (uint16_t)q;
  return SHP_OK;
}

static size_t strip_cr(const char *s, size_t len) {
  return (len > 0 && s[len - 1] == '\r') ? len - 1 : len;
}

int shp_proto_mecom_decode_frame(const char *reply, size_t len,
                                 shp_proto_mecom_frame *frame) {
  char ex[32];
  uint32_t crc;
  size_t n = strip_cr(reply, len);
  if (n == 0)
    return shp_error_set(SHP_ERR_PROTOCOL, "mecom: empty reply");
  if (reply[0] != '!' && reply[0] != '#')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: unexpected prefix in '%s', expected '!'",
                         shp_proto_excerpt(ex, reply, len));
  if (memchr(reply, '\r', n) != NULL)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: carriage return inside the frame '%s'",
                         shp_proto_excerpt(ex, reply, len));
  if (n < 11)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: truncated frame of %zu bytes", n);
  int rc = parse_header(reply, n, &frame->address, &frame->sequence);
  if (rc != SHP_OK)
    return rc;
  if (!shp_proto_parse_hex(reply + n - 4, 4, &crc))
    return shp_error_set(SHP_ERR_PROTOCOL, "mecom: non-hex CRC field in '%s'",
                         shp_proto_excerpt(ex, reply, len));
  uint16_t want = shp_proto_mecom_crc16(reply, n - 4);
  if (crc != want)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: bad CRC 0x%04X, computed 0x%04X",
                         (unsigned)crc, (unsigned)want);
  frame->start = reply[0];
  frame->payload = reply + 7;
  frame->payload_len = n - 11;
  frame->crc = (uint16_t)crc;
  return SHP_OK;
}

static int check_answer(const shp_proto_mecom_frame *f, uint8_t address,
                        uint16_t sequence) {
  if (f->start != '!')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: unexpected prefix '%c', expected '!'",
                         f->start);
  if (f->address != address)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: wrong address %u in the answer, sent %u",
                         (unsigned)f->address, (unsigned)address);
  if (f->sequence != sequence)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: wrong sequence number %u, expected %u",
                         (unsigned)f->sequence, (unsigned)sequence);
  if (f->payload_len >= 1 && f->payload[0] == '+') {
    uint32_t code;
    if (f->payload_len != 3 || !shp_proto_parse_hex(f->payload + 1, 2, &code))
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "mecom: malformed device error answer");
    return shp_error_set(SHP_ERR_PROTOCOL, "mecom: device error %u: %s",
                         (unsigned)code,
                         shp_proto_mecom_error_text((unsigned)code));
  }
  return SHP_OK;
}

int shp_proto_mecom_decode_value(const char *reply, size_t len, uint8_t address,
                                 uint16_t sequence, uint32_t *raw) {
  shp_proto_mecom_frame f;
  int rc = shp_proto_mecom_decode_frame(reply, len, &f);
  if (rc == SHP_OK)
    rc = check_answer(&f, address, sequence);
  if (rc != SHP_OK)
    return rc;
  if (f.payload_len != 8 || !shp_proto_parse_hex(f.payload, 8, raw))
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: value answer needs 8 hex digits, got %zu "
                         "bytes",
                         f.payload_len);
  return SHP_OK;
}

int shp_proto_mecom_decode_ack(const char *reply, size_t len, uint8_t address,
                               uint16_t sequence, uint16_t request_crc) {
  char ex[32];
  uint32_t crc;
  shp_proto_mecom_frame f = {0};
  size_t n = strip_cr(reply, len);
  if (n == 0)
    return shp_error_set(SHP_ERR_PROTOCOL, "mecom: empty reply");
  if (n != 11) {
    /* Not ACK-shaped: a device error answer is a normal CRC'd frame. */
    int rc = shp_proto_mecom_decode_frame(reply, len, &f);
    if (rc == SHP_OK)
      rc = check_answer(&f, address, sequence);
    if (rc != SHP_OK)
      return rc;
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: expected an ACK, got a %zu-byte payload",
                         f.payload_len);
  }
  int rc = parse_header(reply, n, &f.address, &f.sequence);
  if (rc != SHP_OK)
    return rc;
  f.start = reply[0];
  rc = check_answer(&f, address, sequence);
  if (rc != SHP_OK)
    return rc;
  if (!shp_proto_parse_hex(reply + 7, 4, &crc))
    return shp_error_set(SHP_ERR_PROTOCOL, "mecom: non-hex CRC field in '%s'",
                         shp_proto_excerpt(ex, reply, len));
  if (crc != request_crc)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "mecom: bad CRC 0x%04X in the ACK, request had "
                         "0x%04X",
                         (unsigned)crc, (unsigned)request_crc);
  return SHP_OK;
}

int shp_proto_mecom_request_crc(const char *request, size_t len,
                                uint16_t *crc) {
  shp_proto_mecom_frame f;
  int rc = shp_proto_mecom_decode_frame(request, len, &f);
  if (rc != SHP_OK)
    return rc;
  *crc = f.crc;
  return SHP_OK;
}

float shp_proto_mecom_as_float(uint32_t raw) {
  float v;
  memcpy(&v, &raw, sizeof v);
  return v;
}

int32_t shp_proto_mecom_as_int(uint32_t raw) {
  int32_t v;
  memcpy(&v, &raw, sizeof v);
  return v;
}

const char *shp_proto_mecom_error_text(unsigned code) {
  static const char *const text[] = {
      "unknown error",
      "command not available",
      "device is busy",
      "general communication error",
      "format error",
      "parameter not available",
      "parameter is read only",
      "value out of range",
      "parameter instance not available",
      "parameter general error",
  };
  return code < sizeof text / sizeof text[0] ? text[code] : text[0];
}
