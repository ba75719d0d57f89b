/* The pulsecheck driver's private state and its exchanges on the wire.
 * protocol.c sends one SCPI command and reads its answer (a text line or an
 * IEEE 488.2 definite-length block), using the pure codec shp/proto/scpi.h;
 * api.c reads the options and is the driver table. README.md here says
 * which command comes from which source. */
#ifndef SHP_PULSECHECK_PROTOCOL_H
#define SHP_PULSECHECK_PROTOCOL_H

#include "shp/hw.h"
#include "shp/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text answer taken (*IDN?, SYST:ERR?, a scan range). */
#define PULSECHECK_LINE_MAX 512
/* Longest command, the line end included. */
#define PULSECHECK_COMMAND_MAX 130
/* Bytes per value budgeted for an ASCII trace: sign, 17 digits, point,
 * exponent and the comma fit in 28. */
#define PULSECHECK_ASCII_BYTES_PER_VALUE 28
/* Blank bytes (CR, LF, space) skipped before an answer: the line end an
 * instrument sends after a block may arrive after the next command. */
#define PULSECHECK_MAX_BLANKS 4
/* How long the rest of an answer that is not the expected block may take
 * to arrive (at most the connection's timeout): it is an error already,
 * read only for the message. */
#define PULSECHECK_REST_WAIT_S 0.25

typedef enum { PULSECHECK_BLOCK, PULSECHECK_ASCII } pulsecheck_format;
typedef enum { PULSECHECK_PAIRS, PULSECHECK_SIGNAL } pulsecheck_layout;

/* The lab file's options, defaults filled in (README.md, "Options"). */
typedef struct {
  char trace_query[PULSECHECK_COMMAND_MAX];
  pulsecheck_format format;
  size_t block_width; /* 4 (float32) or 8 (float64) */
  bool big_endian;
  pulsecheck_layout layout;
  double delay_to_ps; /* the instrument's delay unit, in ps */
  char scan_range_query[PULSECHECK_COMMAND_MAX]; /* "" when not used */
  double scan_range_to_ps;
  double scan_range_ps;                     /* fixed; 0 when queried */
  char error_query[PULSECHECK_COMMAND_MAX]; /* "" when not used */
  bool instrument_averages;
  double scan_interval_s;
  const char *line_end; /* "\r\n" or "\n" */
} pulsecheck_options;

struct shp_device {
  shp_transport *io;
  shp_clock *clock; /* borrowed; may be NULL */
  pulsecheck_options opt;
  char idn[PULSECHECK_LINE_MAX];
  char line[PULSECHECK_LINE_MAX];
  uint8_t *raw; /* one trace answer: block data or the ASCII line */
  size_t raw_size;
  double *values; /* the numbers of one trace answer */
  size_t values_cap;
};

/* Drop stale input, then send command with the configured line end.
 * Errors: the transport's (SHP_ERR_TIMEOUT, SHP_ERR_DISCONNECTED,
 * SHP_ERR_IO), SHP_ERR_INVALID for an unprintable or overlong command. */
int pulsecheck_send(shp_device *d, const char *command);

/* Send a query and read its text answer into d->line (line end stripped,
 * NUL-terminated; *len may be NULL): a line, or a definite-length block
 * holding the text. Blank bytes before it are skipped. SHP_ERR_PROTOCOL
 * for an overlong answer. */
int pulsecheck_query_line(shp_device *d, const char *query, size_t *len);

/* A query answered by one number. */
int pulsecheck_query_number(shp_device *d, const char *query, double *value);

/* Ask the error query, when one is configured: an answer other than
 * 0,"..." is SHP_ERR_PROTOCOL naming the code, the message and after what
 * it was raised. */
int pulsecheck_check_error(shp_device *d, const char *after);

/* Send the trace query and decode its answer (a block of binary reals or
 * an ASCII list, by the options) into d->values. An answer that is an
 * SCPI error (<code>,"<message>") instead is SHP_ERR_PROTOCOL naming it. */
int pulsecheck_query_trace(shp_device *d, size_t *count);

#endif
