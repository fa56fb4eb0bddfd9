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
#include "model/forward.h"
#include "model/products.h"
#include "model/session.h"
#include "shortconv.h"

typedef struct lfm2moe_session session;

/* ---- token mixing: short convolution ---------------------------------- */

static void conv_block(session *s, const lfm_block *b, int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd;
    float *bcx = s->s.big; /* [n][3E]: B | C | x */
    lfm_matmul(s, &b->in_proj, s->s.xn, E, n, bcx, 3 * E);
    float *state = s->conv + (size_t)b->conv_index * (size_t)(hp->l_cache - 1) * (size_t)E;
    lfm_shortconv(s->s.mix, bcx, state, b->conv_kernel.data, n, E, hp->l_cache);
    lfm_matmul(s, &b->out_proj, s->s.mix, E, n, s->s.xn, E); /* op output -> xn */
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
        const int64_t slot = lfm_attn_slot(p, s->kv_ring);
        for (int64_t g = 0; g < Hkv; g++) {
            float *kg = a->kc + g * cache;
            for (int64_t i = 0; i < D; i++)
                kg[lfm_attn_kidx(slot, i, D)] = kt[g * D + i];
            memcpy(a->vc + g * cache + slot * D, a->v + t * kvd + g * D,
                   (size_t)D * sizeof(float));
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
        .scale = 1.0f / sqrtf((float)D), .window = hp->n_swa, .ring = s->kv_ring,
        .scratch = s->s.attn + (size_t)thread * lfm_attn_scratch_floats(
                                                    lfm_attn_span(s->n_ctx, hp->n_swa), D),
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
    lfm_mm_task qkv = {.part = {{&b->wq, q, qd}, {&b->wk, k, kvd}, {&b->wv, v, kvd}}, .n_part = 3,
                   .n = n};
    lfm_run_products(s, &qkv, s->s.xn, E, NULL);

    const int64_t head_floats = lfm_kv_head_floats(lfm_session_kv_slots(s), D);
    float *kc, *vc;
    lfm_session_kv(s, b->attn_index, &kc, &vc);
    attn_task a = {.s = s, .fn = lfm_kernels_active()->attn, .b = b, .q = q, .k = k, .v = v,
                   .kc = kc, .vc = vc, .head_floats = head_floats, .n = n, .pos0 = pos0};
    lfm_for_rows(s, n, attn_prep_rows, &a);

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
    const int64_t seen = hp->n_swa > 0 && hp->n_swa < pos0 + n ? hp->n_swa : pos0 + n;
    const int64_t macs = (int64_t)n * H * seen * D * 2;
    lfm_pool_run(s->pool, attn_worker, &a,
                 macs < LFM_MIN_PARALLEL_MACS ? 1 : (int)a.n_items); /* -> mix [n][qd] */
    lfm_matmul(s, &b->wo, s->s.mix, qd, n, s->s.xn, E); /* op output -> xn */
}

/* ---- feed-forward ----------------------------------------------------- */

static void dense_ffn(session *s, const lfm_block *b, int32_t n) {
    const int64_t E = s->model->hp.n_embd, F = s->model->hp.n_ff;
    lfm_mm_task gu = {.part = {{&b->ffn_gate, s->s.gate, F}, {&b->ffn_up, s->s.up, F}}, .n_part = 2,
                  .swiglu = 1, .n = n};
    lfm_run_products(s, &gu, s->s.xn, E, NULL);
    lfm_matmul(s, &b->ffn_down, s->s.gate, F, n, s->s.mix, E);
}

/* Leaves the expert outputs in eout, one row per slot: the residual step
 * (moe_combine_resid_rows) weights and sums them per token. */
static void moe_ffn(session *s, const lfm_block *b, int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff_exp, X = hp->n_expert, K = hp->n_expert_used;
    lfm_scratch *sc = &s->s;

    /* route every token: k experts and their weights */
    lfm_matmul(s, &b->router, sc->xn, E, n, sc->router, X);
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
    lfm_mm_task gu = {.part = {{&b->gate_exps, sc->gate, F}, {&b->up_exps, sc->up, F}}, .n_part = 2,
                  .swiglu = 1, .n = n_slots, .exp_first = sc->exp_first,
                  .n_expert = (int32_t)X};
    lfm_run_products(s, &gu, sc->xn, E, sc->slot_tok);
    lfm_mm_task down = {.part = {{&b->down_exps, sc->eout, E}}, .n_part = 1, .n = n_slots,
                    .exp_first = sc->exp_first, .n_expert = (int32_t)X};
    lfm_run_products(s, &down, sc->gate, F, NULL);
}

/* ---- residual stream -------------------------------------------------- */

typedef struct resid_arg {
    const float *add;  /* [n][E] output of the op or of a dense FFN */
    const float *norm; /* weight of the rmsnorm that follows */
} resid_arg;

/* x[t] += add[t];  xn[t] = rmsnorm(x[t]) * norm. */
static void resid_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const resid_arg *a = arg;
    const int64_t E = s->model->hp.n_embd;
    lfm_scratch *sc = &s->s;
    for (int64_t t = t0; t < t1; t++) {
        lfm_axpy(sc->x + t * E, 1.0f, a->add + t * E, E);
        lfm_rmsnorm(sc->xn + t * E, sc->x + t * E, a->norm, E, s->model->hp.rms_eps);
    }
}

/* The MoE output of each token (its experts' slots in eout, weighted and
 * summed in their selection order, as the reference engine does) into mix,
 * then the residual step of resid_rows on it. */
static void moe_combine_resid_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const int64_t E = s->model->hp.n_embd, K = s->model->hp.n_expert_used;
    lfm_scratch *sc = &s->s;
    for (int64_t t = t0; t < t1; t++) {
        float *sum = sc->mix + t * E;
        for (int64_t i = 0; i < E; i++)
            sum[i] = 0.0f;
        for (int64_t j = 0; j < K; j++)
            lfm_axpy(sum, sc->exp_w[t * K + j], sc->eout + sc->tok_slot[t * K + j] * E, E);
        resid_rows(s, arg, t, t + 1);
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
    lfm_for_rows(s, n, embed_rows, &emb);

    for (int32_t bi = 0; bi < hp->n_block; bi++) {
        const lfm_block *b = &m->blocks[bi];
        if (b->is_attention)
            attention_block(s, b, n, pos0);
        else
            conv_block(s, b, n);
        resid_arg r1 = {s->s.xn, b->ffn_norm.data}; /* op output is in xn */
        lfm_for_rows(s, n, resid_rows, &r1);

        if (b->is_moe)
            moe_ffn(s, b, n);
        else
            dense_ffn(s, b, n);
        const float *next_norm =
            bi + 1 < hp->n_block ? m->blocks[bi + 1].op_norm.data : m->out_norm.data;
        resid_arg r2 = {s->s.mix, next_norm}; /* FFN output -> mix */
        lfm_for_rows(s, n, b->is_moe ? moe_combine_resid_rows : resid_rows, &r2);

        if (atomic_load_explicit(&s->cancel, memory_order_relaxed))
            return lfm_fail(LFM2MOE_ERR_CANCELLED, "decode cancelled");
    }

    const int32_t n_out = n - first_logit;
    if (n_out > 0)
        lfm_matmul(s, &m->output, s->s.xn + (int64_t)first_logit * E, E, n_out, logits_out,
               hp->n_vocab);
    return LFM2MOE_OK;
}
