/* The USBTMC transport (hardware/src/transport-usbtmc.c).
 *
 * Without arguments: the protocol logic on a scripted device behind the
 * shp_usbtmc_io seam (bTag bookkeeping, concatenation up to EOM, the abort
 * sequences of USBTMC 1.0 4.2.1, the overall timeout), and endpoint
 * discovery from descriptors built here.
 *
 * With a case name (umockdev-*): one exchange through the real libusb code
 * against the device of data/umockdev/usbtmc.umockdev, replaying the ioctl
 * tree data/umockdev/usbtmc-<case>.ioctl; CTest runs these under
 * umockdev-run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_check.h"

#include "shp/error.h"
#include "shp/usbtmc.h"

/* From hardware/src/usbtmc-private.h (internal to shp_hardware, whose
 * include path the tests lack): a seam connection given a device's USB ids,
 * as shp_usbtmc_open does with the ids it opened. */
void usbtmc_apply_quirks(shp_usbtmc *c, unsigned vendor, unsigned product);

#include <libusb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a scripted device behind the seam ----------------------------------- */

typedef struct {
  int rc;           /* libusb result of the transfer */
  uint8_t data[96]; /* what the device sends */
  int len;
} in_reply;

typedef struct {
  uint8_t request;
  uint16_t value, index;
} control_call;

typedef struct {
  /* bulk-OUT transfers seen */
  uint8_t out[8][64];
  int out_len[8], n_out;
  int out_rc; /* result of every bulk-OUT */
  /* scripted bulk-IN replies, the last one repeats */
  in_reply in[8];
  int n_in, next_in;
  /* control requests seen and the status bytes answered, in turn */
  control_call ctl[8];
  int n_ctl;
  uint8_t ctl_status[8];
  int n_ctl_status;
  uint8_t halts[4];
  int n_halt;
  bool echo_tag; /* answer with the tag of the last request */
  uint8_t last_tag;
} fake_dev;

static int fake_bulk(void *user, uint8_t ep, uint8_t *buf, int len,
                     int *transferred, unsigned timeout_ms) {
  fake_dev *d = user;
  assert_true(timeout_ms >= 1);
  *transferred = 0;
  if (!(ep & 0x80)) {
    assert_int_equal(ep, 0x02);
    if (d->n_out < 8 && len <= 64) {
      memcpy(d->out[d->n_out], buf, (size_t)len);
      d->out_len[d->n_out] = len;
    }
    d->last_tag = buf[1];
    d->n_out++;
    if (d->out_rc == 0)
      *transferred = len;
    return d->out_rc;
  }
  assert_int_equal(ep, 0x81);
  assert_int_equal(len % 64, 0); /* whole packets */
  if (d->n_in == 0)
    return LIBUSB_ERROR_TIMEOUT;
  const in_reply *r = &d->in[d->next_in < d->n_in ? d->next_in : d->n_in - 1];
  d->next_in++;
  if (r->rc < 0)
    return r->rc;
  assert_true(r->len <= len);
  memcpy(buf, r->data, (size_t)r->len);
  if (d->echo_tag && d->n_out > 0) {
    buf[1] = d->last_tag;
    buf[2] = (uint8_t)~buf[1];
  }
  *transferred = r->len;
  return 0;
}

static int fake_control(void *user, uint8_t type, uint8_t request,
                        uint16_t value, uint16_t index, uint8_t *data,
                        uint16_t length, unsigned timeout_ms) {
  fake_dev *d = user;
  assert_int_equal(type, 0xA2);
  assert_true(timeout_ms >= 1);
  if (d->n_ctl < 8)
    d->ctl[d->n_ctl] = (control_call){request, value, index};
  int k = d->n_ctl++;
  memset(data, 0, length);
  data[0] = k < d->n_ctl_status ? d->ctl_status[k] : 0x80;
  if (length >= 2 && (request == 1 || request == 3))
    data[1] = (uint8_t)value;
  return length;
}

