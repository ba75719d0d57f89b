/* What every USB-serial oven driver does the same way on open. */
#include "drivers.h"

#include "shp/error.h"
#include "shp/yamlfile.h"

#include <string.h>

int shp_serial_check(const shp_device_config *cfg, const char *driver,
                     const char *const *allowed, char *ctx, size_t ctx_size) {
  const shp_connection *c = cfg->connection;
  if (c->kind == NULL || strcmp(c->kind, "tty") != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: needs a tty connection (kind: tty, port: "
                         "/dev/ttyUSB0), got kind \"%s\"",
                         driver, c->kind ? c->kind : "");
  shp_yaml_key_name(ctx, ctx_size, cfg->options_ctx, "options");
  if (cfg->options == NULL)
    return SHP_OK;
  static const char *const none[] = {NULL};
  return shp_yaml_check_keys(cfg->yaml, cfg->options, ctx,
                             allowed ? allowed : none);
}

int shp_serial_open(const shp_device_config *cfg, int default_baud,
                    shp_transport **io) {
  shp_connection conn = *cfg->connection;
  if (conn.baud == 0)
    conn.baud = default_baud;
  *io = shp_transport_tty_open(&conn, NULL); /* 8N1, no flow control */
  return *io != NULL ? SHP_OK : shp_error_last();
}

int shp_serial_single_channel(const shp_transport *io, const char *what,
                              int channel) {
  if (channel != 0)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: a %s has one channel (0), not %d",
                         shp_transport_name(io), what, channel);
  return SHP_OK;
}
