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
#error "define ARM_DOTPROD before including arm_kernels_tmpl.h"
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

/* Signed codes of one weight block (elements 0-15, 16-31). */
static inline void codes_q4_0(const block_q4_0 *b, int8x16_t *q0, int8x16_t *q1) {
    arm_nibbles(b->qs, q0, q1);
    *q0 = vsubq_s8(*q0, vdupq_n_s8(8));
    *q1 = vsubq_s8(*q1, vdupq_n_s8(8));
}

static inline void codes_q5_0(const block_q5_0 *b, int8x16_t *q0, int8x16_t *q1) {
    uint8x16_t m0, m1;
    arm_nibbles(b->qs, q0, q1);
    arm_bits32(b->qh, &m0, &m1);
    /* a clear fifth bit means q - 16 < 0: or-ing 0xf0 into the nibble gives
     * exactly that two's-complement byte */
    *q0 = vorrq_s8(*q0, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(0xf0), m0)));
    *q1 = vorrq_s8(*q1, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(0xf0), m1)));
}

static inline void codes_q8_0(const block_q8_0 *b, int8x16_t *q0, int8x16_t *q1) {
    *q0 = vld1q_s8(b->qs);
    *q1 = vld1q_s8(b->qs + 16);
}

/* Unsigned codes (< 32) of the offset types. */
static inline void codes_q4_1(const block_q4_1 *b, int8x16_t *q0, int8x16_t *q1) {
    arm_nibbles(b->qs, q0, q1);
}

static inline void codes_q5_1(const block_q5_1 *b, int8x16_t *q0, int8x16_t *q1) {
    uint8x16_t m0, m1;
    arm_nibbles(b->qs, q0, q1);
    arm_bits32(b->qh, &m0, &m1);
    *q0 = vorrq_s8(*q0, vreinterpretq_s8_u8(vandq_u8(m0, vdupq_n_u8(0x10))));
    *q1 = vorrq_s8(*q1, vreinterpretq_s8_u8(vandq_u8(m1, vdupq_n_u8(0x10))));
}

/* Tiles: activation rows in groups of up to ARM_T per weight row, each
 * weight block decoded once per group; per output exactly the dot's
 * operations, so tiles and dots agree bit for bit. */
#define ARM_T 4

/* Signed-weight types with Q8_0 activations: the scalar's
 * sum += dw * da * (float)isum per block. */
#define SIGNED_Q8_0(sfx, btype)                                                                    \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                              \
        const btype *x = w;                                                                        \
        const block_q8_0 *y = a;                                                                   \
        float sum = 0.0f;                                                                          \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                              \
            int8x16_t q0, q1;                                                                      \
            codes_##sfx(&x[i], &q0, &q1);                                                          \
            const int isum = arm_dot32(q0, q1, y[i].qs);                                           \
            sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum;                                \
        }                                                                                          \
        return sum;                                                                                \
    }                                                                                              \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,           \
                         size_t as, int64_t nt, float *out, int64_t os) {                          \
        const int64_t nb = n / QK_LEGACY;                                                          \
        for (int64_t t = 0; t < nt; t += ARM_T) {                                                  \
            const int tn = (int)(nt - t < ARM_T ? nt - t : ARM_T);                                 \
            const block_q8_0 *y[ARM_T];                                                            \
            for (int j = 0; j < tn; j++)                                                           \
                y[j] = (const block_q8_0 *)((const uint8_t *)a + (size_t)(t + j) * as);            \
            for (int64_t r = 0; r < nr; r++) {                                                     \
                const btype *x = (const btype *)((const uint8_t *)w + (size_t)r * ws);             \
                float sum[ARM_T] = {0};                                                            \
                for (int64_t i = 0; i < nb; i++) {                                                 \
                    int8x16_t q0, q1;                                                              \
                    codes_##sfx(&x[i], &q0, &q1);                                                  \
                    const float dx = arm_h2f(x[i].d);                                              \
                    for (int j = 0; j < tn; j++)                                                   \
                        sum[j] += dx * arm_h2f(y[j][i].d) * (float)arm_dot32(q0, q1, y[j][i].qs);  \
                }                                                                                  \
                for (int j = 0; j < tn; j++)                                                       \
                    out[(t + j) * os + r] = sum[j];                                                \
            }                                                                                      \
        }                                                                                          \
    }