static int fake_clear_halt(void *user, uint8_t ep) {
  fake_dev *d = user;
  if (d->n_halt < 4)
    d->halts[d->n_halt] = ep;
  d->n_halt++;
  return 0;
}

static const shp_usbtmc_io fake_io = {
    .bulk = fake_bulk, .control = fake_control, .clear_halt = fake_clear_halt};

static const shp_usbtmc_endpoints fake_ep = {
    .bulk_in = 0x81, .bulk_out = 0x02, .bulk_in_max_packet = 64};

/* A DEV_DEP_MSG_IN transfer answering bTag tag. */
static void dev_dep_msg_in(in_reply *r, uint8_t tag, const char *text,
                           bool eom) {
  size_t n = strlen(text);
  memset(r, 0, sizeof *r);
  r->data[0] = 2;
  r->data[1] = tag;
  r->data[2] = (uint8_t)~tag;
  r->data[4] = (uint8_t)n;
  r->data[8] = eom ? 1 : 0;
  memcpy(r->data + 12, text, n);
  r->len = (int)(12 + ((n + 3) & ~(size_t)3));
}

static shp_usbtmc *fake_open(fake_dev *d, double timeout_s) {
  shp_usbtmc *c = shp_usbtmc_new_with_io(&fake_io, d, &fake_ep,
                                         "usbtmc 1313:80f8 M1", timeout_s);
  assert_non_null(c);
  return c;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void test_query_concatenates_transfers_until_eom(void **state) {
  fake_dev d = {0};
  dev_dep_msg_in(&d.in[0], 2, "THORLABS,", false);
  dev_dep_msg_in(&d.in[1], 3, "TED4015\n", true);
  d.n_in = 2;
  shp_usbtmc *c = fake_open(&d, 1.0);
  char reply[64];
  size_t n = 0;
  assert_int_equal(shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, &n),
                   SHP_OK);
  assert_string_equal(reply, "THORLABS,TED4015\n");
  assert_int_equal(n, 17);
  /* DEV_DEP_MSG_OUT, bTag 1, EOM, padded to 4; then two requests with
   * bTags 2 and 3 for what is left of the buffer. */
  assert_int_equal(d.n_out, 3);
  assert_int_equal(d.out_len[0], 20);
  const uint8_t hdr[12] = {1, 1, 0xFE, 0, 6, 0, 0, 0, 1, 0, 0, 0};
  assert_memory_equal(d.out[0], hdr, 12);
  assert_memory_equal(d.out[0] + 12, "*IDN?\n\0\0", 8);
  assert_int_equal(d.out_len[1], 12);
  assert_int_equal(d.out[1][0], 2);
  assert_int_equal(d.out[1][1], 2);
  assert_int_equal(d.out[1][2], 0xFD);
  assert_int_equal(le32(d.out[1] + 4), 63);
  assert_int_equal(d.out[2][1], 3);
  assert_int_equal(le32(d.out[2] + 4), 63 - 9);
  assert_int_equal(d.n_ctl, 0);
  shp_usbtmc_close(c);
}

static void test_btag_wraps_from_255_to_1(void **state) {
  fake_dev d = {0};
  d.n_in = 0;
  shp_usbtmc *c = fake_open(&d, 1.0);
  for (int i = 0; i < 256; i++)
    assert_int_equal(shp_usbtmc_write(c, "X", 1), SHP_OK);
  /* Tags 1..255 then 1 again; the 8th transfer had tag 8. */
  assert_int_equal(d.n_out, 256);
  assert_int_equal(d.out[7][1], 8);
  assert_int_equal(d.out[7][2], 0xF7);
  shp_usbtmc_close(c);
  d = (fake_dev){0};
  c = fake_open(&d, 1.0);
  for (int i = 0; i < 255; i++)
    assert_int_equal(shp_usbtmc_write(c, "X", 1), SHP_OK);
  d.n_out = 0;
  assert_int_equal(shp_usbtmc_write(c, "X", 1), SHP_OK);
  assert_int_equal(d.out[0][1], 1);
  shp_usbtmc_close(c);
}

