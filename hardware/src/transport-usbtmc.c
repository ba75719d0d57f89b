/* The USBTMC transport on libusb-1.0; see shp/usbtmc.h.
 *
 * Sources: USB Test and Measurement Class Specification 1.0 (USB-IF, 2003):
 * section 3.2 (bulk-OUT and bulk-IN headers), 4.2.1 (the class requests
 * INITIATE_ABORT_BULK_OUT = 1, CHECK_ABORT_BULK_OUT_STATUS = 2,
 * INITIATE_ABORT_BULK_IN = 3, CHECK_ABORT_BULK_IN_STATUS = 4, their
 * bmRequestType 0xA2 "class, endpoint, device-to-host", wValue = bTag of the
 * transfer, wIndex = its endpoint) and table 16 (USBTMC_status values).
 *
 * The protocol logic here only sees the shp_usbtmc_io seam; the libusb
 * functions in transport-usbtmc-libusb.c are one implementation of it. Control
 * and bulk transfers are submitted asynchronously with zeroed buffers and
 * waited for here, so every wait is bounded and no uninitialised byte reaches
 * the bus (umockdev's ioctl replay compares whole URB buffers). */
#include "usbtmc-private.h"

#include "shp/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time --------------------------------------------------------------- */

double usbtmc_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Milliseconds left until deadline, at least 1; 0 when it has passed. */
unsigned usbtmc_left_ms(double deadline) {
  double left = deadline - usbtmc_now_s();
  if (left <= 0)
    return 0;
  double ms = left * 1e3 + 0.5;
  return ms < 1 ? 1u : ms > 3.6e6 ? 3600000u : (unsigned)ms;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000,
                        .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- errors ------------------------------------------------------------- */

int usbtmc_code_of(int usb_error) {
  switch (usb_error) {
  case LIBUSB_ERROR_TIMEOUT:
    return SHP_ERR_TIMEOUT;
  case LIBUSB_ERROR_NO_DEVICE:
    return SHP_ERR_DISCONNECTED;
  case LIBUSB_ERROR_PIPE:
  case LIBUSB_ERROR_OVERFLOW:
    return SHP_ERR_PROTOCOL;
  case LIBUSB_ERROR_NO_MEM:
    return SHP_ERR_NOMEM;
  default:
    return SHP_ERR_IO;
  }
}

static const char *usb_what(int usb_error) {
  switch (usb_error) {
  case LIBUSB_ERROR_TIMEOUT:
    return "no answer in time";
  case LIBUSB_ERROR_NO_DEVICE:
    return "device unplugged";
  case LIBUSB_ERROR_PIPE:
    return "endpoint stalled";
  default:
    return libusb_strerror(usb_error);
  }
}

static int ensure_buffer(shp_usbtmc *c, size_t n) {
  if (n <= c->cap)
    return SHP_OK;
  uint8_t *b = realloc(c->buf, n);
  if (!b)
    return shp_error_set(SHP_ERR_NOMEM, "%s: no memory for %zu bytes", c->name,
                         n);
  c->buf = b;
  c->cap = n;
  return SHP_OK;
}

/* ---- abort (USBTMC 1.0, 4.2.1.2 to 4.2.1.5) ------------------------------ */

/* Aborts the transfer btag on endpoint ep (bulk-IN when in) and clears the
 * endpoint's halt, within one timeout. Best effort: writes what happened
 * into note, which goes into the caller's error message. */
static void abort_transfer(shp_usbtmc *c, bool in, uint8_t btag, char *note,
                           size_t note_size) {
  double deadline = usbtmc_now_s() + c->timeout_s;
  uint8_t ep = in ? c->ep.bulk_in : c->ep.bulk_out;
  const char *what = in ? "INITIATE_ABORT_BULK_IN" : "INITIATE_ABORT_BULK_OUT";
  uint8_t st[8] = {0};
  unsigned ms = usbtmc_left_ms(deadline);
  int r = c->io->control(c->user, REQTYPE_ENDPOINT_IN,
                         in ? REQ_INITIATE_ABORT_BULK_IN
                            : REQ_INITIATE_ABORT_BULK_OUT,
                         btag, ep, st, 2, ms ? ms : 1);
  int n;
  if (r < 0) {
    n = snprintf(note, note_size, "%s failed: %s", what, libusb_error_name(r));
  } else if (r < 2 || st[0] != STATUS_SUCCESS) {
    /* FAILED (0x80) or TRANSFER_NOT_IN_PROGRESS (0x81): nothing to abort. */
    n = snprintf(note, note_size, "%s answered status 0x%02x", what, st[0]);
  } else {
    /* Bulk-IN: drain what the device still queued (4.2.1.4), then poll the
     * status until it is no longer PENDING. */
    int polls = 0;
    uint8_t status = STATUS_PENDING;
    while ((ms = usbtmc_left_ms(deadline)) > 0) {
      if (in && ensure_buffer(c, c->ep.bulk_in_max_packet + 0u) == SHP_OK) {
        int got = 0;
        (void)c->io->bulk(c->user, ep, c->buf, c->ep.bulk_in_max_packet, &got,
                          ms < 50 ? ms : 50);
      }
      memset(st, 0, sizeof st);
      ms = usbtmc_left_ms(deadline);
      r = c->io->control(c->user, REQTYPE_ENDPOINT_IN,
                         in ? REQ_CHECK_ABORT_BULK_IN_STATUS
                            : REQ_CHECK_ABORT_BULK_OUT_STATUS,
                         0, ep, st, 8, ms ? ms : 1);
      polls++;
      if (r < 0 || (status = st[0]) != STATUS_PENDING)
        break;
      sleep_ms(10);
    }
    if (r < 0)
      n = snprintf(note, note_size, "%s done, status check failed: %s", what,
                   libusb_error_name(r));
    else
      n = snprintf(note, note_size, "%s done, status 0x%02x after %d checks",
                   what, status, polls);
  }
  r = c->io->clear_halt(c->user, ep);
  if (n >= 0 && (size_t)n < note_size)
    snprintf(note + n, note_size - (size_t)n, "; clear halt 0x%02x: %s", ep,
             r < 0 ? libusb_error_name(r) : "done");
}

/* Reports a failed transfer and, unless the device is gone, aborts it. */
static int transfer_failed(shp_usbtmc *c, bool in, uint8_t btag, int usb_error,
                           const char *during) {
  char note[256] = "";
  if (usb_error != LIBUSB_ERROR_NO_DEVICE && !c->unusable)
    abort_transfer(c, in, btag, note, sizeof note);
  return shp_error_set(usbtmc_code_of(usb_error), "%s: %s: %s%s%s%s", c->name,
                       during, usb_what(usb_error), note[0] ? " (" : "", note,
                       note[0] ? ")" : "");
}

/* ---- messages ----------------------------------------------------------- */

static int check_usable(shp_usbtmc *c) {
  if (!c)
    return shp_error_set(SHP_ERR_INVALID, "usbtmc: no connection");
  if (c->unusable)
    return shp_error_set(SHP_ERR_IO,
                         "%s: unusable after a transfer that could not be "
                         "cancelled; close and reopen",
                         c->name);
  return SHP_OK;
}

static int send_out(shp_usbtmc *c, size_t total, uint8_t btag, double deadline,
                    const char *during) {
  unsigned ms = usbtmc_left_ms(deadline);
  if (ms == 0)
    return transfer_failed(c, false, btag, LIBUSB_ERROR_TIMEOUT, during);
  int sent = 0;
  int r = c->io->bulk(c->user, c->ep.bulk_out, c->buf, (int)total, &sent, ms);
  if (r < 0)
    return transfer_failed(c, false, btag, r, during);
  if ((size_t)sent != total)
    return transfer_failed(c, false, btag, LIBUSB_ERROR_TIMEOUT, during);
  return SHP_OK;
}

static int write_message(shp_usbtmc *c, const void *msg, size_t len,
                         double deadline) {
  if (len == 0 || len > MAX_OUT_MESSAGE)
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: message of %zu bytes (must be 1..%u)", c->name,
                         len, MAX_OUT_MESSAGE);
  size_t total = SHP_PROTO_USBTMC_HEADER_SIZE + ((len + 3) & ~(size_t)3);
  int rc = ensure_buffer(c, total);
  if (rc != SHP_OK)
    return rc;
  uint8_t btag = shp_proto_usbtmc_tag_next(&c->tag);
  rc = shp_proto_usbtmc_encode_out(c->buf, c->cap, btag, msg, len, true);
  if (rc < 0)
    return shp_error_prefix("%s: ", c->name);
  return send_out(c, (size_t)rc, btag, deadline, "writing a message");
}

