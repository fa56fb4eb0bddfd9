/* Q4_K and Q6_K x Q8_K matmul for the AVX-512 VNNI level, rows in lanes as
 * in x86_gemm_vnni_tmpl.h (included after it by x86_avx512_vnni.c).
 *
 * Q4_K, one activation row (decode): for 8 weight rows and one 256-element
 * super-block, the 12 scale bytes of the rows are transposed (lanes = rows)
 * and unpacked with the scalar's bit logic; each 64-element chunk's 32 code
 * bytes are transposed as dwords, the low and high nibbles giving sub-blocks
 * 2c and 2c+1.  Then
 *   isum = sum_j sc_j * s_j     s_j: 8 vpdpbusd, exact; vpmulld + vpaddd
 *   summ = sum_j m_j * bp_j     bp_j = bsums[2j] + bsums[2j+1]: 4 vpdpwssd
 * and the scalar's float step per super-block, lane by lane:
 *   sum += (dw * da) * (float)isum - (dmin * da) * (float)summ
 * bit-identical to quant_k.c.  Q6_K decode keeps x86_kquant_tmpl.h's row by row
 * kernel (see kg_mm_q6_K).
 *
 * Two or more activation rows (prefill): the kb_ section below, one decode
 * of 16 weight rows x one super-block shared by all activation rows. */

#include "r16.h"

/* 4 x 4 dwords per 128-bit lane, rows j and j+4 in the two lanes. */
static inline void kg_rows4(const uint8_t *const p[8], size_t off, __m256i v[4]) {
    for (int j = 0; j < 4; j++)
        v[j] = gt_load2(p[j] + off, p[j + 4] + off);
    gt_transpose4(v);
}

typedef struct kg_scales {
    __m256i sc[8];  /* int32 lanes = rows: scale of sub-block j */
    __m256i mp[4];  /* int16 pairs (m_2k, m_2k+1) per row */
    __m256 d, dmin; /* per row */
} kg_scales;

static inline void kg_decode_scales(const uint8_t *const p[8], kg_scales *k) {
    __m256i v[4]; /* v[0]: d | dmin << 16; v[1..3]: the 12 scale bytes as u32 */
    kg_rows4(p, 0, v);
    const __m256i m6 = _mm256_set1_epi32(0x3f3f3f3f), m4 = _mm256_set1_epi32(0x0f0f0f0f);
    const __m256i m2 = _mm256_set1_epi32(0x03030303);
    /* lfm_scale_min_k4, four bytes at a time (as kq4_decode) */
    const __m256i sc_lo = _mm256_and_si256(v[1], m6);
    const __m256i sc_hi =
        _mm256_or_si256(_mm256_and_si256(v[3], m4),
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v[1], 6), m2), 4));
    const __m256i mn_lo = _mm256_and_si256(v[2], m6);
    const __m256i mn_hi =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v[3], 4), m4),
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v[2], 6), m2), 4));
    for (int j = 0; j < 4; j++) {
        /* byte j of each dword, zero-extended */
        const char z = (char)0x80;
        const __m256i ctl =
            _mm256_setr_epi8((char)j, z, z, z, (char)(4 + j), z, z, z, (char)(8 + j), z, z, z,
                             (char)(12 + j), z, z, z, (char)j, z, z, z, (char)(4 + j), z, z, z,
                             (char)(8 + j), z, z, z, (char)(12 + j), z, z, z);
        k->sc[j] = _mm256_shuffle_epi8(sc_lo, ctl);
        k->sc[j + 4] = _mm256_shuffle_epi8(sc_hi, ctl);
    }
    for (int h = 0; h < 2; h++) {
        /* bytes 2h, 2h+1 of each dword as two int16 */
        const char z = (char)0x80, a = (char)(2 * h), b = (char)(2 * h + 1);
        const __m256i ctl = _mm256_setr_epi8(
            a, z, b, z, (char)(4 + a), z, (char)(4 + b), z, (char)(8 + a), z, (char)(8 + b), z,
            (char)(12 + a), z, (char)(12 + b), z, a, z, b, z, (char)(4 + a), z, (char)(4 + b), z,
            (char)(8 + a), z, (char)(8 + b), z, (char)(12 + a), z, (char)(12 + b), z);
        k->mp[h] = _mm256_shuffle_epi8(mn_lo, ctl);
        k->mp[h + 2] = _mm256_shuffle_epi8(mn_hi, ctl);
    }
    k->d = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(v[0]));
    k->dmin = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(v[0], 16)));
}

