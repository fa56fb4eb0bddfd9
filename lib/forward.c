/* The LFM2-MoE forward pass over a chunk of T tokens.
 *
 *   x = token_embd[tokens]                                  [T][E]
 *   for each block:
 *     h   = x + op(rmsnorm(x) * attn_norm)                  op: conv or attention
 *     x   = h + ffn(rmsnorm(h) * ffn_norm)                  ffn: dense or MoE
 *   logits = output(rmsnorm(x) * token_embd_norm)           [T][V]
 *
 * Every matrix product runs on the session's thread pool, split by output
 * rows.  Shapes: E hidden, H/Hkv query/kv heads of size D, F expert width,
 * X experts of which k are used, V vocabulary. */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "elementwise.h"
#include "errors.h"
#include "matmul.h"
#include "quant.h"
#include "rope.h"
#include "router.h"
#include "session.h"
#include "shortconv.h"

typedef struct lfm2moe_session session;

/* ---- matrix products on the pool ------------------------------------- */

/* Below this many multiply-adds a product runs on the calling thread: waking
 * workers costs microseconds, more than the work (routers, small models). */
#define MIN_PARALLEL_MACS (1 << 16)

static int chunks_for(const lfm_weight *w, int64_t n_rows_of_x) {
    return w->n_rows * w->n_cols * n_rows_of_x < MIN_PARALLEL_MACS ? 1 : 0;
}

typedef struct mm_task {
    const lfm_weight *w;
    int64_t mat;       /* matrix (expert) index, for a dense product */
    const void *xq;    /* encoded rows */
    int64_t n;         /* rows of xq */
    float *y;
    int64_t y_stride;
    /* expert products: rows of xq grouped by expert */
    const int32_t *exp_first; /* NULL for a dense product */
    int32_t n_expert;
} mm_task;

static void mm_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const mm_task *t = ctx;
    (void)thread;
    long r0, r1;
    lfm_split((long)t->w->n_rows, chunk, n_chunks, &r0, &r1);
    if (!t->exp_first) {
        lfm_matmul_rows(t->w, t->mat, t->xq, t->n, t->y, t->y_stride, r0, r1);
        return;
    }
    size_t rb = lfm_act_row_bytes(t->w->type, t->w->n_cols);
    for (int32_t e = 0; e < t->n_expert; e++) {
        int32_t first = t->exp_first[e], cnt = t->exp_first[e + 1] - first;
        if (cnt > 0)
            lfm_matmul_rows(t->w, e, (const uint8_t *)t->xq + (size_t)first * rb, cnt,
                            t->y + (int64_t)first * t->y_stride, t->y_stride, r0, r1);
    }
}

/* y[t][r] = sum_c W[r][c] x[t][c]; x: n rows of stride x_stride. */
static void matmul(session *s, const lfm_weight *w, const float *x, int64_t x_stride, int64_t n,
                   float *y, int64_t y_stride) {
    lfm_encode_acts(w->type, x, x_stride, n, w->n_cols, s->s.actq);
    mm_task t = {w, 0, s->s.actq, n, y, y_stride, NULL, 0};
    lfm_pool_run(s->pool, mm_worker, &t, chunks_for(w, n));
}

/* Expert products for all slots: slot i (grouped by expert) multiplies the
 * row src[gather ? slot_tok[i] : i] by its expert's matrix into dst[i]. */
static void expert_matmul(session *s, const lfm_weight *w, const float *src, int64_t src_stride,
                          int gather, int64_t n_slots, float *dst, int64_t dst_stride) {
    uint32_t at = lfm_quant_act_type(w->type);
    size_t rb = lfm_row_bytes(at, w->n_cols);
    for (int64_t i = 0; i < n_slots; i++) {
        const float *row = src + (gather ? s->s.slot_tok[i] : i) * src_stride;
        lfm_quantize_act_row(at, row, (uint8_t *)s->s.actq2 + (size_t)i * rb, w->n_cols);
    }
    mm_task t = {w, 0, s->s.actq2, n_slots, dst, dst_stride, s->s.exp_first,
                 s->model->hp.n_expert};
    lfm_pool_run(s->pool, mm_worker, &t, chunks_for(w, n_slots));
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

typedef struct attn_task {
    session *s;
    const float *q;     /* [n][H*D] */
    const float *kc, *vc;
    int32_t n, pos0;
} attn_task;

static void attn_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const attn_task *a = ctx;
    const lfm_hparams *hp = &a->s->model->hp;
    const int32_t H = hp->n_head, D = hp->head_dim;
    long i0, i1;
    lfm_split((long)a->n * H, chunk, n_chunks, &i0, &i1);
    float *scratch = a->s->s.attn + (size_t)thread * (size_t)a->s->n_ctx;
    const float scale = 1.0f / sqrtf((float)D);
    for (long i = i0; i < i1; i++) {
        int32_t t = (int32_t)(i / H), h = (int32_t)(i % H);
        lfm_attention_token(a->s->s.mix + (int64_t)t * H * D, a->q + (int64_t)t * H * D, a->kc,
                            a->vc, a->pos0 + t, H, hp->n_head_kv, D, scale, h, h + 1, scratch);
    }
}

