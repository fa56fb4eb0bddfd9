#include "shortconv.h"

#include "dispatch.h"

void lfm_shortconv(float *y, const float *bcx, float *state, const float *w, int64_t n, int64_t C,
                   int32_t L) {
    lfm_kernels_active()->shortconv(y, bcx, state, w, n, C, L);
}

void lfm_shortconv_ref(float *y, const float *bcx, float *state, const float *w, int64_t n,
                       int64_t C, int32_t L) {
    for (int64_t t = 0; t < n; t++) {
        const float *B = bcx + t * 3 * C, *Cg = B + C, *X = B + 2 * C;
        float *yt = y + t * C;
        for (int64_t c = 0; c < C; c++) {
            const float *wc = w + c * L;
            float u = B[c] * X[c];
            float acc = 0.0f;
            for (int32_t k = 0; k < L - 1; k++)
                acc += wc[k] * state[k * C + c];
            acc += wc[L - 1] * u;
            /* shift the window: drop the oldest, append u */
            for (int32_t k = 0; k + 1 < L - 1; k++)
                state[k * C + c] = state[(k + 1) * C + c];
            if (L > 1) state[(L - 2) * C + c] = u;
            yt[c] = Cg[c] * acc;
        }
    }
}
