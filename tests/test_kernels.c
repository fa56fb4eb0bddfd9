/* Each scalar kernel against a naive double-precision computation written
 * straight from the formula.  Tolerances are relative to the size of the
 * quantities involved (float rounding of sums of a few hundred terms). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attention.h"
#include "elementwise.h"
#include "lfm_types.h"
#include "matmul.h"
#include "quant.h"
#include "rope.h"
#include "router.h"
#include "shortconv.h"

static uint32_t rng = 1;
static float frand(void) { /* uniform [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 8388608.0 - 1.0);
}
static void fill(float *x, size_t n, float amp) {
    for (size_t i = 0; i < n; i++)
        x[i] = amp * frand();
}
#define assert_close(a, b, tol)                                                                    \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            fail_msg("%s = %.9g vs %s = %.9g (tol %.3g)", #a, a_, #b, b_, (double)(tol));          \
    } while (0)

static void test_fp16_bf16(void **state) {
    (void)state;
    /* every finite half survives half -> float -> half exactly */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t v = (uint16_t)h;
        if ((v & 0x7c00u) == 0x7c00u && (v & 0x3ffu))
            continue; /* nan payloads need not round-trip */
        assert_int_equal(lfm_f32_to_fp16(lfm_fp16_to_f32(v)), v);
    }
    assert_true(lfm_fp16_to_f32(0x3c00) == 1.0f);
    assert_true(lfm_fp16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(lfm_fp16_to_f32(0xfbff) == -65504.0f);
    assert_int_equal(lfm_f32_to_fp16(65520.0f), 0x7c00);                 /* overflows to inf */
    assert_int_equal(lfm_f32_to_fp16(1.0f + ldexpf(1.0f, -11)), 0x3c00); /* tie to even */
    assert_int_equal(lfm_f32_to_fp16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(lfm_f32_to_fp16(ldexpf(1.0f, -25)), 0x0000); /* tie to even: 0 */
    assert_int_equal(lfm_f32_to_fp16(ldexpf(1.5f, -25)), 0x0001);
    for (uint32_t b = 0; b < 65536; b++) {
        uint16_t v = (uint16_t)b;
        if ((v & 0x7f80u) == 0x7f80u && (v & 0x7fu)) continue;
        assert_int_equal(lfm_f32_to_bf16(lfm_bf16_to_f32(v)), v);
    }
    assert_int_equal(lfm_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80); /* tie to even */
}

static void test_rmsnorm_silu_axpy(void **state) {
    (void)state;
    enum { N = 257 };
    float x[N], w[N], y[N], g[N], u[N], o[N];
    fill(x, N, 3.0f);
    fill(w, N, 1.0f);
    double ss = 0;
    for (int i = 0; i < N; i++)
        ss += (double)x[i] * x[i];
    double scale = 1.0 / sqrt(ss / N + 1e-5);
    lfm_rmsnorm(y, x, w, N, 1e-5f);
    for (int i = 0; i < N; i++)
        assert_close(y[i], x[i] * scale * w[i], 1e-5);
    lfm_rmsnorm(x, x, w, N, 1e-5f); /* in place */
    assert_memory_equal(x, y, sizeof y);

    fill(g, N, 8.0f);
    fill(u, N, 2.0f);
    lfm_silu_mul(o, g, u, N);
    for (int i = 0; i < N; i++)
        assert_close(o[i], g[i] / (1.0 + exp(-(double)g[i])) * u[i], 1e-5);
    memcpy(o, u, sizeof o);
    lfm_axpy(o, 0.5f, g, N);
    for (int i = 0; i < N; i++)
        assert_close(o[i], u[i] + 0.5 * g[i], 1e-6);
}

static void test_rope_neox(void **state) {
    (void)state;
    enum { H = 3, D = 64 };
    float x[H * D], ref[H * D];
    for (int64_t pos = 0; pos < 5000; pos += 777) {
        fill(x, H * D, 1.0f);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < D / 2; i++) {
                /* dimension i pairs with i + D/2 */
                double th = (double)pos * pow(1e6, -2.0 * i / D);
                double a = x[h * D + i], b = x[h * D + i + D / 2];
                ref[h * D + i] = (float)(a * cos(th) - b * sin(th));
                ref[h * D + i + D / 2] = (float)(a * sin(th) + b * cos(th));
            }
        lfm_rope_neox(x, H, D, pos, 1e6f);
        /* the angle is accumulated in float, as the reference engine does:
         * its relative error grows with the position */
        for (int i = 0; i < H * D; i++)
            assert_close(x[i], ref[i], 2e-6 * (double)(pos + 1) + 1e-5);
    }
}

