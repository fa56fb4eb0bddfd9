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

static void conv_block(session *s, const lfm_block *b, const lfm_fwd_part *parts, int32_t n_parts,
                       int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd;
    float *bcx = s->s.proj; /* [n][3E]: B | C | x */
    lfm_matmul(s, &b->in_proj, s->s.xn, E, n, bcx, 3 * E);
    for (int32_t i = 0; i < n_parts; i++) { /* each sequence on its own state */
        const lfm_fwd_part *pt = &parts[i];
        float *state =
            pt->seq->conv + (size_t)b->conv_index * (size_t)(hp->l_cache - 1) * (size_t)E;
        /* for rewinds: checkpoints passed in this chunk, before the state moves */
        lfm_session_conv_checkpoints(pt->seq, b->conv_index, bcx + pt->row0 * 3 * E, pt->n,
                                     pt->pos0);
        lfm_shortconv(s->s.mixed + pt->row0 * E, bcx + pt->row0 * 3 * E, state, b->conv_kernel.data,
                      pt->n, E, hp->l_cache);
    }
    lfm_matmul(s, &b->out_proj, s->s.mixed, E, n, s->s.out, E);
}

/* The part holding stacked row `row` (parts in row order). */
static int32_t part_of_row(const lfm_fwd_part *parts, int32_t n_parts, int64_t row) {
    int32_t lo = 0, hi = n_parts - 1;
    while (lo < hi) {
        const int32_t mid = (lo + hi + 1) / 2;
        if (parts[mid].row0 <= row)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* ---- token mixing: grouped-query attention ---------------------------- */

/* Two parallel steps: per token, norm + rope of q and k and the cache store
 * of k and v, in its own session's cache (attn_prep_rows); then per
 * (tile of one session's tokens, kv head), the attention of the tile's
 * query rows (attn_worker). */
typedef struct attn_task {
    session *s;
    const lfm_kernels *kern; /* the active table (its tile kernels by cache type) */
    const lfm_block *b;
    const lfm_fwd_part *parts;
    int32_t n_parts;
    float *q;       /* [n][H][D], normed and rotated in place */
    float *k;       /* [n][Hkv][D], idem */
    const float *v; /* [n][Hkv][D] */
    const lfm_attn_span *tiles;
    int32_t n_tiles;
    int64_t n_items; /* n_tiles * Hkv */
} attn_task;

static void attn_prep_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const attn_task *a = arg;
    const lfm_hparams *hp = &s->model->hp;
    const int64_t D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t qd = H * D, kvd = Hkv * D;
    int32_t pi = part_of_row(a->parts, a->n_parts, t0);
    for (int64_t t = t0; t < t1; t++) {
        while (t >= a->parts[pi].row0 + a->parts[pi].n)
            pi++;
        const lfm_fwd_part *pt = &a->parts[pi];
        float *qt = a->q + t * qd, *kt = a->k + t * kvd;
        const int64_t p = pt->pos0 + (t - pt->row0);
        for (int64_t h = 0; h < H; h++)
            lfm_rmsnorm(qt + h * D, qt + h * D, a->b->q_norm.data, D, hp->rms_eps);
        for (int64_t h = 0; h < Hkv; h++)
            lfm_rmsnorm(kt + h * D, kt + h * D, a->b->k_norm.data, D, hp->rms_eps);
        lfm_rope_neox(qt, (int32_t)H, (int32_t)D, p, hp->rope_freq_base);
        lfm_rope_neox(kt, (int32_t)Hkv, (int32_t)D, p, hp->rope_freq_base);
        void *kc, *vc;
        lfm_session_kv(pt->seq, a->b->attn_index, &kc, &vc);
        const int64_t head = lfm_kv_head_size(pt->seq->kv_type, lfm_session_kv_slots(pt->seq), D);
        const int64_t slot = lfm_attn_slot(p, pt->seq->kv_ring);
        for (int64_t g = 0; g < Hkv; g++)
            lfm_kv_store(pt->seq->kv_type, (uint8_t *)kc + g * head, (uint8_t *)vc + g * head, slot,
                         kt + g * D, a->v + t * kvd + g * D, (int32_t)D);
    }
}

/* Work item w: one kv head for one tile, the last tiles (the latest
 * positions of each session, the costliest) first so the cheap early ones
 * fill the gaps at the end. */
static void attn_worker(void *ctx, int chunk, int n_chunks, int thread) {
    const attn_task *a = ctx;
    const session *s = a->s;
    const lfm_hparams *hp = &s->model->hp;
    const int64_t D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv, G = H / Hkv;
    long w0, w1;
    lfm_split((long)a->n_items, chunk, n_chunks, &w0, &w1);
    lfm_attn_tile tile = {
        .q_stride = H * D,
        .out_stride = H * D,
        .G = (int32_t)G,
        .D = (int32_t)D,
        .scale = 1.0f / sqrtf((float)D),
        .window = hp->n_swa,
        .scratch = s->s.attn + (size_t)thread * lfm_attn_scratch_floats(
                                                    lfm_attn_score_span(s->n_ctx, hp->n_swa), D),
    };
    for (long w = w0; w < w1; w++) {
        const lfm_attn_span *sp = &a->tiles[a->n_tiles - 1 - w / Hkv];
        const int64_t g = w % Hkv;
        const lfm_fwd_part *pt = &a->parts[sp->part];
        void *kc, *vc;
        lfm_session_kv(pt->seq, a->b->attn_index, &kc, &vc);
        const int64_t head = lfm_kv_head_size(pt->seq->kv_type, lfm_session_kv_slots(pt->seq), D);
        tile.ring = pt->seq->kv_ring;
        tile.q = a->q + sp->row0 * H * D + g * G * D;
        tile.out = s->s.mixed + sp->row0 * H * D + g * G * D;
        tile.k = (const uint8_t *)kc + g * head;
        tile.v = (const uint8_t *)vc + g * head;
        tile.pos0 = pt->pos0 + (sp->row0 - pt->row0);
        tile.n = sp->n;
        a->kern->attn[pt->seq->kv_type](&tile);
    }
}

static void attention_block(session *s, const lfm_block *b, const lfm_fwd_part *parts,
                            int32_t n_parts, int32_t n) {
    const lfm_hparams *hp = &s->model->hp;
    const int64_t E = hp->n_embd, D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t qd = H * D, kvd = Hkv * D;
    float *q = s->s.proj, *k = q + n * qd, *v = k + n * kvd; /* [n][qd], [n][kvd], [n][kvd] */
    lfm_mm_task qkv = {
        .part = {{&b->wq, q, qd}, {&b->wk, k, kvd}, {&b->wv, v, kvd}}, .n_part = 3, .n = n};
    lfm_run_products(s, &qkv, s->s.xn, E, NULL);

    attn_task a = {.s = s,
                   .kern = lfm_kernels_active(),
                   .b = b,
                   .parts = parts,
                   .n_parts = n_parts,
                   .q = q,
                   .k = k,
                   .v = v,
                   .tiles = s->s.tiles};
    lfm_for_rows(s, n, attn_prep_rows, &a);

    /* ~32 chunks per thread: causal tiles differ in cost.  Tokens per tile:
     * a multiple of `whole`, the fewest tokens whose rows (G each) fill
     * blocks of LFM_ATTN_ROWS (with G = 1 a 1-token tile would compute 3
     * dropped rows per row).  A tile never spans two sessions. */
    int64_t whole = 1;
    while (whole * (H / Hkv) % LFM_ATTN_ROWS)
        whole++;
    const int64_t per = (int64_t)n * Hkv / (32 * (int64_t)s->n_threads);
    int64_t tile = (per + whole - 1) / whole * whole;
    if (tile < whole) tile = whole;
    int64_t macs = 0;
    int32_t n_tiles = 0;
    for (int32_t i = 0; i < n_parts; i++) {
        const lfm_fwd_part *pt = &parts[i];
        for (int32_t t0 = 0; t0 < pt->n; t0 += (int32_t)tile)
            s->s.tiles[n_tiles++] =
                (lfm_attn_span){.part = i,
                                .row0 = pt->row0 + t0,
                                .n = pt->n - t0 < tile ? pt->n - t0 : (int32_t)tile};
        const int64_t seen =
            hp->n_swa > 0 && hp->n_swa < pt->pos0 + pt->n ? hp->n_swa : pt->pos0 + pt->n;
        macs += (int64_t)pt->n * H * seen * D * 2;
    }
    a.n_tiles = n_tiles;
    a.n_items = (int64_t)n_tiles * Hkv;
    lfm_pool_run(s->pool, attn_worker, &a,
                 macs < LFM_MIN_PARALLEL_MACS ? 1 : (int)a.n_items); /* -> mixed [n][qd] */
    lfm_matmul(s, &b->wo, s->s.mixed, qd, n, s->s.out, E);
}

/* ---- feed-forward ----------------------------------------------------- */

static void dense_ffn(session *s, const lfm_block *b, int32_t n) {
    const int64_t E = s->model->hp.n_embd, F = s->model->hp.n_ff;
    lfm_mm_task gu = {.part = {{&b->ffn_gate, s->s.gate, F}, {&b->ffn_up, s->s.up, F}},
                      .n_part = 2,
                      .swiglu = 1,
                      .n = n};
    lfm_run_products(s, &gu, s->s.xn, E, NULL);
    lfm_matmul(s, &b->ffn_down, s->s.gate, F, n, s->s.out, E);
}

/* Leaves the expert outputs in eout, one row per slot: moe_combine_resid_rows
 * weights and sums them per token into out. */
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
    lfm_mm_task gu = {.part = {{&b->gate_exps, sc->gate, F}, {&b->up_exps, sc->up, F}},
                      .n_part = 2,
                      .swiglu = 1,
                      .n = n_slots,
                      .exp_first = sc->exp_first,
                      .n_expert = (int32_t)X};
    lfm_run_products(s, &gu, sc->xn, E, sc->slot_tok);
    lfm_mm_task down = {.part = {{&b->down_exps, sc->eout, E}},
                        .n_part = 1,
                        .n = n_slots,
                        .exp_first = sc->exp_first,
                        .n_expert = (int32_t)X};
    lfm_run_products(s, &down, sc->gate, F, NULL);
}