/* 8 rows x one activation row over all nb super-blocks; lane j: row j's
 * sum.  pf: the next rows, prefetched pf_step bytes per super-block.  Not
 * inlined: inlined into kg_mm_q4_K it measured 10-12 GB/s from DRAM against
 * 20-22 (GCC 12). */
static __m256 kg_tile_q4_K(const uint8_t *const p[8], const block_q8_K *y, int64_t nb,
                           const char *pf, int64_t pf_step) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        if (pf)
            for (int64_t o = 0; o < pf_step; o += 64)
                _mm_prefetch(pf + i * pf_step + o, _MM_HINT_T0);
        const uint8_t *q[8];
        for (int j = 0; j < 8; j++)
            q[j] = p[j] + (size_t)i * sizeof(block_q4_K);
        kg_scales k;
        kg_decode_scales(q, &k);
        /* (bp_2k, bp_2k+1) as dword k of the pair sums */
        const __m128i bp = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[i].bsums),
                                          _mm_loadu_si128((const __m128i *)(y[i].bsums + 8)));
        __m256i summ =
            _mm256_dpwssd_epi32(_mm256_setzero_si256(), k.mp[0], _mm256_broadcastd_epi32(bp));
        summ = _mm256_dpwssd_epi32(summ, k.mp[1], _mm256_broadcastd_epi32(_mm_srli_si128(bp, 4)));
        summ = _mm256_dpwssd_epi32(summ, k.mp[2], _mm256_broadcastd_epi32(_mm_srli_si128(bp, 8)));
        summ = _mm256_dpwssd_epi32(summ, k.mp[3], _mm256_broadcastd_epi32(_mm_srli_si128(bp, 12)));
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo[8], hi[8];
            kg_rows4(q, offsetof(block_q4_K, qs) + 32 * (size_t)c, lo);
            kg_rows4(q, offsetof(block_q4_K, qs) + 32 * (size_t)c + 16, lo + 4);
            for (int m = 0; m < 8; m++) {
                hi[m] = _mm256_and_si256(_mm256_srli_epi16(lo[m], 4), m4);
                lo[m] = _mm256_and_si256(lo[m], m4);
            }
            for (int h = 0; h < 2; h++) {
                const __m256i *W = h ? hi : lo;
                __m256i s = _mm256_setzero_si256();
                for (int m = 0; m < 8; m++)
                    s = _mm256_dpbusd_epi32(
                        s, W[m], _mm256_set1_epi32(gt_dword(y[i].qs + 64 * c + 32 * h + 4 * m)));
                isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(s, k.sc[2 * c + h]));
            }
        }
        const __m256 da = _mm256_set1_ps(y[i].d);
        const __m256 d = _mm256_mul_ps(k.d, da), dmin = _mm256_mul_ps(k.dmin, da);
        const __m256 v = _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(isum)),
                                       _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(summ)));
        acc = _mm256_add_ps(acc, v);
    }
    return acc;
}

