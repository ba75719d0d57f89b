/* Why once at first use, from every entry point that calls GSL, and not a
 * library constructor: the libraries are static archives by default, and a
 * linker keeps only the objects a program refers to, so a constructor in an
 * object of its own would silently not run; and a program that sets its own
 * handler before it first uses the toolkit keeps it. The cost is one
 * pthread_once per entry, far below any GSL work behind it. */
#include "shp/gsl-guard.h"

#include <gsl/gsl_errno.h>
#include <pthread.h>

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void guard_init(void) {
  gsl_error_handler_t *previous = gsl_set_error_handler_off();
  if (previous != NULL)
    gsl_set_error_handler(previous); /* the program's own: keep it */
}

void shp_gsl_guard(void) { pthread_once(&guard_once, guard_init); }
