#include "shp/error.h"
#include "shp/numbers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_MAX 1024

static _Thread_local int last_code;
static _Thread_local char detail[DETAIL_MAX];
static shp_error_handler handler;
static void *handler_user;

const char *shp_error_name(int code) {
  switch (code) {
#define SHP_ERROR_NAME_(sym, val, cls, text)                                   \
  case val:                                                                    \
    return #sym;
    SHP_ERROR_TABLE(SHP_ERROR_NAME_)
#undef SHP_ERROR_NAME_
  }
  return "SHP_ERR_UNKNOWN";
}

const char *shp_strerror(int code) {
  switch (code) {
#define SHP_ERROR_TEXT_(sym, val, cls, text)                                   \
  case val:                                                                    \
    return text;
    SHP_ERROR_TABLE(SHP_ERROR_TEXT_)
#undef SHP_ERROR_TEXT_
  }
  return "unknown error";
}

shp_error_class shp_error_class_of(int code) {
  switch (code) {
#define SHP_ERROR_CLASS_(sym, val, cls, text)                                  \
  case val:                                                                    \
    return SHP_ERROR_CLASS_##cls;
    SHP_ERROR_TABLE(SHP_ERROR_CLASS_)
#undef SHP_ERROR_CLASS_
  }
  return SHP_ERROR_CLASS_RUNTIME;
}

const char *shp_error_detail(void) {
  if (detail[0] != '\0')
    return detail;
  return last_code == SHP_OK ? "" : shp_strerror(last_code);
}

void shp_error_clear(void) {
  last_code = SHP_OK;
  detail[0] = '\0';
}

int shp_error_last(void) { return last_code; }

void shp_error_set_handler(shp_error_handler h, void *user) {
  handler = h;
  handler_user = user;
}

static void notify(void) {
  if (handler != NULL)
    handler(last_code, detail, handler_user);
}

int shp_error_set(int code, const char *fmt, ...) {
  last_code = code;
  if (fmt == NULL) {
    detail[0] = '\0';
  } else {
    va_list ap;
    va_start(ap, fmt);
    shp_vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
  }
  notify();
  return code;
}

int shp_error_prefix(const char *fmt, ...) {
  char prefix[DETAIL_MAX];
  char old[DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  shp_vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  snprintf(old, sizeof old, "%s", shp_error_detail());
  /* Prefix first; the old detail fills what room is left. */
  size_t used = strnlen(prefix, sizeof detail - 1);
  memcpy(detail, prefix, used);
  size_t rest = strnlen(old, sizeof detail - 1 - used);
  memcpy(detail + used, old, rest);
  detail[used + rest] = '\0';
  if (last_code == SHP_OK)
    last_code = SHP_ERR_INVALID;
  return last_code;
}