SIGNED_Q8_0(q4_0, block_q4_0)
SIGNED_Q8_0(q5_0, block_q5_0)
SIGNED_Q8_0(q8_0, block_q8_0)

/* The offset types add m * s per block (s from the Q8_1 activation). */
#define OFFSET_Q8_1(sfx, btype)                                                                    \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                              \
        const btype *x = w;                                                                        \
        const block_q8_1 *y = a;                                                                   \
        float sum = 0.0f;                                                                          \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                              \
            int8x16_t q0, q1;                                                                      \
            codes_##sfx(&x[i], &q0, &q1);                                                          \
            const int isum = arm_dot32(q0, q1, y[i].qs);                                           \
            sum += arm_h2f(x[i].d) * arm_h2f(y[i].d) * (float)isum +                               \
                   arm_h2f(x[i].m) * arm_h2f(y[i].s);                                              \
        }                                                                                          \
        return sum;                                                                                \
    }

OFFSET_Q8_1(q4_1, block_q4_1)
OFFSET_Q8_1(q5_1, block_q5_1)

/* ---- k-quants with Q8_K activations --------------------------------------- */

/* A decoded Q4_K / Q5_K super-block: sub-block j (32 elements) in
 * q[2j], q[2j+1]; its 6-bit scale and min. */
typedef struct kq4 {
    int8x16_t q[16];
    uint8_t sc[8];
    int16x8_t mins;
    float d, dmin; /* the half fields, decoded */
} kq4;

/* Sub-block j is the low (j even) or high (j odd) nibbles of qs[32 (j/2)
 * ..], plus 16 where qh[l] bit j is set (qh NULL for Q4_K). */
static inline void kq4_decode(kq4 *k, uint16_t d, uint16_t dmin, const uint8_t *scales,
                              const uint8_t *qs, const uint8_t *qh) {
    uint32_t sc4[2], mn4[2];
    lfm_scale_min_k4_x8(scales, sc4, mn4);
    uint8_t mn[8];
    memcpy(k->sc, sc4, 8);
    memcpy(mn, mn4, 8);
    k->mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));

    const uint8x16_t low4 = vdupq_n_u8(0x0f), sixteen = vdupq_n_u8(16);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (qh) {
        h0 = vld1q_u8(qh);
        h1 = vld1q_u8(qh + 16);
    }
    for (int c = 0; c < 4; c++, qs += 32) {
        const uint8x16_t b0 = vld1q_u8(qs), b1 = vld1q_u8(qs + 16);
        uint8x16_t l0 = vandq_u8(b0, low4), l1 = vandq_u8(b1, low4);
        uint8x16_t u0 = vshrq_n_u8(b0, 4), u1 = vshrq_n_u8(b1, 4);
        if (qh) {
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c)));
            const uint8x16_t bu = vdupq_n_u8((uint8_t)(2u << (2 * c)));
            l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), sixteen));
            l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), sixteen));
            u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bu), sixteen));
            u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bu), sixteen));
        }
        k->q[4 * c] = vreinterpretq_s8_u8(l0);
        k->q[4 * c + 1] = vreinterpretq_s8_u8(l1);
        k->q[4 * c + 2] = vreinterpretq_s8_u8(u0);
        k->q[4 * c + 3] = vreinterpretq_s8_u8(u1);
    }
    k->d = arm_h2f(d);
    k->dmin = arm_h2f(dmin);
}

/* The scalar's d * (float)isum - dmin * (float)summ for one super-block. */
static inline float kq4_apply(const kq4 *k, const block_q8_K *y) {
    /* summ = sum_j m_j (bsums[2j] + bsums[2j+1]); pair sums <= 2 * 16 * 127 */
    const int16x8_t pairs = vpaddq_s16(vld1q_s16(y->bsums), vld1q_s16(y->bsums + 8));
    int32x4_t ms = vmull_s16(vget_low_s16(pairs), vget_low_s16(k->mins));
    ms = vmlal_high_s16(ms, pairs, k->mins);
    const int summ = vaddvq_s32(ms);
    int32x4_t acc = vdupq_n_s32(0);
    for (int j = 0; j < 8; j++) {
        int32x4_t p = arm_dot16(vdupq_n_s32(0), k->q[2 * j], vld1q_s8(y->qs + 32 * j));
        p = arm_dot16(p, k->q[2 * j + 1], vld1q_s8(y->qs + 32 * j + 16));
        acc = vmlaq_n_s32(acc, p, k->sc[j]);
    }
    const int isum = vaddvq_s32(acc);
    const float d = k->d * y->d;
    const float dmin = k->dmin * y->d;
    return d * (float)isum - dmin * (float)summ;
}