static size_t block_length(const uint8_t *buf, size_t n);

/* A DS1000Z's first transfer of a block announces less than the block; when
 * the same read brought more, the block's own length (at most what arrived
 * and max_len) is taken as the announced one and bytes past the block are
 * dropped; the header is otherwise checked as for any device. (python-usbtmc
 * cuts the first read at the announced size instead, which would lose such
 * bytes; taking them is this code's choice.) Returns the bytes of the read
 * that count. */
static size_t rigol_block_size(shp_usbtmc *c, size_t got, size_t max_len) {
  if (got <= SHP_PROTO_USBTMC_HEADER_SIZE)
    return got;
  uint8_t *h = c->buf;
  size_t data = got - SHP_PROTO_USBTMC_HEADER_SIZE;
  size_t n = (size_t)h[4] | (size_t)h[5] << 8 | (size_t)h[6] << 16 |
             (size_t)h[7] << 24;
  size_t block = block_length(h + SHP_PROTO_USBTMC_HEADER_SIZE, data);
  if (data <= n + 3 || block <= n)
    return got;
  n = block < data ? block : data;
  n = n < max_len ? n : max_len;
  for (int i = 0; i < 4; i++)
    h[4 + i] = (uint8_t)(n >> (8 * i));
  return SHP_PROTO_USBTMC_HEADER_SIZE + n;
}

