/* Q2_K .. Q6_K dots and tiles with Q8_K activations, 256-bit.
 * Included by x86_avx2.c (KQ_VNNI 0: vpmaddubsw + vpmaddwd) and
 * x86_avx512_vnni.c (KQ_VNNI 1: vpdpbusd).
 *
 * Per super-block the integer sum is exact and the float step is the
 * scalar's, in its order: d * (float)isum - dmin * (float)summ (Q4_K/Q5_K),
 * dw * da * (float)isum (Q6_K); results are bit-identical to quant_k.c.
 * A tile decodes each weight super-block once (8 registers of codes) for
 * KQ_T activation rows. */
#ifndef KQ_VNNI
#error "define KQ_VNNI before including x86_kquant_tmpl.h"
#endif

#include "x86_common.h"

#define KQ_T 4

/* acc + per-lane partial sums of scale * <u, s> over 32 bytes (u unsigned
 * codes <= 63, s activations); scale8 / scale16: the scale of bytes 0-15 and
 * 16-31 (equal for the 32-element sub-blocks of Q4_K / Q5_K). */
static inline __m256i kq_scaled(__m256i acc, __m256i u, __m256i s, int sc_lo, int sc_hi) {
#if KQ_VNNI
    const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
    const __m256i sc = _mm256_set_m128i(_mm_set1_epi32(sc_hi), _mm_set1_epi32(sc_lo));
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(p, sc));
#else
    const __m256i p = _mm256_maddubs_epi16(u, s); /* pairs <= 63 * 128 * 2 */
    const __m256i sc = _mm256_set_m128i(_mm_set1_epi16((short)sc_hi), _mm_set1_epi16((short)sc_lo));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
#endif
}

/* ---- Q4_K / Q5_K ------------------------------------------------------------ */

typedef struct kq4 {
    __m256i q[8]; /* codes of sub-blocks 0..7 (32 each), 0..31 */
    uint8_t sc[8];
    __m256i sc16;  /* the scales as int16 in lanes 0..7 */
    __m128i mins;  /* 8 x int16 */
    float d, dmin; /* the half fields, decoded */
} kq4;

static inline void kq4_decode(kq4 *k, uint16_t d, uint16_t dmin, const uint8_t *scales,
                              const uint8_t *qs, const uint8_t *qh) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i hbits = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    uint32_t sc[2], mn[2];
    lfm_scale_min_k4_x8(scales, sc, mn);
    memcpy(k->sc, sc, 8);
    k->mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn[1], (int)mn[0]));
    k->sc16 = _mm256_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc[1], (int)sc[0]));
    for (int j = 0; j < 4; j++, qs += 32) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)qs);
        __m256i lo = _mm256_and_si256(bits, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        if (qh) {
            /* qh[l] bit s: +16 on element l of sub-block s */
            lo = _mm256_or_si256(
                lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4));
            hi = _mm256_or_si256(
                hi,
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4));
        }
        k->q[2 * j] = lo;
        k->q[2 * j + 1] = hi;
    }
    k->d = x86_h2f(d);
    k->dmin = x86_h2f(dmin);
}

#if KQ_VNNI
/* vpmaddubsw pair sums (exact: <= 2 * 63 * 128 < 2^15 for every caller)
 * times 16-bit scales, accumulated by vpdpwssd: two instructions per 32
 * bytes; the scale patterns come from one register by vpermw. */
static inline __m256i kq_scaled16(__m256i acc, __m256i u, __m256i s, __m256i sc16, int j,
                                  int per16) {
    const __m256i idx =
        per16 ? _mm256_set_m128i(_mm_set1_epi16((short)(2 * j + 1)), _mm_set1_epi16((short)(2 * j)))
              : _mm256_set1_epi16((short)j);
    return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s),
                               _mm256_permutexvar_epi16(idx, sc16));
}
#endif

static inline float kq4_apply(const kq4 *k, const block_q8_K *y) {
    __m256i acc = _mm256_setzero_si256();
#if KQ_VNNI
    for (int j = 0; j < 8; j++)
        acc = kq_scaled16(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                          k->sc16, j, 0);
#else
    for (int j = 0; j < 8; j++)
        acc = kq_scaled(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                        k->sc[j], k->sc[j]);
#endif
    /* summ = sum_j m_j (bsums[2j] + bsums[2j+1]); pair sums <= 2 * 16 * 127 */
    const __m128i b0 = _mm_loadu_si128((const __m128i *)y->bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(y->bsums + 8));
    const __m128i mp = _mm_madd_epi16(_mm_hadd_epi16(b0, b1), k->mins);
    __m128i ms = _mm_add_epi32(mp, _mm_shuffle_epi32(mp, 0x4e));
    ms = _mm_add_epi32(ms, _mm_shuffle_epi32(ms, 0xb1));
    const int summ = _mm_cvtsi128_si32(ms);
    const int isum = x86_hsum_epi32(acc);
    const float d = k->d * y->d;
    const float dmin = k->dmin * y->d;
    return d * (float)isum - dmin * (float)summ;
}

/* ---- Q6_K ------------------------------------------------------------------- */

typedef struct kq6 {
    __m256i q[8]; /* unsigned codes q + 32 in [0, 63], elements 32j..32j+31 */
    int8_t sc[16];
    __m256i sc16; /* the scales as 16 x int16 */
    float d;
} kq6;

