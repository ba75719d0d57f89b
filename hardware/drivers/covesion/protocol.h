/* The Covesion driver's private state and its exchanges on the wire.
 * protocol.c sends a frame and collects the answer frame, using the pure
 * codec shp/proto/covesion.h; api.c is the driver table. */
#ifndef SHP_COVESION_PROTOCOL_H
#define SHP_COVESION_PROTOCOL_H

#include "shp/hw.h"
#include "shp/proto/covesion.h"
#include "shp/transport.h"

#include <stddef.h>

/* The OC controllers' USB virtual serial port (codec README; the public
 * VISA driver). */
#define COVESION_DEFAULT_BAUD 19200
/* Longest frame taken: SOH, letter, two length digits, 99 data bytes, two
 * checksum digits, CR LF, and room to spare. */
#define COVESION_REPLY_MAX 128

struct shp_device {
  shp_transport *io;
  double max_ramp_k_per_min; /* the lab file's limit for this oven */
  char reply[COVESION_REPLY_MAX];
};

/* Send the data-less request for `letter` after dropping any stale input
 * and check the answer frame, which must carry the same letter; its data
 * span points into d->reply. Errors as covesion_read_status. */
int covesion_request(shp_device *d, char letter, const char **data,
                     size_t *data_len);

/* Send the status request after dropping any stale input and decode the
 * 'j' answer (one CR-ended frame; a leading LF of the last frame's CR LF
 * is skipped). Errors: SHP_ERR_TIMEOUT, SHP_ERR_DISCONNECTED, SHP_ERR_IO
 * from the transport; SHP_ERR_PROTOCOL for a bad frame (checksum, length,
 * prefix), an answer other than 'j' or unreadable fields; each message
 * starts with the port. */
int covesion_read_status(shp_device *d, shp_proto_covesion_status *st);

/* Send one frame (as encoded) after dropping any stale input. Nothing is
 * read back: no public driver reads an answer to a setter (README, D1). */
int covesion_send(shp_device *d, const char *frame, size_t frame_len);

#endif
