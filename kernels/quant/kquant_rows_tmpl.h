/* The k-quant dot and row-by-row tile loops, the same on every ISA:
 * included at the end of x86_kquant_tmpl.h and arm_kernels_tmpl.h, which
 * supply the per-type decoders (kq2 .. kq6 with their *_decode and *_apply:
 * one super-block's codes in registers, and its float term against one
 * Q8_K activation block) and KQ_ROWS_T, the activation rows one decoded
 * super-block serves.
 *
 * Dot: the scalar's sum of super-block terms, in order.  Tile: the same
 * for every output, each weight super-block decoded once for up to
 * KQ_ROWS_T activation rows.  So dot, tile and quant_k.c agree bit for
 * bit. */
#ifndef KQ_ROWS_T
#error "define KQ_ROWS_T before including kquant_rows_tmpl.h"
#endif

#define KQ_DECODE_Q4_K(k, x) kq4_decode(k, (x)->d, (x)->dmin, (x)->scales, (x)->qs, NULL)
#define KQ_DECODE_Q5_K(k, x) kq4_decode(k, (x)->d, (x)->dmin, (x)->scales, (x)->qs, (x)->qh)
#define KQ_DECODE_Q6_K(k, x) kq6_decode(k, x)
#define KQ_DECODE_Q2_K(k, x) kq2_decode(k, x)
#define KQ_DECODE_Q3_K(k, x) kq3_decode(k, x)

#define KQ_KERNELS(sfx, btype, ktype, decode, apply)                                               \
    static float dot_##sfx(int64_t n, const void *w, const void *a) {                              \
        const btype *x = w;                                                                        \
        const block_q8_K *y = a;                                                                   \
        float sum = 0.0f;                                                                          \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                   \
            ktype k;                                                                               \
            decode(&k, &x[i]);                                                                     \
            sum += apply(&k, &y[i]);                                                               \
        }                                                                                          \
        return sum;                                                                                \
    }                                                                                              \
    static void mm_##sfx(int64_t n, const void *w, size_t ws, int64_t nr, const void *a,           \
                         size_t as, int64_t nt, float *out, int64_t os) {                          \
        const int64_t nb = n / QK_K;                                                               \
        for (int64_t t = 0; t < nt; t += KQ_ROWS_T) {                                              \
            const int tn = (int)(nt - t < KQ_ROWS_T ? nt - t : KQ_ROWS_T);                         \
            const block_q8_K *y[KQ_ROWS_T] = {NULL};                                               \
            for (int j = 0; j < tn; j++)                                                           \
                y[j] = (const block_q8_K *)((const uint8_t *)a + (size_t)(t + j) * as);            \
            for (int64_t r = 0; r < nr; r++) {                                                     \
                const btype *x = (const btype *)((const uint8_t *)w + (size_t)r * ws);             \
                float sum[KQ_ROWS_T] = {0};                                                        \
                for (int64_t i = 0; i < nb; i++) {                                                 \
                    ktype k;                                                                       \
                    decode(&k, &x[i]);                                                             \
                    for (int j = 0; j < tn; j++)                                                   \
                        sum[j] += apply(&k, &y[j][i]);                                             \
                }                                                                                  \
                for (int j = 0; j < tn; j++)                                                       \
                    out[(t + j) * os + r] = sum[j];                                                \
            }                                                                                      \
        }                                                                                          \
    }

KQ_KERNELS(q4_K, block_q4_K, kq4, KQ_DECODE_Q4_K, kq4_apply)
KQ_KERNELS(q5_K, block_q5_K, kq4, KQ_DECODE_Q5_K, kq4_apply)
KQ_KERNELS(q6_K, block_q6_K, kq6, KQ_DECODE_Q6_K, kq6_apply)
KQ_KERNELS(q2_K, block_q2_K, kq2, KQ_DECODE_Q2_K, kq2_apply)
KQ_KERNELS(q3_K, block_q3_K, kq3, KQ_DECODE_Q3_K, kq3_apply)
