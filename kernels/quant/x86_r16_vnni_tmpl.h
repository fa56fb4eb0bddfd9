/* Weights in the R16 layout (r16.h) for the AVX-512 VNNI level, included by
 * x86_avx512_vnni.c after x86_gemm_vnni_tmpl.h and x86_kgemm_vnni_tmpl.h,
 * whose steps these share: the same integer sums and float steps, so every
 * output is bit-identical to the row-layout kernels and the scalar dot.
 * What changes is the decode.  Q4_0 / Q8_0 (gt_block16, gt_prep): a block
 * of 16 rows is one 32-byte load of scales and 4 (Q4_0) or 8 (Q8_0)
 * 64-byte loads, where the row layout needs 16 scattered loads, two 4x4
 * transposes, two inserts and 16 scalar scale loads.  The k-quants: below. */
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

/* ---- Q4_K / Q5_K / Q6_K ------------------------------------------------------
 *
 * Two or more activation rows: x86_kgemm_vnni_tmpl.h's decoded blocks
 * (kr_mm_*), reading the group's vectors where the row layout transposes.
 * One activation row (decode): each super-block of a group decoded and
 * applied in registers, its sub-block sums in independent chains (one
 * chain of 8 dependent vpdpbusd per sub-block, as kb_apply_* for one row,
 * measured latency-bound), prefetching GR_PF bytes ahead in the stream. */

/* 16 rows' Q4_K (Q5_K: with the fifth bits qh) super-block at b times the
 * activation block y: the scalar's float term per row. */
static inline __attribute__((always_inline)) __m512 kr_term_k4(kb_src src, const block_q8_K *y,
                                                               int q5) {
    const uint8_t *b = src.g;
    kb_k4h h;
    kb_decode_k4_header(&src, &h);
    /* summ = sum_j m_j (bsums[2j] + bsums[2j+1]), two chains */
    __m512i sm[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int j = 0; j < 8; j++) {
        int32_t pr;
        memcpy(&pr, y->bsums + 2 * j, 4);
        sm[j & 1] = _mm512_dpwssd_epi32(sm[j & 1], h.mm[j], _mm512_set1_epi32(pr));
    }
    const __m512i n4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
    const uint8_t *qs = b + 16 * (q5 ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs));
    const uint8_t *qh = b + 16 * offsetof(block_q5_K, qh);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) { /* 64 elements: sub-blocks 2c (low nibbles), 2c+1 (high) */
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                        _mm512_setzero_si512()};
        for (int m = 0; m < 8; m++) {
            const __m512i r = _mm512_loadu_si512(qs + 512 * c + 64 * m);
            __m512i lo = _mm512_and_si512(r, n4),
                    hi = _mm512_and_si512(_mm512_srli_epi16(r, 4), n4);
            if (q5) { /* bits 2c, 2c+1 of qh[l] to bit 4 of elements l of the two sub-blocks */
                const __m512i H = _mm512_loadu_si512(qh + 64 * m);
                lo = _mm512_or_si512(
                    lo, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(H, 2 * c), one), 4));
                hi = _mm512_or_si512(
                    hi,
                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(H, 2 * c + 1), one), 4));
            }
            const int8_t *a = y->qs + 64 * c + 4 * m;
            s[m & 1] = _mm512_dpbusd_epi32(s[m & 1], lo, _mm512_set1_epi32(gt_dword(a)));
            s[2 + (m & 1)] =
                _mm512_dpbusd_epi32(s[2 + (m & 1)], hi, _mm512_set1_epi32(gt_dword(a + 32)));
        }
        isum =
            _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(s[0], s[1]), h.sc[2 * c]));
        isum = _mm512_add_epi32(isum,
                                _mm512_mullo_epi32(_mm512_add_epi32(s[2], s[3]), h.sc[2 * c + 1]));
    }
    const __m512 da = _mm512_set1_ps(y->d);
    const __m512 d = _mm512_mul_ps(h.d, da), dmin = _mm512_mul_ps(h.dmin, da);
    return _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum)),
                         _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_add_epi32(sm[0], sm[1]))));
}

/* 16 rows' Q6_K super-block at b times y.  Element 128h + 32s + l of a row
 * is the low (s < 2) or high (s >= 2) nibble of ql[64h + 32(s & 1) + l]
 * with bits 2s, 2s+1 of qh[32h + l] on top (kb_decode_q6_K); each qh
 * vector is loaded once for its four 32-element groups. */
