/* shapectl hw list: the USB instruments and serial adapters present, the
 * drivers this build has, and which devices a lab file names are there. It
 * opens no device. */
#include "cli.h"
#include "output.h"

#include "shp/datadir.h"
#include "shp/error.h"
#include "shp/lab.h"
#include "shp/plot.h"
#include "shp/supervisor.h"
#include "shp/usbtmc.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- list -----------------------------------------------------------------
 */

/* A USB-serial adapter: its tty node and the USB device it belongs to. */
typedef struct {
  char tty[64];    /* /dev/ttyUSB0 */
  char by_id[288]; /* /dev/serial/by-id/..., or "" */
  unsigned vendor, product;
  char serial[128]; /* "" when the device has none */
} serial_port;

typedef struct {
  serial_port *v;
  size_t n, cap;
} serial_ports;

/* The first line of a sysfs attribute file, or false. */
static bool read_attr(const char *dir, const char *name, char *buf,
                      size_t size) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (ok)
    buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

/* The USB device (a sysfs directory with idVendor) at or above sysdir. */
static void usb_ancestor(const char *sysdir, serial_port *p) {
  char dir[PATH_MAX], hex[16];
  if (realpath(sysdir, dir) == NULL)
    return;
  for (char *slash; (slash = strrchr(dir, '/')) != NULL && slash != dir;
       *slash = '\0') {
    if (read_attr(dir, "idVendor", hex, sizeof hex)) {
      p->vendor = (unsigned)strtoul(hex, NULL, 16);
      if (read_attr(dir, "idProduct", hex, sizeof hex))
        p->product = (unsigned)strtoul(hex, NULL, 16);
      read_attr(dir, "serial", p->serial, sizeof p->serial);
      return;
    }
  }
}

static serial_port *serial_find(serial_ports *s, const char *tty) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i].tty, tty) == 0)
      return &s->v[i];
  return NULL;
}

static serial_port *serial_add(serial_ports *s, const char *tty) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    serial_port *v = realloc(s->v, cap * sizeof *v);
    if (v == NULL)
      return NULL;
    s->v = v;
    s->cap = cap;
  }
  serial_port *p = &s->v[s->n++];
  *p = (serial_port){0};
  snprintf(p->tty, sizeof p->tty, "%s", tty);
  return p;
}

/* USB-serial adapters: /sys/bus/usb-serial/devices (FTDI, CP210x, ...), then
 * /dev/serial/by-id (which has the CDC-ACM ones too). Either may be missing
 * or unreadable; what can be read is listed. */
static void serial_scan(serial_ports *s) {
  const char *bus = "/sys/bus/usb-serial/devices";
  DIR *d = opendir(bus);
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.')
      continue;
    char tty[64], sys[PATH_MAX];
    snprintf(tty, sizeof tty, "/dev/%.58s", e->d_name);
    snprintf(sys, sizeof sys, "%s/%s", bus, e->d_name);
    serial_port *p = serial_add(s, tty);
    if (p != NULL)
      usb_ancestor(sys, p);
  }
  if (d != NULL)
    closedir(d);
  d = opendir("/dev/serial/by-id");
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    char link[sizeof s->v->by_id], tty[PATH_MAX];
    if (e->d_name[0] == '.')
      continue;
    snprintf(link, sizeof link, "/dev/serial/by-id/%.255s", e->d_name);
    if (realpath(link, tty) == NULL || strlen(tty) >= sizeof s->v->tty)
      continue;
    serial_port *p = serial_find(s, tty);
    if (p == NULL && (p = serial_add(s, tty)) != NULL) {
      char sys[PATH_MAX];
      snprintf(sys, sizeof sys, "/sys/class/tty/%s/device",
               strrchr(tty, '/') + 1);
      usb_ancestor(sys, p);
    }
    if (p != NULL)
      snprintf(p->by_id, sizeof p->by_id, "%s", link);
  }
  if (d != NULL)
    closedir(d);
}

/* Whether a USB device with this vendor, product (and serial, when given)
 * is on the bus: a USBTMC instrument listed, or any device in sysfs. */
static bool usb_present(const shp_connection *c,
                        const shp_usbtmc_device_info *tmc, size_t ntmc) {
  const char *want = c->serial && c->serial[0] ? c->serial : NULL;
  for (size_t i = 0; i < ntmc; i++)
    if (tmc[i].vendor == c->vendor && tmc[i].product == c->product &&
        (want == NULL || strcmp(want, tmc[i].serial) == 0))
      return true;
  const char *bus = "/sys/bus/usb/devices";
  DIR *d = opendir(bus);
  bool found = false;
  for (struct dirent *e; !found && d != NULL && (e = readdir(d)) != NULL;) {
    char dir[PATH_MAX], hex[16], sn[128] = "";
    snprintf(dir, sizeof dir, "%s/%s", bus, e->d_name);
    if (e->d_name[0] == '.' || !read_attr(dir, "idVendor", hex, sizeof hex) ||
        strtoul(hex, NULL, 16) != c->vendor ||
        !read_attr(dir, "idProduct", hex, sizeof hex) ||
        strtoul(hex, NULL, 16) != c->product)
      continue;
    read_attr(dir, "serial", sn, sizeof sn);
    found = want == NULL || strcmp(want, sn) == 0;
  }
  if (d != NULL)
    closedir(d);
  return found;
}

