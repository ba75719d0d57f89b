/* A scripted instrument on a loopback TCP port, for driver tests: a thread
 * listens on 127.0.0.1 (an ephemeral port), accepts one connection and
 * plays a script of steps, each expecting one line from the client and
 * answering it, falling silent or hanging up. Every wait of the peer is
 * bounded by SCPI_PEER_WAIT_MS, so a test that goes wrong fails instead of
 * hanging.
 *
 * After the last step the peer reads on until the client closes: any
 * further line fails the script, so a stray command is caught. */
#ifndef SHP_TEST_SCPI_PEER_H
#define SHP_TEST_SCPI_PEER_H

#include <stdbool.h>
#include <stddef.h>

#define SCPI_PEER_WAIT_MS 5000

typedef enum {
  SCPI_PEER_ANSWER, /* send the reply */
  SCPI_PEER_SILENT, /* send the reply (if any), then nothing more */
  SCPI_PEER_CLOSE,  /* send the reply (if any), then close the connection */
} scpi_peer_action;

typedef struct {
  const char *expect; /* the exact line, line end included */
  const void *reply;  /* NULL: nothing; must outlive the peer */
  size_t reply_len;   /* 0: strlen(reply) */
  scpi_peer_action action;
} scpi_peer_step;

typedef struct scpi_peer scpi_peer;

/* Listen and start the thread; the steps (copied: n at most 64) play on
 * the first connection. NULL when no socket or thread could be made. */
scpi_peer *scpi_peer_start(const scpi_peer_step *steps, size_t n);

int scpi_peer_port(const scpi_peer *p);

/* Wait for the thread (it ends when the client has closed, or after
 * SCPI_PEER_WAIT_MS of quiet) and free the peer. Returns true when the
 * client sent exactly the script's lines; otherwise why says what
 * differed. */
bool scpi_peer_stop(scpi_peer *p, char *why, size_t why_size);

#endif
