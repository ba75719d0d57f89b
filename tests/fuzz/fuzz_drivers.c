/* libFuzzer harness of the instrument drivers' framing above their
 * transports: the exchanges in hardware/drivers/{tc200,covesion,mecom,
 * ted4000,scope-ac,pulsecheck}, run through each driver's table on a
 * scripted instrument whose replies are the fuzz input.
 *
 * Input layout: byte 0 picks the case (driver and options, modulo the
 * count, see cases[] below); byte 1 picks the operation's arguments (the
 * averages of an acquisition, a setpoint); the rest is what the instrument
 * says, one reply per chunk, chunks separated by the bytes "--8<--\n".
 *
 * The scripted instrument sits where the transports are opened: the
 * harness is linked with --wrap for shp_transport_tty_open,
 * shp_transport_tcp_open and shp_usbtmc_open, so no device, port or
 * network is touched.
 *  - serial and TCP drivers get one end of a socket pair; each command the
 *    driver writes (--wrap=shp_transport_write) is answered by writing the
 *    next chunk to the other end, and once the chunks are spent that end
 *    shuts down, so a read then ends at once (disconnected) instead of
 *    waiting. Timeouts are 2 ms, so a reply cut short costs no time;
 *  - USBTMC drivers get a transfer seam (shp_usbtmc_new_with_io): each
 *    REQUEST_DEV_DEP_MSG_IN is answered with the next chunk as a
 *    DEV_DEP_MSG_IN transfer (split over several when the driver asks for
 *    fewer bytes), and with a timeout once the chunks are spent.
 * The drivers' clock is a manual one, so their waits take no time.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks that every
 * error leaves a message, that an oven reading and a trace that succeed
 * hold only finite numbers, and that a trace fits its buffer. */
#include "drivers.h"
#include "shp/error.h"
#include "shp/hw.h"
#include "shp/lab.h"
#include "shp/usbtmc.h"
#include "transport-private.h"

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TIMEOUT_S 0.002
/* libusb's codes, as the transfer seam returns them (libusb.h). */
enum { USB_ERROR_TIMEOUT = -7, USB_ERROR_OVERFLOW = -8 };
#define SEPARATOR "--8<--\n"

/* ---- the instrument's replies ------------------------------------------- */

static const uint8_t *script; /* after bytes 0 and 1 */
static size_t script_len, script_pos;
static bool script_done;

/* The next reply: [*p, *p + *n). False when none is left. */
static bool next_chunk(const uint8_t **p, size_t *n) {
  if (script_done)
    return false;
  const uint8_t *start = script + script_pos;
  size_t left = script_len - script_pos;
  const uint8_t *sep = memmem(start, left, SEPARATOR, strlen(SEPARATOR));
  *p = start;
  if (sep == NULL) {
    *n = left;
    script_done = true;
  } else {
    *n = (size_t)(sep - start);
    script_pos += *n + strlen(SEPARATOR);
  }
  return true;
}

/* ---- serial and TCP: a socket pair ----------------------------------------
 */

static int peer = -1; /* the instrument's end */

shp_transport *__real_shp_transport_tty_open(const shp_connection *c,
                                             const shp_tty_options *o);
shp_transport *__wrap_shp_transport_tty_open(const shp_connection *c,
                                             const shp_tty_options *o);
shp_transport *__real_shp_transport_tcp_open(const shp_connection *c);
shp_transport *__wrap_shp_transport_tcp_open(const shp_connection *c);
int __real_shp_transport_write(shp_transport *t, const void *buf, size_t len);
int __wrap_shp_transport_write(shp_transport *t, const void *buf, size_t len);
void __real_shp_transport_set_timeout_s(shp_transport *t, double timeout_s);
void __wrap_shp_transport_set_timeout_s(shp_transport *t, double timeout_s);
int __real_shp_usbtmc_open(unsigned vendor, unsigned product,
                           const char *serial, double timeout_s,
                           shp_usbtmc **out);
