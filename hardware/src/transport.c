/* The poll loops shared by the tty and TCP transports (transport.h). */
#include "transport-private.h"

#include "shp/error.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- lifecycle ---------------------------------------------------------- */

shp_transport *shp_transport_fd_new(int fd, bool is_socket, const char *name,
                                    double timeout_s) {
  shp_transport *t = calloc(1, sizeof *t);
  if (t == NULL) {
    close(fd);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  t->fd = fd;
  t->is_socket = is_socket;
  t->timeout_s = timeout_s > 0 ? timeout_s : 2.0;
  snprintf(t->name, sizeof t->name, "%s", name);
  return t;
}

void shp_transport_close(shp_transport *t) {
  if (t == NULL)
    return;
  /* Exclusive mode outlives our descriptor when another one stays open. */
  if (t->exclusive)
    ioctl(t->fd, TIOCNXCL);
  close(t->fd);
  free(t);
}

const char *shp_transport_name(const shp_transport *t) { return t->name; }

double shp_transport_timeout_s(const shp_transport *t) { return t->timeout_s; }

void shp_transport_set_timeout_s(shp_transport *t, double timeout_s) {
  if (timeout_s > 0)
    t->timeout_s = timeout_s;
}

/* ---- waiting ------------------------------------------------------------ */

double shp_transport_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int shp_transport_poll(int fd, short events, double deadline_s,
                       short *revents) {
  for (;;) {
    double left = deadline_s - shp_transport_now_s();
    if (left <= 0)
      return SHP_ERR_TIMEOUT;
    /* Round up so a wait never ends just short of the deadline. */
    int ms = (int)ceil(fmin(left, 3600.0) * 1000.0);
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, ms);
    if (n > 0) {
      *revents = p.revents;
      return SHP_OK;
    }
    if (n < 0 && errno != EINTR)
      return shp_error_set(SHP_ERR_IO, "poll: %s", strerror(errno));
  }
}

/* The error of a failed read or write: the ones that mean the device or
 * the peer went away, or anything else. */
static int sys_error(const shp_transport *t, const char *op, int err) {
  switch (err) {
  case EIO:
  case ENXIO:
  case ENODEV:
  case EPIPE:
  case ECONNRESET:
  case ENOTCONN:
  case ETIMEDOUT:
  case EHOSTUNREACH:
    return shp_error_set(SHP_ERR_DISCONNECTED,
                         "%s: %s failed: %s (device gone)", t->name, op,
                         strerror(err));
  default:
    return shp_error_set(SHP_ERR_IO, "%s: %s failed: %s", t->name, op,
                         strerror(err));
  }
}

/* What POLLHUP or POLLERR without readable data means: for a socket its
 * pending error, otherwise a hang-up. */
