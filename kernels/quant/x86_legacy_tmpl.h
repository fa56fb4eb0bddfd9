/* Dots and tiles of the 32-element block types (Q4_0, Q5_0, Q8_0 with Q8_0
 * activations; Q4_1, Q5_1 with Q8_1), one block per 256-bit register.
 * Included by x86_avx2.c (LEG_VNNI 0: vpmaddubsw + vpmaddwd) and
 * x86_avx512_vnni.c (LEG_VNNI 1: vpdpbusd).
 *
 * Each block's integer sum is exact; it is scaled by the scalar's float
 * dw * da and accumulated per lane with FMA (summation order differs from
 * the scalar).  A tile (mm_*) does, per output, exactly the dot's
 * operations, so tiles and dots agree bit for bit. */
#ifndef LEG_VNNI
#error "define LEG_VNNI before including x86_legacy_tmpl.h"
#endif

#include "x86_common.h"

/* Eight int32 sums of four u8 x s8 products (operand ranges: x86_dot_u8s8). */
static inline __m256i leg_dot_u8s8(__m256i u, __m256i s) {
#if LEG_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return x86_dot_u8s8(u, s);
#endif
}

static inline __m256i leg_dot_s8s8(__m256i x, __m256i y) {
    return leg_dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* Signed codes of one weight block, element order 0..31. */
static inline __m256i codes_q4_0(const block_q4_0 *b) {
    return _mm256_sub_epi8(x86_unpack_nibbles(b->qs), _mm256_set1_epi8(8));
}

static inline __m256i codes_q5_0(const block_q5_0 *b) {
    /* a clear fifth bit means q - 16 < 0: or-ing 0xF0 into the nibble
     * gives exactly that two's-complement byte */
    const __m256i hi =
        _mm256_andnot_si256(x86_bytes_from_bits32(b->qh), _mm256_set1_epi8((char)0xF0));
    return _mm256_or_si256(x86_unpack_nibbles(b->qs), hi);
}

static inline __m256i codes_q8_0(const block_q8_0 *b) {
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

/* Unsigned codes of the offset types. */
static inline __m256i codes_q4_1(const block_q4_1 *b) {
    return x86_unpack_nibbles(b->qs);
}

static inline __m256i codes_q5_1(const block_q5_1 *b) {
    const __m256i hi = _mm256_and_si256(x86_bytes_from_bits32(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(x86_unpack_nibbles(b->qs), hi);
}

/* Signed-weight types with Q8_0 activations: dot, and tiles of 2 weight rows
 * x up to MM_T activation rows (weight blocks decoded once per activation
 * row set, activation blocks loaded once per row pair). */
#define MM_T 4
/* Row pairs need 2 x MM_T accumulators: only with AVX-512's 32 registers
 * (with 16, AVX2 spills and measured slower). */
#define LEG_RR (LEG_VNNI ? 2 : 1)
#define SIGNED_Q8_0(sfx, btype)                                                                    \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                              \
        const btype *x = w;                                                                        \
        const block_q8_0 *y = a;                                                                   \
        __m256 acc = _mm256_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                              \
            const __m256i q = leg_dot_s8s8(codes_##sfx(&x[i]), codes_q8_0(&y[i]));                 \
            const __m256 d = _mm256_set1_ps(x86_h2f(x[i].d) * x86_h2f(y[i].d));                    \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc);                                  \
        }                                                                                          \
        return x86_hsum_ps(acc);                                                                   \
    }                                                                                              \
    /* RR weight rows x TN activation rows; per output exactly dot's steps */                      \
    static inline __attribute__((always_inline)) void tile_##sfx(                                  \
        int RR, int TN, int64_t nb, const btype *const *x, const block_q8_0 *const *y, float *out, \
        size_t os) {                                                                               \
        __m256 acc[2][MM_T];                                                                       \
        for (int r = 0; r < 2; r++) /* all of them: no maybe-uninitialized */                      \
            for (int k = 0; k < MM_T; k++)                                                         \
                acc[r][k] = _mm256_setzero_ps();                                                   \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            __m256i qx[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};                      \
            __m256i ax[2] = {qx[0], qx[1]};                                                        \
            float dx[2] = {0.0f, 0.0f};                                                            \
            for (int r = 0; r < RR; r++) {                                                         \
                qx[r] = codes_##sfx(&x[r][i]);                                                     \
                ax[r] = _mm256_sign_epi8(qx[r], qx[r]);                                            \
                dx[r] = x86_h2f(x[r][i].d);                                                        \
            }                                                                                      \
            for (int k = 0; k < TN; k++) {                                                         \
                const __m256i qy = codes_q8_0(&y[k][i]);                                           \
                const float dy = x86_h2f(y[k][i].d);                                               \
                for (int r = 0; r < RR; r++) {                                                     \
                    const __m256i q = leg_dot_u8s8(ax[r], _mm256_sign_epi8(qy, qx[r]));            \
                    const __m256 d = _mm256_set1_ps(dx[r] * dy);                                   \
                    acc[r][k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc[r][k]);              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < RR; r++)                                                               \
            for (int k = 0; k < TN; k++)                                                           \
                out[(size_t)k * os + (size_t)r] = x86_hsum_ps(acc[r][k]);                          \
    }                                                                                              \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,           \
                         size_t as, int64_t nt, float *out, int64_t os) {                          \
        const int64_t nb = n / QK_LEGACY;                                                          \
        for (int64_t t = 0; t < nt; t += MM_T) {                                                   \
            const int tn = (int)(nt - t < MM_T ? nt - t : MM_T);                                   \
            const block_q8_0 *y[MM_T] = {NULL};                                                    \
            for (int k = 0; k < tn; k++)                                                           \
                y[k] = (const block_q8_0 *)((const uint8_t *)a + (size_t)(t + k) * as);            \
            for (int64_t r = 0; r < nr; r += LEG_RR) {                                             \
                const int rr = nr - r >= LEG_RR ? LEG_RR : 1;                                      \
                const btype *x[2] = {NULL, NULL};                                                  \
                for (int j = 0; j < rr; j++)                                                       \
                    x[j] = (const btype *)((const uint8_t *)w + (size_t)(r + j) * ws);             \
                float *o = out + t * os + r;                                                       \
                /* constant RR, TN per call: the accumulators stay in registers */                 \
                switch (rr * 8 + tn) {                                                             \
                case 17: tile_##sfx(2, 1, nb, x, y, o, (size_t)os); break;                         \
                case 18: tile_##sfx(2, 2, nb, x, y, o, (size_t)os); break;                         \
                case 19: tile_##sfx(2, 3, nb, x, y, o, (size_t)os); break;                         \
                case 20: tile_##sfx(2, 4, nb, x, y, o, (size_t)os); break;                         \
                case 9: tile_##sfx(1, 1, nb, x, y, o, (size_t)os); break;                          \
                case 10: tile_##sfx(1, 2, nb, x, y, o, (size_t)os); break;                         \
                case 11: tile_##sfx(1, 3, nb, x, y, o, (size_t)os); break;                         \
                default: tile_##sfx(1, 4, nb, x, y, o, (size_t)os); break;                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

SIGNED_Q8_0(q4_0, block_q4_0)
SIGNED_Q8_0(q5_0, block_q5_0)
SIGNED_Q8_0(q8_0, block_q8_0)

/* Offset types with Q8_1 activations: d*isum per lane, m*s as a float sum
 * kept apart (the scalar adds both per block). */
#define OFFSET_Q8_1(sfx, btype)                                                                    \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                              \
        const btype *x = w;                                                                        \
        const block_q8_1 *y = a;                                                                   \
        __m256 acc = _mm256_setzero_ps();                                                          \
        float summ = 0.0f;                                                                         \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                              \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                       \
            const __m256i q = leg_dot_u8s8(codes_##sfx(&x[i]), qy);                                \
            const __m256 d = _mm256_set1_ps(x86_h2f(x[i].d) * x86_h2f(y[i].d));                    \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc);                                  \
            summ += x86_h2f(x[i].m) * x86_h2f(y[i].s);                                             \
        }                                                                                          \
        return x86_hsum_ps(acc) + summ;                                                            \
    }                                                                                              \
    /* one weight row x up to MM_T activation rows, each output as the dot */                      \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,           \
                         size_t as, int64_t nt, float *out, int64_t os) {                          \
        const int64_t nb = n / QK_LEGACY;                                                          \
        for (int64_t t = 0; t < nt; t += MM_T) {                                                   \
            const int tn = (int)(nt - t < MM_T ? nt - t : MM_T);                                   \
            const block_q8_1 *y[MM_T] = {NULL};                                                    \
            for (int k = 0; k < tn; k++)                                                           \
                y[k] = (const block_q8_1 *)((const uint8_t *)a + (size_t)(t + k) * as);            \
            for (int64_t r = 0; r < nr; r++) {                                                     \
                const btype *x = (const btype *)((const uint8_t *)w + (size_t)r * ws);             \
                __m256 acc[MM_T];                                                                  \
                float summ[MM_T];                                                                  \
                for (int k = 0; k < MM_T; k++) {                                                   \
                    acc[k] = _mm256_setzero_ps();                                                  \
                    summ[k] = 0.0f;                                                                \
                }                                                                                  \
                for (int64_t i = 0; i < nb; i++) {                                                 \
                    const __m256i qx = codes_##sfx(&x[i]);                                         \
                    const float dx = x86_h2f(x[i].d), mx = x86_h2f(x[i].m);                        \
                    for (int k = 0; k < tn; k++) {                                                 \
                        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[k][i].qs);        \
                        const __m256i q = leg_dot_u8s8(qx, qy);                                    \
                        const __m256 d = _mm256_set1_ps(dx * x86_h2f(y[k][i].d));                  \
                        acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc[k]);                \
                        summ[k] += mx * x86_h2f(y[k][i].s);                                        \
                    }                                                                              \
                }                                                                                  \
                for (int k = 0; k < tn; k++)                                                       \
                    out[(t + k) * os + r] = x86_hsum_ps(acc[k]) + summ[k];                         \
            }                                                                                      \
        }                                                                                          \
    }

OFFSET_Q8_1(q4_1, block_q4_1)
OFFSET_Q8_1(q5_1, block_q5_1)

static inline void leg_fill(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q5_0] = dot_q5_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->dot[LFM_TYPE_Q4_1] = dot_q4_1;
    k->dot[LFM_TYPE_Q5_1] = dot_q5_1;
    k->mm[LFM_TYPE_Q4_0] = mm_q4_0;
    k->mm[LFM_TYPE_Q5_0] = mm_q5_0;
    k->mm[LFM_TYPE_Q8_0] = mm_q8_0;
    k->mm[LFM_TYPE_Q4_1] = mm_q4_1;
    k->mm[LFM_TYPE_Q5_1] = mm_q5_1;
}
