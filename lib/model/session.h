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
#include "model/forward.h"
#include "model/model.h"
#include "model/threads.h"

typedef struct lfm_scratch {
    /* one role each (forward.c):  xn -> proj -> mixed -> out -> x -> xn */
    float *x;             /* [T][E] the residual stream */
    float *xn;            /* [T][E] rmsnorm(x): the input of the next op, FFN or output layer */
    float *proj;          /* [T][max(3E, (H+2Hkv)D)] the token mixer's input projections:
                      * conv B|C|x, attention q|k|v */
    float *mixed;         /* [T][max(E, H*D)] the token mixer's result, before its
                      * output projection */
    float *out;           /* [T][E] what an op or an FFN adds to the residual stream */
    void *actq;           /* encoded activation rows, [T*k] rows of the widest row */
    void *actq2;          /* second buffer (experts' gather / up weights of another type) */
    float *router;        /* [T][n_expert] */
    int32_t *exp_ids;     /* [T][k] */
    float *exp_w;         /* [T][k] */
    int32_t *slot_tok;    /* [T*k] token of each expert slot, grouped by expert */
    int32_t *tok_slot;    /* [T][k] slot of each (token, chosen expert) */
    int32_t *exp_first;   /* [n_expert+1] first slot of each expert */
    float *gate;          /* [T*k][max(n_ff_exp, n_ff)] */
    float *up;            /* [T*k][max(n_ff_exp, n_ff)] */
    float *eout;          /* [T*k][E] expert outputs */
    float *attn;          /* [n_threads][lfm_attn_scratch_floats(n_ctx, D)] attention tiles */
    lfm_attn_span *tiles; /* [T] attention tiles of a chunk (a tile has >= 1 row) */
    lfm_fwd_part *parts;  /* [T] sessions of a batched chunk (lfm2moe_decode_batch) */
} lfm_scratch;

struct lfm2moe_session {
    const lfm2moe_model *model;
    int32_t n_ctx;
    int32_t n_batch; /* tokens per forward chunk (T) */
    int32_t n_threads;
    int32_t pos;       /* tokens consumed */
    int32_t kv_type;   /* LFM_KV_* (attention.h): element type of the KV cache */
    int32_t kv_ring;   /* slots of each attention block's KV cache when it is a
                       * ring (sliding window), 0: the full n_ctx positions */
    void *kv_saved;    /* ring sessions: a copy of kv taken before a step of
                       * several chunks, for rollback (NULL otherwise) */
    void *kv;          /* per attention block: K then V, each [Hkv] heads of
                       * lfm_kv_head_bytes (layout: attention.h) */
    float *conv;       /* per conv block: [(L-1)][E] previous u values */
    float *conv_saved; /* copy of conv taken at step start, for rollback */
    size_t conv_floats;
    int32_t *tokens; /* [n_ctx] the tokens held: positions 0 .. pos-1 */
    /* Conv-state checkpoints (history.c): checkpoint i is the conv state
     * after the first (i+1)*ckpt_interval tokens; ckpt_valid[i] says it was
     * computed from the tokens now held (false after a load or copy that
     * did not carry it).  Checkpoints beyond pos are stale, never read. */
    int32_t ckpt_interval;
    int32_t n_ckpt;      /* n_ctx / ckpt_interval */
    float *ckpt;         /* [n_ckpt][conv_floats] */
    uint8_t *ckpt_valid; /* [n_ckpt] */
    float *logits;       /* [logits_cap_rows][n_vocab] of the last step */
    float *logits_next;  /* same size: the step being computed (swapped on success) */
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

/* Bytes of one kv head's K (or V) cache of an attention block holding
 * n_slots positions (the session's context, or a ring's slots: see
 * lfm_session_kv_slots) rounded up to whole key blocks, in the layout and
 * element type of attention.h. */
static inline int64_t lfm_kv_head_size(int32_t kv_type, int32_t n_slots, int64_t head_dim) {
    return lfm_kv_head_bytes(kv_type, n_slots, head_dim);
}

/* Positions an attention block's cache holds: the ring's slots, else the
 * whole context.  Position p is in slot lfm_attn_slot(p, s->kv_ring). */
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
    if (window <= 0) return 0;
    const int64_t ring = lfm_attn_ctx_alloc((int64_t)window + n_batch - 1);
    return ring < lfm_attn_ctx_alloc(n_ctx) ? (int32_t)ring : 0;
}

