/* A session: what a lab run needs, held in one object a front end keeps
 * (the CLI for one command, the GUI for its window): the lab (a lab file,
 * or the built-in simulated lab on a stack), its clock, the safety
 * supervisor, where results go, and the FFT planning effort, pinned for
 * the session and journalled by every run so that a resume plans alike.
 * Runs and calibrations are started on it (shp_run_new in shp/run.h,
 * shp_calibration_run_new in shp/calibrate.h) and stepped by the front
 * end. */
#ifndef SHP_SESSION_H
#define SHP_SESSION_H

#include "shp/calibrate.h"
#include "shp/planning.h"
#include "shp/run.h"
#include "shp/supervisor.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_session shp_session;

typedef struct {
  const char *lab_path;  /* a lab file, or NULL: the simulated lab */
  const char *sim_stack; /* without a lab file: its stack (NULL: the data's
                            examples/stacks/fan4.yml) */
  bool persist_sim;      /* simulated ovens continue where the last session
                            left them (shp_lab_sim_persist) */
  /* Where results go: calibrations in DATA_FOLDER/calibrations/ (NULL:
   * the working directory's calibrations/). The front end chooses only
   * this base; the names under it are the library's. */
  const char *data_folder;
  shp_plan_effort plan_effort; /* set for the process when opened */
  shp_sup_log_fn log;          /* the supervisor's log, or NULL */
  void *log_user;
} shp_session_spec;

/* Open the lab and its supervisor. NULL with the error set: the lab file
 * cannot be read (SHP_ERR_FILE, SHP_ERR_PARSE...), a device cannot be
 * opened, out of memory. */
shp_session *shp_session_open(const shp_session_spec *spec);
void shp_session_close(shp_session *s);

const shp_lab *shp_session_lab(const shp_session *s);
shp_clock *shp_session_clock(shp_session *s);
shp_supervisor *shp_session_supervisor(shp_session *s);
/* The simulated lab's stack when no lab file was given, else NULL. */
const char *shp_session_sim_stack(const shp_session *s);
shp_plan_effort shp_session_plan_effort(const shp_session *s);

/* A new calibration's path, DATA_FOLDER/calibrations/STACK-TIME.yml (the
 * folders made when missing): SHP_OK, or SHP_ERR_WRITE when a folder
 * cannot be made, SHP_ERR_INVALID when the path does not fit size. */
int shp_session_calibration_path(shp_session *s, char *buf, size_t size);
/* The same policy for a front end that holds its lab without a session
 * (data_folder NULL: the working directory): a name no file has yet,
 * STACK-TIME-2.yml and so on after the first. */
int shp_session_calibration_path_in(const char *data_folder,
                                    const char *stack_path, char *buf,
                                    size_t size);

#ifdef __cplusplus
}
#endif
#endif
