/* Helpers shared by the protocol codecs (private to shp_protocols).
 *
 * Everything here reads only the bytes it is given a length for and never
 * depends on the C locale: a GTK program calls setlocale(LC_ALL, ""), after
 * which printf and strtod would write and expect a decimal comma in many
 * locales, while every instrument speaks with a decimal point. */
#ifndef SHP_PROTO_UTIL_H
#define SHP_PROTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest number text accepted from an instrument; longer is "overlong". */
#define SHP_PROTO_NUMBER_MAX 32

/* Parses a decimal number (IEEE 488.2 NR1, NR2 or NR3: optional sign,
 * digits with an optional point, optional exponent) at the start of
 * s[0..len). On success stores the value and the count of bytes used and
 * returns SHP_OK; otherwise returns SHP_ERR_PROTOCOL with a message naming
 * `what` ("tc200 reply: non-numeric field ..."). */
int shp_proto_parse_number(const char *s, size_t len, const char *what,
                           double *value, size_t *used);

/* Parses exactly n hexadecimal digits (either case) into *out. n <= 8. */
bool shp_proto_parse_hex(const char *s, size_t n, uint32_t *out);

/* Writes v with exactly `decimals` digits after the point (0..6), rounded
 * half away from zero, NUL-terminated. |v| must be below 1e12. Returns the
 * length, or SHP_ERR_RANGE when it does not fit in size. */
int shp_proto_format_fixed(char *dst, size_t size, double v, int decimals);

/* Appends src[0..n) to dst at *pos, within size; false when it overflows. */
bool shp_proto_append(char *dst, size_t size, size_t *pos, const char *src,
                      size_t n);

/* A printable rendering of up to 24 bytes of untrusted input for an error
 * message: control and non-ASCII bytes become '.', NUL-terminated. */
const char *shp_proto_excerpt(char out[32], const char *s, size_t len);

#endif
