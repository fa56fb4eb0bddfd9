/* Q4_0 / Q8_0 x Q8_0 matmul tiles for the AVX-512 VNNI level (256-bit,
 * 32 registers), included by x86_avx512_vnni.c.
 *
 * Layout trick: lanes are weight rows.  For 8 weight rows and one 32-element
 * block, the codes are transposed so that register W[m] holds, in lane j,
 * bytes 4m..4m+3 of row j (unsigned: Q4_0 nibbles, Q8_0 codes + 128).  Then
 *   isum[j] = -off * sum(a) + sum_m dpbusd(W[m][j], a dword m)
 * is the exact integer block sum of row j with one activation row, the
 * activation dword coming as a broadcast memory operand.  No horizontal
 * reduction: 8 vpdpbusd give 8 rows' block sums, and the scales of 8 rows
 * convert with one vcvtph2ps.  The transposition is paid once per weight
 * block and shared by up to GT_T activation rows.
 *
 * Float steps per output, as the scalar reference (quant_legacy.c):
 *   sum += (dw * da) * (float)isum      block by block, no FMA,
 * so dot, tiles and the scalar agree bit for bit. */
#include "x86_common.h"

#define GT_R 8   /* weight rows per tile: the 8 lanes */
#define GT_T 8   /* activation rows per tile */
#define GT_TC 64 /* activation rows per cache chunk */
#define GT_KB 64 /* blocks per cache chunk (stack tables: GT_TC x GT_KB) */
#ifndef GT_DECODE16
#define GT_DECODE16 1
#endif
#define GT_RC 128 /* weight rows per cache chunk: 128 x 64 blocks, 147 KB of Q4_0 */

/* Per activation block: da, and -off * sum(codes). */
static inline void gt_prep(const block_q8_0 *y, int64_t nb, int off, float *da, int32_t *noff) {
    const __m256i one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)y[i].qs);
        da[i] = x86_h2f(y[i].d);
        noff[i] = -off * x86_hsum_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), one, q));
    }
}

/* 4 x 4 dword transpose inside each 128-bit lane. */
static inline void gt_transpose4(__m256i v[4]) {
    const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    v[0] = _mm256_unpacklo_epi64(t0, t2);
    v[1] = _mm256_unpackhi_epi64(t0, t2);
    v[2] = _mm256_unpacklo_epi64(t1, t3);
    v[3] = _mm256_unpackhi_epi64(t1, t3);
}

static inline __m256i gt_load2(const void *lo, const void *hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                   _mm_loadu_si128((const __m128i *)hi), 1);
}

/* The 8 rows' half scales as floats (vpgatherdd measured slower). */
#define GT_SCALES(x, i)                                                                            \
    _mm256_cvtph_ps(_mm_setr_epi16((short)x[0][i].d, (short)x[1][i].d, (short)x[2][i].d,           \
                                   (short)x[3][i].d, (short)x[4][i].d, (short)x[5][i].d,           \
                                   (short)x[6][i].d, (short)x[7][i].d))

/* Block i of rows x[0..7] as W[8] (see top); *dw: the 8 row scales. */
static inline void gt_decode_q4_0(const block_q4_0 *const x[8], int64_t i, __m256i W[8],
                                  __m256 *dw) {
    __m256i v[4];
    for (int j = 0; j < 4; j++)
        v[j] = gt_load2(x[j][i].qs, x[j + 4][i].qs);
    gt_transpose4(v);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int k = 0; k < 4; k++) {
        W[k] = _mm256_and_si256(v[k], m4);
        W[k + 4] = _mm256_and_si256(_mm256_srli_epi16(v[k], 4), m4);
    }
    *dw = GT_SCALES(x, i);
}

