/* AVX-512 (F) attention tile (attention.h, x86_attention.h): the two
 * products on 512-bit registers (a key block is one register; 32 registers
 * hold 4 rows x 64 output columns), softmax and exp shared with AVX2. */
#include "attention.h"

#include <math.h>

#include <immintrin.h>

#define VCHUNK 64 /* positions per pass over V (see x86_attn_avx2.c) */

/* S[r][p] = scale * q[r] . key(p): two key blocks (32 positions) x 4 rows
 * per step, 8 independent accumulators. */
static void scores_avx512(float *S, int64_t s_stride, const float *q[4], const float *k,
                          int64_t nblk, int32_t D, float scale) {
    const __m512 sc = _mm512_set1_ps(scale);
    const int64_t bs = (int64_t)D * LFM_ATTN_KBLK; /* floats per key block */
    int64_t b = 0;
    for (; b + 2 <= nblk; b += 2) {
        const float *kb = k + b * bs;
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
        __m512 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int32_t i = 0; i < D; i++) {
            const __m512 k0 = _mm512_loadu_ps(kb + i * LFM_ATTN_KBLK);
            const __m512 k1 = _mm512_loadu_ps(kb + bs + i * LFM_ATTN_KBLK);
            __m512 x = _mm512_set1_ps(q[0][i]);
            a00 = _mm512_fmadd_ps(x, k0, a00);
            a01 = _mm512_fmadd_ps(x, k1, a01);
            x = _mm512_set1_ps(q[1][i]);
            a10 = _mm512_fmadd_ps(x, k0, a10);
            a11 = _mm512_fmadd_ps(x, k1, a11);
            x = _mm512_set1_ps(q[2][i]);
            a20 = _mm512_fmadd_ps(x, k0, a20);
            a21 = _mm512_fmadd_ps(x, k1, a21);
            x = _mm512_set1_ps(q[3][i]);
            a30 = _mm512_fmadd_ps(x, k0, a30);
            a31 = _mm512_fmadd_ps(x, k1, a31);
        }
        float *s = S + b * LFM_ATTN_KBLK;
        _mm512_storeu_ps(s, _mm512_mul_ps(a00, sc));
        _mm512_storeu_ps(s + 16, _mm512_mul_ps(a01, sc));
        _mm512_storeu_ps(s + s_stride, _mm512_mul_ps(a10, sc));
        _mm512_storeu_ps(s + s_stride + 16, _mm512_mul_ps(a11, sc));
        _mm512_storeu_ps(s + 2 * s_stride, _mm512_mul_ps(a20, sc));
        _mm512_storeu_ps(s + 2 * s_stride + 16, _mm512_mul_ps(a21, sc));
        _mm512_storeu_ps(s + 3 * s_stride, _mm512_mul_ps(a30, sc));
        _mm512_storeu_ps(s + 3 * s_stride + 16, _mm512_mul_ps(a31, sc));
    }
    if (b < nblk) {
        const float *kb = k + b * bs;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t i = 0; i < D; i++) {
            const __m512 k0 = _mm512_loadu_ps(kb + i * LFM_ATTN_KBLK);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[0][i]), k0, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[1][i]), k0, a1);
            a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[2][i]), k0, a2);
            a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[3][i]), k0, a3);
        }
        float *s = S + b * LFM_ATTN_KBLK;
        _mm512_storeu_ps(s, _mm512_mul_ps(a0, sc));
        _mm512_storeu_ps(s + s_stride, _mm512_mul_ps(a1, sc));
        _mm512_storeu_ps(s + 2 * s_stride, _mm512_mul_ps(a2, sc));
        _mm512_storeu_ps(s + 3 * s_stride, _mm512_mul_ps(a3, sc));
    }
}

/* O[r][d..d+64) (+)= sum_{p in [p0,p1)} P[r][p] v[p][d..d+64): 16
 * accumulators, 4 value loads and 4 broadcasts per 16 FMAs. */
static inline void pv64(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                        int64_t p0, int64_t p1, int32_t d, int first) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(O + r * D + d + 16 * c);
    for (int64_t p = p0; p < p1; p++) {
        const float *vp = v + p * D + d;
        const __m512 v0 = _mm512_loadu_ps(vp), v1 = _mm512_loadu_ps(vp + 16);
        const __m512 v2 = _mm512_loadu_ps(vp + 32), v3 = _mm512_loadu_ps(vp + 48);
        for (int r = 0; r < 4; r++) {
            const __m512 w = _mm512_set1_ps(P[r * ps + p]);
            acc[r][0] = _mm512_fmadd_ps(w, v0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(w, v1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(w, v2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(w, v3, acc[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            _mm512_storeu_ps(O + r * D + d + 16 * c, acc[r][c]);
}

/* The same for 16 columns, lanes of mask m only (a D tail). */
static inline void pv16m(float *O, int32_t D, const float *P, int64_t ps, const float *v,
                         int64_t p0, int64_t p1, int32_t d, int first, __mmask16 m) {
    __m512 a0, a1, a2, a3;
    if (first) {
        a0 = a1 = a2 = a3 = _mm512_setzero_ps();
    } else {
        a0 = _mm512_maskz_loadu_ps(m, O + d), a1 = _mm512_maskz_loadu_ps(m, O + D + d);
        a2 = _mm512_maskz_loadu_ps(m, O + 2 * D + d), a3 = _mm512_maskz_loadu_ps(m, O + 3 * D + d);
    }
    for (int64_t p = p0; p < p1; p++) {
        const __m512 v0 = _mm512_maskz_loadu_ps(m, v + p * D + d);
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(P[p]), v0, a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(P[ps + p]), v0, a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(P[2 * ps + p]), v0, a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(P[3 * ps + p]), v0, a3);
    }
    _mm512_mask_storeu_ps(O + d, m, a0), _mm512_mask_storeu_ps(O + D + d, m, a1);
    _mm512_mask_storeu_ps(O + 2 * D + d, m, a2), _mm512_mask_storeu_ps(O + 3 * D + d, m, a3);
}

static void pv_avx512(float *O, const float *P, int64_t ps, const float *v, int64_t npos,
                      int32_t D) {
    for (int64_t p0 = 0; p0 < npos; p0 += VCHUNK) {
        const int64_t p1 = npos - p0 < VCHUNK ? npos : p0 + VCHUNK;
        int32_t d = 0;
        for (; d + 64 <= D; d += 64)
            pv64(O, D, P, ps, v, p0, p1, d, p0 == 0);
        for (; d < D; d += 16) {
            const int32_t m = D - d < 16 ? D - d : 16;
            pv16m(O, D, P, ps, v, p0, p1, d, p0 == 0, (__mmask16)((1u << m) - 1));
        }
    }
}

#define ATTN_SCORES scores_avx512
#define ATTN_PV pv_avx512
#include "x86_attention.h"
#include "attn_tile.h"

void lfm_attention_tile_avx512(const lfm_attn_tile *a) {
    attn_tile(a);
}
