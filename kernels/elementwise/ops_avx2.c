/* The element-wise ops (simd_ops_tmpl.h) at the AVX2 level, reached only
 * through kernels/dispatch. */
#define LFM_VEC_AVX2 1
#include "elementwise.h"
#include "simd_ops_tmpl.h"

void lfm_elementwise_fill_avx2(lfm_kernels *k) {
    simd_ops_fill(k);
}
