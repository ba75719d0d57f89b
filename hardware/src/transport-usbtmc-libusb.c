/* The libusb side of the USBTMC transport: finding the class interface and
 * its endpoints, listing and opening devices, and the transfer functions of
 * the shp_usbtmc_io seam, submitted asynchronously with zeroed buffers and
 * waited for with a deadline. */
#include "usbtmc-private.h"

#include "shp/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- endpoint discovery -------------------------------------------------- */

int shp_usbtmc_find_endpoints(const struct libusb_config_descriptor *cfg,
                              shp_usbtmc_endpoints *out) {
  if (!cfg || !out)
    return shp_error_set(SHP_ERR_INVALID, "usbtmc: no configuration");
  for (int i = 0; i < cfg->bNumInterfaces; i++) {
    const struct libusb_interface *itf = &cfg->interface[i];
    for (int a = 0; a < itf->num_altsetting; a++) {
      const struct libusb_interface_descriptor *d = &itf->altsetting[a];
      if (d->bInterfaceClass != USBTMC_CLASS ||
          d->bInterfaceSubClass != USBTMC_SUBCLASS)
        continue;
      shp_usbtmc_endpoints e = {.interface_number = d->bInterfaceNumber,
                                .alt_setting = d->bAlternateSetting,
                                .protocol = d->bInterfaceProtocol};
      for (int k = 0; k < d->bNumEndpoints; k++) {
        const struct libusb_endpoint_descriptor *ed = &d->endpoint[k];
        int type = ed->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
        bool in = (ed->bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0;
        if (type == LIBUSB_TRANSFER_TYPE_BULK && in && !e.bulk_in) {
          e.bulk_in = ed->bEndpointAddress;
          e.bulk_in_max_packet = ed->wMaxPacketSize & 0x7ff;
        } else if (type == LIBUSB_TRANSFER_TYPE_BULK && !in && !e.bulk_out) {
          e.bulk_out = ed->bEndpointAddress;
        } else if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT && in &&
                   !e.interrupt_in) {
          e.interrupt_in = ed->bEndpointAddress;
        }
      }
      if (!e.bulk_in || !e.bulk_out)
        return shp_error_set(SHP_ERR_PROTOCOL,
                             "usbtmc: interface %u lacks a bulk-%s endpoint",
                             d->bInterfaceNumber, e.bulk_in ? "OUT" : "IN");
      if (!e.bulk_in_max_packet)
        e.bulk_in_max_packet = 64;
      *out = e;
      return SHP_OK;
    }
  }
  return shp_error_set(SHP_ERR_NOT_FOUND,
                       "usbtmc: no interface of class 0xFE subclass 0x03");
}

/* ---- the libusb implementation of the seam --------------------------------
 */

static void LIBUSB_CALL transfer_done(struct libusb_transfer *t) {
  *(int *)t->user_data = 1;
}

/* Submits t and waits for it, at most timeout_ms plus a grace second for
 * libusb's own cancellation. A transfer that never comes back is left to
 * libusb (freeing it would be a use after free) and marks c unusable. */
static int run_transfer(shp_usbtmc *c, struct libusb_transfer *t, int *done,
                        unsigned timeout_ms) {
  *done = 0;
  int r = libusb_submit_transfer(t);
  if (r < 0)
    return r;
  double deadline = usbtmc_now_s() + timeout_ms * 1e-3 + 1.0;
  bool cancelled = false;
  while (!*done) {
    unsigned ms = usbtmc_left_ms(deadline);
    if (ms == 0) {
      if (cancelled) {
        c->unusable = true;
        return LIBUSB_ERROR_TIMEOUT;
      }
      libusb_cancel_transfer(t);
      cancelled = true;
      deadline = usbtmc_now_s() + 1.0;
      continue;
    }
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (long)(ms % 1000) * 1000};
    r = libusb_handle_events_timeout_completed(c->ctx, &tv, done);
    if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED && !cancelled) {
      libusb_cancel_transfer(t);
      cancelled = true;
      deadline = usbtmc_now_s() + 1.0;
    }
  }
  switch (t->status) {
  case LIBUSB_TRANSFER_COMPLETED:
    return 0;
  case LIBUSB_TRANSFER_TIMED_OUT:
  case LIBUSB_TRANSFER_CANCELLED:
    return LIBUSB_ERROR_TIMEOUT;
  case LIBUSB_TRANSFER_STALL:
    return LIBUSB_ERROR_PIPE;
  case LIBUSB_TRANSFER_NO_DEVICE:
    return LIBUSB_ERROR_NO_DEVICE;
  case LIBUSB_TRANSFER_OVERFLOW:
    return LIBUSB_ERROR_OVERFLOW;
  default:
    return LIBUSB_ERROR_IO;
  }
}

