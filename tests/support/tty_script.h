/* For tests that talk to a serial instrument emulated by umockdev-run from a
 * tty script. Include after <cmocka.h>.
 *
 * script_begin opens a descriptor on the port, held for the whole case and
 * opened before the driver's (which asks for exclusive use): closing the
 * driver's descriptor then does not hang up the pseudo-terminal behind the
 * emulated port, which umockdev's script runner would take as the end of
 * the device. script_end makes the script's last exchange on it, "end\r"
 * answered by "ok\r": reached only if every earlier write matched the
 * script, so a stray write (an output toggle, say) fails the case. */
#ifndef SHP_TEST_TTY_SCRIPT_H
#define SHP_TEST_TTY_SCRIPT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static int script_fd = -1;

static inline void script_begin(const char *port) {
  script_fd = open(port, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (script_fd < 0)
    fail_msg("%s: %s", port, strerror(errno));
}

static inline void script_end(void) {
  char line[8];
  size_t got = 0;
  assert_int_equal(write(script_fd, "end\r", 4), 4);
  while (got < 3) {
    struct pollfd p = {.fd = script_fd, .events = POLLIN};
    if (poll(&p, 1, 2000) <= 0)
      fail_msg("end marker: no \"ok\" within 2 s");
    ssize_t n = read(script_fd, line + got, 3 - got);
    if (n <= 0 && errno != EAGAIN)
      fail_msg("end marker: %s", n == 0 ? "end of file" : strerror(errno));
    got += n > 0 ? (size_t)n : 0;
  }
  assert_memory_equal(line, "ok\r", 3);
  close(script_fd);
  script_fd = -1;
}

#endif
