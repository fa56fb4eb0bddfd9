/* The LFM2-MoE forward pass over a chunk of T tokens.
 *
 *   x = token_embd[tokens]                                  [T][E]
 *   for each block:
 *     h   = x + op(rmsnorm(x) * attn_norm)                  op: conv or attention
 *     x   = h + ffn(rmsnorm(h) * ffn_norm)                  ffn: dense or MoE
 *   logits = output(rmsnorm(x) * token_embd_norm)           [T][V]
 *
 * Every matrix product runs on the session's thread pool, split by output
 * rows; products of the same input (q|k|v, gate|up) share one encoding of
 * it and one pool step.  Per-token element-wise work (residual add + the
 * next rmsnorm, activation encoding, q/k norm + rope) runs on the pool for
 * a batch and on the calling thread for a single token.  Shapes: E hidden,
 * H/Hkv query/kv heads of size D, F expert width, X experts of which k are
 * used, V vocabulary. */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "dispatch.h"
#include "elementwise.h"
#include "base/errors.h"
#include "matmul.h"
#include "quant.h"
#include "rope.h"
#include "router.h"
#include "model/session.h"
#include "shortconv.h"

typedef struct lfm2moe_session session;

/* ---- row-parallel steps ---------------------------------------------- */

/* Element-wise work on whole token rows [t0, t1). */
typedef void (*rows_fn)(session *s, const void *arg, int64_t t0, int64_t t1);

typedef struct rows_task {
    session *s;
    rows_fn fn;
    const void *arg;
    int64_t n;
} rows_task;

static void rows_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const rows_task *r = ctx;
    (void)thread;
    long t0, t1;
    lfm_split((long)r->n, chunk, n_chunks, &t0, &t1);
    if (t1 > t0)
        r->fn(r->s, r->arg, t0, t1);
}

/* A row costs a few thousand element operations: a handful of rows
 * (decode) is cheaper on the calling thread than a wake-up; a prefill
 * batch would leave the other threads idle while one works through it. */
#define MIN_PARALLEL_ROWS 8

static void for_rows(session *s, int64_t n, rows_fn fn, const void *arg) {
    if (n < MIN_PARALLEL_ROWS) {
        fn(s, arg, 0, n);
        return;
    }
    rows_task r = {s, fn, arg, n};
    lfm_pool_run(s->pool, rows_worker, &r, 0);
}

/* ---- matrix products on the pool ------------------------------------- */

/* Below this many multiply-adds a product runs on the calling thread: waking
 * workers costs microseconds, more than the work (routers, small models). */
#define MIN_PARALLEL_MACS (1 << 16)

/* One product of a fused step: y[i][r] = sum_c W[r][c] x[i][c]. */
typedef struct mm_part {
    const lfm_weight *w;
    float *y;
    int64_t y_stride;
} mm_part;

/* Up to three products of the same input rows, run as one pool step over
 * their concatenated output rows (q|k|v, gate|up): the input is encoded
 * once and the threads meet once instead of three times. */
typedef struct mm_task {
    mm_part part[3];
    int n_part;
    /* parts 0 and 1 are gate and up of one width: each chunk takes the same
     * rows of both and leaves silu(gate) * up in part 0's rows */
    int swiglu;
    const void *xq;    /* encoded rows */
    int64_t n;         /* rows of xq */
    /* expert products: rows of xq grouped by expert (NULL: dense) */
    const int32_t *exp_first;
    int32_t n_expert;
    int64_t rows;      /* rows split into chunks */
    int32_t flat;      /* experts in use, if their rows are split as one run (else 0) */
} mm_task;

/* Rows [r0, r1) of part p: of its matrix, or of the matrices of experts
 * [e0, e1) for their slots. */
