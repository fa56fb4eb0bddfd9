/* The 16-row interleaved layout ("R16") of Q4_0 and Q8_0 weights.
 *
 * Files store a matrix row after row, each row a run of 32-element blocks.
 * The AVX-512 VNNI tiles (x86_gemm_vnni_tmpl.h) compute 16 rows at once with rows
 * in the lanes of a register, so for every block they gather 16 scattered
 * 18-byte (34-byte) pieces, transpose them, and assemble 16 scales from
 * scalar loads: decode then costs about as much as the memory read.  R16
 * stores exactly what those registers hold, so a decode is a few aligned
 * loads of one forward stream.
 *
 * A matrix of n_rows (a multiple of 16) rows of nb blocks becomes n_rows/16
 * groups; group g takes the bytes rows 16g..16g+15 took (16 * row_bytes),
 * so expert matrices and row offsets keep their addresses at group
 * boundaries.  Group g, block i (i = 0..nb-1), at g * 16 * row_bytes +
 * i * 16 * type_size:
 *   bytes  0..31     the 16 rows' half scales d, row j at j
 *   then   Q4_0: 4 vectors of 64 bytes; vector k, bytes 4j..4j+3 = row j's
 *                qs[4k..4k+3] (low nibbles: elements 4k.., high: 16+4k..)
 *          Q8_0: 8 vectors of 64 bytes; vector k, bytes 4j..4j+3 = row j's
 *                qs[4k..4k+3]
 * Values are the file's, bit for bit: products are exactly those of the
 * row layout, and the kernels keep its float steps (bit-identical output).
 *
 * Internal to the kernels and the model loader (lib/model/repack.c). */
#ifndef LFM_R16_H
#define LFM_R16_H

#include <stddef.h>
#include <stdint.h>

#define LFM_R16_ROWS 16

/* 1 if `type` has an R16 form (Q4_0, Q8_0). */
int lfm_r16_supported(uint32_t type);

/* Rewrite rows [0, n_rows) (n_rows a multiple of 16) of a row-layout matrix
 * src into R16 at dst (same size, no overlap). */
void lfm_r16_pack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* The inverse, for the tests. */
void lfm_r16_unpack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* Scalar references of the R16 tile product (the lfm_mm_fn contract of
 * dispatch.h with w at a group start, w_stride the row-layout row bytes and
 * nr a multiple of 16): each output bit-identical to lfm_dot_q4_0/q8_0 on
 * the unpacked row. */
void lfm_mm_r16_q4_0_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);
void lfm_mm_r16_q8_0_ref(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                         size_t a_stride, int64_t nt, float *y, int64_t y_stride);

#endif
