/* The forward pass (forward.c): the model over a chunk of stacked rows,
 * the tokens of one or several sessions of the same model. */
#ifndef LFM_FORWARD_H
#define LFM_FORWARD_H

#include <stdint.h>

struct lfm2moe_session;

/* One session's part of a chunk: stacked rows [row0, row0 + n) are
 * tokens[0..n) (ids already validated) of session seq, at its positions
 * pos0 .. pos0+n-1.  Rows first_logit..n-1 of the part give logits
 * (first_logit == n: none).  The parts of a chunk follow each other
 * (row0 of part i+1 = row0 + n of part i, from 0) and name distinct
 * sessions. */
typedef struct lfm_fwd_part {
    struct lfm2moe_session *seq;
    const int32_t *tokens;
    int32_t row0, n, pos0, first_logit;
} lfm_fwd_part;

/* A tile of attention work: rows [row0, row0 + n) of part `part` (scratch
 * of the forward pass, one per tile). */
typedef struct lfm_attn_span {
    int32_t part, row0, n;
} lfm_attn_span;

/* Run the model over the n_rows stacked rows of parts[0..n_parts)
 * (n_rows <= s->n_batch), updating each part's session's KV cache and conv
 * state, on the scratch and threads of s (a session whose context is at
 * least that of every part's session: its attention scratch is sized by
 * n_ctx).  Writes the logits rows of the parts, in part order, to
 * logits_out.  Returns LFM2MOE_OK or LFM2MOE_ERR_CANCELLED (if any part's
 * session was cancelled; conv states then half-updated: the caller
 * restores them).  Never allocates. */
int lfm_forward_chunk(struct lfm2moe_session *s, const lfm_fwd_part *parts, int32_t n_parts,
                      int32_t n_rows, float *logits_out);

#endif
