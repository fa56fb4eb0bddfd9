/* A session: one sequence's state (KV cache of the attention blocks, conv
 * state of the conv blocks, logits) plus the scratch memory and threads the
 * forward pass uses.  All memory is allocated at creation, so a decode step
 * cannot fail half-way for lack of memory; the one exception is the logits
 * of a step asking for all of them (LFM2MOE_DECODE_ALL_LOGITS), grown before
 * the step starts and counted against max_memory. */
#ifndef LFM_SESSION_H
#define LFM_SESSION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "attention.h"
#include "model/model.h"
#include "model/threads.h"

typedef struct lfm_scratch {
    float *x;        /* [T][E] residual stream */
    float *xn;       /* [T][E] normalised input of an op */
    float *big;      /* [T][max(3E, (H+2Hkv)D, 2*n_ff)] op intermediates */
    float *mix;      /* [T][max(E, H*D)] op output / attention output */
    void *actq;      /* encoded activation rows, [T*k] rows of the widest row */
    void *actq2;     /* second buffer (experts' gather / up weights of another type) */
    float *router;   /* [T][n_expert] */
    int32_t *exp_ids;   /* [T][k] */
    float *exp_w;       /* [T][k] */
    int32_t *slot_tok;  /* [T*k] token of each expert slot, grouped by expert */
    int32_t *tok_slot;  /* [T][k] slot of each (token, chosen expert) */
    int32_t *exp_first; /* [n_expert+1] first slot of each expert */
    float *gate;     /* [T*k][max(n_ff_exp, n_ff)] */
    float *up;       /* [T*k][max(n_ff_exp, n_ff)] */
    float *eout;     /* [T*k][E] expert outputs */
    float *attn;     /* [n_threads][lfm_attn_scratch_floats(n_ctx, D)] attention tiles */
} lfm_scratch;

struct lfm2moe_session {
    const lfm2moe_model *model;
    int32_t n_ctx;
    int32_t n_batch;  /* tokens per forward chunk (T) */
    int32_t n_threads;
    int32_t pos;      /* tokens consumed */
    int32_t kv_ring;  /* slots of each attention block's KV cache when it is a
                       * ring (sliding window), 0: the full n_ctx positions */
    float *kv;        /* per attention block: K then V, each [Hkv] x the layout of
                       * attention.h over lfm_session_kv_slots(s) slots */
    float *kv_saved;  /* ring sessions: a copy of kv taken before a step of
                       * several chunks, for rollback (NULL otherwise) */
    float *conv;      /* per conv block: [(L-1)][E] previous u values */
    float *conv_saved; /* copy of conv taken at step start, for rollback */
    size_t conv_floats;
    float *logits;    /* [logits_cap_rows][n_vocab] of the last step */
    float *logits_next; /* same size: the step being computed (swapped on success) */
    int32_t logits_cap_rows;
    uint64_t mem_bytes;   /* what the session holds: lfm2moe_session_memory_size, plus
                           * logits rows grown by LFM2MOE_DECODE_ALL_LOGITS steps */
    uint64_t max_memory;  /* the creation cap (0: none), also for that growth */
    int32_t n_logits;     /* rows valid after the last step */
    int32_t logits_first; /* step-relative index of row 0 (-1: none) */
    int32_t last_step_tokens;
    size_t actq_row_bytes; /* capacity of one encoded row in actq/actq2 */
    lfm_scratch s;
    lfm_pool *pool;
    atomic_int cancel;
};

/* Floats of one kv head's K (or V) cache of an attention block holding
 * n_slots positions, rounded up to whole key blocks (the layout of
 * attention.h). */
static inline int64_t lfm_kv_head_floats(int32_t n_slots, int64_t head_dim) {
    return (int64_t)lfm_attn_ctx_alloc(n_slots) * head_dim;
}

/* Positions an attention block's cache holds: the ring's slots, else the
 * whole context. */
static inline int32_t lfm_session_kv_slots(const struct lfm2moe_session *s) {
    return s->kv_ring ? s->kv_ring : s->n_ctx;
}

/* The ring size (slots) a session of n_ctx positions and chunks of n_batch
 * tokens uses for a sliding window of `window` positions, or 0 for a full
 * cache (no window, or a ring that would not be smaller).  A chunk writes
 * its n_batch positions before its first token reads the window-1 before
 * it, so the ring holds window + n_batch - 1 positions, in whole key
 * blocks. */
static inline int32_t lfm_kv_ring_slots(int32_t n_ctx, int32_t n_batch, int32_t window) {
    if (window <= 0)
        return 0;
    const int64_t ring = lfm_attn_ctx_alloc((int64_t)window + n_batch - 1);
    return ring < lfm_attn_ctx_alloc(n_ctx) ? (int32_t)ring : 0;
}

/* The first position whose K and V a session still holds: 0 with a full
 * cache; with a ring of R slots, position s->pos - R (the older ones were
 * overwritten).  Rewinding the session to position r (keeping tokens
 * 0..r-1) is exact only when the tokens from r on can see everything their
 * window needs: r - window + 1 <= first retained, i.e.
 * lfm_session_can_rewind.  Otherwise the caller must re-evaluate the
 * window's tokens (or refuse). */
static inline int32_t lfm_session_kv_first_retained(const struct lfm2moe_session *s) {
    return s->kv_ring && s->pos > s->kv_ring ? s->pos - s->kv_ring : 0;
}

/* Whether the state at position r (0 <= r <= s->pos) can be recovered from
 * the KV cache (see lfm_session_kv_first_retained). */
static inline int lfm_session_can_rewind(const struct lfm2moe_session *s, int32_t r) {
    const int32_t need = r - s->model->hp.n_swa + 1;
    return r >= 0 && r <= s->pos && (need <= 0 || need >= lfm_session_kv_first_retained(s));
}

/* The K and V caches of attention block attn_index: [Hkv] heads of
 * lfm_kv_head_floats each, K first.  Position p of a ring is in slot
 * lfm_attn_slot(p, s->kv_ring). */
static inline void lfm_session_kv(const struct lfm2moe_session *s, int32_t attn_index,
                                  float **k, float **v) {
    const int64_t head = lfm_kv_head_floats(lfm_session_kv_slots(s), s->model->hp.head_dim);
    *k = s->kv + (size_t)attn_index * 2 * (size_t)(s->model->hp.n_head_kv * head);
    *v = *k + s->model->hp.n_head_kv * head;
}

/* lfm2moe_decode_step without clearing the cancel flag: lfm2moe_generate
 * clears it once at its start, so a cancel that arrives between two of its
 * steps (e.g. from the stream callback) is not lost. */
int lfm_session_decode(struct lfm2moe_session *s, const int32_t *tokens, int32_t n,
                       uint32_t flags);

#endif