/* ---- decoded blocks: 16 weight rows, one super-block, all activation rows ---
 *
 * The earlier tiles re-did the transposition and unpacking of the weights
 * for every 4 activation rows (Q4_K: ~440 ops per super-block of 16 rows,
 * against ~90 per activation row), and Q6_K reduced lane sums horizontally.
 * Here one super-block of 16 weight rows is decoded once into a stack buffer
 * (codes as bytes and scales as int32, lanes = rows) and applied to every
 * activation row of the chunk, KB_T at a time: vpdpbusd with broadcast
 * activation dwords, the sub-block scales with vpmulld in lanes.  The float
 * accumulators live in out between super-blocks (the scalar's float steps,
 * in its order).  One thread, GMAC/s of the earlier tiles -> these:
 *   1792 x 2048 (weights in cache)     n=2       n=4       n=16      n=64
 *     Q4_K                             69 -> 60  115 -> 93 121 -> 142 123 -> 159
 *     Q6_K                             42 -> 44  59 -> 73  64 -> 128  65 -> 151
 *   32768 x 2048 (from DRAM, as the experts)
 *     Q4_K                             26 -> 49  45 -> 71  89 -> 132  109 -> 149
 *     Q6_K                             12 -> 26  23 -> 46  46 -> 92   59 -> 132
 * so they serve every product of 2+ activation rows. */

#define KB_T 8 /* activation rows per pass: 8 code registers + 2 x 8 sums */
/* activation rows per chunk (the chunk's activations stay in L2, 128 x 2.3 KB
 * for 2048 columns): 1792 x 2048 Q4_K at 256 rows measured 144 GMAC/s with
 * 32, 152 with 64, 158 with 128 and 160 with 256; at 512 rows 128 was best */
#define KB_TC 128

/* Bytes off..off+15 of 16 rows: v[k] lane j = dword k of row j. */
static inline void kb_rows16(const uint8_t *const p[16], size_t off, __m512i v[4]) {
    for (int j = 0; j < 4; j++) {
        __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p[j] + off)));
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[j + 4] + off)), 1);
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[j + 8] + off)), 2);
        v[j] = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[j + 12] + off)), 3);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    v[0] = _mm512_unpacklo_epi64(t0, t2);
    v[1] = _mm512_unpackhi_epi64(t0, t2);
    v[2] = _mm512_unpacklo_epi64(t1, t3);
    v[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* Where a decode reads super-block i of 16 rows: the rows' blocks in the
 * file's layout, transposed on the fly, or one block of an R16 group
 * (r16.h), whose vector k is dword k of the 16 rows' blocks as loaded. */
typedef struct kb_src {
    const uint8_t *const *p; /* the 16 rows' blocks, or NULL */
    const uint8_t *g;        /* the R16 block's vectors when p is NULL */
    const uint8_t *tail;     /* and its tails (Q6_K: the 16 half scales d) */
    size_t dwords;           /* vectors per block (their order: lfm_r16_slot) */
} kb_src;

/* Block i of R16 group gi (nb blocks of `bytes` per row, the last `tail`
 * of them the tail) at g. */
static inline __attribute__((always_inline)) kb_src
kb_r16_block(const uint8_t *g, int64_t gi, int64_t nb, int64_t i, size_t bytes, size_t tail) {
    kb_src s = {NULL, NULL, NULL, (bytes - tail) / 4};
    s.g = lfm_r16_block_at(g, gi, nb, i, 16 * (bytes - tail), 16 * tail, &s.tail);
    return s;
}

/* Bytes off..off+15 (off a multiple of 4) of the 16 rows' blocks: v[k]
 * lane j = dword k of row j. */
static inline __attribute__((always_inline)) void kb_load(const kb_src *s, size_t off,
                                                          __m512i v[4]) {
    if (s->p) {
        kb_rows16(s->p, off, v);
        return;
    }
    for (int k = 0; k < 4; k++)
        v[k] = _mm512_loadu_si512(s->g + 64 * lfm_r16_slot(s->dwords, off / 4 + (size_t)k));
}

/* byte b of each dword as int32: sign-extended, or zero-extended */
static inline __m512i kb_sbyte(__m512i v, int b) {
    return _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * b), 24);
}
static inline __m512i kb_ubyte(__m512i v, int b) {
    return _mm512_srli_epi32(_mm512_slli_epi32(v, 24 - 8 * b), 24);
}

/* the 16 rows' fp16 at byte off of their blocks, as floats (in R16, the
 * block's tail: r16.h) */
