/* What every USBTMC driver does the same way on open: the connection must be
 * kind usb with a vendor and product id, the driver's options may hold only
 * its own keys, and the instrument is opened with the connection's timeout. */
#include "drivers.h"

#include "shp/error.h"
#include "shp/proto/scpi.h"
#include "shp/yamlfile.h"

#include <stddef.h>
#include <string.h>

int shp_usb_check(const shp_device_config *cfg, const char *driver,
                  const char *const *allowed, char *ctx, size_t ctx_size) {
  const shp_connection *c = cfg->connection;
  if (c->kind == NULL || strcmp(c->kind, "usb") != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: needs a usb connection (kind: usb, vendor: "
                         "0x1313, product: 0x8048), got kind \"%s\"",
                         driver, c->kind ? c->kind : "");
  if (c->vendor == 0 || c->product == 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: the usb connection needs its vendor and "
                         "product ids",
                         driver);
  shp_yaml_key_name(ctx, ctx_size, cfg->options_ctx, "options");
  if (cfg->options == NULL)
    return SHP_OK;
  static const char *const none[] = {NULL};
  return shp_yaml_check_keys(cfg->yaml, cfg->options, ctx,
                             allowed ? allowed : none);
}

int shp_usb_open(const shp_device_config *cfg, shp_usbtmc **io) {
  const shp_connection *c = cfg->connection;
  *io = NULL;
  return shp_usbtmc_open(c->vendor, c->product, c->serial, c->timeout_s, io);
}

/* ---- SCPI over USBTMC ------------------------------------------------------
 */

const char *shp_usb_excerpt(char out[80], const char *s, size_t len) {
  size_t n = 0;
  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  for (size_t i = 0; i < len && n < 72; i++)
    out[n++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '.';
  out[n] = '\0';
  return out;
}

int shp_usb_scpi_write(shp_usbtmc *c, const char *text) {
  char msg[80];
  int n = shp_proto_scpi_encode_command(msg, sizeof msg, text);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_usbtmc_name(c));
  return shp_usbtmc_write(c, msg, (size_t)n);
}

int shp_usb_scpi_query(shp_usbtmc *c, const char *text, char *reply,
                       size_t size, size_t *len) {
  char msg[80];
  int n = shp_proto_scpi_encode_command(msg, sizeof msg, text);
  if (n < 0)
    return shp_error_prefix("%s: ", shp_usbtmc_name(c));
  return shp_usbtmc_query(c, msg, reply, size, len);
}

int shp_usb_scpi_check_errors(shp_usbtmc *c, const char *after) {
  char reply[256], ex[80];
  size_t len = 0, message_len;
  const char *message;
  int code;
  int rc = shp_usb_scpi_query(c, "SYST:ERR?", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_scpi_decode_error(reply, len, &code, &message, &message_len) !=
      SHP_OK)
    return shp_error_prefix("%s: SYST:ERR?: ", shp_usbtmc_name(c));
  if (code != 0)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: the instrument reports error %d \"%s\"",
                         shp_usbtmc_name(c), after, code,
                         shp_usb_excerpt(ex, message, message_len));
  return SHP_OK;
}
