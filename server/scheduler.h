/* Continuous batching: N slots, a bounded queue, one scheduler thread.
 *
 * Each iteration of the scheduler advances every active slot by one step
 * in a single engine_step: a generating slot by one token, a slot still
 * evaluating its prompt by one chunk (at most prefill_chunk prompt tokens
 * per iteration over all slots), so a long new prompt delays the others'
 * next token by one chunk at a time, never by the whole prompt.  A new
 * request takes the free slot that can reuse most of its prompt (prompt
 * cache), else the least recently used one. */
#ifndef LFM_SERVER_SCHEDULER_H
#define LFM_SERVER_SCHEDULER_H

#include "job.h"
#include "lfm2moe.h"
#include "metrics.h"

typedef struct scheduler scheduler;

typedef struct sched_params {
    int n_slots, n_ctx, n_threads;
    int queue_max;     /* requests waiting beyond the slots; more get 503 */
    int prefill_chunk; /* prompt tokens per iteration */
} sched_params;

/* Opens the slots and starts the thread.  Status (lfm2moe_last_error). */
int scheduler_start(const lfm2moe_model *model, const sched_params *p, metrics *m, scheduler **out);
/* Context length of a slot. */
int32_t scheduler_n_ctx(const scheduler *s);
/* Queue a job (its prompt tokens set); the scheduler takes a reference.
 * 0, or -1 when the queue is full, -2 when shutting down. */
int scheduler_submit(scheduler *s, job *j);
/* The client is gone: stop the job now and free its slot. */
void scheduler_cancel(scheduler *s, job *j);
/* Refuse new jobs, end the queued ones, let running ones finish for up to
 * grace_seconds, then cancel them; joins the thread. */
void scheduler_stop(scheduler *s, double grace_seconds);
void scheduler_free(scheduler *s);

#endif
