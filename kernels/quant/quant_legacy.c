/* The 32-element "legacy" block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights
 * and the Q8_0 / Q8_1 activation encodings their dot products consume.
 *
 * Numerics follow ggml exactly (same formulas, same order of float
 * operations), so decoded weights are bit-identical to ggml's and the dot
 * products give the reference engine's numbers:
 *   - dequantization: ggml's dequantize_row_* formulas;
 *   - weight quantizers: ggml's quantize_row_*_ref (what llama-quantize runs
 *     without an importance matrix), including Q8_0's roundf;
 *   - activations: ggml's x86 AVX/AVX2 quantize_row_q8_0 / q8_1, the path the
 *     golden files were made with: d = amax/127, multiplier 127/amax (not
 *     1/d), values rounded to nearest-even (_mm256_round_ps with
 *     _MM_ROUND_NEAREST).  The generic C reference uses 1/d and roundf (ties
 *     away from zero); the two differ on exact .5 ties and in the last bit
 *     of the multiplier, so we follow the SIMD path;
 *   - dot products: ggml_vec_dot_*_q8_* (generic): an exact integer sum per
 *     block, scaled by the product of the two block scales. */
#include <float.h>
#include <math.h>

#include "quant_blocks.h"

#define QK QK_LEGACY

/* ---- dequantization ----------------------------------------------------- */

void lfm_dequant_q4_0(const void *src, float *dst, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        for (int j = 0; j < QK / 2; j++) {
            dst[j] = (float)((b->qs[j] & 0xF) - 8) * d;
            dst[j + QK / 2] = (float)((b->qs[j] >> 4) - 8) * d;
        }
    }
}

void lfm_dequant_q4_1(const void *src, float *dst, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        const float m = lfm_fp16_to_f32(b->m);
        for (int j = 0; j < QK / 2; j++) {
            dst[j] = (float)(b->qs[j] & 0xF) * d + m;
            dst[j + QK / 2] = (float)(b->qs[j] >> 4) * d + m;
        }
    }
}

/* Fifth bits of a Q5 block: element j's in bit j of the little-endian u32. */
static inline uint32_t q5_high_bits(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void lfm_dequant_q5_0(const void *src, float *dst, int64_t n) {
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        const uint32_t qh = q5_high_bits(b->qh);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (b->qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[j] = (float)(q0 - 16) * d;
            dst[j + QK / 2] = (float)(q1 - 16) * d;
        }
    }
}

void lfm_dequant_q5_1(const void *src, float *dst, int64_t n) {
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        const float m = lfm_fp16_to_f32(b->m);
        const uint32_t qh = q5_high_bits(b->qh);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (b->qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[j] = (float)q0 * d + m;
            dst[j + QK / 2] = (float)q1 * d + m;
        }
    }
}

void lfm_dequant_q8_0(const void *src, float *dst, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        for (int j = 0; j < QK; j++)
            dst[j] = (float)b->qs[j] * d;
    }
}

void lfm_dequant_q8_1(const void *src, float *dst, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, dst += QK) {
        const float d = lfm_fp16_to_f32(b->d);
        for (int j = 0; j < QK; j++)
            dst[j] = (float)b->qs[j] * d;
    }
}

/* ---- weight quantizers (ggml quantize_row_*_ref) ------------------------ */

/* Signed value of largest magnitude (the first one on ties), as the symmetric
 * types put it at the extreme code so it is represented exactly. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* d = max / -8 maps the extreme value to code 0 (-8 * d); codes are
 * trunc(x/d + 8.5), i.e. round half up, clamped to 15. */
