/* The element-wise ops of the forward pass (rmsnorm, silu_mul, axpy, NEOX
 * RoPE, short conv) over lfm_vec.h, for the dispatch table: ops_avx2.c,
 * ops_avx512.c and ops_neon.c each define their LFM_VEC_* and fill their
 * level's entries with this. */
#ifndef LFM_SIMD_OPS_H
#define LFM_SIMD_OPS_H

#include "dispatch.h"
#include "simd_elementwise_tmpl.h"
#include "simd_rope_tmpl.h"
#include "simd_shortconv_tmpl.h"

static inline void simd_ops_fill(lfm_kernels *k) {
    k->rmsnorm = simd_rmsnorm;
    k->silu_mul = simd_silu_mul;
    k->axpy = simd_axpy;
    k->rope_neox = simd_rope_neox;
    k->shortconv = simd_shortconv;
}

#endif