static inline __attribute__((always_inline)) __m512 kr_term_q6_K(kb_src src, const block_q8_K *y) {
    const uint8_t *b = src.g;
    __m512i v[4];
    kb_load(&src, offsetof(block_q6_K, scales), v);
    const __m512 d = _mm512_mul_ps(kb_halfs(&src, offsetof(block_q6_K, d)), _mm512_set1_ps(y->d));
    const __m512i n4 = _mm512_set1_epi8(0x0f), m0 = _mm512_set1_epi8(0x03);
    const __m512i m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30);
    const __m512i m3 = _mm512_set1_epi8((char)0xc0);
    /* vector k of the block (lfm_r16_slot: read order) */
#define KR_Q6(k) _mm512_loadu_si512(b + 64 * lfm_r16_slot(sizeof(block_q6_K) / 4, (k)))
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        /* s[4c + k]: sub-block 2g + (k & 1) of group g = 4h + c + 2 (k >> 1),
         * starting at -32 bsum (isum = sum sc (<q, a> - 32 bsum), as
         * kb_apply_q6_K) */
        __m512i s[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const int g = 4 * h + (i >> 2) + 2 * ((i >> 1) & 1);
            s[i] = _mm512_set1_epi32(-32 * y->bsums[2 * g + (i & 1)]);
        }
#pragma GCC unroll 8
        for (int m = 0; m < 8; m++) {
            const __m512i H = KR_Q6(32 + 8 * h + m);
            const __m512i L0 = KR_Q6(16 * h + m), L1 = KR_Q6(16 * h + 8 + m);
            /* 0xEC: (A & C) | B */
            const __m512i q0 = _mm512_ternarylogic_epi32(
                L0, _mm512_slli_epi16(_mm512_and_si512(H, m0), 4), n4, 0xEC);
            const __m512i q2 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(L0, 4),
                                                         _mm512_and_si512(H, m2), n4, 0xEC);
            const __m512i q1 = _mm512_ternarylogic_epi32(
                L1, _mm512_slli_epi16(_mm512_and_si512(H, m1), 2), n4, 0xEC);
            const __m512i q3 = _mm512_ternarylogic_epi32(
                _mm512_srli_epi16(L1, 4), _mm512_srli_epi16(_mm512_and_si512(H, m3), 2), n4, 0xEC);
            const int8_t *a = y->qs + 128 * h + 4 * m; /* group 4h, then + 32 per group */
            const int k = m >> 2;
            s[k] = _mm512_dpbusd_epi32(s[k], q0, _mm512_set1_epi32(gt_dword(a)));
            s[4 + k] = _mm512_dpbusd_epi32(s[4 + k], q1, _mm512_set1_epi32(gt_dword(a + 32)));
            s[2 + k] = _mm512_dpbusd_epi32(s[2 + k], q2, _mm512_set1_epi32(gt_dword(a + 64)));
            s[6 + k] = _mm512_dpbusd_epi32(s[6 + k], q3, _mm512_set1_epi32(gt_dword(a + 96)));
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const int g = 4 * h + (i >> 2) + 2 * ((i >> 1) & 1), sb = 2 * g + (i & 1);
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s[i], kb_sbyte(v[sb >> 2], sb & 3)));
        }
    }
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum));
#undef KR_Q6
}

/* Software prefetch in the group stream, per type: distance in rows'
 * blocks (16 make one group block) and cache level.  Measured on 65536 x
 * 2048 from DRAM, 1 thread, Zen 4, medians of 5 interleaved runs (GB/s;
 * of 3 where marked; BENCHMARKS.md, "Kernels: the R16 layout"):
 *   Q4_K  L1 at 4 / 8: 27.8 / 26.4;  L2 at 16 / 32: 17.7 / 19.8
 *   Q5_K  L1 at 8: 24.6 (3);  L2 at 32: 24.8 (3)
 *   Q6_K  L1 at 4 / 8: 14.6 (3) / 14.4;  L2 at 8 / 16 / 24 / 32 / 48:
 *         15.2 / 19.4 / 20.0 / 21.9 / 21.4 (L1 at 8 + L2 at 32: 16.6)
 * (Q6_K's 52-line blocks with L1 prefetches far enough ahead to cover the
 * DRAM latency take more line-fill buffers than the core has, and its
 * demand loads wait behind them).  Whole decode of the Q6_K R16 file on 2
 * threads, tg32 tok/s, medians of 5 interleaved runs (2026-12-03 08:05):
 * L2 at 24 / 32 / 48 / 64: 21.4 / 20.7 / 22.1 / 20.2, then 32 / 48 over 10
 * runs: 21.5 / 21.3 -- the same within the noise. */
