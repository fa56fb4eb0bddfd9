/* Causal grouped-query attention over a KV cache. */
#ifndef LFM_ATTENTION_H
#define LFM_ATTENTION_H

#include <stdint.h>

/* Attention output for query token t at absolute position pos (it sees cache
 * positions 0..pos inclusive), for query heads [h0, h1):
 *   q   : [H][D]           (normed and rotated)
 *   kc  : [n_ctx][Hkv][D]  cache of keys,   row stride Hkv*D
 *   vc  : [n_ctx][Hkv][D]  cache of values
 *   out : [H][D]
 * Query head h reads kv head h / (H / Hkv).  scores = q.k * scale, softmax
 * over positions (max subtracted, sum in double), out = sum p * v.
 * scratch holds pos+1 floats. */
void lfm_attention_token(float *out, const float *q, const float *kc, const float *vc,
                         int64_t pos, int32_t H, int32_t Hkv, int32_t D, float scale,
                         int32_t h0, int32_t h1, float *scratch);

#endif
