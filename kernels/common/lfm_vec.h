/* A few float-vector operations over one register width, so the SIMD
 * kernels are written once for AVX2 (8 lanes), AVX-512 (16) and NEON (4):
 * the element-wise ops (elementwise/simd_elementwise_tmpl.h, simd_rope_tmpl.h,
 * simd_shortconv_tmpl.h, instantiated by elementwise/ops_*.c) and the
 * attention tile (gqa/attn_tile_tmpl.h, instantiated by x86_attn_avx2.c,
 * x86_attn_avx512.c and arm_attn_neon.c).  The includer defines exactly
 * one of LFM_VEC_AVX2, LFM_VEC_AVX512, LFM_VEC_NEON and is compiled for
 * that target; nothing built for another target may include this.
 *
 * Build the element-wise ops with -ffp-contract=off: bit-exact ops (axpy,
 * rope, shortconv, the rmsnorm scaling) rely on vmul + vadd staying two
 * roundings, and GCC would otherwise fuse the intrinsics.  (Attention may
 * fuse: its contract is a bound, not bit-exactness.) */
#ifndef LFM_VEC_H
#define LFM_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(LFM_VEC_AVX2) || defined(LFM_VEC_AVX512)
#include <immintrin.h>
#endif

#if defined(LFM_VEC_AVX2)
typedef __m256 vf;
#define VN 8
#define vld(p) _mm256_loadu_ps(p)
#define vst(p, a) _mm256_storeu_ps((p), (a))
#define vdup(s) _mm256_set1_ps(s)
#define vadd(a, b) _mm256_add_ps((a), (b))
#define vsub(a, b) _mm256_sub_ps((a), (b))
#define vmul(a, b) _mm256_mul_ps((a), (b))
#define vdiv(a, b) _mm256_div_ps((a), (b))
#define vfma(a, b, c) _mm256_fmadd_ps((a), (b), (c)) /* a*b + c, one rounding */
#define vmin(a, b) _mm256_min_ps((a), (b))
#define vmax(a, b) _mm256_max_ps((a), (b))
#define vrint(a) _mm256_round_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* 2^n for integral n in [-126, 127] held in a float */
#define vexp2i(n)                                                                                  \
    _mm256_castsi256_ps(                                                                           \
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define VREGS 16 /* architectural vector registers (for choosing tile sizes) */
#define vzero() _mm256_setzero_ps()
/* VN halves / VN int8 at p as floats, and one half at p (F16C: the
 * attention tiles of the F16 and Q8_0 caches) */
#define vld_h(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define vld_i8(p)                                                                                  \
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define vh1(p) _cvtsh_ss(*(const uint16_t *)(p))

/* lane masks: vlanes_below(m) sets lanes i < m (0 <= m <= VN); vsel picks
 * a where the mask is set, b elsewhere */
typedef __m256 vmask;
static inline vmask vlanes_below(int64_t m) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), idx));
}
#define vsel(mk, a, b) _mm256_blendv_ps((b), (a), (mk))

/* horizontal max and sum (pairwise tree over the lanes) */
static inline float vhmax(vf v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
static inline float vhsum(vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* sum over the lanes of (double)q, added to two double accumulators */
typedef struct {
    __m256d a, b;
} vdacc;
static inline vdacc vd_zero(void) {
    return (vdacc){_mm256_setzero_pd(), _mm256_setzero_pd()};
}
static inline vdacc vd_add(vdacc s, vf q) {
    s.a = _mm256_add_pd(s.a, _mm256_cvtps_pd(_mm256_castps256_ps128(q)));
    s.b = _mm256_add_pd(s.b, _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1)));
    return s;
}
static inline double vd_sum(vdacc s) {
    __m256d t = _mm256_add_pd(s.a, s.b);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

#elif defined(LFM_VEC_AVX512)
typedef __m512 vf;
#define VN 16
#define vld(p) _mm512_loadu_ps(p)
#define vst(p, a) _mm512_storeu_ps((p), (a))
#define vdup(s) _mm512_set1_ps(s)
#define vadd(a, b) _mm512_add_ps((a), (b))
#define vsub(a, b) _mm512_sub_ps((a), (b))
#define vmul(a, b) _mm512_mul_ps((a), (b))
#define vdiv(a, b) _mm512_div_ps((a), (b))
#define vfma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define vmin(a, b) _mm512_min_ps((a), (b))
#define vmax(a, b) _mm512_max_ps((a), (b))
#define vrint(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define vexp2i(n)                                                                                  \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
/* a 2^n, n integral, rounded once (into the subnormals, or to inf): the
 * v_expf scaling in one instruction */
#define VSCALEF(a, n) _mm512_scalef_ps((a), (n))
#define VREGS 32
#define vzero() _mm512_setzero_ps()
#define vld_h(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define vld_i8(p)                                                                                  \
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
#define vh1(p) _cvtsh_ss(*(const uint16_t *)(p))

typedef __mmask16 vmask;
#define vlanes_below(m) ((vmask)((1u << (m)) - 1))
#define vsel(mk, a, b) _mm512_mask_blend_ps((mk), (b), (a))
#define vhmax(v) _mm512_reduce_max_ps(v)
#define vhsum(v) _mm512_reduce_add_ps(v)

typedef struct {
    __m512d a, b;
} vdacc;
static inline vdacc vd_zero(void) {
    return (vdacc){_mm512_setzero_pd(), _mm512_setzero_pd()};
}
static inline vdacc vd_add(vdacc s, vf q) {
    s.a = _mm512_add_pd(s.a, _mm512_cvtps_pd(_mm512_castps512_ps256(q)));
    s.b = _mm512_add_pd(
        s.b, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q), 1))));
    return s;
}
static inline double vd_sum(vdacc s) {
    return _mm512_reduce_add_pd(_mm512_add_pd(s.a, s.b));
}

