/* The driver tables the registry lists, one per hardware/drivers folder.
 * Private to the hardware library. */
#ifndef SHP_HW_DRIVERS_H
#define SHP_HW_DRIVERS_H

#include "shp/hw.h"
#include "shp/transport.h"
#include "shp/usbtmc.h"

#include <stddef.h>

/* The largest trace a driver returns; callers size their buffers by it. */
#define SHP_TRACE_MAX 65536

extern const shp_driver shp_driver_sim;
extern const shp_driver shp_driver_tc200;
extern const shp_driver shp_driver_covesion;
extern const shp_driver shp_driver_mecom;
extern const shp_driver shp_driver_ted4000;
extern const shp_driver shp_driver_scope_ac;
extern const shp_driver shp_driver_pulsecheck;

/* For the USB-serial drivers (serial.c). shp_serial_check: the connection
 * must be a tty, and the driver's options mapping may hold only the allowed
 * keys (NULL: none); ctx receives that mapping's key path for messages
 * about the values the driver then reads. shp_serial_open: the port, 8N1
 * without flow control, at the connection's baud or default_baud. Both
 * return SHP_OK or an error with its message. */
int shp_serial_check(const shp_device_config *cfg, const char *driver,
                     const char *const *allowed, char *ctx, size_t ctx_size);
int shp_serial_open(const shp_device_config *cfg, int default_baud,
                    shp_transport **io);
/* A one-channel controller's channel check. */
int shp_serial_single_channel(const shp_transport *io, const char *what,
                              int channel);

/* For the USBTMC drivers (usb.c). shp_usb_check: the connection must be
 * kind usb with vendor and product ids, and the options mapping may hold
 * only the allowed keys (NULL: none); ctx as for shp_serial_check.
 * shp_usb_open: the instrument with the connection's vendor, product,
 * serial and timeout_s (shp_usbtmc_open). Both return SHP_OK or an error
 * with its message. */
int shp_usb_check(const shp_device_config *cfg, const char *driver,
                  const char *const *allowed, char *ctx, size_t ctx_size);
int shp_usb_open(const shp_device_config *cfg, shp_usbtmc **io);

/* SCPI over USBTMC, shared by the USBTMC drivers. shp_usb_excerpt: a
 * printable copy of at most 72 bytes of an answer (final CR/LF dropped) for
 * messages. shp_usb_scpi_write / _query: text (without its LF) as one
 * message, and its answer. shp_usb_scpi_check_errors: SYST:ERR?, and a
 * non-zero code as SHP_ERR_PROTOCOL "NAME: AFTER: the instrument reports
 * error CODE "MESSAGE"". */
const char *shp_usb_excerpt(char out[80], const char *s, size_t len);
int shp_usb_scpi_write(shp_usbtmc *c, const char *text);
int shp_usb_scpi_query(shp_usbtmc *c, const char *text, char *reply,
                       size_t size, size_t *len);
int shp_usb_scpi_check_errors(shp_usbtmc *c, const char *after);

#endif
