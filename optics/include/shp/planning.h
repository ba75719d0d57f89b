/* How hard FFTW plans. Measuring (the default) finds the fastest plan for
 * the machine at a cost of up to a second per new size, which repays itself
 * over the thousands of transforms of an optimisation; a one-shot command
 * does better estimating. SHP_FFTW_ESTIMATE=1 in the environment always
 * estimates. Plans already made keep their effort. */
#ifndef SHP_PLANNING_H
#define SHP_PLANNING_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SHP_PLAN_MEASURE = 0, SHP_PLAN_ESTIMATE = 1 } shp_plan_effort;

/* Process-wide; call before making propagators and workspaces. */
void shp_set_plan_effort(shp_plan_effort effort);

/* The effort new plans get now (SHP_FFTW_ESTIMATE=1 counts): what a run
 * journals so that its resume plans alike. */
shp_plan_effort shp_plan_effort_now(void);

#ifdef __cplusplus
}
#endif
#endif
