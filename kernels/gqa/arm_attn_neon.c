/* aarch64 NEON attention tile (attention.h, attn_tile.h), 128-bit.
 * Numerics as the x86 kernels (x86_attention.h): fused score products in
 * the scalar's order, the same exp polynomial, softmax sum in float (4
 * partial sums). */
#include "attention.h"

#include <math.h>

#include <arm_neon.h>

#define VCHUNK 64 /* positions per pass over V (see x86_attn_avx2.c) */

/* exp(x) for softmax arguments, 4 lanes: the range reduction and Cephes
 * polynomial of attn_exp8 (x86_attention.h); x below -87.33 clamps there. */
static inline float32x4_t exp4(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.33654f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t y = vdupq_n_f32(1.9875691500e-4f);
    y = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), y, r);
    y = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), y, r);
    y = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), y, r);
    y = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), y, r);
    y = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), y, r);
    y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), y, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(e));
}

/* Lanes i < m (0 <= m <= 4). */
static inline uint32x4_t lanes_below(int64_t m) {
    static const uint32_t idx[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)m));
}

/* ATTN_SOFTMAX of attn_tile.h. */
static float softmax_neon(float *s, int64_t len, int64_t npos) {
    const int64_t full = len / 4 * 4;
    float32x4_t m = vdupq_n_f32(-INFINITY);
    for (int64_t p = 0; p < full; p += 4)
        m = vmaxq_f32(m, vld1q_f32(s + p));
    const uint32x4_t tail = lanes_below(len - full);
    if (full < len)
        m = vmaxq_f32(m, vbslq_f32(tail, vld1q_f32(s + full), vdupq_n_f32(-INFINITY)));
    const float32x4_t mx = vdupq_n_f32(vmaxvq_f32(m));
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (int64_t p = 0; p < full; p += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(s + p), mx));
        vst1q_f32(s + p, e);
        sum = vaddq_f32(sum, e);
    }
    int64_t p = full;
    if (full < len) {
        const float32x4_t e = vreinterpretq_f32_u32(vandq_u32(
            vreinterpretq_u32_f32(exp4(vsubq_f32(vld1q_f32(s + full), mx))), tail));
        vst1q_f32(s + full, e);
        sum = vaddq_f32(sum, e);
        p += 4;
    }
    for (; p < npos; p++)
        s[p] = 0.0f;
    return vaddvq_f32(sum);
}

/* S[r][p] = scale * q[r] . key(p): 4 rows x 16 positions, 16 accumulators;
 * a key block row is 4 loads reused by the 4 rows. */
static void scores_neon(float *S, int64_t s_stride, const float *q[4], const float *k,
                        int64_t nblk, int32_t D, float scale) {
    for (int64_t b = 0; b < nblk; b++) {
        const float *kb = k + b * D * LFM_ATTN_KBLK; /* [D][16] */
        float32x4_t acc[4][4];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                acc[r][c] = vdupq_n_f32(0.0f);
        for (int32_t i = 0; i < D; i++) {
            const float *kr = kb + i * LFM_ATTN_KBLK;
            const float32x4_t k0 = vld1q_f32(kr), k1 = vld1q_f32(kr + 4);
            const float32x4_t k2 = vld1q_f32(kr + 8), k3 = vld1q_f32(kr + 12);
            for (int r = 0; r < 4; r++) {
                const float x = q[r][i];
                acc[r][0] = vfmaq_n_f32(acc[r][0], k0, x);
                acc[r][1] = vfmaq_n_f32(acc[r][1], k1, x);
                acc[r][2] = vfmaq_n_f32(acc[r][2], k2, x);
                acc[r][3] = vfmaq_n_f32(acc[r][3], k3, x);
            }
        }
        float *s = S + b * LFM_ATTN_KBLK;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                vst1q_f32(s + r * s_stride + 4 * c, vmulq_n_f32(acc[r][c], scale));
    }
}

/* O[r][d..d+16) (+)= sum_{p in [p0,p1)} P[r][p] v[p][d..d+16). */
static inline void pv16(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                        int64_t p0, int64_t p1, int32_t d, int first) {
    float32x4_t acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = first ? vdupq_n_f32(0.0f) : vld1q_f32(O + r * D + d + 4 * c);
    for (int64_t p = p0; p < p1; p++) {
        const float *vp = v + p * D + d;
        const float32x4_t v0 = vld1q_f32(vp), v1 = vld1q_f32(vp + 4);
        const float32x4_t v2 = vld1q_f32(vp + 8), v3 = vld1q_f32(vp + 12);
        for (int r = 0; r < 4; r++) {
            const float w = P[r * ps + p];
            acc[r][0] = vfmaq_n_f32(acc[r][0], v0, w);
            acc[r][1] = vfmaq_n_f32(acc[r][1], v1, w);
            acc[r][2] = vfmaq_n_f32(acc[r][2], v2, w);
            acc[r][3] = vfmaq_n_f32(acc[r][3], v3, w);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            vst1q_f32(O + r * D + d + 4 * c, acc[r][c]);
}

/* The same for 4 columns. */
static inline void pv4(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                       int64_t p0, int64_t p1, int32_t d, int first) {
    float32x4_t acc[4];
    for (int r = 0; r < 4; r++)
        acc[r] = first ? vdupq_n_f32(0.0f) : vld1q_f32(O + r * D + d);
    for (int64_t p = p0; p < p1; p++) {
        const float32x4_t v0 = vld1q_f32(v + p * D + d);
        for (int r = 0; r < 4; r++)
            acc[r] = vfmaq_n_f32(acc[r], v0, P[r * ps + p]);
    }
    for (int r = 0; r < 4; r++)
        vst1q_f32(O + r * D + d, acc[r]);
}

static void pv_neon(float *O, const float *P, int64_t ps, const float *v, int64_t npos,
                    int32_t D) {
    for (int64_t p0 = 0; p0 < npos; p0 += VCHUNK) {
        const int64_t p1 = npos - p0 < VCHUNK ? npos : p0 + VCHUNK;
        int32_t d = 0;
        for (; d + 16 <= D; d += 16)
            pv16(O, D, P, ps, v, p0, p1, d, p0 == 0);
        for (; d + 4 <= D; d += 4)
            pv4(O, D, P, ps, v, p0, p1, d, p0 == 0);
        for (; d < D; d++) /* the last D % 4 columns */
            for (int r = 0; r < 4; r++) {
                float o = p0 == 0 ? 0.0f : O[r * D + d];
                for (int64_t p = p0; p < p1; p++)
                    o = fmaf(P[r * ps + p], v[p * D + d], o);
                O[r * D + d] = o;
            }
    }
}

#define ATTN_SCORES scores_neon
#define ATTN_SOFTMAX softmax_neon
#define ATTN_PV pv_neon
#include "attn_tile.h"

void lfm_attention_tile_neon(const lfm_attn_tile *a) {
    attn_tile(a);
}
