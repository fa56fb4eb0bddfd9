/* The k-quant weight quantizers: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K from floats,
 * as ggml's quantize_row_*_K_ref (what llama-quantize runs without an
 * importance matrix): the same search heuristics and the same order of
 * float operations, so files we write equal llama-quantize's byte for byte
 * (tests/test_quant.c requantizes the golden files).  The decoding side and
 * the dot products are in quant_k.c. */
#include <math.h>
#include <stdbool.h>

#include "quant_blocks.h"

/* ggml's threshold below which a group is treated as all zeros. */
#define GROUP_MAX_EPS 1e-15f

static inline int imin(int a, int b) {
    return a < b ? a : b;
}
static inline int imax(int a, int b) {
    return a > b ? a : b;
}

/* ---- search helpers of ggml's reference quantizers ---------------------- */

/* The value of largest magnitude in x[0..n) (the first such), with that
 * magnitude in *amax. */
static float signed_extreme(int n, const float *x, float *amax) {
    float max = 0;
    *amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > *amax) {
            *amax = ax;
            max = x[i];
        }
    }
    return max;
}

/* Symmetric codes l = round(iscale * x) clamped to [-nmax, nmax), stored as
 * l + offset when L is not NULL, and the sums of the weighted (x^2)
 * least-squares fit of x by scale * l. */
static void fit_codes(int n, int nmax, float iscale, const float *x, int8_t *L, int offset,
                      float *sumlx_out, float *suml2_out) {
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, lfm_nearest_int(iscale * x[i])));
        if (L) L[i] = (int8_t)(l + offset);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    *sumlx_out = sumlx;
    *suml2_out = suml2;
}

/* The start of both symmetric searches: *max the signed extreme, codes for
 * the scale -nmax / *max stored with `offset`, and their fit sums.  Returns
 * 0 (L zeroed) for a group ggml treats as all zeros. */
static int fit_start(int n, int nmax, const float *x, int8_t *L, int offset, float *max,
                     float *sumlx, float *suml2) {
    float amax;
    *max = signed_extreme(n, x, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    fit_codes(n, nmax, (float)-nmax / *max, x, L, offset, sumlx, suml2);
    return 1;
}

/* Symmetric codes L in [0, 2*nmax) (value l - nmax) for n values, scale
 * fitted by weighted least squares (weights x^2), trying 18 perturbations
 * of the initial scale -nmax/max.  ggml's make_qx_quants with rmse_type 1
 * and no importance weights (the only form the reference quantizers use). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!fit_start(n, nmax, x, L, nmax, &max, &sumlx, &suml2)) return 0.f;
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float iscale = -((float)nmax + 0.1f * (float)is) / max;
        fit_codes(n, nmax, iscale, x, NULL, 0, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = lfm_nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's search: start from -nmax/max, then up to 5 passes of coordinate
 * descent moving single codes while the weighted (x^2) fit improves.
 * Codes end in [0, 2*nmax).  ggml's make_q3_quants with do_rmse. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!fit_start(n, nmax, x, L, 0, &max, &sumlx, &suml2)) return 0.f;
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                int new_l = lfm_nearest_int(x[i] * sl2 / slx);
                new_l = imax(-nmax, imin(nmax - 1, new_l));
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Affine codes L in [0, nmax] with x ~ scale*L - the_min (the_min >= 0):
 * start from the min/max fit, then try nstep+1 scales (nmax + rmin +
 * rdelta*is)/(max - min), each refitted by weighted least squares, keeping
 * the lowest weighted error (absolute if use_mad, else squared).  ggml's
 * make_qkx2_quants. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = lfm_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, lfm_nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * (float)l;
            sum_l2 += w * (float)l * (float)l;
            sum_xl += w * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++)
                    L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Pack 2-bit codes of 256 elements the Q2_K/Q3_K way: in each 128-element
 * half, byte l holds elements l, l+32, l+64, l+96. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] =
                (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

/* Store 6-bit scale ls and min lm of sub-block j (0..7) the Q4_K/Q5_K way
 * (inverse of lfm_scale_min_k4); bytes must start zeroed for j >= 4. */
static void put_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t *s) {
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* ---- weight quantizers (ggml quantize_row_*_K_ref) ---------------------- */

/* 16 sub-blocks of 16: affine 2-bit fits (MAD error, weights |x|), then the
 * sub-block scales and mins quantized to 4 bits against their maxima, and
 * the codes recomputed with the quantized scales. */
void lfm_quant_q2_K(const float *x, void *dst, int64_t n) {
    block_q2_K *y = dst;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.f;
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++)
                weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                         -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++)
                y->scales[j] = (uint8_t)lfm_nearest_int(iscale * scales[j]);
            y->d = lfm_f32_to_fp16(max_scale / q4scale);
        } else {
            for (int j = 0; j < QK_K / 16; j++)
                y->scales[j] = 0;
            y->d = lfm_f32_to_fp16(0.f);
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; j++)
                y->scales[j] |= (uint8_t)(lfm_nearest_int(iscale * mins[j]) << 4);
            y->dmin = lfm_f32_to_fp16(max_min / q4scale);
        } else {
            y->dmin = lfm_f32_to_fp16(0.f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = lfm_fp16_to_f32(y->d) * (float)(y->scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float dm = lfm_fp16_to_f32(y->dmin) * (float)(y->scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++) {
                int l = lfm_nearest_int((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = (uint8_t)imax(0, imin(3, l));
            }
        }
        pack_2bit(L, y->qs);
    }
}

/* 16 sub-blocks of 16: symmetric 3-bit fits (make_q3_quants), the signed
 * sub-block scales quantized to 6 bits against the extreme one, codes
 * recomputed with the quantized scales. */
void lfm_quant_q3_K(const float *x, void *dst, int64_t n) {
    block_q3_K *y = dst;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        for (int j = 0; j < QK_K / 16; j++)
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
        float amax;
        const float max_scale = signed_extreme(QK_K / 16, scales, &amax);
        memset(y->scales, 0, sizeof y->scales);
        if (max_scale != 0.0f) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                /* ggml stores nearest_int's result in an int8_t first */
                int l = (int8_t)lfm_nearest_int(iscale * scales[j]);
                l = imax(-32, imin(31, l)) + 32;
                if (j < 8)
                    y->scales[j] = (uint8_t)(l & 0xF);
                else
                    y->scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                y->scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y->d = lfm_f32_to_fp16(1 / iscale);
        } else {
            y->d = lfm_f32_to_fp16(0.f);
        }
        int sc[16];
        lfm_q3k_scales(y->scales, sc);
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = lfm_fp16_to_f32(y->d) * (float)sc[j];
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = lfm_nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-4, imin(3, l)) + 4);
            }
        }
        /* high bit of element j into hmask[j % 32] bit j / 32 */
        memset(y->hmask, 0, sizeof y->hmask);
        uint8_t L2[QK_K];
        for (int j = 0; j < QK_K; j++) {
            if (L[j] > 3) {
                y->hmask[j % 32] |= (uint8_t)(1u << (j / 32));
                L2[j] = (uint8_t)(L[j] - 4);
            } else {
                L2[j] = (uint8_t)L[j];
            }
        }
        pack_2bit(L2, y->qs);
    }
}

