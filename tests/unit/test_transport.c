/* The byte transports: TCP against a loopback peer thread (127.0.0.1 and,
 * where the host has it, ::1), tty against a pseudo-terminal whose master
 * side the test plays. Every wait is bounded: the peer gives up after
 * PEER_WAIT_MS and the transports use timeouts of a fraction of a second. */
#include "shp/error.h"
#include "shp/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PEER_WAIT_MS 5000
#define SHORT_TIMEOUT_S 0.2

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- the loopback peer -------------------------------------------------- */

typedef enum {
  PEER_ANSWER,  /* answers PING, TWO and BIN lines (below) */
  PEER_SILENT,  /* reads and never answers */
  PEER_CLOSE,   /* accepts and closes at once */
  PEER_GARBAGE, /* sends 2000 bytes without a line end */
} peer_mode;

typedef struct {
  peer_mode mode;
  int listen_fd, port;
  pthread_t thread;
} peer;

/* One line from the client, '\n' included; 0 at the client's end or after
 * PEER_WAIT_MS. */
static size_t peer_line(int fd, char *buf, size_t size) {
  size_t n = 0;
  while (n + 1 < size) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, PEER_WAIT_MS) <= 0 || read(fd, buf + n, 1) != 1)
      return 0;
    if (buf[n++] == '\n')
      break;
  }
  buf[n] = '\0';
  return n;
}

static void send_all(int fd, const void *buf, size_t len) {
  if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
    fprintf(stderr, "peer: short send\n");
}

static void *peer_main(void *arg) {
  peer *p = arg;
  struct pollfd pl = {.fd = p->listen_fd, .events = POLLIN};
  if (poll(&pl, 1, PEER_WAIT_MS) <= 0)
    return NULL;
  int fd = accept(p->listen_fd, NULL, NULL);
  if (fd < 0)
    return NULL;
  char line[64];
  static const unsigned char block[8] = {'#', 0, '\n', 0xff, '\r', '>', 7, 'x'};
  switch (p->mode) {
  case PEER_ANSWER:
    while (peer_line(fd, line, sizeof line) > 0) {
      if (strcmp(line, "PING\n") == 0) {
        /* In two pieces: the reader must join them. */
        send_all(fd, "PO", 2);
        sleep_ms(30);
        send_all(fd, "NG\n", 3);
      } else if (strcmp(line, "TWO\n") == 0) {
        send_all(fd, "A\r\nB\r\n", 6); /* two lines in one piece */
      } else if (strcmp(line, "BIN\n") == 0) {
        send_all(fd, block, sizeof block);
      }
    }
    break;
  case PEER_SILENT:
    while (peer_line(fd, line, sizeof line) > 0)
      ;
    break;
  case PEER_CLOSE:
    break;
  case PEER_GARBAGE: {
    char junk[2000];
    memset(junk, 'x', sizeof junk);
    send_all(fd, junk, sizeof junk);
    while (peer_line(fd, line, sizeof line) > 0)
      ;
    break;
  }
  }
  close(fd);
  return NULL;
}

/* Listen on port 0 of the loopback address of family and start the peer;
 * false when the host has no such address (IPv6 switched off). */
static bool peer_start(peer *p, peer_mode mode, int family) {
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  p->mode = mode;
  p->listen_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd < 0)
    return false;
  if (bind(p->listen_fd, (struct sockaddr *)&ss, len) != 0 ||
      listen(p->listen_fd, 1) != 0 ||
      getsockname(p->listen_fd, (struct sockaddr *)&ss, &len) != 0) {
    close(p->listen_fd);
    return false;
  }
  p->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
  return true;
}

static void peer_stop(peer *p) {
  pthread_join(p->thread, NULL);
  close(p->listen_fd);
}

static shp_transport *connect_to(const peer *p, const char *host) {
  shp_connection c = {.kind = "tcp",
                      .host = host,
                      .tcp_port = p->port,
                      .timeout_s = SHORT_TIMEOUT_S};
  shp_transport *t = shp_transport_tcp_open(&c);
  if (t == NULL)
    fail_msg("connect: %s", shp_error_detail());
  return t;
}

