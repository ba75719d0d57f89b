/* Reading shapectl's JSON in tests, failing with a message that says what
 * was missing. Include after <cmocka.h>. */
#ifndef SHP_TEST_JSON_CHECK_H
#define SHP_TEST_JSON_CHECK_H

#include <jansson.h>
#include <stdlib.h>

/* stdout as one JSON value: without JSON_DISABLE_EOF_CHECK anything after
 * the value (but whitespace) is an error, so stdout holds nothing else. */
static inline json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    fail_msg("stdout is not one JSON value (line %d: %s)", e.line, e.text);
  return j;
}

static inline double number(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_number(v))
    fail_msg("\"%s\" is missing or not a number (null means not finite)", key);
  return json_number_value(v);
}

/* An array of numbers, copied out (free it); *n receives its length. */
static inline double *numbers(const json_t *obj, const char *key, size_t *n) {
  json_t *a = json_object_get(obj, key);
  if (!json_is_array(a))
    fail_msg("\"%s\" is missing or not an array", key);
  *n = json_array_size(a);
  double *v = malloc((*n ? *n : 1) * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < *n; i++) {
    json_t *x = json_array_get(a, i);
    if (!json_is_number(x))
      fail_msg("%s[%zu] is not a number", key, i);
    v[i] = json_number_value(x);
  }
  return v;
}

#endif
