/* USBTMC bulk headers; see README.md here and shp/proto/usbtmc.h. */
#include "shp/proto/usbtmc.h"

#include "shp/error.h"

#include <string.h>

void shp_proto_usbtmc_tag_init(shp_proto_usbtmc_tag *tag) { tag->last = 0; }

uint8_t shp_proto_usbtmc_tag_next(shp_proto_usbtmc_tag *tag) {
  /* USBTMC 1.0 table 1: 1 <= bTag <= 255, different from the last one. */
  tag->last = tag->last == 255 ? 1 : (uint8_t)(tag->last + 1);
  return tag->last;
}

static void put_header(uint8_t *h, uint8_t msg_id, uint8_t btag,
                       uint32_t transfer_size) {
  memset(h, 0, SHP_PROTO_USBTMC_HEADER_SIZE);
  h[0] = msg_id;
  h[1] = btag;
  h[2] = (uint8_t)~btag;
  h[4] = (uint8_t)(transfer_size & 0xffu);
  h[5] = (uint8_t)((transfer_size >> 8) & 0xffu);
  h[6] = (uint8_t)((transfer_size >> 16) & 0xffu);
  h[7] = (uint8_t)((transfer_size >> 24) & 0xffu);
}

int shp_proto_usbtmc_encode_out(uint8_t *buf, size_t size, uint8_t btag,
                                const void *msg, size_t msg_len, bool eom) {
  if (btag == 0)
    return shp_error_set(SHP_ERR_RANGE, "usbtmc: bTag 0 is not allowed");
  if (msg_len == 0 || msg_len > 0x7fffffe0u)
    return shp_error_set(SHP_ERR_RANGE,
                         "usbtmc: message of %zu bytes (must be > 0)", msg_len);
  size_t total = SHP_PROTO_USBTMC_HEADER_SIZE + ((msg_len + 3) & ~(size_t)3);
  if (size < total)
    return shp_error_set(SHP_ERR_RANGE,
                         "usbtmc: buffer of %zu bytes, transfer needs %zu",
                         size, total);
  put_header(buf, SHP_PROTO_USBTMC_DEV_DEP_MSG_OUT, btag, (uint32_t)msg_len);
  buf[8] = eom ? SHP_PROTO_USBTMC_ATTR_EOM : 0;
  memcpy(buf + SHP_PROTO_USBTMC_HEADER_SIZE, msg, msg_len);
  memset(buf + SHP_PROTO_USBTMC_HEADER_SIZE + msg_len, 0,
         total - SHP_PROTO_USBTMC_HEADER_SIZE - msg_len);
  return (int)total;
}

int shp_proto_usbtmc_encode_request_in(uint8_t *buf, size_t size, uint8_t btag,
                                       uint32_t max_len, int term_char) {
  if (btag == 0)
    return shp_error_set(SHP_ERR_RANGE, "usbtmc: bTag 0 is not allowed");
  if (max_len == 0 || term_char < -1 || term_char > 255)
    return shp_error_set(SHP_ERR_RANGE,
                         "usbtmc: request of %u bytes, term char %d",
                         (unsigned)max_len, term_char);
  if (size < SHP_PROTO_USBTMC_HEADER_SIZE)
    return shp_error_set(SHP_ERR_RANGE,
                         "usbtmc: buffer of %zu bytes, header needs 12", size);
  put_header(buf, SHP_PROTO_USBTMC_REQUEST_DEV_DEP_MSG_IN, btag, max_len);
  if (term_char >= 0) {
    buf[8] = SHP_PROTO_USBTMC_ATTR_TERMCHAR;
    buf[9] = (uint8_t)term_char;
  }
  return SHP_PROTO_USBTMC_HEADER_SIZE;
}

int shp_proto_usbtmc_decode_in(const uint8_t *buf, size_t len, uint8_t btag,
                               shp_proto_usbtmc_in *in) {
  if (len < SHP_PROTO_USBTMC_HEADER_SIZE)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: truncated header: %zu of 12 bytes", len);
  if (buf[0] != SHP_PROTO_USBTMC_DEV_DEP_MSG_IN)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: MsgID %u, expected DEV_DEP_MSG_IN (2)",
                         buf[0]);
  if (buf[1] != btag)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: bTag %u does not match the request's %u",
                         buf[1], btag);
  if ((uint8_t)(buf[1] ^ buf[2]) != 0xffu)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: bTagInverse 0x%02x is not the inverse of "
                         "bTag 0x%02x",
                         buf[2], buf[1]);
  if (buf[3] != 0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: reserved header byte is 0x%02x", buf[3]);
  uint32_t n = (uint32_t)buf[4] | ((uint32_t)buf[5] << 8) |
               ((uint32_t)buf[6] << 16) | ((uint32_t)buf[7] << 24);
  size_t got = len - SHP_PROTO_USBTMC_HEADER_SIZE;
  if (n > got)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: truncated transfer: header announces %u "
                         "bytes, %zu received",
                         (unsigned)n, got);
  if (got - n > 3)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "usbtmc: %zu bytes after the %u announced (more "
                         "than alignment)",
                         got - n, (unsigned)n);
  in->data = buf + SHP_PROTO_USBTMC_HEADER_SIZE;
  in->data_len = n;
  in->eom = (buf[8] & SHP_PROTO_USBTMC_ATTR_EOM) != 0;
  return SHP_OK;
}