/* A decoded Q6_K super-block: signed codes q - 32 of elements 16g..16g+15
 * in q[g], with scale sc[g]. */
typedef struct kq6 {
    int8x16_t q[16];
    int8_t sc[16];
    float d;
} kq6;

/* Per 128-element half, four 32-element rows: low / high nibbles of
 * ql[0..31] / ql[32..63], each with two bits of qh[0..31]. */
static inline void kq6_decode(kq6 *k, const block_q6_K *x) {
    const uint8x16_t low4 = vdupq_n_u8(0x0f), three = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    const uint8_t *ql = x->ql, *qh = x->qh;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
        for (int c = 0; c < 2; c++) { /* elements 16c..16c+15 of each row */
            const uint8x16_t l0 = vld1q_u8(ql + 16 * c), l1 = vld1q_u8(ql + 32 + 16 * c);
            const uint8x16_t hb = vld1q_u8(qh + 16 * c);
            uint8x16_t r[4];
            r[0] = vorrq_u8(vandq_u8(l0, low4), vshlq_n_u8(vandq_u8(hb, three), 4));
            r[1] = vorrq_u8(vandq_u8(l1, low4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), three), 4));
            r[2] = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), three), 4));
            r[3] = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
            /* row i, elements 32i + 16c: group 8h + 2i + c */
            for (int i = 0; i < 4; i++)
                k->q[8 * h + 2 * i + c] = vsubq_s8(vreinterpretq_s8_u8(r[i]), off);
        }
    }
    memcpy(k->sc, x->scales, 16);
    k->d = arm_h2f(x->d);
}

/* The scalar's dw * da * (float)isum for one super-block. */
static inline float kq6_apply(const kq6 *k, const block_q8_K *y) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int g = 0; g < 16; g++)
        acc = vmlaq_n_s32(acc, arm_dot16(vdupq_n_s32(0), k->q[g], vld1q_s8(y->qs + 16 * g)),
                          k->sc[g]);
    return k->d * y->d * (float)vaddvq_s32(acc);
}

/* Q2_K / Q3_K: element 128h + 32s + l (l < 32) has its two low bits at
 * bits 2s, 2s+1 of qs[32h + l]; q[g] holds the codes of elements 16g ..
 * 16g+15 (g = 8h + 2s + l/16), each group with its own scale. */
static inline void kq_2bit_codes(const uint8_t *qs, int8x16_t q[16]) {
    const uint8x16_t three = vdupq_n_u8(3);
    for (int h = 0; h < 2; h++) {
        const uint8x16_t b0 = vld1q_u8(qs + 32 * h), b1 = vld1q_u8(qs + 32 * h + 16);
        for (int s = 0; s < 4; s++) {
            const int8x16_t sh = vdupq_n_s8((int8_t)(-2 * s)); /* right shift */
            q[8 * h + 2 * s] = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(b0, sh), three));
            q[8 * h + 2 * s + 1] = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(b1, sh), three));
        }
    }
}

typedef struct kq2 {
    int8x16_t q[16];   /* codes 0..3 */
    uint8_t sc[16];    /* low nibbles of the scales */
    int16x8_t mins[2]; /* high nibbles, groups 0-7 and 8-15 */
    float d, dmin;
} kq2;

static inline void kq2_decode(kq2 *k, const block_q2_K *x) {
    kq_2bit_codes(x->qs, k->q);
    const uint8x16_t raw = vld1q_u8(x->scales);
    vst1q_u8(k->sc, vandq_u8(raw, vdupq_n_u8(0x0f)));
    const uint8x16_t mn = vshrq_n_u8(raw, 4);
    k->mins[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn)));
    k->mins[1] = vreinterpretq_s16_u16(vmovl_high_u8(mn));
    k->d = arm_h2f(x->d);
    k->dmin = arm_h2f(x->dmin);
}

