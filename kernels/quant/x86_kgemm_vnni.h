/* Q4_K x Q8_K matmul tiles for the AVX-512 VNNI level, rows in lanes as in
 * x86_gemm_vnni.h (included after it by x86_avx512_vnni.c).
 *
 * For 8 weight rows and one 256-element super-block: the 12 scale bytes of
 * the rows are transposed (lanes = rows) and unpacked with the scalar's bit
 * logic; each 64-element chunk's 32 code bytes are transposed as dwords, the
 * low and high nibbles giving sub-blocks 2c and 2c+1.  Per activation row:
 *   isum = sum_j sc_j * s_j     s_j: 8 vpdpbusd, exact; vpmulld + vpaddd
 *   summ = sum_j m_j * bp_j     bp_j = bsums[2j] + bsums[2j+1]: 4 vpdpwssd
 * then the scalar's float step per super-block, lane by lane:
 *   sum += (dw * da) * (float)isum - (dmin * da) * (float)summ
 * bit-identical to quant_k.c.  Full groups of KG_T activation rows take 16
 * weight rows at a time in zmm lanes (kg_rows16_q4_K, measured 103 -> 121
 * GMAC/s at 64 activation rows). */

#define KG_T 4 /* activation rows per tile (16 code registers + 3 per row) */

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
    const __m256i sc_hi = _mm256_or_si256(
        _mm256_and_si256(v[3], m4),
        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v[1], 6), m2), 4));
    const __m256i mn_lo = _mm256_and_si256(v[2], m6);
    const __m256i mn_hi = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi32(v[3], 4), m4),
        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v[2], 6), m2), 4));
    for (int j = 0; j < 4; j++) {
        /* byte j of each dword, zero-extended */
        const char z = (char)0x80;
        const __m256i ctl = _mm256_setr_epi8(
            (char)j, z, z, z, (char)(4 + j), z, z, z, (char)(8 + j), z, z, z, (char)(12 + j), z, z, z,
            (char)j, z, z, z, (char)(4 + j), z, z, z, (char)(8 + j), z, z, z, (char)(12 + j), z, z, z);
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

/* 8 rows x TN activation rows over all nb super-blocks; acc[t] lane j:
 * the sum of row j with activation t. */
static inline __attribute__((always_inline)) void kg_tile_q4_K(
    int TN, const uint8_t *const p[8], const block_q8_K *const *y, int64_t nb,
    __m256 acc[KG_T], const char *pf, int64_t pf_step) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < nb; i++) {
        if (pf)
            for (int64_t o = 0; o < pf_step; o += 64)
                _mm_prefetch(pf + i * pf_step + o, _MM_HINT_T0);
        const uint8_t *q[8];
        for (int j = 0; j < 8; j++)
            q[j] = p[j] + (size_t)i * sizeof(block_q4_K);
        kg_scales k;
        kg_decode_scales(q, &k);
        __m256i isum[KG_T], summ[KG_T];
        for (int t = 0; t < TN; t++) {
            isum[t] = _mm256_setzero_si256();
            /* (bp_2k, bp_2k+1) as dword k of the pair sums */
            const __m128i bp = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[t][i].bsums),
                                              _mm_loadu_si128((const __m128i *)(y[t][i].bsums + 8)));
            __m256i s = _mm256_dpwssd_epi32(_mm256_setzero_si256(), k.mp[0],
                                            _mm256_broadcastd_epi32(bp));
            s = _mm256_dpwssd_epi32(s, k.mp[1], _mm256_broadcastd_epi32(_mm_srli_si128(bp, 4)));
            s = _mm256_dpwssd_epi32(s, k.mp[2], _mm256_broadcastd_epi32(_mm_srli_si128(bp, 8)));
            summ[t] = _mm256_dpwssd_epi32(s, k.mp[3],
                                          _mm256_broadcastd_epi32(_mm_srli_si128(bp, 12)));
        }
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
                __m256i s[KG_T];
                for (int t = 0; t < TN; t++)
                    s[t] = _mm256_setzero_si256();
                for (int m = 0; m < 8; m++)
                    for (int t = 0; t < TN; t++)
                        s[t] = _mm256_dpbusd_epi32(
                            s[t], W[m],
                            _mm256_set1_epi32(gt_dword(y[t][i].qs + 64 * c + 32 * h + 4 * m)));
                for (int t = 0; t < TN; t++)
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(s[t], k.sc[2 * c + h]));
            }
        }
        for (int t = 0; t < TN; t++) {
            const __m256 da = _mm256_set1_ps(y[t][i].d);
            const __m256 d = _mm256_mul_ps(k.d, da), dmin = _mm256_mul_ps(k.dmin, da);
            const __m256 v = _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(isum[t])),
                                           _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(summ[t])));
            acc[t] = _mm256_add_ps(acc[t], v);
        }
    }
}

