/* SIMD gated short convolution over lfm_vec.h, bit-identical to
 * lfm_shortconv_ref (same products and the same order of the sum over k).
 *
 * The channels are cut into chunks of SC_CHUNK; per chunk the weights are
 * transposed once to wt[k][c] (contiguous lanes per tap), then every token
 * runs over the chunk: rows of bcx are read in runs of SC_CHUNK floats and
 * the state of the chunk stays in L1.  Kernel lengths above SC_MAX_L go to
 * the reference. */
#ifndef LFM_SIMD_SHORTCONV_H
#define LFM_SIMD_SHORTCONV_H

#include "shortconv.h"
#include "lfm_vec.h"

#define SC_CHUNK 256
#define SC_MAX_L 8

static void simd_shortconv(float *y, const float *bcx, float *state, const float *w, int64_t n,
                           int64_t C, int32_t L) {
    if (L < 1 || L > SC_MAX_L) {
        lfm_shortconv_ref(y, bcx, state, w, n, C, L);
        return;
    }
    float wt[SC_MAX_L][SC_CHUNK];
    for (int64_t c0 = 0; c0 < C; c0 += SC_CHUNK) {
        const int64_t cn = C - c0 < SC_CHUNK ? C - c0 : SC_CHUNK;
        for (int64_t j = 0; j < cn; j++)
            for (int32_t k = 0; k < L; k++)
                wt[k][j] = w[(c0 + j) * L + k];
        for (int64_t t = 0; t < n; t++) {
            const float *B = bcx + t * 3 * C + c0, *Cg = B + C, *X = B + 2 * C;
            float *yt = y + t * C + c0, *st = state + c0;
            int64_t j = 0;
            for (; j + VN <= cn; j += VN) {
                vf u = vmul(vld(B + j), vld(X + j));
                vf acc = vdup(0.0f);
                for (int32_t k = 0; k < L - 1; k++)
                    acc = vadd(acc, vmul(vld(&wt[k][j]), vld(st + k * C + j)));
                acc = vadd(acc, vmul(vld(&wt[L - 1][j]), u));
                for (int32_t k = 0; k + 1 < L - 1; k++)
                    vst(st + k * C + j, vld(st + (k + 1) * C + j));
                if (L > 1) vst(st + (L - 2) * C + j, u);
                vst(yt + j, vmul(vld(Cg + j), acc));
            }
            for (; j < cn; j++) {
                float u = B[j] * X[j];
                float acc = 0.0f;
                for (int32_t k = 0; k < L - 1; k++)
                    acc += wt[k][j] * st[k * C + j];
                acc += wt[L - 1][j] * u;
                for (int32_t k = 0; k + 1 < L - 1; k++)
                    st[k * C + j] = st[(k + 1) * C + j];
                if (L > 1) st[(L - 2) * C + j] = u;
                yt[j] = Cg[j] * acc;
            }
        }
    }
}

#endif