/* The scalar's dall * (float)isum - dmin * (float)summs. */
static inline float kq2_apply(const kq2 *k, const block_q8_K *y) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int g = 0; g < 16; g++)
        acc = vmlaq_n_s32(acc, arm_dot16(vdupq_n_s32(0), k->q[g], vld1q_s8(y->qs + 16 * g)),
                          k->sc[g]);
    const int16x8_t b0 = vld1q_s16(y->bsums), b1 = vld1q_s16(y->bsums + 8);
    int32x4_t ms = vmull_s16(vget_low_s16(b0), vget_low_s16(k->mins[0]));
    ms = vmlal_high_s16(ms, b0, k->mins[0]);
    ms = vmlal_s16(ms, vget_low_s16(b1), vget_low_s16(k->mins[1]));
    ms = vmlal_high_s16(ms, b1, k->mins[1]);
    const int isum = vaddvq_s32(acc), summs = vaddvq_s32(ms);
    const float dall = y->d * k->d;
    const float dmin = y->d * k->dmin;
    return dall * (float)isum - dmin * (float)summs;
}

typedef struct kq3 {
    int8x16_t q[16]; /* codes -4..3 */
    int sc[16];      /* signed scales */
    float d;
} kq3;

/* The stored high bit (hmask[l] bit 4h + s) set means "no -4". */
static inline void kq3_decode(kq3 *k, const block_q3_K *x) {
    kq_2bit_codes(x->qs, k->q);
    const uint8x16_t hm0 = vld1q_u8(x->hmask), hm1 = vld1q_u8(x->hmask + 16);
    const uint8x16_t four = vdupq_n_u8(4);
    for (int h = 0; h < 2; h++) {
        for (int s = 0; s < 4; s++) {
            const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * h + s)));
            int8x16_t *q = &k->q[8 * h + 2 * s];
            q[0] = vsubq_s8(q[0], vreinterpretq_s8_u8(vbicq_u8(four, vtstq_u8(hm0, bit))));
            q[1] = vsubq_s8(q[1], vreinterpretq_s8_u8(vbicq_u8(four, vtstq_u8(hm1, bit))));
        }
    }
    lfm_q3k_scales(x->scales, k->sc);
    k->d = arm_h2f(x->d);
}

/* The scalar's dw * da * (float)isum. */
static inline float kq3_apply(const kq3 *k, const block_q8_K *y) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int g = 0; g < 16; g++)
        acc = vmlaq_n_s32(acc, arm_dot16(vdupq_n_s32(0), k->q[g], vld1q_s8(y->qs + 16 * g)),
                          k->sc[g]);
    return k->d * y->d * (float)vaddvq_s32(acc);
}

#define KQ_ROWS_T ARM_T
#include "kquant_rows_tmpl.h"

static inline void arm_fill_int_dots(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q5_0] = dot_q5_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->dot[LFM_TYPE_Q4_1] = dot_q4_1;
    k->dot[LFM_TYPE_Q5_1] = dot_q5_1;
    k->dot[LFM_TYPE_Q4_K] = dot_q4_K;
    k->dot[LFM_TYPE_Q5_K] = dot_q5_K;
    k->dot[LFM_TYPE_Q6_K] = dot_q6_K;
    k->mm[LFM_TYPE_Q4_0] = mm_q4_0;
    k->mm[LFM_TYPE_Q5_0] = mm_q5_0;
    k->mm[LFM_TYPE_Q8_0] = mm_q8_0;
    k->mm[LFM_TYPE_Q4_K] = mm_q4_K;
    k->mm[LFM_TYPE_Q5_K] = mm_q5_K;
    k->mm[LFM_TYPE_Q6_K] = mm_q6_K;
    k->dot[LFM_TYPE_Q2_K] = dot_q2_K;
    k->dot[LFM_TYPE_Q3_K] = dot_q3_K;
    k->mm[LFM_TYPE_Q2_K] = mm_q2_K;
    k->mm[LFM_TYPE_Q3_K] = mm_q3_K;
}
