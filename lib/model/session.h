/* A session: one sequence's state (KV cache of the attention blocks, conv
 * state of the conv blocks, logits) plus the scratch memory and threads the
 * forward pass uses.  All memory is allocated at creation, so a decode step
 * cannot fail half-way for lack of memory. */
#ifndef LFM_SESSION_H
#define LFM_SESSION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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

/* Run the model over tokens[0..n) at positions pos0..pos0+n-1 (n <= n_batch,
 * ids already validated), updating the KV cache and conv state.  Writes the
 * logits of tokens first_logit..n-1 to logits_out (row 0 = token
 * first_logit; first_logit == n: none).  Returns LFM2MOE_OK or
 * LFM2MOE_ERR_CANCELLED (conv state then half-updated: the caller restores
 * it).  Never allocates. */
int lfm_forward_chunk(struct lfm2moe_session *s, const int32_t *tokens, int32_t n, int32_t pos0,
                      int32_t first_logit, float *logits_out);

/* lfm2moe_decode_step without clearing the cancel flag: lfm2moe_generate
 * clears it once at its start, so a cancel that arrives between two of its
 * steps (e.g. from the stream callback) is not lost. */
int lfm_session_decode(struct lfm2moe_session *s, const int32_t *tokens, int32_t n,
                       uint32_t flags);

#endif
