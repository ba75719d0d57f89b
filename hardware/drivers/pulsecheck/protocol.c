/* The pulsecheck driver's exchanges: one SCPI command, one answer (a text
 * line, or an IEEE 488.2 definite-length block). See README.md here for
 * the command set and where each part of it comes from. */
#include "protocol.h"

#include "shp/error.h"
#include "shp/proto/scpi.h"

#include <stdio.h>
#include <string.h>

static const char *port(const shp_device *d) {
  return shp_transport_name(d->io);
}

static bool is_blank(uint8_t c) { return c == '\r' || c == '\n' || c == ' '; }

/* A.P.E's example client (ape_device.py, receive()) drops every NUL byte of
 * a text answer, so an instrument or pulseLink that ends its strings C-style
 * works with it; a text answer here is taken the same way. Block data stays
 * binary and untouched. Returns the new length. */
static size_t drop_nuls(char *s, size_t len) {
  size_t k = 0;
  for (size_t i = 0; i < len; i++)
    if (s[i] != '\0')
      s[k++] = s[i];
  return k;
}

/* Up to 40 bytes of an answer for a message, unprintable bytes as '.'. */
static const char *excerpt(char out[48], const char *s, size_t len) {
  size_t n = len < 40 ? len : 40;
  for (size_t i = 0; i < n; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '.';
  memcpy(out + n, len > n ? "..." : "", len > n ? 4 : 1);
  return out;
}

/* A transport failure during query, as "PORT: QUERY: what happened" (the
 * transport's message starts with the port). */
static int io_fail(shp_device *d, const char *query) {
  const char *detail = shp_error_detail(), *p = port(d);
  size_t n = strlen(p);
  char rest[400];
  if (strncmp(detail, p, n) == 0 && detail[n] == ':' && detail[n + 1] == ' ')
    detail += n + 2;
  snprintf(rest, sizeof rest, "%s", detail);
  return shp_error_set(shp_error_last(), "%s: %s: %s", p, query, rest);
}

int pulsecheck_send(shp_device *d, const char *command) {
  char buf[PULSECHECK_COMMAND_MAX + 4];
  int n = shp_proto_scpi_encode_command(buf, sizeof buf - 1, command);
  if (n < 0)
    return shp_error_prefix("%s: ", port(d));
  /* The codec ends a command with LF; A.P.E's own client ends each with
   * CR LF, which an SCPI parser takes as white space and the terminator. */
  if (strcmp(d->opt.line_end, "\r\n") == 0) {
    memcpy(buf + n - 1, "\r\n", 2);
    n++;
  }
  /* A late answer to an exchange that failed, or the line end after the
   * last block, must not be read as this command's answer. */
  int rc = shp_transport_discard_input(d->io);
  if (rc >= 0)
    rc = shp_transport_write(d->io, buf, (size_t)n);
  return rc < 0 ? io_fail(d, command) : SHP_OK;
}

/* The first byte of an answer, after up to PULSECHECK_MAX_BLANKS blank or
 * NUL bytes (a NUL ending the previous answer may arrive late). */
static int first_byte(shp_device *d, const char *query, uint8_t *c) {
  for (int blanks = 0;; blanks++) {
    int rc = shp_transport_read_exact(d->io, c, 1);
    if (rc == SHP_ERR_TIMEOUT)
      return shp_error_set(rc, "%s: %s: no answer within %g s", port(d), query,
                           shp_transport_timeout_s(d->io));
    if (rc != SHP_OK)
      return io_fail(d, query);
    if (!is_blank(*c) && *c != '\0')
      return SHP_OK;
    if (blanks == PULSECHECK_MAX_BLANKS)
      return shp_error_set(SHP_ERR_PROTOCOL,
                           "%s: %s: the answer is only blank bytes", port(d),
                           query);
  }
}

/* After the '#': the rest of a definite-length block into buf. */
static int block_rest(shp_device *d, const char *query, uint8_t *buf,
                      size_t size, size_t *len) {
  uint8_t head[2 + 9] = {'#'};
  size_t header_len, data_len;
  int rc = shp_transport_read_exact(d->io, head + 1, 1);
  if (rc != SHP_OK)
    return io_fail(d, query);
  size_t digits =
      head[1] >= '1' && head[1] <= '9' ? (size_t)(head[1] - '0') : 0;
  if (digits > 0 &&
      (rc = shp_transport_read_exact(d->io, head + 2, digits)) != SHP_OK)
    return io_fail(d, query);
  /* With no valid digit count this only names what is wrong. */
  rc =
      shp_proto_ieee4882_block_header(head, 2 + digits, &header_len, &data_len);
  if (rc != SHP_OK)
    return shp_error_prefix("%s: %s: ", port(d), query);
  if (data_len > size)
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: a block of %zu bytes, more than the %zu "
                         "bytes of the largest answer taken",
                         port(d), query, data_len, size);
  if ((rc = shp_transport_read_exact(d->io, buf, data_len)) != SHP_OK)
    return io_fail(d, query);
  *len = data_len;
  return SHP_OK;
}

