/* The TCP transport: a raw socket to a networked instrument (transport.h),
 * such as a SCPI server on port 5025. */
#include "transport-private.h"

#include "shp/error.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connect one address within the deadline. Returns the socket, or -1 with
 * *err (errno, or ETIMEDOUT when the deadline passed). */
static int connect_one(const struct addrinfo *ai, double deadline_s, int *err) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return fd;
  if (errno != EINPROGRESS) {
    *err = errno;
    close(fd);
    return -1;
  }
  short rev = 0;
  int rc = shp_transport_poll(fd, POLLOUT, deadline_s, &rev);
  int so = 0;
  socklen_t len = sizeof so;
  if (rc == SHP_ERR_TIMEOUT)
    so = ETIMEDOUT;
  else if (rc != SHP_OK)
    so = EIO;
  else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
    so = errno;
  if (so != 0) {
    *err = so;
    close(fd);
    return -1;
  }
  return fd;
}

shp_transport *shp_transport_tcp_open(const shp_connection *c) {
  char name[128], service[8];
  if (c->host == NULL || c->host[0] == '\0' || c->tcp_port < 1 ||
      c->tcp_port > 65535) {
    shp_error_set(SHP_ERR_INVALID, "tcp: connection needs host and tcp_port "
                                   "1..65535");
    return NULL;
  }
  bool v6 = strchr(c->host, ':') != NULL;
  snprintf(name, sizeof name, "tcp %s%s%s:%d", v6 ? "[" : "", c->host,
           v6 ? "]" : "", c->tcp_port);
  snprintf(service, sizeof service, "%d", c->tcp_port);
  double timeout_s = c->timeout_s > 0 ? c->timeout_s : 2.0;
  double deadline = shp_transport_now_s() + timeout_s;

  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV},
                  *list = NULL;
  int g = getaddrinfo(c->host, service, &hints, &list);
  if (g != 0) {
    shp_error_set(g == EAI_NONAME ? SHP_ERR_NOT_FOUND : SHP_ERR_IO,
                  "%s: cannot resolve the host: %s", name,
                  g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    return NULL;
  }
  int fd = -1, err = 0;
  for (const struct addrinfo *ai = list; ai != NULL && fd < 0;
       ai = ai->ai_next) {
    fd = connect_one(ai, deadline, &err);
    if (fd < 0 && err == ETIMEDOUT)
      break; /* the deadline is shared by every address */
  }
  freeaddrinfo(list);
  if (fd < 0) {
    if (err == ETIMEDOUT)
      shp_error_set(SHP_ERR_TIMEOUT, "%s: no connection within %g s", name,
                    timeout_s);
    else
      shp_error_set(SHP_ERR_IO, "%s: cannot connect: %s", name, strerror(err));
    return NULL;
  }
  /* Commands are short and answered one at a time: send each at once. */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  return shp_transport_fd_new(fd, true, name, timeout_s);
}
