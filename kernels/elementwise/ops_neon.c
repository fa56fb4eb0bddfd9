/* The element-wise ops (simd_ops_tmpl.h) at the NEON level, reached only
 * through kernels/dispatch. */
#define LFM_VEC_NEON 1
#include "elementwise.h"
#include "simd_ops_tmpl.h"

void lfm_elementwise_fill_neon(lfm_kernels *k) {
    simd_ops_fill(k);
}
