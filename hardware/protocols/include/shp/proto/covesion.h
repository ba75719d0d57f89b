/* Covesion OC1/OC2-style crystal oven controllers: checksummed frames over
 * USB-serial (19200 8N1).
 *
 * A frame is SOH (0x01), one command letter, the data length as two decimal
 * digits, the data (fields ended by ';'), and a checksum: the sum of every
 * byte from SOH to the end of the data, modulo 256, as two hex digits.
 * "\x01j00CB" asks for the status. No vendor document was found: the frame
 * layout is reconstructed from public drivers; see covesion/README.md for
 * what is assumed. */
#ifndef SHP_PROTO_COVESION_H
#define SHP_PROTO_COVESION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHP_PROTO_COVESION_SOH 0x01
#define SHP_PROTO_COVESION_DATA_MAX 99
#define SHP_PROTO_COVESION_TSET_MIN_C 20.0
#define SHP_PROTO_COVESION_TSET_MAX_C 200.0

/* The leading fields of the status ('j') answer, in the order they come. */
typedef struct {
  double setpoint_c;
  double temperature_c;
  int control; /* 0 off, 1 controlling, 5 temperature cycle */
  double output_percent;
  int alarms; /* non-zero: an alarm is active */
  int faults; /* fault bit set; 0 = none */
  bool temperature_ok;
  double supply_v;
} shp_proto_covesion_status;

/* The checksum of a frame prefix: sum of the bytes modulo 256. */
uint8_t shp_proto_covesion_checksum(const void *data, size_t len);

/* A frame for command letter `command` (a..z, A..Z) with `data`
 * (0..99 bytes, no SOH/CR/LF in it). Returns the length written
 * (NUL-terminated when room allows), SHP_ERR_INVALID for a bad letter or
 * data byte, SHP_ERR_RANGE for data longer than 99 or a small buffer. */
int shp_proto_covesion_encode(char *buf, size_t size, char command,
                              const char *data, size_t data_len);

/* "\x01j00CB": the status request. */
int shp_proto_covesion_encode_status_query(char *buf, size_t size);

/* The 'i' set-point frame "1;<T>;25.000;0.000;25;100.00;0.00;" with T to
 * three decimals (field layout: README, assumption A2). SHP_ERR_RANGE
 * outside [MIN, MAX]. */
int shp_proto_covesion_encode_set_temperature(char *buf, size_t size,
                                              double temperature_c);

/* Checks a received frame (optionally followed by CR and/or LF): SOH,
 * letter, two-digit length equal to the data length, checksum. Stores the
 * letter and the data span (pointing into reply). SHP_ERR_PROTOCOL with the
 * reason otherwise (unexpected prefix, bad length, bad checksum, trailing
 * bytes, truncated). */
int shp_proto_covesion_decode(const char *reply, size_t len, char *command,
                              const char **data, size_t *data_len);

/* The data of a status ('j') answer: at least eight ';'-separated fields. */
int shp_proto_covesion_decode_status(const char *data, size_t len,
                                     shp_proto_covesion_status *status);

#ifdef __cplusplus
}
#endif
#endif
