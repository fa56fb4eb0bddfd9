/* SIMD rmsnorm, silu_mul, axpy over lfm_vec.h (one register width per includer).
 * Numerics against the scalar references of elementwise.c:
 *   axpy      bit-identical (a*x rounded, then added);
 *   rmsnorm   the float squares are summed in double lanes: only the order
 *             of the double sum differs, so the scale (and y) is identical
 *             except when that reordering crosses a float rounding boundary
 *             of the scale, y then within 1 ulp;
 *   silu_mul  v_expf (a few ulp) instead of libm expf, then the same
 *             g / (1 + e) * up: within a few ulp of the reference. */
#ifndef LFM_SIMD_ELEMENTWISE_H
#define LFM_SIMD_ELEMENTWISE_H

#include <math.h>

#include "lfm_vec.h"

static void simd_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    vdacc acc = vd_zero();
    int64_t i = 0;
    for (; i + VN <= n; i += VN) {
        vf v = vld(x + i);
        acc = vd_add(acc, vmul(v, v));
    }
    double sum = vd_sum(acc);
    for (; i < n; i++)
        sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    vf s = vdup(scale);
    /* y may equal x: each vector is read before it is written */
    for (i = 0; i + VN <= n; i += VN)
        vst(y + i, vmul(vmul(vld(x + i), s), vld(w + i)));
    for (; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

static inline vf silu_mul_v(vf g, vf u) {
    vf e = v_expf(vsub(vdup(0.0f), g));
    return vmul(vdiv(g, vadd(vdup(1.0f), e)), u);
}

static void simd_silu_mul(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + VN <= n; i += VN)
        vst(out + i, silu_mul_v(vld(gate + i), vld(up + i)));
    if (i < n) { /* tail through a padded vector: the same formula for all */
        float g[VN] = {0}, u[VN] = {0}, o[VN];
        for (int64_t j = i; j < n; j++) {
            g[j - i] = gate[j];
            u[j - i] = up[j];
        }
        vst(o, silu_mul_v(vld(g), vld(u)));
        for (int64_t j = i; j < n; j++)
            out[j] = o[j - i];
    }
}

static void simd_axpy(float *y, float a, const float *x, int64_t n) {
    vf va = vdup(a);
    int64_t i = 0;
    for (; i + VN <= n; i += VN)
        vst(y + i, vadd(vld(y + i), vmul(va, vld(x + i))));
    for (; i < n; i++)
        y[i] += a * x[i];
}

#endif