/* Q4_K and Q5_K share everything but the code width: 8 sub-blocks of 32,
 * affine fits (squared error, weights rms(sub-block) + |x|), scales and mins
 * quantized to 6 bits against their maxima, codes recomputed. */
static void quant_k4_k5(const float *x, int nmax, float rmin, int nstep, uint16_t *d_out,
                        uint16_t *dmin_out, uint8_t scales_out[12], uint8_t L[QK_K]) {
    uint8_t Laux[32];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                     rmin, 0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(scales_out, 0, 12);
    for (int j = 0; j < QK_K / 32; j++) {
        /* ggml stores nearest_int's result in a uint8_t, then caps it at 63 */
        uint8_t ls = (uint8_t)lfm_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)lfm_nearest_int(inv_min * mins[j]);
        put_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, scales_out);
    }
    *d_out = lfm_f32_to_fp16(max_scale / 63.f);
    *dmin_out = lfm_f32_to_fp16(max_min / 63.f);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        lfm_scale_min_k4(j, scales_out, &sc, &m);
        const float d = lfm_fp16_to_f32(*d_out) * (float)sc;
        if (d == 0.0f) continue;
        const float dm = lfm_fp16_to_f32(*dmin_out) * (float)m;
        for (int ii = 0; ii < 32; ii++) {
            int l = lfm_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

void lfm_quant_q4_K(const float *x, void *dst, int64_t n) {
    block_q4_K *y = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        quant_k4_k5(x, 15, -1.f, 20, &y->d, &y->dmin, y->scales, L);
        uint8_t *q = y->qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void lfm_quant_q5_K(const float *x, void *dst, int64_t n) {
    block_q5_K *y = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        quant_k4_k5(x, 31, -0.5f, 15, &y->d, &y->dmin, y->scales, L);
        memset(y->qh, 0, sizeof y->qh);
        uint8_t *ql = y->qs;
        uint8_t m1 = 1, m2 = 2;
        for (int c = 0; c < QK_K; c += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[c + j], l2 = L[c + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    y->qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    y->qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | l2 << 4);
            }
        }
    }
}

/* 16 sub-blocks of 16: symmetric 6-bit fits (make_qx_quants), the signed
 * sub-block scales quantized to int8 against the extreme one (which maps to
 * -128), codes recomputed. */
void lfm_quant_q6_K(const float *x, void *dst, int64_t n) {
    block_q6_K *y = dst;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        for (int ib = 0; ib < QK_K / 16; ib++)
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
        float max_abs_scale;
        const float max_scale = signed_extreme(QK_K / 16, scales, &max_abs_scale);
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y->d = lfm_f32_to_fp16(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ib++)
            y->scales[ib] = (int8_t)imin(127, lfm_nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = lfm_fp16_to_f32(y->d) * (float)y->scales[j];
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = lfm_nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
            }
        }
        uint8_t *ql = y->ql, *qh = y->qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = (uint8_t)(L[j + l] & 0xF);
                const uint8_t q2 = (uint8_t)(L[j + l + 32] & 0xF);
                const uint8_t q3 = (uint8_t)(L[j + l + 64] & 0xF);
                const uint8_t q4 = (uint8_t)(L[j + l + 96] & 0xF);
                ql[l] = (uint8_t)(q1 | q3 << 4);
                ql[l + 32] = (uint8_t)(q2 | q4 << 4);
                qh[l] = (uint8_t)((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 |
                                  (L[j + l + 64] >> 4) << 4 | (L[j + l + 96] >> 4) << 6);
            }
        }
    }
}