static void test_wrong_btag_is_protocol_error_and_aborts_bulk_in(void **s) {
  fake_dev d = {0};
  dev_dep_msg_in(&d.in[0], 9, "late reply\n", true);
  d.n_in = 1;
  d.ctl_status[0] = 0x81; /* TRANSFER_NOT_IN_PROGRESS */
  d.n_ctl_status = 1;
  shp_usbtmc *c = fake_open(&d, 1.0);
  char reply[64];
  assert_int_equal(shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, NULL),
                   SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), "usbtmc 1313:80f8 M1: "));
  assert_non_null(strstr(shp_error_detail(), "bTag 9 does not match"));
  assert_non_null(strstr(shp_error_detail(), "INITIATE_ABORT_BULK_IN"));
  assert_int_equal(d.n_ctl, 1);
  assert_int_equal(d.ctl[0].request, 3);
  assert_int_equal(d.ctl[0].value, 2); /* the request's bTag */
  assert_int_equal(d.ctl[0].index, 0x81);
  assert_int_equal(d.n_halt, 1);
  assert_int_equal(d.halts[0], 0x81);
  shp_usbtmc_close(c);
}

static void test_short_and_garbled_headers_are_protocol_errors(void **s) {
  struct {
    uint8_t bytes[16];
    int len;
    const char *says;
  } cases[] = {
      {{2, 2, 0xFD, 0, 4}, 5, "truncated header"},
      {{1, 2, 0xFD, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 12, "MsgID 1"},
      {{2, 2, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 12, "bTagInverse"},
      {{2, 2, 0xFD, 0, 40, 0, 0, 0, 1, 0, 0, 0, 'a', 'b', 'c', 'd'},
       16,
       "truncated transfer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake_dev d = {0};
    memcpy(d.in[0].data, cases[i].bytes, sizeof cases[i].bytes);
    d.in[0].len = cases[i].len;
    d.n_in = 1;
    shp_usbtmc *c = fake_open(&d, 1.0);
    char reply[64];
    size_t n = 99;
    assert_int_equal(shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, &n),
                     SHP_ERR_PROTOCOL);
    assert_non_null(strstr(shp_error_detail(), cases[i].says));
    assert_int_equal(d.n_ctl, 1); /* INITIATE_ABORT_BULK_IN, status FAILED */
    assert_int_equal(n, 0);
    assert_string_equal(reply, "");
    shp_usbtmc_close(c);
  }
}

static void test_timeout_aborts_bulk_in_and_polls_its_status(void **s) {
  fake_dev d = {0};
  d.in[0].rc = LIBUSB_ERROR_TIMEOUT;
  d.n_in = 1;
  /* INITIATE: SUCCESS; CHECK: PENDING, then SUCCESS. */
  d.ctl_status[0] = 0x01;
  d.ctl_status[1] = 0x02;
  d.ctl_status[2] = 0x01;
  d.n_ctl_status = 3;
  shp_usbtmc *c = fake_open(&d, 0.5);
  char reply[64];
  assert_int_equal(shp_usbtmc_query(c, "MEAS?\n", reply, sizeof reply, NULL),
                   SHP_ERR_TIMEOUT);
  assert_non_null(strstr(shp_error_detail(),
                         "usbtmc 1313:80f8 M1: reading a reply: no answer"));
  assert_int_equal(d.n_ctl, 3);
  assert_int_equal(d.ctl[0].request, 3);
  assert_int_equal(d.ctl[0].value, 2);
  assert_int_equal(d.ctl[1].request, 4);
  assert_int_equal(d.ctl[1].index, 0x81);
  assert_int_equal(d.ctl[2].request, 4);
  assert_int_equal(d.n_halt, 1);
  assert_int_equal(d.halts[0], 0x81);
  shp_usbtmc_close(c);
}

static void test_write_timeout_aborts_bulk_out(void **s) {
  fake_dev d = {0};
  d.out_rc = LIBUSB_ERROR_TIMEOUT;
  d.ctl_status[0] = 0x01;
  d.ctl_status[1] = 0x01;
  d.n_ctl_status = 2;
  shp_usbtmc *c = fake_open(&d, 0.5);
  assert_int_equal(shp_usbtmc_write(c, "OUTP ON\n", 8), SHP_ERR_TIMEOUT);
  assert_int_equal(d.n_ctl, 2);
  assert_int_equal(d.ctl[0].request, 1); /* INITIATE_ABORT_BULK_OUT */
  assert_int_equal(d.ctl[0].value, 1);
  assert_int_equal(d.ctl[0].index, 0x02);
  assert_int_equal(d.ctl[1].request, 2); /* CHECK_ABORT_BULK_OUT_STATUS */
  assert_int_equal(d.n_halt, 1);
  assert_int_equal(d.halts[0], 0x02);
  shp_usbtmc_close(c);
}

static void test_unplug_is_disconnected_without_abort(void **s) {
  fake_dev d = {0};
  d.in[0].rc = LIBUSB_ERROR_NO_DEVICE;
  d.n_in = 1;
  shp_usbtmc *c = fake_open(&d, 1.0);
  char reply[64];
  assert_int_equal(shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, NULL),
                   SHP_ERR_DISCONNECTED);
  assert_non_null(strstr(shp_error_detail(), "device unplugged"));
  assert_int_equal(d.n_ctl, 0);
  assert_int_equal(d.n_halt, 0);
  shp_usbtmc_close(c);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_endless_message_is_bounded_by_the_timeout(void **s) {
  /* A device that answers every request with an empty transfer without
   * EOM: the read goes on until the connection's timeout, not forever. */
  fake_dev d = {0};
  dev_dep_msg_in(&d.in[0], 0, "", false);
  d.n_in = 1;
  d.echo_tag = true;
  shp_usbtmc *c = fake_open(&d, 0.2);
  char reply[64];
  double t0 = mono_s();
  int rc = shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, NULL);
  double dt = mono_s() - t0;
  assert_int_equal(rc, SHP_ERR_TIMEOUT);
  assert_true(d.next_in > 10);
  /* The overall timeout, plus at most one more for the abort. */
  assert_true(dt >= 0.2 && dt < 2 * 0.2 + 0.1);
  shp_usbtmc_close(c);
}

static void test_reply_longer_than_buffer_is_range_and_drained(void **s) {
  fake_dev d = {0};
  dev_dep_msg_in(&d.in[0], 2, "0123456", false);
  dev_dep_msg_in(&d.in[1], 3, "789\n", true);
  d.n_in = 2;
  shp_usbtmc *c = fake_open(&d, 1.0);
  char reply[8];
  size_t n = 0;
  assert_int_equal(shp_usbtmc_query(c, "DATA?\n", reply, sizeof reply, &n),
                   SHP_ERR_RANGE);
  assert_string_equal(reply, "0123456");
  assert_int_equal(n, 7);
  assert_non_null(strstr(shp_error_detail(), "reply of 11 bytes"));
  assert_int_equal(d.next_in, 2); /* the rest was read up to EOM */
  shp_usbtmc_close(c);
}

/* ---- the Rigol DS1000Z block quirk ---------------------------------------
 *
 * python-usbtmc's rigol_quirk_ieee_block (1ab1:04ce): the first transfer
 * announces less than the IEEE 488.2 block it starts, and the rest follows
 * on bulk-IN with no header and no new request. */

/* "#9000000100" and 100 data bytes: a 111-byte block. */
static void rigol_block(uint8_t out[111]) {
  memcpy(out, "#9000000100", 11);
  for (int i = 0; i < 100; i++)
    out[11 + i] = (uint8_t)('a' + i % 26);
}

/* The device's answer: a first transfer with bTag 2 announcing 20 bytes
 * (EOM as given), then header-less continuations of 64 and 27 bytes, the
 * last ending with LF. */
static void rigol_script(fake_dev *d, const uint8_t block[111], bool eom) {
  in_reply *r = d->in;
  memset(d->in, 0, sizeof d->in);
  r[0].data[0] = 2;
  r[0].data[1] = 2;
  r[0].data[2] = 0xFD;
  r[0].data[4] = 20;
  r[0].data[8] = eom ? 1 : 0;
  memcpy(r[0].data + 12, block, 20);
  r[0].len = 32;
  memcpy(r[1].data, block + 20, 64);
  r[1].len = 64;
  memcpy(r[2].data, block + 84, 27);
  r[2].data[27] = '\n';
  r[2].len = 28;
  d->n_in = 3;
}

static void test_rigol_ds1000z_block_continuation_is_assembled(void **s) {
  uint8_t block[111];
  rigol_block(block);
  for (int eom = 0; eom < 2; eom++) {
    fake_dev d = {0};
    rigol_script(&d, block, eom);
    shp_usbtmc *c = fake_open(&d, 1.0);
    usbtmc_apply_quirks(c, 0x1ab1, 0x04ce);
    uint8_t reply[256];
    size_t n = 0;
    assert_int_equal(shp_usbtmc_write(c, ":WAV:DATA?\n", 11), SHP_OK);
    assert_int_equal(shp_usbtmc_read(c, reply, sizeof reply, &n), SHP_OK);
    /* The whole block, the LF past it dropped; one request only (the
     * message and the request are the two bulk-OUT transfers). */
    assert_int_equal(n, 111);
    assert_memory_equal(reply, block, 111);
    assert_int_equal(d.n_out, 2);
    assert_int_equal(d.next_in, 3);
    assert_int_equal(d.n_ctl, 0);
    shp_usbtmc_close(c);
  }
}

/* The same answer read in one go (header, then the continuation in the
 * same bulk read), as libusb delivers it when no short packet ends the
 * first transfer: the block's own length is taken. */
static void test_rigol_ds1000z_block_in_one_read_is_taken(void **s) {
  uint8_t block[111];
  rigol_block(block);
  fake_dev d = {0};
  rigol_script(&d, block, false);
  /* 12 + 80 bytes in the first read, the rest (31 + LF) in the next. */
  memcpy(d.in[0].data + 12, block, 80);
  d.in[0].len = 92;
  memset(&d.in[1], 0, sizeof d.in[1]);
  memcpy(d.in[1].data, block + 80, 31);
  d.in[1].data[31] = '\n';
  d.in[1].len = 32;
  d.n_in = 2;
  shp_usbtmc *c = fake_open(&d, 1.0);
  usbtmc_apply_quirks(c, 0x1ab1, 0x04ce);
  uint8_t reply[256];
  size_t n = 0;
  assert_int_equal(shp_usbtmc_write(c, ":WAV:DATA?\n", 11), SHP_OK);
  assert_int_equal(shp_usbtmc_read(c, reply, sizeof reply, &n), SHP_OK);
  assert_int_equal(n, 111);
  assert_memory_equal(reply, block, 111);
  assert_int_equal(d.n_out, 2);
  shp_usbtmc_close(c);
}

/* The same bytes from any other device (another vendor, another Rigol
 * product, no ids) break USBTMC 1.0 and are refused: with EOM clear the
 * next request's answer is the header-less continuation, not a header. */
static void test_header_less_continuation_is_refused_elsewhere(void **s) {
  static const unsigned ids[3][2] = {
      {0x1313, 0x8048}, {0x1ab1, 0x0588}, {0, 0}};
  uint8_t block[111];
  rigol_block(block);
  for (int k = 0; k < 3; k++) {
    fake_dev d = {0};
    rigol_script(&d, block, false);
    shp_usbtmc *c = fake_open(&d, 1.0);
    if (ids[k][0])
      usbtmc_apply_quirks(c, ids[k][0], ids[k][1]);
    uint8_t reply[256];
    size_t n = 0;
    assert_int_equal(shp_usbtmc_write(c, ":WAV:DATA?\n", 11), SHP_OK);
    assert_int_equal(shp_usbtmc_read(c, reply, sizeof reply, &n),
                     SHP_ERR_PROTOCOL);
    /* block[20] is 'j' (0x6a = 106), read where a MsgID should be. */
    assert_non_null(strstr(shp_error_detail(),
                           "usbtmc 1313:80f8 M1: MsgID 106, expected "
                           "DEV_DEP_MSG_IN (2)"));
    assert_int_equal(d.n_ctl, 1); /* the second transfer aborted */
    shp_usbtmc_close(c);
  }
  /* The first transfer alone, more bytes than announced in one read, is
   * refused too. */
  fake_dev d = {0};
  rigol_script(&d, block, false);
  memcpy(d.in[0].data + 12, block, 80);
  d.in[0].len = 92;
  d.n_in = 1;
  shp_usbtmc *c = fake_open(&d, 1.0);
  uint8_t reply[256];
  size_t n = 0;
  assert_int_equal(shp_usbtmc_write(c, ":WAV:DATA?\n", 11), SHP_OK);
  assert_int_equal(shp_usbtmc_read(c, reply, sizeof reply, &n),
                   SHP_ERR_PROTOCOL);
  assert_non_null(
      strstr(shp_error_detail(), "60 bytes after the 20 announced"));
  shp_usbtmc_close(c);
}

static void test_bad_arguments_are_refused(void **s) {
  fake_dev d = {0};
  assert_null(shp_usbtmc_new_with_io(&fake_io, &d, &fake_ep, "x", 0.0));
  shp_usbtmc_endpoints swapped = {.bulk_in = 0x02, .bulk_out = 0x81};
  assert_null(shp_usbtmc_new_with_io(&fake_io, &d, &swapped, "x", 1.0));
  shp_usbtmc *c = fake_open(&d, 1.0);
  assert_int_equal(shp_usbtmc_write(c, "", 0), SHP_ERR_RANGE);
  assert_int_equal(shp_usbtmc_set_timeout(c, -1), SHP_ERR_INVALID);
  assert_string_equal(shp_usbtmc_name(c), "usbtmc 1313:80f8 M1");
  shp_usbtmc_close(c);
  shp_usbtmc_close(NULL);
}

/* ---- endpoint discovery from descriptors built here ------------------------
 */

static void test_find_endpoints_picks_the_usbtmc_interface(void **s) {
  /* Interface 0: a vendor-specific one; interface 1: USBTMC/USB488 with
   * interrupt-IN 0x83, bulk-OUT 0x02, bulk-IN 0x81 in that order. */
  struct libusb_endpoint_descriptor vendor_eps[1] = {
      {.bLength = 7, .bEndpointAddress = 0x84, .bmAttributes = 2}};
  struct libusb_endpoint_descriptor tmc_eps[3] = {
      {.bLength = 7,
       .bEndpointAddress = 0x83,
       .bmAttributes = 3,
       .wMaxPacketSize = 2},
      {.bLength = 7,
       .bEndpointAddress = 0x02,
       .bmAttributes = 2,
       .wMaxPacketSize = 512},
      {.bLength = 7,
       .bEndpointAddress = 0x81,
       .bmAttributes = 2,
       .wMaxPacketSize = 512},
  };
  struct libusb_interface_descriptor alts[2] = {
      {.bLength = 9,
       .bInterfaceNumber = 0,
       .bNumEndpoints = 1,
       .bInterfaceClass = 0xFF,
       .endpoint = vendor_eps},
      {.bLength = 9,
       .bInterfaceNumber = 1,
       .bNumEndpoints = 3,
       .bInterfaceClass = 0xFE,
       .bInterfaceSubClass = 0x03,
       .bInterfaceProtocol = 1,
       .endpoint = tmc_eps},
  };
  struct libusb_interface itfs[2] = {
      {.altsetting = &alts[0], .num_altsetting = 1},
      {.altsetting = &alts[1], .num_altsetting = 1}};
  struct libusb_config_descriptor cfg = {
      .bLength = 9, .bNumInterfaces = 2, .interface = itfs};
  shp_usbtmc_endpoints ep;
  assert_int_equal(shp_usbtmc_find_endpoints(&cfg, &ep), SHP_OK);
  assert_int_equal(ep.interface_number, 1);
  assert_int_equal(ep.protocol, 1);
  assert_int_equal(ep.bulk_in, 0x81);
  assert_int_equal(ep.bulk_out, 0x02);
  assert_int_equal(ep.interrupt_in, 0x83);
  assert_int_equal(ep.bulk_in_max_packet, 512);

  /* Without the bulk-IN endpoint the interface is unusable. */
  alts[1].bNumEndpoints = 2;
  assert_int_equal(shp_usbtmc_find_endpoints(&cfg, &ep), SHP_ERR_PROTOCOL);
  assert_non_null(strstr(shp_error_detail(), "bulk-IN"));
  /* Without a USBTMC interface there is nothing to find. */
  cfg.bNumInterfaces = 1;
  assert_int_equal(shp_usbtmc_find_endpoints(&cfg, &ep), SHP_ERR_NOT_FOUND);
}

/* ---- under umockdev ------------------------------------------------------ */

#define UMOCKDEV_VENDOR 0x1313u
#define UMOCKDEV_PRODUCT 0x80f8u
#define UMOCKDEV_SERIAL "M00412345"

static shp_usbtmc *umockdev_open(void) {
  shp_usbtmc *c = NULL;
  int rc = shp_usbtmc_open(UMOCKDEV_VENDOR, UMOCKDEV_PRODUCT, UMOCKDEV_SERIAL,
                           1.0, &c);
  if (rc != SHP_OK)
    print_error("open: %s\n", shp_error_detail());
  assert_int_equal(rc, SHP_OK);
  return c;
}

static void umockdev_idn(void **s) {
  shp_usbtmc_device_info *list = NULL;
  size_t n = 0;
  assert_int_equal(shp_usbtmc_list(&list, &n), SHP_OK);
  assert_int_equal(n, 1);
  assert_int_equal(list[0].vendor, UMOCKDEV_VENDOR);
  assert_int_equal(list[0].product, UMOCKDEV_PRODUCT);
  assert_string_equal(list[0].serial, UMOCKDEV_SERIAL);
  assert_int_equal(list[0].bus, 1);
  assert_int_equal(list[0].address, 2);
  assert_int_equal(list[0].interface_number, 0);
  shp_usbtmc_list_free(list);

  /* Another serial number is another instrument. */
  shp_usbtmc *c = NULL;
  assert_int_equal(
      shp_usbtmc_open(UMOCKDEV_VENDOR, UMOCKDEV_PRODUCT, "M999", 1.0, &c),
      SHP_ERR_NOT_FOUND);
  assert_null(c);

  c = umockdev_open();
  assert_string_equal(shp_usbtmc_name(c), "usbtmc 1313:80f8 M00412345");
  char reply[256];
  size_t len = 0;
  int rc = shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, &len);
  if (rc != SHP_OK)
    print_error("query: %s\n", shp_error_detail());
  assert_int_equal(rc, SHP_OK);
  assert_string_equal(reply, "THORLABS,TED4015,M00412345,1.2.0\n");
  assert_int_equal(len, 33);
  shp_usbtmc_close(c);
}

