/* One generation request in flight, shared by the HTTP connection thread
 * that submitted it and the scheduler thread that runs it.
 *
 * The scheduler appends the generated text (content, and reasoning: the
 * text of <think> blocks of models that have those tokens) and sets the
 * counters and the finish reason; the connection thread reads them under
 * `mu` and waits on `cv` for more.  Reference-counted: each side drops its
 * reference when done with it (job_release). */
#ifndef LFM_SERVER_JOB_H
#define LFM_SERVER_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/json.h"
#include "request.h"

typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;
typedef enum job_finish {
    FINISH_NONE,
    FINISH_STOP,
    FINISH_LENGTH,
    FINISH_TOOL_CALLS,
    FINISH_CANCELLED,
    FINISH_ERROR
} job_finish;

typedef struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    uint64_t id;
    request req;
    int32_t *prompt; /* tokens, owned */
    int32_t n_prompt;
    atomic_int cancel; /* set by the connection side: stop and free the slot */

    /* written by the scheduler under mu */
    job_state state;
    json_buf text;      /* generated content that may be shown (tool-call text held back) */
    json_buf reasoning; /* generated text inside <think> ... </think> */
    json_buf raw;       /* all generated content, for the tool-call parser */
    size_t tool_off;    /* FINISH_TOOL_CALLS: where the calls start in raw */
    job_finish finish;
    char error[200];
    int32_t n_cached, n_generated;
    double t_submit, t_start, t_first, t_end; /* monotonic seconds */
} job;

job *job_create(uint64_t id);
void job_retain(job *j);
void job_release(job *j); /* frees it at the last reference */

/* Scheduler side: append text to the content (or, `reasoning`, to the
 * reasoning) and to raw (under mu, waking the reader). */
void job_append(job *j, int reasoning, const char *s, size_t n, const char *raw, size_t n_raw);
/* Text produced so far (content and reasoning, bytes; j->mu held). */
size_t job_progress(const job *j);
/* Scheduler side: the end (finish reason, optional error message). */
void job_finish_with(job *j, job_finish f, const char *error);

/* Append s[0..n) to b with every byte that does not start a valid UTF-8
 * character replaced by U+FFFD (a model can sample byte tokens that form no
 * character; answers must be valid JSON text). */
void append_valid_utf8(json_buf *b, const char *s, size_t n);

double now_seconds(void);

#endif
