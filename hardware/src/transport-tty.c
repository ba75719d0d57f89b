/* The serial-port transport: termios in raw mode (transport.h). */
#include "transport-private.h"

#include "shp/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The standard rates termios knows by a constant; anything else would need
 * the non-portable BOTHER interface, and no instrument here uses one. */
static const struct {
  int baud;
  speed_t speed;
} rates[] = {
    {50, B50},           {75, B75},           {110, B110},
    {134, B134},         {150, B150},         {200, B200},
    {300, B300},         {600, B600},         {1200, B1200},
    {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},
    {57600, B57600},     {115200, B115200},   {230400, B230400},
    {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

static bool speed_of(int baud, speed_t *speed) {
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
    if (rates[i].baud == baud) {
      *speed = rates[i].speed;
      return true;
    }
  return false;
}

/* "8N1", "7E1", "8O2" into termios c_cflag bits. */
static bool parse_framing(const char *f, tcflag_t *cflag) {
  static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
  if (f == NULL)
    f = "8N1";
  if (strlen(f) != 3 || f[0] < '5' || f[0] > '8' ||
      (f[2] != '1' && f[2] != '2'))
    return false;
  tcflag_t c = sizes[f[0] - '5'];
  switch (f[1]) {
  case 'N':
    break;
  case 'E':
    c |= PARENB;
    break;
  case 'O':
    c |= PARENB | PARODD;
    break;
  default:
    return false;
  }
  if (f[2] == '2')
    c |= CSTOPB;
  *cflag = c;
  return true;
}

static int configure(int fd, const char *port, speed_t speed, tcflag_t frame,
                     const shp_tty_options *o) {
  struct termios tio;
  if (tcgetattr(fd, &tio) != 0)
    return shp_error_set(SHP_ERR_IO, "%s: not a serial port: %s", port,
                         strerror(errno));
  cfmakeraw(&tio);
  tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
  tio.c_cflag |= frame | CLOCAL | CREAD;
  tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
  if (o != NULL && o->rtscts)
    tio.c_cflag |= CRTSCTS;
  if (o != NULL && o->xonxoff)
    tio.c_iflag |= IXON | IXOFF;
  /* Reads never block (O_NONBLOCK); poll() does the waiting. */
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 ||
      tcsetattr(fd, TCSANOW, &tio) != 0)
    return shp_error_set(SHP_ERR_IO, "%s: cannot set the line settings: %s",
                         port, strerror(errno));
  /* tcsetattr succeeds when any one change took: check the rate took. */
  struct termios got;
  if (tcgetattr(fd, &got) != 0 || cfgetospeed(&got) != speed)
    return shp_error_set(SHP_ERR_IO, "%s: the port refused the baud rate",
                         port);
  /* Nothing that arrived before we opened belongs to our exchanges. */
  tcflush(fd, TCIOFLUSH);
  return SHP_OK;
}

shp_transport *shp_transport_tty_open(const shp_connection *c,
                                      const shp_tty_options *o) {
  speed_t speed;
  tcflag_t frame;
  if (c->port == NULL || c->port[0] == '\0') {
    shp_error_set(SHP_ERR_INVALID, "tty: connection has no port");
    return NULL;
  }
  if (!speed_of(c->baud, &speed)) {
    shp_error_set(SHP_ERR_INVALID,
                  "%s: baud %d is not a standard rate (50 .. 4000000, e.g. "
                  "9600, 57600, 115200)",
                  c->port, c->baud);
    return NULL;
  }
  if (!parse_framing(o ? o->framing : NULL, &frame)) {
    shp_error_set(SHP_ERR_INVALID,
                  "%s: framing \"%s\" is not data bits 5..8, parity N/E/O "
                  "and stop bits 1/2 (such as 8N1 or 7E1)",
                  c->port, o->framing);
    return NULL;
  }
  int fd = open(c->port, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    shp_error_set(err == ENOENT ? SHP_ERR_NOT_FOUND : SHP_ERR_IO,
                  "%s: cannot open: %s%s", c->port, strerror(err),
                  err == EACCES ? " (is the user in the dialout group?)" : "");
    return NULL;
  }
  if (configure(fd, c->port, speed, frame, o) != SHP_OK) {
    close(fd);
    return NULL;
  }
  /* Another program writing setpoints to the same oven would defeat the
   * supervisor: later opens of the port fail (root excepted). */
  bool exclusive = ioctl(fd, TIOCEXCL) == 0;
  shp_transport *t = shp_transport_fd_new(fd, false, c->port, c->timeout_s);
  if (t != NULL)
    t->exclusive = exclusive;
  return t;
}
