#include "attention.h"

#include <math.h>

void lfm_attention_token(float *out, const float *q, const float *kc, const float *vc,
                         int64_t pos, int32_t H, int32_t Hkv, int32_t D, float scale,
                         int32_t h0, int32_t h1, float *scratch) {
    const int32_t group = H / Hkv;
    const int64_t stride = (int64_t)Hkv * D;
    for (int32_t h = h0; h < h1; h++) {
        const float *qh = q + (int64_t)h * D;
        const int64_t kvh = (int64_t)(h / group) * D;
        float maxv = -INFINITY;
        for (int64_t p = 0; p <= pos; p++) {
            const float *k = kc + p * stride + kvh;
            float s = 0.0f;
            for (int32_t i = 0; i < D; i++)
                s += qh[i] * k[i];
            s *= scale;
            scratch[p] = s;
            if (s > maxv)
                maxv = s;
        }
        double sum = 0.0;
        for (int64_t p = 0; p <= pos; p++) {
            float e = expf(scratch[p] - maxv);
            scratch[p] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        float *oh = out + (int64_t)h * D;
        for (int32_t i = 0; i < D; i++)
            oh[i] = 0.0f;
        for (int64_t p = 0; p <= pos; p++) {
            const float *v = vc + p * stride + kvh;
            const float pw = scratch[p] * inv;
            for (int32_t i = 0; i < D; i++)
                oh[i] += pw * v[i];
        }
    }
}