/* The query fails with code and a message containing says and also (may be
 * NULL). */
static void umockdev_query_fails(int code, const char *says, const char *also) {
  shp_usbtmc *c = umockdev_open();
  char reply[256];
  int rc = shp_usbtmc_query(c, "*IDN?\n", reply, sizeof reply, NULL);
  print_message("%s\n", shp_error_detail());
  assert_int_equal(rc, code);
  assert_non_null(strstr(shp_error_detail(), "usbtmc 1313:80f8 M00412345: "));
  assert_non_null(strstr(shp_error_detail(), says));
  if (also)
    assert_non_null(strstr(shp_error_detail(), also));
  shp_usbtmc_close(c);
}

/* The ioctl tree answers a control URB only when its setup packet matches
 * byte for byte, but never copies control data back (endpoint 0 has no IN
 * bit): "answered status 0x00" proves the abort request was the right one. */
#define ABORT_IN_SENT "INITIATE_ABORT_BULK_IN answered status 0x00"

static void umockdev_wrong_btag(void **s) {
  umockdev_query_fails(SHP_ERR_PROTOCOL, "bTag 7 does not match",
                       ABORT_IN_SENT);
}

static void umockdev_garbled(void **s) {
  umockdev_query_fails(SHP_ERR_PROTOCOL, "truncated header: 6 of 12",
                       ABORT_IN_SENT);
}