/* After a first byte c that is not '#': the rest of the line into buf,
 * NUL-terminated, the line end stripped. wait_s > 0 bounds the wait. */
static int line_rest(shp_device *d, const char *query, uint8_t c, char *buf,
                     size_t size, double wait_s, size_t *len) {
  size_t n = 0;
  double timeout_s = shp_transport_timeout_s(d->io);
  buf[0] = (char)c;
  if (wait_s > 0 && wait_s < timeout_s)
    shp_transport_set_timeout_s(d->io, wait_s);
  int rc = c == '\n'
               ? SHP_OK
               : shp_transport_read_until(d->io, buf + 1, size - 1, "\n", &n);
  shp_transport_set_timeout_s(d->io, timeout_s);
  if (rc != SHP_OK)
    return io_fail(d, query);
  n = drop_nuls(buf, n + 1);
  while (n > 0 && is_blank((uint8_t)buf[n - 1]))
    n--;
  buf[n] = '\0';
  *len = n;
  return SHP_OK;
}

int pulsecheck_query_line(shp_device *d, const char *query, size_t *len) {
  uint8_t c;
  size_t n = 0;
  int rc = pulsecheck_send(d, query);
  if (rc == SHP_OK)
    rc = first_byte(d, query, &c);
  if (rc != SHP_OK)
    return rc;
  /* A.P.E's example client reads every answer as a block unless told
   * otherwise, so a text answer may come either way. */
  if (c == '#') {
    rc = block_rest(d, query, (uint8_t *)d->line, sizeof d->line - 1, &n);
    if (rc == SHP_OK)
      n = drop_nuls(d->line, n);
    while (rc == SHP_OK && n > 0 && is_blank((uint8_t)d->line[n - 1]))
      n--;
    d->line[rc == SHP_OK ? n : 0] = '\0';
  } else {
    rc = line_rest(d, query, c, d->line, sizeof d->line, 0, &n);
  }
  if (rc == SHP_OK && len != NULL)
    *len = n;
  return rc;
}

int pulsecheck_query_number(shp_device *d, const char *query, double *value) {
  size_t n;
  int rc = pulsecheck_query_line(d, query, &n);
  if (rc == SHP_OK && shp_proto_scpi_decode_number(d->line, n, value) != SHP_OK)
    rc = shp_error_prefix("%s: %s: ", port(d), query);
  return rc;
}

/* The message for an answer that is an SCPI error instead of data, or
 * SHP_OK when it is not one. */
