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
    float sum =
        x86_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
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

#define HALF_DOT(name, load, conv)                                                                 \
    static float name(int64_t n, const void *w, const void *a) {                                   \
        const uint16_t *x = w, *y = a;                                                             \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),            \
                         _mm256_setzero_ps()};                                                     \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32)                                                               \
            for (int k = 0; k < 4; k++)                                                            \
                acc[k] = _mm256_fmadd_ps(load(x + i + 8 * k), load(y + i + 8 * k), acc[k]);        \
        for (; i + 8 <= n; i += 8)                                                                 \
            acc[0] = _mm256_fmadd_ps(load(x + i), load(y + i), acc[0]);                            \
        float sum = x86_hsum_ps(                                                                   \
            _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));          \
        for (; i < n; i++)                                                                         \
            sum += conv(x[i]) * conv(y[i]);                                                        \
        return sum;                                                                                \
    }

HALF_DOT(dot_f16, load_f16, lfm_fp16_to_f32)
HALF_DOT(dot_bf16, load_bf16, lfm_bf16_to_f32)

/* ---- 32-element blocks (x86_legacy_tmpl.h) ------------------------------------- */

#define LEG_VNNI 0
#include "x86_legacy_tmpl.h"

/* ---- k-quants (x86_kquant_tmpl.h) ---------------------------------------------- */

#define KQ_VNNI 0
#include "x86_kquant_tmpl.h"

void lfm_quant_fill_avx2(lfm_kernels *k) {
    k->act[LFM_TYPE_Q8_0] = act_q8_0;
    k->act[LFM_TYPE_Q8_1] = act_q8_1;
    k->act[LFM_TYPE_Q8_K] = act_q8_K;
    k->act[LFM_TYPE_F16] = act_f16;
    k->act[LFM_TYPE_BF16] = act_bf16;
    k->dot[LFM_TYPE_F32] = dot_f32;
    k->dot[LFM_TYPE_F16] = dot_f16;
    k->dot[LFM_TYPE_BF16] = dot_bf16;
    leg_fill(k);
    kq_fill(k);
}
