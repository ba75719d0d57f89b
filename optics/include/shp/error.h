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

/* One table keeps the symbol, the value, the exit class and the sentence for
 * people in step. Each code has one meaning, and its class says how every
 * front end reports it: INPUT is the caller's input at fault (a bad file, a
 * value, a missing name: exit status 2), RUNTIME is the world at fault (a
 * device, a disk, memory: exit status 1). A file the caller names that
 * cannot be read is SHP_ERR_FILE (input); a result that cannot be written is
 * SHP_ERR_WRITE (runtime); a device or transport that fails is SHP_ERR_IO
 * (runtime). */
#define SHP_ERROR_TABLE(X)                                                     \
  X(SHP_OK, 0, NONE, "success")                                                \
  X(SHP_ERR_INVALID, -1, INPUT, "invalid argument")                            \
  X(SHP_ERR_NOMEM, -2, RUNTIME, "out of memory")                               \
  X(SHP_ERR_IO, -3, RUNTIME, "device input/output error")                      \
  X(SHP_ERR_PARSE, -4, INPUT, "malformed input")                               \
  X(SHP_ERR_RANGE, -5, INPUT, "value out of range")                            \
  X(SHP_ERR_NOT_FOUND, -6, INPUT, "not found")                                 \
  X(SHP_ERR_GRID, -7, INPUT, "grid too coarse or too short")                   \
  X(SHP_ERR_NUMERIC, -8, RUNTIME, "numerical failure")                         \
  X(SHP_ERR_MISMATCH, -9, INPUT, "structure does not match")                   \
  X(SHP_ERR_TIMEOUT, -10, RUNTIME, "the device did not answer in time")        \
  X(SHP_ERR_DISCONNECTED, -11, RUNTIME, "the device is gone")                  \
  X(SHP_ERR_PROTOCOL, -12, RUNTIME,                                            \
    "the device answered something unexpected")                                \
  X(SHP_ERR_SAFETY, -13, RUNTIME, "refused by the safety supervisor")          \
  X(SHP_ERR_CANCELLED, -14, RUNTIME, "stopped")                                \
  X(SHP_ERR_FILE, -15, INPUT, "a file cannot be read")                         \
  X(SHP_ERR_WRITE, -16, RUNTIME, "a result cannot be written")                 \
  X(SHP_ERR_BUSY, -17, RUNTIME, "in use by another process")

/* The exit classes of the table, and the process exit status of each
 * (DESIGN.md: 0 done, 1 runtime failure, 2 bad usage or input). */
typedef enum {
  SHP_ERROR_CLASS_NONE = 0,
  SHP_ERROR_CLASS_RUNTIME = 1,
  SHP_ERROR_CLASS_INPUT = 2
} shp_error_class;

typedef enum {
#define SHP_ERROR_ENUM_(sym, val, cls, text) sym = val,
  SHP_ERROR_TABLE(SHP_ERROR_ENUM_)
#undef SHP_ERROR_ENUM_
} shp_error;

/* The symbol name of a code ("SHP_ERR_RANGE"), for logs. Never NULL. */
const char *shp_error_name(int code);

/* The exit class of a code; an unknown negative code is RUNTIME. Its value
 * is the exit status a command-line front end gives for it. */
shp_error_class shp_error_class_of(int code);

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