static void exchange_lines(shp_transport *t) {
  char line[64];
  size_t len;
  assert_int_equal(shp_transport_write(t, "PING\n", 5), SHP_OK);
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\n", &len),
                   SHP_OK);
  assert_string_equal(line, "PONG\n");
  assert_int_equal(len, 5);
  assert_int_equal(shp_transport_write(t, "TWO\n", 4), SHP_OK);
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\r\n", NULL),
                   SHP_OK);
  assert_string_equal(line, "A\r\n");
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\r\n", NULL),
                   SHP_OK);
  assert_string_equal(line, "B\r\n");
}

/* ---- TCP ---------------------------------------------------------------- */

static void test_tcp_joins_split_answers_and_keeps_the_rest(void **state) {
  peer p;
  assert_true(peer_start(&p, PEER_ANSWER, AF_INET));
  shp_transport *t = connect_to(&p, "127.0.0.1");
  char name[64];
  snprintf(name, sizeof name, "tcp 127.0.0.1:%d", p.port);
  assert_string_equal(shp_transport_name(t), name);
  exchange_lines(t);
  unsigned char block[8];
  static const unsigned char want[8] = {'#', 0, '\n', 0xff, '\r', '>', 7, 'x'};
  assert_int_equal(shp_transport_write(t, "BIN\n", 4), SHP_OK);
  assert_int_equal(shp_transport_read_exact(t, block, sizeof block), SHP_OK);
  assert_memory_equal(block, want, sizeof want);
  shp_transport_close(t);
  peer_stop(&p);
}

static void test_tcp_over_ipv6_loopback(void **state) {
  peer p;
  if (!peer_start(&p, PEER_ANSWER, AF_INET6))
    skip();
  shp_transport *t = connect_to(&p, "::1");
  char name[64];
  snprintf(name, sizeof name, "tcp [::1]:%d", p.port);
  assert_string_equal(shp_transport_name(t), name);
  exchange_lines(t);
  shp_transport_close(t);
  peer_stop(&p);
}

static void test_tcp_silent_peer_times_out_after_the_timeout(void **state) {
  peer p;
  char line[64];
  size_t len = 99;
  assert_true(peer_start(&p, PEER_SILENT, AF_INET));
  shp_transport *t = connect_to(&p, "127.0.0.1");
  assert_int_equal(shp_transport_write(t, "PING\n", 5), SHP_OK);
  double t0 = now_s();
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\n", &len),
                   SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= SHORT_TIMEOUT_S - 0.005);
  assert_true(took < SHORT_TIMEOUT_S + 0.3);
  assert_int_equal(len, 0);
  assert_string_equal(line, "");
  assert_non_null(strstr(shp_error_detail(), shp_transport_name(t)));
  unsigned char b[4];
  assert_int_equal(shp_transport_read_exact(t, b, sizeof b), SHP_ERR_TIMEOUT);
  shp_transport_close(t);
  peer_stop(&p);
}

static void test_tcp_closed_peer_is_disconnected(void **state) {
  peer p;
  char line[64];
  assert_true(peer_start(&p, PEER_CLOSE, AF_INET));
  shp_transport *t = connect_to(&p, "127.0.0.1");
  double t0 = now_s();
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\n", NULL),
                   SHP_ERR_DISCONNECTED);
  assert_true(now_s() - t0 < SHORT_TIMEOUT_S); /* at once, not a timeout */
  assert_non_null(strstr(shp_error_detail(), shp_transport_name(t)));
  /* Writing into the reset connection fails the same way, without a
   * SIGPIPE killing the test (the first send may still be taken). */
  int rc = SHP_OK;
  for (int i = 0; i < 20 && rc == SHP_OK; i++) {
    rc = shp_transport_write(t, "PING\n", 5);
    sleep_ms(5);
  }
  assert_int_equal(rc, SHP_ERR_DISCONNECTED);
  shp_transport_close(t);
  peer_stop(&p);
}

