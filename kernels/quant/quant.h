/* Weight element types: rows of a tensor decoded to floats, activations
 * encoded in the format a weight type's dot product consumes, and the dot
 * product of one weight row with one encoded activation row.
 *
 * Activation formats (as the reference engine, llama.cpp, does, so the
 * integer inner loops give the same numbers):
 *   F32 weights       -> F32 activations
 *   F16 / BF16        -> F16 / BF16 activations (converted per element)
 *   quantized types   -> 8-bit blocks: see lfm_quant_act_type()
 *
 * All n are element counts and must be multiples of the block size of the
 * types involved (the model loader checks every tensor row for that).
 * Quantized rows must start 2-byte aligned (Q8_K activation rows 4-byte):
 * the block structs have half-precision fields (every block size is even). */
#ifndef LFM_QUANT_H
#define LFM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "lfm_types.h"

/* 1 if the engine can compute with weights of this type. */
int lfm_quant_supported(uint32_t type);

/* Type id of the activation encoding that lfm_vec_dot expects for weights of
 * type `wtype` (itself one of F32, F16, BF16, Q8_0, Q8_1, Q8_K). */
uint32_t lfm_quant_act_type(uint32_t wtype);

/* Bytes of a row of n elements of `type` (n a multiple of its block size). */
size_t lfm_row_bytes(uint32_t type, int64_t n);

/* dst[0..n) = decoded src row. */
void lfm_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Encode src[0..n) as a row of `act_type` (see lfm_quant_act_type). */
void lfm_quantize_act_row(uint32_t act_type, const float *src, void *dst, int64_t n);

/* *out = dot(weight row w of type wtype, activation row a encoded as
 * lfm_quant_act_type(wtype)), n elements, with the active table.  For the
 * tests: the forward pass goes through the matrix kernels (matmul.h). */
void lfm_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *a, float *out);

/* 1 if lfm_quantize_row can write rows of this type: F32, F16, BF16, Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. */
int lfm_quant_can_quantize(uint32_t type);

/* Encode the weight row src[0..n) as `type` (lfm_quant_can_quantize), with
 * ggml's reference quantizers (quantize_row_*_ref, what llama-quantize uses
 * without an importance matrix), so files we write match llama.cpp's.
 * src must be finite.  Other types: dst is left untouched. */
void lfm_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
