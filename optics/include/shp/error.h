/* Error codes and messages shared by every library of the toolkit.
 *
 * Every fallible function returns an int: SHP_OK (0) on success, a negative
 * SHP_ERR_* code on failure. Functions that return a pointer return NULL on
 * failure. In both cases the sentence that explains what went wrong, naming
 * the file, line and key where input was at fault, is available from
 * shp_error_detail() on the same thread until the next failure. */
#ifndef SHP_ERROR_H
#define SHP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* One table keeps the symbol, the value and the sentence for people in step. */
#define SHP_ERROR_TABLE(X)                                                     \
  X(SHP_OK, 0, "success")                                                      \
  X(SHP_ERR_INVALID, -1, "invalid argument")                                   \
  X(SHP_ERR_NOMEM, -2, "out of memory")                                        \
  X(SHP_ERR_IO, -3, "input/output error")                                      \
  X(SHP_ERR_PARSE, -4, "malformed input")                                      \
  X(SHP_ERR_RANGE, -5, "value out of range")                                   \
  X(SHP_ERR_NOT_FOUND, -6, "not found")                                        \
  X(SHP_ERR_GRID, -7, "grid too coarse or too short")                          \
  X(SHP_ERR_NUMERIC, -8, "numerical failure")                                  \
  X(SHP_ERR_MISMATCH, -9, "structure does not match")                          \
  X(SHP_ERR_TIMEOUT, -10, "the device did not answer in time")                 \
  X(SHP_ERR_DISCONNECTED, -11, "the device is gone")                           \
  X(SHP_ERR_PROTOCOL, -12, "the device answered something unexpected")         \
  X(SHP_ERR_SAFETY, -13, "refused by the safety supervisor")                   \
  X(SHP_ERR_CANCELLED, -14, "stopped")

typedef enum {
#define SHP_ERROR_ENUM_(sym, val, text) sym = val,
  SHP_ERROR_TABLE(SHP_ERROR_ENUM_)
#undef SHP_ERROR_ENUM_
} shp_error;

/* The symbol name of a code ("SHP_ERR_RANGE"), for logs. Never NULL. */
const char *shp_error_name(int code);

/* The sentence for people ("value out of range"). Never NULL. */
const char *shp_strerror(int code);

/* The detailed message of the last failure on this thread, such as
 * "fan4.yml:12: crystals[2].length_mm: must be > 0, got -3". Returns the
 * generic sentence of the last code when no detail was given, and "" when
 * nothing failed yet. The string is owned by the library and valid until the
 * next call into the library on this thread. */
const char *shp_error_detail(void);

/* Forget the last failure on this thread. */
void shp_error_clear(void);

/* Record a failure and return its code, so callers can write
 * `return shp_error_set(SHP_ERR_RANGE, "%s: ...", path);`. For use by the
 * toolkit's libraries and by applications that report in the same style. */
int shp_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current detail with more context ("stack.yml: " + detail) and
 * return the current code. */
int shp_error_prefix(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The code of the last failure on this thread (SHP_OK when none). */
int shp_error_last(void);

/* Optional hook that receives every failure message as it is recorded (the
 * GUI shows them in the window). NULL removes it. Libraries never print. */
typedef void (*shp_error_handler)(int code, const char *message, void *user);
void shp_error_set_handler(shp_error_handler handler, void *user);

#ifdef __cplusplus
}
#endif
#endif
