/* The scripted loopback instrument of scpi_peer.h. */
#include "scpi_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_STEPS 64

struct scpi_peer {
  scpi_peer_step steps[MAX_STEPS];
  size_t n;
  int listen_fd, port;
  int wake[2]; /* written by scpi_peer_stop: no client is coming */
  pthread_t thread;
  char why[512]; /* empty while the script is followed */
};

/* One line from the client, '\n' included, NUL-terminated (longer lines
 * are cut at size - 1). Returns its length; 0 when the client closed or
 * nothing came for SCPI_PEER_WAIT_MS. */
static size_t read_line(int fd, char *buf, size_t size) {
  size_t n = 0;
  while (n + 1 < size) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, SCPI_PEER_WAIT_MS) <= 0 || read(fd, buf + n, 1) != 1)
      break;
    if (buf[n++] == '\n')
      break;
  }
  buf[n] = '\0';
  return n;
}

/* The line with CR and LF spelled out, for messages. */
static const char *shown(char *out, size_t size, const char *line) {
  size_t o = 0;
  for (const char *c = line; *c && o + 3 < size; c++) {
    if (*c == '\r' || *c == '\n') {
      out[o++] = '\\';
      out[o++] = *c == '\r' ? 'r' : 'n';
    } else {
      out[o++] = *c;
    }
  }
  out[o] = '\0';
  return out;
}

static void send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0)
      return; /* the client went away: its test sees why */
    p += n;
    len -= (size_t)n;
  }
}

/* Play the steps on fd; false (with p->why) at the first wrong line. */
static bool play(scpi_peer *p, int fd) {
  char line[512], a[600], b[600];
  for (size_t i = 0; i < p->n; i++) {
    const scpi_peer_step *s = &p->steps[i];
    if (read_line(fd, line, sizeof line) == 0) {
      snprintf(p->why, sizeof p->why, "step %zu: no line, expected '%s'", i + 1,
               shown(a, sizeof a, s->expect));
      return false;
    }
    if (strcmp(line, s->expect) != 0) {
      snprintf(p->why, sizeof p->why, "step %zu: got '%s', expected '%s'",
               i + 1, shown(a, sizeof a, line), shown(b, sizeof b, s->expect));
      return false;
    }
    if (s->reply != NULL)
      send_all(fd, s->reply, s->reply_len ? s->reply_len : strlen(s->reply));
    if (s->action == SCPI_PEER_CLOSE)
      return true;
    if (s->action == SCPI_PEER_SILENT) {
      while (read_line(fd, line, sizeof line) > 0)
        ; /* whatever else comes is never answered */
      return true;
    }
  }
  if (read_line(fd, line, sizeof line) > 0)
    snprintf(p->why, sizeof p->why, "unexpected line after the script: '%s'",
             shown(a, sizeof a, line));
  return p->why[0] == '\0';
}

static void *peer_main(void *arg) {
  scpi_peer *p = arg;
  struct pollfd pl[2] = {{.fd = p->listen_fd, .events = POLLIN},
                         {.fd = p->wake[0], .events = POLLIN}};
  if (poll(pl, 2, SCPI_PEER_WAIT_MS) <= 0 || !(pl[0].revents & POLLIN)) {
    /* A script of no steps expects no client (the driver refused to open
     * before connecting). */
    if (p->n > 0)
      snprintf(p->why, sizeof p->why, "no connection");
    return NULL;
  }
  int fd = accept(p->listen_fd, NULL, NULL);
  if (fd < 0) {
    snprintf(p->why, sizeof p->why, "accept failed");
    return NULL;
  }
  play(p, fd);
  close(fd);
  return NULL;
}

scpi_peer *scpi_peer_start(const scpi_peer_step *steps, size_t n) {
  if (n > MAX_STEPS)
    return NULL;
  scpi_peer *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  if (n > 0)
    memcpy(p->steps, steps, n * sizeof *steps);
  p->n = n;
  if (pipe2(p->wake, O_CLOEXEC) != 0) {
    free(p);
    return NULL;
  }
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, len) ||
      listen(p->listen_fd, 1) ||
      getsockname(p->listen_fd, (struct sockaddr *)&a, &len) ||
      pthread_create(&p->thread, NULL, peer_main, p) != 0) {
    if (p->listen_fd >= 0)
      close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    free(p);
    return NULL;
  }
  p->port = ntohs(a.sin_port);
  return p;
}

int scpi_peer_port(const scpi_peer *p) { return p->port; }

bool scpi_peer_stop(scpi_peer *p, char *why, size_t why_size) {
  /* Only a peer still waiting for its client reads this. */
  if (write(p->wake[1], "x", 1) != 1)
    snprintf(p->why, sizeof p->why, "cannot wake the peer");
  pthread_join(p->thread, NULL);
  close(p->listen_fd);
  close(p->wake[0]);
  close(p->wake[1]);
  bool ok = p->why[0] == '\0';
  snprintf(why, why_size, "%s", p->why);
  free(p);
  return ok;
}