static void
test_tcp_garbage_without_terminator_is_protocol_error(void **state) {
  peer p;
  char line[256];
  assert_true(peer_start(&p, PEER_GARBAGE, AF_INET));
  shp_transport *t = connect_to(&p, "127.0.0.1");
  assert_int_equal(shp_transport_read_until(t, line, sizeof line, "\n", NULL),
                   SHP_ERR_PROTOCOL);
  assert_non_null(
      strstr(shp_error_detail(), "without the expected terminator"));
  /* What is left is dropped at once, without waiting. */
  assert_true(shp_transport_discard_input(t) >= 0);
  shp_transport_close(t);
  peer_stop(&p);
}

static void test_tcp_refused_and_invalid_connections(void **state) {
  /* A port nobody listens on: bind one, note it, close it. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  shp_connection c = {.kind = "tcp",
                      .host = "127.0.0.1",
                      .tcp_port = ntohs(a.sin_port),
                      .timeout_s = SHORT_TIMEOUT_S};
  assert_null(shp_transport_tcp_open(&c));
  assert_int_equal(shp_error_last(), SHP_ERR_IO);
  assert_non_null(strstr(shp_error_detail(), "refused"));
  c.tcp_port = 0;
  assert_null(shp_transport_tcp_open(&c));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  c = (shp_connection){.kind = "tcp", .tcp_port = 5025};
  assert_null(shp_transport_tcp_open(&c));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
}

/* ---- tty ---------------------------------------------------------------- */

typedef struct {
  int master, slave;
  char name[64];
} pty;

/* A raw pseudo-terminal: with the default echo, bytes the test writes on
 * the master side before the transport opens would come straight back. */
static void pty_open(pty *p) {
  struct termios raw;
  memset(&raw, 0, sizeof raw);
  cfmakeraw(&raw);
  assert_int_equal(openpty(&p->master, &p->slave, p->name, &raw, NULL), 0);
}

static shp_transport *tty_open(const pty *p, int baud, const char *framing) {
  shp_connection c = {.kind = "tty",
                      .port = p->name,
                      .baud = baud,
                      .timeout_s = SHORT_TIMEOUT_S};
  shp_tty_options o = {.framing = framing};
  return shp_transport_tty_open(&c, &o);
}

/* What the master side receives within a second, up to n bytes. */
static size_t master_read(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0)
      break;
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  return got;
}

/* A pseudo-terminal keeps CS8 without parity whatever it is asked (the
 * Linux pty driver forces them), so 7E1 is checked only to open raw at its
 * rate, and the flags a pty keeps (odd parity, two stop bits, RTS/CTS) are
 * checked with 8O2. */
static void test_tty_is_raw_with_the_given_rate_and_framing(void **state) {
  pty p;
  pty_open(&p);
  shp_transport *t = tty_open(&p, 9600, "7E1");
  if (t == NULL)
    fail_msg("open: %s", shp_error_detail());
  assert_string_equal(shp_transport_name(t), p.name);
  struct termios tio;
  assert_int_equal(tcgetattr(p.slave, &tio), 0);
  assert_false(tio.c_cflag & (PARODD | CSTOPB));
  assert_false(tio.c_cflag & CRTSCTS);
  assert_false(tio.c_iflag & (IXON | IXOFF | ICRNL));
  assert_false(tio.c_lflag & (ICANON | ECHO | ISIG));
  assert_false(tio.c_oflag & OPOST);
  assert_int_equal(cfgetospeed(&tio), B9600);
  shp_transport_close(t);

  shp_connection c = {.kind = "tty", .port = p.name, .baud = 115200};
  shp_tty_options o = {.framing = "8O2", .rtscts = true};
  assert_non_null(t = shp_transport_tty_open(&c, &o));
  assert_int_equal(tcgetattr(p.slave, &tio), 0);
  assert_int_equal(tio.c_cflag & CSIZE, CS8);
  assert_true((tio.c_cflag & (PARODD | CSTOPB | CRTSCTS)) ==
              (PARODD | CSTOPB | CRTSCTS));
  assert_int_equal(cfgetospeed(&tio), B115200);
  shp_transport_close(t);
  close(p.master);
  close(p.slave);
}

