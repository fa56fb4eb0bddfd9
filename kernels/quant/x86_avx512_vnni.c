/* AVX-512 VNNI level: the byte products of the 32-element block types and
 * of the k-quants with vpdpbusd (one instruction for vpmaddubsw +
 * vpmaddwd, and no 16-bit intermediate), on 256-bit registers (AVX512VL).
 *
 * 512-bit forms (two 32-element blocks per register, and 16-lane float
 * dots) were measured slower than the AVX2 kernels on the development
 * machine (AMD EPYC, Zen 4 executes 512-bit ops as two halves, and joining
 * two 18/34-byte blocks costs a cross-lane insert), so they are not used.
 * Exceptions, where 512 bits halve the broadcast loads: the Q4_0/Q8_0 tiles
 * of x86_gemm_vnni_tmpl.h, 16 weight rows in the lanes of one zmm for 8
 * activation rows (measured 105 -> 126 GMAC/s), and the Q4_K/Q5_K/Q6_K
 * prefill of x86_kgemm_vnni_tmpl.h (16 decoded weight rows shared by every
 * activation row of a chunk: Q6_K 65 -> 151 GMAC/s at 64 rows, Q5_K 34 ->
 * 157). */
#include "dispatch.h"

#define LEG_VNNI 1
#include "x86_legacy_tmpl.h"

#define KQ_VNNI 1
#include "x86_kquant_tmpl.h"

/* Q4_0 / Q8_0: rows-in-lanes tiles (x86_gemm_vnni_tmpl.h) replace the above */
#include "x86_gemm_vnni_tmpl.h"
#include "x86_kgemm_vnni_tmpl.h"
/* the same tiles on weights rewritten at load in the R16 layout */
#include "x86_r16_vnni_tmpl.h"

void lfm_quant_fill_avx512_vnni(lfm_kernels *k) {
    leg_fill(k);
    kq_fill(k);
    gt_fill(k);
    kg_fill(k);
    gr_fill(k);
}