static void umockdev_disconnect(void **s) {
  umockdev_query_fails(SHP_ERR_DISCONNECTED,
                       "reading a reply: device unplugged", NULL);
}

/* Through libusb, on the ids the device has (1ab1:04ce, the emulated
 * data/umockdev/usbtmc-rigol.umockdev): the DS1000Z's header-less block
 * continuation of data/umockdev/usbtmc-rigol-block.ioctl is assembled. */
static void umockdev_rigol_block(void **s) {
  uint8_t block[111], reply[256];
  rigol_block(block);
  shp_usbtmc *c = NULL;
  int rc = shp_usbtmc_open(0x1ab1, 0x04ce, NULL, 1.0, &c);
  if (rc != SHP_OK)
    print_error("open: %s\n", shp_error_detail());
  assert_int_equal(rc, SHP_OK);
  assert_string_equal(shp_usbtmc_name(c), "usbtmc 1ab1:04ce DS1ZA000000001");
  size_t n = 0;
  assert_int_equal(shp_usbtmc_write(c, ":WAV:DATA?\n", 11), SHP_OK);
  rc = shp_usbtmc_read(c, reply, sizeof reply, &n);
  if (rc != SHP_OK)
    print_error("read: %s\n", shp_error_detail());
  assert_int_equal(rc, SHP_OK);
  assert_int_equal(n, 111);
  assert_memory_equal(reply, block, 111);
  shp_usbtmc_close(c);
}