/* One bulk-IN read of at least n bytes into c->buf (zeroed first), asked
 * for in whole packets so a device that sends its padding or a zero-length
 * packet never overflows the transfer; what names the read in errors. */
static int bulk_in(shp_usbtmc *c, size_t n, uint8_t btag, double deadline,
                   const char *what, int *got) {
  size_t mps = c->ep.bulk_in_max_packet ? c->ep.bulk_in_max_packet : 64;
  size_t want = (n + mps - 1) / mps * mps;
  int rc = ensure_buffer(c, want);
  if (rc != SHP_OK)
    return rc;
  memset(c->buf, 0, want);
  unsigned ms = usbtmc_left_ms(deadline);
  if (ms == 0)
    return transfer_failed(c, true, btag, LIBUSB_ERROR_TIMEOUT, what);
  *got = 0;
  int r = c->io->bulk(c->user, c->ep.bulk_in, c->buf, (int)want, got, ms);
  return r < 0 ? transfer_failed(c, true, btag, r, what) : SHP_OK;
}

/* One REQUEST_DEV_DEP_MSG_IN for at most max_len bytes, and its answer
 * appended to out at *total. */
static int read_transfer(shp_usbtmc *c, uint8_t *out, size_t max_len,
                         size_t *total, bool *eom, uint8_t *tag,
                         double deadline) {
  uint8_t btag = shp_proto_usbtmc_tag_next(&c->tag);
  *tag = btag;
  int rc = ensure_buffer(c, SHP_PROTO_USBTMC_HEADER_SIZE);
  if (rc != SHP_OK)
    return rc;
  rc = shp_proto_usbtmc_encode_request_in(c->buf, c->cap, btag,
                                          (uint32_t)max_len, -1);
  if (rc < 0)
    return shp_error_prefix("%s: ", c->name);
  rc = send_out(c, (size_t)rc, btag, deadline, "requesting a reply");
  if (rc != SHP_OK)
    return rc;

  int got = 0;
  rc = bulk_in(c, SHP_PROTO_USBTMC_HEADER_SIZE + max_len + 3, btag, deadline,
               "reading a reply", &got);
  if (rc != SHP_OK)
    return rc;

  if (c->rigol_block_quirk && *total == 0)
    got = (int)rigol_block_size(c, (size_t)got, max_len);
  shp_proto_usbtmc_in in;
  rc = shp_proto_usbtmc_decode_in(c->buf, (size_t)got, btag, &in);
  if (rc == SHP_OK && in.data_len > max_len)
    rc =
        shp_error_set(SHP_ERR_PROTOCOL, "usbtmc: %zu bytes sent, %zu asked for",
                      in.data_len, max_len);
  if (rc != SHP_OK) {
    char note[256] = "";
    int code = shp_error_last();
    char detail[256];
    const char *why = shp_error_detail();
    if (strncmp(why, "usbtmc: ", 8) == 0)
      why += 8;
    snprintf(detail, sizeof detail, "%s", why);
    abort_transfer(c, true, btag, note, sizeof note);
    return shp_error_set(code, "%s: %s (%s)", c->name, detail, note);
  }
  if (out)
    memcpy(out + *total, in.data, in.data_len);
  *total += in.data_len;
  *eom = in.eom;
  return SHP_OK;
}