/* ---- residual stream -------------------------------------------------- */

/* x[t] += out[t];  xn[t] = rmsnorm(x[t]) * norm (the weight of the rmsnorm
 * that follows, the argument). */
static void resid_rows(session *s, const void *norm, int64_t t0, int64_t t1) {
    const int64_t E = s->model->hp.n_embd;
    lfm_scratch *sc = &s->s;
    for (int64_t t = t0; t < t1; t++) {
        lfm_axpy(sc->x + t * E, 1.0f, sc->out + t * E, E);
        lfm_rmsnorm(sc->xn + t * E, sc->x + t * E, norm, E, s->model->hp.rms_eps);
    }
}

/* The MoE output of each token (its experts' slots in eout, weighted and
 * summed in their selection order, as the reference engine does) into out,
 * then the residual step of resid_rows on it. */
static void moe_combine_resid_rows(session *s, const void *norm, int64_t t0, int64_t t1) {
    const int64_t E = s->model->hp.n_embd, K = s->model->hp.n_expert_used;
    lfm_scratch *sc = &s->s;
    for (int64_t t = t0; t < t1; t++) {
        float *sum = sc->out + t * E;
        for (int64_t i = 0; i < E; i++)
            sum[i] = 0.0f;
        for (int64_t j = 0; j < K; j++)
            lfm_axpy(sum, sc->exp_w[t * K + j], sc->eout + sc->tok_slot[t * K + j] * E, E);
        resid_rows(s, norm, t, t + 1);
    }
}

