/* Q4_0 / Q8_0 weights in the R16 layout (r16.h) for the AVX-512 VNNI level,
 * included by x86_avx512_vnni.c after x86_gemm_vnni_tmpl.h, whose 16-row block
 * step (gt_block16) and activation tables (gt_prep) these share: the same
 * integer sums and float steps, so every output is bit-identical to the
 * row-layout tiles and the scalar dot.  What changes is the decode: a
 * block of 16 rows is one 32-byte load of scales and 4 (Q4_0) or 8 (Q8_0)
 * 64-byte loads, where the row layout needs 16 scattered loads, two 4x4
 * transposes, two inserts and 16 scalar scale loads. */
#include "r16.h"

/* Bytes of one block of a group: 16 half scales and 16 rows of codes. */
#define GR_BYTES_q4_0 (LFM_R16_ROWS * 18)
#define GR_BYTES_q8_0 (LFM_R16_ROWS * 34)
/* Software prefetch distance in the group stream (decode reads each byte
 * once, front to back). */
#ifndef GR_PF
#define GR_PF 2048
#endif

static inline __attribute__((always_inline)) void gr_decode_q4_0(const uint8_t *b, __m512i W[8],
                                                                 __m512 *dw) {
    *dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int k = 0; k < 4; k++) {
        const __m512i v = _mm512_loadu_si512(b + 32 + 64 * k);
        W[k] = _mm512_and_si512(v, m4);
        W[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
}

static inline __attribute__((always_inline)) void gr_decode_q8_0(const uint8_t *b, __m512i W[8],
                                                                 __m512 *dw) {
    *dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b));
    const __m512i bias = _mm512_set1_epi8((char)0x80); /* signed -> unsigned + 128 */
    for (int k = 0; k < 8; k++)
        W[k] = _mm512_xor_si512(_mm512_loadu_si512(b + 32 + 64 * k), bias);
}

#define GR_TILE(sfx)                                                                                 \
    /* One group (16 rows at g) x TN activation rows over blocks [i0, i1). */                        \
    static inline __attribute__((always_inline)) void gr_group_##sfx(                                \
        int TN, const uint8_t *g, const block_q8_0 *const *y, const float *da,                       \
        const int32_t *noff, int64_t i0, int64_t i1, float *out, int64_t os) {                       \
        __m512 acc[GT_T];                                                                            \
        for (int t = 0; t < TN; t++)                                                                 \
            acc[t] = i0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + t * os);                  \
        for (int64_t i = i0; i < i1; i++) {                                                          \
            const uint8_t *b = g + (size_t)i * GR_BYTES_##sfx;                                       \
            if (TN == 1)                                                                             \
                for (int o = 0; o < GR_BYTES_##sfx; o += 64)                                         \
                    _mm_prefetch((const char *)b + GR_PF + o, _MM_HINT_T0);                          \
            __m512i W[8];                                                                            \
            __m512 dw;                                                                               \
            gr_decode_##sfx(b, W, &dw);                                                              \
            gt_block16(TN, W, dw, y, i, da, noff, i - i0, acc);                                      \
        }                                                                                            \
        for (int t = 0; t < TN; t++)                                                                 \
            _mm512_storeu_ps(out + t * os, acc[t]);                                                  \
    }                                                                                                \
    static void gr_groups_##sfx(int tn, const uint8_t *w, size_t gs, int64_t ng,                     \
                                const block_q8_0 *const *y, const float *da, const int32_t *noff,    \
                                int64_t i0, int64_t i1, float *out, int64_t os) {                    \
        for (int64_t g = 0; g < ng; g++) {                                                           \
            const uint8_t *gp = w + (size_t)g * gs;                                                  \
            float *o = out + g * LFM_R16_ROWS;                                                       \
            switch (tn) {                                                                            \
            case 1: gr_group_##sfx(1, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 2: gr_group_##sfx(2, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 3: gr_group_##sfx(3, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 4: gr_group_##sfx(4, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 5: gr_group_##sfx(5, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 6: gr_group_##sfx(6, gp, y, da, noff, i0, i1, o, os); break;                        \
            case 7: gr_group_##sfx(7, gp, y, da, noff, i0, i1, o, os); break;                        \
            default: gr_group_##sfx(8, gp, y, da, noff, i0, i1, o, os); break;                       \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    /* Weight rows [rc0, rc1) (whole groups) for gt_blocked. */                                      \
    static void gr_chunk_##sfx(const void *w, size_t ws, int64_t rc0, int64_t rc1, int tn,           \
                               const block_q8_0 *const *y, const float *dat, const int32_t *nft,     \
                               int64_t i0, int64_t i1, float *out, int64_t os) {                     \
        const size_t gs = LFM_R16_ROWS * ws; /* bytes of a group */                                  \
        gr_groups_##sfx(tn, (const uint8_t *)w + (size_t)(rc0 / LFM_R16_ROWS) * gs, gs,              \
                        (rc1 - rc0) / LFM_R16_ROWS, y, dat, nft, i0, i1, out + rc0, os);             \
    }                                                                                                \
    /* The lfm_mm_fn of r16.h.  Decode (one activation row) runs each group                        \
     * over the whole row, one forward stream; batches are blocked for the                         \
     * caches as gt_mm is (gt_blocked). */ \
    static void gr_mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,          \
                            size_t as, int64_t nt, float *out, int64_t os) {                         \
        const int64_t nb = n / QK_LEGACY;                                                            \
        const size_t gs = LFM_R16_ROWS * ws; /* bytes of a group */                                  \
        if (nt == 1 && nb <= GT_TC * GT_KB) {                                                        \
            float da[GT_TC * GT_KB];                                                                 \
            int32_t noff[GT_TC * GT_KB];                                                             \
            const block_q8_0 *y[GT_T] = {a, a, a, a, a, a, a, a};                                    \
            gt_prep(a, nb, GT_OFF_##sfx, da, noff);                                                  \
            gr_groups_##sfx(1, w, gs, nr / LFM_R16_ROWS, y, da, noff, 0, nb, out, os);               \
            return;                                                                                  \
        }                                                                                            \
        gt_blocked(gr_chunk_##sfx, GT_OFF_##sfx, n, w, ws, nr, a, as, nt, out, os);                  \
    }

GR_TILE(q4_0)
GR_TILE(q8_0)

static inline void gr_fill(lfm_kernels *k) {
    k->mm_r16[LFM_TYPE_Q4_0] = gr_mm_q4_0;
    k->mm_r16[LFM_TYPE_Q8_0] = gr_mm_q8_0;
}
