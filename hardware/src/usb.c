/* What every USBTMC driver does the same way on open: the connection must be
 * kind usb with a vendor and product id, the driver's options may hold only
 * its own keys, and the instrument is opened with the connection's timeout. */
#include "drivers.h"

#include "shp/error.h"
#include "shp/yamlfile.h"

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
