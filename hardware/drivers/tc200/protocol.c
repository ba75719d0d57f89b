/* The TC200 driver's exchange: one command, one answer up to the prompt.
 * See README.md here for the command set and the rules it keeps. */
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/tc200.h"

int tc200_exchange(shp_device *d, const char *command, size_t command_len,
                   const char **body, size_t *body_len) {
  const char *port = shp_transport_name(d->io);
  size_t len = 0;
  /* A trailing space of the last prompt, or a late answer to an exchange
   * that timed out, must not be read as this command's answer. */
  int rc = shp_transport_discard_input(d->io);
  if (rc >= 0)
    rc = shp_transport_write(d->io, command, command_len);
  if (rc >= 0)
    rc = shp_transport_read_until(d->io, d->reply, sizeof d->reply, ">", &len);
  if (rc < 0)
    return rc;
  rc = shp_proto_tc200_reply_body(d->reply, len, command, body, body_len);
  if (rc != SHP_OK)
    return shp_error_prefix("%s: ", port);
  return SHP_OK;
}

int tc200_query_temperature(shp_device *d, const char *keyword,
                            double *temperature_c) {
  char cmd[24];
  const char *body;
  size_t body_len;
  int n = shp_proto_tc200_encode_query(cmd, sizeof cmd, keyword);
  if (n < 0)
    return n;
  int rc = tc200_exchange(d, cmd, (size_t)n, &body, &body_len);
  if (rc == SHP_OK && shp_proto_tc200_decode_temperature(
                          body, body_len, temperature_c) != SHP_OK)
    rc = shp_error_prefix("%s: %s?: ", shp_transport_name(d->io), keyword);
  return rc;
}