static inline void gt_decode_q8_0(const block_q8_0 *const x[8], int64_t i, __m256i W[8],
                                  __m256 *dw) {
    __m256i v[4], u[4];
    for (int j = 0; j < 4; j++) {
        v[j] = gt_load2(x[j][i].qs, x[j + 4][i].qs);
        u[j] = gt_load2(x[j][i].qs + 16, x[j + 4][i].qs + 16);
    }
    gt_transpose4(v);
    gt_transpose4(u);
    const __m256i bias = _mm256_set1_epi8((char)0x80); /* signed -> unsigned + 128 */
    for (int k = 0; k < 4; k++) {
        W[k] = _mm256_xor_si256(v[k], bias);
        W[k + 4] = _mm256_xor_si256(u[k], bias);
    }
    *dw = GT_SCALES(x, i);
}

static inline int32_t gt_dword(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* One block of 16 weight rows (W, dw: rows in the lanes) against TN
 * activation rows: acc[t] += (dw * da) * isum, the scalar's float steps.
 * k indexes the da/noff tables (block i - i0 of the chunk).  TN = 1
 * (decode) keeps two chains of dpbusd. */
static inline __attribute__((always_inline)) void gt_block16(int TN, const __m512i W[8], __m512 dw,
                                                             const block_q8_0 *const *y, int64_t i,
                                                             const float *da, const int32_t *noff,
                                                             int64_t k, __m512 acc[GT_T]) {
    __m512i s[GT_T];
    for (int t = 0; t < TN; t++)
        s[t] = _mm512_set1_epi32(noff[t * GT_KB + k]);
    if (TN == 1) {
        __m512i s1 = _mm512_setzero_si512();
        for (int m = 0; m < 8; m += 2) {
            s[0] = _mm512_dpbusd_epi32(s[0], W[m], _mm512_set1_epi32(gt_dword(y[0][i].qs + 4 * m)));
            s1 = _mm512_dpbusd_epi32(s1, W[m + 1],
                                     _mm512_set1_epi32(gt_dword(y[0][i].qs + 4 * m + 4)));
        }
        s[0] = _mm512_add_epi32(s[0], s1);
    } else
        for (int m = 0; m < 8; m++)
            for (int t = 0; t < TN; t++)
                s[t] = _mm512_dpbusd_epi32(s[t], W[m],
                                           _mm512_set1_epi32(gt_dword(y[t][i].qs + 4 * m)));
    for (int t = 0; t < TN; t++) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(da[t * GT_KB + k]));
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(d, _mm512_cvtepi32_ps(s[t])));
    }
}

/* Work of one cache chunk (gt_blocked): weight rows [rc0, rc1) against the
 * tn activation rows y, whose tables are dat, nft, over blocks [i0, i1); out
 * points at the first of those activation rows. */
typedef void (*gt_chunk_fn)(const void *w, size_t ws, int64_t rc0, int64_t rc1, int tn,
                            const block_q8_0 *const *y, const float *dat, const int32_t *nft,
                            int64_t i0, int64_t i1, float *out, int64_t os);

/* The cache blocking of every Q4_0/Q8_0 tile product, row layout (gt_mm)
 * and R16 (x86_r16_vnni_tmpl.h): a chunk of GT_TC activation rows (their
 * tables in L1/L2) x GT_KB blocks, and within it GT_RC weight rows (L2) that
 * every group of GT_T activation rows reuses; partial sums over K chunks
 * are kept in out (same float order).  off: the weight codes' offset. */
