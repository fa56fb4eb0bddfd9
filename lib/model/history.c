/* A session's history: the tokens it holds, conv-state checkpoints, exact
 * rewind, forks, and the KV-cache access snapshots and copies go through.
 *
 * Rewind design.  The KV cache is indexed by position, so rows past the
 * target are simply ignored afterwards.  The conv state (u = B*x of the
 * last L-1 tokens of each conv block) is not: the session keeps a copy of
 * it every ckpt_interval tokens, captured by the conv blocks as a step
 * passes a multiple of the interval (from the in_proj output, so a step is
 * never cut short for it), and a rewind restores the nearest valid
 * checkpoint at or before the target and re-evaluates the tokens from
 * there.  That is exact because the forward pass is batch-invariant: a
 * token's outputs do not depend on how the tokens were cut into steps or
 * chunks (every product sums in a fixed order per output, and tests check
 * that rewinds match fresh sessions bit for bit at every ISA level).  The
 * re-evaluation rewrites KV rows with the values they already hold.
 * Keeping u of every token instead would cost n_embd floats per conv block
 * per token, several times the KV cache of LFM2-8B-A1B. */
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "base/errors.h"
#include "model/forward.h"
#include "model/session.h"

typedef struct lfm2moe_session session;

/* ---- checkpoints ------------------------------------------------------ */

static float *ckpt_at(const session *s, int32_t index) {
    return s->ckpt + (size_t)index * s->conv_floats;
}

void lfm_session_conv_checkpoints(session *s, int32_t conv_index, const float *bcx, int32_t n,
                                  int32_t pos0) {
    const int64_t K = s->ckpt_interval, E = s->model->hp.n_embd, L1 = s->model->hp.l_cache - 1;
    const float *state = s->conv + (size_t)conv_index * (size_t)(L1 * E);
    for (int64_t q = (pos0 / K + 1) * K; q <= (int64_t)pos0 + n; q += K) {
        if (q / K > s->n_ckpt) break;
        float *dst = ckpt_at(s, (int32_t)(q / K - 1)) + (size_t)conv_index * (size_t)(L1 * E);
        /* the state after token q-1: u of tokens q-L+1 .. q-1, oldest first */
        for (int64_t j = 0; j < L1; j++) {
            const int64_t t = q - L1 + j;
            if (t >= pos0) {
                const float *B = bcx + (t - pos0) * 3 * E, *X = B + 2 * E;
                for (int64_t c = 0; c < E; c++)
                    dst[j * E + c] = B[c] * X[c]; /* the kernel's u, same single product */
            } else {
                /* before this chunk: row of the incoming state */
                memcpy(dst + j * E, state + (t - pos0 + L1) * E, (size_t)E * sizeof(float));
            }
        }
    }
}

void lfm_session_mark_checkpoints(session *s, int32_t pos0, int32_t n) {
    const int32_t K = s->ckpt_interval;
    for (int64_t q = ((int64_t)pos0 / K + 1) * K; q <= (int64_t)pos0 + n && q / K <= s->n_ckpt;
         q += K)
        s->ckpt_valid[q / K - 1] = 1;
}

/* ---- token history ---------------------------------------------------- */

LFM2MOE_API int lfm2moe_session_tokens(const session *s, int32_t *buf, size_t cap,
                                       size_t *n_tokens) {
    LFM_CHECK_ARGS(s && n_tokens && (buf || !cap));
    const size_t held = (size_t)s->pos;
    *n_tokens = held;
    if (buf) memcpy(buf, s->tokens, (cap < held ? cap : held) * sizeof(int32_t));
    if (cap < held)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL,
                        "lfm2moe_session_tokens: %zu tokens held, room for %zu", held, cap);
    return LFM2MOE_OK;
}

/* ---- rewind ----------------------------------------------------------- */

static void clear_logits(session *s) {
    s->n_logits = 0;
    s->logits_first = -1;
    s->last_step_tokens = 0;
}

LFM2MOE_API int lfm2moe_session_rewind(session *s, int32_t pos) {
    LFM_CHECK_ARG(s, "NULL session");
    if (pos < 0 || pos > s->pos)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_rewind: position %d is outside [0, %d]", pos, s->pos);
    if (pos == s->pos) return LFM2MOE_OK;
    atomic_store(&s->cancel, 0); /* like a decode step: a new call clears the request */

    /* the nearest valid checkpoint at or before pos (0: the empty state) */
    int32_t c = pos / s->ckpt_interval;
    if (c > s->n_ckpt) c = s->n_ckpt;
    while (c > 0 && !s->ckpt_valid[c - 1])
        c--;
    const int32_t from = c * s->ckpt_interval;
    /* a sliding-window ring must still hold the window before `from` */
    if (!lfm_session_can_rewind(s, from))
        return lfm_fail(
            LFM2MOE_ERR_INVALID_ARGUMENT,
            "lfm2moe_session_rewind: position %d needs the tokens from %d re-evaluated, "
            "and the sliding-window KV ring (%d slots) no longer holds the window "
            "before them",
            pos, from, s->kv_ring);

    memcpy(s->conv_saved, s->conv, s->conv_floats * sizeof(float));
    if (c)
        memcpy(s->conv, ckpt_at(s, c - 1), s->conv_floats * sizeof(float));
    else
        memset(s->conv, 0, s->conv_floats * sizeof(float));
    for (int32_t p = from; p < pos; p += s->n_batch) {
        const int32_t cn = pos - p < s->n_batch ? pos - p : s->n_batch;
        /* first_logit = cn: no logits, the output head is skipped */
        lfm_fwd_part part = {
            .seq = s, .tokens = s->tokens + p, .row0 = 0, .n = cn, .pos0 = p, .first_logit = cn};
        int st = lfm_forward_chunk(s, &part, 1, cn, NULL);
        if (st) {
            /* KV rows were rewritten with the values they held */
            memcpy(s->conv, s->conv_saved, s->conv_floats * sizeof(float));
            return st;
        }
        lfm_session_mark_checkpoints(s, p, cn);
    }
    s->pos = pos;
    clear_logits(s);
    return LFM2MOE_OK;
}

