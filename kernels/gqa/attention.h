/* Causal grouped-query attention over a KV cache.
 *
 * The work unit is a tile: the G = H / Hkv query heads that share one kv
 * head, for n consecutive query tokens at positions pos0 .. pos0+n-1.  Token
 * t (position p = pos0 + t) sees cache positions 0..p.  A tile reads the kv
 * head's keys and values once per few query rows instead of once per row.
 *
 * Cache layout of one kv head (n_ctx rounded up to LFM_ATTN_KBLK, so a
 * kernel may load whole blocks; entries past the last position are finite,
 * e.g. zeros, and never influence the result):
 *   K : [n_ctx / KBLK][D][KBLK]  keys in blocks of KBLK positions, each block
 *       transposed, so KBLK scores come from broadcast-q multiply-adds with
 *       no horizontal sums: key(p)[i] = K[(p / KBLK) * D * KBLK + i * KBLK + p % KBLK]
 *   V : [n_ctx][D]               values, position-major (rows for p * v) */
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

/* Floats of per-thread scratch any attn kernel needs for a context of n_ctx
 * and head size D: LFM_ATTN_ROWS score rows plus LFM_ATTN_ROWS output rows. */
static inline size_t lfm_attn_scratch_floats(int64_t n_ctx, int64_t D) {
    return (size_t)LFM_ATTN_ROWS * (size_t)(lfm_attn_ctx_alloc(n_ctx) + D);
}

/* One tile:
 *   q   : query head j (0 <= j < G) of token t at q[t * q_stride + j * D],
 *         [n][G][D] with row stride q_stride (normed and rotated)
 *   out : same layout, out_stride
 *   k,v : the kv head's caches (layout above), holding positions
 *         0 .. pos0+n-1
 * out = softmax(q . key * scale) . value per (token, head) row: max
 * subtracted before exponentiating. */
typedef struct lfm_attn_tile {
    float *out;
    const float *q;
    int64_t out_stride, q_stride;
    const float *k, *v;
    int64_t pos0;
    int32_t n, G, D;
    float scale;
    float *scratch; /* lfm_attn_scratch_floats(pos0 + n, D) floats */
} lfm_attn_tile;

typedef void (*lfm_attn_fn)(const lfm_attn_tile *a);

/* Scalar reference: one row at a time, softmax sum in double. */
void lfm_attention_tile(const lfm_attn_tile *a);

/* SIMD versions (x86_attn_avx2.c, x86_attn_avx512.c, arm_attn_neon.c), built for their ISA and
 * reached only through the dispatch table (dispatch.h). */
void lfm_attention_tile_avx2(const lfm_attn_tile *a);
void lfm_attention_tile_avx512(const lfm_attn_tile *a);
void lfm_attention_tile_neon(const lfm_attn_tile *a);

#endif
