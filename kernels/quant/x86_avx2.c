/* AVX2 + FMA + F16C kernels (the AVX2 level of kernels/dispatch).
 *
 * Numerics, against the scalar references in quant*.c:
 *   - activation encodings: byte-identical (same d, same multiplier, the
 *     same nearest-even rounding; F16 differs only in NaN payloads);
 *   - 32-element block dots: exact integer block sums, scaled by the same
 *     float dw*da, accumulated per lane with FMA (order differs);
 *   - k-quant dots: exact integer sums and the scalar's per-super-block float
 *     formula in the same order: bit-identical results;
 *   - float dots: 4 x 8 lanes with FMA (order differs).
 * Built with -ffp-contract=off so only the explicit FMAs fuse. */
#include "dispatch.h"
#include "x86_common.h"

/* ---- activations ---------------------------------------------------------- */

static void act_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK_LEGACY; i++, b++, src += QK_LEGACY) {
        const float amax = x86_amax32(src);
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        _mm256_storeu_si256((__m256i *)b->qs, x86_quant32(src, _mm256_set1_ps(id)));
        b->d = lfm_f32_to_fp16(amax / 127.f);
    }
}

static void act_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK_LEGACY; i++, b++, src += QK_LEGACY) {
        const float amax = x86_amax32(src);
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        const __m256i q = x86_quant32(src, _mm256_set1_ps(id));
        _mm256_storeu_si256((__m256i *)b->qs, q);
        b->d = lfm_f32_to_fp16(d);
        b->s = lfm_f32_to_fp16(d * (float)x86_sum_i8(q));
    }
}

static void act_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, y++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8)
            m = _mm256_max_ps(m, x86_abs_ps(_mm256_loadu_ps(x + j)));
        const float amax = x86_hmax_ps(m);
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        /* the scalar keeps the first element reaching amax: its sign */
        float max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (x[j] == amax || x[j] == -amax) {
                max = x[j];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 mul = _mm256_set1_ps(iscale);
        for (int j = 0; j < QK_K; j += 32) {
            /* |iscale * x| <= 127 up to rounding: the int8 saturation of the
             * pack is the scalar's min(127, .) and never cuts below -127 */
            const __m256i q = x86_quant32(x + j, mul);
            _mm256_storeu_si256((__m256i *)(y->qs + j), q);
            /* per-16 sums: 16-bit pair sums, then 4 + 4 */
            const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
            const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
            const __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
            __m128i h = _mm_hadd_epi32(lo, hi); /* lo01 lo23 hi01 hi23 */
            h = _mm_hadd_epi32(h, h);           /* lo hi lo hi */
            y->bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(h);
            y->bsums[j / 16 + 1] = (int16_t)_mm_extract_epi32(h, 1);
        }
        y->d = 1 / iscale;
    }
}

static void act_f16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        d[i] = lfm_f32_to_fp16(src[i]);
}

/* Integer round-to-nearest-even of the top 16 bits, nan -> quiet nan: the
 * scalar lfm_f32_to_bf16 lane by lane. */
static void act_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    int64_t i = 0;
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    for (; i + 16 <= n; i += 16) {
        __m256i r[2];
        for (int h = 0; h < 2; h++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(src + i + 8 * h));
            const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
            const __m256i rounded = _mm256_srli_epi32(
                _mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
            const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(64));
            const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
            r[h] = _mm256_blendv_epi8(rounded, quiet, nan);
            r[h] = _mm256_and_si256(r[h], _mm256_set1_epi32(0xffff));
        }
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
        _mm256_storeu_si256((__m256i *)(d + i), p);
    }
    for (; i < n; i++)
        d[i] = lfm_f32_to_bf16(src[i]);
}

/* ---- float dots ---------------------------------------------------------- */

static float dot_f32(int64_t n, const void *w, const void *a) {
    const float *x = w, *y = a;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k),
                                     acc[k]);
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
    float sum = x86_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                          _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

static inline __m256 load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

#define HALF_DOT(name, load, conv)                                                              \
    static float name(int64_t n, const void *w, const void *a) {                                \
        const uint16_t *x = w, *y = a;                                                          \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),         \
                         _mm256_setzero_ps()};                                                  \
        int64_t i = 0;                                                                          \
        for (; i + 32 <= n; i += 32)                                                            \
            for (int k = 0; k < 4; k++)                                                         \
                acc[k] = _mm256_fmadd_ps(load(x + i + 8 * k), load(y + i + 8 * k), acc[k]);     \
        for (; i + 8 <= n; i += 8)                                                              \
            acc[0] = _mm256_fmadd_ps(load(x + i), load(y + i), acc[0]);                         \
        float sum = x86_hsum_ps(                                                                \
            _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));       \
        for (; i < n; i++)                                                                      \
            sum += conv(x[i]) * conv(y[i]);                                                     \
        return sum;                                                                             \
    }

HALF_DOT(dot_f16, load_f16, lfm_fp16_to_f32)
HALF_DOT(dot_bf16, load_bf16, lfm_bf16_to_f32)

/* ---- 32-element blocks ----------------------------------------------------- */

/* Signed codes of one weight block, element order 0..31. */
static inline __m256i codes_q4_0(const block_q4_0 *b) {
    return _mm256_sub_epi8(x86_unpack_nibbles(b->qs), _mm256_set1_epi8(8));
}

