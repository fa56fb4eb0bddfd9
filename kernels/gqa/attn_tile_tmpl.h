/* The SIMD attention tile (attention.h), written once over lfm_vec.h: the
 * includer (x86_attn_avx2.c, x86_attn_avx512.c, arm_attn_neon.c) defines
 * its LFM_VEC_* and is compiled for that target.
 *
 * Numerics against the scalar reference: scores are the same products
 * summed in the same order, fused (FMA); exp is v_expf_neg (a few ulp); the
 * softmax sum is in float (VN partial sums, then a tree) instead of double
 * and the weights are applied before the 1/sum scaling.  F16 and Q8_0
 * caches: elements converted exactly to float (Q8_0: times their scale,
 * the same product the reference takes), then as F32.  The bound is
 * stated and checked in tests/test_simd.c (test_attention). */
#ifndef LFM_ATTN_TILE_H
#define LFM_ATTN_TILE_H

#include <math.h>

#include "attention.h"
#include "lfm_vec.h"

#define ATTN_INLINE static inline __attribute__((always_inline))

/* Score vectors per row per step: a key block (KBLK positions) at least,
 * and at least 2, so a step has 8 (AVX2, AVX-512: 2 blocks) or 16 (NEON)
 * independent accumulators. */
#define ATTN_SV (LFM_ATTN_KBLK / VN < 2 ? 2 : LFM_ATTN_KBLK / VN)
/* Value vectors per row per p.v step: 4 rows x PVV accumulators + PVV
 * value loads + a broadcast fit the register file (AVX2 2 -> 16 columns,
 * AVX-512 4 -> 64, NEON 4 -> 16). */
#define ATTN_PVV (VREGS / 8)
/* Values are summed over chunks of this many positions per column chunk,
 * so the rows of V a chunk reads (VCHUNK * D floats) stay in L1 while all
 * column chunks pass over them. */
#define ATTN_VCHUNK 64

/* VN consecutive key elements (dimension i, positions off .. off+VN-1 of
 * the key block at kb) as floats; Q8_0 codes times the group's scales dq. */
ATTN_INLINE vf attn_key_vec(const uint8_t *kb, int32_t D, int32_t i, int off, vf dq,
                            const int kvt) {
    const int64_t at = (int64_t)i * LFM_ATTN_KBLK + off;
    if (kvt == LFM_KV_F16) return vld_h((const uint16_t *)kb + at);
    if (kvt == LFM_KV_Q8_0)
        return vmul(vld_i8(kb + D / LFM_KV_Q8_GROUP * LFM_ATTN_KBLK * 2 + at), dq);
    return vld((const float *)kb + at);
}

/* S[r][p0 + c VN + l] = scale * q[r] . key(p0 + c VN + l), r < 4, c < nv,
 * for the nv * VN positions from p0 = the key block kb starts (kb: the
 * block, the next ones follow every bs bytes).  A key row of the step is
 * nv loads reused by the 4 broadcast queries; a Q8_0 cache multiplies the
 * codes by their scales once per load, for the 4 rows.  nv and kvt are
 * constants at each call (the loops unroll into registers). */
ATTN_INLINE void attn_scores_step(float *s, int64_t s_stride, const float *q[4], const uint8_t *kb,
                                  int64_t bs, int32_t D, vf sc, const int nv, const int kvt) {
    vf acc[4][ATTN_SV];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nv; c++)
            acc[r][c] = vzero();
    const int32_t group = kvt == LFM_KV_Q8_0 ? LFM_KV_Q8_GROUP : D;
    for (int32_t i0 = 0; i0 < D; i0 += group) {
        vf dq[ATTN_SV];
        for (int c = 0; c < nv; c++)
            dq[c] = kvt == LFM_KV_Q8_0
                        ? vld_h((const uint16_t *)(kb + c * VN / LFM_ATTN_KBLK * bs) +
                                i0 / LFM_KV_Q8_GROUP * LFM_ATTN_KBLK + c * VN % LFM_ATTN_KBLK)
                        : vzero();
        for (int32_t i = i0; i < i0 + group; i++) {
            vf k[ATTN_SV];
            for (int c = 0; c < nv; c++)
                k[c] = attn_key_vec(kb + c * VN / LFM_ATTN_KBLK * bs, D, i, c * VN % LFM_ATTN_KBLK,
                                    dq[c], kvt);
            for (int r = 0; r < 4; r++) {
                const vf x = vdup(q[r][i]);
                for (int c = 0; c < nv; c++)
                    acc[r][c] = vfma(x, k[c], acc[r][c]);
            }
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nv; c++)
            vst(s + r * s_stride + c * VN, vmul(acc[r][c], sc));
}

/* S[r][p] = scale * q[r] . key(b0 KBLK + p), r < 4, p < nblk * KBLK: the
 * key blocks from position block b0, which lives in slot block b0 % rb of
 * a cache of rb blocks (a ring wraps; a full cache never reaches rb).  A
 * step of several blocks needs them adjacent in the cache. */