static void mm_part_rows(const mm_task *t, const mm_part *p, int32_t e0, int32_t e1, int64_t r0,
                         int64_t r1) {
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
static void swiglu_rows(const mm_task *t, int64_t i0, int64_t i1, int64_t r0, int64_t r1) {
    const mm_part *g = &t->part[0], *u = &t->part[1];
    for (int64_t i = i0; i < i1; i++)
        lfm_silu_mul(g->y + i * g->y_stride + r0, g->y + i * g->y_stride + r0,
                     u->y + i * u->y_stride + r0, r1 - r0);
}

/* Rows [r0, r1) of the concatenated parts (of gate and up, then their
 * SwiGLU, for a swiglu task), for experts [e0, e1) of an expert task. */
static void mm_rows(const mm_task *t, int32_t e0, int32_t e1, int64_t r0, int64_t r1) {
    if (t->swiglu) {
        mm_part_rows(t, &t->part[0], e0, e1, r0, r1);
        mm_part_rows(t, &t->part[1], e0, e1, r0, r1);
        swiglu_rows(t, t->exp_first ? t->exp_first[e0] : 0,
                    t->exp_first ? t->exp_first[e1] : t->n, r0, r1);
        return;
    }
    int64_t base = 0; /* first row of part p in the concatenation */
    for (int p = 0; p < t->n_part; p++) {
        const int64_t rows = t->part[p].w->n_rows;
        const int64_t lo = r0 > base ? r0 : base, hi = r1 < base + rows ? r1 : base + rows;
        if (hi > lo)
            mm_part_rows(t, &t->part[p], e0, e1, lo - base, hi - base);
        base += rows;
    }
}

static void mm_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const mm_task *t = ctx;
    (void)thread;
    long r0, r1;
    lfm_split((long)t->rows, chunk, n_chunks, &r0, &r1);
    if (!t->flat) {
        mm_rows(t, 0, t->n_expert, r0, r1);
        return;
    }
    /* rows of the used experts one after the other, R each */
    const int64_t R = t->rows / t->flat;
    int64_t k = 0;
    for (int32_t e = 0; e < t->n_expert && k * R < r1; e++) {
        if (t->exp_first[e + 1] == t->exp_first[e])
            continue;
        const int64_t lo = r0 > k * R ? r0 : k * R, hi = r1 < (k + 1) * R ? r1 : (k + 1) * R;
        if (hi > lo)
            mm_rows(t, e, e + 1, lo - k * R, hi - k * R);
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
static void run_products(session *s, mm_task *t, const float *x, int64_t x_stride,
                         const int32_t *gather) {
    const uint32_t at = lfm_quant_act_type(t->part[0].w->type);
    for (int p = 1; p < t->n_part; p++)
        if (lfm_quant_act_type(t->part[p].w->type) != at) {
            mm_task one = *t;
            one.swiglu = 0;
            for (int q = 0; q < t->n_part; q++) {
                one.part[0] = t->part[q];
                one.n_part = 1;
                run_products(s, &one, x, x_stride, gather);
            }
            if (t->swiglu)
                swiglu_rows(t, 0, t->n, 0, t->part[0].w->n_rows);
            return;
        }
    const int64_t n_cols = t->part[0].w->n_cols;
    encode_arg e = {at, x, x_stride, gather, n_cols, t->exp_first ? s->s.actq2 : s->s.actq,
                    lfm_row_bytes(at, n_cols)};
    for_rows(s, t->n, encode_rows, &e);
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
            if (c == 0)
                continue;
            equal &= cnt == 0 || c == cnt;
            cnt = c;
            used++;
        }
        if (equal && used > 1) {
            t->flat = used;
            t->rows *= used;
        }
    }
    /* two chunks per thread: longer row ranges keep the weight streams
     * long for the hardware prefetchers; measured against four per thread
     * (2 threads, Q4_0 tg128 +5-8% in paired runs, Q4_K_M pp512 +1-5%),
     * with still a spare chunk per thread to even out a late start */
    const int chunks = rows * n_cols * t->n < MIN_PARALLEL_MACS ? 1 : 2 * lfm_pool_size(s->pool);
    lfm_pool_run(s->pool, mm_worker, t, chunks);
}

/* y[t][r] = sum_c W[r][c] x[t][c]; x: n rows of stride x_stride. */
static void matmul(session *s, const lfm_weight *w, const float *x, int64_t x_stride, int64_t n,
                   float *y, int64_t y_stride) {
    mm_task t = {.part = {{w, y, y_stride}}, .n_part = 1, .n = n};
    run_products(s, &t, x, x_stride, NULL);
}

/* ---- token mixing: short convolution ---------------------------------- */

