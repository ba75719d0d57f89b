/* The MeCom driver's exchanges: one request, one CR-ended answer. See
 * README.md here for the parameters used and the rules kept. */
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/mecom.h"

/* Send request after dropping stale input, then read the answer up to its
 * CR into d->reply. */
static int exchange(shp_device *d, const char *request, size_t request_len,
                    size_t *reply_len) {
  /* A late answer to an exchange that timed out must not be read as this
   * one's (its sequence number would not match anyway). */
  int rc = shp_transport_discard_input(d->io);
  if (rc >= 0)
    rc = shp_transport_write(d->io, request, request_len);
  if (rc >= 0)
    rc = shp_transport_read_until(d->io, d->reply, sizeof d->reply, "\r",
                                  reply_len);
  return rc < 0 ? rc : SHP_OK;
}

static uint16_t next_sequence(shp_device *d) {
  d->sequence = (uint16_t)(d->sequence + 1u);
  return d->sequence;
}

int mecom_read_raw(shp_device *d, uint16_t parameter_id, uint8_t instance,
                   uint32_t *raw) {
  char request[32];
  size_t len;
  uint16_t seq = next_sequence(d);
  int n = shp_proto_mecom_encode_read(request, sizeof request, d->address, seq,
                                      parameter_id, instance);
  if (n < 0)
    return n;
  int rc = exchange(d, request, (size_t)n, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_mecom_decode_value(d->reply, len, d->address, seq, raw) !=
      SHP_OK)
    return shp_error_prefix("%s: ?VR %u.%u: ", shp_transport_name(d->io),
                            (unsigned)parameter_id, (unsigned)instance);
  return SHP_OK;
}

int mecom_set_float(shp_device *d, uint16_t parameter_id, uint8_t instance,
                    float value) {
  char request[40];
  size_t len;
  uint16_t crc;
  uint16_t seq = next_sequence(d);
  int n = shp_proto_mecom_encode_set_float(request, sizeof request, d->address,
                                           seq, parameter_id, instance, value);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  int rc = shp_proto_mecom_request_crc(request, (size_t)n, &crc);
  if (rc != SHP_OK)
    return rc;
  if ((rc = exchange(d, request, (size_t)n, &len)) != SHP_OK)
    return rc;
  if (shp_proto_mecom_decode_ack(d->reply, len, d->address, seq, crc) != SHP_OK)
    return shp_error_prefix("%s: VS %u.%u: ", shp_transport_name(d->io),
                            (unsigned)parameter_id, (unsigned)instance);
  return SHP_OK;
}
