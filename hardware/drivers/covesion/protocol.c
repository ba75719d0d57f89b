/* The Covesion driver's exchanges: the status request and its answer, and
 * a setter sent without an answer. See README.md here for the rules. */
#include "protocol.h"

#include "shp/error.h"

#include <string.h>

int covesion_send(shp_device *d, const char *frame, size_t frame_len) {
  /* A late answer, or a frame the controller sent on its own, must not be
   * read as the next request's answer. */
  int rc = shp_transport_discard_input(d->io);
  if (rc >= 0)
    rc = shp_transport_write(d->io, frame, frame_len);
  return rc < 0 ? rc : SHP_OK;
}

/* One CR-ended line into d->reply, without a leading LF (the tail of a
 * previous CR LF). */
static int read_frame(shp_device *d, const char **frame, size_t *len) {
  size_t got = 0;
  int rc =
      shp_transport_read_until(d->io, d->reply, sizeof d->reply, "\r", &got);
  if (rc < 0)
    return rc;
  const char *p = d->reply;
  while (got > 0 && *p == '\n') {
    p++;
    got--;
  }
  *frame = p;
  *len = got;
  return SHP_OK;
}

int covesion_request(shp_device *d, char letter, const char **data,
                     size_t *data_len) {
  const char *port = shp_transport_name(d->io);
  char query[8];
  const char *frame;
  size_t len;
  char got;
  int n = shp_proto_covesion_encode_query(query, sizeof query, letter);
  if (n < 0)
    return n;
  int rc = covesion_send(d, query, (size_t)n);
  if (rc == SHP_OK)
    rc = read_frame(d, &frame, &len);
  /* The tail of a frame that was arriving while the input was dropped
   * carries no SOH at all: skip it once, then take the next frame (D2). */
  if (rc == SHP_OK && memchr(frame, SHP_PROTO_COVESION_SOH, len) == NULL)
    rc = read_frame(d, &frame, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_covesion_decode(frame, len, &got, data, data_len) != SHP_OK)
    return shp_error_prefix("%s: ", port);
  if (got != letter)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: covesion: answer '%c' to the '%c' request, "
                         "expected '%c'",
                         port, got, letter, letter);
  return SHP_OK;
}

int covesion_read_status(shp_device *d, shp_proto_covesion_status *st) {
  const char *data;
  size_t len;
  int rc = covesion_request(d, 'j', &data, &len);
  if (rc == SHP_OK && shp_proto_covesion_decode_status(data, len, st) != SHP_OK)
    return shp_error_prefix("%s: ", shp_transport_name(d->io));
  return rc;
}
