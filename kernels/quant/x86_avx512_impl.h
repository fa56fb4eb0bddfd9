/* AVX-512 kernels, included by x86_avx512.c (LFM_VNNI 0: F/BW/VL) and
 * x86_avx512_vnni.c (LFM_VNNI 1: + VNNI, byte products with vpdpbusd).
 * Same numerics as x86_avx2.c: exact integer block sums, the float
 * accumulation order of the 32-element types differs from the scalar (two
 * blocks per 512-bit register), the k-quants keep the scalar's per
 * super-block float formula (bit-identical results). */
#ifndef LFM_VNNI
#error "define LFM_VNNI before including x86_avx512_impl.h"
#endif

#include "dispatch.h"
#include "x86_common.h"

/* acc + sums of four u8 x s8 products per int32 lane (exact; see
 * x86_dot_u8s8 for the operand ranges the non-VNNI form needs). */
static inline __m512i dot_u8s8_512(__m512i acc, __m512i u, __m512i s) {
#if LFM_VNNI
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return _mm512_add_epi32(
        acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

static inline __m256i dot_u8s8_256(__m256i acc, __m256i u, __m256i s) {
#if LFM_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, x86_dot_u8s8(u, s));
#endif
}

/* signed x signed: |x| and y with x's sign (x = 0 gives |x| = 0). */
static inline __m512i dot_s8s8_512(__m512i acc, __m512i x, __m512i y) {
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
    return dot_u8s8_512(acc, _mm512_abs_epi8(x), sy);
}

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* d0 in the low 8 lanes, d1 in the high 8. */
static inline __m512 join_scales(float d0, float d1) {
    const __m512d lo = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_set1_ps(d0)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm256_set1_ps(d1)), 1));
}

static inline __m256i codes_q4_0(const block_q4_0 *b) {
    return _mm256_sub_epi8(x86_unpack_nibbles(b->qs), _mm256_set1_epi8(8));
}

