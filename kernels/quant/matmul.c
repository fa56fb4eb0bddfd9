#include "matmul.h"

#include "dispatch.h"
#include "quant.h"
#include "r16.h"

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

/* R16 matrices: whole groups straight through the kernel, from an even
 * group (r16.h: a Q6_K group's layout depends on the parity of its index);
 * rows before the first even group or after the last whole group (the
 * thread split aligns to pairs of groups, so only callers that ask for odd
 * rows) are computed with the pair of groups holding them into a small
 * buffer, 64 activation rows at a time, keeping the rows asked for. */
static void matmul_r16(lfm_mm_fn mm, const lfm_weight *w, int64_t m, const void *xq, size_t rb,
                       int64_t n, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t G = LFM_R16_ROWS, P = 2 * LFM_R16_ROWS;
    const int64_t a0 = (r0 + P - 1) / P * P, a1 = r1 / G * G;
    if (a1 > a0)
        mm(w->n_cols, lfm_weight_row(w, m, a0), w->row_bytes, a1 - a0, xq, rb, n, y + a0, y_stride);
    int64_t edges[2][2] = {{r0, a0 < r1 ? a0 : r1}, {a1 > a0 ? a1 : a0, r1}};
    for (int e = 0; e < 2; e++) {
        const int64_t lo = edges[e][0], hi = edges[e][1];
        if (hi <= lo) continue;
        const int64_t p0 = lo / P * P, np = w->n_rows - p0 < P ? w->n_rows - p0 : P;
        float tmp[64 * 2 * LFM_R16_ROWS];
        for (int64_t t0 = 0; t0 < n; t0 += 64) {
            const int64_t nt = n - t0 < 64 ? n - t0 : 64;
            mm(w->n_cols, lfm_weight_row(w, m, p0), w->row_bytes, np,
               (const uint8_t *)xq + (size_t)t0 * rb, rb, nt, tmp, np);
            for (int64_t t = 0; t < nt; t++)
                for (int64_t r = lo; r < hi; r++)
                    y[(t0 + t) * y_stride + r] = tmp[t * np + (r - p0)];
        }
    }
}

/* Through the active ISA level's table: a tile kernel if the level has one
 * for this type, else one dot per (row, activation) pair. */
void lfm_matmul_rows(const lfm_weight *w, int64_t m, const void *xq, int64_t n, float *y,
                     int64_t y_stride, int64_t r0, int64_t r1) {
    if (r1 <= r0 || n <= 0 || w->type >= LFM_TYPE_COUNT) return;
    const lfm_kernels *k = lfm_kernels_active();
    size_t rb = lfm_act_row_bytes(w->type, w->n_cols);
    if (w->layout == LFM_LAYOUT_R16) {
        if (k->mm_r16[w->type])
            matmul_r16(k->mm_r16[w->type], w, m, xq, rb, n, y, y_stride, r0, r1);
        return;
    }
    lfm_mm_fn mm = k->mm[w->type];
    if (mm) {
        mm(w->n_cols, lfm_weight_row(w, m, r0), w->row_bytes, r1 - r0, xq, rb, n, y + r0, y_stride);
        return;
    }
    lfm_dot_fn dot = k->dot[w->type];
    if (!dot) return;
    for (int64_t r = r0; r < r1; r++) {
        const void *wr = lfm_weight_row(w, m, r);
        for (int64_t t = 0; t < n; t++)
            y[t * y_stride + r] = dot(w->n_cols, wr, (const uint8_t *)xq + (size_t)t * rb);
    }
}

void lfm_weight_dequant_row(const lfm_weight *w, int64_t m, int64_t r, float *out) {
    if (w->layout == LFM_LAYOUT_R16)
        lfm_r16_dequant_row(w->type, lfm_weight_row(w, m, 0), w->row_bytes, r, w->n_cols, out);
    else
        lfm_dequantize_row(w->type, lfm_weight_row(w, m, r), out, w->n_cols);
}
