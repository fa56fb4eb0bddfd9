/* A view of one weight tensor as the kernels use it: a stack of `n_mat`
 * matrices (experts) of `n_rows` rows of `n_cols` elements each, stored
 * row-major in `type` (rows of n_cols are contiguous; ggml ne {n_cols,
 * n_rows, n_mat}).  1-D tensors have n_rows = n_mat = 1.
 * A matrix rewritten at load for the kernels (kernels/quant/r16.h) keeps
 * its sizes but not its row order: only the matrix products read it. */
#ifndef LFM_WEIGHT_H
#define LFM_WEIGHT_H

#include <stddef.h>
#include <stdint.h>

enum {
    LFM_LAYOUT_ROWS = 0, /* as in the file */
    LFM_LAYOUT_R16 = 1   /* 16-row interleaved groups (r16.h) */
};

typedef struct lfm_weight {
    const void *data; /* NULL: tensor absent */
    const char *name;
    uint32_t type;
    int64_t n_cols;   /* ne[0] */
    int64_t n_rows;   /* ne[1] */
    int64_t n_mat;    /* ne[2] */
    size_t row_bytes; /* bytes of one row */
    size_t mat_bytes; /* bytes of one matrix (n_rows * row_bytes) */
    uint32_t layout;  /* LFM_LAYOUT_*: rows (lfm_weight_row valid) or R16 */
} lfm_weight;

/* Row r of matrix m (row layout); for R16, the group of row r when r is a
 * multiple of 16. */
static inline const void *lfm_weight_row(const lfm_weight *w, int64_t m, int64_t r) {
    return (const uint8_t *)w->data + (size_t)m * w->mat_bytes + (size_t)r * w->row_bytes;
}

#endif
