/* What the tty and TCP transports share: a non-blocking file descriptor
 * with a read-ahead buffer, and the poll loops around it (transport.c).
 * Private to the hardware library. */
#ifndef SHP_TRANSPORT_PRIVATE_H
#define SHP_TRANSPORT_PRIVATE_H

#include "shp/transport.h"

#include <stdbool.h>
#include <stddef.h>

#define SHP_TRANSPORT_BUF 4096

struct shp_transport {
  int fd;         /* non-blocking, close-on-exec */
  bool is_socket; /* send() with MSG_NOSIGNAL instead of write() */
  bool exclusive; /* a tty opened with TIOCEXCL, released on close */
  double timeout_s;
  char name[128];
  char buf[SHP_TRANSPORT_BUF]; /* read ahead: bytes [head, tail) */
  size_t head, tail;
};

/* A transport around an open non-blocking fd, which it then owns (closed
 * on failure too). NULL with SHP_ERR_NOMEM. */
shp_transport *shp_transport_fd_new(int fd, bool is_socket, const char *name,
                                    double timeout_s);

/* Monotonic seconds. */
double shp_transport_now_s(void);

/* poll() fd for events until deadline_s (monotonic). Returns SHP_OK with
 * *revents, or SHP_ERR_TIMEOUT / SHP_ERR_IO (poll itself failed); EINTR is
 * retried within the deadline. */
int shp_transport_poll(int fd, short events, double deadline_s, short *revents);

#endif
