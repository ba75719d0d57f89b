/* The TED4000 driver's private state and its exchanges on the wire: SCPI
 * messages over a USBTMC connection (shp/usbtmc.h), encoded and decoded with
 * the codecs of shp/proto/scpi.h. Every function takes the connection, so it
 * runs on libusb or on a scripted transfer seam (shp_usbtmc_new_with_io)
 * alike; api.c is the driver table. README.md here gives the command set,
 * its sources and the assumptions. */
#ifndef SHP_TED4000_PROTOCOL_H
#define SHP_TED4000_PROTOCOL_H

#include "shp/hw.h"
#include "shp/usbtmc.h"

#include <stdbool.h>
#include <stddef.h>

/* How many times *IDN? is sent at open before giving up (README). */
#define TED4000_IDN_ATTEMPTS 4

/* Longest answer taken: *IDN? is under 100 bytes, a number or an error
 * message a few dozen. */
#define TED4000_REPLY_MAX 256

/* STATus:MEASurement:CONDition? bits that apply to a TED (Series 4000
 * SCPI Programmers' Reference, "Measurement Register Group"). */
enum {
  TED4000_COND_TEMP_PROTECTION = 1u << 8, /* temperature protection active */
  TED4000_COND_WINDOW = 1u << 9,          /* temperature window failure */
  TED4000_COND_SENSOR = 1u << 10,         /* temperature sensor failure */
  TED4000_COND_COMPLIANCE = 1u << 11,     /* TEC compliance voltage reached */
  TED4000_COND_TEC_OPEN = 1u << 12,       /* TEC connection failure */
  TED4000_COND_OVERTEMP = 1u << 14,       /* over temperature */
  /* What the driver reports as the instrument's fault (README, A4): the
   * conditions under which the controller is not regulating the crystal. */
  TED4000_FAULT_BITS = TED4000_COND_TEMP_PROTECTION | TED4000_COND_SENSOR |
                       TED4000_COND_TEC_OPEN | TED4000_COND_OVERTEMP,
};

struct shp_device {
  shp_usbtmc *io;
};

/* What one read of the controller gives. */
typedef struct {
  double setpoint_c, actual_c;
  bool output_on;
  unsigned condition; /* STAT:MEAS:COND? */
} ted4000_status;

/* A device on an open connection, which it takes over (closed on failure
 * too): checks *IDN? (ted4000_identify), clears the status and error queue
 * (*CLS, which changes no setting), sets UNIT:TEMP C and checks SYST:ERR?.
 * Owned by the caller: ted4000_device_free. */
int ted4000_device_new(shp_usbtmc *io, shp_device **out);
void ted4000_device_free(shp_device *d);

/* *IDN? must name THORLABS and a TED4xxx model; anything else is
 * SHP_ERR_PROTOCOL (an ITC4000 speaks the same tree with other suffixes).
 * A timed-out or garbled exchange is retried, TED4000_IDN_ATTEMPTS in all;
 * when every one fails, the error of the last with "*IDN? got no usable
 * answer in 4 attempts". A wrong identity or another error is not
 * retried. */
int ted4000_identify(shp_usbtmc *c);

/* SOUR:TEMP?, MEAS:TEMP?, OUTP? (0 or 1) and STAT:MEAS:COND?. */
int ted4000_read_status(shp_usbtmc *c, ted4000_status *st);

/* SOUR:TEMP <t> with three decimals (-50..200 C, else SHP_ERR_RANGE before
 * anything is sent), then SYST:ERR? must answer 0. */
int ted4000_set_temperature(shp_usbtmc *c, double setpoint_c);

/* SYST:ERR?: SHP_OK for code 0, else SHP_ERR_PROTOCOL naming the device,
 * what was sent before (after) and the instrument's code and message. */
int ted4000_check_errors(shp_usbtmc *c, const char *after);

/* The set condition bits in words ("temperature sensor failure, ..."). */
void ted4000_condition_text(unsigned condition, char *buf, size_t size);

/* Every call: SHP_ERR_TIMEOUT, SHP_ERR_DISCONNECTED, SHP_ERR_PROTOCOL (a
 * garbled or out-of-step transfer, an unreadable answer), SHP_ERR_IO from
 * the transport, with messages that start with the device's name. */

#endif
