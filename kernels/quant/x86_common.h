/* AVX2 building blocks shared by the x86 SIMD kernel files (each includes
 * this and is compiled with at least -mavx2 -mfma -mf16c).  All static
 * inline: every file gets its own copy built for its own target level. */
#ifndef LFM_X86_COMMON_H
#define LFM_X86_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "quant_blocks.h"

static inline float x86_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int x86_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float x86_h2f(uint16_t h) {
    return _cvtsh_ss(h); /* F16C: exact, as lfm_fp16_to_f32 */
}

/* 32 bytes: the low nibbles of 16 bytes (elements 0-15), then the high
 * nibbles (elements 16-31): the Q4_0/Q4_1/Q5_* element order. */
static inline __m256i x86_unpack_nibbles(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m128i hi = _mm_srli_epi16(b, 4);
    const __m256i v = _mm256_set_m128i(hi, b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* 0xFF in byte j where bit j of the little-endian u32 at p is set. */
static inline __m256i x86_bytes_from_bits32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/* Eight int32 sums of four adjacent products of unsigned u (<= 255) and
 * signed s bytes.  Exact while each pair sum fits int16: true for every
 * caller (|u| <= 128 with |s| <= 127, or u <= 63 with |s| <= 128). */
static inline __m256i x86_dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Same for two signed operands: |x| * sign(y, x).  x = -128 gives |x| = 128
 * (as unsigned), still exact with |y| <= 127 (activations never reach -128). */
static inline __m256i x86_dot_s8s8(__m256i x, __m256i y) {
    return x86_dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* Round to nearest even, exactly lfm_nearest_int for |v| < 2^22. */
static inline __m256i x86_nearest_epi32(__m256 v) {
    return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* 4 x 8 int32 (each in int8 range) -> 32 int8 in order. */
static inline __m256i x86_pack_epi32_to_epi8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b);
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i q = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline __m256 x86_abs_ps(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static inline float x86_hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Largest |x| of 32 floats. */
static inline float x86_amax32(const float *x) {
    __m256 m = x86_abs_ps(_mm256_loadu_ps(x));
    m = _mm256_max_ps(m, x86_abs_ps(_mm256_loadu_ps(x + 8)));
    m = _mm256_max_ps(m, x86_abs_ps(_mm256_loadu_ps(x + 16)));
    m = _mm256_max_ps(m, x86_abs_ps(_mm256_loadu_ps(x + 24)));
    return x86_hmax_ps(m);
}

/* 32 codes round(x * mul) (nearest even), no clamp. */
static inline __m256i x86_quant32(const float *x, __m256 mul) {
    const __m256i a = x86_nearest_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), mul));
    const __m256i b = x86_nearest_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), mul));
    const __m256i c = x86_nearest_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), mul));
    const __m256i d = x86_nearest_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), mul));
    return x86_pack_epi32_to_epi8(a, b, c, d);
}

/* Sum of 32 int8. */
static inline int x86_sum_i8(__m256i q) {
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    return x86_hsum_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

#endif
