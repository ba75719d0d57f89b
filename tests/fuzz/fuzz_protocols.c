/* libFuzzer harness of the instrument wire-protocol decoders
 * (hardware/protocols). The first input byte picks the decoder (modulo the
 * count); the rest is the reply, copied to a heap buffer of exactly its
 * length so AddressSanitizer catches any read past it.
 *
 * Besides "no crash, no overread, no undefined behaviour" it checks that a
 * decoder returns SHP_OK or SHP_ERR_PROTOCOL only, that a failure leaves a
 * message, and that spans a decoder returns lie inside the input. */
#include "shp/error.h"
#include "shp/proto/covesion.h"
#include "shp/proto/mecom.h"
#include "shp/proto/scpi.h"
#include "shp/proto/tc200.h"
#include "shp/proto/usbtmc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rc(int rc) {
  if (rc != SHP_OK && rc != SHP_ERR_PROTOCOL)
    abort();
  if (rc != SHP_OK && shp_error_detail()[0] == '\0')
    abort();
}

static void check_span(const void *base, size_t len, const void *p, size_t n) {
  const char *b = base, *q = p;
  if (q < b || q > b + len || n > (size_t)(b + len - q))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t n = size - 1;
  char *s = malloc(n ? n : 1);
  if (!s)
    return 0;
  memcpy(s, data + 1, n);
  const uint8_t *u = (const uint8_t *)s;
  const char *span = NULL;
  const uint8_t *uspan = NULL;
  size_t slen = 0, used = 0, hlen = 0;
  double v;
  uint32_t raw;
  int code, rc;
  char cmd;
  shp_error_clear();
  switch (data[0] % 14) {
  case 0:
    rc = shp_proto_tc200_reply_body(s, n, "tact?", &span, &slen);
    check_rc(rc);
    if (rc == SHP_OK) {
      check_span(s, n, span, slen);
      check_rc(shp_proto_tc200_decode_temperature(span, slen, &v));
    }
    break;
  case 1: {
    shp_proto_tc200_status st;
    check_rc(shp_proto_tc200_decode_status(s, n, &st));
    break;
  }
  case 2:
    rc = shp_proto_covesion_decode(s, n, &cmd, &span, &slen);
    check_rc(rc);
    if (rc == SHP_OK) {
      shp_proto_covesion_status st;
      check_span(s, n, span, slen);
      check_rc(shp_proto_covesion_decode_status(span, slen, &st));
    }
    break;
  case 3: {
    shp_proto_covesion_status st;
    check_rc(shp_proto_covesion_decode_status(s, n, &st));
    break;
  }
  case 4: {
    shp_proto_mecom_frame f;
    rc = shp_proto_mecom_decode_frame(s, n, &f);
    check_rc(rc);
    if (rc == SHP_OK)
      check_span(s, n, f.payload, f.payload_len);
    break;
  }
  case 5:
    check_rc(shp_proto_mecom_decode_value(s, n, 1, 1, &raw));
    break;
  case 6:
    check_rc(shp_proto_mecom_decode_ack(s, n, 1, 1, 0x1234));
    break;
  case 7:
    check_rc(shp_proto_scpi_decode_number(s, n, &v));
    break;
  case 8:
    rc = shp_proto_scpi_decode_error(s, n, &code, &span, &slen);
    check_rc(rc);
    if (rc == SHP_OK)
      check_span(s, n, span, slen);
    break;
  case 9:
    rc = shp_proto_ieee4882_block_parse(u, n, &uspan, &slen, &used);
    check_rc(rc);
    if (rc == SHP_OK) {
      check_span(s, n, uspan, slen);
      if (used > n)
        abort();
    }
    check_rc(shp_proto_ieee4882_block_header(u, n, &hlen, &slen));
    break;
  case 10: {
    shp_proto_scpi_preamble pre;
    double volts[64];
    rc = shp_proto_scpi_decode_preamble(s, n, &pre);
    check_rc(rc);
    if (rc == SHP_OK) {
      static const uint8_t samples[8] = {0, 1, 127, 128, 129, 200, 254, 255};
      int r2 = shp_proto_scpi_scale_samples(
          &pre, SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT, true, samples, 8, volts, 64);
      if (r2 != SHP_OK && r2 != SHP_ERR_PROTOCOL)
        abort();
      (void)shp_proto_scpi_sample_time_s(&pre, 1000);
    }
    break;
  }
  case 12: {
    double values[64];
    size_t count = 0;
    rc = shp_proto_scpi_decode_number_list(s, n, values, 64, &count);
    check_rc(rc);
    if (rc == SHP_OK && (count == 0 || count > 64))
      abort();
    break;
  }
  case 13: {
    /* The first data byte picks the width and byte order. */
    double values[64];
    size_t count = 0, width = n > 0 && (u[0] & 1) ? 8 : 4;
    bool big = n > 0 && (u[0] & 2);
    rc = shp_proto_ieee4882_decode_reals(n ? u + 1 : u, n ? n - 1 : 0, width,
                                         big, values, 64, &count);
    check_rc(rc);
    if (rc == SHP_OK && count * width != (n ? n - 1 : 0))
      abort();
    break;
  }
  default: { /* 11 */
    shp_proto_usbtmc_in in;
    rc = shp_proto_usbtmc_decode_in(u, n, n > 1 ? u[1] : 1, &in);
    check_rc(rc);
    if (rc == SHP_OK)
      check_span(s, n, in.data, in.data_len);
    break;
  }
  }
  free(s);
  return 0;
}