ATTN_INLINE void attn_scores(float *S, int64_t s_stride, const float *q[4], const void *k,
                             int64_t b0, int64_t nblk, int64_t rb, int32_t D, float scale,
                             const int kvt) {
    const vf sc = vdup(scale);
    const int64_t bs = lfm_kv_kblock_bytes(kvt, D);    /* bytes per key block */
    const int64_t step = ATTN_SV * VN / LFM_ATTN_KBLK; /* key blocks per step */
    const uint8_t *kb = k;
    for (int64_t b = 0; b < nblk;) {
        const int64_t slot = (b0 + b) % rb;
        if (b + step <= nblk && slot + step <= rb) {
            attn_scores_step(S + b * LFM_ATTN_KBLK, s_stride, q, kb + slot * bs, bs, D, sc, ATTN_SV,
                             kvt);
            b += step;
        } else { /* one block at a time (AVX-512's odd last block, the ring's edge) */
            attn_scores_step(S + b * LFM_ATTN_KBLK, s_stride, q, kb + slot * bs, bs, D, sc,
                             LFM_ATTN_KBLK / VN, kvt);
            b++;
        }
    }
}

/* x in the lanes l with lo <= p + l < hi (lo, hi relative to the vector's
 * first position p), fill elsewhere. */
ATTN_INLINE vf attn_keep(vf x, int64_t lo, int64_t hi, vf fill) {
    hi = hi < 0 ? 0 : hi > VN ? VN : hi;
    lo = lo < 0 ? 0 : lo > VN ? VN : lo;
    x = vsel(vlanes_below(hi), x, fill);
    return vsel(vlanes_below(lo), fill, x);
}

/* s[start..len) <- exp(s - max s[start..len)); the rest of s[0..npos) <- 0
 * (positions the row does not see).  Returns the sum of the weights.  s
 * holds at least len rounded up to VN floats (the padded row: scores
 * outside [start, len) are finite and ignored). */
static float attn_softmax_row(float *s, int64_t start, int64_t len, int64_t npos) {
    const int64_t a0 = start / VN * VN;
    vf m = vdup(-INFINITY);
    for (int64_t p = a0; p < len; p += VN) {
        vf x = vld(s + p);
        if (p < start || p + VN > len) x = attn_keep(x, start - p, len - p, vdup(-INFINITY));
        m = vmax(m, x);
    }
    const vf mx = vdup(vhmax(m));
    vf sum = vzero();
    int64_t p = a0;
    for (; p < len; p += VN) {
        vf e = v_expf_neg(vsub(vld(s + p), mx));
        if (p < start || p + VN > len) e = attn_keep(e, start - p, len - p, vzero());
        vst(s + p, e);
        sum = vadd(sum, e);
    }
    for (int64_t i = 0; i < a0; i++)
        s[i] = 0.0f;
    for (; p < npos; p++)
        s[p] = 0.0f;
    return vhsum(sum);
}

/* VN values of position p's row (at row), columns d .. d+VN-1, as
 * floats; Q8_0 codes times their block's scale (d within one block). */
ATTN_INLINE vf attn_value_vec(const uint8_t *row, int32_t d, const int kvt) {
    if (kvt == LFM_KV_F16) return vld_h((const uint16_t *)row + d);
    if (kvt == LFM_KV_Q8_0) {
        const uint8_t *blk = row + d / LFM_KV_Q8_GROUP * (2 + LFM_KV_Q8_GROUP);
        return vmul(vld_i8(blk + 2 + d % LFM_KV_Q8_GROUP), vdup(vh1(blk)));
    }
    return vld((const float *)row + d);
}

/* O[r][d .. d + nv VN) (+)= sum_{p in [p0,p1)} P[r][p] v[p][d .. d + nv VN),
 * r < 4 (O: [4][D], P: rows ps apart; value rows rb bytes apart): nv value
 * loads reused by 4 broadcast weights.  nv and kvt are constants at each
 * call. */
