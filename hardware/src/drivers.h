/* The driver tables the registry lists, one per hardware/drivers folder.
 * Private to the hardware library. */
#ifndef SHP_HW_DRIVERS_H
#define SHP_HW_DRIVERS_H

#include "shp/hw.h"

/* The largest trace a driver returns; callers size their buffers by it. */
#define SHP_TRACE_MAX 65536

extern const shp_driver shp_driver_sim;
extern const shp_driver shp_driver_tc200;
extern const shp_driver shp_driver_covesion;
extern const shp_driver shp_driver_mecom;

#endif
