/* The element-wise ops of the forward pass (rmsnorm, silu_mul, axpy, NEOX
 * RoPE, short conv) at the NEON level: the vec.h kernels instantiated for
 * its register width.  Reached only through kernels/dispatch. */
#define LFM_VEC_NEON 1
#include "dispatch.h"
#include "simd_elementwise.h"
#include "simd_rope.h"
#include "simd_shortconv.h"

void lfm_ops_fill_neon(lfm_kernels *k) {
    k->rmsnorm = simd_rmsnorm;
    k->silu_mul = simd_silu_mul;
    k->axpy = simd_axpy;
    k->rope_neox = simd_rope_neox;
    k->shortconv = simd_shortconv;
}