ATTN_INLINE void attn_pv_cols(float *O, int32_t D, const float *P, int64_t ps, const uint8_t *v,
                              int64_t rb, int64_t p0, int64_t p1, int32_t d, int first,
                              const int nv, const int kvt) {
    vf acc[4][ATTN_PVV];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nv; c++)
            acc[r][c] = first ? vzero() : vld(O + r * D + d + c * VN);
    for (int64_t p = p0; p < p1; p++) {
        vf x[ATTN_PVV];
        for (int c = 0; c < nv; c++)
            x[c] = attn_value_vec(v + p * rb, d + c * VN, kvt);
        for (int r = 0; r < 4; r++) {
            const vf w = vdup(P[r * ps + p]);
            for (int c = 0; c < nv; c++)
                acc[r][c] = vfma(w, x[c], acc[r][c]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nv; c++)
            vst(O + r * D + d + c * VN, acc[r][c]);
}

/* O[r][0..D) = sum_{p < npos} P[r][p] value(base + p), r < 4, in chunks of
 * at most ATTN_VCHUNK positions that are adjacent in the cache (a ring's
 * wrap starts a new chunk; the sum keeps the position order); the last
 * D % VN columns (odd head sizes, never Q8_0) scalar, fused like the vector
 * lanes. */
ATTN_INLINE void attn_pv(float *O, const float *P, int64_t ps, const void *vc, int64_t base,
                         int64_t npos, int64_t ring, int32_t D, const int kvt) {
    const int64_t rb = lfm_kv_vrow_bytes(kvt, D);
    for (int64_t p0 = 0; p0 < npos;) {
        const int64_t slot = lfm_attn_slot(base + p0, ring);
        int64_t p1 = npos - p0 < ATTN_VCHUNK ? npos : p0 + ATTN_VCHUNK;
        if (ring && p1 - p0 > ring - slot) p1 = p0 + (ring - slot);
        /* the chunk's weights and value rows */
        const float *Pc = P + p0;
        const uint8_t *v = (const uint8_t *)vc + slot * rb;
        const int64_t len = p1 - p0;
        int32_t d = 0;
        for (; d + ATTN_PVV * VN <= D; d += ATTN_PVV * VN)
            attn_pv_cols(O, D, Pc, ps, v, rb, 0, len, d, p0 == 0, ATTN_PVV, kvt);
        for (; d + VN <= D; d += VN)
            attn_pv_cols(O, D, Pc, ps, v, rb, 0, len, d, p0 == 0, 1, kvt);
        for (; d < D; d++)
            for (int r = 0; r < 4; r++) {
                float o = p0 == 0 ? 0.0f : O[r * D + d];
                for (int64_t p = 0; p < len; p++)
                    o = fmaf(Pc[r * ps + p], lfm_kv_value(kvt, vc, slot + p, d, D), o);
                O[r * D + d] = o;
            }
        p0 = p1;
    }
}

/* The tile in blocks of 4 (token, head) rows, token-major: with G = 4 a
 * block is one token's heads, all at the same position.  A block computes
 * its scores for every key block from the one holding its first row's
 * first visible position to its last row's position, the softmax per row
 * (weights zeroed outside the row's positions), and the weighted sum of
 * values.  A short last block repeats its last row (results dropped). */
ATTN_INLINE void attn_tile(const lfm_attn_tile *a, const int kvt) {
    const int32_t G = a->G, D = a->D;
    const int64_t rows = (int64_t)a->n * G;
    const int64_t kpad = lfm_attn_score_span(a->pos0 + a->n, a->window);
    /* key blocks of the cache: a ring wraps after ring / KBLK; a full cache
     * is never indexed that far */
    const int64_t rb = a->ring ? a->ring / LFM_ATTN_KBLK : INT64_MAX;
    float *S = a->scratch;            /* [4][kpad] scores, weights */
    float *O = a->scratch + 4 * kpad; /* [4][D] unscaled outputs */
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
        const int64_t nr = rows - r0 < 4 ? rows - r0 : 4;
        const float *q[4];
        int64_t lo[4], hi[4], out_off[4];
        for (int r = 0; r < 4; r++) {
            const int64_t rr = r0 + (r < nr ? r : nr - 1);
            const int64_t t = rr / G, j = rr % G, pos = a->pos0 + t;
            q[r] = a->q + t * a->q_stride + j * D;
            out_off[r] = t * a->out_stride + j * D;
            hi[r] = pos + 1;
            lo[r] = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        }
        /* rows are token-major: row 0 sees the earliest, row 3 the latest */
        const int64_t base = lo[0] / LFM_ATTN_KBLK * LFM_ATTN_KBLK;
        const int64_t npos = hi[3] - base;
        const int64_t nblk = (npos + LFM_ATTN_KBLK - 1) / LFM_ATTN_KBLK;
        attn_scores(S, kpad, q, a->k, base / LFM_ATTN_KBLK, nblk, rb, D, a->scale, kvt);
        float inv[4];
        for (int r = 0; r < 4; r++)
            inv[r] = 1.0f / attn_softmax_row(S + r * kpad, lo[r] - base, hi[r] - base, npos);
        attn_pv(O, S, kpad, a->v, base, npos, a->ring, D, kvt);
        for (int64_t r = 0; r < nr; r++) {
            float *out = a->out + out_off[r];
            for (int32_t i = 0; i < D; i++)
                out[i] = O[r * D + i] * inv[r];
        }
    }
}

/* The three cache types' tiles of one target, for its fill function. */
#define ATTN_TILES(suffix)                                                                         \
    static void tile_f32_##suffix(const lfm_attn_tile *a) {                                        \
        attn_tile(a, LFM_KV_F32);                                                                  \
    }                                                                                              \
    static void tile_f16_##suffix(const lfm_attn_tile *a) {                                        \
        attn_tile(a, LFM_KV_F16);                                                                  \
    }                                                                                              \
    static void tile_q8_0_##suffix(const lfm_attn_tile *a) {                                       \
        attn_tile(a, LFM_KV_Q8_0);                                                                 \
    }                                                                                              \
    void lfm_attention_tiles_##suffix(lfm_attn_fn fns[LFM_KV_COUNT]) {                             \
        fns[LFM_KV_F32] = tile_f32_##suffix;                                                       \
        fns[LFM_KV_F16] = tile_f16_##suffix;                                                       \
        fns[LFM_KV_Q8_0] = tile_q8_0_##suffix;                                                     \
    }

#endif