#ifndef KR_PF_q4_K /* -D overrides for measuring variants, as GR_PF */
#define KR_PF_q4_K 8
#endif
#ifndef KR_PF_q5_K
#define KR_PF_q5_K 8
#endif
#ifndef KR_PF_q6_K
#define KR_PF_q6_K 32
#endif
#ifndef KR_HINT_q4_K
#define KR_HINT_q4_K _MM_HINT_T0
#endif
#ifndef KR_HINT_q5_K
#define KR_HINT_q5_K _MM_HINT_T0
#endif
#ifndef KR_HINT_q6_K
#define KR_HINT_q6_K _MM_HINT_T1
#endif
#define KR_DECODE(sfx, btype, term)                                                                \
    static void kr_decode_##sfx(int64_t n, const uint8_t *w, size_t ws, int64_t nr,                \
                                const block_q8_K *y, float *out) {                                 \
        const int64_t nb = n / QK_K;                                                               \
        const size_t tails = LFM_R16_ROWS * (sizeof(btype) % 4); /* a block's, r16.h */            \
        for (int64_t r0 = 0; r0 < nr; r0 += LFM_R16_ROWS) {                                        \
            const uint8_t *g = w + (size_t)r0 * ws;                                                \
            if (tails && r0 + LFM_R16_ROWS < nr) {                                                 \
                /* the next group's tails: a second stream, which the                           \
                 * prefetch of the vectors reaches only at the group's end */  \
                const kb_src nx = kb_r16_block(g + LFM_R16_ROWS * ws, r0 / LFM_R16_ROWS + 1, nb,   \
                                               0, sizeof(btype), sizeof(btype) % 4);               \
                for (size_t o = 0; o < (size_t)nb * tails; o += 64)                                \
                    _mm_prefetch((const char *)nx.tail + o, _MM_HINT_T0);                          \
            }                                                                                      \
            __m512 acc = _mm512_setzero_ps();                                                      \
            for (int64_t i = 0; i < nb; i++) {                                                     \
                const kb_src src =                                                                 \
                    kb_r16_block(g, r0 / LFM_R16_ROWS, nb, i, sizeof(btype), sizeof(btype) % 4);   \
                const char *pf = (const char *)g + (size_t)i * LFM_R16_ROWS * sizeof(btype);       \
                for (size_t o = 0; o < LFM_R16_ROWS * sizeof(btype); o += 64)                      \
                    _mm_prefetch(pf + KR_PF_##sfx * sizeof(btype) + o, KR_HINT_##sfx);             \
                acc = _mm512_add_ps(acc, term);                                                    \
            }                                                                                      \
            _mm512_storeu_ps(out + r0, acc);                                                       \
        }                                                                                          \
    }                                                                                              \
    static void kr_r16_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,       \
                             size_t as, int64_t nt, float *out, int64_t os) {                      \
        if (nt == 1)                                                                               \
            kr_decode_##sfx(n, w, ws, nr, a, out);                                                 \
        else                                                                                       \
            kr_mm_##sfx(n, w, ws, nr, a, as, nt, out, os);                                         \
    }

KR_DECODE(q4_K, block_q4_K, kr_term_k4(src, (const block_q8_K *)y + i, 0))
KR_DECODE(q5_K, block_q5_K, kr_term_k4(src, (const block_q8_K *)y + i, 1))
KR_DECODE(q6_K, block_q6_K, kr_term_q6_K(src, (const block_q8_K *)y + i))

static inline void gr_fill(lfm_kernels *k) {
    k->mm_r16[LFM_TYPE_Q4_0] = gr_mm_q4_0;
    k->mm_r16[LFM_TYPE_Q8_0] = gr_mm_q8_0;
    k->mm_r16[LFM_TYPE_Q4_K] = kr_r16_q4_K;
    k->mm_r16[LFM_TYPE_Q5_K] = kr_r16_q5_K;
    k->mm_r16[LFM_TYPE_Q6_K] = kr_r16_q6_K;
}
