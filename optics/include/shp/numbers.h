/* Numbers in files, protocols and JSON, the same under every locale.
 *
 * A GTK program calls setlocale(LC_ALL, ""), after which strtod and printf
 * read and write a decimal comma in many locales ("4,0" under de_DE), while
 * every file, instrument and script this toolkit talks to uses a decimal
 * point. Every reader and writer of numbers goes through these functions,
 * which always use the C locale and leave the thread's locale as it was. */
#ifndef SHP_NUMBERS_H
#define SHP_NUMBERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* strtod in the C locale: the same contract as strtod(3), errno included. */
double shp_strtod(const char *s, char **end);

/* Parses all of s (leading and trailing blanks allowed) as one finite
 * number. Returns SHP_OK, or SHP_ERR_PARSE without recording a message (the
 * caller names the file, line and key): the text is empty or not a number,
 * or it is out of the range of a double (1e999) or not finite (nan, inf). */
int shp_parse_double(const char *s, double *out);

/* snprintf, vsnprintf and fprintf in the C locale. */
int shp_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int shp_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int shp_fprintf(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The shortest decimal that reads back as the same double (at least 6
 * significant digits), so a file written and read again gives identical
 * numbers. size >= 32 holds every double. */
void shp_format_shortest(char *buf, size_t size, double v);

#ifdef __cplusplus
}
#endif
#endif
