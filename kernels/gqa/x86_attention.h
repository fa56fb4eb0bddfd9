/* Parts shared by the x86 attention kernels (x86_attn_avx2.c,
 * x86_attn_avx512.c), each compiled with its own target flags: the 8-lane
 * exp and the softmax of a score row (the ATTN_SOFTMAX of attn_tile.h).
 *
 * Numerics against the scalar reference: scores are the same products
 * summed in the same order, fused (FMA); the softmax sum is in float (8
 * partial sums) instead of double and the weights are applied before the
 * 1/sum scaling; exp is a polynomial (attn_exp8: <= 2 ulp relative). */
#ifndef LFM_X86_ATTENTION_H
#define LFM_X86_ATTENTION_H

#include <immintrin.h>

#include "attention.h"

#define ATTN_SOFTMAX attn_softmax_row

/* exp(x), 8 lanes, for softmax arguments (x <= 0; larger x also works up to
 * 88).  n = round(x log2 e), r = x - n ln2 with ln2 in two parts (r exact to
 * ~1 ulp, |r| <= ln2/2), exp(r) by Cephes' degree-7 expf polynomial,
 * scaled by 2^n built in the exponent field.  x below -87.33 (NaN too) is
 * clamped there: exp = 2^-126, negligible next to the row maximum's 1. */
static inline __m256 attn_exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* Lanes i with i < m (0 <= m <= 8) set. */
static inline __m256 attn_lanes_below(int64_t m) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), idx));
}

static inline float attn_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float attn_hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* s[0..len) <- exp(s - max s[0..len)); s[len..npos) <- 0 (positions the
 * row does not see, npos <= the row's padded length, a multiple of 8 or
 * not).  Returns the sum of the weights.  s holds at least len rounded up
 * to 8 floats (scores past len are finite and ignored). */
static inline float attn_softmax_row(float *s, int64_t len, int64_t npos) {
    const int64_t full = len / 8 * 8;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (int64_t p = 0; p < full; p += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(s + p));
    const __m256 tail = attn_lanes_below(len - full);
    if (full < len)
        m = _mm256_max_ps(m, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY),
                                              _mm256_loadu_ps(s + full), tail));
    const __m256 mx = _mm256_set1_ps(attn_hmax8(m));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t p = 0; p < full; p += 8) {
        const __m256 e = attn_exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), mx));
        _mm256_storeu_ps(s + p, e);
        sum = _mm256_add_ps(sum, e);
    }
    int64_t p = full;
    if (full < len) {
        const __m256 e = _mm256_and_ps(attn_exp8(_mm256_sub_ps(_mm256_loadu_ps(s + full), mx)),
                                       tail);
        _mm256_storeu_ps(s + full, e);
        sum = _mm256_add_ps(sum, e);
        p += 8;
    }
    for (; p < npos; p++)
        s[p] = 0.0f;
    return attn_hsum8(sum);
}

#endif