static inline __attribute__((always_inline)) __m512 kb_halfs(const kb_src *s, size_t off) {
    if (!s->p) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)s->tail));
    uint16_t h[16];
    for (int j = 0; j < 16; j++)
        memcpy(&h[j], s->p[j] + off, 2);
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* d, dmin, scales and mins of 16 rows' super-blocks: the 16-byte header
 * Q4_K and Q5_K share. */
typedef struct kb_k4h {
    __m512i sc[8]; /* int32: scale of sub-block j */
    __m512i mm[8]; /* int16 pairs (m_j, m_j): dpwssd with (bsums[2j], bsums[2j+1]) */
    __m512 d, dmin;
} kb_k4h;

/* Q4_K: sub-block j (32 elements) is q[8j .. 8j+7] */
typedef struct kb_q4_K {
    __m512i q[64]; /* codes 0..15; q[8j + m] lane r: elements 32j + 4m .. +3 of row r */
    kb_k4h h;
} kb_q4_K;

static inline __attribute__((always_inline)) void kb_decode_k4_header(const kb_src *x, kb_k4h *b) {
    __m512i v[4]; /* v[0]: d | dmin << 16; v[1..3]: the 12 scale bytes as u32 */
    kb_load(x, 0, v);
    const __m512i m6 = _mm512_set1_epi32(0x3f3f3f3f), m4 = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i m2 = _mm512_set1_epi32(0x03030303);
    /* lfm_scale_min_k4, four bytes at a time (as kg_decode_scales) */
    const __m512i sc_lo = _mm512_and_si512(v[1], m6);
    const __m512i sc_hi =
        _mm512_or_si512(_mm512_and_si512(v[3], m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(v[1], 6), m2), 4));
    const __m512i mn_lo = _mm512_and_si512(v[2], m6);
    const __m512i mn_hi =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(v[3], 4), m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(v[2], 6), m2), 4));
    for (int j = 0; j < 4; j++) {
        b->sc[j] = kb_ubyte(sc_lo, j);
        b->sc[j + 4] = kb_ubyte(sc_hi, j);
        const __m512i a = kb_ubyte(mn_lo, j), c = kb_ubyte(mn_hi, j);
        b->mm[j] = _mm512_or_si512(a, _mm512_slli_epi32(a, 16));
        b->mm[j + 4] = _mm512_or_si512(c, _mm512_slli_epi32(c, 16));
    }
    b->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v[0]));
    b->dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v[0], 16)));
}

static inline __attribute__((always_inline)) void kb_decode_q4_K(const kb_src *x, kb_q4_K *b) {
    kb_decode_k4_header(x, &b->h);
    const __m512i n4 = _mm512_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) { /* 64-element chunk c: sub-blocks 2c (low), 2c+1 (high) */
        __m512i r[8];
        kb_load(x, offsetof(block_q4_K, qs) + 32 * (size_t)c, r);
        kb_load(x, offsetof(block_q4_K, qs) + 32 * (size_t)c + 16, r + 4);
        for (int m = 0; m < 8; m++) {
            b->q[16 * c + m] = _mm512_and_si512(r[m], n4);
            b->q[16 * c + 8 + m] = _mm512_and_si512(_mm512_srli_epi16(r[m], 4), n4);
        }
    }
}