/* What a lab file's connection names, in one line, and whether it is
 * present: 1 yes, 0 no, -1 not checked (tcp). */
static int connection_present(const shp_connection *c, char *where, size_t size,
                              const shp_usbtmc_device_info *tmc, size_t ntmc) {
  if (strcmp(c->kind, "sim") == 0) {
    snprintf(where, size, "sim");
    return 1;
  }
  if (strcmp(c->kind, "tty") == 0) {
    snprintf(where, size, "tty %s", c->port ? c->port : "(no port)");
    struct stat st;
    return c->port != NULL && stat(c->port, &st) == 0;
  }
  if (strcmp(c->kind, "usb") == 0) {
    snprintf(where, size, "usb %04x:%04x%s%s", c->vendor, c->product,
             c->serial && c->serial[0] ? ":" : "", c->serial ? c->serial : "");
    return usb_present(c, tmc, ntmc);
  }
  snprintf(where, size, "tcp %s:%d", c->host ? c->host : "?", c->tcp_port);
  return -1;
}

static json_t *connection_json(const shp_connection *c) {
  json_t *o = json_pack("{s:s}", "kind", c->kind);
  if (strcmp(c->kind, "tty") == 0) {
    json_object_set_new(o, "port",
                        c->port ? json_string(c->port) : json_null());
    if (c->baud > 0)
      json_object_set_new(o, "baud", json_integer(c->baud));
  } else if (strcmp(c->kind, "usb") == 0) {
    char id[8];
    snprintf(id, sizeof id, "%04x", c->vendor);
    json_object_set_new(o, "vendor", json_string(id));
    snprintf(id, sizeof id, "%04x", c->product);
    json_object_set_new(o, "product", json_string(id));
    if (c->serial)
      json_object_set_new(o, "serial", json_string(c->serial));
  } else if (strcmp(c->kind, "tcp") == 0) {
    json_object_set_new(o, "host",
                        c->host ? json_string(c->host) : json_null());
    json_object_set_new(o, "tcp_port", json_integer(c->tcp_port));
  }
  return o;
}

static json_t *present_json(int present) {
  return present < 0 ? json_null() : json_boolean(present);
}

static const char *present_text(int present) {
  return present < 0 ? "not checked" : present ? "present" : "ABSENT";
}

static void roles_text(unsigned roles, char *buf, size_t size) {
  snprintf(buf, size, "%s%s%s", roles & SHP_ROLE_OVEN ? "oven" : "",
           (roles & SHP_ROLE_OVEN) && (roles & SHP_ROLE_AUTOCORRELATOR) ? ", "
                                                                        : "",
           roles & SHP_ROLE_AUTOCORRELATOR ? "autocorrelator" : "");
}

static json_t *list_usb_json(const shp_usbtmc_device_info *tmc, size_t ntmc,
                             const serial_ports *sp, const char *usb_error) {
  json_t *t = json_array(), *s = json_array();
  char vid[8], pid[8];
  for (size_t i = 0; i < ntmc; i++) {
    snprintf(vid, sizeof vid, "%04x", tmc[i].vendor);
    snprintf(pid, sizeof pid, "%04x", tmc[i].product);
    json_array_append_new(t, json_pack("{s:s, s:s, s:s, s:i, s:i}", "vendor",
                                       vid, "product", pid, "serial",
                                       tmc[i].serial, "bus", (int)tmc[i].bus,
                                       "address", (int)tmc[i].address));
  }
  for (size_t i = 0; i < sp->n; i++) {
    const serial_port *p = &sp->v[i];
    snprintf(vid, sizeof vid, "%04x", p->vendor);
    snprintf(pid, sizeof pid, "%04x", p->product);
    json_array_append_new(
        s, json_pack("{s:s, s:o, s:o, s:o, s:o}", "tty", p->tty, "by_id",
                     p->by_id[0] ? json_string(p->by_id) : json_null(),
                     "vendor", p->vendor ? json_string(vid) : json_null(),
                     "product", p->vendor ? json_string(pid) : json_null(),
                     "serial", json_string(p->serial)));
  }
  return json_pack("{s:o, s:o, s:o}", "usbtmc", t, "serial", s, "error",
                   usb_error ? json_string(usb_error) : json_null());
}

static void list_usb_text(const shp_usbtmc_device_info *tmc, size_t ntmc,
                          const serial_ports *sp, const char *usb_error) {
  printf("USB devices:\n");
  for (size_t i = 0; i < ntmc; i++)
    printf("  usbtmc  %04x:%04x  serial %s  bus %d address %d\n", tmc[i].vendor,
           tmc[i].product, tmc[i].serial[0] ? tmc[i].serial : "(unknown)",
           (int)tmc[i].bus, (int)tmc[i].address);
  for (size_t i = 0; i < sp->n; i++) {
    const serial_port *p = &sp->v[i];
    printf("  serial  %s", p->tty);
    if (p->vendor)
      printf("  %04x:%04x", p->vendor, p->product);
    if (p->serial[0])
      printf("  serial %s", p->serial);
    if (p->by_id[0])
      printf("  (%s)", p->by_id);
    printf("\n");
  }
  if (ntmc == 0 && sp->n == 0)
    printf("  none present\n");
  if (usb_error != NULL)
    printf("  (USBTMC devices not listed: %s)\n", usb_error);
}