static inline __m256i codes_q5_0(const block_q5_0 *b) {
    /* a clear fifth bit means q - 16 < 0: or-ing 0xF0 into the nibble
     * gives exactly that two's-complement byte */
    const __m256i hi = _mm256_andnot_si256(x86_bytes_from_bits32(b->qh),
                                           _mm256_set1_epi8((char)0xF0));
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

/* Signed-weight types with Q8_0 activations: dot and a tile of up to
 * MM_T activation rows per weight row (the weight block decoded once). */
#define MM_T 4
#define SIGNED_Q8_0(sfx, btype)                                                                 \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                          \
        const btype *x = w;                                                                     \
        const block_q8_0 *y = a;                                                                \
        __m256 acc = _mm256_setzero_ps();                                                       \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                           \
            const __m256i q = x86_dot_s8s8(codes_##sfx(&x[i]), codes_q8_0(&y[i]));              \
            const __m256 d = _mm256_set1_ps(x86_h2f(x[i].d) * x86_h2f(y[i].d));                 \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc);                               \
        }                                                                                       \
        return x86_hsum_ps(acc);                                                                \
    }                                                                                           \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,        \
                         size_t as, int64_t nt, float *out, int64_t os) {                       \
        const int64_t nb = n / QK_LEGACY;                                                       \
        for (int64_t t = 0; t < nt; t += MM_T) {                                                \
            const int64_t tn = nt - t < MM_T ? nt - t : MM_T;                                   \
            if (tn < MM_T) {                                                                    \
                for (int64_t r = 0; r < nr; r++)                                                \
                    for (int64_t k = 0; k < tn; k++)                                            \
                        out[(t + k) * os + r] = dot_##sfx(                                      \
                            n, (const uint8_t *)w + r * ws, (const uint8_t *)a + (t + k) * as); \
                break;                                                                          \
            }                                                                                   \
            const block_q8_0 *y[MM_T];                                                          \
            for (int k = 0; k < MM_T; k++)                                                      \
                y[k] = (const block_q8_0 *)((const uint8_t *)a + (t + k) * as);                 \
            for (int64_t r = 0; r < nr; r++) {                                                  \
                const btype *x = (const btype *)((const uint8_t *)w + r * ws);                  \
                __m256 acc[MM_T];                                                               \
                for (int k = 0; k < MM_T; k++)                                                  \
                    acc[k] = _mm256_setzero_ps();                                               \
                for (int64_t i = 0; i < nb; i++) {                                              \
                    const __m256i qx = codes_##sfx(&x[i]);                                      \
                    const __m256i ax = _mm256_sign_epi8(qx, qx);                                \
                    const float dx = x86_h2f(x[i].d);                                           \
                    for (int k = 0; k < MM_T; k++) {                                            \
                        const __m256i sy = _mm256_sign_epi8(codes_q8_0(&y[k][i]), qx);          \
                        const __m256i q = x86_dot_u8s8(ax, sy);                                 \
                        const __m256 d = _mm256_set1_ps(dx * x86_h2f(y[k][i].d));               \
                        acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc[k]);             \
                    }                                                                           \
                }                                                                               \
                for (int k = 0; k < MM_T; k++)                                                  \
                    out[(t + k) * os + r] = x86_hsum_ps(acc[k]);                                \
            }                                                                                   \
        }                                                                                       \
    }

SIGNED_Q8_0(q4_0, block_q4_0)
SIGNED_Q8_0(q5_0, block_q5_0)
SIGNED_Q8_0(q8_0, block_q8_0)

/* Offset types with Q8_1 activations: d*isum per lane, m*s as a float sum
 * kept apart (the scalar adds both per block). */
#define OFFSET_Q8_1(sfx, btype)                                                                 \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                          \
        const btype *x = w;                                                                     \
        const block_q8_1 *y = a;                                                                \
        __m256 acc = _mm256_setzero_ps();                                                       \
        float summ = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                           \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                    \
            const __m256i q = x86_dot_u8s8(codes_##sfx(&x[i]), qy);                             \
            const __m256 d = _mm256_set1_ps(x86_h2f(x[i].d) * x86_h2f(y[i].d));                 \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), acc);                               \
            summ += x86_h2f(x[i].m) * x86_h2f(y[i].s);                                          \
        }                                                                                       \
        return x86_hsum_ps(acc) + summ;                                                         \
    }

OFFSET_Q8_1(q4_1, block_q4_1)
OFFSET_Q8_1(q5_1, block_q5_1)

/* ---- k-quants (x86_kquant.h) ---------------------------------------------- */

#define KQ_VNNI 0
#include "x86_kquant.h"

void lfm_kernels_fill_avx2(lfm_kernels *k) {
    k->act[LFM_TYPE_Q8_0] = act_q8_0;
    k->act[LFM_TYPE_Q8_1] = act_q8_1;
    k->act[LFM_TYPE_Q8_K] = act_q8_K;
    k->act[LFM_TYPE_F16] = act_f16;
    k->act[LFM_TYPE_BF16] = act_bf16;
    k->dot[LFM_TYPE_F32] = dot_f32;
    k->dot[LFM_TYPE_F16] = dot_f16;
    k->dot[LFM_TYPE_BF16] = dot_bf16;
    k->dot[LFM_TYPE_Q4_0] = dot_q4_0;
    k->dot[LFM_TYPE_Q5_0] = dot_q5_0;
    k->dot[LFM_TYPE_Q8_0] = dot_q8_0;
    k->dot[LFM_TYPE_Q4_1] = dot_q4_1;
    k->dot[LFM_TYPE_Q5_1] = dot_q5_1;
    kq_fill(k);
    k->mm[LFM_TYPE_Q4_0] = mm_q4_0;
    k->mm[LFM_TYPE_Q5_0] = mm_q5_0;
    k->mm[LFM_TYPE_Q8_0] = mm_q8_0;
}