static int usb_bulk(void *user, uint8_t endpoint, uint8_t *buf, int len,
                    int *transferred, unsigned timeout_ms) {
  shp_usbtmc *c = user;
  struct libusb_transfer *t = libusb_alloc_transfer(0);
  if (!t)
    return LIBUSB_ERROR_NO_MEM;
  int done = 0;
  libusb_fill_bulk_transfer(t, c->handle, endpoint, buf, len, transfer_done,
                            &done, timeout_ms);
  int r = run_transfer(c, t, &done, timeout_ms);
  *transferred = t->actual_length;
  if (done)
    libusb_free_transfer(t);
  return r;
}

static int usb_control(void *user, uint8_t request_type, uint8_t request,
                       uint16_t value, uint16_t index, uint8_t *data,
                       uint16_t length, unsigned timeout_ms) {
  shp_usbtmc *c = user;
  uint8_t *buf = calloc(1, LIBUSB_CONTROL_SETUP_SIZE + (size_t)length);
  struct libusb_transfer *t = libusb_alloc_transfer(0);
  if (!buf || !t) {
    free(buf);
    libusb_free_transfer(t);
    return LIBUSB_ERROR_NO_MEM;
  }
  libusb_fill_control_setup(buf, request_type, request, value, index, length);
  bool in = (request_type & LIBUSB_ENDPOINT_IN) != 0;
  if (!in && length)
    memcpy(buf + LIBUSB_CONTROL_SETUP_SIZE, data, length);
  int done = 0;
  libusb_fill_control_transfer(t, c->handle, buf, transfer_done, &done,
                               timeout_ms);
  int r = run_transfer(c, t, &done, timeout_ms);
  if (r == 0) {
    r = t->actual_length;
    if (in && r > 0)
      memcpy(data, buf + LIBUSB_CONTROL_SETUP_SIZE, (size_t)r);
  }
  if (done) {
    libusb_free_transfer(t);
    free(buf);
  }
  return r;
}

static int usb_clear_halt(void *user, uint8_t endpoint) {
  shp_usbtmc *c = user;
  return libusb_clear_halt(c->handle, endpoint);
}

static const shp_usbtmc_io usb_io = {
    .bulk = usb_bulk, .control = usb_control, .clear_halt = usb_clear_halt};

/* ---- devices ------------------------------------------------------------ */

/* The serial number from sysfs (Linux): the directory of the device whose
 * busnum and devnum match. No access to the device is needed. */
static bool sysfs_read(const char *dir, const char *attr, char *out,
                       size_t size) {
  char path[512];
  snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/%s", dir, attr);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  bool ok = fgets(out, (int)size, f) != NULL;
  fclose(f);
  if (ok)
    out[strcspn(out, "\r\n")] = '\0';
  return ok;
}

static void sysfs_serial(libusb_device *dev, char *out, size_t size) {
  uint8_t ports[8];
  int n = libusb_get_port_numbers(dev, ports, (int)sizeof ports);
  if (n <= 0)
    return;
  char dir[64];
  int k =
      snprintf(dir, sizeof dir, "%u-%u", libusb_get_bus_number(dev), ports[0]);
  for (int i = 1; i < n && k > 0 && (size_t)k < sizeof dir; i++)
    k += snprintf(dir + k, sizeof dir - (size_t)k, ".%u", ports[i]);
  char num[16];
  if (!sysfs_read(dir, "devnum", num, sizeof num) ||
      strtoul(num, NULL, 10) != libusb_get_device_address(dev))
    return;
  if (!sysfs_read(dir, "serial", out, size))
    out[0] = '\0';
}

/* The serial number: sysfs, else the string descriptor through h (may be
 * NULL), else "". */
