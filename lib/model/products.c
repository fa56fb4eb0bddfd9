/* The parallel-product engine of the forward pass: element-wise work over
 * token rows, and matrix products split by output rows, on the session's
 * thread pool.  Products of the same input (q|k|v, gate|up) run as one pool
 * step with one encoding of the input; expert products run over the slots
 * grouped by expert, so each expert's weights are streamed once. */
#include "model/products.h"

#include "elementwise.h"
#include "matmul.h"
#include "quant.h"

typedef struct lfm2moe_session session;

/* ---- row-parallel steps ---------------------------------------------- */

typedef struct rows_task {
    session *s;
    lfm_rows_fn fn;
    const void *arg;
    int64_t n;
} rows_task;

static void rows_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const rows_task *r = ctx;
    (void)thread;
    long t0, t1;
    lfm_split((long)r->n, chunk, n_chunks, &t0, &t1);
    if (t1 > t0) r->fn(r->s, r->arg, t0, t1);
}

/* A row costs a few thousand element operations: a handful of rows
 * (decode) is cheaper on the calling thread than a wake-up; a prefill
 * batch would leave the other threads idle while one works through it. */
#define MIN_PARALLEL_ROWS 8

void lfm_for_rows(session *s, int64_t n, lfm_rows_fn fn, const void *arg) {
    if (n < MIN_PARALLEL_ROWS) {
        fn(s, arg, 0, n);
        return;
    }
    rows_task r = {s, fn, arg, n};
    lfm_pool_run(s->pool, rows_worker, &r, 0);
}

/* ---- matrix products on the pool ------------------------------------- */

/* Rows [r0, r1) of part p: of its matrix, or of the matrices of experts
 * [e0, e1) for their slots. */
static void mm_part_rows(const lfm_mm_task *t, const lfm_mm_part *p, int32_t e0, int32_t e1,
                         int64_t r0, int64_t r1) {
    if (!t->exp_first) {
        lfm_matmul_rows(p->w, 0, t->xq, t->n, p->y, p->y_stride, r0, r1);
        return;
    }
    size_t rb = lfm_act_row_bytes(p->w->type, p->w->n_cols);
    for (int32_t e = e0; e < e1; e++) {
        int32_t first = t->exp_first[e], cnt = t->exp_first[e + 1] - first;
        if (cnt > 0)
            lfm_matmul_rows(p->w, e, (const uint8_t *)t->xq + (size_t)first * rb, cnt,
                            p->y + (int64_t)first * p->y_stride, p->y_stride, r0, r1);
    }
}

/* gate <- silu(gate) * up in rows [i0, i1), columns [r0, r1) of parts 0, 1. */
static void swiglu_rows(const lfm_mm_task *t, int64_t i0, int64_t i1, int64_t r0, int64_t r1) {
    const lfm_mm_part *g = &t->part[0], *u = &t->part[1];
    for (int64_t i = i0; i < i1; i++)
        lfm_silu_mul(g->y + i * g->y_stride + r0, g->y + i * g->y_stride + r0,
                     u->y + i * u->y_stride + r0, r1 - r0);
}

/* Rows [r0, r1) of the concatenated parts (of gate and up, then their
 * SwiGLU, for a swiglu task), for experts [e0, e1) of an expert task. */
static void mm_rows(const lfm_mm_task *t, int32_t e0, int32_t e1, int64_t r0, int64_t r1) {
    if (t->swiglu) {
        mm_part_rows(t, &t->part[0], e0, e1, r0, r1);
        mm_part_rows(t, &t->part[1], e0, e1, r0, r1);
        swiglu_rows(t, t->exp_first ? t->exp_first[e0] : 0, t->exp_first ? t->exp_first[e1] : t->n,
                    r0, r1);
        return;
    }
    int64_t base = 0; /* first row of part p in the concatenation */
    for (int p = 0; p < t->n_part; p++) {
        const int64_t rows = t->part[p].w->n_rows;
        const int64_t lo = r0 > base ? r0 : base, hi = r1 < base + rows ? r1 : base + rows;
        if (hi > lo) mm_part_rows(t, &t->part[p], e0, e1, lo - base, hi - base);
        base += rows;
    }
}

/* Chunk boundaries fall on multiples of 32 rows, pairs of the groups of
 * weights rewritten at load (r16.h: a range cut inside a group or starting
 * at an odd one costs a pair of groups more); the last chunk takes the
 * rest. */
#define ROW_ALIGN 32