/* Convolution over a whole sequence computed directly, compared with the
 * kernel fed in chunks that carry the state. */
static void test_shortconv(void **state) {
    (void)state;
    enum { T = 11, C = 5, L = 3 };
    float bcx[T * 3 * C], w[C * L], y[T * C], st[(L - 1) * C];
    fill(bcx, T * 3 * C, 1.0f);
    fill(w, C * L, 1.0f);
    memset(st, 0, sizeof st);
    int chunks[] = {1, 4, 2, 4}; /* 11 tokens */
    int t0 = 0;
    for (int c = 0; c < 4; c++) {
        lfm_shortconv(y + t0 * C, bcx + t0 * 3 * C, st, w, chunks[c], C, L);
        t0 += chunks[c];
    }
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int k = 0; k < L; k++) {
                int s = t - (L - 1) + k; /* k = L-1 is the current token */
                if (s < 0) continue;
                const float *r = bcx + s * 3 * C;
                acc += (double)w[c * L + k] * r[c] * r[2 * C + c];
            }
            assert_close(y[t * C + c], bcx[t * 3 * C + C + c] * acc, 1e-5);
        }
}

static void test_attention(void **state) {
    (void)state;
    enum { H = 4, HKV = 2, D = 16, P = 9, PA = 16 /* P rounded up to LFM_ATTN_KBLK */ };
    float q[P * H * D], k[P * HKV * D], v[P * HKV * D], out[P * H * D];
    float kc[HKV * PA * D] = {0}, vc[HKV * PA * D] = {0}, scratch[LFM_ATTN_ROWS * (PA + D)];
    fill(q, P * H * D, 2.0f);
    fill(k, P * HKV * D, 2.0f);
    fill(v, P * HKV * D, 1.0f);
    for (int g = 0; g < HKV; g++) /* the cache layout of attention.h */
        for (int p = 0; p < P; p++)
            for (int i = 0; i < D; i++) {
                kc[g * PA * D + lfm_attn_kidx(p, i, D)] = k[(p * HKV + g) * D + i];
                vc[(g * PA + p) * D + i] = v[(p * HKV + g) * D + i];
            }
    const float scale = 0.25f;
    /* tiles of n tokens from pos0, every kv head: rows t of q at position pos0+t */
    for (int pos0 = 0; pos0 < P; pos0++)
        for (int n = 1; pos0 + n <= P; n++) {
            for (int g = 0; g < HKV; g++) {
                lfm_attn_tile a = {.out = out + g * (H / HKV) * D,
                                   .q = q + g * (H / HKV) * D,
                                   .out_stride = H * D,
                                   .q_stride = H * D,
                                   .k = kc + g * PA * D,
                                   .v = vc + g * PA * D,
                                   .pos0 = pos0,
                                   .n = n,
                                   .G = H / HKV,
                                   .D = D,
                                   .scale = scale,
                                   .scratch = scratch};
                lfm_attention_tile(&a);
            }
            for (int t = 0; t < n; t++)
                for (int h = 0; h < H; h++) {
                    int g = h / (H / HKV); /* GQA: heads 0,1 -> kv 0; 2,3 -> kv 1 */
                    int pos = pos0 + t;
                    double sc[P], mx = -1e300, sum = 0;
                    for (int p = 0; p <= pos; p++) {
                        sc[p] = 0;
                        for (int i = 0; i < D; i++)
                            sc[p] += (double)q[(t * H + h) * D + i] * k[(p * HKV + g) * D + i];
                        sc[p] *= scale;
                        mx = sc[p] > mx ? sc[p] : mx;
                    }
                    for (int p = 0; p <= pos; p++)
                        sum += exp(sc[p] - mx);
                    for (int i = 0; i < D; i++) {
                        double o = 0;
                        for (int p = 0; p <= pos; p++)
                            o += exp(sc[p] - mx) / sum * v[(p * HKV + g) * D + i];
                        assert_close(out[(t * H + h) * D + i], o, 1e-5);
                    }
                }
        }
}

