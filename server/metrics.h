/* Server counters, exported by GET /metrics in the Prometheus text format. */
#ifndef LFM_SERVER_METRICS_H
#define LFM_SERVER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/json.h"

typedef struct metrics {
    atomic_ullong requests[6];   /* by status class: [1] 1xx ... [5] 5xx */
    atomic_ullong rejected_busy; /* 503: the queue was full */
    atomic_ullong prompt_tokens; /* evaluated prompt tokens */
    atomic_ullong cached_tokens; /* prompt tokens reused from a slot's cache */
    atomic_ullong generated_tokens;
    atomic_ullong generations;     /* finished generations */
    atomic_ullong ttft_us_sum;     /* time to first token, summed */
    atomic_ullong duration_us_sum; /* generation request durations, summed */
    atomic_int queued, busy_slots, n_slots;
} metrics;

/* The text of /metrics (appended to b). */
void metrics_write(metrics *m, json_buf *b);

#endif
