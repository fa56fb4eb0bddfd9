/* aarch64 NEON kernels (the NEON level of kernels/dispatch): activation
 * encodings, float dots, and the integer dots of arm_kernels_tmpl.h with
 * widening multiplies.
 *
 * Numerics, against the scalar references in quant*.c:
 *   - activation encodings: byte-identical (same d, same multiplier, the
 *     same nearest-even rounding via fcvtns; F16 differs only in NaN
 *     payloads);
 *   - integer dots: bit-identical (arm_kernels_tmpl.h);
 *   - float dots: 4 x 4 lanes with FMA (summation order differs).
 * Built with -ffp-contract=off so only the explicit FMAs fuse. */
#define ARM_DOTPROD 0
#include "arm_kernels_tmpl.h"

/* ---- activations ---------------------------------------------------------- */

/* Largest |x| of n (a multiple of 4) floats; NaN is skipped like the
 * scalar's comparisons skip it (fmaxnm). */
static inline float amax_n(const float *x, int n) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < n; j += 4)
        m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxnmvq_f32(m);
}

/* 16 codes nearest-even(x * mul), saturated to int8 (callers' values are
 * within [-127, 127] up to rounding, so only the scalar's min(127, .) can
 * act). */
static inline int8x16_t quant16(const float *x, float32x4_t mul) {
    const int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x), mul));
    const int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 4), mul));
    const int32x4_t c = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 8), mul));
    const int32x4_t d = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 12), mul));
    const int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    const int16x8_t cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
    return vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
}

/* Q8_0 / Q8_1 block: d = amax/127, multiplier 127/amax (the scalar's
 * act_block_q8); returns the sum of the codes. */
static inline int act_block(const float *x, float *d, int8_t *qs) {
    const float amax = amax_n(x, QK_LEGACY);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const float32x4_t mul = vdupq_n_f32(id);
    const int8x16_t q0 = quant16(x, mul), q1 = quant16(x + 16, mul);
    vst1q_s8(qs, q0);
    vst1q_s8(qs + 16, q1);
    *d = amax / 127.f;
    return vaddlvq_s8(q0) + vaddlvq_s8(q1);
}

static void act_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK_LEGACY; i++, b++, src += QK_LEGACY) {
        float d;
        act_block(src, &d, b->qs);
        b->d = lfm_f32_to_fp16(d);
    }
}

static void act_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK_LEGACY; i++, b++, src += QK_LEGACY) {
        float d;
        const int sum = act_block(src, &d, b->qs);
        b->d = lfm_f32_to_fp16(d);
        b->s = lfm_f32_to_fp16(d * (float)sum);
    }
}

static void act_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        const float amax = amax_n(x, QK_K);
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        /* the scalar keeps the first element reaching amax: its sign */
        float max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (x[j] == amax || x[j] == -amax) {
                max = x[j];
                break;
            }
        }
        const float iscale = -127.f / max;
        const float32x4_t mul = vdupq_n_f32(iscale);
        for (int j = 0; j < QK_K; j += 16) {
            const int8x16_t q = quant16(x + j, mul);
            vst1q_s8(y->qs + j, q);
            y->bsums[j / 16] = vaddlvq_s8(q);
        }
        y->d = 1 / iscale;
    }
}

static void act_f16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    int64_t i = 0;
    /* fcvtn rounds to nearest even (the default FPCR mode) */
    for (; i + 4 <= n; i += 4)
        vst1_u16(d + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    for (; i < n; i++)
        d[i] = lfm_f32_to_fp16(src[i]);
}

/* Integer round-to-nearest-even of the top 16 bits, NaN -> quiet NaN: the
 * scalar lfm_f32_to_bf16 lane by lane. */
static void act_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    int64_t i = 0;
    const uint32x4_t abs_mask = vdupq_n_u32(0x7fffffff), inf = vdupq_n_u32(0x7f800000);
    for (; i + 4 <= n; i += 4) {
        const uint32x4_t x = vreinterpretq_u32_f32(vld1q_f32(src + i));
        const uint32x4_t lsb = vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1));
        const uint32x4_t rounded =
            vshrq_n_u32(vaddq_u32(x, vaddq_u32(vdupq_n_u32(0x7fff), lsb)), 16);
        const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(64));
        const uint32x4_t nan = vcgtq_u32(vandq_u32(x, abs_mask), inf);
        vst1_u16(d + i, vmovn_u32(vbslq_u32(nan, quiet, rounded)));
    }
    for (; i < n; i++)
        d[i] = lfm_f32_to_bf16(src[i]);
}

/* ---- float dots ----------------------------------------------------------- */

static inline float32x4_t load_f32(const void *p) {
    return vld1q_f32(p);
}

static inline float32x4_t load_f16(const void *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t load_bf16(const void *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

static inline float conv_f32(const float *p, int64_t i) {
    return p[i];
}

static inline float conv_f16(const uint16_t *p, int64_t i) {
    return lfm_fp16_to_f32(p[i]);
}

static inline float conv_bf16(const uint16_t *p, int64_t i) {
    return lfm_bf16_to_f32(p[i]);
}

/* 4 accumulators of 4 lanes, then a scalar tail. */
#define FLOAT_DOT(name, etype, load, conv)                                                         \
    static float name(int64_t n, const void *w, const void *a) {                                   \
        const etype *x = w, *y = a;                                                                \
        float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),             \
                              vdupq_n_f32(0.0f)};                                                  \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16)                                                               \
            for (int k = 0; k < 4; k++)                                                            \
                acc[k] = vfmaq_f32(acc[k], load(x + i + 4 * k), load(y + i + 4 * k));              \
        for (; i + 4 <= n; i += 4)                                                                 \
            acc[0] = vfmaq_f32(acc[0], load(x + i), load(y + i));                                  \
        float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));   \
        for (; i < n; i++)                                                                         \
            sum += conv(x, i) * conv(y, i);                                                        \
        return sum;                                                                                \
    }

FLOAT_DOT(dot_f32, float, load_f32, conv_f32)
FLOAT_DOT(dot_f16, uint16_t, load_f16, conv_f16)
FLOAT_DOT(dot_bf16, uint16_t, load_bf16, conv_bf16)

void lfm_quant_fill_neon(lfm_kernels *k) {
    k->act[LFM_TYPE_Q8_0] = act_q8_0;
    k->act[LFM_TYPE_Q8_1] = act_q8_1;
    k->act[LFM_TYPE_Q8_K] = act_q8_K;
    k->act[LFM_TYPE_F16] = act_f16;
    k->act[LFM_TYPE_BF16] = act_bf16;
    k->dot[LFM_TYPE_F32] = dot_f32;
    k->dot[LFM_TYPE_F16] = dot_f16;
    k->dot[LFM_TYPE_BF16] = dot_bf16;
    arm_fill_int_dots(k);
}
