/* Scalar reference of the attention tile (attention.h): one (token, head)
 * row at a time. */
#include "attention.h"

#include <math.h>

void lfm_attention_tile(const lfm_attn_tile *a) {
    const int32_t D = a->D;
    float *sc = a->scratch; /* [pos - lo + 1] scores, then weights */
    for (int32_t t = 0; t < a->n; t++) {
        const int64_t pos = a->pos0 + t;
        /* the first position the token sees */
        const int64_t lo = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        for (int32_t j = 0; j < a->G; j++) {
            const float *q = a->q + t * a->q_stride + (int64_t)j * D; /* [D] */
            float *out = a->out + t * a->out_stride + (int64_t)j * D; /* [D] */
            float maxv = -INFINITY;
            for (int64_t p = lo; p <= pos; p++) {
                const int64_t slot = lfm_attn_slot(p, a->ring);
                float s = 0.0f;
                for (int32_t i = 0; i < D; i++)
                    s += q[i] * a->k[lfm_attn_kidx(slot, i, D)];
                s *= a->scale;
                sc[p - lo] = s;
                if (s > maxv)
                    maxv = s;
            }
            double sum = 0.0;
            for (int64_t p = 0; p <= pos - lo; p++) {
                float e = expf(sc[p] - maxv);
                sc[p] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int32_t i = 0; i < D; i++)
                out[i] = 0.0f;
            for (int64_t p = lo; p <= pos; p++) {
                const float *v = a->v + lfm_attn_slot(p, a->ring) * D; /* [D] */
                const float w = sc[p - lo] * inv;
                for (int32_t i = 0; i < D; i++)
                    out[i] += w * v[i];
            }
        }
    }
}
