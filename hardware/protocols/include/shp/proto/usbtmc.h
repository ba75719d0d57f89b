/* USBTMC (USB Test and Measurement Class 1.0) bulk message headers.
 *
 * Every bulk transfer starts with a 12-byte header: MsgID, bTag,
 * bTagInverse (one's complement of bTag), a reserved zero byte, then
 * message-specific bytes; TransferSize is little-endian. A DEV_DEP_MSG_OUT
 * carries the message bytes after the header, padded with zeros to a
 * multiple of 4. Sources: hardware/protocols/usbtmc/README.md. */
#ifndef SHP_PROTO_USBTMC_H
#define SHP_PROTO_USBTMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHP_PROTO_USBTMC_HEADER_SIZE 12
#define SHP_PROTO_USBTMC_DEV_DEP_MSG_OUT 1
#define SHP_PROTO_USBTMC_REQUEST_DEV_DEP_MSG_IN 2
#define SHP_PROTO_USBTMC_DEV_DEP_MSG_IN 2
#define SHP_PROTO_USBTMC_ATTR_EOM 0x01u
#define SHP_PROTO_USBTMC_ATTR_TERMCHAR 0x02u

/* The bTag of the next transfer: 1..255, never 0. Caller storage; set
 * last = 0 (or use _init) before the first call. */
typedef struct {
  uint8_t last;
} shp_proto_usbtmc_tag;

/* A received DEV_DEP_MSG_IN: data points into the buffer it came from. */
typedef struct {
  const uint8_t *data;
  size_t data_len; /* the header's TransferSize */
  bool eom;        /* the message ends in this transfer */
} shp_proto_usbtmc_in;

void shp_proto_usbtmc_tag_init(shp_proto_usbtmc_tag *tag);
/* Advances and returns the tag: 1, 2, ..., 255, 1, ... */
uint8_t shp_proto_usbtmc_tag_next(shp_proto_usbtmc_tag *tag);

/* Header + msg + zero padding to a multiple of 4 for DEV_DEP_MSG_OUT.
 * Returns the total length, SHP_ERR_RANGE for bTag 0, an empty message
 * (TransferSize must be > 0) or a small buffer. */
int shp_proto_usbtmc_encode_out(uint8_t *buf, size_t size, uint8_t btag,
                                const void *msg, size_t msg_len, bool eom);

/* The REQUEST_DEV_DEP_MSG_IN header asking for at most max_len bytes
 * (> 0); term_char 0..255 enables the TermChar attribute, -1 disables it.
 * Returns 12 or SHP_ERR_RANGE. */
int shp_proto_usbtmc_encode_request_in(uint8_t *buf, size_t size, uint8_t btag,
                                       uint32_t max_len, int term_char);

/* Checks a DEV_DEP_MSG_IN transfer against the request's bTag: MsgID,
 * bTag, bTagInverse, reserved byte, TransferSize not beyond what was
 * received (the rest is alignment padding, at most 3 bytes). */
int shp_proto_usbtmc_decode_in(const uint8_t *buf, size_t len, uint8_t btag,
                               shp_proto_usbtmc_in *in);

#ifdef __cplusplus
}
#endif
#endif