/* The first position whose K and V a session still holds: 0 with a full
 * cache; with a ring of R slots, position s->pos - R (the older ones were
 * overwritten).  Re-evaluating the tokens from position r on (a rewind to a
 * checkpoint at r) is exact only when they can see everything their window
 * needs: r - window + 1 <= first retained (lfm_session_can_rewind).
 * Otherwise the caller must refuse (or re-evaluate from further back).  A
 * ring's used slots are not a prefix of its bytes once pos > R: copies and
 * snapshots of ring sessions take the whole ring (lfm_session_kv_bytes). */
static inline int32_t lfm_session_kv_first_retained(const struct lfm2moe_session *s) {
    return s->kv_ring && s->pos > s->kv_ring ? s->pos - s->kv_ring : 0;
}

/* Whether tokens can be re-evaluated from position r (0 <= r <= s->pos)
 * with the KV cache as it is (see lfm_session_kv_first_retained). */
static inline int lfm_session_can_rewind(const struct lfm2moe_session *s, int32_t r) {
    const int32_t need = r - s->model->hp.n_swa + 1;
    return r >= 0 && r <= s->pos &&
           (!s->kv_ring || need <= 0 || need >= lfm_session_kv_first_retained(s));
}

/* Bytes of the whole KV cache (every attention block's K and V). */
static inline size_t lfm_session_kv_bytes(const struct lfm2moe_session *s) {
    return (size_t)s->model->n_attn_blocks * 2 * (size_t)s->model->hp.n_head_kv *
           (size_t)lfm_kv_head_size(s->kv_type, lfm_session_kv_slots(s), s->model->hp.head_dim);
}

/* The K and V caches of attention block attn_index: [Hkv] heads of
 * lfm_kv_head_size bytes each, K first.  Head g of K starts at
 * (uint8_t *)*k + g * lfm_kv_head_size(...).  Positions 0..pos-1 of a head
 * are its first lfm_kv_k_prefix_bytes (K) / lfm_kv_v_prefix_bytes (V)
 * bytes (attention.h): what a snapshot or a copy of the session needs. */
static inline void lfm_session_kv(const struct lfm2moe_session *s, int32_t attn_index, void **k,
                                  void **v) {
    const int64_t head =
        lfm_kv_head_size(s->kv_type, lfm_session_kv_slots(s), s->model->hp.head_dim);
    const int64_t both = 2 * s->model->hp.n_head_kv * head;
    *k = (uint8_t *)s->kv + (size_t)attn_index * (size_t)both;
    *v = (uint8_t *)*k + s->model->hp.n_head_kv * head;
}

/* ---- KV cache access for snapshots and copies (history.c) -------------
 * The used part of a kv head's cache is a prefix of its bytes
 * (lfm_kv_k_prefix_bytes / lfm_kv_v_prefix_bytes of attention.h), the same
 * whatever the session's n_ctx: copies and snapshots move those bytes. */
enum { LFM_KV_K = 0, LFM_KV_V = 1 };
/* Start of kv head `head`'s K (kind LFM_KV_K) or V cache of an attention block. */
uint8_t *lfm_kv_head_ptr(const struct lfm2moe_session *s, int32_t attn_index, int32_t head,
                         int kind);
/* Bytes of that cache holding positions 0..n_pos-1. */
size_t lfm_kv_prefix(int32_t kv_type, int kind, int32_t n_pos, int64_t head_dim);
/* 1 if such a prefix (suitably aligned) holds only finite values (a snapshot
 * check); lfm_floats_finite: the same for n floats at any alignment. */
int lfm_kv_prefix_finite(int32_t kv_type, int kind, const void *prefix, int32_t n_pos,
                         int32_t head_dim);
int lfm_floats_finite(const void *data, size_t n);

/* Write the checkpoints that fall in (pos0, pos0+n] for conv block
 * conv_index, from the in_proj output bcx ([n][3E]: B | C | x) and the conv
 * state as it is before the chunk runs (history.c; called by the conv
 * block before the kernel updates the state). */
void lfm_session_conv_checkpoints(struct lfm2moe_session *s, int32_t conv_index, const float *bcx,
                                  int32_t n, int32_t pos0);

/* Mark the checkpoints in (pos0, pos0+n] valid once a step over those
 * tokens has succeeded. */
void lfm_session_mark_checkpoints(struct lfm2moe_session *s, int32_t pos0, int32_t n);

/* lfm2moe_decode_step without clearing the cancel flag: lfm2moe_generate
 * clears it once at its start, so a cancel that arrives between two of its
 * steps (e.g. from the stream callback) is not lost. */
int lfm_session_decode(struct lfm2moe_session *s, const int32_t *tokens, int32_t n, uint32_t flags);

/* Make room for `rows` logits rows in both logits buffers, keeping the last
 * step's logits readable (OUT_OF_MEMORY leaves the session as it was). */
int lfm_session_reserve_logits(struct lfm2moe_session *s, int32_t rows);

#endif
