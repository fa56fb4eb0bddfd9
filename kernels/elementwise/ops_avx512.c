/* The element-wise ops (simd_ops_tmpl.h) at the AVX-512 level, reached only
 * through kernels/dispatch. */
#define LFM_VEC_AVX512 1
#include "elementwise.h"
#include "simd_ops_tmpl.h"

void lfm_elementwise_fill_avx512(lfm_kernels *k) {
    simd_ops_fill(k);
}
