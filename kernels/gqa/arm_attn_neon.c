/* aarch64 NEON attention tiles (attention.h): attn_tile_tmpl.h on 128-bit
 * registers, one per cache type. */
#define LFM_VEC_NEON 1
#include "attn_tile_tmpl.h"

ATTN_TILES(neon)
