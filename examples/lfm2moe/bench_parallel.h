/* lfm2moe bench --parallel (bench_parallel.c). */
#ifndef LFM2MOE_BENCH_PARALLEL_H
#define LFM2MOE_BENCH_PARALLEL_H

#include "lfm2moe.h"

#define BENCH_PAR_MAX 64 /* most sequences per batch */

/* Aggregate decode tokens/s of counts[c] sequences (1 <= counts[c] <=
 * BENCH_PAR_MAX), n steps each, into tps[c * reps + r] for repetition r,
 * and the process's CPU milliseconds per step (all threads) into cpu_ms
 * alike (one warm-up run first; repetitions interleave the counts).
 * Returns a status. */
int bench_parallel(lfm2moe_model *model, int32_t n_vocab, const int *counts, int n_counts, int n,
                   int threads, int reps, double *tps, double *cpu_ms);

#endif
