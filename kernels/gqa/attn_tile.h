/* The tile driver shared by the SIMD attention kernels.  The including
 * file defines, for its ISA:
 *
 *   ATTN_SCORES(S, s_stride, q, k, nblk, D, scale)
 *     S[r][p] = scale * q[r] . key(p), r < 4, p < nblk * KBLK
 *   ATTN_SOFTMAX(s, len, npos) -> sum
 *     s[0..len) <- exp(s - max), s[len..npos) <- 0, returns the sum
 *   ATTN_PV(O, P, p_stride, v, npos, D)
 *     O[r][0..D) = sum_{p < npos} P[r][p] v[p]           (O: [4][D]) */
#ifndef LFM_ATTN_TILE_H
#define LFM_ATTN_TILE_H

#include "attention.h"

/* The tile (attention.h) in blocks of 4 (token, head) rows, token-major:
 * with G = 4 a block is one token's heads, all at the same position.  A
 * block computes its scores for every key block up to its last row's
 * position, the softmax per row (weights zeroed past the row's position),
 * and the weighted sum of values.  A short last block repeats its last row
 * (results dropped). */
static void attn_tile(const lfm_attn_tile *a) {
    const int32_t G = a->G, D = a->D;
    const int64_t rows = (int64_t)a->n * G;
    const int64_t kpad = lfm_attn_ctx_alloc(a->pos0 + a->n);
    float *S = a->scratch;                   /* [4][kpad] scores, weights */
    float *O = a->scratch + 4 * kpad;        /* [4][D] unscaled outputs */
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
        const int64_t nr = rows - r0 < 4 ? rows - r0 : 4;
        const float *q[4];
        int64_t len[4], out_off[4];
        for (int r = 0; r < 4; r++) {
            const int64_t rr = r0 + (r < nr ? r : nr - 1);
            const int64_t t = rr / G, j = rr % G;
            q[r] = a->q + t * a->q_stride + j * D;
            out_off[r] = t * a->out_stride + j * D;
            len[r] = a->pos0 + t + 1;
        }
        const int64_t npos = len[3]; /* the longest: rows are token-major */
        const int64_t nblk = (npos + LFM_ATTN_KBLK - 1) / LFM_ATTN_KBLK;
        ATTN_SCORES(S, kpad, q, a->k, nblk, D, a->scale);
        float inv[4];
        for (int r = 0; r < 4; r++)
            inv[r] = 1.0f / ATTN_SOFTMAX(S + r * kpad, len[r], npos);
        ATTN_PV(O, S, kpad, a->v, npos, D);
        for (int64_t r = 0; r < nr; r++) {
            float *out = a->out + out_off[r];
            for (int32_t i = 0; i < D; i++)
                out[i] = O[r * D + i] * inv[r];
        }
    }
}

#endif
