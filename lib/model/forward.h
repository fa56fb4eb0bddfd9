/* The forward pass (forward.c): the model over a chunk of tokens. */
#ifndef LFM_FORWARD_H
#define LFM_FORWARD_H

#include <stdint.h>

struct lfm2moe_session;

/* Run the model over tokens[0..n) at positions pos0..pos0+n-1 (n <= n_batch,
 * ids already validated), updating the KV cache and conv state.  Writes the
 * logits of tokens first_logit..n-1 to logits_out (row 0 = token
 * first_logit; first_logit == n: none).  Returns LFM2MOE_OK or
 * LFM2MOE_ERR_CANCELLED (conv state then half-updated: the caller restores
 * it).  Never allocates. */
int lfm_forward_chunk(struct lfm2moe_session *s, const int32_t *tokens, int32_t n, int32_t pos0,
                      int32_t first_logit, float *logits_out);

#endif