static inline __attribute__((always_inline)) void gt_blocked(gt_chunk_fn chunk, int off, int64_t n,
                                                             const void *w, size_t ws, int64_t nr,
                                                             const void *a, size_t as, int64_t nt,
                                                             float *out, int64_t os) {
    const int64_t nb = n / QK_LEGACY;
    float da[GT_TC * GT_KB];
    int32_t noff[GT_TC * GT_KB];
    for (int64_t tc0 = 0; tc0 < nt; tc0 += GT_TC) {
        const int64_t tc1 = nt - tc0 < GT_TC ? nt : tc0 + GT_TC;
        for (int64_t i0 = 0; i0 < nb || i0 == 0; i0 += GT_KB) {
            const int64_t i1 = nb - i0 < GT_KB ? nb : i0 + GT_KB;
            for (int64_t t = tc0; t < tc1; t++)
                gt_prep((const block_q8_0 *)((const uint8_t *)a + (size_t)t * as) + i0, i1 - i0,
                        off, da + (t - tc0) * GT_KB, noff + (t - tc0) * GT_KB);
            for (int64_t rc0 = 0; rc0 < nr; rc0 += GT_RC) {
                const int64_t rc1 = nr - rc0 < GT_RC ? nr : rc0 + GT_RC;
                for (int64_t t0 = tc0; t0 < tc1; t0 += GT_T) {
                    const int tn = (int)(tc1 - t0 < GT_T ? tc1 - t0 : GT_T);
                    const block_q8_0 *y[GT_T];
                    for (int t = 0; t < GT_T; t++) /* missing rows repeat the first */
                        y[t] = (const block_q8_0 *)((const uint8_t *)a +
                                                    (size_t)(t0 + (t < tn ? t : 0)) * as);
                    chunk(w, ws, rc0, rc1, tn, y, da + (t0 - tc0) * GT_KB,
                          noff + (t0 - tc0) * GT_KB, i0, i1, out + t0 * os, os);
                }
            }
        }
    }
}

/* 8 rows x TN activation rows over blocks [i0, i1); acc[t] lane j: the sum
 * so far of row j with activation t. */