static inline __m512i kg_join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline __m512 kg_joinf(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

/* 16 rows (two 8-row halves joined in zmm lanes) x KG_T activation rows, as
 * kg_tile_q4_K lane by lane: half the broadcast loads and instructions. */
static void kg_rows16_q4_K(const uint8_t *w, size_t ws, const block_q8_K *const *y, int64_t nb,
                           float *out, int64_t os) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const uint8_t *p[16];
    for (int j = 0; j < 16; j++)
        p[j] = w + (size_t)j * ws;
    __m512 acc[KG_T];
    for (int t = 0; t < KG_T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q[16];
        for (int j = 0; j < 16; j++)
            q[j] = p[j] + (size_t)i * sizeof(block_q4_K);
        kg_scales k0, k1;
        kg_decode_scales(q, &k0);
        kg_decode_scales(q + 8, &k1);
        __m512i isum[KG_T], summ[KG_T];
        for (int t = 0; t < KG_T; t++) {
            isum[t] = _mm512_setzero_si512();
            const __m128i bp = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[t][i].bsums),
                                              _mm_loadu_si128((const __m128i *)(y[t][i].bsums + 8)));
            __m512i s = _mm512_dpwssd_epi32(_mm512_setzero_si512(), kg_join(k0.mp[0], k1.mp[0]),
                                            _mm512_broadcastd_epi32(bp));
            s = _mm512_dpwssd_epi32(s, kg_join(k0.mp[1], k1.mp[1]),
                                    _mm512_broadcastd_epi32(_mm_srli_si128(bp, 4)));
            s = _mm512_dpwssd_epi32(s, kg_join(k0.mp[2], k1.mp[2]),
                                    _mm512_broadcastd_epi32(_mm_srli_si128(bp, 8)));
            summ[t] = _mm512_dpwssd_epi32(s, kg_join(k0.mp[3], k1.mp[3]),
                                          _mm512_broadcastd_epi32(_mm_srli_si128(bp, 12)));
        }
        for (int c = 0; c < 4; c++) {
            __m512i lo[8], hi[8];
            {
                __m256i a[8], b[8];
                kg_rows4(q, offsetof(block_q4_K, qs) + 32 * (size_t)c, a);
                kg_rows4(q, offsetof(block_q4_K, qs) + 32 * (size_t)c + 16, a + 4);
                kg_rows4(q + 8, offsetof(block_q4_K, qs) + 32 * (size_t)c, b);
                kg_rows4(q + 8, offsetof(block_q4_K, qs) + 32 * (size_t)c + 16, b + 4);
                for (int m = 0; m < 8; m++)
                    lo[m] = kg_join(a[m], b[m]);
            }
            for (int m = 0; m < 8; m++) {
                hi[m] = _mm512_and_si512(_mm512_srli_epi16(lo[m], 4), m4);
                lo[m] = _mm512_and_si512(lo[m], m4);
            }
            for (int h = 0; h < 2; h++) {
                const __m512i *W = h ? hi : lo;
                const int j = 2 * c + h;
                const __m512i sc = kg_join(k0.sc[j], k1.sc[j]);
                __m512i s[KG_T];
                for (int t = 0; t < KG_T; t++)
                    s[t] = _mm512_setzero_si512();
                for (int m = 0; m < 8; m++)
                    for (int t = 0; t < KG_T; t++)
                        s[t] = _mm512_dpbusd_epi32(
                            s[t], W[m],
                            _mm512_set1_epi32(gt_dword(y[t][i].qs + 64 * c + 32 * h + 4 * m)));
                for (int t = 0; t < KG_T; t++)
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], sc));
            }
        }
        const __m512 dw = kg_joinf(k0.d, k1.d), dmw = kg_joinf(k0.dmin, k1.dmin);
        for (int t = 0; t < KG_T; t++) {
            const __m512 da = _mm512_set1_ps(y[t][i].d);
            const __m512 d = _mm512_mul_ps(dw, da), dmin = _mm512_mul_ps(dmw, da);
            const __m512 v = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t])),
                                           _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(summ[t])));
            acc[t] = _mm512_add_ps(acc[t], v);
        }
    }
    for (int t = 0; t < KG_T; t++)
        _mm512_storeu_ps(out + t * os, acc[t]);
}