static void device_serial(libusb_device *dev, libusb_device_handle *h,
                          uint8_t index, char *out, size_t size) {
  out[0] = '\0';
  sysfs_serial(dev, out, size);
  if (out[0] || !h || !index)
    return;
  int n = libusb_get_string_descriptor_ascii(h, index, (unsigned char *)out,
                                             (int)size);
  if (n < 0)
    out[0] = '\0';
}

static int device_endpoints(libusb_device *dev, shp_usbtmc_endpoints *ep) {
  struct libusb_config_descriptor *cfg = NULL;
  int r = libusb_get_active_config_descriptor(dev, &cfg);
  if (r < 0)
    r = libusb_get_config_descriptor(dev, 0, &cfg);
  if (r < 0)
    return shp_error_set(usbtmc_code_of(r),
                         "usbtmc: configuration descriptor: %s",
                         libusb_error_name(r));
  int rc = shp_usbtmc_find_endpoints(cfg, ep);
  libusb_free_config_descriptor(cfg);
  return rc;
}

int shp_usbtmc_list(shp_usbtmc_device_info **list, size_t *count) {
  if (!list || !count)
    return shp_error_set(SHP_ERR_INVALID, "usbtmc: nowhere to list devices");
  *list = NULL;
  *count = 0;
  libusb_context *ctx = NULL;
  int r = libusb_init(&ctx);
  if (r < 0)
    return shp_error_set(SHP_ERR_IO, "usbtmc: libusb: %s",
                         libusb_error_name(r));
  libusb_device **devs = NULL;
  ssize_t n = libusb_get_device_list(ctx, &devs);
  if (n < 0) {
    libusb_exit(ctx);
    return shp_error_set(SHP_ERR_IO, "usbtmc: listing USB devices: %s",
                         libusb_error_name((int)n));
  }
  int rc = SHP_OK;
  shp_usbtmc_device_info *out = calloc((size_t)n + 1, sizeof *out);
  if (!out)
    rc = shp_error_set(SHP_ERR_NOMEM, "usbtmc: no memory");
  size_t k = 0;
  for (ssize_t i = 0; out && i < n; i++) {
    struct libusb_device_descriptor dd;
    shp_usbtmc_endpoints ep;
    if (libusb_get_device_descriptor(devs[i], &dd) < 0 ||
        device_endpoints(devs[i], &ep) != SHP_OK)
      continue;
    shp_usbtmc_device_info *d = &out[k++];
    d->vendor = dd.idVendor;
    d->product = dd.idProduct;
    d->bus = libusb_get_bus_number(devs[i]);
    d->address = libusb_get_device_address(devs[i]);
    d->interface_number = ep.interface_number;
    sysfs_serial(devs[i], d->serial, sizeof d->serial);
    if (!d->serial[0] && dd.iSerialNumber) {
      libusb_device_handle *h = NULL;
      if (libusb_open(devs[i], &h) == 0) {
        device_serial(devs[i], h, dd.iSerialNumber, d->serial,
                      sizeof d->serial);
        libusb_close(h);
      }
    }
  }
  if (rc == SHP_OK)
    shp_error_clear(); /* devices without USBTMC are not failures */
  libusb_free_device_list(devs, 1);
  libusb_exit(ctx);
  if (rc == SHP_OK) {
    *list = out;
    *count = k;
  }
  return rc;
}

void shp_usbtmc_list_free(shp_usbtmc_device_info *list) { free(list); }

/* Opens dev when it is the one asked for: *h stays NULL when it is not. */
static int try_device(libusb_device *dev, unsigned vendor, unsigned product,
                      const char *serial, libusb_device_handle **h,
                      char *serial_out, size_t serial_size) {
  struct libusb_device_descriptor dd;
  *h = NULL;
  if (libusb_get_device_descriptor(dev, &dd) < 0 || dd.idVendor != vendor ||
      dd.idProduct != product)
    return SHP_OK;
  serial_out[0] = '\0';
  sysfs_serial(dev, serial_out, serial_size);
  if (serial && serial_out[0] && strcmp(serial, serial_out) != 0)
    return SHP_OK;
  int r = libusb_open(dev, h);
  if (r < 0)
    return r;
  if (!serial_out[0])
    device_serial(dev, *h, dd.iSerialNumber, serial_out, serial_size);
  if (serial && strcmp(serial, serial_out) != 0) {
    libusb_close(*h);
    *h = NULL;
  }
  return SHP_OK;
}