static int instrument_error(shp_device *d, const char *query, const char *text,
                            size_t len) {
  int code;
  const char *msg;
  size_t msg_len;
  if (shp_proto_scpi_decode_error(text, len, &code, &msg, &msg_len) != SHP_OK)
    return SHP_OK; /* the caller restores its own message */
  return shp_error_set(
      SHP_ERR_PROTOCOL, "%s: %s: the instrument answered error %d, \"%.*s\"",
      port(d), query, code, (int)(msg_len > 200 ? 200 : msg_len), msg);
}

int pulsecheck_check_error(shp_device *d, const char *after) {
  const char *q = d->opt.error_query, *msg;
  size_t n, msg_len;
  int code;
  if (q[0] == '\0')
    return SHP_OK;
  int rc = pulsecheck_query_line(d, q, &n);
  if (rc != SHP_OK)
    return rc;
  if (shp_proto_scpi_decode_error(d->line, n, &code, &msg, &msg_len) != SHP_OK)
    return shp_error_prefix("%s: %s: ", port(d), q);
  if (code != 0)
    return shp_error_set(
        SHP_ERR_PROTOCOL, "%s: instrument error %d, \"%.*s\" (%s after %s)",
        port(d), code, (int)(msg_len > 200 ? 200 : msg_len), msg, q, after);
  return SHP_OK;
}

/* The first byte of a block answer was c, not '#'. */
static int not_a_block(shp_device *d, const char *query, uint8_t c) {
  char ex[48];
  size_t n;
  int rc = line_rest(d, query, c, d->line, sizeof d->line,
                     PULSECHECK_REST_WAIT_S, &n);
  if (rc != SHP_OK)
    n = 1; /* the message shows the byte that was wrong */
  d->line[n] = '\0';
  if (rc == SHP_OK && (rc = instrument_error(d, query, d->line, n)) != SHP_OK)
    return rc;
  return shp_error_set(SHP_ERR_PROTOCOL,
                       "%s: %s: expected an IEEE 488.2 block ('#'), got '%s'",
                       port(d), query, excerpt(ex, d->line, n));
}

static int trace_block(shp_device *d, const char *query, size_t *count) {
  uint8_t c;
  size_t len;
  int rc = first_byte(d, query, &c);
  if (rc != SHP_OK)
    return rc;
  if (c != '#')
    return not_a_block(d, query, c);
  if ((rc = block_rest(d, query, d->raw, d->raw_size, &len)) != SHP_OK)
    return rc;
  rc = shp_proto_ieee4882_decode_reals(d->raw, len, d->opt.block_width,
                                       d->opt.big_endian, d->values,
                                       d->values_cap, count);
  return rc == SHP_OK ? SHP_OK : shp_error_prefix("%s: %s: ", port(d), query);
}

static int trace_ascii(shp_device *d, const char *query, size_t *count) {
  uint8_t c;
  size_t len;
  char *text = (char *)d->raw;
  int rc = first_byte(d, query, &c);
  if (rc != SHP_OK)
    return rc;
  if (c == '#')
    return shp_error_set(SHP_ERR_PROTOCOL,
                         "%s: %s: expected comma-separated numbers, got an "
                         "IEEE 488.2 block (trace_format: block?)",
                         port(d), query);
  if ((rc = line_rest(d, query, c, text, d->raw_size, 0, &len)) != SHP_OK)
    return rc;
  rc = shp_proto_scpi_decode_number_list(text, len, d->values, d->values_cap,
                                         count);
  if (rc == SHP_OK)
    return SHP_OK;
  char why[256];
  snprintf(why, sizeof why, "%s", shp_error_detail());
  int err = instrument_error(d, query, text, len);
  if (err != SHP_OK)
    return err;
  return shp_error_set(rc, "%s: %s: %s", port(d), query, why);
}

int pulsecheck_query_trace(shp_device *d, size_t *count) {
  const char *q = d->opt.trace_query;
  int rc = pulsecheck_send(d, q);
  if (rc != SHP_OK)
    return rc;
  return d->opt.format == PULSECHECK_BLOCK ? trace_block(d, q, count)
                                           : trace_ascii(d, q, count);
}
