/* The parallel-product engine of the forward pass (products.c): row-parallel
 * element-wise steps and fused matrix products on the session's pool. */
#ifndef LFM_PRODUCTS_H
#define LFM_PRODUCTS_H

#include <stdint.h>

#include "model/session.h"
#include "weight.h"

/* Element-wise work on whole token rows [t0, t1). */
typedef void (*lfm_rows_fn)(struct lfm2moe_session *s, const void *arg, int64_t t0, int64_t t1);

/* fn over rows [0, n): on the pool for a batch, on the calling thread for a
 * handful of rows (decode), where a wake-up costs more than the work. */
void lfm_for_rows(struct lfm2moe_session *s, int64_t n, lfm_rows_fn fn, const void *arg);

/* One product of a fused step: y[i][r] = sum_c W[r][c] x[i][c]. */
typedef struct lfm_mm_part {
    const lfm_weight *w;
    float *y;
    int64_t y_stride;
} lfm_mm_part;

/* Up to three products of the same input rows, run as one pool step over
 * their concatenated output rows (q|k|v, gate|up): the input is encoded
 * once and the threads meet once instead of three times.  The caller sets
 * part, n_part, swiglu, n and, for experts, exp_first and n_expert; the
 * engine fills the rest. */
typedef struct lfm_mm_task {
    lfm_mm_part part[3];
    int n_part;
    /* parts 0 and 1 are gate and up of one width: each chunk takes the same
     * rows of both and leaves silu(gate) * up in part 0's rows */
    int swiglu;
    const void *xq; /* encoded rows */
    int64_t n;      /* rows of xq */
    /* expert products: rows of xq grouped by expert (NULL: dense) */
    const int32_t *exp_first;
    int32_t n_expert;
    int64_t rows; /* rows split into chunks */
    int32_t flat; /* experts in use, if their rows are split as one run (else 0) */
    int threads;  /* of the pool running it (chunk sizes: lfm_split_shrinking) */
} lfm_mm_task;

/* Run t on x: input row i is x[gather ? gather[i] : i], stride x_stride.
 * Parts whose weights want different activation encodings run one after
 * the other. */
void lfm_run_products(struct lfm2moe_session *s, lfm_mm_task *t, const float *x, int64_t x_stride,
                      const int32_t *gather);

/* y[t][r] = sum_c W[r][c] x[t][c]; x: n rows of stride x_stride. */
void lfm_matmul(struct lfm2moe_session *s, const lfm_weight *w, const float *x, int64_t x_stride,
                int64_t n, float *y, int64_t y_stride);

/* Below this many multiply-adds a step runs on the calling thread: waking
 * workers costs microseconds, more than the work (routers, small models). */
#define LFM_MIN_PARALLEL_MACS (1 << 16)

#endif
