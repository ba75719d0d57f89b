/* SCPI instruments: temperature controllers in the Thorlabs TED4015 manner,
 * IEEE 488.2 definite-length arbitrary blocks, and oscilloscope waveform
 * preambles for scaling samples to volts and seconds. Messages end with LF.
 * Sources and assumptions: hardware/protocols/scpi/README.md. */
#ifndef SHP_PROTO_SCPI_H
#define SHP_PROTO_SCPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SCPI's "not a number" (9.91E37) and anything from 9.9E37 up is refused
 * by decode_number as "no valid value". */
#define SHP_PROTO_SCPI_NAN_THRESHOLD 9.9e37

/* The sanity range of a TED-style set point; the supervisor applies the
 * crystal's real limits before this is ever reached. */
#define SHP_PROTO_SCPI_TSET_MIN_C -50.0
#define SHP_PROTO_SCPI_TSET_MAX_C 200.0

typedef enum {
  SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT, /* V = (code - yref) * yinc + yorigin */
  SHP_PROTO_SCPI_WAVEFORM_RIGOL,    /* V = (code - yorigin - yref) * yinc */
} shp_proto_scpi_waveform_flavour;

/* The ten fields of a WAV:PRE? answer, in their order. */
typedef struct {
  int format; /* 0 BYTE, 1 WORD (2 or 4 ASCII, not scaled here) */
  int type;   /* 0 normal, 1 peak, 2 average, ... */
  uint32_t points;
  uint32_t count;
  double x_increment_s, x_origin_s, x_reference;
  double y_increment_v, y_origin, y_reference;
} shp_proto_scpi_preamble;

/* "<command>\n" for a fixed command or query such as "MEAS:TEMP?" or
 * "OUTP ON". SHP_ERR_INVALID for an empty command or one holding CR, LF or
 * a non-printable byte; SHP_ERR_RANGE for a small buffer. */
int shp_proto_scpi_encode_command(char *buf, size_t size, const char *command);

/* "SOUR:TEMP <t>\n" with three decimals, in the unit set by "UNIT:TEMP C"
 * (the driver sends that first). SHP_ERR_RANGE outside [MIN, MAX]. */
int shp_proto_scpi_encode_set_temperature(char *buf, size_t size,
                                          double temperature_c);

/* A numeric answer (NR1, NR2 or NR3), with optional surrounding blanks and
 * a final LF or CR LF. SHP_ERR_PROTOCOL for garbage, overlong numbers,
 * trailing bytes, an empty answer or SCPI's not-a-number. */
int shp_proto_scpi_decode_number(const char *reply, size_t len, double *value);

/* A "SYST:ERR?" answer: <code>,"<message>". The message span points into
 * reply (without quotes). */
int shp_proto_scpi_decode_error(const char *reply, size_t len, int *code,
                                const char **message, size_t *message_len);

/* The header of a definite-length block "#<n><len>": n (1..9) digits give
 * the data length. Needs only the header bytes, so a transport can learn
 * how much to read. "#0" (indefinite length) is refused. */
int shp_proto_ieee4882_block_header(const uint8_t *buf, size_t len,
                                    size_t *header_len, size_t *data_len);

/* A whole block: *data points into buf, *consumed is header + data (the
 * caller skips a final LF itself). SHP_ERR_PROTOCOL for a truncated block. */
int shp_proto_ieee4882_block_parse(const uint8_t *buf, size_t len,
                                   const uint8_t **data, size_t *data_len,
                                   size_t *consumed);

/* Parses the comma-separated preamble (optional final LF). */
int shp_proto_scpi_decode_preamble(const char *reply, size_t len,
                                   shp_proto_scpi_preamble *pre);

/* Time of sample i: (i - x_reference) * x_increment + x_origin. */
double shp_proto_scpi_sample_time_s(const shp_proto_scpi_preamble *pre,
                                    size_t i);

/* Converts the block's data to volts: BYTE format takes one unsigned byte
 * per sample, WORD two (most significant first when msb_first). n_bytes
 * must be a whole number of samples; volts holds n_bytes / width values.
 * SHP_ERR_PROTOCOL for an odd WORD length or an ASCII/unknown format. */
int shp_proto_scpi_scale_samples(const shp_proto_scpi_preamble *pre,
                                 shp_proto_scpi_waveform_flavour flavour,
                                 bool msb_first, const uint8_t *raw,
                                 size_t n_bytes, double *volts, size_t n_volts);

/* A comma-separated list of numbers, such as an ASCII trace
 * "0.0,1.5E-01,-2\n": each field NR1, NR2 or NR3 with optional blanks
 * around it, the whole with an optional final LF or CR LF. Stores at most
 * capacity values and their count. SHP_ERR_PROTOCOL for an empty answer or
 * field, garbage, SCPI's not-a-number, or more than capacity values. */
int shp_proto_scpi_decode_number_list(const char *reply, size_t len,
                                      double *values, size_t capacity,
                                      size_t *count);

/* IEEE 754 binary reals, as a block's data carries them (SCPI FORMat
 * REAL,32 or REAL,64): width 4 or 8 bytes each, least significant byte
 * first unless big_endian. n_bytes must be a whole number of values.
 * Stores n_bytes / width values and their count. SHP_ERR_PROTOCOL for a
 * partial value, a NaN or an infinity, or more than capacity values;
 * SHP_ERR_INVALID for a width other than 4 or 8. */
int shp_proto_ieee4882_decode_reals(const uint8_t *data, size_t n_bytes,
                                    size_t width, bool big_endian,
                                    double *values, size_t capacity,
                                    size_t *count);

#ifdef __cplusplus
}
#endif
#endif
