/* AVX2 + FMA attention tile (attention.h): attn_tile.h on 256-bit
 * registers. */
#define LFM_VEC_AVX2 1
#include "attn_tile.h"

void lfm_attention_tile_avx2(const lfm_attn_tile *a) {
    attn_tile(a);
}