static inline __attribute__((always_inline)) void kb_apply_q4_K(int TN, const kb_q4_K *b,
                                                                const block_q8_K *const *y,
                                                                int64_t i, float *out, int64_t os,
                                                                __mmask16 lanes, int first) {
    __m512i isum[KB_T];
    for (int t = 0; t < TN; t++)
        isum[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; j++) {
        __m512i s[KB_T];
        for (int t = 0; t < TN; t++)
            s[t] = _mm512_setzero_si512();
        for (int m = 0; m < 8; m++) {
            const __m512i W = b->q[8 * j + m];
            for (int t = 0; t < TN; t++)
                s[t] = _mm512_dpbusd_epi32(
                    s[t], W, _mm512_set1_epi32(gt_dword(y[t][i].qs + 32 * j + 4 * m)));
        }
        for (int t = 0; t < TN; t++)
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], b->h.sc[j]));
    }
    for (int t = 0; t < TN; t++) {
        /* summ = sum_j m_j (bsums[2j] + bsums[2j+1]) */
        const int16_t *bs = y[t][i].bsums;
        __m512i summ = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            int32_t pr;
            memcpy(&pr, bs + 2 * j, 4);
            summ = _mm512_dpwssd_epi32(summ, b->h.mm[j], _mm512_set1_epi32(pr));
        }
        const __m512 da = _mm512_set1_ps(y[t][i].d);
        const __m512 d = _mm512_mul_ps(b->h.d, da), dmin = _mm512_mul_ps(b->h.dmin, da);
        const __m512 v = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t])),
                                       _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(summ)));
        const __m512 o = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(lanes, out + t * os);
        _mm512_mask_storeu_ps(out + t * os, lanes, _mm512_add_ps(o, v));
    }
}

/* Q5_K: Q4_K's header and sums with 5-bit codes (0..31): the low nibbles
 * of 64-element chunk c take bit 2c of qh[l] as their fifth bit, the high
 * nibbles bit 2c+1 (qh[l] holds element l's bits for every chunk). */
typedef kb_q4_K kb_q5_K;

static inline __attribute__((always_inline)) void kb_decode_q5_K(const kb_src *x, kb_q5_K *b) {
    kb_decode_k4_header(x, &b->h);
    __m512i h[8]; /* qh as dwords, lanes = rows: h[m] holds l = 4m .. 4m+3 */
    kb_load(x, offsetof(block_q5_K, qh), h);
    kb_load(x, offsetof(block_q5_K, qh) + 16, h + 4);
    const __m512i n4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
    for (int c = 0; c < 4; c++) {
        __m512i r[8];
        kb_load(x, offsetof(block_q5_K, qs) + 32 * (size_t)c, r);
        kb_load(x, offsetof(block_q5_K, qs) + 32 * (size_t)c + 16, r + 4);
        for (int m = 0; m < 8; m++) {
            /* within a byte: bit 2c (2c+1) down to bit 0, then up to bit 4 */
            const __m512i lo = _mm512_and_si512(_mm512_srli_epi32(h[m], 2 * c), one);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi32(h[m], 2 * c + 1), one);
            b->q[16 * c + m] =
                _mm512_or_si512(_mm512_and_si512(r[m], n4), _mm512_slli_epi32(lo, 4));
            b->q[16 * c + 8 + m] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(r[m], 4), n4),
                                                   _mm512_slli_epi32(hi, 4));
        }
    }
}

#define kb_apply_q5_K kb_apply_q4_K

/* Q6_K: group g (32 elements, sub-blocks 2g and 2g+1) is q[8g .. 8g+7] */
typedef struct kb_q6_K {
    __m512i q[64];  /* unsigned codes 0..63 (value q - 32), lanes = rows */
    __m512i sc[16]; /* int32: scale of sub-block s */
    __m512 d;
} kb_q6_K;