static void mm_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const lfm_mm_task *t = ctx;
    (void)thread;
    long r0, r1;
    lfm_split_shrinking((long)t->rows, chunk, n_chunks, t->threads, &r0, &r1);
    r0 -= r0 % ROW_ALIGN;
    if (chunk != n_chunks - 1) r1 -= r1 % ROW_ALIGN;
    if (!t->flat) {
        mm_rows(t, 0, t->n_expert, r0, r1);
        return;
    }
    /* rows of the used experts one after the other, R each */
    const int64_t R = t->rows / t->flat;
    int64_t k = 0;
    for (int32_t e = 0; e < t->n_expert && k * R < r1; e++) {
        if (t->exp_first[e + 1] == t->exp_first[e]) continue;
        const int64_t lo = r0 > k * R ? r0 : k * R, hi = r1 < (k + 1) * R ? r1 : (k + 1) * R;
        if (hi > lo) mm_rows(t, e, e + 1, lo - k * R, hi - k * R);
        k++;
    }
}

typedef struct encode_arg {
    uint32_t act_type;
    const float *x;
    int64_t x_stride;
    const int32_t *gather; /* row i encodes x row gather[i] (NULL: row i) */
    int64_t n_cols;
    void *xq;
    size_t row_bytes;
} encode_arg;

static void encode_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const encode_arg *a = arg;
    (void)s;
    for (int64_t i = t0; i < t1; i++)
        lfm_quantize_act_row(a->act_type, a->x + (a->gather ? a->gather[i] : i) * a->x_stride,
                             (uint8_t *)a->xq + (size_t)i * a->row_bytes, a->n_cols);
}

/* Run t (parts, swiglu, experts set; n rows of input) on x: rows
 * x[gather ? gather[i] : i], stride x_stride.  Parts whose weights want
 * different activation encodings run one after the other. */
void lfm_run_products(session *s, lfm_mm_task *t, const float *x, int64_t x_stride,
                      const int32_t *gather) {
    const uint32_t at = lfm_quant_act_type(t->part[0].w->type);
    for (int p = 1; p < t->n_part; p++)
        if (lfm_quant_act_type(t->part[p].w->type) != at) {
            lfm_mm_task one = *t;
            one.swiglu = 0;
            for (int q = 0; q < t->n_part; q++) {
                one.part[0] = t->part[q];
                one.n_part = 1;
                lfm_run_products(s, &one, x, x_stride, gather);
            }
            if (t->swiglu) swiglu_rows(t, 0, t->n, 0, t->part[0].w->n_rows);
            return;
        }
    const int64_t n_cols = t->part[0].w->n_cols;
    encode_arg e = {at,
                    x,
                    x_stride,
                    gather,
                    n_cols,
                    t->exp_first ? s->s.actq2 : s->s.actq,
                    lfm_row_bytes(at, n_cols)};
    lfm_for_rows(s, t->n, encode_rows, &e);
    t->xq = e.xq;
    int64_t rows = 0;
    for (int p = 0; p < t->n_part; p++)
        rows += t->part[p].w->n_rows;
    t->rows = t->swiglu ? t->part[0].w->n_rows : rows;
    /* experts that all have the same number of slots (decode: one each)
     * cost the same per row: their rows are split as one run, so a chunk
     * streams whole matrices rather than a slice of each (Q4_0 tg128 on 2
     * threads +2-3% in paired runs) */
    t->flat = 0;
    if (t->exp_first && (t->swiglu || t->n_part == 1)) {
        int32_t used = 0, cnt = 0, equal = 1;
        for (int32_t e = 0; e < t->n_expert; e++) {
            const int32_t c = t->exp_first[e + 1] - t->exp_first[e];
            if (c == 0) continue;
            equal &= cnt == 0 || c == cnt;
            cnt = c;
            used++;
        }
        if (equal && used > 1) {
            t->flat = used;
            t->rows *= used;
        }
    }
    /* three chunks per thread, shrinking (lfm_split_shrinking): the first
     * ones long for the weight streams, the last ones short to even out a
     * late start or a slow vCPU.  Against two equal chunks per thread
     * (which had beaten four equal ones: Q4_0 tg128 +5-8%), Q4_K_M R16
     * decode on 2 threads, 23 paired runs (2026-12-03, AMD host): faster in
     * 15, median tg128 26.5 against 25.1 tok/s; then 6 paired tg64 runs of this
     * code: faster in 5, median 26.3 against 23.7; four shrinking chunks per
     * thread were no better than two equal ones (9 runs) */
    t->threads = lfm_pool_size(s->pool);
    const int chunks = rows * n_cols * t->n < LFM_MIN_PARALLEL_MACS ? 1 : 3 * t->threads;
    lfm_pool_run(s->pool, mm_worker, t, chunks);
}

/* y[t][r] = sum_c W[r][c] x[t][c]; x: n rows of stride x_stride. */
void lfm_matmul(session *s, const lfm_weight *w, const float *x, int64_t x_stride, int64_t n,
                float *y, int64_t y_stride) {
    lfm_mm_task t = {.part = {{w, y, y_stride}}, .n_part = 1, .n = n};
    lfm_run_products(s, &t, x, x_stride, NULL);
}
