/* Causal grouped-query attention over a KV cache.
 *
 * The work unit is a tile: the G = H / Hkv query heads that share one kv
 * head, for n consecutive query tokens at positions pos0 .. pos0+n-1.  Token
 * t (position p = pos0 + t) sees cache positions 0..p, or with a sliding
 * window of N only p-N+1..p (llama.cpp's standard SWA: j visible when
 * p - N < j <= p).  A tile reads the kv head's keys and values once per few
 * query rows instead of once per row.
 *
 * The cache holds either every position (slot = position) or, for a
 * windowed block, a ring of R slots (R a multiple of LFM_ATTN_KBLK):
 * position p lives in slot p % R, so a block of KBLK positions is a whole
 * block of slots.  Below, "position" in the layout means slot.
 *
 * Cache layout of one kv head (slots rounded up to LFM_ATTN_KBLK, so a
 * kernel may load whole blocks; slots a row does not see hold finite
 * values, e.g. zeros or older positions, and never influence the result):
 *   K : [n_ctx / KBLK][D][KBLK]  keys in blocks of KBLK positions, each block
 *       transposed, so KBLK scores come from broadcast-q multiply-adds with
 *       no horizontal sums: key(p)[i] = K[(p / KBLK) * D * KBLK + i * KBLK + p % KBLK]
 *   V : [n_ctx][D]               values, position-major (rows for p * v)
 *
 * The element type of both is the cache type (LFM_KV_*, the values of the
 * public lfm2moe_kv_type):
 *   F32   floats, as above;
 *   F16   IEEE halves in the same places;
 *   Q8_0  int8 codes times a half scale per 32 consecutive dimensions of
 *         one position (D a multiple of 32).  A key block is its scales
 *         [D/32][KBLK] (halves) followed by its codes [D][KBLK] (int8); a
 *         value row is D/32 ggml Q8_0 blocks (half scale, 32 codes).
 * A kv head's K and V take the same number of bytes (lfm_kv_head_bytes). */
#ifndef LFM_ATTENTION_H
#define LFM_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#define LFM_ATTN_KBLK 16 /* positions per key block */
#define LFM_ATTN_ROWS 4  /* query rows a kernel handles at once (scratch rows) */

/* Offset of key (p, i) in a kv head's K cache. */
static inline int64_t lfm_attn_kidx(int64_t p, int64_t i, int64_t D) {
    return (p / LFM_ATTN_KBLK) * D * LFM_ATTN_KBLK + i * LFM_ATTN_KBLK + p % LFM_ATTN_KBLK;
}

/* Cache positions allocated for a context of n_ctx: whole key blocks. */
static inline int64_t lfm_attn_ctx_alloc(int64_t n_ctx) {
    return (n_ctx + LFM_ATTN_KBLK - 1) / LFM_ATTN_KBLK * LFM_ATTN_KBLK;
}

/* Cache element types (values of lfm2moe_kv_type). */
enum { LFM_KV_F32 = 0, LFM_KV_F16 = 1, LFM_KV_Q8_0 = 2, LFM_KV_COUNT = 3 };
#define LFM_KV_Q8_GROUP 32 /* dimensions per Q8_0 scale */

/* Bytes of one key block (KBLK positions) of a kv head. */
static inline int64_t lfm_kv_kblock_bytes(int kv_type, int64_t D) {
    switch (kv_type) {
    case LFM_KV_F16: return D * LFM_ATTN_KBLK * 2;
    case LFM_KV_Q8_0: return D * LFM_ATTN_KBLK + D / LFM_KV_Q8_GROUP * LFM_ATTN_KBLK * 2;
    default: return D * LFM_ATTN_KBLK * 4;
    }
}

/* Bytes of one position's value row of a kv head. */
static inline int64_t lfm_kv_vrow_bytes(int kv_type, int64_t D) {
    switch (kv_type) {
    case LFM_KV_F16: return D * 2;
    case LFM_KV_Q8_0: return D / LFM_KV_Q8_GROUP * (2 + LFM_KV_Q8_GROUP);
    default: return D * 4;
    }
}

/* Bytes of one kv head's K cache (and, equally, of its V cache) for a
 * context of n_ctx positions. */
static inline int64_t lfm_kv_head_bytes(int kv_type, int64_t n_ctx, int64_t D) {
    return lfm_attn_ctx_alloc(n_ctx) / LFM_ATTN_KBLK * lfm_kv_kblock_bytes(kv_type, D);
}

/* Leading bytes of a kv head's K (V) cache that hold positions 0..n_pos-1:
 * what a copy of the first n_pos positions must take (K in whole key blocks;
 * the rest of the last block is padding that is never read). */
