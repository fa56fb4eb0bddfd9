/* AVX2 + FMA (+ F16C) attention tiles (attention.h): attn_tile_tmpl.h on
 * 256-bit registers, one per cache type. */
#define LFM_VEC_AVX2 1
#include "attn_tile_tmpl.h"

ATTN_TILES(avx2)
