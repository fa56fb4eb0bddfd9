/* aarch64 NEON dots shared by arm_neon.c (ARM_DOTPROD 0: widening
 * multiplies smull + sadalp, base ARMv8-A) and arm_dotprod.c (ARM_DOTPROD 1:
 * sdot, built with -march=armv8.2-a+dotprod).  (Not named arm_neon.h: that
 * would shadow the compiler's header on this directory's include path.)
 *
 * Numerics, against the scalar references in quant*.c: every integer block
 * sum is exact (int8 products summed in int32), and the float step per block
 * (32-element types) or super-block (k-quants) is the scalar's formula in
 * the scalar's order, accumulated in the same order: results are bit for bit
 * the scalar's.  Built with -ffp-contract=off so nothing fuses. */
#ifndef ARM_DOTPROD
#error "define ARM_DOTPROD before including arm_kernels.h"
#endif

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "dispatch.h"
#include "quant_blocks.h"

/* Half -> float in one instruction (exact, as lfm_fp16_to_f32). */
static inline float arm_h2f(uint16_t h) {
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}

/* acc + four int32 partial sums of the 16 products a[i] * b[i] (each
 * |a b| <= 2^14, exact in the int16 of smull). */
static inline int32x4_t arm_dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if ARM_DOTPROD
    return vdotq_s32(acc, a, b);
#else
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

/* Sum of the 32 products of two 32-byte code rows. */
static inline int arm_dot32(int8x16_t a0, int8x16_t a1, const int8_t *b) {
    int32x4_t p = arm_dot16(vdupq_n_s32(0), a0, vld1q_s8(b));
    p = arm_dot16(p, a1, vld1q_s8(b + 16));
    return vaddvq_s32(p);
}

/* ---- 32-element blocks ---------------------------------------------------
 * Codes in element order: a0 = elements 0-15, a1 = 16-31. */

static inline void arm_nibbles(const uint8_t *qs, int8x16_t *a0, int8x16_t *a1) {
    const uint8x16_t b = vld1q_u8(qs);
    *a0 = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f)));
    *a1 = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

/* 0xff in byte j (j < 32) where bit j of the little-endian u32 qh is set. */
static inline void arm_bits32(const uint8_t qh[4], uint8x16_t *m0, uint8x16_t *m1) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t sel = vld1q_u8(bit);
    *m0 = vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), sel);
    *m1 = vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), sel);
}

static float dot_q4_0(int64_t n, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8x16_t q0, q1;
        arm_nibbles(x[i].qs, &q0, &q1);
        q0 = vsubq_s8(q0, vdupq_n_s8(8));
        q1 = vsubq_s8(q1, vdupq_n_s8(8));
        const int isum = arm_dot32(q0, q1, y[i].qs);
        sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum;
    }
    return sum;
}

static float dot_q5_0(int64_t n, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8x16_t q0, q1;
        uint8x16_t m0, m1;
        arm_nibbles(x[i].qs, &q0, &q1);
        arm_bits32(x[i].qh, &m0, &m1);
        /* a clear fifth bit means q - 16 < 0: or-ing 0xf0 into the nibble
         * gives exactly that two's-complement byte */
        q0 = vorrq_s8(q0, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(0xf0), m0)));
        q1 = vorrq_s8(q1, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(0xf0), m1)));
        const int isum = arm_dot32(q0, q1, y[i].qs);
        sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum;
    }
    return sum;
}

static float dot_q8_0(int64_t n, const void *w, const void *a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const int isum = arm_dot32(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), y[i].qs);
        sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum;
    }
    return sum;
}

/* The offset types add m * s per block (s from the Q8_1 activation). */
static float dot_q4_1(int64_t n, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8x16_t q0, q1;
        arm_nibbles(x[i].qs, &q0, &q1);
        const int isum = arm_dot32(q0, q1, y[i].qs);
        sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum +
               arm_h2f(x[i].m) * arm_h2f(y[i].s);
    }
    return sum;
}

static float dot_q5_1(int64_t n, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8x16_t q0, q1;
        uint8x16_t m0, m1;
        arm_nibbles(x[i].qs, &q0, &q1);
        arm_bits32(x[i].qh, &m0, &m1);
        q0 = vorrq_s8(q0, vreinterpretq_s8_u8(vandq_u8(m0, vdupq_n_u8(0x10))));
        q1 = vorrq_s8(q1, vreinterpretq_s8_u8(vandq_u8(m1, vdupq_n_u8(0x10))));
        const int isum = arm_dot32(q0, q1, y[i].qs);
        sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum +
               arm_h2f(x[i].m) * arm_h2f(y[i].s);
    }
    return sum;
}

/* ---- k-quants with Q8_K activations --------------------------------------- */

/* Q4_K / Q5_K super-block (qh NULL for Q4_K): sub-block j (32 elements) is
 * the low (j even) or high (j odd) nibbles of qs[32 (j/2) ..], plus 16 where
 * qh[l] bit j is set.  The scalar's d * (float)isum - dmin * (float)summ. */
