/* A session: one sequence's state (KV cache of the attention blocks, conv
 * state of the conv blocks, logits) plus the scratch memory and threads the
 * forward pass uses.  All memory is allocated at creation, so a decode step
 * cannot fail half-way for lack of memory. */
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
    float *kv;        /* per attention block: K then V, each [Hkv] x the layout of
                       * attention.h over lfm_attn_ctx_alloc(n_ctx) positions */
    float *conv;      /* per conv block: [(L-1)][E] previous u values */
    float *conv_saved; /* copy of conv taken at step start, for rollback */
    size_t conv_floats;
    int32_t *tokens;  /* [n_ctx] the tokens held: positions 0 .. pos-1 */
    /* Conv-state checkpoints (history.c): checkpoint i is the conv state
     * after the first (i+1)*ckpt_interval tokens; ckpt_valid[i] says it was
     * computed from the tokens now held (false after a load or copy that
     * did not carry it).  Checkpoints beyond pos are stale, never read. */
    int32_t ckpt_interval;
    int32_t n_ckpt;   /* n_ctx / ckpt_interval */
    float *ckpt;      /* [n_ckpt][conv_floats] */
    uint8_t *ckpt_valid; /* [n_ckpt] */
    float *logits;    /* [logits_cap_rows][n_vocab] of the last step */
    float *logits_next; /* same size: the step being computed (swapped on success) */
    int32_t logits_cap_rows;
    int32_t n_logits;     /* rows valid after the last step */
    int32_t logits_first; /* step-relative index of row 0 (-1: none) */
    int32_t last_step_tokens;
    size_t actq_row_bytes; /* capacity of one encoded row in actq/actq2 */
    lfm_scratch s;
    lfm_pool *pool;
    atomic_int cancel;
};

/* Floats of one kv head's K (or V) cache of an attention block: the
 * positions of the session rounded up to whole key blocks (the layout of
 * attention.h). */
static inline int64_t lfm_kv_head_floats(int32_t n_ctx, int64_t head_dim) {
    return (int64_t)lfm_attn_ctx_alloc(n_ctx) * head_dim;
}

/* The K and V caches of attention block attn_index: [Hkv] heads of
 * lfm_kv_head_floats each, K first. */
static inline void lfm_session_kv(const struct lfm2moe_session *s, int32_t attn_index,
                                  float **k, float **v) {
    const int64_t head = lfm_kv_head_floats(s->n_ctx, s->model->hp.head_dim);
    *k = s->kv + (size_t)attn_index * 2 * (size_t)(s->model->hp.n_head_kv * head);
    *v = *k + s->model->hp.n_head_kv * head;
}

/* ---- KV cache access for snapshots and copies (history.c) -------------
 * Everything outside forward.c and the attention kernels reads and writes
 * the cache through these, one (attention block, kv head, K or V, range of
 * positions) at a time, as packed [n][lfm_kv_pos_bytes] rows in the cache's
 * storage type, so the layout above can change without touching them. */
enum { LFM_KV_K = 0, LFM_KV_V = 1 };
/* Storage type of the cache (a GGUF type id; 0 = F32) and the bytes one
 * position of one head takes in packed form. */
uint32_t lfm_kv_type(const struct lfm2moe_session *s);
size_t lfm_kv_pos_bytes(const struct lfm2moe_session *s);
void lfm_kv_get(const struct lfm2moe_session *s, int32_t attn_index, int32_t head, int kind,
                int32_t p0, int32_t n, void *out);
void lfm_kv_put(struct lfm2moe_session *s, int32_t attn_index, int32_t head, int kind,
                int32_t p0, int32_t n, const void *in);
/* 1 if the packed rows (n positions) hold only finite values (a snapshot
 * check); lfm_floats_finite: the same for n floats at any alignment. */
int lfm_kv_rows_finite(const struct lfm2moe_session *s, const void *rows, int32_t n);
int lfm_floats_finite(const void *data, size_t n);

/* Write the checkpoints that fall in (pos0, pos0+n] for conv block
 * conv_index, from the in_proj output bcx ([n][3E]: B | C | x) and the conv
 * state as it is before the chunk runs (history.c; called by the conv
 * block before the kernel updates the state). */
void lfm_session_conv_checkpoints(struct lfm2moe_session *s, int32_t conv_index,
                                  const float *bcx, int32_t n, int32_t pos0);

/* Mark the checkpoints in (pos0, pos0+n] valid once a step over those
 * tokens has succeeded. */
void lfm_session_mark_checkpoints(struct lfm2moe_session *s, int32_t pos0, int32_t n);

/* lfm2moe_decode_step without clearing the cancel flag: lfm2moe_generate
 * clears it once at its start, so a cancel that arrives between two of its
 * steps (e.g. from the stream callback) is not lost. */
int lfm_session_decode(struct lfm2moe_session *s, const int32_t *tokens, int32_t n,
                       uint32_t flags);

#endif
