/* aarch64 NEON + dot product (ARMv8.2-A dotprod, the NEON_DOTPROD level of
 * kernels/dispatch): the integer dots of arm_kernels_tmpl.h with sdot (16 int8
 * products into four int32 lanes per instruction).  Activations and float
 * dots are the NEON level's.  Own library: the compiler may use sdot
 * anywhere in a file built with +dotprod. */
#define ARM_DOTPROD 1
#include "arm_kernels_tmpl.h"

void lfm_quant_fill_neon_dotprod(lfm_kernels *k) {
    arm_fill_int_dots(k);
}
