/* AVX2 + FMA attention tile (attention.h, x86_attention.h), 256-bit. */
#include "attention.h"

#include <math.h>

#include <immintrin.h>

/* Values are summed over chunks of this many positions per column chunk,
 * so the rows of V a chunk reads (VCHUNK * D floats) stay in L1 while all
 * column chunks pass over them. */
#define VCHUNK 64

/* S[r][p] = scale * q[r] . key(p), 4 rows x 16 positions per step: a key
 * block row (16 positions of one dimension) is two loads reused by 4
 * broadcast queries, 8 independent accumulators. */
static void scores_avx2(float *S, int64_t s_stride, const float *q[4], const float *k,
                        int64_t nblk, int32_t D, float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    for (int64_t b = 0; b < nblk; b++) {
        const float *kb = k + b * D * LFM_ATTN_KBLK; /* [D][16] */
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
        __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int32_t i = 0; i < D; i++) {
            const __m256 k0 = _mm256_loadu_ps(kb + i * LFM_ATTN_KBLK);
            const __m256 k1 = _mm256_loadu_ps(kb + i * LFM_ATTN_KBLK + 8);
            __m256 x = _mm256_broadcast_ss(q[0] + i);
            a00 = _mm256_fmadd_ps(x, k0, a00);
            a01 = _mm256_fmadd_ps(x, k1, a01);
            x = _mm256_broadcast_ss(q[1] + i);
            a10 = _mm256_fmadd_ps(x, k0, a10);
            a11 = _mm256_fmadd_ps(x, k1, a11);
            x = _mm256_broadcast_ss(q[2] + i);
            a20 = _mm256_fmadd_ps(x, k0, a20);
            a21 = _mm256_fmadd_ps(x, k1, a21);
            x = _mm256_broadcast_ss(q[3] + i);
            a30 = _mm256_fmadd_ps(x, k0, a30);
            a31 = _mm256_fmadd_ps(x, k1, a31);
        }
        float *s = S + b * LFM_ATTN_KBLK;
        _mm256_storeu_ps(s, _mm256_mul_ps(a00, sc));
        _mm256_storeu_ps(s + 8, _mm256_mul_ps(a01, sc));
        _mm256_storeu_ps(s + s_stride, _mm256_mul_ps(a10, sc));
        _mm256_storeu_ps(s + s_stride + 8, _mm256_mul_ps(a11, sc));
        _mm256_storeu_ps(s + 2 * s_stride, _mm256_mul_ps(a20, sc));
        _mm256_storeu_ps(s + 2 * s_stride + 8, _mm256_mul_ps(a21, sc));
        _mm256_storeu_ps(s + 3 * s_stride, _mm256_mul_ps(a30, sc));
        _mm256_storeu_ps(s + 3 * s_stride + 8, _mm256_mul_ps(a31, sc));
    }
}

/* O[r][d..d+w) (+)= sum_{p in [p0,p1)} P[r][p] v[p][d..d+w), w = 16 (two
 * registers), 8 or a masked m < 8 (mask: lanes below m). */
static inline void pv16(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                        int64_t p0, int64_t p1, int32_t d, int first) {
    __m256 a00, a01, a10, a11, a20, a21, a30, a31;
    if (first) {
        a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = _mm256_setzero_ps();
    } else {
        a00 = _mm256_loadu_ps(O + d), a01 = _mm256_loadu_ps(O + d + 8);
        a10 = _mm256_loadu_ps(O + D + d), a11 = _mm256_loadu_ps(O + D + d + 8);
        a20 = _mm256_loadu_ps(O + 2 * D + d), a21 = _mm256_loadu_ps(O + 2 * D + d + 8);
        a30 = _mm256_loadu_ps(O + 3 * D + d), a31 = _mm256_loadu_ps(O + 3 * D + d + 8);
    }
    for (int64_t p = p0; p < p1; p++) {
        const __m256 v0 = _mm256_loadu_ps(v + p * D + d), v1 = _mm256_loadu_ps(v + p * D + d + 8);
        __m256 w = _mm256_broadcast_ss(P + p);
        a00 = _mm256_fmadd_ps(w, v0, a00);
        a01 = _mm256_fmadd_ps(w, v1, a01);
        w = _mm256_broadcast_ss(P + ps + p);
        a10 = _mm256_fmadd_ps(w, v0, a10);
        a11 = _mm256_fmadd_ps(w, v1, a11);
        w = _mm256_broadcast_ss(P + 2 * ps + p);
        a20 = _mm256_fmadd_ps(w, v0, a20);
        a21 = _mm256_fmadd_ps(w, v1, a21);
        w = _mm256_broadcast_ss(P + 3 * ps + p);
        a30 = _mm256_fmadd_ps(w, v0, a30);
        a31 = _mm256_fmadd_ps(w, v1, a31);
    }
    _mm256_storeu_ps(O + d, a00), _mm256_storeu_ps(O + d + 8, a01);
    _mm256_storeu_ps(O + D + d, a10), _mm256_storeu_ps(O + D + d + 8, a11);
    _mm256_storeu_ps(O + 2 * D + d, a20), _mm256_storeu_ps(O + 2 * D + d + 8, a21);
    _mm256_storeu_ps(O + 3 * D + d, a30), _mm256_storeu_ps(O + 3 * D + d + 8, a31);
}

static inline void pv8(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                       int64_t p0, int64_t p1, int32_t d, int first, __m256i mask) {
    __m256 a0, a1, a2, a3;
    if (first) {
        a0 = a1 = a2 = a3 = _mm256_setzero_ps();
    } else {
        a0 = _mm256_maskload_ps(O + d, mask), a1 = _mm256_maskload_ps(O + D + d, mask);
        a2 = _mm256_maskload_ps(O + 2 * D + d, mask), a3 = _mm256_maskload_ps(O + 3 * D + d, mask);
    }
    for (int64_t p = p0; p < p1; p++) {
        const __m256 v0 = _mm256_maskload_ps(v + p * D + d, mask);
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(P + p), v0, a0);
        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(P + ps + p), v0, a1);
        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(P + 2 * ps + p), v0, a2);
        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(P + 3 * ps + p), v0, a3);
    }
    _mm256_maskstore_ps(O + d, mask, a0), _mm256_maskstore_ps(O + D + d, mask, a1);
    _mm256_maskstore_ps(O + 2 * D + d, mask, a2), _mm256_maskstore_ps(O + 3 * D + d, mask, a3);
}

static void pv_avx2(float *O, const float *P, int64_t ps, const float *v, int64_t npos,
                    int32_t D) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t p0 = 0; p0 < npos; p0 += VCHUNK) {
        const int64_t p1 = npos - p0 < VCHUNK ? npos : p0 + VCHUNK;
        int32_t d = 0;
        for (; d + 16 <= D; d += 16)
            pv16(O, D, P, ps, v, p0, p1, d, p0 == 0);
        for (; d < D; d += 8)
            pv8(O, D, P, ps, v, p0, p1, d, p0 == 0,
                _mm256_cmpgt_epi32(_mm256_set1_epi32(D - d), idx));
    }
}

#define ATTN_SCORES scores_avx2
#define ATTN_PV pv_avx2
#include "x86_attention.h"
#include "attn_tile.h"

void lfm_attention_tile_avx2(const lfm_attn_tile *a) {
    attn_tile(a);
}
