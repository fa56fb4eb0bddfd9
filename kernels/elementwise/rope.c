#include "rope.h"

#include <math.h>

#include "dispatch.h"

void lfm_rope_neox(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base) {
    lfm_kernels_active()->rope_neox(x, n_heads, d, pos, freq_base);
}

void lfm_rope_table(float *cs, float *sn, int32_t d, int64_t pos, float freq_base) {
    const int32_t half = d / 2;
    /* theta advances by a constant factor per pair, computed in float by
     * repeated multiplication as the reference engine does. */
    const float theta_scale = powf(freq_base, -2.0f / (float)d);
    float theta = (float)pos;
    for (int32_t i = 0; i < half; i++) {
        cs[i] = cosf(theta);
        sn[i] = sinf(theta);
        theta *= theta_scale;
    }
}

void lfm_rope_neox_ref(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base) {
    const int32_t half = d / 2;
    float cs[LFM_ROPE_MAX_HALF], sn[LFM_ROPE_MAX_HALF];
    lfm_rope_table(cs, sn, d, pos, freq_base);
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * d;
        for (int32_t i = 0; i < half; i++) {
            float x0 = v[i], x1 = v[i + half];
            v[i] = x0 * cs[i] - x1 * sn[i];
            v[i + half] = x0 * sn[i] + x1 * cs[i];
        }
    }
}