#define GT_TILE(sfx, btype)                                                                          \
    static inline __attribute__((always_inline)) void gt_tile_##sfx(                                 \
        int TN, const btype *const x[8], const block_q8_0 *const *y, const float *da,                \
        const int32_t *noff, int64_t i0, int64_t i1, __m256 acc[GT_T], const char *pf,               \
        int64_t pf_step) {                                                                           \
        for (int64_t i = i0; i < i1; i++) {                                                          \
            __m256i W[8];                                                                            \
            __m256 dw;                                                                               \
            if (pf) /* the next rows, spread over this pass */                                       \
                for (int64_t o = 0; o < pf_step; o += 64)                                            \
                    _mm_prefetch(pf + (i - i0) * pf_step + o, _MM_HINT_T0);                          \
            gt_decode_##sfx(x, i, W, &dw);                                                           \
            /* m outer: the TN dependency chains interleave */                                       \
            /* (few rows: two chains per row, odd m in s[t + 4]) */                                  \
            __m256i s[GT_T];                                                                         \
            for (int t = 0; t < TN; t++) {                                                           \
                s[t] = _mm256_set1_epi32(noff[t * GT_KB + (i - i0)]);                                \
                if (TN <= 4) s[t + 4] = _mm256_setzero_si256();                                      \
            }                                                                                        \
            for (int m = 0; m < 8; m++)                                                              \
                for (int t = 0; t < TN; t++) {                                                       \
                    const int c = TN <= 4 && (m & 1) ? t + 4 : t;                                    \
                    s[c] = _mm256_dpbusd_epi32(s[c], W[m],                                           \
                                               _mm256_set1_epi32(gt_dword(y[t][i].qs + 4 * m)));     \
                }                                                                                    \
            if (TN <= 4)                                                                             \
                for (int t = 0; t < TN; t++)                                                         \
                    s[t] = _mm256_add_epi32(s[t], s[t + 4]);                                         \
            for (int t = 0; t < TN; t++) {                                                           \
                const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(da[t * GT_KB + (i - i0)]));        \
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(d, _mm256_cvtepi32_ps(s[t])));          \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    /* 16 rows x TN activation rows on 512-bit registers (two 8-row decodes    \
     * joined): half the broadcast loads and instructions per product; per    \
     * output the same steps as gt_tile.  TN = 1 (decode) keeps two chains   \
     * of dpbusd and prefetches as gt_tile does. */                     \
    static inline __attribute__((always_inline)) void gt_rows16_body_##sfx(                          \
        int TN, const uint8_t *w, size_t ws, const block_q8_0 *const *y, const float *da,            \
        const int32_t *noff, int64_t i0, int64_t i1, float *out, int64_t os, const char *pf,         \
        int64_t pf_step) {                                                                           \
        const btype *x[16];                                                                          \
        for (int j = 0; j < 16; j++)                                                                 \
            x[j] = (const btype *)(w + (size_t)j * ws);                                              \
        __m512 acc[GT_T];                                                                            \
        for (int t = 0; t < TN; t++)                                                                 \
            acc[t] = i0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + t * os);                  \
        for (int64_t i = i0; i < i1; i++) {                                                          \
            if (pf)                                                                                  \
                for (int64_t o = 0; o < pf_step; o += 64)                                            \
                    _mm_prefetch(pf + (i - i0) * pf_step + o, _MM_HINT_T0);                          \
            __m256i W0[8], W1[8];                                                                    \
            __m256 dw0, dw1;                                                                         \
            gt_decode_##sfx(x, i, W0, &dw0);                                                         \
            gt_decode_##sfx(x + 8, i, W1, &dw1);                                                     \
            __m512i W[8];                                                                            \
            for (int m = 0; m < 8; m++)                                                              \
                W[m] = _mm512_inserti64x4(_mm512_castsi256_si512(W0[m]), W1[m], 1);                  \
            const __m512 dw = _mm512_castpd_ps(_mm512_insertf64x4(                                   \
                _mm512_castpd256_pd512(_mm256_castps_pd(dw0)), _mm256_castps_pd(dw1), 1));           \
            gt_block16(TN, W, dw, y, i, da, noff, i - i0, acc);                                      \
        }                                                                                            \
        for (int t = 0; t < TN; t++)                                                                 \
            _mm512_storeu_ps(out + t * os, acc[t]);                                                  \
    }                                                                                                \
    static void gt_rows16_##sfx(const uint8_t *w, size_t ws, const block_q8_0 *const *y,             \
                                const float *da, const int32_t *noff, int64_t i0, int64_t i1,        \
                                float *out, int64_t os) {                                            \
        gt_rows16_body_##sfx(GT_T, w, ws, y, da, noff, i0, i1, out, os, NULL, 0);                    \
    }                                                                                                \
    static void gt_rows16_1_##sfx(const uint8_t *w, size_t ws, const block_q8_0 *const *y,           \
                                  const float *da, const int32_t *noff, int64_t i0, int64_t i1,      \
                                  float *out, const char *pf, int64_t pf_step) {                     \
        gt_rows16_body_##sfx(1, w, ws, y, da, noff, i0, i1, out, 0, pf, pf_step);                    \
    }                                                                                                \
    /* Weight rows [rc0, rc1) against the tn activation rows y (tables dat,                        \
     * nft) over blocks [i0, i1), out at the first of them (gt_blocked). */ \
    static void gt_chunk_##sfx(const void *w, size_t ws, int64_t rc0, int64_t rc1, int tn,           \
                               const block_q8_0 *const *y, const float *dat, const int32_t *nft,     \
                               int64_t i0, int64_t i1, float *out, int64_t os) {                     \
        for (int64_t r0 = rc0; r0 < rc1; r0 += GT_R) {                                               \
            if (tn == GT_T && rc1 - r0 >= 2 * GT_R) {                                                \
                gt_rows16_##sfx((const uint8_t *)w + (size_t)r0 * ws, ws, y, dat, nft, i0, i1,       \
                                out + r0, os);                                                       \
                r0 += GT_R;                                                                          \
                continue;                                                                            \
            }                                                                                        \
            if (GT_DECODE16 && tn == 1 && rc1 - r0 >= 2 * GT_R &&                                    \
                ws * 2 * GT_R < ((size_t)1 << 30)) {                                                 \
                const char *w0 = (const char *)w + (size_t)r0 * ws;                                  \
                gt_rows16_1_##sfx((const uint8_t *)w0, ws, y, dat, nft, i0, i1, out + r0,            \
                                  w0 + 2 * GT_R * ws,                                                \
                                  (int64_t)(2 * GT_R * ws) / (i1 - i0 > 0 ? i1 - i0 : 1) + 1);       \
                r0 += GT_R;                                                                          \
                continue;                                                                            \
            }                                                                                        \
            const int rr = (int)(rc1 - r0 < GT_R ? rc1 - r0 : GT_R);                                 \
            const btype *x[8];                                                                       \
            for (int j = 0; j < 8; j++) /* missing rows repeat the first */                          \
                x[j] = (const btype *)((const uint8_t *)w + (size_t)(r0 + (j < rr ? j : 0)) * ws);   \
            const __mmask8 lanes = (__mmask8)((1u << rr) - 1);                                       \
            /* one activation row (decode): the weights stream from memory once;                   \
             * prefetch the next 8 rows (contiguous) during these, in address                      \
             * order into L1.  Measured worse end to end (Q4_0 tg, 2 threads):                     \
             * into L2 only -15%, 2 or 4 groups ahead -15..-25%, each row 8 or                     \
             * 16 blocks ahead (8 scattered streams) -40%; no prefetch -60%. */ \
            const char *pf = NULL;                                                                   \
            int64_t pf_step = 0;                                                                     \
            if (tn == 1 && rr == GT_R && ws * GT_R < ((size_t)1 << 30)) {                            \
                pf = (const char *)x[0] + GT_R * ws;                                                 \
                pf_step = (int64_t)(GT_R * ws) / (i1 - i0 > 0 ? i1 - i0 : 1) + 1;                    \
            }                                                                                        \
            __m256 acc[GT_T];                                                                        \
            for (int t = 0; t < GT_T; t++)                                                           \
                acc[t] = i0 == 0 ? _mm256_setzero_ps()                                               \
                                 : _mm256_maskz_loadu_ps(lanes, out + (t < tn ? t : 0) * os + r0);   \
            switch (tn) {                                                                            \
            case 1: gt_tile_##sfx(1, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 2: gt_tile_##sfx(2, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 3: gt_tile_##sfx(3, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 4: gt_tile_##sfx(4, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 5: gt_tile_##sfx(5, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 6: gt_tile_##sfx(6, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            case 7: gt_tile_##sfx(7, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;               \
            default: gt_tile_##sfx(8, x, y, dat, nft, i0, i1, acc, pf, pf_step); break;              \
            }                                                                                        \
            for (int t = 0; t < tn; t++)                                                             \
                _mm256_mask_storeu_ps(out + t * os + r0, lanes, acc[t]);                             \
        }                                                                                            \
    }                                                                                                \
    static void gt_mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,          \
                            size_t as, int64_t nt, float *out, int64_t os) {                         \
        gt_blocked(gt_chunk_##sfx, GT_OFF_##sfx, n, w, ws, nr, a, as, nt, out, os);                  \
    }                                                                                                \
    /* the tile's float steps for one row: bit-identical to gt_mm */                                 \
    static float gt_dot_##sfx(int64_t n, const void *w, const void *a) {                             \
        float out = 0.0f;                                                                            \
        gt_mm_##sfx(n, w, 0, 1, a, 0, 1, &out, 1);                                                   \
        return out;                                                                                  \
    }

#define GT_OFF_q4_0 8
#define GT_OFF_q8_0 128
GT_TILE(q4_0, block_q4_0)
GT_TILE(q8_0, block_q8_0)

static inline void gt_fill(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_0] = gt_dot_q4_0;
    k->mm[LFM_TYPE_Q4_0] = gt_mm_q4_0;
    k->dot[LFM_TYPE_Q8_0] = gt_dot_q8_0;
    k->mm[LFM_TYPE_Q8_0] = gt_mm_q8_0;
}