int shp_usbtmc_open(unsigned vendor, unsigned product, const char *serial,
                    double timeout_s, shp_usbtmc **out) {
  char name[192], sn[128] = "";
  snprintf(name, sizeof name, "usbtmc %04x:%04x%s%s", vendor, product,
           serial && serial[0] ? " " : "", serial ? serial : "");
  if (!out)
    return shp_error_set(SHP_ERR_INVALID, "%s: nowhere to put it", name);
  *out = NULL;
  if (serial && !serial[0])
    serial = NULL;
  libusb_context *ctx = NULL;
  int r = libusb_init(&ctx);
  if (r < 0)
    return shp_error_set(SHP_ERR_IO, "%s: libusb: %s", name,
                         libusb_error_name(r));
  libusb_device **devs = NULL;
  ssize_t n = libusb_get_device_list(ctx, &devs);
  if (n < 0) {
    libusb_exit(ctx);
    return shp_error_set(SHP_ERR_IO, "%s: listing USB devices: %s", name,
                         libusb_error_name((int)n));
  }
  libusb_device_handle *h = NULL;
  libusb_device *dev = NULL;
  int open_error = 0;
  for (ssize_t i = 0; i < n && !h; i++) {
    r = try_device(devs[i], vendor, product, serial, &h, sn, sizeof sn);
    if (r < 0)
      open_error = r;
    if (h)
      dev = devs[i];
  }
  shp_usbtmc_endpoints ep;
  int rc = SHP_OK;
  if (!h && open_error)
    rc = shp_error_set(usbtmc_code_of(open_error), "%s: cannot open: %s%s",
                       name, libusb_error_name(open_error),
                       open_error == LIBUSB_ERROR_ACCESS
                           ? " (install the udev rules, see README.md)"
                           : "");
  else if (!h)
    rc = shp_error_set(SHP_ERR_NOT_FOUND, "%s: no such USB device", name);
  else if ((rc = device_endpoints(dev, &ep)) != SHP_OK)
    shp_error_prefix("%s: ", name);
  libusb_free_device_list(devs, 1);
  if (rc != SHP_OK) {
    if (h)
      libusb_close(h);
    libusb_exit(ctx);
    return rc;
  }
  if (!serial && sn[0])
    snprintf(name + strlen(name), sizeof name - strlen(name), " %s", sn);

  shp_usbtmc *c = usbtmc_connection_new(&ep, name, timeout_s);
  if (!c) {
    libusb_close(h);
    libusb_exit(ctx);
    return shp_error_last();
  }
  c->io = &usb_io;
  c->user = c;
  usbtmc_apply_quirks(c, vendor, product);
  c->ctx = ctx;
  c->handle = h;
  /* Linux binds the usbtmc kernel driver to the interface; libusb then
   * detaches it on claim and reattaches it on release. Only when one is
   * bound: detaching nothing fails on some stacks (umockdev's usbdevfs
   * emulation answers USBDEVFS_IOCTL with ENOTTY). */
  if (libusb_kernel_driver_active(h, ep.interface_number) == 1)
    libusb_set_auto_detach_kernel_driver(h, 1);
  r = libusb_claim_interface(h, ep.interface_number);
  if (r < 0) {
    rc = shp_error_set(usbtmc_code_of(r), "%s: cannot claim interface %u: %s",
                       name, ep.interface_number, libusb_error_name(r));
    shp_usbtmc_close(c);
    return rc;
  }
  c->claimed = true;
  if (ep.alt_setting && (r = libusb_set_interface_alt_setting(
                             h, ep.interface_number, ep.alt_setting)) < 0) {
    rc = shp_error_set(usbtmc_code_of(r), "%s: alternate setting %u: %s", name,
                       ep.alt_setting, libusb_error_name(r));
    shp_usbtmc_close(c);
    return rc;
  }
  *out = c;
  return SHP_OK;
}

void shp_usbtmc_close(shp_usbtmc *c) {
  if (!c)
    return;
  if (c->handle) {
    if (c->claimed)
      libusb_release_interface(c->handle, c->ep.interface_number);
    libusb_close(c->handle);
  }
  if (c->ctx)
    libusb_exit(c->ctx);
  free(c->buf);
  free(c);
}
