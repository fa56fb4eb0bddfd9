/* Row-wise element operations of the forward pass.  The lfm_* names run the
 * active ISA level's version (kernels/dispatch); the *_ref names are the
 * scalar references (the SCALAR table). */
#ifndef LFM_ELEMENTWISE_H
#define LFM_ELEMENTWISE_H

#include <stdint.h>

/* y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], i < n.  (y may equal x.)
 * The mean of squares is summed in double, as the reference engine does. */
void lfm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* out[i] = silu(gate[i]) * up[i] = gate/(1+exp(-gate)) * up  (SwiGLU). */
void lfm_silu_mul(float *out, const float *gate, const float *up, int64_t n);

/* y[i] += a * x[i] */
void lfm_axpy(float *y, float a, const float *x, int64_t n);

void lfm_rmsnorm_ref(float *y, const float *x, const float *w, int64_t n, float eps);
void lfm_silu_mul_ref(float *out, const float *gate, const float *up, int64_t n);
void lfm_axpy_ref(float *y, float a, const float *x, int64_t n);

/* SIMD versions of these, of lfm_rope_neox and of lfm_shortconv (ops_*.c,
 * built only for their architecture): override the five entries in a table
 * holding the level below; called by lfm_elementwise_dsp_init. */
struct lfm_kernels;
void lfm_elementwise_fill_avx2(struct lfm_kernels *k);
void lfm_elementwise_fill_avx512(struct lfm_kernels *k);
void lfm_elementwise_fill_neon(struct lfm_kernels *k);

#endif