/* ---- the Rigol DS1000Z block quirk ---------------------------------------
 *
 * python-usbtmc (python-ivi/python-usbtmc, usbtmc/usbtmc.py: RIGOL_QUIRK_PIDS,
 * rigol_quirk, rigol_quirk_ieee_block) reads Rigol 1ab1:04ce (DS1000Z) and
 * 1ab1:0588 thus: one REQUEST_DEV_DEP_MSG_IN per message ("if the rigol sees
 * this again, it will restart the transfer"); only the first transfer has a
 * header, and "they lie about whether the transaction is complete"; on the
 * 04ce an IEEE 488.2 block's TransferSize is less than the block, whose own
 * header gives its length ("#", a digit n, n digits), and reading goes on
 * without header until that many bytes are in; the rest is dropped. Only the
 * 04ce's block part is taken here, for that id only: every other device, and
 * a 04ce answer that is not a block, is read to USBTMC 1.0. */

enum { RIGOL_VENDOR = 0x1ab1, RIGOL_DS1000Z = 0x04ce };

void usbtmc_apply_quirks(shp_usbtmc *c, unsigned vendor, unsigned product) {
  if (c)
    c->rigol_block_quirk = vendor == RIGOL_VENDOR && product == RIGOL_DS1000Z;
}

/* The whole length of the IEEE 488.2 definite-length block that buf[0..n)
 * starts with, or 0 when it starts with none (or its header is cut). */
static size_t block_length(const uint8_t *buf, size_t n) {
  if (n < 2 || buf[0] != '#' || buf[1] < '1' || buf[1] > '9')
    return 0;
  size_t digits = (size_t)(buf[1] - '0'), len = 0;
  if (n < 2 + digits)
    return 0;
  for (size_t i = 0; i < digits; i++) {
    if (buf[2 + i] < '0' || buf[2 + i] > '9')
      return 0;
    len = len * 10 + (size_t)(buf[2 + i] - '0');
  }
  return 2 + digits + len;
}

/* After the first transfer of a DS1000Z answer (*total bytes in buf, its
 * bTag btag): when it starts a block longer than it announced, the rest of
 * the block, read bulk-IN without header or request, bytes past the block
 * dropped. */
static int rigol_block_rest(shp_usbtmc *c, uint8_t *buf, size_t size,
                            size_t *total, bool *eom, uint8_t btag,
                            double deadline) {
  size_t want_total = block_length(buf, *total);
  if (want_total == 0)
    return SHP_OK; /* not a block: read to USBTMC 1.0 */
  if (want_total <= *total) {
    /* The whole block is in, whatever the EOM bit says: a second request
     * would restart the answer. */
    *eom = true;
    return SHP_OK;
  }
  if (want_total > size) {
    char note[256] = "";
    abort_transfer(c, true, btag, note, sizeof note);
    return shp_error_set(SHP_ERR_RANGE,
                         "%s: a block of %zu bytes does not fit in %zu (%s)",
                         c->name, want_total, size, note);
  }
  while (*total < want_total) {
    size_t left = want_total - *total;
    int got = 0;
    int rc =
        bulk_in(c, left, btag, deadline, "reading the rest of a block", &got);
    if (rc != SHP_OK)
      return rc;
    size_t n = (size_t)got < left ? (size_t)got : left;
    memcpy(buf + *total, c->buf, n);
    *total += n;
  }
  *eom = true;
  return SHP_OK;
}

static int read_message(shp_usbtmc *c, uint8_t *buf, size_t size, size_t *len,
                        double deadline) {
  size_t total = 0;
  bool eom = false;
  uint8_t btag = 0;
  *len = 0;
  while (!eom && total < size) {
    size_t max_len = size - total;
    if (max_len > MAX_IN_CHUNK)
      max_len = MAX_IN_CHUNK;
    bool first = total == 0;
    int rc = read_transfer(c, buf, max_len, &total, &eom, &btag, deadline);
    if (rc == SHP_OK && first && c->rigol_block_quirk)
      rc = rigol_block_rest(c, buf, size, &total, &eom, btag, deadline);
    if (rc != SHP_OK)
      return rc;
  }
  *len = total;
  if (eom)
    return SHP_OK;
  /* The buffer is full and the message goes on: read the rest and drop it,
   * so the next exchange starts at a message boundary. */
  size_t dropped = 0;
  while (!eom) {
    int rc =
        read_transfer(c, NULL, MAX_IN_CHUNK, &dropped, &eom, &btag, deadline);
    if (rc != SHP_OK)
      return rc;
  }
  return shp_error_set(SHP_ERR_RANGE,
                       "%s: reply of %zu bytes does not fit in %zu", c->name,
                       total + dropped, size);
}