/* Blocked as gt_mm (64 activation rows x 128 weight rows); whole rows per
 * tile (a Q4_K row of 8192 columns is 4.5 KB). */
static void kg_mm_q4_K(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                       int64_t nt, float *out, int64_t os) {
    const int64_t nb = n / QK_K;
    for (int64_t tc0 = 0; tc0 < nt; tc0 += GT_TC) {
        const int64_t tc1 = nt - tc0 < GT_TC ? nt : tc0 + GT_TC;
        for (int64_t rc0 = 0; rc0 < nr; rc0 += GT_RC) {
            const int64_t rc1 = nr - rc0 < GT_RC ? nr : rc0 + GT_RC;
            for (int64_t t0 = tc0; t0 < tc1; t0 += KG_T) {
                const int tn = (int)(tc1 - t0 < KG_T ? tc1 - t0 : KG_T);
                const block_q8_K *y[KG_T];
                for (int t = 0; t < KG_T; t++)
                    y[t] = (const block_q8_K *)((const uint8_t *)a +
                                                (size_t)(t0 + (t < tn ? t : 0)) * as);
                for (int64_t r0 = rc0; r0 < rc1; r0 += GT_R) {
                    if (tn == KG_T && rc1 - r0 >= 2 * GT_R) {
                        kg_rows16_q4_K((const uint8_t *)w + (size_t)r0 * ws, ws, y, nb,
                                       out + t0 * os + r0, os);
                        r0 += GT_R;
                        continue;
                    }
                    const int rr = (int)(rc1 - r0 < GT_R ? rc1 - r0 : GT_R);
                    const uint8_t *p[8];
                    for (int j = 0; j < 8; j++) /* missing rows repeat the first */
                        p[j] = (const uint8_t *)w + (size_t)(r0 + (j < rr ? j : 0)) * ws;
                    const __mmask8 lanes = (__mmask8)((1u << rr) - 1);
                    const char *pf = NULL;
                    int64_t pf_step = 0;
                    if (tn == 1 && rr == GT_R && nb > 0 && ws * GT_R < ((size_t)1 << 30)) {
                        pf = (const char *)p[0] + GT_R * ws;
                        pf_step = (int64_t)(GT_R * ws) / nb + 1;
                    }
                    __m256 acc[KG_T];
                    for (int t = 0; t < KG_T; t++)
                        acc[t] = _mm256_setzero_ps();
                    switch (tn) {
                    case 1: kg_tile_q4_K(1, p, y, nb, acc, pf, pf_step); break;
                    case 2: kg_tile_q4_K(2, p, y, nb, acc, pf, pf_step); break;
                    case 3: kg_tile_q4_K(3, p, y, nb, acc, pf, pf_step); break;
                    default: kg_tile_q4_K(4, p, y, nb, acc, pf, pf_step); break;
                    }
                    for (int t = 0; t < tn; t++)
                        _mm256_mask_storeu_ps(out + (t0 + t) * os + r0, lanes, acc[t]);
                }
            }
        }
    }
}

/* the tile's float steps for one row (bit-identical to the scalar too) */
static float kg_dot_q4_K(int64_t n, const void *w, const void *a) {
    float out = 0.0f;
    kg_mm_q4_K(n, w, 0, 1, a, 0, 1, &out, 1);
    return out;
}

/* ---- Q6_K ------------------------------------------------------------------ */

/* 8 vectors of 8 int32 -> lane j: the sum of v[j]'s lanes. */
static inline __m256i kg_reduce8(const __m256i v[8]) {
    const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20),
                            _mm256_permute2x128_si256(g0, g1, 0x31));
}

