/* Internal: shared rules for making FFTW plans.
 *
 * The FFTW planner is not thread-safe; every plan in the toolkit is made
 * between shp_fft_plan_lock() and shp_fft_plan_unlock(). Executing a plan on
 * new arrays (fftw_execute_dft and friends) needs no lock. */
#ifndef SHP_FFT_H
#define SHP_FFT_H

void shp_fft_plan_lock(void);
void shp_fft_plan_unlock(void);

/* Planner flags: FFTW_MEASURE by default, since a plan is made once per
 * grid and then executed many times (FFTW keeps the wisdom in the process,
 * so a second plan of the same size is immediate); FFTW_ESTIMATE after
 * shp_set_plan_effort(SHP_PLAN_ESTIMATE) or with SHP_FFTW_ESTIMATE=1 in the
 * environment. */
unsigned shp_fft_flags(void);

#endif