static json_t *list_drivers(bool json) {
  json_t *a = json ? json_array() : NULL;
  if (!json)
    printf("drivers:\n");
  for (const shp_driver *const *d = shp_hw_drivers; *d != NULL; d++) {
    char roles[40];
    roles_text((*d)->roles, roles, sizeof roles);
    if (!json) {
      printf("  %-10s %-22s %s\n", (*d)->name, roles, (*d)->description);
      continue;
    }
    json_t *r = json_array();
    if ((*d)->roles & SHP_ROLE_OVEN)
      json_array_append_new(r, json_string("oven"));
    if ((*d)->roles & SHP_ROLE_AUTOCORRELATOR)
      json_array_append_new(r, json_string("autocorrelator"));
    json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", (*d)->name,
                                       "description", (*d)->description,
                                       "roles", r));
  }
  return a;
}

/* One device a lab file names: oven of crystal i, or the autocorrelator
 * (i == SIZE_MAX). Returns whether it counts as missing. */
static bool lab_device(json_t *a, size_t i, const shp_driver *drv,
                       const shp_connection *c, int channel,
                       const shp_usbtmc_device_info *tmc, size_t ntmc) {
  char where[256];
  int present = connection_present(c, where, sizeof where, tmc, ntmc);
  bool oven = i != SIZE_MAX;
  if (a != NULL) {
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "role",
                          oven ? "oven" : "autocorrelator", "driver", drv->name,
                          "connection", connection_json(c), "present",
                          present_json(present));
    if (oven) {
      json_object_set_new(o, "crystal", json_integer((json_int_t)i));
      json_object_set_new(o, "channel", json_integer(channel));
    }
    json_array_append_new(a, o);
  } else if (oven) {
    printf("  crystal %zu  oven  %s:%d  %s  %s\n", i, drv->name, channel, where,
           present_text(present));
  } else {
    printf("  autocorrelator  %s  %s  %s\n", drv->name, where,
           present_text(present));
  }
  return present == 0;
}

int cli_hw_list(const char *path, bool json) {
  shp_lab *lab = NULL;
  if (path != NULL && (lab = shp_lab_load(path)) == NULL)
    return cli_fail_lib(shp_error_last());
  shp_usbtmc_device_info *tmc = NULL;
  size_t ntmc = 0;
  char usb_error[256] = "";
  /* No USB bus to look at (a container, no usbfs) is nothing present. */
  if (shp_usbtmc_list(&tmc, &ntmc) != SHP_OK) {
    snprintf(usb_error, sizeof usb_error, "%s", shp_error_detail());
    ntmc = 0;
  }
  serial_ports sp = {0};
  serial_scan(&sp);
  const char *uerr = usb_error[0] ? usb_error : NULL;
  json_t *labj = NULL, *devs = json ? json_array() : NULL;
  size_t missing = 0;
  if (json) {
    json_t *usb = list_usb_json(tmc, ntmc, &sp, uerr);
    json_t *drivers = list_drivers(true);
    if (lab != NULL) {
      for (size_t i = 0; i < lab->oven_count; i++)
        missing +=
            lab_device(devs, i, lab->ovens[i].driver, &lab->ovens[i].connection,
                       lab->ovens[i].channel, tmc, ntmc);
      missing += lab_device(devs, SIZE_MAX, lab->autocorrelator.driver,
                            &lab->autocorrelator.connection, 0, tmc, ntmc);
      labj = json_pack("{s:s, s:o, s:I}", "path", path, "devices", devs,
                       "missing", (json_int_t)missing);
      devs = NULL;
    }
    json_decref(devs);
    int rc =
        cli_print_json(json_pack("{s:o, s:o, s:o}", "usb", usb, "drivers",
                                 drivers, "lab", labj ? labj : json_null()));
    shp_usbtmc_list_free(tmc);
    free(sp.v);
    shp_lab_free(lab);
    return rc;
  }
  list_usb_text(tmc, ntmc, &sp, uerr);
  list_drivers(false);
  if (lab != NULL) {
    printf("lab %s:\n", path);
    for (size_t i = 0; i < lab->oven_count; i++)
      missing +=
          lab_device(NULL, i, lab->ovens[i].driver, &lab->ovens[i].connection,
                     lab->ovens[i].channel, tmc, ntmc);
    missing += lab_device(NULL, SIZE_MAX, lab->autocorrelator.driver,
                          &lab->autocorrelator.connection, 0, tmc, ntmc);
    if (missing)
      printf("  %zu device%s not present\n", missing, missing == 1 ? "" : "s");
  }
  shp_usbtmc_list_free(tmc);
  free(sp.v);
  shp_lab_free(lab);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAILURE;
}