static inline __m256i codes_q8_0(const block_q8_0 *b) {
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

/* Weight types with Q8_0 activations, two blocks per step; an odd last
 * block goes through the 256-bit form. */
#define MM_T 4
#define SIGNED_Q8_0(sfx, btype)                                                                 \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                          \
        const btype *x = w;                                                                     \
        const block_q8_0 *y = a;                                                                \
        const int64_t nb = n / QK_LEGACY;                                                       \
        __m512 acc = _mm512_setzero_ps();                                                       \
        int64_t i = 0;                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                           \
            const __m512i qx = join256(codes_##sfx(&x[i]), codes_##sfx(&x[i + 1]));             \
            const __m512i qy = join256(codes_q8_0(&y[i]), codes_q8_0(&y[i + 1]));               \
            const __m512i q = dot_s8s8_512(_mm512_setzero_si512(), qx, qy);                     \
            const __m512 d = join_scales(x86_h2f(x[i].d) * x86_h2f(y[i].d),                     \
                                         x86_h2f(x[i + 1].d) * x86_h2f(y[i + 1].d));            \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(q), acc);                               \
        }                                                                                       \
        float sum = _mm512_reduce_add_ps(acc);                                                  \
        if (i < nb) {                                                                           \
            const __m256i qx = codes_##sfx(&x[i]);                                              \
            const __m256i q = dot_u8s8_256(_mm256_setzero_si256(), _mm256_sign_epi8(qx, qx),    \
                                           _mm256_sign_epi8(codes_q8_0(&y[i]), qx));            \
            sum += x86_h2f(x[i].d) * x86_h2f(y[i].d) * x86_hsum_ps(_mm256_cvtepi32_ps(q));      \
        }                                                                                       \
        return sum;                                                                             \
    }                                                                                           \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,        \
                         size_t as, int64_t nt, float *out, int64_t os) {                       \
        const int64_t nb = n / QK_LEGACY;                                                       \
        for (int64_t t = 0; t < nt; t += MM_T) {                                                \
            const int64_t tn = nt - t < MM_T ? nt - t : MM_T;                                   \
            if (tn < MM_T || (nb & 1)) {                                                        \
                for (int64_t r = 0; r < nr; r++)                                                \
                    for (int64_t k = 0; k < tn; k++)                                            \
                        out[(t + k) * os + r] = dot_##sfx(                                      \
                            n, (const uint8_t *)w + r * ws, (const uint8_t *)a + (t + k) * as); \
                continue;                                                                       \
            }                                                                                   \
            const block_q8_0 *y[MM_T];                                                          \
            for (int k = 0; k < MM_T; k++)                                                      \
                y[k] = (const block_q8_0 *)((const uint8_t *)a + (t + k) * as);                 \
            for (int64_t r = 0; r < nr; r++) {                                                  \
                const btype *x = (const btype *)((const uint8_t *)w + r * ws);                  \
                __m512 acc[MM_T];                                                               \
                for (int k = 0; k < MM_T; k++)                                                  \
                    acc[k] = _mm512_setzero_ps();                                               \
                for (int64_t i = 0; i < nb; i += 2) {                                           \
                    const __m512i qx = join256(codes_##sfx(&x[i]), codes_##sfx(&x[i + 1]));     \
                    const __m512i ax = _mm512_abs_epi8(qx);                                     \
                    const __mmask64 neg = _mm512_movepi8_mask(qx);                              \
                    const float dx0 = x86_h2f(x[i].d), dx1 = x86_h2f(x[i + 1].d);               \
                    for (int k = 0; k < MM_T; k++) {                                            \
                        const __m512i qy = join256(codes_q8_0(&y[k][i]), codes_q8_0(&y[k][i + 1])); \
                        const __m512i sy =                                                      \
                            _mm512_mask_sub_epi8(qy, neg, _mm512_setzero_si512(), qy);          \
                        const __m512i q = dot_u8s8_512(_mm512_setzero_si512(), ax, sy);         \
                        const __m512 d = join_scales(dx0 * x86_h2f(y[k][i].d),                  \
                                                     dx1 * x86_h2f(y[k][i + 1].d));             \
                        acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(q), acc[k]);             \
                    }                                                                           \
                }                                                                               \
                for (int k = 0; k < MM_T; k++)                                                  \
                    out[(t + k) * os + r] = _mm512_reduce_add_ps(acc[k]);                       \
            }                                                                                   \
        }                                                                                       \
    }

SIGNED_Q8_0(q4_0, block_q4_0)
SIGNED_Q8_0(q8_0, block_q8_0)

#if LFM_VNNI
/* ---- k-quants with vpdpbusd (x86_kquant.h) ----------------------------- */
#define KQ_VNNI 1
#include "x86_kquant.h"
#endif

#if !LFM_VNNI
/* ---- float dots, 2 x 16 lanes ---------------------------------------------- */

static float dot_f32(int64_t n, const void *w, const void *a) {
    const float *x = w, *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

static inline __m512 load16_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load16_bf16(const uint16_t *p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define HALF_DOT(name, load, conv)                                                              \
    static float name(int64_t n, const void *w, const void *a) {                                \
        const uint16_t *x = w, *y = a;                                                          \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                          \
        int64_t i = 0;                                                                          \
        for (; i + 32 <= n; i += 32) {                                                          \
            acc0 = _mm512_fmadd_ps(load(x + i), load(y + i), acc0);                             \
            acc1 = _mm512_fmadd_ps(load(x + i + 16), load(y + i + 16), acc1);                   \
        }                                                                                       \
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                            \
        for (; i < n; i++)                                                                      \
            sum += conv(x[i]) * conv(y[i]);                                                     \
        return sum;                                                                             \
    }

HALF_DOT(dot_f16, load16_f16, lfm_fp16_to_f32)
HALF_DOT(dot_bf16, load16_bf16, lfm_bf16_to_f32)
#endif
