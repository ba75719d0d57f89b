/* Helpers shared by the protocol codecs; see util.h. */
#include "util.h"

#include "shp/error.h"
#include "shp/numbers.h"

#include <math.h>
#include <string.h>

static int digit_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool shp_proto_parse_hex(const char *s, size_t n, uint32_t *out) {
  uint32_t v = 0;
  if (n == 0 || n > 8)
    return false;
  for (size_t i = 0; i < n; i++) {
    int d = digit_value(s[i]);
    if (d < 0)
      return false;
    v = (v << 4) | (uint32_t)d;
  }
  *out = v;
  return true;
}

const char *shp_proto_excerpt(char out[32], const char *s, size_t len) {
  size_t n = len < 24 ? len : 24;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
  }
  out[n] = '\0';
  if (len > n && n + 3 < 32)
    memcpy(out + n, "...", 4);
  return out;
}

/* Powers of ten that are exact in a double, for the fixed-point writer. */
static const double exact_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};

int shp_proto_parse_number(const char *s, size_t len, const char *what,
                           double *value, size_t *used) {
  char ex[32];
  size_t i = 0, span = 0;
  bool any_digit = false;

  while (span < len && (s[span] == '+' || s[span] == '-' || s[span] == '.' ||
                        s[span] == 'e' || s[span] == 'E' ||
                        (s[span] >= '0' && s[span] <= '9')))
    span++;
  if (span > SHP_PROTO_NUMBER_MAX)
    return shp_error_set(SHP_ERR_PROTOCOL, "%s: overlong number '%s'", what,
                         shp_proto_excerpt(ex, s, len));
  /* The grammar is checked here (strtod alone would also take "inf",
   * "nan", hex floats and leading blanks, none of which is IEEE 488.2); the
   * conversion is the toolkit's one locale-free parser. */
  if (i < len && (s[i] == '+' || s[i] == '-'))
    i++;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
    any_digit = true;
  if (i < len && s[i] == '.')
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
      any_digit = true;
  if (!any_digit)
    return shp_error_set(SHP_ERR_PROTOCOL, "%s: non-numeric field '%s'", what,
                         shp_proto_excerpt(ex, s, len));
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < len && (s[j] == '+' || s[j] == '-'))
      j++;
    if (j < len && s[j] >= '0' && s[j] <= '9') {
      while (j < len && s[j] >= '0' && s[j] <= '9')
        j++;
      i = j;
    } else {
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: non-numeric field '%s' (bad exponent)", what,
                           shp_proto_excerpt(ex, s, len));
    }
  }
  /* i <= span <= SHP_PROTO_NUMBER_MAX: the number fits the copy. */
  char text[SHP_PROTO_NUMBER_MAX + 1];
  memcpy(text, s, i);
  text[i] = '\0';
  double v = shp_strtod(text, NULL);
  if (!isfinite(v))
    return shp_error_set(SHP_ERR_PROTOCOL, "%s: number out of range '%s'", what,
                         shp_proto_excerpt(ex, s, len));
  *value = v;
  *used = i;
  return SHP_OK;
}

int shp_proto_format_fixed(char *dst, size_t size, double v, int decimals) {
  char tmp[40];
  size_t n = 0;
  if (!isfinite(v) || fabs(v) >= 1e12 || decimals < 0 || decimals > 6)
    return SHP_ERR_RANGE;
  double scaled = fabs(v) * exact_pow10[decimals];
  uint64_t q = (uint64_t)llround(scaled);
  uint64_t unit = (uint64_t)exact_pow10[decimals];
  uint64_t ip = q / unit, fp = q % unit;
  char digits[24];
  size_t nd = 0;
  if (v < 0 && q != 0)
    tmp[n++] = '-';
  do {
    digits[nd++] = (char)('0' + ip % 10);
    ip /= 10;
  } while (ip != 0);
  while (nd > 0)
    tmp[n++] = digits[--nd];
  if (decimals > 0) {
    tmp[n++] = '.';
    for (int k = decimals - 1; k >= 0; k--) {
      uint64_t div = (uint64_t)exact_pow10[k];
      tmp[n++] = (char)('0' + (fp / div) % 10);
    }
  }
  if (n + 1 > size)
    return SHP_ERR_RANGE;
  memcpy(dst, tmp, n);
  dst[n] = '\0';
  return (int)n;
}

bool shp_proto_append(char *dst, size_t size, size_t *pos, const char *src,
                      size_t n) {
  if (n > size || *pos > size - n)
    return false;
  memcpy(dst + *pos, src, n);
  *pos += n;
  return true;
}
