/* AVX-512 VNNI level: the byte products of Q4_0 / Q8_0 and of the k-quants
 * Q4_K, Q5_K, Q6_K with vpdpbusd (one instruction for maddubs + madd). */
#define LFM_VNNI 1
#include "x86_avx512_impl.h"

void lfm_kernels_fill_avx512_vnni(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->mm[LFM_TYPE_Q4_0] = mm_q4_0;
    k->mm[LFM_TYPE_Q8_0] = mm_q8_0;
    kq_fill(k);
}
