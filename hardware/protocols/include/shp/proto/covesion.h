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

/* The set-point frame's fields (README, "Set point"): at most this many
 * bytes each, as sent or echoed. */
#define SHP_PROTO_COVESION_SETPOINT_FIELDS 7
#define SHP_PROTO_COVESION_FIELD_MAX 16
/* Ramp-rate field: three decimals in C/s, so 0.001 C/s (0.06 K/min) is the
 * slowest ramp that can be written. */
#define SHP_PROTO_COVESION_RAMP_STEP_C_PER_S 0.001

/* The leading fields of the status ('j') answer, in the order they come. */
typedef struct {
  double setpoint_c;
  double temperature_c;
  int control; /* 0 off, 1 controlling, 5 temperature cycle */
  double output_percent;
  int alarms; /* the alarm configuration: bit 0 min, bit 1 max (0..3) */
  int faults; /* fault bit set; 0 = none */
  bool temperature_ok;
  double supply_v;
} shp_proto_covesion_status;

/* The set-point parameters as the controller reports them ('q' answer,
 * same seven fields as the 'i' frame): every field's text as received, for
 * sending back unchanged, and the ramp rate (field 4) parsed. */
typedef struct {
  char text[SHP_PROTO_COVESION_SETPOINT_FIELDS][SHP_PROTO_COVESION_FIELD_MAX];
  double ramp_c_per_s;
} shp_proto_covesion_setpoint;

/* The alarm settings ('d' answer): which alarms are enabled (bit 0 the
 * minimum, bit 1 the maximum) and their thresholds. */
typedef struct {
  int mode;
  double alarm_min_c, alarm_max_c;
} shp_proto_covesion_alarms;

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

/* A request without data for command letter `command` ('j' status, 'q'
 * set-point parameters, 'd' alarm settings): SOH, letter, "00", checksum. */
int shp_proto_covesion_encode_query(char *buf, size_t size, char command);

/* The 'i' set-point frame "1;<T>;f2;f3;<rate>;f5;f6;" (README, "Set
 * point"): field 0 "1" selects the set point given here (not the
 * potentiometer), T to three decimals, fields 2, 3, 5 and 6 (the analogue
 * set-point input's scaling) copied from `keep` as the controller reported
 * them, and the ramp rate: keep's own text when keep's rate is positive and
 * no faster than max_ramp_c_per_s, otherwise max_ramp_c_per_s rounded
 * down to three decimals (never up). SHP_ERR_RANGE for T outside [MIN,
 * MAX] or a limit below 0.001 C/s (it would round to 0, whose meaning is
 * unknown), SHP_ERR_INVALID for a keep field that is not a number. */
int shp_proto_covesion_encode_set_temperature(
    char *buf, size_t size, double temperature_c, double max_ramp_c_per_s,
    const shp_proto_covesion_setpoint *keep);

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

/* The data of a 'q' answer: seven numeric fields, each shorter than
 * FIELD_MAX; SHP_ERR_PROTOCOL otherwise. */
int shp_proto_covesion_decode_setpoint(const char *data, size_t len,
                                       shp_proto_covesion_setpoint *sp);

/* The data of a 'd' answer: at least three numeric fields, the first a
 * mode 0..3; SHP_ERR_PROTOCOL otherwise. */
int shp_proto_covesion_decode_alarms(const char *data, size_t len,
                                     shp_proto_covesion_alarms *alarms);

/* Whether an enabled alarm is active at temperature_c: below the minimum
 * with bit 0 set, or above the maximum with bit 1 set. */
bool shp_proto_covesion_alarm_active(const shp_proto_covesion_alarms *alarms,
                                     double temperature_c);

#ifdef __cplusplus
}
#endif
#endif
