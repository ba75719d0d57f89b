/* The Meerstetter (MeCom) driver's private state and its exchanges on the
 * wire. protocol.c sends a request and checks the answer with the pure
 * codec shp/proto/mecom.h; api.c is the driver table. */
#ifndef SHP_MECOM_PROTOCOL_H
#define SHP_MECOM_PROTOCOL_H

#include "shp/hw.h"
#include "shp/transport.h"

#include <stddef.h>
#include <stdint.h>

/* The TEC controllers' USB virtual serial port (codec README). */
#define MECOM_DEFAULT_BAUD 57600
/* Longest answer taken: a value answer is 20 bytes, a device error 16. */
#define MECOM_REPLY_MAX 64

struct shp_device {
  shp_transport *io;
  uint8_t address;   /* the controller's MeCom address (option) */
  uint16_t sequence; /* of the last request sent */
  char reply[MECOM_REPLY_MAX];
};

/* "?VR" of parameter_id, instance: the answer's 32-bit pattern. */
int mecom_read_raw(shp_device *d, uint16_t parameter_id, uint8_t instance,
                   uint32_t *raw);

/* "VS" of a FLOAT32 value, checking the ACK (address, sequence and the
 * request's CRC). */
int mecom_set_float(shp_device *d, uint16_t parameter_id, uint8_t instance,
                    float value);

/* Both: the next sequence number is used; stale input is dropped first;
 * the answer is read up to its CR. Errors: SHP_ERR_TIMEOUT,
 * SHP_ERR_DISCONNECTED, SHP_ERR_IO from the transport; SHP_ERR_PROTOCOL
 * for a bad CRC, an answer out of step (address or sequence), a device
 * error code or an overlong answer; each message starts with the port. */

#endif
