#include "shp/numbers.h"

#include "shp/error.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) {
  /* newlocale cannot fail for "C" short of memory; LC_GLOBAL_LOCALE then
   * keeps the functions usable (with the process locale) rather than
   * undefined. */
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t the_c_locale(void) {
  pthread_once(&c_locale_once, make_c_locale);
  return c_locale != (locale_t)0 ? c_locale : LC_GLOBAL_LOCALE;
}

double shp_strtod(const char *s, char **end) {
  locale_t loc = the_c_locale();
  if (loc == LC_GLOBAL_LOCALE)
    return strtod(s, end);
  return strtod_l(s, end, loc);
}

int shp_parse_double(const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  double v = shp_strtod(s, &end);
  if (end == s)
    return SHP_ERR_PARSE;
  while (isspace((unsigned char)*end))
    end++;
  if (*end != '\0' || errno == ERANGE || !isfinite(v))
    return SHP_ERR_PARSE;
  *out = v;
  return SHP_OK;
}

int shp_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  locale_t old = uselocale(the_c_locale());
  int n = vsnprintf(buf, size, fmt, ap);
  uselocale(old);
  return n;
}

int shp_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = shp_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int shp_fprintf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  locale_t old = uselocale(the_c_locale());
  int n = vfprintf(f, fmt, ap);
  uselocale(old);
  va_end(ap);
  return n;
}

void shp_format_shortest(char *buf, size_t size, double v) {
  for (int digits = 6; digits <= 17; digits++) {
    shp_snprintf(buf, size, "%.*g", digits, v);
    if (shp_strtod(buf, NULL) == v)
      break;
  }
}