static inline int64_t lfm_kv_k_prefix_bytes(int kv_type, int64_t n_pos, int64_t D) {
    return lfm_attn_ctx_alloc(n_pos) / LFM_ATTN_KBLK * lfm_kv_kblock_bytes(kv_type, D);
}
static inline int64_t lfm_kv_v_prefix_bytes(int kv_type, int64_t n_pos, int64_t D) {
    return n_pos * lfm_kv_vrow_bytes(kv_type, D);
}

/* Whether a cache type can hold heads of size D (Q8_0: whole groups). */
static inline int lfm_kv_type_fits(int kv_type, int64_t D) {
    return kv_type == LFM_KV_F32 || kv_type == LFM_KV_F16 ||
           (kv_type == LFM_KV_Q8_0 && D % LFM_KV_Q8_GROUP == 0);
}

/* Store the key and value of position p (D floats each) into a kv head's
 * caches kc, vc of type kv_type (Q8_0: codes rounded to nearest). */
void lfm_kv_store(int kv_type, void *kc, void *vc, int64_t p, const float *key, const float *value,
                  int32_t D);
/* Element i of the key / value of position p, as the attention kernels see
 * it (dequantized). */
float lfm_kv_key(int kv_type, const void *kc, int64_t p, int32_t i, int32_t D);
float lfm_kv_value(int kv_type, const void *vc, int64_t p, int32_t i, int32_t D);

/* Length of a score row for tiles of a context of n_pos positions and a
 * sliding window (0: none): whole key blocks from the first block a group
 * of LFM_ATTN_ROWS rows sees to the last; with a window, at most the window
 * plus the rows' spread (LFM_ATTN_ROWS - 1 tokens) plus the partial first
 * block. */
static inline int64_t lfm_attn_score_span(int64_t n_pos, int64_t window) {
    const int64_t all = lfm_attn_ctx_alloc(n_pos);
    if (window <= 0) return all;
    const int64_t w = lfm_attn_ctx_alloc(window + LFM_ATTN_ROWS - 1) + LFM_ATTN_KBLK;
    return w < all ? w : all;
}

/* Floats of per-thread scratch any attn kernel needs for score rows of
 * `span` positions (lfm_attn_score_span; without a window, the context)
 * and head size D: LFM_ATTN_ROWS score rows plus LFM_ATTN_ROWS output
 * rows. */
static inline size_t lfm_attn_scratch_floats(int64_t span, int64_t D) {
    return (size_t)LFM_ATTN_ROWS * (size_t)(lfm_attn_ctx_alloc(span) + D);
}

/* The slot of position p in a cache of `ring` slots (0: not a ring). */
static inline int64_t lfm_attn_slot(int64_t p, int64_t ring) {
    return ring ? p % ring : p;
}

/* One tile:
 *   q   : query head j (0 <= j < G) of token t at q[t * q_stride + j * D],
 *         [n][G][D] with row stride q_stride (normed and rotated)
 *   out : same layout, out_stride
 *   k,v : the kv head's caches (layout and element type above: each
 *         cache type has its own kernels), holding the positions the tile
 *         sees (0 .. pos0+n-1, or the window's)
 * out = softmax(q . key * scale) . value per (token, head) row over the
 * positions the row sees: max subtracted before exponentiating. */
typedef struct lfm_attn_tile {
    float *out;
    const float *q;
    int64_t out_stride, q_stride;
    const void *k, *v;
    int64_t pos0;
    int64_t window; /* sliding window in positions, 0: none */
    int64_t ring;   /* slots of a ring cache (multiple of KBLK, at least
                     * window + n - 1), 0: slot = position */
    int32_t n, G, D;
    float scale;
    float *scratch; /* lfm_attn_scratch_floats(lfm_attn_score_span(pos0 + n, window), D)
                     * floats */
} lfm_attn_tile;

typedef void (*lfm_attn_fn)(const lfm_attn_tile *a);

/* Scalar references, one per cache type: one row at a time, softmax sum in
 * double, keys and values dequantized element by element (lfm_kv_key). */
void lfm_attention_tile(const lfm_attn_tile *a); /* F32 */
void lfm_attention_tile_f16(const lfm_attn_tile *a);
void lfm_attention_tile_q8_0(const lfm_attn_tile *a);

/* SIMD versions (x86_attn_avx2.c, x86_attn_avx512.c, arm_attn_neon.c), built for their ISA and
 * reached only through the dispatch table (dispatch.h), indexed by cache type. */
void lfm_attention_tiles_avx2(lfm_attn_fn fns[LFM_KV_COUNT]);
void lfm_attention_tiles_avx512(lfm_attn_fn fns[LFM_KV_COUNT]);
void lfm_attention_tiles_neon(lfm_attn_fn fns[LFM_KV_COUNT]);

#endif