static void conv_block(session *s, const lfm_block *b, int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd;
    float *bcx = s->s.big; /* [n][3E]: B | C | x */
    matmul(s, &b->in_proj, s->s.xn, E, n, bcx, 3 * E);
    float *state = s->conv + (size_t)b->conv_index * (size_t)(hp->l_cache - 1) * (size_t)E;
    lfm_shortconv(s->s.mix, bcx, state, b->conv_kernel.data, n, E, hp->l_cache);
    matmul(s, &b->out_proj, s->s.mix, E, n, s->s.xn, E); /* op output -> xn */
}

/* ---- token mixing: grouped-query attention ---------------------------- */

/* Two parallel steps: per token, norm + rope of q and k and the cache store
 * of k and v (attn_prep_rows); then per (token tile, kv head), the
 * attention of the tile's query rows (attn_worker). */
typedef struct attn_task {
    session *s;
    lfm_attn_fn fn;     /* the active table's tile kernel */
    const lfm_block *b;
    float *q;           /* [n][H][D], normed and rotated in place */
    float *k;           /* [n][Hkv][D], idem */
    const float *v;     /* [n][Hkv][D] */
    float *kc, *vc;     /* this block's caches: [Hkv] x layout of attention.h */
    int64_t head_floats; /* floats per kv head in kc and vc */
    int32_t n, pos0;
    int32_t tile;       /* tokens per attention chunk */
    int32_t n_tiles;
    int64_t n_items;    /* n_tiles * Hkv */
} attn_task;

static void attn_prep_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const attn_task *a = arg;
    const lfm_hparams *hp = &s->model->hp;
    const int64_t D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t qd = H * D, kvd = Hkv * D, cache = a->head_floats;
    for (int64_t t = t0; t < t1; t++) {
        float *qt = a->q + t * qd, *kt = a->k + t * kvd;
        const int64_t p = a->pos0 + t;
        for (int64_t h = 0; h < H; h++)
            lfm_rmsnorm(qt + h * D, qt + h * D, a->b->q_norm.data, D, hp->rms_eps);
        for (int64_t h = 0; h < Hkv; h++)
            lfm_rmsnorm(kt + h * D, kt + h * D, a->b->k_norm.data, D, hp->rms_eps);
        lfm_rope_neox(qt, (int32_t)H, (int32_t)D, p, hp->rope_freq_base);
        lfm_rope_neox(kt, (int32_t)Hkv, (int32_t)D, p, hp->rope_freq_base);
        for (int64_t g = 0; g < Hkv; g++) {
            float *kg = a->kc + g * cache;
            for (int64_t i = 0; i < D; i++)
                kg[lfm_attn_kidx(p, i, D)] = kt[g * D + i];
            memcpy(a->vc + g * cache + p * D, a->v + t * kvd + g * D, (size_t)D * sizeof(float));
        }
    }
}

/* Work item w: one kv head for one tile of tokens, the costliest (latest)
 * tiles first so the cheap early ones fill the gaps at the end. */
static void attn_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const attn_task *a = ctx;
    const session *s = a->s;
    const lfm_hparams *hp = &s->model->hp;
    const int64_t D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv, G = H / Hkv;
    const int64_t cache = a->head_floats;
    long w0, w1;
    lfm_split((long)a->n_items, chunk, n_chunks, &w0, &w1);
    lfm_attn_tile tile = {
        .q_stride = H * D, .out_stride = H * D, .G = (int32_t)G, .D = (int32_t)D,
        .scale = 1.0f / sqrtf((float)D),
        .scratch = s->s.attn + (size_t)thread * lfm_attn_scratch_floats(s->n_ctx, D),
    };
    for (long w = w0; w < w1; w++) {
        const int64_t ti = a->n_tiles - 1 - w / Hkv, g = w % Hkv;
        const int64_t t0 = ti * a->tile, t1 = t0 + a->tile < a->n ? t0 + a->tile : a->n;
        tile.q = a->q + t0 * H * D + g * G * D;
        tile.out = s->s.mix + t0 * H * D + g * G * D;
        tile.k = a->kc + g * cache;
        tile.v = a->vc + g * cache;
        tile.pos0 = a->pos0 + t0;
        tile.n = (int32_t)(t1 - t0);
        a->fn(&tile);
    }
}

