#include "router.h"

#include <math.h>

void lfm_moe_route(const float *logits, const float *bias, int32_t n_expert, int32_t k,
                   int32_t *ids, float *weights) {
    /* selection sort of the top k: k and n_expert are small (4 of 32). */
    float sum = 0.0f;
    for (int32_t j = 0; j < k; j++) {
        int32_t best = -1;
        float best_v = 0.0f;
        for (int32_t e = 0; e < n_expert; e++) {
            int taken = 0;
            for (int32_t i = 0; i < j; i++)
                taken |= ids[i] == e;
            if (taken) continue;
            float v = 1.0f / (1.0f + expf(-logits[e])) + (bias ? bias[e] : 0.0f);
            if (best < 0 || v > best_v) {
                best = e;
                best_v = v;
            }
        }
        ids[j] = best;
        weights[j] = 1.0f / (1.0f + expf(-logits[best]));
        sum += weights[j];
    }
    /* the reference engine clamps the sum away from zero before dividing */
    if (sum < 6.103515625e-5f) sum = 6.103515625e-5f;
    for (int32_t j = 0; j < k; j++)
        weights[j] /= sum;
}