static inline __attribute__((always_inline)) void kb_decode_q6_K(const kb_src *x, kb_q6_K *b) {
    __m512i v[4];
    kb_load(x, offsetof(block_q6_K, scales), v);
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 4; c++)
            b->sc[4 * k + c] = kb_sbyte(v[k], c);
    b->d = kb_halfs(x, offsetof(block_q6_K, d));
    /* element 128h + 32s + l: low (s < 2) or high (s >= 2) nibble of
     * ql[64h + 32(s & 1) + l], bits 2s, 2s+1 of qh[32h + l] */
    const __m512i n4 = _mm512_set1_epi8(0x0f);
    for (int h = 0; h < 2; h++) {
        __m512i H[8];
        kb_load(x, offsetof(block_q6_K, qh) + 32 * (size_t)h, H);
        kb_load(x, offsetof(block_q6_K, qh) + 32 * (size_t)h + 16, H + 4);
        for (int c = 0; c < 2; c++) {
            __m512i L[8];
            kb_load(x, 64 * (size_t)h + 32 * (size_t)c, L);
            kb_load(x, 64 * (size_t)h + 32 * (size_t)c + 16, L + 4);
            const __m512i ml = _mm512_set1_epi8((char)(3 << (2 * c)));
            const __m512i mh = _mm512_set1_epi8((char)(3 << (2 * c + 4)));
            for (int m = 0; m < 8; m++) {
                /* top bits masked before the shift to bits 4-5: no spill */
                const __m512i hl = _mm512_slli_epi16(_mm512_and_si512(H[m], ml), 4 - 2 * c);
                const __m512i hh = _mm512_srli_epi16(_mm512_and_si512(H[m], mh), 2 * c);
                /* 0xEC: (A & C) | B */
                b->q[8 * (4 * h + c) + m] = _mm512_ternarylogic_epi32(L[m], hl, n4, 0xEC);
                b->q[8 * (4 * h + c + 2) + m] =
                    _mm512_ternarylogic_epi32(_mm512_srli_epi16(L[m], 4), hh, n4, 0xEC);
            }
        }
    }
}

static inline __attribute__((always_inline)) void kb_apply_q6_K(int TN, const kb_q6_K *b,
                                                                const block_q8_K *const *y,
                                                                int64_t i, float *out, int64_t os,
                                                                __mmask16 lanes, int first) {
    /* isum = sum_s sc_s (<q_s, a_s> - 32 bsum_s), exact in int32 (|.| < 2^29):
     * the sub-block sums start at -32 bsum_s, a broadcast load instead of
     * 8 vpdpwssd per row (measured 126-136 -> 145 GMAC/s at 64 rows) */
    int32_t off[KB_T][16];
    for (int t = 0; t < TN; t++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[t][i].bsums);
        _mm512_storeu_si512(off[t],
                            _mm512_mullo_epi32(_mm512_cvtepi16_epi32(bs), _mm512_set1_epi32(-32)));
    }
    __m512i isum[KB_T];
    for (int t = 0; t < TN; t++)
        isum[t] = _mm512_setzero_si512();
    for (int g = 0; g < 8; g++) {
        for (int h = 0; h < 2; h++) {
            __m512i s[KB_T];
            for (int t = 0; t < TN; t++)
                s[t] = _mm512_set1_epi32(off[t][2 * g + h]);
            for (int m = 4 * h; m < 4 * h + 4; m++) {
                const __m512i W = b->q[8 * g + m];
                for (int t = 0; t < TN; t++)
                    s[t] = _mm512_dpbusd_epi32(
                        s[t], W, _mm512_set1_epi32(gt_dword(y[t][i].qs + 32 * g + 4 * m)));
            }
            for (int t = 0; t < TN; t++)
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], b->sc[2 * g + h]));
        }
    }
    for (int t = 0; t < TN; t++) {
        const __m512 d = _mm512_mul_ps(b->d, _mm512_set1_ps(y[t][i].d));
        const __m512 v = _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t]));
        const __m512 o = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(lanes, out + t * os);
        _mm512_mask_storeu_ps(out + t * os, lanes, _mm512_add_ps(o, v));
    }
}

/* Chunks of KB_TC activation rows; in each, 16 weight rows at a time (the
 * last group masked, missing rows repeating the first), super-block by
 * super-block, every activation row of the chunk KB_T at a time.  r16: w
 * is in the R16 layout (nr a multiple of 16, w at an even group), one
 * group per 16 rows. */
