/* The R16 layout (r16.h): packing, row lookup, and the scalar reference
 * product. */
#include "r16.h"

#include <string.h>

#include "quant.h"
#include "quant_blocks.h"

int lfm_r16_supported(uint32_t type) {
    return type < LFM_TYPE_R16_FLAG && lfm_type_is_r16(type | LFM_TYPE_R16_FLAG);
}

/* A block's parts (r16.h): head bytes, 4-byte vectors, tail bytes. */
typedef struct shape {
    size_t block, head, dwords, tail; /* bytes, bytes, count, bytes */
    int64_t elems;                    /* elements of a block */
} shape;

static shape shape_of(uint32_t type) {
    const lfm_type_layout *l = lfm_type_layout_get(type);
    shape s = {(size_t)l->type_size, 0, 0, 0, l->block_size};
    s.head = l->block_size == QK_LEGACY ? 2 : 0; /* the legacy types' half scale d */
    s.dwords = (s.block - s.head) / 4;
    s.tail = s.block - s.head - 4 * s.dwords;
    return s;
}

/* Block i of group gi (of nb blocks): its heads and vectors, and its tails. */
static const uint8_t *block_at(const shape *s, const uint8_t *g, int64_t gi, int64_t nb, int64_t i,
                               const uint8_t **tails) {
    return lfm_r16_block_at(g, gi, nb, i, LFM_R16_ROWS * (s->block - s->tail),
                            LFM_R16_ROWS * s->tail, tails);
}

/* Block i of row j (0..15) of group gi at g, to / from the row layout at b. */
static void group_block_get(const shape *s, const uint8_t *g, int64_t gi, int64_t nb, int64_t i,
                            int j, uint8_t *b) {
    const uint8_t *tails, *blk = block_at(s, g, gi, nb, i, &tails);
    const uint8_t *vec = blk + LFM_R16_ROWS * s->head;
    memcpy(b, blk + s->head * (size_t)j, s->head);
    for (size_t k = 0; k < s->dwords; k++)
        memcpy(b + s->head + 4 * k, vec + 64 * lfm_r16_slot(s->dwords, k) + 4 * (size_t)j, 4);
    memcpy(b + s->head + 4 * s->dwords, tails + s->tail * (size_t)j, s->tail);
}

static void group_block_put(const shape *s, uint8_t *g, int64_t gi, int64_t nb, int64_t i, int j,
                            const uint8_t *b) {
    const uint8_t *tails, *blk = block_at(s, g, gi, nb, i, &tails);
    uint8_t *w = (uint8_t *)(uintptr_t)blk, *vec = w + LFM_R16_ROWS * s->head;
    memcpy(w + s->head * (size_t)j, b, s->head);
    for (size_t k = 0; k < s->dwords; k++)
        memcpy(vec + 64 * lfm_r16_slot(s->dwords, k) + 4 * (size_t)j, b + s->head + 4 * k, 4);
    memcpy((uint8_t *)(uintptr_t)tails + s->tail * (size_t)j, b + s->head + 4 * s->dwords, s->tail);
}

static void convert(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols,
                    int pack) {
    const shape s = shape_of(type);
    const int64_t nb = n_cols / s.elems;
    const size_t rb = s.block * (size_t)nb;
    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t gi = r / LFM_R16_ROWS;
        const size_t group = (size_t)gi * LFM_R16_ROWS * rb;
        const int j = (int)(r % LFM_R16_ROWS);
        for (int64_t i = 0; i < nb; i++) {
            if (pack)
                group_block_put(&s, (uint8_t *)dst + group, gi, nb, i, j,
                                (const uint8_t *)src + (size_t)r * rb + (size_t)i * s.block);
            else
                group_block_get(&s, (const uint8_t *)src + group, gi, nb, i, j,
                                (uint8_t *)dst + (size_t)r * rb + (size_t)i * s.block);
        }
    }
}

void lfm_r16_pack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols) {
    convert(type, src, dst, n_rows, n_cols, 1);
}

void lfm_r16_unpack(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols) {
    convert(type, src, dst, n_rows, n_cols, 0);
}

/* The largest block of a type with an R16 form (Q6_K). */
#define MAX_BLOCK 256

void lfm_r16_dequant_row(uint32_t type, const void *matrix, size_t row_bytes, int64_t r,
                         int64_t n_cols, float *out) {
    const shape s = shape_of(type);
    const int64_t gi = r / LFM_R16_ROWS, nb = n_cols / s.elems;
    const uint8_t *group = (const uint8_t *)matrix + (size_t)gi * LFM_R16_ROWS * row_bytes;
    uint8_t b[MAX_BLOCK];
    for (int64_t i = 0; i < nb; i++) {
        group_block_get(&s, group, gi, nb, i, (int)(r % LFM_R16_ROWS), b);
        lfm_dequantize_row(type, b, out + i * s.elems, s.elems);
    }
}

/* One output: block by block, the scalar dot's steps.  A scalar dot over
 * one block returns 0 + that block's term exactly, so summing them here
 * repeats its float steps (quant_legacy.c, quant_k.c). */
static float dot_row(uint32_t type, int64_t n, const uint8_t *group, int64_t gi, int j,
                     const void *a) {
    const shape s = shape_of(type);
    const size_t ab = lfm_row_bytes(lfm_quant_act_type(type), s.elems);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / s.elems; i++) {
        _Alignas(8) uint8_t b[MAX_BLOCK];
        group_block_get(&s, group, gi, n / s.elems, i, j, b);
        const void *y = (const uint8_t *)a + (size_t)i * ab;
        switch (type) {
        case LFM_TYPE_Q4_0: sum += lfm_dot_q4_0(s.elems, b, y); break;
        case LFM_TYPE_Q8_0: sum += lfm_dot_q8_0(s.elems, b, y); break;
        case LFM_TYPE_Q4_K: sum += lfm_dot_q4_K(s.elems, b, y); break;
        case LFM_TYPE_Q5_K: sum += lfm_dot_q5_K(s.elems, b, y); break;
        default: sum += lfm_dot_q6_K(s.elems, b, y); break;
        }
    }
    return sum;
}

static void mm_ref(uint32_t type, int64_t n, const void *w, size_t ws, int64_t nr, const void *a,
                   size_t as, int64_t nt, float *y, int64_t ys) {
    for (int64_t r = 0; r < nr; r++) {
        const uint8_t *group = (const uint8_t *)w + (size_t)(r / LFM_R16_ROWS) * LFM_R16_ROWS * ws;
        for (int64_t t = 0; t < nt; t++)
            y[t * ys + r] = dot_row(type, n, group, r / LFM_R16_ROWS, (int)(r % LFM_R16_ROWS),
                                    (const uint8_t *)a + (size_t)t * as);
    }
}

#define MM_REF(sfx, TYPE)                                                                          \
    void lfm_mm_r16_##sfx##_ref(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,    \
                                size_t as, int64_t nt, float *y, int64_t ys) {                     \
        mm_ref(TYPE, n, w, ws, nr, a, as, nt, y, ys);                                              \
    }
MM_REF(q4_0, LFM_TYPE_Q4_0)
MM_REF(q8_0, LFM_TYPE_Q8_0)
MM_REF(q4_K, LFM_TYPE_Q4_K)
MM_REF(q5_K, LFM_TYPE_Q5_K)
MM_REF(q6_K, LFM_TYPE_Q6_K)
