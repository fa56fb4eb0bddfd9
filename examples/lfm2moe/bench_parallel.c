/* lfm2moe bench --parallel N[,N...]: aggregate decode speed of N sequences
 * decoded together by lfm2moe_decode_batch (one token each per step), so
 * the weights each step reads serve N tokens.  The sequences start at
 * different positions (prompts of 8, 12, 16, ... random tokens, prefilled
 * in one batch, not timed).  Runs of the different N are interleaved
 * (every repetition runs each N once, in turn), so a change of the
 * machine's load or bandwidth during the bench hits them alike. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_parallel.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int32_t next_token(uint32_t *seed, int32_t n_vocab) {
    *seed = *seed * 1664525u + 1013904223u;
    return (int32_t)((*seed >> 8) % (uint32_t)n_vocab);
}

/* CPU seconds of the whole process (all its threads) so far. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

#define PROMPT(i) (8 + 4 * (i)) /* prompt tokens of sequence i */

/* One timed run: reset and prefill the first `count` sessions, then n
 * batched steps of one token each; aggregate tokens/s. */
static int run_once(lfm2moe_session **ss, int count, int n, int32_t n_vocab, int32_t *buf,
                    uint32_t *seed, double *tps, double *cpu_ms) {
    const int32_t *toks[BENCH_PAR_MAX];
    int32_t lens[BENCH_PAR_MAX];
    int st;
    for (int i = 0; i < count; i++) {
        lfm2moe_session_reset(ss[i]);
        int32_t *t = buf + (size_t)i * (PROMPT(BENCH_PAR_MAX) + 1);
        for (int j = 0; j < PROMPT(i); j++)
            t[j] = next_token(seed, n_vocab);
        toks[i] = t;
        lens[i] = PROMPT(i);
    }
    if ((st = lfm2moe_decode_batch(ss, toks, lens, count))) return st;
    for (int i = 0; i < count; i++)
        lens[i] = 1;
    double a = now(), c = cpu_seconds();
    for (int step = 0; step < n; step++) {
        for (int i = 0; i < count; i++) {
            /* greedy-free: random next tokens (speed does not depend on them) */
            int32_t *t = buf + (size_t)i * (PROMPT(BENCH_PAR_MAX) + 1);
            t[0] = next_token(seed, n_vocab);
            toks[i] = t;
        }
        if ((st = lfm2moe_decode_batch(ss, toks, lens, count))) return st;
    }
    *tps = (double)count * n / (now() - a);
    *cpu_ms = 1e3 * (cpu_seconds() - c) / n;
    return LFM2MOE_OK;
}

int bench_parallel(lfm2moe_model *model, int32_t n_vocab, const int *counts, int n_counts, int n,
                   int threads, int reps, double *tps, double *cpu_ms) {
    int max = 0;
    for (int c = 0; c < n_counts; c++)
        max = counts[c] > max ? counts[c] : max;
    lfm2moe_session *ss[BENCH_PAR_MAX] = {0};
    int32_t *buf = malloc((size_t)max * (PROMPT(BENCH_PAR_MAX) + 1) * sizeof *buf);
    int st = buf ? LFM2MOE_OK : LFM2MOE_ERR_OUT_OF_MEMORY;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = threads;
    sp.n_ctx = PROMPT(max) + n + 1;
    sp.n_batch = max * PROMPT(max); /* the driver's chunk takes every prompt */
    for (int i = 0; i < max && !st; i++)
        st = lfm2moe_session_create(model, &sp, &ss[i]);
    uint32_t seed = 7;
    for (int r = -1; r < reps && !st; r++) /* r = -1: warm-up */
        for (int c = 0; c < n_counts && !st; c++) {
            double v = 0, cm = 0;
            st = run_once(ss, counts[c], n, n_vocab, buf, &seed, &v, &cm);
            if (r >= 0) {
                tps[c * reps + r] = v;
                cpu_ms[c * reps + r] = cm;
            }
        }
    for (int i = 0; i < max; i++)
        lfm2moe_session_free(ss[i]);
    free(buf);
    return st;
}
