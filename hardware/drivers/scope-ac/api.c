/* The scope-ac driver's table: an oscilloscope reading a scanning
 * autocorrelator's analog output over USBTMC, and the driver's options.
 * protocol.c holds the exchanges; the codecs are hardware/protocols/scpi and
 * hardware/protocols/usbtmc. */
#include "drivers.h"
#include "protocol.h"

#include "shp/error.h"
#include "shp/yamlfile.h"

#include <math.h>
#include <string.h>

_Static_assert(SCOPE_AC_POINTS_MAX <= SHP_TRACE_MAX,
               "a scan must fit the supervisor's trace");

static const char *const option_keys[] = {
    "flavour", "channel", "format", "delay_ps_per_ms", "averaging", NULL};

/* An optional one-of-two word: *first is set when it is the first. */
static int choice(const shp_device_config *cfg, const char *ctx,
                  const char *key, const char *a, const char *b, bool required,
                  bool *first) {
  const char *text = NULL;
  bool present = false;
  int rc = required ? shp_yaml_string(cfg->yaml, cfg->options, ctx, key, &text)
                    : shp_yaml_string_opt(cfg->yaml, cfg->options, ctx, key,
                                          &text, &present);
  if (rc != SHP_OK || (!required && !present))
    return rc;
  if (strcmp(text, a) != 0 && strcmp(text, b) != 0)
    return shp_yaml_fail(cfg->yaml, shp_yaml_get(cfg->yaml, cfg->options, key),
                         ctx, key, "expected %s or %s, got \"%s\"", a, b, text);
  *first = strcmp(text, a) == 0;
  return SHP_OK;
}

/* The options mapping (README, "Options"): flavour and delay_ps_per_ms are
 * required, as no default could be right for both makes or for any scan
 * calibration. Messages name the file, line and key. */
int scope_ac_read_options(const shp_device_config *cfg, const char *ctx,
                          scope_ac_options *o) {
  bool keysight = true, word = true, driver_avg = true, has_channel = false;
  double channel = 1;
  *o = (scope_ac_options){0};
  if (cfg->options == NULL)
    return shp_error_set(SHP_ERR_PARSE,
                         "%s%s%s: missing required mapping (flavour, "
                         "delay_ps_per_ms)",
                         cfg->yaml ? shp_yaml_path(cfg->yaml) : "",
                         cfg->yaml ? ": " : "", ctx);
  /* shp_usb_check has refused unknown keys already. */
  int rc = choice(cfg, ctx, "flavour", "keysight", "rigol", true, &keysight);
  /* WORD by default on a Keysight (its averaged records have more than 8
   * bits); a DS1000Z's ADC has 8 bits, so BYTE there, and only BYTE. */
  word = keysight;
  if (rc == SHP_OK)
    rc = choice(cfg, ctx, "format", "word", "byte", false, &word);
  if (rc == SHP_OK && word && !keysight)
    rc = shp_yaml_fail(cfg->yaml,
                       shp_yaml_get(cfg->yaml, cfg->options, "format"), ctx,
                       "format",
                       "word is not offered with flavour rigol: its ADC has "
                       "8 bits (README, A5)");
  if (rc == SHP_OK)
    rc = choice(cfg, ctx, "averaging", "driver", "scope", false, &driver_avg);
  if (rc == SHP_OK)
    rc = shp_yaml_number_opt(cfg->yaml, cfg->options, ctx, "channel", &channel,
                             &has_channel);
  if (rc == SHP_OK && (channel != floor(channel) || channel < 1 || channel > 4))
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, cfg->yaml,
        shp_yaml_get(cfg->yaml, cfg->options, "channel"), ctx, "channel",
        "must be a whole number from 1 to 4, got %g", channel);
  if (rc == SHP_OK)
    rc = shp_yaml_number(cfg->yaml, cfg->options, ctx, "delay_ps_per_ms",
                         &o->delay_ps_per_ms);
  /* A scan's delay per millisecond of scope time: scanning autocorrelators
   * sweep ps to ns over ms, so beyond 1e-3 .. 1e6 ps/ms in magnitude it is
   * a unit mistake (and 0 or a denormal would divide the axis away). The
   * sign is free: a scan may run backwards. */
  double mag = fabs(o->delay_ps_per_ms);
  if (rc == SHP_OK && !(mag >= 1e-3 && mag <= 1e6))
    rc = shp_yaml_fail_code(
        SHP_ERR_RANGE, cfg->yaml,
        shp_yaml_get(cfg->yaml, cfg->options, "delay_ps_per_ms"), ctx,
        "delay_ps_per_ms", "must be from 0.001 to 1e+06 in magnitude, got %g",
        o->delay_ps_per_ms);
  if (rc == SHP_OK && !driver_avg && !keysight)
    rc = shp_yaml_fail(cfg->yaml,
                       shp_yaml_get(cfg->yaml, cfg->options, "averaging"), ctx,
                       "averaging",
                       "scope averaging is supported with flavour keysight "
                       "only (README, A6)");
  if (rc != SHP_OK)
    return rc;
  o->flavour = keysight ? SHP_PROTO_SCPI_WAVEFORM_KEYSIGHT
                        : SHP_PROTO_SCPI_WAVEFORM_RIGOL;
  o->channel = (int)channel;
  o->format = word ? 1 : 0;
  o->scope_averages = !driver_avg;
  return SHP_OK;
}

static int scope_ac_open(const shp_device_config *cfg, shp_device **out) {
  char ctx[64];
  scope_ac_options opt;
  shp_usbtmc *io = NULL;
  int rc = shp_usb_check(cfg, "scope-ac", option_keys, ctx, sizeof ctx);
  if (rc == SHP_OK)
    rc = scope_ac_read_options(cfg, ctx, &opt);
  if (rc == SHP_OK && cfg->clock == NULL)
    rc = shp_error_set(SHP_ERR_INVALID, "scope-ac: needs the lab's clock");
  if (rc == SHP_OK)
    rc = shp_usb_open(cfg, &io);
  if (rc != SHP_OK)
    return rc;
  return scope_ac_device_new(io, cfg->clock, cfg->connection->timeout_s, &opt,
                             out);
}

static void scope_ac_close(shp_device *d) { scope_ac_device_free(d); }

static int scope_ac_acquire_trace(shp_device *d, size_t averages,
                                  shp_trace *trace) {
  return scope_ac_acquire(d, averages, trace);
}

const shp_driver shp_driver_scope_ac = {
    .name = "scope-ac",
    .description = "oscilloscope on a scanning autocorrelator's output "
                   "(USBTMC, SCPI; Keysight or Rigol)",
    .roles = SHP_ROLE_AUTOCORRELATOR,
    .open = scope_ac_open,
    .close = scope_ac_close,
    .oven_read = NULL,
    .oven_set = NULL,
    .oven_set_ramp = NULL,
    .oven_hold = NULL,
    .acquire = scope_ac_acquire_trace,
};