static inline float arm_k4_k5(uint16_t dw, uint16_t dminw, const uint8_t *scales,
                              const uint8_t *qs, const uint8_t *qh, const block_q8_K *y) {
    /* the 8 six-bit scales and mins, four bytes at a time (lfm_scale_min_k4) */
    uint32_t u[3];
    memcpy(u, scales, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    const uint32_t sc4[2] = {u[0] & m6, (u[2] & m4) | (((u[0] >> 6) & m2) << 4)};
    const uint32_t mn4[2] = {u[1] & m6, ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4)};
    uint8_t sc[8], mn[8];
    memcpy(sc, sc4, 8);
    memcpy(mn, mn4, 8);

    /* summ = sum_j m_j (bsums[2j] + bsums[2j+1]); pair sums <= 2 * 16 * 127 */
    const int16x8_t pairs = vpaddq_s16(vld1q_s16(y->bsums), vld1q_s16(y->bsums + 8));
    const int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    int32x4_t ms = vmull_s16(vget_low_s16(pairs), vget_low_s16(m16));
    ms = vmlal_high_s16(ms, pairs, m16);
    const int summ = vaddvq_s32(ms);

    const uint8x16_t low4 = vdupq_n_u8(0x0f);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (qh) {
        h0 = vld1q_u8(qh);
        h1 = vld1q_u8(qh + 16);
    }
    int32x4_t acc = vdupq_n_s32(0);
    const int8_t *q8 = y->qs;
    for (int c = 0; c < 4; c++, qs += 32, q8 += 64) {
        const uint8x16_t b0 = vld1q_u8(qs), b1 = vld1q_u8(qs + 16);
        uint8x16_t l0 = vandq_u8(b0, low4), l1 = vandq_u8(b1, low4);
        uint8x16_t u0 = vshrq_n_u8(b0, 4), u1 = vshrq_n_u8(b1, 4);
        if (qh) {
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c)));
            const uint8x16_t bu = vdupq_n_u8((uint8_t)(2u << (2 * c)));
            const uint8x16_t sixteen = vdupq_n_u8(16);
            l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), sixteen));
            l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), sixteen));
            u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bu), sixteen));
            u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bu), sixteen));
        }
        int32x4_t p = arm_dot16(vdupq_n_s32(0), vreinterpretq_s8_u8(l0), vld1q_s8(q8));
        p = arm_dot16(p, vreinterpretq_s8_u8(l1), vld1q_s8(q8 + 16));
        acc = vmlaq_n_s32(acc, p, sc[2 * c]);
        p = arm_dot16(vdupq_n_s32(0), vreinterpretq_s8_u8(u0), vld1q_s8(q8 + 32));
        p = arm_dot16(p, vreinterpretq_s8_u8(u1), vld1q_s8(q8 + 48));
        acc = vmlaq_n_s32(acc, p, sc[2 * c + 1]);
    }
    const int isum = vaddvq_s32(acc);
    const float d = arm_h2f(dw) * y->d;
    const float dmin = arm_h2f(dminw) * y->d;
    return d * (float)isum - dmin * (float)summ;
}

static float dot_q4_K(int64_t n, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++)
        sum += arm_k4_k5(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, &y[i]);
    return sum;
}

static float dot_q5_K(int64_t n, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++)
        sum += arm_k4_k5(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, &y[i]);
    return sum;
}

/* Q6_K: per 128-element half, four 32-element rows of codes (low/high
 * nibbles of ql[0..31] / ql[32..63] with two bits of qh each), minus 32;
 * each 16 elements have their own scale. */
static float dot_q6_K(int64_t n, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const uint8x16_t low4 = vdupq_n_u8(0x0f), three = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int32x4_t acc = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            for (int k = 0; k < 2; k++) { /* elements 16k..16k+15 of each row */
                const uint8x16_t l0 = vld1q_u8(ql + 16 * k), l1 = vld1q_u8(ql + 32 + 16 * k);
                const uint8x16_t hb = vld1q_u8(qh + 16 * k);
                uint8x16_t c[4];
                c[0] = vorrq_u8(vandq_u8(l0, low4), vshlq_n_u8(vandq_u8(hb, three), 4));
                c[1] = vorrq_u8(vandq_u8(l1, low4),
                                vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), three), 4));
                c[2] = vorrq_u8(vshrq_n_u8(l0, 4),
                                vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), three), 4));
                c[3] = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                for (int r = 0; r < 4; r++) {
                    /* row r, elements 32r + 16k ..: group 2r + k of this half */
                    const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(c[r]), off);
                    const int32x4_t p = arm_dot16(vdupq_n_s32(0), q, vld1q_s8(q8 + 32 * r + 16 * k));
                    acc = vmlaq_n_s32(acc, p, sc[2 * r + k]);
                }
            }
        }
        const int isum = vaddvq_s32(acc);
        sum += arm_h2f(x[i].d) * y[i].d * (float)isum;
    }
    return sum;
}

static inline void arm_fill_int_dots(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q5_0] = dot_q5_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->dot[LFM_TYPE_Q4_1] = dot_q4_1;
    k->dot[LFM_TYPE_Q5_1] = dot_q5_1;
    k->dot[LFM_TYPE_Q4_K] = dot_q4_K;
    k->dot[LFM_TYPE_Q5_K] = dot_q5_K;
    k->dot[LFM_TYPE_Q6_K] = dot_q6_K;
}
