/* The k-quants: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K weights in 256-element
 * super-blocks, and the Q8_K activation encoding their dot products consume.
 *
 * As in quant_legacy.c, numerics are ggml's:
 *   - dequantization: ggml's dequantize_row_*_K formulas;
 *   - weight quantizers (quantize_k.c): ggml's quantize_row_*_K_ref;
 *   - activations: quantize_row_q8_K_ref, which the x86 build also uses: the
 *     signed extreme maps to -127, d = 1/iscale is kept as a float,
 *     rounding is nearest-even (nearest_int), plus the sums of each 16 codes;
 *   - dot products: ggml_vec_dot_*_K_q8_K (generic).  ggml spreads the
 *     integer sums over 8 float lanes; we keep one exact integer per
 *     super-block (no overflow: |sum| < 256*128*32*127 < 2^31), which only
 *     changes float summation order. */
#include <math.h>

#include "quant_blocks.h"

static inline int imin(int a, int b) {
    return a < b ? a : b;
}

/* ---- dequantization ----------------------------------------------------- */

void lfm_dequant_q2_K(const void *src, float *y, int64_t n) {
    const block_q2_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        const float d = lfm_fp16_to_f32(b->d);
        const float min = lfm_fp16_to_f32(b->dmin);
        const uint8_t *q = b->qs;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                /* two sub-blocks of 16: bytes q[0..15] then q[16..31] */
                for (int part = 0; part < 2; part++) {
                    const uint8_t sc = b->scales[is++];
                    const float dl = d * (float)(sc & 0xF);
                    const float ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (float)((q[16 * part + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void lfm_dequant_q3_K(const void *src, float *y, int64_t n) {
    const block_q3_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        const float d_all = lfm_fp16_to_f32(b->d);
        int scales[16];
        lfm_q3k_scales(b->scales, scales);
        const uint8_t *q = b->qs;
        uint8_t m = 1; /* hmask bit of the current 32 elements */
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int part = 0; part < 2; part++) {
                    const float dl = d_all * (float)scales[is++];
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int v = ((q[l] >> shift) & 3) - ((b->hmask[l] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

void lfm_dequant_q4_K(const void *src, float *y, int64_t n) {
    const block_q4_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        const float d = lfm_fp16_to_f32(b->d);
        const float min = lfm_fp16_to_f32(b->dmin);
        const uint8_t *q = b->qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            lfm_scale_min_k4(is, b->scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            lfm_scale_min_k4(is + 1, b->scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void lfm_dequant_q5_K(const void *src, float *y, int64_t n) {
    const block_q5_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        const float d = lfm_fp16_to_f32(b->d);
        const float min = lfm_fp16_to_f32(b->dmin);
        const uint8_t *ql = b->qs;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            lfm_scale_min_k4(is, b->scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            lfm_scale_min_k4(is + 1, b->scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 0xF) + (b->qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + (b->qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* The 6-bit codes (minus 32) of one Q6_K super-block, in element order. */
static void q6k_codes(const block_q6_K *b, int8_t out[QK_K]) {
    const uint8_t *ql = b->ql, *qh = b->qh;
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, out += 128) {
        for (int l = 0; l < 32; l++) {
            out[l] = (int8_t)(((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32);
            out[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
            out[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

void lfm_dequant_q6_K(const void *src, float *y, int64_t n) {
    const block_q6_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, b++, y += QK_K) {
        const float d = lfm_fp16_to_f32(b->d);
        q6k_codes(b, q);
        /* (d * scale) * q, the order ggml evaluates it in */
        for (int j = 0; j < QK_K; j++)
            y[j] = d * (float)b->scales[j / 16] * (float)q[j];
    }
}

void lfm_dequant_q8_K(const void *src, float *y, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, y += QK_K)
        for (int j = 0; j < QK_K; j++)
            y[j] = b->d * (float)b->qs[j];
}

/* ---- Q8_K activations ---------------------------------------------------- */

void lfm_act_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        /* the signed extreme maps to -127, so codes fit in [-127, 127] */
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++)
            y->qs[j] = (int8_t)imin(127, lfm_nearest_int(iscale * x[j]));
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y->qs[16 * j + l];
            y->bsums[j] = (int16_t)sum;
        }
        y->d = 1 / iscale;
    }
}

/* ---- dot products with Q8_K activations ---------------------------------- */

/* Q2_K: sum over sub-blocks of d*sc*<q,a> - dmin*m*sum(a); the min part uses
 * Q8_K's per-16 sums. */
float lfm_dot_q2_K(int64_t n, const void *w, const void *a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, x++, y++) {
        int summs = 0;
        for (int j = 0; j < 16; j++)
            summs += y->bsums[j] * (x->scales[j] >> 4);
        const float dall = y->d * lfm_fp16_to_f32(x->d);
        const float dmin = y->d * lfm_fp16_to_f32(x->dmin);
        const uint8_t *q2 = x->qs;
        const int8_t *q8 = y->qs;
        int isum = 0, is = 0;
        for (int half = 0; half < 2; half++, q2 += 32) {
            for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
                for (int part = 0; part < 2; part++) {
                    int s = 0;
                    for (int l = 16 * part; l < 16 * part + 16; l++)
                        s += q8[l] * ((q2[l] >> shift) & 3);
                    isum += (x->scales[is++] & 0xF) * s;
                }
            }
        }
        sum += dall * (float)isum - dmin * (float)summs;
    }
    return sum;
}

float lfm_dot_q3_K(int64_t n, const void *w, const void *a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, x++, y++) {
        int scales[16];
        lfm_q3k_scales(x->scales, scales);
        const uint8_t *q3 = x->qs;
        const int8_t *q8 = y->qs;
        uint8_t m = 1;
        int isum = 0, is = 0;
        for (int half = 0; half < 2; half++, q3 += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1, q8 += 32) {
                for (int part = 0; part < 2; part++) {
                    int s = 0;
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int v = ((q3[l] >> shift) & 3) - ((x->hmask[l] & m) ? 0 : 4);
                        s += q8[l] * v;
                    }
                    isum += scales[is++] * s;
                }
            }
        }
        sum += lfm_fp16_to_f32(x->d) * y->d * (float)isum;
    }
    return sum;
}

/* Q4_K / Q5_K: d*sum(sc * <q,a>) - dmin*sum(m * sum(a)); each 32-element
 * sub-block's min covers two of Q8_K's per-16 sums.  qh is NULL for Q4_K. */
static float dot_k4_k5(const uint16_t *dw, const uint16_t *dminw, const uint8_t *scales,
                       const uint8_t *qs, const uint8_t *qh, const block_q8_K *y) {
    int isum = 0, summ = 0;
    const int8_t *q8 = y->qs;
    for (int j = 0; j < QK_K / 32; j++, q8 += 32) {
        uint8_t sc, m;
        lfm_scale_min_k4(j, scales, &sc, &m);
        const uint8_t *q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        int s = 0;
        for (int l = 0; l < 32; l++) {
            int v = (q[l] >> shift) & 0xF;
            if (qh && (qh[l] >> j) & 1) v += 16;
            s += q8[l] * v;
        }
        isum += sc * s;
        summ += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    const float d = lfm_fp16_to_f32(*dw) * y->d;
    const float dmin = lfm_fp16_to_f32(*dminw) * y->d;
    return d * (float)isum - dmin * (float)summ;
}

float lfm_dot_q4_K(int64_t n, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++)
        sum += dot_k4_k5(&x[i].d, &x[i].dmin, x[i].scales, x[i].qs, NULL, &y[i]);
    return sum;
}

float lfm_dot_q5_K(int64_t n, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++)
        sum += dot_k4_k5(&x[i].d, &x[i].dmin, x[i].scales, x[i].qs, x[i].qh, &y[i]);
    return sum;
}

float lfm_dot_q6_K(int64_t n, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, x++, y++) {
        q6k_codes(x, q);
        int isum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int l = 16 * j; l < 16 * j + 16; l++)
                s += y->qs[l] * q[l];
            isum += x->scales[j] * s;
        }
        sum += lfm_fp16_to_f32(x->d) * y->d * (float)isum;
    }
    return sum;
}
