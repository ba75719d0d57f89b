/* Running a built program as a user runs it, from a cmocka test.
 *
 * spawn_run starts the program with posix_spawn, captures stdout and stderr
 * apart through pipes (read with poll, so neither can fill and block the
 * child), waits for it and returns its exit status with both streams. A
 * failure to run it, or a child that does not exit normally (a signal, a
 * sanitizer abort), fails the current test. */
#ifndef SHP_TEST_SPAWN_RUN_H
#define SHP_TEST_SPAWN_RUN_H

#include <stddef.h>

typedef struct {
  int status;      /* exit status */
  char *out, *err; /* stdout and stderr, each NUL-terminated */
  size_t out_len;  /* bytes written to stdout (> strlen(out) if one is NUL) */
} spawn_result;

/* Run program with args (NULL-terminated, without argv[0]) in this
 * process's environment less the variables named in env_remove (a
 * NULL-terminated list of names, or NULL), plus extra_env ("NAME=value")
 * when not NULL. Prints the command, its exit status and the first 300
 * characters of each stream. */
spawn_result spawn_run(const char *program, const char *const *env_remove,
                       const char *extra_env, const char *const *args);
void spawn_result_free(spawn_result *r);

/* Fails the test, printing haystack, when needle is not in it. */
void assert_contains(const char *haystack, const char *needle);

#endif