static inline void kq6_decode(kq6 *k, const block_q6_K *x) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    const uint8_t *ql = x->ql, *qh = x->qh;
    for (int half = 0; half < 2; half++, ql += 64, qh += 32) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        __m256i *q = k->q + 4 * half;
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                               _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
    }
    memcpy(k->sc, x->scales, 16);
    k->sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    k->d = x86_h2f(x->d);
}

/* isum = sum_s sc_s <q_s - 32, a_s> = sum_s sc_s <q_s, a_s> - 32 sum_s sc_s bsum_s
 * (an integer identity, so still exact). */
#if KQ_VNNI
/* The super-block's isum spread over 8 int32 lanes. */
static inline __m256i kq6_lanes(const kq6 *k, const block_q8_K *y) {
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++)
        acc = kq_scaled16(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                          k->sc16, j, 1);
    /* - 32 * sum_s sc_s bsum_s: -32 sc fits int16 */
    return _mm256_dpwssd_epi32(acc, _mm256_loadu_si256((const __m256i *)y->bsums),
                               _mm256_mullo_epi16(k->sc16, _mm256_set1_epi16(-32)));
}
#endif

static inline float kq6_apply(const kq6 *k, const block_q8_K *y) {
    __m256i acc = _mm256_setzero_si256();
#if KQ_VNNI
    acc = kq6_lanes(k, y);
#else
    for (int j = 0; j < 8; j++)
        acc = kq_scaled(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                        k->sc[2 * j], k->sc[2 * j + 1]);
    /* - 32 * sum_s sc_s bsum_s, lane-wise (|.| < 2^31 by far) */
    const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), k->sc16);
    acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(off, 5));
#endif
    const int isum = x86_hsum_epi32(acc);
    return k->d * y->d * (float)isum;
}

/* ---- Q2_K / Q3_K ------------------------------------------------------------ */

/* Element 128h + 32s + l (l < 32) of both: bits 2s, 2s+1 of qs[32h + l]. */
static inline void kq_2bit_codes(const uint8_t *qs, __m256i q[8]) {
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
        for (int s = 0; s < 4; s++)
            q[4 * h + s] = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
    }
}

typedef struct kq2 {
    __m256i q[8];   /* codes 0..3, elements 32j..32j+31 */
    uint8_t sc[16]; /* low nibbles: scales of the 16 groups of 16 */
    __m256i mins16; /* high nibbles as 16 x int16 */
    float d, dmin;
} kq2;

static inline void kq2_decode(kq2 *k, const block_q2_K *x) {
    kq_2bit_codes(x->qs, k->q);
    const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    _mm_storeu_si128((__m128i *)k->sc, _mm_and_si128(raw, _mm_set1_epi8(0x0f)));
    k->mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
    k->d = x86_h2f(x->d);
    k->dmin = x86_h2f(x->dmin);
}

static inline float kq2_apply(const kq2 *k, const block_q8_K *y) {
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++)
        acc = kq_scaled(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                        k->sc[2 * j], k->sc[2 * j + 1]);
    const int isum = x86_hsum_epi32(acc);
    const int summs =
        x86_hsum_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), k->mins16));
    /* the scalar's order: y->d * half */
    const float dall = y->d * k->d;
    const float dmin = y->d * k->dmin;
    return dall * (float)isum - dmin * (float)summs;
}

typedef struct kq3 {
    __m256i q[8]; /* codes + 4, in 0..7 */
    int sc[16];   /* signed scales of the 16 groups of 16 */
    __m256i sc16;
    float d;
} kq3;

static inline void kq3_decode(kq3 *k, const block_q3_K *x) {
    kq_2bit_codes(x->qs, k->q);
    /* hmask[l] bit 4h + s set: no -4 on element 128h + 32s + l */
    const __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
    const __m256i one = _mm256_set1_epi8(1);
    for (int b = 0; b < 8; b++) {
        const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, b), one);
        k->q[b] = _mm256_or_si256(k->q[b], _mm256_slli_epi16(hb, 2));
    }
    lfm_q3k_scales(x->scales, k->sc);
    int16_t s16[16];
    for (int j = 0; j < 16; j++)
        s16[j] = (int16_t)k->sc[j];
    k->sc16 = _mm256_loadu_si256((const __m256i *)s16);
    k->d = x86_h2f(x->d);
}

/* isum = sum_g sc_g <q + 4, a_g> - 4 sum_g sc_g bsum_g (exact). */
static inline float kq3_apply(const kq3 *k, const block_q8_K *y) {
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++)
        acc = kq_scaled(acc, k->q[j], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)),
                        k->sc[2 * j], k->sc[2 * j + 1]);
    const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), k->sc16);
    acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(off, 2));
    return k->d * y->d * (float)x86_hsum_epi32(acc);
}

/* ---- dots and tiles --------------------------------------------------------- */

#define KQ_ROWS_T KQ_T
#include "kquant_rows_tmpl.h"

static inline void kq_fill(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_K] = dot_q4_K;
    k->dot[LFM_TYPE_Q5_K] = dot_q5_K;
    k->dot[LFM_TYPE_Q6_K] = dot_q6_K;
    k->mm[LFM_TYPE_Q4_K] = mm_q4_K;
    k->mm[LFM_TYPE_Q5_K] = mm_q5_K;
    k->mm[LFM_TYPE_Q6_K] = mm_q6_K;
    k->dot[LFM_TYPE_Q2_K] = dot_q2_K;
    k->dot[LFM_TYPE_Q3_K] = dot_q3_K;
    k->mm[LFM_TYPE_Q2_K] = mm_q2_K;
    k->mm[LFM_TYPE_Q3_K] = mm_q3_K;
}