int __wrap_shp_usbtmc_open(unsigned vendor, unsigned product,
                           const char *serial, double timeout_s,
                           shp_usbtmc **out);

static shp_transport *pair_open(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    shp_error_set(SHP_ERR_IO, "fuzz: socketpair failed");
    return NULL;
  }
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  peer = sv[1];
  return shp_transport_fd_new(sv[0], true, "fuzz", FUZZ_TIMEOUT_S);
}

shp_transport *__wrap_shp_transport_tty_open(const shp_connection *c,
                                             const shp_tty_options *o) {
  (void)c;
  (void)o;
  return pair_open();
}

shp_transport *__wrap_shp_transport_tcp_open(const shp_connection *c) {
  (void)c;
  return pair_open();
}

/* The driver's own timeouts would make every cut-short reply wait. */
void __wrap_shp_transport_set_timeout_s(shp_transport *t, double timeout_s) {
  (void)timeout_s;
  __real_shp_transport_set_timeout_s(t, FUZZ_TIMEOUT_S);
}

/* A command sent: drop it at the instrument's end and answer it. */
int __wrap_shp_transport_write(shp_transport *t, const void *buf, size_t len) {
  int rc = __real_shp_transport_write(t, buf, len);
  if (peer < 0)
    return rc;
  char sink[4096];
  while (read(peer, sink, sizeof sink) > 0)
    ;
  const uint8_t *p;
  size_t n;
  if (!next_chunk(&p, &n)) {
    shutdown(peer, SHUT_WR);
    return rc;
  }
  while (n > 0) {
    ssize_t w = write(peer, p, n);
    if (w <= 0)
      break; /* the pair's buffer is full: the rest is lost, as on a line */
    p += w;
    n -= (size_t)w;
  }
  if (script_done)
    shutdown(peer, SHUT_WR);
  return rc;
}

/* ---- USBTMC: the transfer seam --------------------------------------------
 */

typedef struct {
  bool requested;
  uint8_t tag;
  uint32_t max;
  const uint8_t *rest; /* of a reply split over transfers */
  size_t rest_len;
} usb_fake;

static usb_fake usb;

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static int usb_in(uint8_t *buf, int len, int *transferred) {
  if (!usb.requested)
    return USB_ERROR_TIMEOUT;
  usb.requested = false;
  if (usb.rest == NULL && !next_chunk(&usb.rest, &usb.rest_len))
    return USB_ERROR_TIMEOUT;
  if (len < 16)
    return USB_ERROR_OVERFLOW;
  size_t room = ((size_t)len - 12) & ~(size_t)3;
  size_t n = usb.rest_len;
  if (n > usb.max)
    n = usb.max;
  if (n > room)
    n = room;
  bool eom = n == usb.rest_len;
  size_t total = 12 + ((n + 3) & ~(size_t)3);
  memset(buf, 0, total);
  buf[0] = 2; /* DEV_DEP_MSG_IN */
  buf[1] = usb.tag;
  buf[2] = (uint8_t)~usb.tag;
  for (int b = 0; b < 4; b++)
    buf[4 + b] = (uint8_t)(n >> (8 * b));
  buf[8] = eom;
  if (n > 0)
    memcpy(buf + 12, usb.rest, n);
  usb.rest = eom ? NULL : usb.rest + n;
  usb.rest_len -= n;
  *transferred = (int)total;
  return 0;
}

static int usb_bulk(void *user, uint8_t ep, uint8_t *buf, int len,
                    int *transferred, unsigned timeout_ms) {
  (void)user;
  (void)timeout_ms;
  *transferred = 0;
  if (ep & 0x80)
    return usb_in(buf, len, transferred);
  if (len >= 12 && buf[0] == 2) { /* REQUEST_DEV_DEP_MSG_IN */
    usb.requested = true;
    usb.tag = buf[1];
    usb.max = le32(buf + 4);
  }
  *transferred = len;
  return 0;
}

