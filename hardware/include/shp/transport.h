/* Byte transports for instrument drivers: a serial port (termios) or a TCP
 * socket, behind one small object with bounded reads and writes.
 *
 * Every operation waits with poll() and at most the transport's timeout
 * (the connection's timeout_s; shp_transport_set_timeout_s changes it) for
 * the whole operation, never per byte, and returns
 *   SHP_ERR_TIMEOUT       nothing (or not enough) arrived in time;
 *   SHP_ERR_DISCONNECTED  end of file, EIO/ENXIO/ENODEV (a USB-serial
 *                         adapter unplugged), POLLHUP, a reset or closed
 *                         peer;
 *   SHP_ERR_PROTOCOL      a line longer than the caller's buffer;
 *   SHP_ERR_IO            any other system error;
 * with shp_error_detail() naming the port ("/dev/ttyUSB0: ...",
 * "tcp 192.168.1.20:5025: ..."). Bytes read past a terminator are kept for
 * the next read. A transport is used from one thread at a time. */
#ifndef SHP_TRANSPORT_H
#define SHP_TRANSPORT_H

#include "shp/hw.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_transport shp_transport;

/* How a serial line is driven beyond its baud rate. A NULL options pointer
 * means 8N1 without flow control. */
typedef struct {
  const char *framing; /* "8N1" (NULL), "7E1", "8O2": data bits 5..8,
                          parity N, E or O, stop bits 1 or 2 */
  bool rtscts;         /* hardware flow control */
  bool xonxoff;        /* software flow control */
} shp_tty_options;

/* ---- lifecycle ---------------------------------------------------------- */

/* Open c->port (kind "tty") in raw mode at c->baud, which must be one of the
 * standard rates (50 .. 4000000), with the given framing; input and output
 * queues are flushed. Returns NULL with shp_error_detail(): SHP_ERR_INVALID
 * (no port, a rate or framing not supported), SHP_ERR_NOT_FOUND (no such
 * port), SHP_ERR_IO (permission, not a terminal, termios refused),
 * SHP_ERR_NOMEM. Owned by the caller: shp_transport_close. */
shp_transport *shp_transport_tty_open(const shp_connection *c,
                                      const shp_tty_options *options);

/* Connect to c->host:c->tcp_port (kind "tcp"; IPv4 or IPv6, names through
 * getaddrinfo) within c->timeout_s, with TCP_NODELAY. Returns NULL with
 * shp_error_detail(): SHP_ERR_INVALID (no host or port), SHP_ERR_NOT_FOUND
 * (the name does not resolve), SHP_ERR_TIMEOUT (no connection in time),
 * SHP_ERR_IO (refused, unreachable), SHP_ERR_NOMEM. Name resolution of a
 * host name (not a numeric address) is bounded by the system resolver's
 * own timeouts, not by c->timeout_s. Owned by the caller. */
shp_transport *shp_transport_tcp_open(const shp_connection *c);

/* Closes the port. NULL is a no-op. */
void shp_transport_close(shp_transport *t);

/* ---- properties --------------------------------------------------------- */

/* "/dev/ttyUSB0" or "tcp HOST:PORT", for messages; owned by t. */
const char *shp_transport_name(const shp_transport *t);

double shp_transport_timeout_s(const shp_transport *t);
/* Ignored unless timeout_s > 0. */
void shp_transport_set_timeout_s(shp_transport *t, double timeout_s);

/* ---- operations --------------------------------------------------------- */

/* Write all len bytes. SHP_ERR_TIMEOUT when the port does not take them in
 * time (a stalled flow control), SHP_ERR_DISCONNECTED, SHP_ERR_IO. */
int shp_transport_write(shp_transport *t, const void *buf, size_t len);

/* Read up to and including the first occurrence of terminator (one or more
 * bytes, such as "\n", "\r\n" or a prompt "> "... any byte string) into
 * buf, NUL-terminated; *len (may be NULL) is the length without the NUL.
 * SHP_ERR_PROTOCOL when size - 1 bytes arrived without the terminator (they
 * are dropped), SHP_ERR_INVALID for an empty terminator or size < 2, and the
 * errors above. On error *len is 0 and buf is "". */
int shp_transport_read_until(shp_transport *t, char *buf, size_t size,
                             const char *terminator, size_t *len);

/* Read exactly len bytes (binary blocks). On SHP_ERR_TIMEOUT or a
 * disconnect the bytes read so far are lost. */
int shp_transport_read_exact(shp_transport *t, void *buf, size_t len);

/* Drop whatever has already arrived, without waiting: kept bytes and what
 * the port holds now (at most 64 KiB, so a talking device cannot keep this
 * busy). Returns the count dropped, or SHP_ERR_DISCONNECTED / SHP_ERR_IO. */
int shp_transport_discard_input(shp_transport *t);

#ifdef __cplusplus
}
#endif
#endif
