/* Inside the closed loop: the state run.c (the controller) and
 * run-journal.c (records, replay) share. */
#ifndef SHP_RUN_PRIVATE_H
#define SHP_RUN_PRIVATE_H

#include "shp/decide.h"
#include "shp/fit.h"
#include "shp/journal.h"
#include "shp/run.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  shp_supervisor *sup;
  const shp_run_spec *spec;
  const shp_lab *lab;
  shp_run_progress_fn progress;
  void *user;
  size_t nc;
  shp_stack *model; /* the lab's stack, loaded afresh: the model's values */
  bool have_fit;
  shp_journal *journal;
  json_t *replay; /* records of a resumed journal, or NULL */
  size_t cursor;
  bool restore;      /* replayed moves: re-send setpoints before acting */
  double *setpoints; /* nc: the last accepted */
  double *actual;    /* nc: readbacks of the last trace */
  double *lo, *hi;   /* nc: the crystals' limits */
  double *delay, *signal, *target_ac, *scratch; /* the last trace */
  size_t trace_count, trace_cap;
  size_t iteration; /* oven moves */
  double error;     /* the last measured */
  double predicted; /* the model's error at the last plan (NAN: none) */
  bool measured;
  size_t measurements; /* traces taken (or replayed) */
  int code;            /* a failure inside a GSL callback */
  bool acted;          /* a device was touched: a failure must hold */
  const char *stop;    /* why an unconverged run stopped, or NULL */
  shp_run_result *result;
  /* The measurement-model fit (shp/fit.h) and the decisions on it. */
  shp_fit *mfit;
  shp_fit_set set; /* the last solve's consistent solutions */
  bool have_set;
  double noise;          /* the last trace's noise sigma (its units) */
  double noise_level;    /* relative to the trace's amplitude */
  double trace_residual; /* measured vs the best solution's, relative */
  double chi2_dof;       /* the best solution's over every trace */
  shp_verdict verdict;   /* the last */
  bool have_verdict;
  shp_run_status status; /* how a clean end ended */
  bool at_best;          /* ended at the stack's best (decide.h AT_BEST) */
  size_t still;          /* decisions in a row that moved nothing */
} run_ctx;

/* run-journal.c */
int run_journal_begin(run_ctx *c);
/* Whether records remain to be replayed (notes aside): while they do, the
 * run recomputes what they record and writes nothing. */
bool run_replaying(run_ctx *c);
int run_journal_record(run_ctx *c, json_t *record); /* steals record */
json_t *run_replay_next(run_ctx *c, const char *type);
/* Non-finite values become null, and null reads back as NAN. */
json_t *run_json_array(const double *v, size_t n);
int run_json_doubles(json_t *a, double *v, size_t n);
int run_journal_end(run_ctx *c);

/* The supervisor's command observer for a journal (user: shp_journal *):
 * one "oven_command" record per setpoint sent, written before it is. */
int run_journal_oven_command(const shp_sup_command *cmd, void *journal);
/* Add what every oven holds now to an end record: "holding_c" (null where
 * unknown) and "holding_known". */
void run_json_add_holding(json_t *rec, const shp_supervisor *sup, size_t nc);

/* run.c: send setpoints and wait until every oven has settled, reporting
 * each poll as a MOVING event to progress (may be NULL) */
int run_move_ovens(shp_supervisor *sup, size_t nc, const double *x,
                   shp_run_progress_fn progress, void *user, size_t iteration);

/* run.c, for the journal's replay */
void run_emit(run_ctx *c, shp_run_event_kind kind, const char *fmt, ...);

/* run.c, for the model mode: acquire a trace (or replay the journal's),
 * journal and score it; move to x (or replay the journal's plan), the
 * plan journalled first, and wait until the ovens settle. */
int run_measure(run_ctx *c);
int run_move(run_ctx *c, const double *x, double predicted, const char *reason);

/* run-model.c: the model mode's loop, to a clean end (c->status) or an
 * error. */
int run_model_loop(run_ctx *c);

#endif