static int usb_control(void *user, uint8_t type, uint8_t request,
                       uint16_t value, uint16_t index, uint8_t *data,
                       uint16_t length, unsigned timeout_ms) {
  (void)user;
  (void)type;
  (void)request;
  (void)value;
  (void)index;
  (void)timeout_ms;
  memset(data, 0, length);
  if (length > 0)
    data[0] = 0x80; /* STATUS_FAILED: nothing to abort */
  return length;
}

static int usb_clear_halt(void *user, uint8_t ep) {
  (void)user;
  (void)ep;
  return 0;
}

static const shp_usbtmc_io usb_io = {
    .bulk = usb_bulk, .control = usb_control, .clear_halt = usb_clear_halt};

int __wrap_shp_usbtmc_open(unsigned vendor, unsigned product,
                           const char *serial, double timeout_s,
                           shp_usbtmc **out) {
  (void)vendor;
  (void)product;
  (void)serial;
  static const shp_usbtmc_endpoints ep = {
      .bulk_in = 0x81, .bulk_out = 0x02, .bulk_in_max_packet = 64};
  usb = (usb_fake){0};
  *out = shp_usbtmc_new_with_io(&usb_io, NULL, &ep, "usbtmc fuzz", timeout_s);
  return *out != NULL ? SHP_OK : shp_error_last();
}

/* ---- the cases ------------------------------------------------------------
 */

typedef struct {
  const char *driver;
  const char *kind;    /* the connection's */
  const char *options; /* YAML mapping, or NULL */
} fuzz_case;

static const fuzz_case cases[] = {
    {"tc200", "tty", NULL},
    {"covesion", "tty", NULL},
    {"mecom", "tty", NULL},
    {"mecom", "tty", "{address: 7}"},
    {"ted4000", "usb", NULL},
    {"scope-ac", "usb", "{flavour: keysight, delay_ps_per_ms: 50}"},
    {"scope-ac", "usb",
     "{flavour: keysight, format: byte, channel: 2, delay_ps_per_ms: -5}"},
    {"scope-ac", "usb",
     "{flavour: keysight, averaging: scope, delay_ps_per_ms: 50}"},
    {"scope-ac", "usb", "{flavour: rigol, format: byte, delay_ps_per_ms: 10}"},
    {"scope-ac", "usb", "{flavour: rigol, delay_ps_per_ms: 10}"},
    {"pulsecheck", "tcp", NULL},
    {"pulsecheck", "tcp", "{firmware: pulselink}"},
    {"pulsecheck", "tcp", "{firmware: pulselink, instrument_averages: true}"},
    {"pulsecheck", "tcp", "{trace_format: ascii, line_end: lf}"},
    {"pulsecheck", "tcp", "{block_type: float64, byte_order: big}"},
    {"pulsecheck", "tcp", "{layout: signal, scan_range_ps: 50}"},
    {"pulsecheck", "tcp",
     "{layout: signal, scan_range_query: \"SCAN:RANGE?\", scan_range_unit: "
     "ps, trace_format: ascii}"},
    {"pulsecheck", "tcp",
     "{error_query: \"SYST:ERR?\", delay_unit: fs, scan_interval_s: 0.5}"},
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

static shp_yaml *options_yaml[CASE_COUNT];
/* FUZZ_VERBOSE=1 prints each call's outcome, to see how far a seed gets. */
static bool verbose;
static shp_clock *clock_;
static shp_trace trace;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  for (size_t i = 0; i < CASE_COUNT; i++) {
    if (cases[i].options == NULL)
      continue;
    char text[512];
    int n = snprintf(text, sizeof text, "options: %s\n", cases[i].options);
    options_yaml[i] = shp_yaml_load_string("lab.yml", text, (size_t)n);
    if (options_yaml[i] == NULL) {
      fprintf(stderr, "fuzz_drivers: case %zu: %s\n", i, shp_error_detail());
      exit(1);
    }
  }
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  clock_ = shp_clock_new_sim(0);
  trace = (shp_trace){.capacity = SHP_TRACE_MAX,
                      .delay_ps = calloc(SHP_TRACE_MAX, sizeof(double)),
                      .signal = calloc(SHP_TRACE_MAX, sizeof(double))};
  if (clock_ == NULL || trace.delay_ps == NULL || trace.signal == NULL)
    exit(1);
  return 0;
}