static void attention_block(session *s, const lfm_block *b, int32_t n, int32_t pos0) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t qd = H * D, kvd = Hkv * D;
    float *q = s->s.big, *k = q + n * qd, *v = k + n * kvd; /* [n][qd], [n][kvd], [n][kvd] */
    matmul(s, &b->wq, s->s.xn, E, n, q, qd);
    matmul(s, &b->wk, s->s.xn, E, n, k, kvd);
    matmul(s, &b->wv, s->s.xn, E, n, v, kvd);

    float *kc = s->kv + (size_t)b->attn_index * 2 * (size_t)s->n_ctx * s->kv_dim;
    float *vc = kc + (size_t)s->n_ctx * s->kv_dim;
    const float *qn = b->q_norm.data, *kn = b->k_norm.data;
    for (int32_t t = 0; t < n; t++) {
        float *qt = q + t * qd, *kt = k + t * kvd;
        for (int64_t h = 0; h < H; h++)
            lfm_rmsnorm(qt + h * D, qt + h * D, qn, D, hp->rms_eps);
        for (int64_t h = 0; h < Hkv; h++)
            lfm_rmsnorm(kt + h * D, kt + h * D, kn, D, hp->rms_eps);
        lfm_rope_neox(qt, (int32_t)H, (int32_t)D, pos0 + t, hp->rope_freq_base);
        lfm_rope_neox(kt, (int32_t)Hkv, (int32_t)D, pos0 + t, hp->rope_freq_base);
        memcpy(kc + (size_t)(pos0 + t) * s->kv_dim, kt, (size_t)kvd * sizeof(float));
        memcpy(vc + (size_t)(pos0 + t) * s->kv_dim, v + t * kvd, (size_t)kvd * sizeof(float));
    }
    attn_task a = {s, q, kc, vc, n, pos0};
    const int64_t macs = (int64_t)n * H * (pos0 + n) * D * 2;
    lfm_pool_run(s->pool, attn_worker, &a, macs < MIN_PARALLEL_MACS ? 1 : 0); /* -> mix [n][qd] */
    matmul(s, &b->wo, s->s.mix, qd, n, s->s.xn, E); /* op output -> xn */
}

/* ---- feed-forward ----------------------------------------------------- */

static void dense_ffn(session *s, const lfm_block *b, int32_t n) {
    const int64_t E = s->model->hp.n_embd, F = s->model->hp.n_ff;
    matmul(s, &b->ffn_gate, s->s.xn, E, n, s->s.gate, F);
    matmul(s, &b->ffn_up, s->s.xn, E, n, s->s.up, F);
    lfm_silu_mul(s->s.gate, s->s.gate, s->s.up, (int64_t)n * F);
    matmul(s, &b->ffn_down, s->s.gate, F, n, s->s.mix, E);
}

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
            sc->slot_w[slot] = sc->exp_w[t * K + j];
        }
    for (int64_t e = X; e > 0; e--)
        sc->exp_first[e] = sc->exp_first[e - 1];
    sc->exp_first[0] = 0;

    const int64_t n_slots = n * K;
    expert_matmul(s, &b->gate_exps, sc->xn, E, 1, n_slots, sc->gate, F);
    expert_matmul(s, &b->up_exps, sc->xn, E, 1, n_slots, sc->up, F);
    lfm_silu_mul(sc->gate, sc->gate, sc->up, n_slots * F);
    expert_matmul(s, &b->down_exps, sc->gate, F, 0, n_slots, sc->eout, E);

    memset(sc->mix, 0, (size_t)n * (size_t)E * sizeof(float));
    for (int64_t i = 0; i < n_slots; i++)
        lfm_axpy(sc->mix + (int64_t)sc->slot_tok[i] * E, sc->slot_w[i], sc->eout + i * E, E);
}

/* ---- the whole model -------------------------------------------------- */

int lfm_forward_chunk(session *s, const int32_t *tokens, int32_t n, int32_t pos0,
                      int32_t first_logit, float *logits_out) {
    const lfm2moe_model *m = s->model;
    const lfm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    float *x = s->s.x, *xn = s->s.xn;

    for (int32_t t = 0; t < n; t++)
        lfm_dequantize_row(m->tok_embd.type, lfm_weight_row(&m->tok_embd, 0, tokens[t]),
                           x + t * E, E);

    for (int32_t bi = 0; bi < hp->n_block; bi++) {
        const lfm_block *b = &m->blocks[bi];
        for (int32_t t = 0; t < n; t++)
            lfm_rmsnorm(xn + t * E, x + t * E, b->op_norm.data, E, hp->rms_eps);
        if (b->is_attention)
            attention_block(s, b, n, pos0);
        else
            conv_block(s, b, n);
        lfm_axpy(x, 1.0f, xn, (int64_t)n * E);

        for (int32_t t = 0; t < n; t++)
            lfm_rmsnorm(xn + t * E, x + t * E, b->ffn_norm.data, E, hp->rms_eps);
        if (b->is_moe)
            moe_ffn(s, b, n);
        else
            dense_ffn(s, b, n);
        lfm_axpy(x, 1.0f, s->s.mix, (int64_t)n * E);

        if (atomic_load_explicit(&s->cancel, memory_order_relaxed))
            return lfm_fail(LFM2MOE_ERR_CANCELLED, "decode cancelled");
    }

    const int32_t n_out = n - first_logit;
    if (n_out > 0) {
        for (int32_t t = first_logit; t < n; t++)
            lfm_rmsnorm(xn + t * E, x + t * E, m->out_norm.data, E, hp->rms_eps);
        matmul(s, &m->output, xn + (int64_t)first_logit * E, E, n_out, logits_out, hp->n_vocab);
    }
    return LFM2MOE_OK;
}
