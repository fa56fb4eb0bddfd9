/* AVX-512 (F) attention tiles (attention.h): attn_tile_tmpl.h on 512-bit
 * registers (a key block is one register; 32 registers hold 4 rows x 64
 * output columns), one per cache type. */
#define LFM_VEC_AVX512 1
#include "attn_tile_tmpl.h"

ATTN_TILES(avx512)