/* ---- KV cache access ------------------------------------------------ */

uint8_t *lfm_kv_head_ptr(const session *s, int32_t attn_index, int32_t head, int kind) {
    void *k, *v;
    lfm_session_kv(s, attn_index, &k, &v);
    return (uint8_t *)(kind == LFM_KV_K ? k : v) +
           (size_t)head *
               (size_t)lfm_kv_head_size(s->kv_type, lfm_session_kv_slots(s), s->model->hp.head_dim);
}

size_t lfm_kv_prefix(int32_t kv_type, int kind, int32_t n_pos, int64_t head_dim) {
    return (size_t)(kind == LFM_KV_K ? lfm_kv_k_prefix_bytes(kv_type, n_pos, head_dim)
                                     : lfm_kv_v_prefix_bytes(kv_type, n_pos, head_dim));
}

int lfm_floats_finite(const void *data, size_t n) {
    const unsigned char *p = data; /* any alignment */
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, p + i * 4, 4);
        if (!(f - f == 0.0f)) /* false for NaN and +-Inf */
            return 0;
    }
    return 1;
}

int lfm_kv_prefix_finite(int32_t kv_type, int kind, const void *prefix, int32_t n_pos,
                         int32_t head_dim) {
    if (kv_type == LFM_KV_F32)
        return lfm_floats_finite(prefix, lfm_kv_prefix(kv_type, kind, n_pos, head_dim) / 4);
    /* other types: every element the prefix holds (keys: whole blocks), read
     * through the cache's own accessors */
    const int64_t rows = kind == LFM_KV_K ? lfm_attn_ctx_alloc(n_pos) : n_pos;
    for (int64_t p = 0; p < rows; p++)
        for (int32_t i = 0; i < head_dim; i++) {
            float x = kind == LFM_KV_K ? lfm_kv_key(kv_type, prefix, p, i, head_dim)
                                       : lfm_kv_value(kv_type, prefix, p, i, head_dim);
            if (!(x - x == 0.0f)) return 0;
        }
    return 1;
}

/* ---- forks ------------------------------------------------------------ */

LFM2MOE_API int lfm2moe_session_copy(const session *src, const lfm2moe_session_params *params,
                                     session **out) {
    LFM_CHECK_ARG(out, "NULL output");
    *out = NULL;
    LFM_CHECK_ARG(src, "NULL source");
    lfm2moe_session_params own;
    if (!params) {
        lfm2moe_session_params_init(&own);
        own.n_ctx = src->n_ctx;
        own.n_threads = src->n_threads;
        own.n_batch = src->n_batch;
        own.checkpoint_interval = src->ckpt_interval;
        own.kv_type = src->kv_type;
        params = &own;
    }
    session *d = NULL;
    int st = lfm2moe_session_create(src->model, params, &d);
    if (st) return st;
    const int32_t n = src->pos;
    if (d->kv_type != src->kv_type) {
        lfm2moe_session_free(d);
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_copy: the copy's kv_type %d differs from the source's %d",
                        params->kv_type, src->kv_type);
    }
    if (n > d->n_ctx) {
        const int32_t room = d->n_ctx;
        lfm2moe_session_free(d);
        return lfm_fail(LFM2MOE_ERR_CONTEXT_FULL,
                        "lfm2moe_session_copy: %d tokens held, the copy's context is %d", n, room);
    }
    const lfm_hparams *hp = &src->model->hp;
    /* a ring past its size is not a prefix of positions: it copies whole
     * into a ring of the same size, and nowhere else */
    const int wrapped = (src->kv_ring && n > src->kv_ring) || (d->kv_ring && n > d->kv_ring);
    if (wrapped && d->kv_ring != src->kv_ring) {
        const int32_t ring = d->kv_ring; /* read before d is freed */
        lfm2moe_session_free(d);
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_copy: %d tokens held in a sliding-window KV ring of %d "
                        "slots; the copy's ring has %d (give it the same n_ctx and n_batch)",
                        n, src->kv_ring, ring);
    }
    if (wrapped) memcpy(d->kv, src->kv, lfm_session_kv_bytes(src));
    for (int32_t a = 0; a < src->model->n_attn_blocks && n && !wrapped; a++)
        for (int32_t h = 0; h < hp->n_head_kv; h++)
            for (int kind = LFM_KV_K; kind <= LFM_KV_V; kind++)
                memcpy(lfm_kv_head_ptr(d, a, h, kind), lfm_kv_head_ptr(src, a, h, kind),
                       lfm_kv_prefix(src->kv_type, kind, n, hp->head_dim));
    memcpy(d->tokens, src->tokens, (size_t)n * sizeof(int32_t));
    memcpy(d->conv, src->conv, src->conv_floats * sizeof(float));
    /* checkpoints carry over when they sit at the same positions */
    if (d->ckpt_interval == src->ckpt_interval) {
        int32_t nc = n / src->ckpt_interval;
        if (nc > src->n_ckpt) nc = src->n_ckpt;
        if (nc > d->n_ckpt) nc = d->n_ckpt;
        memcpy(d->ckpt, src->ckpt, (size_t)nc * src->conv_floats * sizeof(float));
        memcpy(d->ckpt_valid, src->ckpt_valid, (size_t)nc);
    }
    d->pos = n;
    *out = d;
    return LFM2MOE_OK;
}
