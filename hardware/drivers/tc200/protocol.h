/* The TC200 driver's private state and its one exchange on the wire.
 * protocol.c sends a command and collects the answer up to the prompt,
 * using the pure codec shp/proto/tc200.h; api.c is the driver table. */
#ifndef SHP_TC200_PROTOCOL_H
#define SHP_TC200_PROTOCOL_H

#include "shp/hw.h"
#include "shp/transport.h"

#include <stddef.h>

/* The TC200's USB virtual serial port (Thorlabs manual; InstrumentKit). */
#define TC200_DEFAULT_BAUD 115200
/* Longest answer taken: echo, a temperature or status line and the prompt
 * are a few dozen bytes; "*idn?" is the longest at under 100. */
#define TC200_REPLY_MAX 256

struct shp_device {
  shp_transport *io;
  char reply[TC200_REPLY_MAX];
};

/* Send command (as encoded, ending in "\r") after dropping any stale
 * input, read up to the ">" prompt and find the answer in it. *body points
 * into d->reply, valid until the next exchange. Errors: SHP_ERR_TIMEOUT,
 * SHP_ERR_DISCONNECTED, SHP_ERR_IO from the transport; SHP_ERR_PROTOCOL
 * for an answer out of step, an instrument error text or an overlong
 * answer; each message starts with the port. */
int tc200_exchange(shp_device *d, const char *command, size_t command_len,
                   const char **body, size_t *body_len);

/* The query keyword's answer as a temperature in Celsius ("tact", "tset"). */
int tc200_query_temperature(shp_device *d, const char *keyword,
                            double *temperature_c);

#endif