#elif defined(LFM_VEC_NEON)
#include <arm_neon.h>
typedef float32x4_t vf;
#define VN 4
#define vld(p) vld1q_f32(p)
#define vst(p, a) vst1q_f32((p), (a))
#define vdup(s) vdupq_n_f32(s)
#define vadd(a, b) vaddq_f32((a), (b))
#define vsub(a, b) vsubq_f32((a), (b))
#define vmul(a, b) vmulq_f32((a), (b))
#define vdiv(a, b) vdivq_f32((a), (b))
#define vfma(a, b, c) vfmaq_f32((c), (a), (b))
#define vmin(a, b) vminq_f32((a), (b))
#define vmax(a, b) vmaxq_f32((a), (b))
#define vrint(a) vrndnq_f32(a)
#define vexp2i(n)                                                                                  \
    vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23))
#define VREGS 32
#define vzero() vdupq_n_f32(0.0f)
#define vld_h(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(p))))
static inline float32x4_t vld_i8_neon(const void *p) {
    int32_t w;
    memcpy(&w, p, sizeof w);
    const int8x8_t b = vreinterpret_s8_s32(vdup_n_s32(w));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(b))));
}
#define vld_i8(p) vld_i8_neon(p)
#define vh1(p)                                                                                     \
    vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_dup_u16((const uint16_t *)(p)))), 0)

typedef uint32x4_t vmask;
static inline vmask vlanes_below(int64_t m) {
    static const uint32_t idx[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)m));
}
#define vsel(mk, a, b) vbslq_f32((mk), (a), (b))
#define vhmax(v) vmaxvq_f32(v)
#define vhsum(v) vaddvq_f32(v)

typedef struct {
    float64x2_t a, b;
} vdacc;
static inline vdacc vd_zero(void) {
    return (vdacc){vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
}
static inline vdacc vd_add(vdacc s, vf q) {
    s.a = vaddq_f64(s.a, vcvt_f64_f32(vget_low_f32(q)));
    s.b = vaddq_f64(s.b, vcvt_high_f64_f32(q));
    return s;
}
static inline double vd_sum(vdacc s) {
    return vaddvq_f64(vaddq_f64(s.a, s.b));
}

#else
#error "define one of LFM_VEC_AVX2, LFM_VEC_AVX512, LFM_VEC_NEON"
#endif

/* e^r for x = n ln2 + r (Cephes expf): n = round(x log2 e), |r| <= ln2/2
 * (ln2 in two parts, fused, so r is exact), e^r = 1 + r + r^2 P(r),
 * degree-5 minimax P.  Returns e^r and n; the callers scale by 2^n. */
static inline vf v_exp_reduced(vf x, vf *n_out) {
    const vf n = vrint(vmul(x, vdup(1.44269504088896341f)));
    vf r = vfma(n, vdup(-0.693359375f), x);
    r = vfma(n, vdup(2.12194440e-4f), r);
    vf p = vdup(1.9875691500e-4f);
    p = vfma(p, r, vdup(1.3981999507e-3f));
    p = vfma(p, r, vdup(8.3334519073e-3f));
    p = vfma(p, r, vdup(4.1665795894e-2f));
    p = vfma(p, r, vdup(1.6666665459e-1f));
    p = vfma(p, r, vdup(5.0000001201e-1f));
    *n_out = n;
    return vfma(p, vmul(r, r), vadd(r, vdup(1.0f)));
}

/* e^x, a few ulp over the whole float range: e^r 2^h 2^(n-h), two
 * power-of-two factors so that n from -150 (results down in the
 * subnormals) to 128 (overflow to +inf) needs no special case (AVX-512:
 * one scalef, the same single rounding).  Inputs are clamped to
 * [-104, 88.8]: beyond, the float result is 0 or +inf anyway.  NaN input:
 * unspecified.  (silu_mul) */
static inline vf v_expf(vf x) {
    vf n;
    const vf p = v_exp_reduced(vmin(vmax(x, vdup(-104.0f)), vdup(88.8f)), &n);
#ifdef VSCALEF
    return VSCALEF(p, n);
#else
    vf h = vrint(vmul(n, vdup(0.5f))); /* |h|, |n-h| <= 75 */
    return vmul(vmul(p, vexp2i(h)), vexp2i(vsub(n, h)));
#endif
}

/* e^x for x <= 0 (softmax arguments, x - max), as v_expf but one scaling:
 * x below -87.33 (results in the subnormals) is clamped there, giving
 * 2^-126, negligible next to the row maximum's 1.  The two-factor scaling
 * of v_expf measured ~8% slower on the AVX2 prefill tile (bench_attention). */
static inline vf v_expf_neg(vf x) {
    vf n;
    const vf p = v_exp_reduced(vmax(x, vdup(-87.33654f)), &n);
#ifdef VSCALEF
    return VSCALEF(p, n);
#else
    return vmul(p, vexp2i(n));
#endif
}

#endif
