/* GSL never aborts a process that uses the toolkit.
 *
 * GSL's default error handler prints and calls abort() on any failure (a
 * simplex that cannot contract, a non-finite function value, a generator
 * of a dimension it does not support), so a library that leaves it in
 * place lets one bad number kill a GUI mid-run. Every entry point of the
 * toolkit that calls GSL calls shp_gsl_guard() first; it turns the handler
 * off once per process, and the code after it checks every GSL status
 * itself and reports a failure as an error code and a sentence. */
#ifndef SHP_GSL_GUARD_H
#define SHP_GSL_GUARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Replace GSL's aborting default handler by none, once per process (safe
 * from any thread). A handler the program installed itself before (one that
 * logs, say) is kept: only the default, which aborts, is replaced. Cheap
 * after the first call. */
void shp_gsl_guard(void);

#ifdef __cplusplus
}
#endif
#endif
