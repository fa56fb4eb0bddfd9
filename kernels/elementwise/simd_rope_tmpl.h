/* SIMD NEOX RoPE over lfm_vec.h: the cos/sin table of the position comes from
 * lfm_rope_table (libm, shared with the scalar reference, once per call for
 * all heads); the rotation uses the same separately rounded products and
 * sums, so the result is bit-identical to lfm_rope_neox_ref. */
#ifndef LFM_SIMD_ROPE_H
#define LFM_SIMD_ROPE_H

#include "rope.h"
#include "lfm_vec.h"

static void simd_rope_neox(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base) {
    const int32_t half = d / 2;
    float cs[LFM_ROPE_MAX_HALF], sn[LFM_ROPE_MAX_HALF];
    lfm_rope_table(cs, sn, d, pos, freq_base);
    for (int32_t h = 0; h < n_heads; h++) {
        float *v0 = x + (int64_t)h * d, *v1 = v0 + half;
        int32_t i = 0;
        for (; i + VN <= half; i += VN) {
            vf x0 = vld(v0 + i), x1 = vld(v1 + i), c = vld(cs + i), s = vld(sn + i);
            vst(v0 + i, vsub(vmul(x0, c), vmul(x1, s)));
            vst(v1 + i, vadd(vmul(x0, s), vmul(x1, c)));
        }
        for (; i < half; i++) {
            float x0 = v0[i], x1 = v1[i];
            v0[i] = x0 * cs[i] - x1 * sn[i];
            v1[i] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

#endif
