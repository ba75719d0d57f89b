/* The USBTMC transport: USB Test and Measurement Class instruments over
 * libusb-1.0 (USBTMC 1.0, the class specification of the USB-IF).
 *
 * A connection owns its own libusb context and device handle. It claims the
 * instrument's USBTMC interface (class 0xFE, subclass 0x03), detaching a
 * kernel driver (usbtmc) while it holds it, and speaks the bulk message
 * protocol with the header codecs of shp/proto/usbtmc.h: a write is one
 * DEV_DEP_MSG_OUT with EOM; a read sends REQUEST_DEV_DEP_MSG_IN and takes
 * DEV_DEP_MSG_IN transfers, checking each header against the request's bTag,
 * until one carries EOM. One device is read otherwise: a Rigol DS1000Z
 * (1ab1:04ce) sends the rest of an IEEE 488.2 block without header after a
 * first transfer that announces less (see transport-usbtmc.c).
 *
 * Every call is bounded by the connection's timeout: the whole exchange, not
 * each transfer, must finish within it. When a transfer times out or the
 * device answers garbage, the transfer is aborted with the class requests
 * (INITIATE_ABORT_BULK_OUT/IN, CHECK_ABORT_BULK_*_STATUS), the endpoint's
 * halt is cleared, and the call fails; the abort gets one more timeout of
 * its own, so a failing call returns within twice the timeout. Errors, each
 * with a message naming the device ("usbtmc 1313:80f8 M00412345: ..."):
 *   SHP_ERR_TIMEOUT       no (complete) answer in time
 *   SHP_ERR_PROTOCOL      wrong MsgID, bTag or bTagInverse, a short or
 *                         garbled header, more data than asked for, a stall
 *   SHP_ERR_DISCONNECTED  the device was unplugged (LIBUSB_ERROR_NO_DEVICE)
 *   SHP_ERR_RANGE         the reply does not fit the caller's buffer (the
 *                         rest of it is read and dropped, so the link stays
 *                         in step)
 *   SHP_ERR_IO            any other libusb failure, or a connection made
 *                         unusable by a transfer libusb could not cancel
 * Nothing here prints, exits or retries on its own. */
#ifndef SHP_USBTMC_H
#define SHP_USBTMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct libusb_config_descriptor;

/* ---- types -------------------------------------------------------------- */

typedef struct shp_usbtmc shp_usbtmc;

/* A USBTMC instrument present on the bus (shp_usbtmc_list). */
typedef struct {
  unsigned vendor, product;
  char serial[128]; /* "" when it cannot be read without opening */
  uint8_t bus, address;
  uint8_t interface_number;
} shp_usbtmc_device_info;

/* Where the USBTMC interface of a configuration is. */
typedef struct {
  uint8_t interface_number;
  uint8_t alt_setting;
  uint8_t protocol; /* 0 plain USBTMC, 1 USB488 */
  uint8_t bulk_in, bulk_out;
  uint8_t interrupt_in; /* 0 when the interface has none */
  uint16_t bulk_in_max_packet;
} shp_usbtmc_endpoints;

/* ---- discovery ---------------------------------------------------------- */

/* Finds the first interface of class 0xFE, subclass 0x03 in cfg with one
 * bulk-IN and one bulk-OUT endpoint. SHP_ERR_NOT_FOUND when there is none,
 * SHP_ERR_PROTOCOL when the interface lacks its bulk endpoints. */
int shp_usbtmc_find_endpoints(const struct libusb_config_descriptor *cfg,
                              shp_usbtmc_endpoints *out);

/* Every USBTMC device present. *list (owned by the caller, free with
 * shp_usbtmc_list_free) holds *count entries; an empty bus is SHP_OK with
 * count 0. The serial number comes from sysfs where Linux offers it (no
 * access to the device needed), else from the string descriptor when the
 * device may be opened, else "". SHP_ERR_IO when libusb cannot start. */
int shp_usbtmc_list(shp_usbtmc_device_info **list, size_t *count);
void shp_usbtmc_list_free(shp_usbtmc_device_info *list);

/* ---- lifecycle ---------------------------------------------------------- */

/* Opens the first USBTMC device with this vendor and product (and serial
 * number string, when serial is neither NULL nor ""), claims its USBTMC
 * interface and finds its endpoints. timeout_s > 0 bounds every later call.
 * Returns SHP_OK and *out (free with shp_usbtmc_close), or SHP_ERR_NOT_FOUND
 * (no such device, or it has no USBTMC interface), SHP_ERR_IO (permission:
 * see the udev rules; busy; libusb failure), SHP_ERR_DISCONNECTED,
 * SHP_ERR_INVALID (bad timeout). */
int shp_usbtmc_open(unsigned vendor, unsigned product, const char *serial,
                    double timeout_s, shp_usbtmc **out);

/* Releases the interface (the kernel driver is reattached by libusb) and
 * frees everything. NULL is a no-op. */
void shp_usbtmc_close(shp_usbtmc *c);

/* The name used in messages: "usbtmc VVVV:PPPP SERIAL". Owned by c. */
const char *shp_usbtmc_name(const shp_usbtmc *c);

/* The timeout of every later call; SHP_ERR_INVALID unless > 0. */
int shp_usbtmc_set_timeout(shp_usbtmc *c, double timeout_s);

/* ---- operations --------------------------------------------------------- */

/* Sends msg (len > 0 bytes) as one DEV_DEP_MSG_OUT with EOM. */
int shp_usbtmc_write(shp_usbtmc *c, const void *msg, size_t len);

/* Reads one whole device message (up to EOM) into buf, *len bytes. The
 * bytes are not terminated; see shp_usbtmc_query for text. */
int shp_usbtmc_read(shp_usbtmc *c, void *buf, size_t size, size_t *len);

/* Writes cmd (a string) and reads the reply into reply as a NUL-terminated
 * string (at most size - 1 bytes), its length in *len (may be NULL). */
int shp_usbtmc_query(shp_usbtmc *c, const char *cmd, char *reply, size_t size,
                     size_t *len);

/* ---- the transfer seam -------------------------------------------------- */

/* The three USB operations the protocol needs, so the protocol logic can be
 * exercised without a device (unit tests) or put on another USB stack. Each
 * returns 0 (or, for control, the number of bytes transferred) or a negative
 * libusb_error code (LIBUSB_ERROR_TIMEOUT, LIBUSB_ERROR_NO_DEVICE, ...);
 * timeout_ms is always >= 1. */
typedef struct {
  int (*bulk)(void *user, uint8_t endpoint, uint8_t *buf, int len,
              int *transferred, unsigned timeout_ms);
  int (*control)(void *user, uint8_t request_type, uint8_t request,
                 uint16_t value, uint16_t index, uint8_t *data, uint16_t length,
                 unsigned timeout_ms);
  int (*clear_halt)(void *user, uint8_t endpoint);
} shp_usbtmc_io;

/* A connection on io (borrowed; user passed to every call) with these
 * endpoints; name is copied for messages. Returns NULL on a bad argument or
 * no memory, with the reason in shp_error_detail(). */
shp_usbtmc *shp_usbtmc_new_with_io(const shp_usbtmc_io *io, void *user,
                                   const shp_usbtmc_endpoints *ep,
                                   const char *name, double timeout_s);

#ifdef __cplusplus
}
#endif
#endif
