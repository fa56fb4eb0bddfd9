/* AVX-512 F/BW/VL level: 512-bit float dots and two 32-element blocks per
 * register for Q4_0 / Q8_0 (byte products with vpmaddubsw). */
#define LFM_VNNI 0
#include "x86_avx512_impl.h"

void lfm_kernels_fill_avx512(lfm_kernels *k) {
    k->dot[LFM_TYPE_F32] = dot_f32;
    k->dot[LFM_TYPE_F16] = dot_f16;
    k->dot[LFM_TYPE_BF16] = dot_bf16;
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->mm[LFM_TYPE_Q4_0] = mm_q4_0;
    k->mm[LFM_TYPE_Q8_0] = mm_q8_0;
}
