/* aarch64 NEON attention tile (attention.h): attn_tile.h on 128-bit
 * registers. */
#define LFM_VEC_NEON 1
#include "attn_tile.h"

void lfm_attention_tile_neon(const lfm_attn_tile *a) {
    attn_tile(a);
}