#define KB_MM(sfx, btype)                                                                          \
    static inline __attribute__((always_inline)) void kb_mm_##sfx##_impl(                          \
        int r16, int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,        \
        int64_t nt, float *out, int64_t os) {                                                      \
        const int64_t nb = n / QK_K;                                                               \
        /* equal chunks (130 rows: 2 x 65, not 128 + 2 paying a whole decode) */                   \
        const int64_t nch = (nt + KB_TC - 1) / KB_TC, tcs = (nt + nch - 1) / nch;                  \
        kb_##sfx b;                                                                                \
        if (nb == 0) /* what dot gives for no columns */                                           \
            for (int64_t t = 0; t < nt; t++)                                                       \
                memset(out + t * os, 0, (size_t)nr * sizeof(float));                               \
        for (int64_t tc0 = 0; tc0 < nt; tc0 += tcs) {                                              \
            const int64_t tc1 = nt - tc0 < tcs ? nt : tc0 + tcs;                                   \
            for (int64_t r0 = 0; r0 < nr; r0 += 16) {                                              \
                const int rr = (int)(nr - r0 < 16 ? nr - r0 : 16);                                 \
                const __mmask16 lanes = (__mmask16)((1u << rr) - 1);                               \
                const uint8_t *p[16];                                                              \
                for (int j = 0; j < 16; j++)                                                       \
                    p[j] = (const uint8_t *)w + (size_t)(r0 + (j < rr ? j : 0)) * ws;              \
                /* the next 16 rows into L2, spread over these super-blocks: experts'     \
                 * weights come from DRAM (32768 x 2048 at 16 rows: Q4_K 85 -> 128,     \
                 * Q6_K 65 -> 93 GMAC/s; into L1, evicting the decoded block and the    \
                 * activations, only 92 and 65) */        \
                const int64_t nx = nr - r0 - 16 < 16 ? nr - r0 - 16 : 16;                          \
                const char *pf = (const char *)w + (size_t)(r0 + 16) * ws;                         \
                const size_t pf_len = nx > 0 ? (size_t)nx * ws : 0;                                \
                const size_t pf_step = (pf_len / (size_t)(nb > 0 ? nb : 1) / 64 + 1) * 64;         \
                for (int64_t i = 0; i < nb; i++) {                                                 \
                    const uint8_t *q[16];                                                          \
                    for (int j = 0; j < 16 && !r16; j++)                                           \
                        q[j] = p[j] + (size_t)i * sizeof(btype);                                   \
                    const kb_src src =                                                             \
                        r16 ? kb_r16_block(p[0], r0 / 16, nb, i, sizeof(btype), sizeof(btype) % 4) \
                            : (kb_src){q, NULL, NULL, 0};                                          \
                    const size_t o1 = (size_t)(i + 1) * pf_step;                                   \
                    for (size_t o = (size_t)i * pf_step; o < o1 && o < pf_len; o += 64)            \
                        _mm_prefetch(pf + o, _MM_HINT_T1);                                         \
                    kb_decode_##sfx(&src, &b);                                                     \
                    for (int64_t t0 = tc0; t0 < tc1; t0 += KB_T) {                                 \
                        const int tn = (int)(tc1 - t0 < KB_T ? tc1 - t0 : KB_T);                   \
                        const block_q8_K *y[KB_T];                                                 \
                        for (int t = 0; t < KB_T; t++)                                             \
                            y[t] = (const block_q8_K *)((const uint8_t *)a +                       \
                                                        (size_t)(t0 + (t < tn ? t : 0)) * as);     \
                        float *o = out + t0 * os + r0;                                             \
                        switch (tn) {                                                              \
                        case 1: kb_apply_##sfx(1, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 2: kb_apply_##sfx(2, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 3: kb_apply_##sfx(3, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 4: kb_apply_##sfx(4, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 5: kb_apply_##sfx(5, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 6: kb_apply_##sfx(6, &b, y, i, o, os, lanes, i == 0); break;          \
                        case 7: kb_apply_##sfx(7, &b, y, i, o, os, lanes, i == 0); break;          \
                        default: kb_apply_##sfx(8, &b, y, i, o, os, lanes, i == 0); break;         \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void kb_mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,        \
                            size_t as, int64_t nt, float *out, int64_t os) {                       \
        kb_mm_##sfx##_impl(0, n, w, ws, nr, a, as, nt, out, os);                                   \
    }                                                                                              \
    /* the lfm_mm_fn of r16.h: the same steps on R16 groups */                                     \
    static void kr_mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,        \
                            size_t as, int64_t nt, float *out, int64_t os) {                       \
        kb_mm_##sfx##_impl(1, n, w, ws, nr, a, as, nt, out, os);                                   \
    }

KB_MM(q4_K, block_q4_K)
KB_MM(q5_K, block_q5_K)
KB_MM(q6_K, block_q6_K)

static void kg_mm_q4_K(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                       int64_t nt, float *out, int64_t os) {
    if (nt > 1) {
        kb_mm_q4_K(n, w, ws, nr, a, as, nt, out, os);
        return;
    }
    /* one activation row: the weights stream from memory once, 8 rows at a
     * time; prefetch the next 8 rows (contiguous) during these.  16 rows
     * per zmm streamed in registers (as the Q4_0 decode) measured no faster
     * here: 1792 x 2048, thread CPU time, 5 interleaved runs, 16.1-21.5 GB/s
     * against 17.9-24.7 for this tile; kb_mm_q4_K for one row 15-17 GB/s. */
    const int64_t nb = n / QK_K;
    for (int64_t r0 = 0; r0 < nr; r0 += GT_R) {
        const int rr = (int)(nr - r0 < GT_R ? nr - r0 : GT_R);
        const uint8_t *p[8];
        for (int j = 0; j < 8; j++) /* missing rows repeat the first */
            p[j] = (const uint8_t *)w + (size_t)(r0 + (j < rr ? j : 0)) * ws;
        const char *pf = NULL;
        int64_t pf_step = 0;
        if (rr == GT_R && nb > 0 && ws * GT_R < ((size_t)1 << 30)) {
            pf = (const char *)p[0] + GT_R * ws;
            pf_step = (int64_t)(GT_R * ws) / nb + 1;
        }
        _mm256_mask_storeu_ps(out + r0, (__mmask8)((1u << rr) - 1),
                              kg_tile_q4_K(p, a, nb, pf, pf_step));
    }
}

/* the tile's float steps for one row (bit-identical to the scalar too) */
static float kg_dot_q4_K(int64_t n, const void *w, const void *a) {
    float out = 0.0f;
    kg_mm_q4_K(n, w, 0, 1, a, 0, 1, &out, 1);
    return out;
}

/* ---- Q6_K ------------------------------------------------------------------ */

static void kg_mm_q6_K(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                       int64_t nt, float *out, int64_t os) {
    if (nt == 1) {
        /* decode: the weights stream from DRAM; row by row (one stream)
         * measured 19.8 GB/s there against 16 for 8 rows at once with
         * prefetch (65536 x 2048, the output head's shape); same numbers */
        mm_q6_K(n, w, ws, nr, a, as, nt, out, os);
        return;
    }
    kb_mm_q6_K(n, w, ws, nr, a, as, nt, out, os);
}

static float kg_dot_q6_K(int64_t n, const void *w, const void *a) {
    float out = 0.0f;
    kg_mm_q6_K(n, w, 0, 1, a, 0, 1, &out, 1);
    return out;
}

/* ---- Q5_K ------------------------------------------------------------------ */

/* One activation row keeps x86_kquant_tmpl.h's row-by-row kernel (and its dot). */
static void kg_mm_q5_K(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                       int64_t nt, float *out, int64_t os) {
    if (nt == 1)
        mm_q5_K(n, w, ws, nr, a, as, nt, out, os);
    else
        kb_mm_q5_K(n, w, ws, nr, a, as, nt, out, os);
}

static inline void kg_fill(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_K] = kg_dot_q4_K;
    k->mm[LFM_TYPE_Q4_K] = kg_mm_q4_K;
    k->dot[LFM_TYPE_Q6_K] = kg_dot_q6_K;
    k->mm[LFM_TYPE_Q6_K] = kg_mm_q6_K;
    k->mm[LFM_TYPE_Q5_K] = kg_mm_q5_K;
}
