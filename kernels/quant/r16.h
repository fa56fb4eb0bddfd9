/* The 16-row interleaved layout ("R16") of Q4_0, Q8_0, Q4_K, Q5_K and Q6_K
 * weights.
 *
 * Files store a matrix row after row, each row a run of blocks.  The
 * AVX-512 VNNI kernels compute 16 rows at once with rows in the lanes of a
 * register, so for every block they gather 16 scattered pieces, transpose
 * them as dwords, and assemble 16 scales from scalar loads: decode then
 * costs about as much as the memory read.  R16 stores exactly what those
 * registers hold, so a decode is a few aligned loads of one forward stream.
 *
 * A matrix of n_rows (a multiple of 16) rows of nb blocks becomes n_rows/16
 * groups; group g takes the bytes rows 16g..16g+15 took (16 * row_bytes),
 * so expert matrices and row offsets keep their addresses at group
 * boundaries.  Block i of a group, at g * 16 * row_bytes + i * 16 * S for
 * blocks of S bytes, holds the 16 rows' blocks i as
 *   head   H bytes of each row, row j at H * j              (16 H bytes)
 *   dwords D = (S - H) / 4 vectors of 64 bytes; vector k, bytes 4j..4j+3 =
 *          row j's block bytes H + 4k .. H + 4k + 3
 *   tail   the T = S - H - 4D bytes left of each row, row j at T * j
 * with, per type:
 *   Q4_0, Q8_0   H = 2 (the half scale d), D = 4 / 8, T = 0: 32 bytes of
 *                scales, then vector k = the rows' qs[4k..4k+3]
 *   Q4_K, Q5_K   H = 0, D = 36 / 44, T = 0: vector 0 = d | dmin << 16,
 *                vectors 1-3 the scale bytes, then qh (Q5_K) and qs
 *   Q6_K         H = 0, D = 52, T = 2: ql, qh, scales as vectors, stored
 *                in the order the kernels read them (lfm_r16_slot); the
 *                16 half scales d (32 bytes) are the tail
 * except that where T > 0 the tails of a group's nb blocks are gathered
 * (16 T bytes per block, block after block) so that the vectors stay on
 * 64-byte boundaries: group gi holds the nb blocks' vectors (16 (S - T)
 * bytes each, a multiple of 64) then their tails, or, when gi * nb is odd
 * (a Q6_K group of an odd nb starting 32 bytes past a boundary), the
 * tails first.  A product kernel told a group's address must so also know
 * the parity of its index: the R16 products (dispatch.h) start at even
 * groups.  R16 files align their tensors to 64 bytes (general.alignment).
 * Values are the file's, bit for bit: products are exactly those of the
 * row layout, and the kernels keep its float steps (bit-identical output).
 *
 * Internal to the kernels, the model loader (lib/model/repack.c) and the
 * file writer (lib/files/quantize.c). */
#ifndef LFM_R16_H
#define LFM_R16_H

#include <stddef.h>
#include <stdint.h>

#define LFM_R16_ROWS 16

/* The layout's version, which lfm2moe_model_quantize --repack writes as
 * the file's LFM_R16_LAYOUT_KEY: 1 (files without the key) stored Q6_K
 * vectors in the row's byte order; 2 stores them in read order
 * (lfm_r16_slot).  The other types are the same in both. */
#define LFM_R16_LAYOUT 2
#define LFM_R16_LAYOUT_KEY "lfm2moe.r16_layout"

/* The placement rule above, for block i of group gi (of nb blocks) at g,
 * whose 16 rows take `body` bytes of heads and vectors and `tails` bytes of
 * tails: returns the block's heads and vectors, and sets *tail_at to its
 * tails.  One definition for the packing (r16.c) and the kernels. */
static inline const uint8_t *lfm_r16_block_at(const uint8_t *g, int64_t gi, int64_t nb, int64_t i,
                                              size_t body, size_t tails, const uint8_t **tail_at) {
    const int first = tails && ((gi * nb) & 1); /* tails first */
    *tail_at = g + (first ? 0 : (size_t)nb * body) + (size_t)i * tails;
    return g + (first ? (size_t)nb * tails : 0) + (size_t)i * body;
}

/* Where a block's vector k is stored, as the number of 64-byte vectors
 * after the heads: k, except for Q6_K (dwords = 52), whose vectors are
 * stored in the order the kernels read them, so that a decode is one
 * forward stream (the hardware and software prefetches run ahead of it):
 * the 4 scale vectors, then for h = 0, 1 and m = 0..7 the triples
 *   qh dword 8h + m, ql dword 16h + m, ql dword 16h + 8 + m
 * (the bits above the low and high nibbles of both ql vectors). */
static inline size_t lfm_r16_slot(size_t dwords, size_t k) {
    if (dwords != 52) return k;
    if (k >= 48) return k - 48;                              /* scales */
    if (k >= 32) return 4 + 3 * (k - 32);                    /* qh: h = (k-32)/8, m = (k-32)%8 */
    return 4 + 3 * (8 * (k / 16) + k % 8) + 1 + (k / 8) % 2; /* ql */
}

/* 1 if `type` has an R16 form (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K). */
int lfm_r16_supported(uint32_t type);

/* Rewrite rows [0, n_rows) (n_rows a multiple of 16) of a row-layout matrix
 * src into R16 at dst (same size, no overlap). */
void lfm_r16_pack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* The inverse, for the tests. */
void lfm_r16_unpack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* Row r of an R16 matrix at `matrix` (row-layout row bytes row_bytes),
 * dequantized to n_cols floats: the embedding lookup of a tied output head
 * rewritten for the products. */
void lfm_r16_dequant_row(uint32_t type, const void *matrix, size_t row_bytes, int64_t r,
                         int64_t n_cols, float *out);

/* Scalar references of the R16 tile product (the lfm_mm_fn contract of
 * dispatch.h with w at the start of an even group, w_stride the row-layout
 * row bytes and nr a multiple of 16): each output bit-identical to the
 * type's scalar dot (lfm_dot_q4_0, ...) on the unpacked row. */
void lfm_mm_r16_q4_0_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);
void lfm_mm_r16_q8_0_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);
void lfm_mm_r16_q4_K_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);
void lfm_mm_r16_q5_K_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);
void lfm_mm_r16_q6_K_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);

#endif