#define K6_T 4
/* Q6_K codes stay row by row (kq6_decode, kq6_lanes: 6-bit unpacking gains
 * nothing from a transposition); 8 rows' lane sums are reduced together so
 * that the float step (dw * da) * (float)isum runs with rows in lanes, in
 * the scalar's order: bit-identical to quant_k.c. */
static inline __attribute__((always_inline)) void kg_tile_q6_K(
    int TN, const uint8_t *const p[8], const block_q8_K *const *y, int64_t nb, __m256 acc[K6_T]) {
    for (int64_t i = 0; i < nb; i++) {
        __m256i v[K6_T][8];
        for (int j = 0; j < 8; j++) {
            kq6 k;
            kq6_decode(&k, (const block_q6_K *)p[j] + i);
            for (int t = 0; t < TN; t++)
                v[t][j] = kq6_lanes(&k, &y[t][i]);
        }
        const __m256 dw = GT_SCALES(((const block_q6_K *const *)p), i);
        for (int t = 0; t < TN; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(y[t][i].d));
            acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(d, _mm256_cvtepi32_ps(kg_reduce8(v[t]))));
        }
    }
}

static void kg_mm_q6_K(int64_t n, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                       int64_t nt, float *out, int64_t os) {
    if (nt == 1) {
        /* decode: the weights stream from DRAM; row by row (one stream)
         * measured 19.8 GB/s there against 16 for 8 rows at once with
         * prefetch (65536 x 2048, the output head's shape); same numbers */
        mm_q6_K(n, w, ws, nr, a, as, nt, out, os);
        return;
    }
    const int64_t nb = n / QK_K;
    for (int64_t tc0 = 0; tc0 < nt; tc0 += GT_TC) {
        const int64_t tc1 = nt - tc0 < GT_TC ? nt : tc0 + GT_TC;
        for (int64_t rc0 = 0; rc0 < nr; rc0 += GT_RC) {
            const int64_t rc1 = nr - rc0 < GT_RC ? nr : rc0 + GT_RC;
            for (int64_t t0 = tc0; t0 < tc1; t0 += K6_T) {
                const int tn = (int)(tc1 - t0 < K6_T ? tc1 - t0 : K6_T);
                const block_q8_K *y[K6_T];
                for (int t = 0; t < K6_T; t++)
                    y[t] = (const block_q8_K *)((const uint8_t *)a +
                                                (size_t)(t0 + (t < tn ? t : 0)) * as);
                for (int64_t r0 = rc0; r0 < rc1; r0 += GT_R) {
                    const int rr = (int)(rc1 - r0 < GT_R ? rc1 - r0 : GT_R);
                    const uint8_t *p[8];
                    for (int j = 0; j < 8; j++) /* missing rows repeat the first */
                        p[j] = (const uint8_t *)w + (size_t)(r0 + (j < rr ? j : 0)) * ws;
                    const __mmask8 lanes = (__mmask8)((1u << rr) - 1);
                    __m256 acc[K6_T];
                    for (int t = 0; t < K6_T; t++)
                        acc[t] = _mm256_setzero_ps();
                    switch (tn) {
                    case 1: kg_tile_q6_K(1, p, y, nb, acc); break;
                    case 2: kg_tile_q6_K(2, p, y, nb, acc); break;
                    case 3: kg_tile_q6_K(3, p, y, nb, acc); break;
                    default: kg_tile_q6_K(4, p, y, nb, acc); break;
                    }
                    for (int t = 0; t < tn; t++)
                        _mm256_mask_storeu_ps(out + (t0 + t) * os + r0, lanes, acc[t]);
                }
            }
        }
    }
}

static float kg_dot_q6_K(int64_t n, const void *w, const void *a) {
    float out = 0.0f;
    kg_mm_q6_K(n, w, 0, 1, a, 0, 1, &out, 1);
    return out;
}

static inline void kg_fill(lfm_kernels *k) {
    k->dot[LFM_TYPE_Q4_K] = kg_dot_q4_K;
    k->mm[LFM_TYPE_Q4_K] = kg_mm_q4_K;
    k->dot[LFM_TYPE_Q6_K] = kg_dot_q6_K;
    k->mm[LFM_TYPE_Q6_K] = kg_mm_q6_K;
}
