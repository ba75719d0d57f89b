/* The driver registry: one entry per driver folder under hardware/drivers.
 * A new instrument driver adds its table here and nothing else. */
#include "drivers.h"

#include <string.h>

const shp_driver *const shp_hw_drivers[] = {
    &shp_driver_sim,        &shp_driver_tc200,
    &shp_driver_covesion,   &shp_driver_mecom,
    &shp_driver_ted4000,    &shp_driver_scope_ac,
    &shp_driver_pulsecheck, NULL,
};

const shp_driver *shp_hw_driver_find(const char *name) {
  for (const shp_driver *const *d = shp_hw_drivers; *d != NULL; d++)
    if (strcmp((*d)->name, name) == 0)
      return *d;
  return NULL;
}
