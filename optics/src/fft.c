#include "fft.h"

#include "shp/planning.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static pthread_mutex_t planner = PTHREAD_MUTEX_INITIALIZER;

void shp_fft_plan_lock(void) { pthread_mutex_lock(&planner); }
void shp_fft_plan_unlock(void) { pthread_mutex_unlock(&planner); }

static atomic_int effort = SHP_PLAN_MEASURE;

void shp_set_plan_effort(shp_plan_effort e) { atomic_store(&effort, (int)e); }

shp_plan_effort shp_plan_effort_now(void) {
  const char *e = getenv("SHP_FFTW_ESTIMATE");
  if (e != NULL && e[0] != '\0' && e[0] != '0')
    return SHP_PLAN_ESTIMATE;
  return (shp_plan_effort)atomic_load(&effort);
}

unsigned shp_fft_flags(void) {
  return shp_plan_effort_now() == SHP_PLAN_ESTIMATE ? FFTW_ESTIMATE
                                                    : FFTW_MEASURE;
}