typedef struct embed_arg {
    const lfm_fwd_part *parts;
    int32_t n_parts;
    const float *norm;
} embed_arg;

/* x[t] = token_embd[token of row t];  xn[t] = rmsnorm(x[t]) * norm. */
static void embed_rows(session *s, const void *arg, int64_t t0, int64_t t1) {
    const embed_arg *a = arg;
    const lfm2moe_model *m = s->model;
    const int64_t E = m->hp.n_embd;
    int32_t pi = part_of_row(a->parts, a->n_parts, t0);
    for (int64_t t = t0; t < t1; t++) {
        while (t >= a->parts[pi].row0 + a->parts[pi].n)
            pi++;
        const int32_t token = a->parts[pi].tokens[t - a->parts[pi].row0];
        lfm_weight_dequant_row(&m->tok_embd, 0, token, s->s.x + t * E);
        lfm_rmsnorm(s->s.xn + t * E, s->s.x + t * E, a->norm, E, m->hp.rms_eps);
    }
}

static int any_cancelled(const lfm_fwd_part *parts, int32_t n_parts) {
    for (int32_t i = 0; i < n_parts; i++)
        if (atomic_load_explicit(&parts[i].seq->cancel, memory_order_relaxed)) return 1;
    return 0;
}

/* ---- the whole model -------------------------------------------------- */

int lfm_forward_chunk(session *s, const lfm_fwd_part *parts, int32_t n_parts, int32_t n,
                      float *logits_out) {
    const lfm2moe_model *m = s->model;
    const lfm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;

    /* every step leaves the next op's normalised input in xn */
    embed_arg emb = {parts, n_parts, m->blocks[0].op_norm.data};
    lfm_for_rows(s, n, embed_rows, &emb);

    for (int32_t bi = 0; bi < hp->n_block; bi++) {
        const lfm_block *b = &m->blocks[bi];
        if (b->is_attention)
            attention_block(s, b, parts, n_parts, n);
        else
            conv_block(s, b, parts, n_parts, n);
        lfm_for_rows(s, n, resid_rows, b->ffn_norm.data);

        if (b->is_moe)
            moe_ffn(s, b, n);
        else
            dense_ffn(s, b, n);
        const float *next_norm =
            bi + 1 < hp->n_block ? m->blocks[bi + 1].op_norm.data : m->out_norm.data;
        lfm_for_rows(s, n, b->is_moe ? moe_combine_resid_rows : resid_rows, next_norm);

        if (any_cancelled(parts, n_parts))
            return lfm_fail(LFM2MOE_ERR_CANCELLED, "decode cancelled");
    }

    /* the rows that give logits, moved together at the front of xn (in
     * order: a row only moves down) for one product with the output layer */
    int64_t n_out = 0;
    for (int32_t i = 0; i < n_parts; i++)
        for (int64_t t = parts[i].row0 + parts[i].first_logit; t < parts[i].row0 + parts[i].n;
             t++, n_out++)
            if (t != n_out) memcpy(s->s.xn + n_out * E, s->s.xn + t * E, (size_t)E * sizeof(float));
    if (n_out > 0) lfm_matmul(s, &m->output, s->s.xn, E, n_out, logits_out, hp->n_vocab);
    return LFM2MOE_OK;
}