static void attention_block(session *s, const lfm_block *b, int32_t n, int32_t pos0) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t qd = H * D, kvd = Hkv * D;
    float *q = s->s.big, *k = q + n * qd, *v = k + n * kvd; /* [n][qd], [n][kvd], [n][kvd] */
    mm_task qkv = {.part = {{&b->wq, q, qd}, {&b->wk, k, kvd}, {&b->wv, v, kvd}}, .n_part = 3,
                   .n = n};
    run_products(s, &qkv, s->s.xn, E, NULL);

    const int64_t head_floats = lfm_attn_ctx_alloc(s->n_ctx) * D;
    float *kc = s->kv + (size_t)b->attn_index * 2 * (size_t)(Hkv * head_floats);
    float *vc = kc + Hkv * head_floats;
    attn_task a = {.s = s, .fn = lfm_kernels_active()->attn, .b = b, .q = q, .k = k, .v = v,
                   .kc = kc, .vc = vc, .head_floats = head_floats, .n = n, .pos0 = pos0};
    for_rows(s, n, attn_prep_rows, &a);

    /* ~32 chunks per thread: causal tiles differ in cost.  Tokens per tile:
     * a multiple of `whole`, the fewest tokens whose rows (G each) fill
     * blocks of LFM_ATTN_ROWS (with G = 1 a 1-token tile would compute 3
     * dropped rows per row). */
    int64_t whole = 1;
    while (whole * (H / Hkv) % LFM_ATTN_ROWS)
        whole++;
    const int64_t per = (int64_t)n * Hkv / (32 * (int64_t)s->n_threads);
    a.tile = (int32_t)((per + whole - 1) / whole * whole);
    if (a.tile < whole)
        a.tile = (int32_t)whole;
    a.n_tiles = (n + a.tile - 1) / a.tile;
    a.n_items = (int64_t)a.n_tiles * Hkv;
    const int64_t macs = (int64_t)n * H * (pos0 + n) * D * 2;
    lfm_pool_run(s->pool, attn_worker, &a,
                 macs < MIN_PARALLEL_MACS ? 1 : (int)a.n_items); /* -> mix [n][qd] */
    matmul(s, &b->wo, s->s.mix, qd, n, s->s.xn, E); /* op output -> xn */
}

/* ---- feed-forward ----------------------------------------------------- */

static void dense_ffn(session *s, const lfm_block *b, int32_t n) {
    const int64_t E = s->model->hp.n_embd, F = s->model->hp.n_ff;
    mm_task gu = {.part = {{&b->ffn_gate, s->s.gate, F}, {&b->ffn_up, s->s.up, F}}, .n_part = 2,
                  .swiglu = 1, .n = n};
    run_products(s, &gu, s->s.xn, E, NULL);
    matmul(s, &b->ffn_down, s->s.gate, F, n, s->s.mix, E);
}

/* Leaves the expert outputs in eout, one row per slot: the residual step
 * (resid_rows) weights and sums them per token. */
static void moe_ffn(session *s, const lfm_block *b, int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff_exp, X = hp->n_expert, K = hp->n_expert_used;
    lfm_scratch *sc = &s->s;

    /* route every token: k experts and their weights */
    matmul(s, &b->router, sc->xn, E, n, sc->router, X);
    for (int32_t t = 0; t < n; t++)
        lfm_moe_route(sc->router + t * X, b->exp_bias.data, (int32_t)X, (int32_t)K,
                      sc->exp_ids + t * K, sc->exp_w + t * K);

    /* group the n*k (token, expert) slots by expert, so each expert's
     * weights are read once per chunk */
    memset(sc->exp_first, 0, (size_t)(X + 1) * sizeof(int32_t));
    for (int64_t i = 0; i < n * K; i++)
        sc->exp_first[sc->exp_ids[i] + 1]++;
    for (int64_t e = 0; e < X; e++)
        sc->exp_first[e + 1] += sc->exp_first[e];
    /* exp_first[e] is used as a fill cursor, then restored */
    for (int32_t t = 0; t < n; t++)
        for (int64_t j = 0; j < K; j++) {
            int32_t e = sc->exp_ids[t * K + j];
            int32_t slot = sc->exp_first[e]++;
            sc->slot_tok[slot] = t;
            sc->tok_slot[t * K + j] = slot;
        }
    for (int64_t e = X; e > 0; e--)
        sc->exp_first[e] = sc->exp_first[e - 1];
    sc->exp_first[0] = 0;

    const int64_t n_slots = n * K;
    mm_task gu = {.part = {{&b->gate_exps, sc->gate, F}, {&b->up_exps, sc->up, F}}, .n_part = 2,
                  .swiglu = 1, .n = n_slots, .exp_first = sc->exp_first,
                  .n_expert = (int32_t)X};
    run_products(s, &gu, sc->xn, E, sc->slot_tok);
    mm_task down = {.part = {{&b->down_exps, sc->eout, E}}, .n_part = 1, .n = n_slots,
                    .exp_first = sc->exp_first, .n_expert = (int32_t)X};
    run_products(s, &down, sc->gate, F, NULL);
}