int shp_usbtmc_write(shp_usbtmc *c, const void *msg, size_t len) {
  int rc = check_usable(c);
  if (rc != SHP_OK)
    return rc;
  return write_message(c, msg, len, usbtmc_now_s() + c->timeout_s);
}

int shp_usbtmc_read(shp_usbtmc *c, void *buf, size_t size, size_t *len) {
  int rc = check_usable(c);
  if (rc != SHP_OK)
    return rc;
  if (!buf || size == 0 || !len)
    return shp_error_set(SHP_ERR_INVALID, "%s: no buffer to read into",
                         c->name);
  return read_message(c, buf, size, len, usbtmc_now_s() + c->timeout_s);
}

int shp_usbtmc_query(shp_usbtmc *c, const char *cmd, char *reply, size_t size,
                     size_t *len) {
  int rc = check_usable(c);
  if (rc != SHP_OK)
    return rc;
  if (!cmd || !reply || size < 2)
    return shp_error_set(SHP_ERR_INVALID, "%s: no command or reply buffer",
                         c->name);
  reply[0] = '\0';
  double deadline = usbtmc_now_s() + c->timeout_s;
  rc = write_message(c, cmd, strlen(cmd), deadline);
  if (rc != SHP_OK)
    return rc;
  size_t n = 0;
  rc = read_message(c, (uint8_t *)reply, size - 1, &n, deadline);
  reply[n] = '\0';
  if (len)
    *len = n;
  return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

const char *shp_usbtmc_name(const shp_usbtmc *c) { return c ? c->name : ""; }

int shp_usbtmc_set_timeout(shp_usbtmc *c, double timeout_s) {
  if (!c || !(timeout_s > 0) || timeout_s > 3600)
    return shp_error_set(SHP_ERR_INVALID,
                         "usbtmc: timeout of %g s (must be in (0, 3600])",
                         timeout_s);
  c->timeout_s = timeout_s;
  return SHP_OK;
}

shp_usbtmc *usbtmc_connection_new(const shp_usbtmc_endpoints *ep,
                                  const char *name, double timeout_s) {
  if (!ep || !ep->bulk_in || !ep->bulk_out || !(ep->bulk_in & 0x80) ||
      (ep->bulk_out & 0x80)) {
    shp_error_set(SHP_ERR_INVALID, "usbtmc: %s: bad bulk endpoints",
                  name ? name : "?");
    return NULL;
  }
  if (!(timeout_s > 0) || timeout_s > 3600) {
    shp_error_set(SHP_ERR_INVALID,
                  "usbtmc: timeout of %g s (must be in (0, 3600])", timeout_s);
    return NULL;
  }
  shp_usbtmc *c = calloc(1, sizeof *c);
  if (!c) {
    shp_error_set(SHP_ERR_NOMEM, "usbtmc: no memory");
    return NULL;
  }
  c->ep = *ep;
  if (!c->ep.bulk_in_max_packet)
    c->ep.bulk_in_max_packet = 64;
  snprintf(c->name, sizeof c->name, "%s", name ? name : "usbtmc");
  c->timeout_s = timeout_s;
  shp_proto_usbtmc_tag_init(&c->tag);
  return c;
}

shp_usbtmc *shp_usbtmc_new_with_io(const shp_usbtmc_io *io, void *user,
                                   const shp_usbtmc_endpoints *ep,
                                   const char *name, double timeout_s) {
  if (!io || !io->bulk || !io->control || !io->clear_halt) {
    shp_error_set(SHP_ERR_INVALID, "usbtmc: incomplete transfer functions");
    return NULL;
  }
  shp_usbtmc *c = usbtmc_connection_new(ep, name, timeout_s);
  if (c) {
    c->io = io;
    c->user = user;
  }
  return c;
}
