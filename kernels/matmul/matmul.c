#include "matmul.h"

#include "dispatch.h"
#include "quant.h"

size_t lfm_act_row_bytes(uint32_t wtype, int64_t n_cols) {
    return lfm_row_bytes(lfm_quant_act_type(wtype), n_cols);
}

void lfm_encode_acts(uint32_t wtype, const float *x, int64_t x_stride, int64_t n, int64_t n_cols,
                     void *xq) {
    uint32_t at = lfm_quant_act_type(wtype);
    size_t rb = lfm_row_bytes(at, n_cols);
    for (int64_t t = 0; t < n; t++)
        lfm_quantize_act_row(at, x + t * x_stride, (uint8_t *)xq + (size_t)t * rb, n_cols);
}

/* Through the active ISA level's table: a tile kernel if the level has one
 * for this type, else one dot per (row, activation) pair. */
void lfm_matmul_rows(const lfm_weight *w, int64_t m, const void *xq, int64_t n, float *y,
                     int64_t y_stride, int64_t r0, int64_t r1) {
    if (r1 <= r0 || n <= 0 || w->type >= LFM_TYPE_COUNT)
        return;
    const lfm_kernels *k = lfm_kernels_active();
    size_t rb = lfm_act_row_bytes(w->type, w->n_cols);
    lfm_mm_fn mm = k->mm[w->type];
    if (mm) {
        mm(w->n_cols, lfm_weight_row(w, m, r0), w->row_bytes, r1 - r0, xq, rb, n, y + r0,
           y_stride);
        return;
    }
    lfm_dot_fn dot = k->dot[w->type];
    if (!dot)
        return;
    for (int64_t r = r0; r < r1; r++) {
        const void *wr = lfm_weight_row(w, m, r);
        for (int64_t t = 0; t < n; t++)
            y[t * y_stride + r] = dot(w->n_cols, wr, (const uint8_t *)xq + (size_t)t * rb);
    }
}
