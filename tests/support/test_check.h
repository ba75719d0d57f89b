/* Assertions the cmocka version here lacks, with messages that show the
 * numbers: a tolerance check for doubles, and checks of the library's last
 * error code and message. Include after <cmocka.h>. */
#ifndef SHP_TEST_CHECK_H
#define SHP_TEST_CHECK_H

#include "shp/error.h"

#include <math.h>
#include <string.h>

/* |a - b| <= tol, printing both values when not. */
#define assert_close(a, b, tol)                                                \
  check_close_at((a), (b), (tol), __FILE__, __LINE__)

static inline void check_close_at(double a, double b, double tol,
                                  const char *file, int line) {
  if (!(fabs(a - b) <= tol)) {
    print_error("%.17g differs from %.17g by %.3g, more than %.3g\n", a, b,
                fabs(a - b), tol);
    _fail(file, line);
  }
}

static inline void check_code_at(int code, const char *file, int line) {
  if (shp_error_last() != code) {
    print_error("error %s, expected %s; message: %s\n",
                shp_error_name(shp_error_last()), shp_error_name(code),
                shp_error_detail());
    _fail(file, line);
  }
}

/* The last failure has this code and exactly this message. */
#define assert_error_is(code, message)                                         \
  check_error_is_at((code), (message), __FILE__, __LINE__)

static inline void check_error_is_at(int code, const char *message,
                                     const char *file, int line) {
  check_code_at(code, file, line);
  if (strcmp(shp_error_detail(), message) != 0) {
    print_error("message \"%s\"\n   expected \"%s\"\n", shp_error_detail(),
                message);
    _fail(file, line);
  }
}

/* The last failure has this code and its message contains every needle. */
#define assert_error_has(code, ...)                                            \
  check_error_has_at((code), (const char *const[]){__VA_ARGS__, NULL},         \
                     __FILE__, __LINE__)

static inline void check_error_has_at(int code, const char *const *needles,
                                      const char *file, int line) {
  check_code_at(code, file, line);
  for (const char *const *n = needles; *n != NULL; n++)
    if (strstr(shp_error_detail(), *n) == NULL) {
      print_error("message \"%s\" lacks \"%s\"\n", shp_error_detail(), *n);
      _fail(file, line);
    }
}

#endif