void lfm_quant_q4_0(const float *src, void *dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        const float d = signed_absmax(src, QK) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = lfm_f32_to_fp16(d);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (int)(src[j] * id + 8.5f);
            int q1 = (int)(src[j + QK / 2] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void block_minmax(const float *x, int n, float *min, float *max) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *min = lo;
    *max = hi;
}

/* Affine: m = min, d = (max - min) / 15, codes round((x - min) / d). */
void lfm_quant_q4_1(const float *src, void *dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        float min, max;
        block_minmax(src, QK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = lfm_f32_to_fp16(d);
        b->m = lfm_f32_to_fp16(min);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (int)((src[j] - min) * id + 0.5f);
            int q1 = (int)((src[j + QK / 2] - min) * id + 0.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* Pack 32 five-bit codes: low nibbles into qs, fifth bits into qh. */
static void q5_pack(const int q[QK], uint8_t qs[QK / 2], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | (q[j + QK / 2] & 0xF) << 4);
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
        h |= (uint32_t)((q[j + QK / 2] >> 4) & 1) << (j + QK / 2);
    }
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

void lfm_quant_q5_0(const float *src, void *dst, int64_t n) {
    block_q5_0 *b = dst;
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        const float d = signed_absmax(src, QK) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = lfm_f32_to_fp16(d);
        for (int j = 0; j < QK; j++) {
            int v = (int)(src[j] * id + 16.5f);
            q[j] = v < 31 ? v : 31;
        }
        q5_pack(q, b->qs, b->qh);
    }
}

void lfm_quant_q5_1(const float *src, void *dst, int64_t n) {
    block_q5_1 *b = dst;
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        float min, max;
        block_minmax(src, QK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = lfm_f32_to_fp16(d);
        b->m = lfm_f32_to_fp16(min);
        for (int j = 0; j < QK; j++) {
            /* (x - min) * id <= 31 (+ rounding), so no clamp is needed:
             * ggml has none either */
            q[j] = (int)((src[j] - min) * id + 0.5f) & 31;
        }
        q5_pack(q, b->qs, b->qh);
    }
}

/* The file-format reference (llama-quantize): d = amax/127, multiplier 1/d,
 * roundf (ties away from zero). */
void lfm_quant_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = fabsf(src[j]) > amax ? fabsf(src[j]) : amax;
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = lfm_f32_to_fp16(d);
        for (int j = 0; j < QK; j++)
            b->qs[j] = (int8_t)roundf(src[j] * id);
    }
}

/* ---- activation encodings (ggml's AVX path, see the top comment) -------- */

/* d = amax/127 and the codes of one block; returns the sum of the codes. */
static int act_block_q8(const float *x, float *d_out, int8_t qs[QK]) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; j++) {
        /* |x * id| <= 127 (+ rounding, which nearest-even brings back) */
        qs[j] = (int8_t)lfm_nearest_int(x[j] * id);
        sum += qs[j];
    }
    *d_out = d;
    return sum;
}

void lfm_act_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        float d;
        act_block_q8(src, &d, b->qs);
        b->d = lfm_f32_to_fp16(d);
    }
}

/* Q8_1 adds s = d * sum(q), with d before its rounding to half. */
void lfm_act_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++, src += QK) {
        float d;
        int sum = act_block_q8(src, &d, b->qs);
        b->d = lfm_f32_to_fp16(d);
        b->s = lfm_f32_to_fp16(d * (float)sum);
    }
}

/* ---- dot products with 8-bit activations --------------------------------
 * Per block: an exact integer sum of code products, times dw * da.  The
 * offset types (Q4_1, Q5_1) add m * s, where s = da * sum(activation codes)
 * comes precomputed in the Q8_1 block. */

float lfm_dot_q4_0(int64_t n, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++)
        sum +=
            lfm_fp16_to_f32(x[i].d) * lfm_fp16_to_f32(y[i].d) * (float)lfm_isum_q4_0(x + i, y + i);
    return sum;
}

float lfm_dot_q4_1(int64_t n, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            isum += (x[i].qs[j] & 0xF) * y[i].qs[j];
            isum += (x[i].qs[j] >> 4) * y[i].qs[j + QK / 2];
        }
        sum += lfm_fp16_to_f32(x[i].d) * lfm_fp16_to_f32(y[i].d) * (float)isum +
               lfm_fp16_to_f32(x[i].m) * lfm_fp16_to_f32(y[i].s);
    }
    return sum;
}

float lfm_dot_q5_0(int64_t n, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint32_t qh = q5_high_bits(x[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += (q0 - 16) * y[i].qs[j] + (q1 - 16) * y[i].qs[j + QK / 2];
        }
        sum += lfm_fp16_to_f32(x[i].d) * lfm_fp16_to_f32(y[i].d) * (float)isum;
    }
    return sum;
}

float lfm_dot_q5_1(int64_t n, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint32_t qh = q5_high_bits(x[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += q0 * y[i].qs[j] + q1 * y[i].qs[j + QK / 2];
        }
        sum += lfm_fp16_to_f32(x[i].d) * lfm_fp16_to_f32(y[i].d) * (float)isum +
               lfm_fp16_to_f32(x[i].m) * lfm_fp16_to_f32(y[i].s);
    }
    return sum;
}

float lfm_dot_q8_0(int64_t n, const void *w, const void *a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++)
        sum +=
            lfm_fp16_to_f32(x[i].d) * lfm_fp16_to_f32(y[i].d) * (float)lfm_isum_q8_0(x + i, y + i);
    return sum;
}
