/* Internal to the USBTMC transport: the connection object, the class
 * constants and the helpers its two halves share (transport-usbtmc.c, the
 * protocol over the transfer seam; transport-usbtmc-libusb.c, the libusb
 * side: devices, endpoints and transfers). */
#ifndef SHP_USBTMC_PRIVATE_H
#define SHP_USBTMC_PRIVATE_H

#include "shp/proto/usbtmc.h"
#include "shp/usbtmc.h"

#include <libusb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  REQ_INITIATE_ABORT_BULK_OUT = 1,
  REQ_CHECK_ABORT_BULK_OUT_STATUS = 2,
  REQ_INITIATE_ABORT_BULK_IN = 3,
  REQ_CHECK_ABORT_BULK_IN_STATUS = 4,
  REQTYPE_ENDPOINT_IN = 0xA2, /* device-to-host, class, endpoint */
  STATUS_SUCCESS = 0x01,
  STATUS_PENDING = 0x02,
  USBTMC_CLASS = 0xFE,
  USBTMC_SUBCLASS = 0x03,
};

/* The most a single DEV_DEP_MSG_IN may carry here: bounds the transfer
 * buffer; longer replies come in several transfers. */
#define MAX_IN_CHUNK (64u * 1024u)
/* The largest message written in one DEV_DEP_MSG_OUT. */
#define MAX_OUT_MESSAGE (1024u * 1024u)

struct shp_usbtmc {
  const shp_usbtmc_io *io;
  void *user;
  shp_usbtmc_endpoints ep;
  char name[192];
  double timeout_s;
  shp_proto_usbtmc_tag tag;
  bool unusable; /* a transfer libusb could not take back is in flight */
  /* A Rigol DS1000Z (1ab1:04ce): an IEEE 488.2 block's first transfer
   * announces less than the block, the rest follows with no header and no
   * new request (usbtmc_apply_quirks). */
  bool rigol_block_quirk;
  uint8_t *buf; /* transfer buffer */
  size_t cap;
  /* The libusb implementation of the seam (NULL with new_with_io). */
  libusb_context *ctx;
  libusb_device_handle *handle;
  bool claimed;
};

/* Monotonic seconds, and milliseconds left until a deadline (at least 1). */
double usbtmc_now_s(void);
unsigned usbtmc_left_ms(double deadline);
/* The SHP_ERR_* code of a libusb error. */
int usbtmc_code_of(int usb_error);
/* Sets what the device with these USB ids needs beyond USBTMC 1.0 (only
 * the Rigol DS1000Z block quirk so far); every other device is held to the
 * specification. Called on open; tests call it on a seam connection. */
void usbtmc_apply_quirks(shp_usbtmc *c, unsigned vendor, unsigned product);
/* A connection on the given endpoints, or NULL with the reason recorded. */
shp_usbtmc *usbtmc_connection_new(const shp_usbtmc_endpoints *ep,
                                  const char *name, double timeout_s);

#endif