static void test_router(void **state) {
    (void)state;
    enum { X = 32, K = 4 };
    float logits[X], bias[X], w[K];
    int32_t ids[K];
    for (int iter = 0; iter < 200; iter++) {
        fill(logits, X, 4.0f);
        fill(bias, X, iter % 2 ? 0.5f : 0.0f);
        lfm_moe_route(logits, bias, X, K, ids, w);
        /* chosen by sigmoid + bias: no unchosen expert beats a chosen one */
        double sig[X], sel[X], wsum = 0;
        for (int e = 0; e < X; e++) {
            sig[e] = 1.0 / (1.0 + exp(-(double)logits[e]));
            sel[e] = sig[e] + bias[e];
        }
        for (int j = 0; j < K; j++) {
            if (j) assert_true(sel[ids[j]] <= sel[ids[j - 1]]);
            for (int e = 0; e < X; e++) {
                int chosen = 0;
                for (int i = 0; i < K; i++)
                    chosen |= ids[i] == e;
                if (!chosen) assert_true(sel[e] <= sel[ids[j]] + 1e-7);
            }
            wsum += sig[ids[j]];
        }
        /* weighted by the plain sigmoid, normalised */
        double total = 0;
        for (int j = 0; j < K; j++) {
            assert_close(w[j], sig[ids[j]] / wsum, 1e-6);
            total += w[j];
        }
        assert_close(total, 1.0, 1e-6);
    }
}

/* matmul of F32/F16/BF16 weights against a double reference on the values
 * the kernel actually sees (weights and activations rounded to the type). */
static void test_matmul_float_types(void **state) {
    (void)state;
    enum { ROWS = 13, COLS = 96, N = 3 };
    float wf[ROWS * COLS], x[N * COLS], y[N * ROWS];
    uint16_t wh[ROWS * COLS];
    fill(wf, ROWS * COLS, 1.0f);
    fill(x, N * COLS, 1.0f);
    uint32_t types[] = {LFM_TYPE_F32, LFM_TYPE_F16, LFM_TYPE_BF16};
    for (int ti = 0; ti < 3; ti++) {
        uint32_t type = types[ti];
        const void *data = wf;
        if (type != LFM_TYPE_F32) {
            for (int i = 0; i < ROWS * COLS; i++)
                wh[i] = type == LFM_TYPE_F16 ? lfm_f32_to_fp16(wf[i]) : lfm_f32_to_bf16(wf[i]);
            data = wh;
        }
        lfm_weight w = {data,           "w", type, COLS, ROWS, 1, lfm_row_bytes(type, COLS), 0,
                        LFM_LAYOUT_ROWS};
        w.mat_bytes = w.row_bytes * ROWS;
        uint8_t xq[N * COLS * 4];
        lfm_encode_acts(type, x, COLS, N, COLS, xq);
        memset(y, 0, sizeof y);
        lfm_matmul_rows(&w, 0, xq, N, y, ROWS, 2, ROWS); /* rows 0,1 untouched */
        float wrow[COLS], xrow[COLS];
        for (int t = 0; t < N; t++) {
            lfm_dequantize_row(lfm_quant_act_type(type), xq + t * lfm_act_row_bytes(type, COLS),
                               xrow, COLS);
            for (int r = 0; r < ROWS; r++) {
                if (r < 2) {
                    assert_true(y[t * ROWS + r] == 0.0f);
                    continue;
                }
                lfm_dequantize_row(type, (const uint8_t *)data + r * w.row_bytes, wrow, COLS);
                double ref = 0, mag = 0;
                for (int c = 0; c < COLS; c++) {
                    ref += (double)wrow[c] * xrow[c];
                    mag += fabs((double)wrow[c] * xrow[c]);
                }
                /* float summation of COLS products: error <= COLS * eps * sum|terms| */
                assert_close(y[t * ROWS + r], ref, COLS * 6e-8 * mag);
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_bf16),          cmocka_unit_test(test_rmsnorm_silu_axpy),
        cmocka_unit_test(test_rope_neox),          cmocka_unit_test(test_shortconv),
        cmocka_unit_test(test_attention),          cmocka_unit_test(test_router),
        cmocka_unit_test(test_matmul_float_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