int main(int argc, char **argv) {
  const struct CMUnitTest unit[] = {
      cmocka_unit_test(test_query_concatenates_transfers_until_eom),
      cmocka_unit_test(test_btag_wraps_from_255_to_1),
      cmocka_unit_test(test_wrong_btag_is_protocol_error_and_aborts_bulk_in),
      cmocka_unit_test(test_short_and_garbled_headers_are_protocol_errors),
      cmocka_unit_test(test_timeout_aborts_bulk_in_and_polls_its_status),
      cmocka_unit_test(test_write_timeout_aborts_bulk_out),
      cmocka_unit_test(test_unplug_is_disconnected_without_abort),
      cmocka_unit_test(test_endless_message_is_bounded_by_the_timeout),
      cmocka_unit_test(test_reply_longer_than_buffer_is_range_and_drained),
      cmocka_unit_test(test_rigol_ds1000z_block_continuation_is_assembled),
      cmocka_unit_test(test_rigol_ds1000z_block_in_one_read_is_taken),
      cmocka_unit_test(test_header_less_continuation_is_refused_elsewhere),
      cmocka_unit_test(test_bad_arguments_are_refused),
      cmocka_unit_test(test_find_endpoints_picks_the_usbtmc_interface),
  };
  const struct CMUnitTest device[] = {
      cmocka_unit_test(umockdev_idn),
      cmocka_unit_test(umockdev_wrong_btag),
      cmocka_unit_test(umockdev_garbled),
      cmocka_unit_test(umockdev_disconnect),
      cmocka_unit_test(umockdev_rigol_block),
  };
  if (argc < 2)
    return cmocka_run_group_tests(unit, NULL, NULL);
  /* One device case, by name: umockdev-idn runs umockdev_idn. */
  char name[64];
  snprintf(name, sizeof name, "%s", argv[1]);
  for (char *p = name; *p; p++)
    if (*p == '-')
      *p = '_';
  for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
    if (strcmp(device[i].name, name) == 0)
      return _cmocka_run_group_tests(argv[1], &device[i], 1, NULL, NULL);
  fprintf(stderr, "test_usbtmc: no case %s\n", argv[1]);
  return 2;
}
