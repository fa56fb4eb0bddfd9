/* AVX-512 (F) attention tile (attention.h): attn_tile.h on 512-bit
 * registers (a key block is one register; 32 registers hold 4 rows x 64
 * output columns). */
#define LFM_VEC_AVX512 1
#include "attn_tile.h"

void lfm_attention_tile_avx512(const lfm_attn_tile *a) {
    attn_tile(a);
}
