#include "spawn_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

typedef struct {
  char *data;
  size_t len, cap;
  int fd;
} capture;

static void capture_read(capture *c) {
  if (c->len + 65536 + 1 > c->cap) {
    c->cap = 2 * c->cap + 65536 + 1;
    c->data = realloc(c->data, c->cap);
    assert_non_null(c->data);
  }
  ssize_t n = read(c->fd, c->data + c->len, c->cap - c->len - 1);
  if (n < 0 && errno == EINTR)
    return;
  assert_true(n >= 0);
  if (n == 0) {
    close(c->fd);
    c->fd = -1;
  }
  c->len += (size_t)n;
  c->data[c->len] = '\0';
}

static bool removed(const char *entry, const char *const *env_remove) {
  for (size_t i = 0; env_remove != NULL && env_remove[i] != NULL; i++) {
    size_t len = strlen(env_remove[i]);
    if (strncmp(entry, env_remove[i], len) == 0 && entry[len] == '=')
      return true;
  }
  return false;
}

/* This process's environment without the variables in env_remove, plus
 * extra when not NULL. */
static char **child_env(const char *const *env_remove, const char *extra) {
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **env = calloc(n + 2, sizeof *env);
  assert_non_null(env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!removed(environ[i], env_remove))
      env[k++] = environ[i];
  if (extra != NULL)
    env[k++] = (char *)extra;
  env[k] = NULL;
  return env;
}

/* Print at most the first 300 characters of a stream: a simulation's JSON
 * runs to hundreds of kilobytes. */
static void print_head(const char *name, const char *text) {
  size_t len = strlen(text);
  print_message("%s: %.*s%s\n", name, (int)(len < 300 ? len : 300), text,
                len > 300 ? " [...]" : "");
}

spawn_result spawn_run(const char *program, const char *const *env_remove,
                       const char *extra_env, const char *const *args) {
  size_t nargs = 0;
  while (args[nargs] != NULL)
    nargs++;
  const char **argv = calloc(nargs + 2, sizeof *argv);
  assert_non_null(argv);
  argv[0] = program;
  memcpy(argv + 1, args, nargs * sizeof *argv);
  argv[nargs + 1] = NULL;
  int out[2], err[2];
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  char **env = child_env(env_remove, extra_env);
  pid_t pid;
  int rc = posix_spawn(&pid, program, &fa, NULL, (char *const *)argv, env);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  free(argv);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    fail_msg("cannot run %s: %s", program, strerror(rc));
  }
  capture c[2] = {{.fd = out[0]}, {.fd = err[0]}};
  while (c[0].fd >= 0 || c[1].fd >= 0) {
    struct pollfd p[2] = {{.fd = c[0].fd, .events = POLLIN},
                          {.fd = c[1].fd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      assert_int_equal(errno, EINTR);
      continue;
    }
    for (int i = 0; i < 2; i++)
      if (c[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
        capture_read(&c[i]);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  const char *name = strrchr(program, '/');
  name = name != NULL ? name + 1 : program;
  if (!WIFEXITED(status))
    fail_msg("%s did not exit normally (status 0x%x)", name, status);
  spawn_result r = {WEXITSTATUS(status), c[0].data ? c[0].data : strdup(""),
                    c[1].data ? c[1].data : strdup(""), c[0].len};
  assert_non_null(r.out);
  assert_non_null(r.err);
  print_message("$ %s", name);
  for (size_t i = 0; i < nargs; i++)
    print_message(" %s", args[i]);
  print_message("\n-> exit %d\n", r.status);
  print_head("stdout", r.out);
  print_head("stderr", r.err);
  return r;
}

void spawn_result_free(spawn_result *r) {
  free(r->out);
  free(r->err);
}

void assert_contains(const char *haystack, const char *needle) {
  if (strstr(haystack, needle) == NULL)
    fail_msg("\"%s\" not found in: %s", needle, haystack);
}