/* ---- residual stream -------------------------------------------------- */

typedef struct resid_arg {
    const float *add; /* [n][E] op or dense FFN output; NULL: the MoE slots in eout */
    const float *norm; /* weight of the rmsnorm that follows */
} resid_arg;

/* x[t] += output of t;  xn[t] = rmsnorm(x[t]) * norm.  The experts of a
 * token are summed in their selection order before the residual add, as
 * the reference engine does. */
static void resid_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const resid_arg *a = arg;
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, K = hp->n_expert_used;
    lfm_scratch *sc = &s->s;
    for (int64_t t = t0; t < t1; t++) {
        float *xt = sc->x + t * E;
        const float *add = a->add ? a->add + t * E : sc->mix + t * E;
        if (!a->add) {
            float *sum = sc->mix + t * E;
            for (int64_t i = 0; i < E; i++)
                sum[i] = 0.0f;
            for (int64_t j = 0; j < K; j++)
                lfm_axpy(sum, sc->exp_w[t * K + j], sc->eout + sc->tok_slot[t * K + j] * E, E);
        }
        lfm_axpy(xt, 1.0f, add, E);
        lfm_rmsnorm(sc->xn + t * E, xt, a->norm, E, hp->rms_eps);
    }
}

typedef struct embed_arg {
    const int32_t *tokens;
    const float *norm;
} embed_arg;

/* x[t] = token_embd[tokens[t]];  xn[t] = rmsnorm(x[t]) * norm. */
static void embed_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const embed_arg *a = arg;
    const lfm2moe_model *m = s->model;
    const int64_t E = m->hp.n_embd;
    for (int64_t t = t0; t < t1; t++) {
        lfm_dequantize_row(m->tok_embd.type, lfm_weight_row(&m->tok_embd, 0, a->tokens[t]),
                           s->s.x + t * E, E);
        lfm_rmsnorm(s->s.xn + t * E, s->s.x + t * E, a->norm, E, m->hp.rms_eps);
    }
}

/* ---- the whole model -------------------------------------------------- */

int lfm_forward_chunk(session *s, const int32_t *tokens, int32_t n, int32_t pos0,
                      int32_t first_logit, float *logits_out) {
    const lfm2moe_model *m = s->model;
    const lfm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;

    /* every step leaves the next op's normalised input in xn */
    embed_arg emb = {tokens, m->blocks[0].op_norm.data};
    for_rows(s, n, embed_rows, &emb);

    for (int32_t bi = 0; bi < hp->n_block; bi++) {
        const lfm_block *b = &m->blocks[bi];
        if (b->is_attention)
            attention_block(s, b, n, pos0);
        else
            conv_block(s, b, n);
        resid_arg r1 = {s->s.xn, b->ffn_norm.data}; /* op output is in xn */
        for_rows(s, n, resid_rows, &r1);

        if (b->is_moe)
            moe_ffn(s, b, n);
        else
            dense_ffn(s, b, n);
        const float *next_norm =
            bi + 1 < hp->n_block ? m->blocks[bi + 1].op_norm.data : m->out_norm.data;
        resid_arg r2 = {b->is_moe ? NULL : s->s.mix, next_norm};
        for_rows(s, n, resid_rows, &r2);

        if (atomic_load_explicit(&s->cancel, memory_order_relaxed))
            return lfm_fail(LFM2MOE_ERR_CANCELLED, "decode cancelled");
    }

    const int32_t n_out = n - first_logit;
    if (n_out > 0)
        matmul(s, &m->output, s->s.xn + (int64_t)first_logit * E, E, n_out, logits_out,
               hp->n_vocab);
    return LFM2MOE_OK;
}
