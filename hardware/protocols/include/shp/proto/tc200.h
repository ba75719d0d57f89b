/* Thorlabs TC200 heater controller: ASCII commands over USB-serial.
 *
 * Commands are lower-case keywords ended by a carriage return: "tset=40.0\r"
 * sets the target, "tact?\r" asks for the actual temperature. The unit
 * echoes each command, then prints its answer (if any) and a "> " prompt.
 * "ens" TOGGLES the heater output: a driver must read "stat?" first and send
 * "ens" only when the state differs from the wanted one.
 * Sources and assumptions: hardware/protocols/tc200/README.md. */
#ifndef SHP_PROTO_TC200_H
#define SHP_PROTO_TC200_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The range "tset=" accepts (heater only: not below 20 C). */
#define SHP_PROTO_TC200_TSET_MIN_C 20.0
#define SHP_PROTO_TC200_TSET_MAX_C 200.0

/* The status byte of "stat?" (hexadecimal; bit layout: README). */
typedef struct {
  unsigned raw;        /* the number as sent, read as hexadecimal */
  bool output_enabled; /* bit 0 (0x01): the heater output is on */
  bool sensor_alarm;   /* bit 6 (0x40): the sensor alarm is set */
} shp_proto_tc200_status;

/* The set point as the instrument shows it: temperature_c rounded to
 * 0.1 C, correctly rounded from its exact binary value and half to even
 * (as QMI's "{:.1f}" formats it; README). */
double shp_proto_tc200_round_setpoint(double temperature_c);

/* "tset=<t>\r" with t = shp_proto_tc200_round_setpoint(temperature_c), one
 * decimal. Returns the length written (without a terminating NUL, which is
 * written when room allows), SHP_ERR_RANGE when temperature_c is outside
 * [MIN, MAX] or not finite, or buf is too small. */
int shp_proto_tc200_encode_set_temperature(char *buf, size_t size,
                                           double temperature_c);

/* "<keyword>?\r" for a query such as "tact", "tset", "stat", "tmax",
 * "*idn". keyword: 1..15 characters of [a-z0-9*]. Returns the length,
 * SHP_ERR_INVALID for a bad keyword, SHP_ERR_RANGE when buf is too small. */
int shp_proto_tc200_encode_query(char *buf, size_t size, const char *keyword);

/* "ens\r": toggles the output. Named so no caller mistakes it for "on". */
int shp_proto_tc200_encode_toggle_output(char *buf, size_t size);

/* Finds the answer in everything read after sending `command` (the
 * command as encoded, with or without its "\r"), up to and including the
 * prompt: strips the echo when present, the prompt, and surrounding white
 * space. *body points into reply; *body_len may be 0 (a setter's answer).
 * SHP_ERR_PROTOCOL: no prompt at the end, an echo of another command, or an
 * error text ("Command error CMD_NOT_DEFINED", "CMD_ARG_RANGE_ERR"). */
int shp_proto_tc200_reply_body(const char *reply, size_t len,
                               const char *command, const char **body,
                               size_t *body_len);

/* A temperature answer ("24.3 C", "75.0 F", "300.0 K", or a bare number,
 * which is taken as Celsius) converted to Celsius. SHP_ERR_PROTOCOL for a
 * non-numeric, overlong or empty field or an unknown unit. */
int shp_proto_tc200_decode_temperature(const char *body, size_t len,
                                       double *temperature_c);

/* The "stat?" answer: 1..4 hexadecimal digits, optionally followed by white
 * space and alarm text. SHP_ERR_PROTOCOL otherwise. */
int shp_proto_tc200_decode_status(const char *body, size_t len,
                                  shp_proto_tc200_status *status);

#ifdef __cplusplus
}
#endif
#endif
