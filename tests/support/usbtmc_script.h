/* A scripted SCPI instrument behind the USBTMC transfer seam
 * (shp_usbtmc_new_with_io), for driver tests without a device or umockdev.
 * Include after <cmocka.h>.
 *
 * The script is a list of steps in order. Every DEV_DEP_MSG_OUT the driver
 * writes must carry exactly the step's message (a mismatch fails the test at
 * once, naming both); a step with a reply then answers the next
 * REQUEST_DEV_DEP_MSG_IN with one DEV_DEP_MSG_IN transfer (its bTag, EOM
 * set), or fails that transfer with in_rc (LIBUSB_ERROR_TIMEOUT waits out
 * the transfer's timeout first, as libusb does). Abort requests are answered
 * "FAILED" (0x80), so a failed transfer costs no polling. The counters let a
 * test check that a call sent nothing. */
#ifndef SHP_TEST_USBTMC_SCRIPT_H
#define SHP_TEST_USBTMC_SCRIPT_H

#include "shp/usbtmc.h"

#include <libusb.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char *send;  /* the whole message written, LF included */
  const void *reply; /* its answer, or NULL for a command */
  size_t reply_len;  /* 0: strlen(reply) */
  int in_rc;         /* < 0: the reply transfer fails with this instead */
} scpi_step;

typedef struct {
  const scpi_step *steps;
  size_t n, pos;
  uint8_t request_tag;
  uint32_t request_max;
  int n_writes, n_requests, n_controls, n_halts;
} scpi_fake;

static inline uint32_t scpi_fake_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline int scpi_fake_bulk(void *user, uint8_t ep, uint8_t *buf, int len,
                                 int *transferred, unsigned timeout_ms) {
  scpi_fake *f = user;
  *transferred = 0;
  if (!(ep & 0x80)) {
    if (buf[0] == 2) { /* REQUEST_DEV_DEP_MSG_IN */
      f->n_requests++;
      f->request_tag = buf[1];
      f->request_max = scpi_fake_le32(buf + 4);
      *transferred = len;
      return 0;
    }
    size_t n = scpi_fake_le32(buf + 4);
    f->n_writes++;
    if (f->pos >= f->n)
      fail_msg("script ended, the driver wrote \"%.*s\"", (int)n, buf + 12);
    const scpi_step *s = &f->steps[f->pos];
    if (strlen(s->send) != n || memcmp(s->send, buf + 12, n) != 0)
      fail_msg("step %zu: expected \"%s\", the driver wrote \"%.*s\"", f->pos,
               s->send, (int)n, buf + 12);
    if (s->reply == NULL && s->in_rc == 0)
      f->pos++;
    *transferred = len;
    return 0;
  }
  if (f->pos >= f->n)
    fail_msg("script ended, the driver reads a reply");
  const scpi_step *s = &f->steps[f->pos++];
  if (s->in_rc != 0) {
    if (s->in_rc == LIBUSB_ERROR_TIMEOUT) {
      struct timespec ts = {.tv_sec = timeout_ms / 1000,
                            .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    return s->in_rc;
  }
  size_t n = s->reply_len ? s->reply_len : strlen(s->reply);
  size_t total = 12 + ((n + 3) & ~(size_t)3);
  assert_true(n <= f->request_max);
  assert_true(total <= (size_t)len);
  memset(buf, 0, total);
  buf[0] = 2;
  buf[1] = f->request_tag;
  buf[2] = (uint8_t)~f->request_tag;
  buf[4] = (uint8_t)n;
  buf[5] = (uint8_t)(n >> 8);
  buf[6] = (uint8_t)(n >> 16);
  buf[7] = (uint8_t)(n >> 24);
  buf[8] = 1; /* EOM */
  memcpy(buf + 12, s->reply, n);
  *transferred = (int)total;
  return 0;
}

static inline int scpi_fake_control(void *user, uint8_t type, uint8_t request,
                                    uint16_t value, uint16_t index,
                                    uint8_t *data, uint16_t length,
                                    unsigned timeout_ms) {
  scpi_fake *f = user;
  f->n_controls++;
  memset(data, 0, length);
  data[0] = 0x80; /* STATUS_FAILED: nothing to abort */
  return length;
}

static inline int scpi_fake_clear_halt(void *user, uint8_t ep) {
  scpi_fake *f = user;
  f->n_halts++;
  return 0;
}

static const shp_usbtmc_io scpi_fake_io = {.bulk = scpi_fake_bulk,
                                           .control = scpi_fake_control,
                                           .clear_halt = scpi_fake_clear_halt};

/* A connection named name on the script steps[0..n). */
static inline shp_usbtmc *scpi_fake_open(scpi_fake *f, const scpi_step *steps,
                                         size_t n, const char *name,
                                         double timeout_s) {
  static const shp_usbtmc_endpoints ep = {
      .bulk_in = 0x81, .bulk_out = 0x02, .bulk_in_max_packet = 64};
  *f = (scpi_fake){.steps = steps, .n = n};
  shp_usbtmc *c =
      shp_usbtmc_new_with_io(&scpi_fake_io, f, &ep, name, timeout_s);
  assert_non_null(c);
  return c;
}

/* Every step of the script was used. */
#define scpi_fake_done(f) assert_int_equal((f)->pos, (f)->n)

#endif
