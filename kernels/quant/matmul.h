/* Products of a typed weight matrix with a batch of activation rows. */
#ifndef LFM_MATMUL_H
#define LFM_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "weight.h"

/* Bytes one activation row of n_cols needs once encoded for weights of
 * type `wtype` (see lfm_quant_act_type). */
size_t lfm_act_row_bytes(uint32_t wtype, int64_t n_cols);

/* Encode n activation rows x[n][n_cols] (row stride x_stride floats) for
 * weights of type wtype into xq (row stride lfm_act_row_bytes).  For the
 * tests and benchmarks: the forward pass encodes rows itself, in parallel
 * (lib/model/products.c). */
void lfm_encode_acts(uint32_t wtype, const float *x, int64_t x_stride, int64_t n, int64_t n_cols,
                     void *xq);

/* y[t][r] = sum_c W[m][r][c] * x[t][c]   for t in [0,n), r in [r0,r1)
 *   W  : matrix m of w, n_rows x n_cols
 *   xq : n encoded rows (lfm_encode_acts), stride lfm_act_row_bytes
 *   y  : n rows of y_stride floats (only columns r0..r1 written)
 * Runs the active ISA level's kernels (dispatch.h). */
void lfm_matmul_rows(const lfm_weight *w, int64_t m, const void *xq, int64_t n, float *y,
                     int64_t y_stride, int64_t r0, int64_t r1);

/* Row r of matrix m of w as w->n_cols floats, in either layout (the
 * embedding lookup; a tied output head may be rewritten in R16). */
void lfm_weight_dequant_row(const lfm_weight *w, int64_t m, int64_t r, float *out);

#endif