static void check_rc(int rc) {
  if (verbose)
    fprintf(stderr, "fuzz_drivers: %d %s\n", rc,
            rc == SHP_OK ? "ok" : shp_error_detail());
  if (rc > 0)
    abort();
  if (rc != SHP_OK && shp_error_detail()[0] == '\0')
    abort();
}

static void check_reading(int rc, const shp_oven_reading *r) {
  check_rc(rc);
  if (rc == SHP_OK && !(isfinite(r->setpoint_c) && isfinite(r->actual_c)))
    abort();
}

static void check_trace(int rc) {
  check_rc(rc);
  if (rc != SHP_OK)
    return;
  if (trace.count > trace.capacity)
    abort();
  for (size_t k = 0; k < trace.count; k++)
    if (!isfinite(trace.delay_ps[k]) || !isfinite(trace.signal[k]))
      abort();
}

static void run_oven(const shp_driver *d, shp_device *dev, uint8_t arg) {
  shp_oven_reading r;
  int channel = arg & 0x80 ? 1 : 0; /* a dual-channel controller's second */
  shp_error_clear();
  check_reading(d->oven_read(dev, channel, &r), &r);
  if (d->oven_set_ramp != NULL) {
    shp_error_clear();
    check_rc(d->oven_set_ramp(dev, channel, 1.0 + (arg & 7)));
  }
  shp_error_clear();
  check_rc(d->oven_set(dev, channel, 20.0 + (arg & 0x7f)));
  shp_error_clear();
  check_reading(d->oven_read(dev, channel, &r), &r);
  shp_error_clear();
  check_rc(d->oven_hold(dev, channel));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t which = data[0] % CASE_COUNT;
  uint8_t arg = data[1];
  const fuzz_case *c = &cases[which];
  /* A copy of exactly its length, so an overread is caught. */
  uint8_t *copy = malloc(size - 2 ? size - 2 : 1);
  if (copy == NULL)
    return 0;
  memcpy(copy, data + 2, size - 2);
  script = copy;
  script_len = size - 2;
  script_pos = 0;
  script_done = false;

  const shp_driver *d = shp_hw_driver_find(c->driver);
  shp_connection conn = {.kind = c->kind,
                         .port = "/dev/fuzz",
                         .host = "fuzz",
                         .tcp_port = 5025,
                         .vendor = 0x1313,
                         .product = 0x8048,
                         .timeout_s = FUZZ_TIMEOUT_S};
  shp_yaml *y = options_yaml[which];
  /* The lab the supervisor hands over: one oven on this connection, with a
   * ramp limit (the covesion driver sends it with every set point). */
  shp_lab_oven lab_oven = {
      .driver = d, .connection = conn, .max_ramp_k_per_min = 2.0};
  shp_lab lab = {.ovens = &lab_oven, .oven_count = 1};
  shp_device_config cfg = {
      .connection = &lab_oven.connection,
      .lab = &lab,
      .clock = clock_,
      .yaml = y,
      .options = y ? shp_yaml_get(y, shp_yaml_root(y), "options") : NULL,
      .options_ctx = d->roles & SHP_ROLE_OVEN ? "ovens[0]" : "autocorrelator"};
  shp_device *dev = NULL;
  shp_error_clear();
  int rc = d->open(&cfg, &dev);
  check_rc(rc);
  if (rc == SHP_OK) {
    if (d->roles & SHP_ROLE_OVEN)
      run_oven(d, dev, arg);
    else {
      trace.count = 0;
      shp_error_clear();
      check_trace(d->acquire(dev, 1 + arg % 4, &trace));
    }
    d->close(dev);
  } else if (dev != NULL) {
    abort(); /* a failed open hands out nothing */
  }
  if (peer >= 0) {
    close(peer);
    peer = -1;
  }
  free(copy);
  return 0;
}