static int hangup(const shp_transport *t, short revents) {
  int err = 0;
  socklen_t len = sizeof err;
  if (t->is_socket && (revents & POLLERR) &&
      getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
    return sys_error(t, "poll", err);
  if (revents & POLLNVAL)
    return shp_error_set(SHP_ERR_IO, "%s: not open", t->name);
  return shp_error_set(SHP_ERR_DISCONNECTED, "%s: hung up (device gone)",
                       t->name);
}

/* A printable excerpt of received bytes for messages. */
static const char *excerpt(char out[40], const char *s, size_t len) {
  size_t n = len < 32 ? len : 32;
  for (size_t i = 0; i < n; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '.';
  out[n] = '\0';
  return out;
}

/* ---- reading ------------------------------------------------------------ */

/* One read of whatever is there into the read-ahead buffer, waiting until
 * deadline_s for something to arrive. SHP_OK once at least a byte came. */
static int fill(shp_transport *t, double deadline_s, const char *waiting_for) {
  if (t->head == t->tail)
    t->head = t->tail = 0;
  if (t->tail == sizeof t->buf) {
    memmove(t->buf, t->buf + t->head, t->tail - t->head);
    t->tail -= t->head;
    t->head = 0;
  }
  for (;;) {
    short rev = 0;
    int rc = shp_transport_poll(t->fd, POLLIN, deadline_s, &rev);
    if (rc == SHP_ERR_TIMEOUT)
      return shp_error_set(SHP_ERR_TIMEOUT, "%s: no %s within %g s", t->name,
                           waiting_for, t->timeout_s);
    if (rc != SHP_OK)
      return shp_error_prefix("%s: ", t->name);
    if (!(rev & POLLIN))
      return hangup(t, rev);
    ssize_t n = read(t->fd, t->buf + t->tail, sizeof t->buf - t->tail);
    if (n > 0) {
      t->tail += (size_t)n;
      return SHP_OK;
    }
    if (n == 0)
      return shp_error_set(SHP_ERR_DISCONNECTED,
                           "%s: end of file (device gone)", t->name);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return sys_error(t, "read", errno);
  }
}

int shp_transport_read_until(shp_transport *t, char *buf, size_t size,
                             const char *terminator, size_t *len) {
  size_t tlen = terminator ? strlen(terminator) : 0, n = 0;
  char ex[40];
  if (len != NULL)
    *len = 0;
  if (buf == NULL || size < 2 || tlen == 0) {
    if (buf != NULL && size > 0)
      buf[0] = '\0';
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: read needs a terminator and room for a byte",
                         t->name);
  }
  double deadline = shp_transport_now_s() + t->timeout_s;
  for (;;) {
    while (t->head < t->tail) {
      if (n == size - 1) {
        buf[0] = '\0';
        return shp_error_set(SHP_ERR_PROTOCOL,
                             "%s: %zu bytes without the expected terminator "
                             "('%s'...)",
                             t->name, n, excerpt(ex, buf, n));
      }
      buf[n++] = t->buf[t->head++];
      if (n >= tlen && memcmp(buf + n - tlen, terminator, tlen) == 0) {
        buf[n] = '\0';
        if (len != NULL)
          *len = n;
        return SHP_OK;
      }
    }
    int rc = fill(t, deadline, "complete answer");
    if (rc != SHP_OK) {
      if (rc == SHP_ERR_TIMEOUT && n > 0)
        shp_error_set(rc,
                      "%s: answer incomplete after %g s (got %zu bytes "
                      "without the terminator: '%s')",
                      t->name, t->timeout_s, n, excerpt(ex, buf, n));
      buf[0] = '\0';
      return rc;
    }
  }
}

int shp_transport_read_exact(shp_transport *t, void *buf, size_t len) {
  unsigned char *out = buf;
  size_t n = 0;
  double deadline = shp_transport_now_s() + t->timeout_s;
  for (;;) {
    size_t have = t->tail - t->head, take = len - n < have ? len - n : have;
    memcpy(out + n, t->buf + t->head, take);
    t->head += take;
    n += take;
    if (n == len)
      return SHP_OK;
    int rc = fill(t, deadline, "complete block");
    if (rc != SHP_OK) {
      if (rc == SHP_ERR_TIMEOUT)
        shp_error_set(rc, "%s: %zu of %zu bytes arrived within %g s", t->name,
                      n, len, t->timeout_s);
      return rc;
    }
  }
}

int shp_transport_discard_input(shp_transport *t) {
  size_t dropped = t->tail - t->head;
  char scratch[1024];
  t->head = t->tail = 0;
  while (dropped < 65536) {
    ssize_t n = read(t->fd, scratch, sizeof scratch);
    if (n > 0) {
      dropped += (size_t)n;
      continue;
    }
    if (n == 0)
      return shp_error_set(SHP_ERR_DISCONNECTED,
                           "%s: end of file (device gone)", t->name);
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    return sys_error(t, "read", errno);
  }
  return (int)dropped;
}

/* ---- writing ------------------------------------------------------------ */

int shp_transport_write(shp_transport *t, const void *buf, size_t len) {
  const char *p = buf;
  size_t done = 0;
  double deadline = shp_transport_now_s() + t->timeout_s;
  while (done < len) {
    short rev = 0;
    int rc = shp_transport_poll(t->fd, POLLOUT, deadline, &rev);
    if (rc == SHP_ERR_TIMEOUT)
      return shp_error_set(SHP_ERR_TIMEOUT,
                           "%s: could not send within %g s (%zu of %zu bytes "
                           "sent)",
                           t->name, t->timeout_s, done, len);
    if (rc != SHP_OK)
      return shp_error_prefix("%s: ", t->name);
    if (!(rev & POLLOUT))
      return hangup(t, rev);
    ssize_t n = t->is_socket ? send(t->fd, p + done, len - done, MSG_NOSIGNAL)
                             : write(t->fd, p + done, len - done);
    if (n > 0)
      done += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return sys_error(t, "write", errno);
  }
  return SHP_OK;
}
