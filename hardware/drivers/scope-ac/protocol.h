/* The scope-ac driver's private state and its exchanges on the wire: an
 * oscilloscope digitising a scanning autocorrelator's analog output, read
 * over USBTMC in SCPI (Keysight InfiniiVision or Rigol DS1000Z manner).
 * Every exchange goes through the device's shp_usbtmc connection, so it runs
 * on libusb or on a scripted transfer seam (shp_usbtmc_new_with_io) alike;
 * api.c is the driver table and reads the options. README.md here gives the
 * command set, its sources and the assumptions. */
#ifndef SHP_SCOPE_AC_PROTOCOL_H
#define SHP_SCOPE_AC_PROTOCOL_H

#include "shp/hw.h"
#include "shp/proto/scpi.h"
#include "shp/usbtmc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most samples taken from one scan (the library's largest trace). */
#define SCOPE_AC_POINTS_MAX 65536
/* Longest text answer taken: *IDN?, a preamble, an error message. */
#define SCOPE_AC_REPLY_MAX 256
/* Interval between trigger-status polls (Rigol), lab-clock seconds. */
#define SCOPE_AC_POLL_S 0.02

/* The driver's options (README, "Options"). */
typedef struct {
  shp_proto_scpi_waveform_flavour flavour;
  int channel;            /* 1..4: CHANnel<n> */
  int format;             /* 0 BYTE, 1 WORD, as the preamble numbers them */
  double delay_ps_per_ms; /* the autocorrelator's scan calibration */
  bool scope_averages;    /* the scope averages (Keysight only) */
} scope_ac_options;

struct shp_device {
  shp_usbtmc *io;
  shp_clock *clock; /* borrowed: bounds the trigger wait */
  double timeout_s;
  scope_ac_options opt;
  size_t scope_count; /* averages last set on the scope, 0 before */
  uint8_t *raw;       /* one :WAV:DATA? answer */
  size_t raw_cap;
  double *volts, *sum; /* SCOPE_AC_POINTS_MAX each */
};

/* The lab file's options mapping (README, "Options") into *o, defaults
 * filled in (format: WORD on a Keysight, BYTE on a Rigol); ctx names the
 * mapping in messages. Errors (SHP_ERR_PARSE, SHP_ERR_RANGE) name the
 * file, line and key. Unknown keys are refused before, by shp_usb_check. */
int scope_ac_read_options(const shp_device_config *cfg, const char *ctx,
                          scope_ac_options *o);

/* A device on an open connection, which it takes over (closed on failure
 * too): checks *IDN? against the flavour, sets up the waveform transfer
 * (source, format, byte order, point mode, acquisition type) and checks
 * SYST:ERR?. clock is borrowed. Owned by the caller: scope_ac_device_free. */
int scope_ac_device_new(shp_usbtmc *io, shp_clock *clock, double timeout_s,
                        const scope_ac_options *opt, shp_device **out);
void scope_ac_device_free(shp_device *d);

/* One trace averaged over averages scans (>= 1): the driver's mean of that
 * many acquisitions, or one acquisition the scope averaged itself. The
 * delay axis is the scope's time axis times delay_ps_per_ms; the signal is
 * in volts. Errors: SHP_ERR_PROTOCOL (a garbled, short or inconsistent
 * block or preamble, a time base that changed between scans, an
 * instrument error in SYST:ERR?), SHP_ERR_RANGE (more samples than the
 * trace holds), SHP_ERR_TIMEOUT (no trigger within the timeout, or a
 * Rigol whose trigger status never left STOP after :SING),
 * SHP_ERR_DISCONNECTED, SHP_ERR_IO; messages start with the device. */
int scope_ac_acquire(shp_device *d, size_t averages, shp_trace *trace);

#endif
