/* The R16 layout (r16.h): packing, and the scalar reference product. */
#include "r16.h"

#include <string.h>

#include "quant_blocks.h"

int lfm_r16_supported(uint32_t type) {
    return type == LFM_TYPE_Q4_0 || type == LFM_TYPE_Q8_0;
}

/* Bytes of the codes of one block (16 for Q4_0, 32 for Q8_0) and of the
 * whole block (with its half scale). */
static size_t code_bytes(uint32_t type) {
    return type == LFM_TYPE_Q4_0 ? QK_LEGACY / 2 : QK_LEGACY;
}

/* Block i of row j (0..15) of a group at g, in the row layout at b. */
static void group_block_get(uint32_t type, const uint8_t *g, int64_t i, int j, uint8_t *b) {
    const size_t cb = code_bytes(type), gb = LFM_R16_ROWS * (2 + cb);
    const uint8_t *blk = g + (size_t)i * gb;
    memcpy(b, blk + 2 * j, 2);
    for (size_t k = 0; k < cb / 4; k++)
        memcpy(b + 2 + 4 * k, blk + 2 * LFM_R16_ROWS + 64 * k + 4 * (size_t)j, 4);
}

static void group_block_put(uint32_t type, uint8_t *g, int64_t i, int j, const uint8_t *b) {
    const size_t cb = code_bytes(type), gb = LFM_R16_ROWS * (2 + cb);
    uint8_t *blk = g + (size_t)i * gb;
    memcpy(blk + 2 * j, b, 2);
    for (size_t k = 0; k < cb / 4; k++)
        memcpy(blk + 2 * LFM_R16_ROWS + 64 * k + 4 * (size_t)j, b + 2 + 4 * k, 4);
}

static void convert(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols,
                    int pack) {
    const size_t bb = 2 + code_bytes(type), rb = bb * (size_t)(n_cols / QK_LEGACY);
    for (int64_t r = 0; r < n_rows; r++) {
        const size_t group = (size_t)(r / LFM_R16_ROWS) * LFM_R16_ROWS * rb;
        const int j = (int)(r % LFM_R16_ROWS);
        for (int64_t i = 0; i < n_cols / QK_LEGACY; i++) {
            if (pack)
                group_block_put(type, (uint8_t *)dst + group, i, j,
                                (const uint8_t *)src + (size_t)r * rb + (size_t)i * bb);
            else
                group_block_get(type, (const uint8_t *)src + group, i, j,
                                (uint8_t *)dst + (size_t)r * rb + (size_t)i * bb);
        }
    }
}

void lfm_r16_pack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols) {
    convert(type, src, dst, n_rows, n_cols, 1);
}

void lfm_r16_unpack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols) {
    convert(type, src, dst, n_rows, n_cols, 0);
}

/* One output: the scalar dot's steps (quant_legacy.c), block by block. */
static float dot_row(uint32_t type, int64_t n, const uint8_t *group, int j, const void *a) {
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        union {
            block_q4_0 q4;
            block_q8_0 q8;
        } b;
        group_block_get(type, group, i, j, (uint8_t *)&b);
        const int isum =
            type == LFM_TYPE_Q4_0 ? lfm_isum_q4_0(&b.q4, y + i) : lfm_isum_q8_0(&b.q8, y + i);
        sum += lfm_fp16_to_f32(b.q8.d) * lfm_fp16_to_f32(y[i].d) * (float)isum;
    }
    return sum;
}

static void mm_ref(uint32_t type, int64_t n, const void *w, size_t ws, int64_t nr, const void *a,
                   size_t as, int64_t nt, float *y, int64_t ys) {
    for (int64_t r = 0; r < nr; r++) {
        const uint8_t *group = (const uint8_t *)w + (size_t)(r / LFM_R16_ROWS) * LFM_R16_ROWS * ws;
        for (int64_t t = 0; t < nt; t++)
            y[t * ys + r] = dot_row(type, n, group, (int)(r % LFM_R16_ROWS),
                                    (const uint8_t *)a + (size_t)t * as);
    }
}

void lfm_mm_r16_q4_0_ref(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                         int64_t nt, float *y, int64_t ys) {
    mm_ref(LFM_TYPE_Q4_0, n, w, ws, nr, a, as, nt, y, ys);
}

void lfm_mm_r16_q8_0_ref(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                         int64_t nt, float *y, int64_t ys) {
    mm_ref(LFM_TYPE_Q8_0, n, w, ws, nr, a, as, nt, y, ys);
}