static void test_tty_refuses_odd_rates_framings_and_ports(void **state) {
  pty p;
  pty_open(&p);
  assert_null(tty_open(&p, 12345, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_non_null(strstr(shp_error_detail(), "12345"));
  assert_null(tty_open(&p, 9600, "9N1"));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_null(tty_open(&p, 9600, "8X1"));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  assert_null(tty_open(&p, 9600, "8N3"));
  assert_int_equal(shp_error_last(), SHP_ERR_INVALID);
  shp_connection c = {
      .kind = "tty", .port = "/nonexistent/ttyUSB9", .baud = 9600};
  assert_null(shp_transport_tty_open(&c, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_NOT_FOUND);
  assert_non_null(strstr(shp_error_detail(), "/nonexistent/ttyUSB9"));
  c.port = "/dev/null";
  assert_null(shp_transport_tty_open(&c, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_IO);
  assert_non_null(strstr(shp_error_detail(), "not a serial port"));
  close(p.master);
  close(p.slave);
}

static void test_tty_exchanges_bytes_and_times_out(void **state) {
  pty p;
  char buf[64];
  pty_open(&p);
  /* Stale input from before the open is flushed. */
  assert_int_equal(write(p.master, "stale\n", 6), 6);
  sleep_ms(20);
  shp_transport *t = tty_open(&p, 115200, NULL);
  assert_non_null(t);
  assert_int_equal(shp_transport_write(t, "tact?\r", 6), SHP_OK);
  assert_int_equal(master_read(p.master, buf, 6), 6);
  assert_memory_equal(buf, "tact?\r", 6); /* no CR -> NL mapping */
  assert_int_equal(write(p.master, "tact?\r24.3 C\r> ", 15), 15);
  size_t len;
  assert_int_equal(shp_transport_read_until(t, buf, sizeof buf, ">", &len),
                   SHP_OK);
  assert_string_equal(buf, "tact?\r24.3 C\r>");
  /* The prompt's space is kept, then dropped on request. */
  sleep_ms(20);
  assert_int_equal(shp_transport_discard_input(t), 1);
  double t0 = now_s();
  assert_int_equal(shp_transport_read_until(t, buf, sizeof buf, ">", &len),
                   SHP_ERR_TIMEOUT);
  double took = now_s() - t0;
  assert_true(took >= SHORT_TIMEOUT_S - 0.005 && took < SHORT_TIMEOUT_S + 0.3);
  assert_non_null(strstr(shp_error_detail(), p.name));
  /* Half an answer, then silence: the message shows what came. */
  assert_int_equal(write(p.master, "24.", 3), 3);
  assert_int_equal(shp_transport_read_until(t, buf, sizeof buf, ">", &len),
                   SHP_ERR_TIMEOUT);
  assert_non_null(strstr(shp_error_detail(), "'24.'"));
  shp_transport_close(t);
  close(p.master);
  close(p.slave);
}

static void test_tty_hangup_is_disconnected(void **state) {
  pty p;
  char buf[16];
  pty_open(&p);
  shp_transport *t = tty_open(&p, 115200, NULL);
  assert_non_null(t);
  /* The other end goes away, as a USB-serial adapter pulled out. */
  close(p.slave);
  close(p.master);
  double t0 = now_s();
  assert_int_equal(shp_transport_read_until(t, buf, sizeof buf, "\n", NULL),
                   SHP_ERR_DISCONNECTED);
  assert_true(now_s() - t0 < SHORT_TIMEOUT_S);
  assert_non_null(strstr(shp_error_detail(), p.name));
  assert_int_equal(shp_transport_write(t, "x\r", 2), SHP_ERR_DISCONNECTED);
  shp_transport_close(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_joins_split_answers_and_keeps_the_rest),
      cmocka_unit_test(test_tcp_over_ipv6_loopback),
      cmocka_unit_test(test_tcp_silent_peer_times_out_after_the_timeout),
      cmocka_unit_test(test_tcp_closed_peer_is_disconnected),
      cmocka_unit_test(test_tcp_garbage_without_terminator_is_protocol_error),
      cmocka_unit_test(test_tcp_refused_and_invalid_connections),
      cmocka_unit_test(test_tty_is_raw_with_the_given_rate_and_framing),
      cmocka_unit_test(test_tty_refuses_odd_rates_framings_and_ports),
      cmocka_unit_test(test_tty_exchanges_bytes_and_times_out),
      cmocka_unit_test(test_tty_hangup_is_disconnected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
