/* Prometheus text exposition of the server counters (metrics.h). */
#include "metrics.h"

#include <stdio.h>

static void put(json_buf *b, const char *name, const char *type, const char *help,
                const char *labels, double value) {
    char line[512];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s%s %.17g\n", name, help,
                     name, type, name, labels ? labels : "", value);
    json_buf_append(b, line, (size_t)n);
}

void metrics_write(metrics *m, json_buf *b) {
    static const char *const cls[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    static const char head[] =
        "# HELP lfm2moe_requests_total HTTP requests answered, by status class\n"
        "# TYPE lfm2moe_requests_total counter\n";
    json_buf_append(b, head, sizeof head - 1);
    for (int c = 2; c <= 5; c++) {
        char line[128];
        int n = snprintf(line, sizeof line, "lfm2moe_requests_total{status=\"%s\"} %llu\n", cls[c],
                         (unsigned long long)atomic_load(&m->requests[c]));
        json_buf_append(b, line, (size_t)n);
    }
    put(b, "lfm2moe_requests_rejected_total", "counter",
        "requests refused with 503 because the queue was full", NULL,
        (double)atomic_load(&m->rejected_busy));
    put(b, "lfm2moe_prompt_tokens_total", "counter", "prompt tokens evaluated", NULL,
        (double)atomic_load(&m->prompt_tokens));
    put(b, "lfm2moe_prompt_tokens_cached_total", "counter",
        "prompt tokens reused from a slot's prompt cache", NULL,
        (double)atomic_load(&m->cached_tokens));
    put(b, "lfm2moe_generated_tokens_total", "counter", "tokens generated", NULL,
        (double)atomic_load(&m->generated_tokens));
    put(b, "lfm2moe_generations_total", "counter", "generations finished", NULL,
        (double)atomic_load(&m->generations));
    put(b, "lfm2moe_time_to_first_token_seconds_sum", "counter",
        "time from request to first generated token, summed over generations", NULL,
        (double)atomic_load(&m->ttft_us_sum) * 1e-6);
    put(b, "lfm2moe_generation_seconds_sum", "counter",
        "time from request to last token, summed over generations", NULL,
        (double)atomic_load(&m->duration_us_sum) * 1e-6);
    put(b, "lfm2moe_queue_length", "gauge", "requests waiting for a slot", NULL,
        atomic_load(&m->queued));
    put(b, "lfm2moe_slots_busy", "gauge", "slots generating", NULL, atomic_load(&m->busy_slots));
    put(b, "lfm2moe_slots_total", "gauge", "slots (parallel sequences)", NULL,
        atomic_load(&m->n_slots));
}
