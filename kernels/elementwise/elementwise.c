#include "elementwise.h"

#include <math.h>

#include "dispatch.h"
#include "lfm2moe.h"
#include "rope.h"
#include "shortconv.h"

/* Public entry points: the active ISA level's version (dispatch.h). */
void lfm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    lfm_kernels_active()->rmsnorm(y, x, w, n, eps);
}

void lfm_silu_mul(float *out, const float *gate, const float *up, int64_t n) {
    lfm_kernels_active()->silu_mul(out, gate, up, n);
}

void lfm_axpy(float *y, float a, const float *x, int64_t n) {
    lfm_kernels_active()->axpy(y, a, x, n);
}

void lfm_rmsnorm_ref(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

void lfm_silu_mul_ref(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void lfm_axpy_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void lfm_elementwise_dsp_init(lfm_kernels *k, int isa) {
    switch (isa) {
    case LFM2MOE_ISA_SCALAR:
        k->rmsnorm = lfm_rmsnorm_ref;
        k->silu_mul = lfm_silu_mul_ref;
        k->axpy = lfm_axpy_ref;
        k->rope_neox = lfm_rope_neox_ref;
        k->shortconv = lfm_shortconv_ref;
        break;
#ifdef LFM_HAVE_X86_SIMD
    case LFM2MOE_ISA_AVX2: lfm_elementwise_fill_avx2(k); break;
    case LFM2MOE_ISA_AVX512: lfm_elementwise_fill_avx512(k); break;
#endif
#ifdef LFM_HAVE_ARM_NEON
    case LFM2MOE_ISA_NEON: lfm_elementwise_fill_neon(k); break;
#endif
    default: break;
    }
}
