/* Meerstetter TEC controllers: MeCom frames over USB-serial.
 *
 * Request: '#', address (2 hex digits), sequence number (4 hex digits),
 * payload, CRC (4 hex digits), CR. Answers start with '!' and echo the
 * address and sequence number. The CRC is CRC-16/XMODEM (CCITT polynomial
 * 0x1021, initial value 0, no reflection, no final XOR; check value of
 * "123456789" is 0x31C3) over every character from the start character to
 * the end of the payload. Sources and assumptions: mecom/README.md. */
#ifndef SHP_PROTO_MECOM_H
#define SHP_PROTO_MECOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHP_PROTO_MECOM_PAYLOAD_MAX 200

/* A few parameter ids of the TEC family (README: where they come from). */
#define SHP_PROTO_MECOM_PAR_DEVICE_STATUS 104
#define SHP_PROTO_MECOM_PAR_OBJECT_TEMPERATURE 1000
#define SHP_PROTO_MECOM_PAR_TARGET_OBJECT_TEMPERATURE 3000
/* FLOAT32, K/s: the controller's ramp of the target temperature. */
#define SHP_PROTO_MECOM_PAR_COARSE_TEMP_RAMP 3003

/* A checked frame; payload points into the buffer it was decoded from. */
typedef struct {
  char start; /* '#' or '!' */
  uint8_t address;
  uint16_t sequence;
  const char *payload;
  size_t payload_len;
  uint16_t crc;
} shp_proto_mecom_frame;

/* CRC-16/XMODEM of data[0..len). */
uint16_t shp_proto_mecom_crc16(const void *data, size_t len);

/* A frame starting with `start` ('#' for requests; '!' to build test
 * answers) around payload (printable ASCII, 0..200 bytes). Returns the
 * length (NUL-terminated when room allows), SHP_ERR_INVALID for a bad start
 * or payload byte, SHP_ERR_RANGE for an overlong payload or small buffer. */
int shp_proto_mecom_encode_frame(char *buf, size_t size, char start,
                                 uint8_t address, uint16_t sequence,
                                 const char *payload, size_t payload_len);

/* "?VR" + parameter id (4 hex) + instance (2 hex): read a value. */
int shp_proto_mecom_encode_read(char *buf, size_t size, uint8_t address,
                                uint16_t sequence, uint16_t parameter_id,
                                uint8_t instance);

/* "VS" + id + instance + value (8 hex: the INT32 two's complement, or the
 * IEEE 754 single-precision bit pattern): set a value. SHP_ERR_RANGE for a
 * float that is not finite. */
int shp_proto_mecom_encode_set_int(char *buf, size_t size, uint8_t address,
                                   uint16_t sequence, uint16_t parameter_id,
                                   uint8_t instance, int32_t value);
int shp_proto_mecom_encode_set_float(char *buf, size_t size, uint8_t address,
                                     uint16_t sequence, uint16_t parameter_id,
                                     uint8_t instance, float value);

/* Checks framing and CRC of any frame (with or without the final CR):
 * start character, hex address and sequence, CRC. SHP_ERR_PROTOCOL with
 * the reason otherwise. Does not accept an ACK (see decode_ack). */
int shp_proto_mecom_decode_frame(const char *reply, size_t len,
                                 shp_proto_mecom_frame *frame);

/* The answer to a "?VR" request with this address and sequence: 8 hex
 * digits of value. A device error answer ("+" and a 2-digit code) gives
 * SHP_ERR_PROTOCOL naming the code. *raw is the 32-bit pattern; use
 * shp_proto_mecom_as_float / as_int to interpret it. */
int shp_proto_mecom_decode_value(const char *reply, size_t len, uint8_t address,
                                 uint16_t sequence, uint32_t *raw);

/* The ACK to a "VS" request: '!', address, sequence and, in place of its
 * own CRC, the CRC of the request it acknowledges (request_crc). */
int shp_proto_mecom_decode_ack(const char *reply, size_t len, uint8_t address,
                               uint16_t sequence, uint16_t request_crc);

/* The CRC field of an encoded request (the 4 hex digits before the CR). */
int shp_proto_mecom_request_crc(const char *request, size_t len, uint16_t *crc);

float shp_proto_mecom_as_float(uint32_t raw);
int32_t shp_proto_mecom_as_int(uint32_t raw);

/* The meaning of a device error code (1..9), "unknown error" otherwise. */
const char *shp_proto_mecom_error_text(unsigned code);

#ifdef __cplusplus
}
#endif
#endif
