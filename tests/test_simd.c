/* SIMD kernel tables (kernels/dispatch) against the scalar references, at
 * every ISA level this CPU runs, plus the public lfm2moe_isa_* API and the
 * LFM2MOE_MAX_ISA variable.
 *
 * What must hold (dispatch.h), and the bounds used:
 *   act[]  byte-identical to the scalar encoder (random data, exact .5 ties,
 *          both signs of the extreme, zero blocks, half overflow/underflow,
 *          NaN for BF16; F16 NaN payloads are excluded by design).
 *   dot[]  the integer block sums are exact; only the float sum over the
 *          nb block terms t_b (float types: the n products) is reordered.
 *          Each t_b is formed with <= 3 roundings and any summation order
 *          of m terms errs by <= (m-1) u sum|t_b| (u = 2^-24), so two
 *          orders differ by <= 2 (m + 3) u sum|t_b|.  sum|t_b| <= S :=
 *          sum_j |w_j a_j| + 2 max|w| sum_j |a_j| (the second part covers
 *          the offset / min terms, each <= max|w| |a_j| per element), with
 *          w, a the decoded operands.
 *          k-quants: the SIMD kernels keep the scalar's float formula per
 *          super-block, so they must match bit for bit.
 *   mm[]   equal, bit for bit, to the same level's dot for every pair.
 *   mm_r16[] (Q4_0/Q8_0/Q4_K/Q5_K/Q6_K in the R16 layout, r16.h) likewise (levels without
 *          their own R16 kernel run the scalar reference: equal to the
 *          scalar dot), through lfm_matmul_rows for aligned and unaligned
 *          row ranges; packing round-trips byte for byte.
 *   element-wise ops (kernels/elementwise/simd_*.h):
 *          axpy, rope_neox, shortconv bit-identical to the references;
 *          rmsnorm within 1 ulp (|d| <= 2^-23 |ref|; only the order of the
 *          double sum of squares differs), in place equal to out of place;
 *          silu_mul |d| <= 4 * 2^-23 |ref| + 2^-126 (v_expf is a few ulp;
 *          the absolute part covers results that fall in the subnormals). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "dispatch.h"
#include "elementwise.h"
#include "lfm2moe.h"
#include "matmul.h"
#include "quant.h"
#include "quant_blocks.h"
#include "r16.h"
#include "rope.h"
#include "shortconv.h"

static uint64_t rng_state = 12345;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_sym(void) { /* [-1, 1) */
    return (float)((double)(rng_next() >> 11) / 4503599627370496.0 - 1.0);
}

/* Random rows with a scale varying per 32 elements, some all-zero blocks
 * and an offset per 256 (exercises mins). */
static void fill(float *x, int64_t n) {
    float scale = 1, offset = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0)
            scale = (rng_next() % 16 == 0) ? 0.0f : (float)exp2((double)(rng_next() % 12) - 6);
        if (i % 256 == 0) offset = rng_sym() * 0.5f;
        x[i] = scale * (rng_sym() + (rng_next() % 4 == 0 ? offset : 0));
    }
}

static const uint32_t wtypes[] = {
    LFM_TYPE_F32,  LFM_TYPE_F16,  LFM_TYPE_BF16, LFM_TYPE_Q4_0, LFM_TYPE_Q4_1,
    LFM_TYPE_Q5_0, LFM_TYPE_Q5_1, LFM_TYPE_Q8_0, LFM_TYPE_Q2_K, LFM_TYPE_Q3_K,
    LFM_TYPE_Q4_K, LFM_TYPE_Q5_K, LFM_TYPE_Q6_K,
};
#define N_WTYPES (sizeof wtypes / sizeof wtypes[0])

static int is_kquant(uint32_t t) {
    return t >= LFM_TYPE_Q2_K && t <= LFM_TYPE_Q6_K;
}

static int block_of(uint32_t t) {
    return lfm_type_layout_get(t)->block_size;
}

/* Levels other than SCALAR that this CPU and build can run. */
static int levels(int out[16]) {
    int n = 0;
    for (int i = 1; i < 16; i++)
        if (lfm_kernels_at(i)) out[n++] = i;
    return n;
}

/* ---- public API -------------------------------------------------------- */

/* main() set LFM2MOE_MAX_ISA=avx2 (or neon) before anything ran. */
static void test_env_cap(void **state) {
    (void)state;
    int det = -1, act = -1;
    assert_int_equal(lfm2moe_isa_detected(&det), LFM2MOE_OK);
    assert_int_equal(lfm2moe_isa_active(&act), LFM2MOE_OK);
    const char *env = getenv("LFM2MOE_MAX_ISA");
    assert_non_null(env);
    int cap = lfm_isa_parse(env);
    assert_true(cap >= 0);
    int want = det < cap ? det : cap; /* both on this machine's ladder */
    print_message("detected %s, LFM2MOE_MAX_ISA=%s -> active %s\n", lfm2moe_isa_name(det), env,
                  lfm2moe_isa_name(act));
    assert_int_equal(act, want);
}

static void test_isa_api(void **state) {
    (void)state;
    int det = -1, act = -1;
    assert_int_equal(lfm2moe_isa_detected(&det), LFM2MOE_OK);
    assert_int_equal(lfm2moe_isa_detected(NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_isa_active(NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_string_equal(lfm2moe_isa_name(LFM2MOE_ISA_SCALAR), "scalar");
    assert_string_equal(lfm2moe_isa_name(LFM2MOE_ISA_AVX512_VNNI), "avx512_vnni");
    assert_string_equal(lfm2moe_isa_name(LFM2MOE_ISA_NEON_DOTPROD), "neon_dotprod");
    assert_string_equal(lfm2moe_isa_name(7), "unknown");
    assert_int_equal(lfm2moe_isa_set_max(7), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_isa_set_max(-1), LFM2MOE_ERR_INVALID_ARGUMENT);

    assert_int_equal(lfm2moe_isa_set_max(LFM2MOE_ISA_SCALAR), LFM2MOE_OK);
    assert_int_equal(lfm2moe_isa_active(&act), LFM2MOE_OK);
    assert_int_equal(act, LFM2MOE_ISA_SCALAR);
    /* more than the CPU has (also the other architecture's ladder): the best */
    assert_int_equal(lfm2moe_isa_set_max(LFM2MOE_ISA_NEON_I8MM), LFM2MOE_OK);
    assert_int_equal(lfm2moe_isa_active(&act), LFM2MOE_OK);
    assert_int_equal(act, det);
    assert_int_equal(lfm2moe_isa_set_max(LFM2MOE_ISA_AVX512_VNNI), LFM2MOE_OK);
    assert_int_equal(lfm2moe_isa_active(&act), LFM2MOE_OK);
    assert_int_equal(act, det);
    /* every available level can be selected exactly */
    int lv[16], nl = levels(lv);
    for (int i = 0; i < nl; i++) {
        assert_int_equal(lfm2moe_isa_set_max(lv[i]), LFM2MOE_OK);
        assert_int_equal(lfm2moe_isa_active(&act), LFM2MOE_OK);
        assert_int_equal(act, lv[i]);
        assert_int_equal(lfm_kernels_active()->isa, lv[i]);
        print_message("level %s available\n", lfm2moe_isa_name(lv[i]));
    }
    lfm2moe_isa_set_max(det);
}

/* ---- activation encodings ---------------------------------------------- */

static void check_act(const lfm_kernels *ref, const lfm_kernels *k, uint32_t at, const float *x,
                      int64_t n, const char *what) {
    size_t rb = lfm_row_bytes(at, n);
    uint8_t *a = malloc(rb), *b = malloc(rb);
    memset(a, 0xa5, rb);
    memset(b, 0x5a, rb);
    ref->act[at](x, a, n);
    k->act[at](x, b, n);
    if (memcmp(a, b, rb) != 0) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        fail_msg("%s act %s (%s, n=%lld): byte %zu differs: %02x vs %02x", lfm_isa_name(k->isa),
                 lfm_type_name(at), what, (long long)n, i, a[i], b[i]);
    }
    free(a);
    free(b);
}

static void test_act(void **state) {
    (void)state;
    const uint32_t ats[] = {LFM_TYPE_F32,  LFM_TYPE_F16,  LFM_TYPE_BF16,
                            LFM_TYPE_Q8_0, LFM_TYPE_Q8_1, LFM_TYPE_Q8_K};
    const lfm_kernels *ref = lfm_kernels_at(0);
    int lv[16], nl = levels(lv);
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float));
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        for (size_t ti = 0; ti < sizeof ats / sizeof ats[0]; ti++) {
            uint32_t at = ats[ti];
            int64_t bs = block_of(at);
            for (int rep = 0; rep < 20; rep++) {
                fill(x, N);
                int64_t n = bs == 1 ? N - (rep % 7) : N;
                check_act(ref, k, at, x, n, "random");
            }
            /* exact ties: amax 127 gives multiplier 1 (Q8_0/Q8_1); k + 0.5 */
            for (int i = 0; i < N; i++)
                x[i] = (i % 32 == 0) ? 127.0f : (float)((int)(rng_next() % 253) - 126) + 0.5f;
            check_act(ref, k, at, x, N, "ties");
            /* Q8_K: -127/max = +-1 when the extreme is -+127, ties again,
             * and both signs of the extreme in one block, in either order */
            for (int i = 0; i < N; i++)
                x[i] = (float)((int)(rng_next() % 253) - 126) + 0.5f;
            for (int b = 0; b < N / 256; b++) {
                int p = (int)(rng_next() % 256), q = (int)(rng_next() % 256);
                x[256 * b + p] = (b & 1) ? 127.0f : -127.0f;
                if (q != p) x[256 * b + q] = -x[256 * b + p];
            }
            check_act(ref, k, at, x, N, "signed extremes");
            /* zero rows, and floats outside the half range */
            memset(x, 0, N * sizeof(float));
            check_act(ref, k, at, x, N, "zeros");
            for (int i = 0; i < N; i++)
                x[i] = rng_sym() * (float)exp2((double)(rng_next() % 80) - 40);
            check_act(ref, k, at, x, N, "wide range");
        }
        /* BF16 keeps NaN quiet like the scalar */
        fill(x, N);
        for (int i = 0; i < N; i += 37) {
            uint32_t bits = 0x7f800001u + (uint32_t)(rng_next() % 0x7fffff);
            memcpy(&x[i], &bits, 4);
        }
        check_act(ref, k, LFM_TYPE_BF16, x, N, "nan");
    }
    free(x);
}

/* ---- dot products and tiles ------------------------------------------- */

typedef struct operands {
    void *w, *a;   /* encoded */
    double S;      /* bound scale (top comment) */
    int64_t terms; /* m of the top comment */
} operands;

static operands make_operands(uint32_t wt, int64_t n) {
    operands o;
    uint32_t at = lfm_quant_act_type(wt);
    float *xw = malloc((size_t)n * sizeof(float)), *xa = malloc((size_t)n * sizeof(float));
    float *dw = malloc((size_t)n * sizeof(float)), *da = malloc((size_t)n * sizeof(float));
    fill(xw, n);
    fill(xa, n);
    o.w = malloc(lfm_row_bytes(wt, n));
    o.a = malloc(lfm_row_bytes(at, n));
    lfm_quantize_row(wt, xw, o.w, n);
    lfm_kernels_at(0)->act[at](xa, o.a, n);
    lfm_dequantize_row(wt, o.w, dw, n);
    lfm_dequantize_row(at, o.a, da, n);
    double s = 0, sa = 0, mw = 0;
    for (int64_t i = 0; i < n; i++) {
        s += fabs((double)dw[i] * da[i]);
        sa += fabs((double)da[i]);
        mw = fabs(dw[i]) > mw ? fabs(dw[i]) : mw;
    }
    o.S = s + 2 * mw * sa;
    o.terms = n / block_of(wt);
    free(xw);
    free(xa);
    free(dw);
    free(da);
    return o;
}

static void test_dot(void **state) {
    (void)state;
    const lfm_kernels *ref = lfm_kernels_at(0);
    int lv[16], nl = levels(lv);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        double worst = 0;
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t wt = wtypes[ti];
            int64_t bs = block_of(wt);
            const int64_t sizes[] = {bs == 1 ? 1 : 256,
                                     bs == 1 ? 7 : 512,
                                     2048,
                                     1792,
                                     bs == 1 ? 1000 + 13 : (bs == 32 ? 32 * 33 : 256 * 5),
                                     bs == 1 ? 3 : (bs == 32 ? 32 * 523 : 256 * 67)};
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                int64_t n = sizes[si];
                for (int rep = 0; rep < 8; rep++) {
                    operands o = make_operands(wt, n);
                    float r = ref->dot[wt](n, o.w, o.a), g = k->dot[wt](n, o.w, o.a);
                    double tol = 2.0 * (double)(o.terms + 3) * ldexp(1.0, -24) * o.S;
                    double err = fabs((double)r - g);
                    if (is_kquant(wt) ? r != g : err > tol)
                        fail_msg("%s dot %s n=%lld: scalar %.9g, simd %.9g (|d| %.3g, bound %.3g)",
                                 lfm_isa_name(k->isa), lfm_type_name(wt), (long long)n, r, g, err,
                                 is_kquant(wt) ? 0.0 : tol);
                    if (tol > 0 && err / tol > worst) worst = err / tol;
                    free(o.w);
                    free(o.a);
                }
            }
        }
        print_message("%s: all dots within bound (worst |d|/bound %.3g)\n", lfm_isa_name(k->isa),
                      worst);
    }
}

/* Tiles and lfm_matmul_rows (through the active level) against the same
 * level's dot, bit for bit; y entries outside the written rows untouched. */
static void test_matmul(void **state) {
    (void)state;
    int lv[17], nl = levels(lv + 1) + 1;
    lv[0] = 0;
    int det = lfm_isa_detected();
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        assert_int_equal(lfm2moe_isa_set_max(lv[l]), LFM2MOE_OK);
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t wt = wtypes[ti], at = lfm_quant_act_type(wt);
            int64_t bs = block_of(wt);
            /* the third: more blocks than a tile prepares per pass (x86 VNNI
             * Q4_0/Q8_0 tiles carry their sums across passes) */
            const int64_t cols[] = {bs == 1 ? 64 : (bs == 32 ? 32 * 7 : 512), bs == 1 ? 96 : 1024,
                                    bs == 1 ? 160 : (bs == 32 ? 32 * 523 : 256 * 9)};
            for (size_t ci = 0; ci < 3; ci++) {
                int64_t n = cols[ci], rows = 11, T = 9;
                size_t wrb = lfm_row_bytes(wt, n), arb = lfm_row_bytes(at, n);
                float *x = malloc((size_t)(n * (rows > T ? rows : T)) * sizeof(float));
                uint8_t *W = malloc(wrb * (size_t)rows), *A = malloc(arb * (size_t)T);
                fill(x, n * rows);
                for (int64_t r = 0; r < rows; r++)
                    lfm_quantize_row(wt, x + r * n, W + (size_t)r * wrb, n);
                fill(x, n * T);
                lfm_encode_acts(wt, x, n, T, n, A);
                lfm_weight w = {W, "w", wt, n, rows, 1, wrb, wrb * (size_t)rows, LFM_LAYOUT_ROWS};
                const int64_t ts[] = {1, 3, 4, 5, 9};
                for (size_t tj = 0; tj < sizeof ts / sizeof ts[0]; tj++) {
                    int64_t nt = ts[tj], ys = rows + 2;
                    float *y = malloc((size_t)(nt * ys) * sizeof(float));
                    for (int64_t i = 0; i < nt * ys; i++)
                        y[i] = -1234.5f;
                    lfm_matmul_rows(&w, 0, A, nt, y, ys, 1, rows - 1);
                    for (int64_t t = 0; t < nt; t++)
                        for (int64_t r = 0; r < ys; r++) {
                            float want = -1234.5f;
                            if (r >= 1 && r < rows - 1)
                                want = k->dot[wt](n, W + (size_t)r * wrb, A + (size_t)t * arb);
                            if (y[t * ys + r] != want)
                                fail_msg(
                                    "%s matmul %s n=%lld nt=%lld: y[%lld][%lld] %.9g, dot %.9g",
                                    lfm_isa_name(k->isa), lfm_type_name(wt), (long long)n,
                                    (long long)nt, (long long)t, (long long)r, y[t * ys + r], want);
                        }
                    free(y);
                }
                free(x);
                free(W);
                free(A);
            }
        }
    }
    lfm2moe_isa_set_max(det);
}

/* A product larger than any tile or cache chunk of the kernels (x86 VNNI
 * Q4_0/Q8_0: 64 activation rows x 64 blocks x 128 weight rows), with
 * partial chunks on every axis, and with one activation row: every output
 * still equals the level's dot. */
static void test_matmul_chunks(void **state) {
    (void)state;
    int lv[17], nl = levels(lv + 1) + 1;
    lv[0] = 0;
    int det = lfm_isa_detected();
    const int64_t rows = 139, T = 70;
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        assert_int_equal(lfm2moe_isa_set_max(lv[l]), LFM2MOE_OK);
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t wt = wtypes[ti], at = lfm_quant_act_type(wt);
            int64_t bs = block_of(wt);
            int64_t n = bs == 1 ? 72 : (bs == 32 ? 32 * 70 : 256 * 3);
            size_t wrb = lfm_row_bytes(wt, n), arb = lfm_row_bytes(at, n);
            float *x = malloc((size_t)(n * rows) * sizeof(float));
            float *y = malloc((size_t)(T * rows) * sizeof(float));
            uint8_t *W = malloc(wrb * (size_t)rows), *A = malloc(arb * (size_t)T);
            fill(x, n * rows);
            for (int64_t r = 0; r < rows; r++)
                lfm_quantize_row(wt, x + r * n, W + (size_t)r * wrb, n);
            fill(x, n * T);
            lfm_encode_acts(wt, x, n, T, n, A);
            lfm_weight w = {W, "w", wt, n, rows, 1, wrb, wrb * (size_t)rows, LFM_LAYOUT_ROWS};
            lfm_matmul_rows(&w, 0, A, T, y, rows, 0, rows);
            for (int64_t t = 0; t < T; t++)
                for (int64_t r = 0; r < rows; r++) {
                    float want = k->dot[wt](n, W + (size_t)r * wrb, A + (size_t)t * arb);
                    if (y[t * rows + r] != want)
                        fail_msg("%s matmul %s %lldx%lld nt=%lld: y[%lld][%lld] %.9g, dot %.9g",
                                 lfm_isa_name(k->isa), lfm_type_name(wt), (long long)rows,
                                 (long long)n, (long long)T, (long long)t, (long long)r,
                                 y[t * rows + r], want);
                }
            /* one activation row (decode: 16-row tiles, prefetch) */
            lfm_matmul_rows(&w, 0, A + arb, 1, y, rows, 0, rows);
            for (int64_t r = 0; r < rows; r++) {
                float want = k->dot[wt](n, W + (size_t)r * wrb, A + arb);
                if (y[r] != want)
                    fail_msg("%s matmul %s %lldx%lld nt=1: y[%lld] %.9g, dot %.9g",
                             lfm_isa_name(k->isa), lfm_type_name(wt), (long long)rows, (long long)n,
                             (long long)r, y[r], want);
            }
            free(x);
            free(y);
            free(W);
            free(A);
        }
    }
    lfm2moe_isa_set_max(det);
}

/* lfm_vec_dot / lfm_quantize_act_row follow lfm2moe_isa_set_max. */
/* R16 weights: every output of lfm_matmul_rows equals the level's dot on
 * the row-layout row, for whole matrices, ranges cut inside groups and
 * batches beyond a tile's and a cache chunk's size. */
static void test_matmul_r16(void **state) {
    (void)state;
    int lv[17], nl = levels(lv + 1) + 1;
    lv[0] = 0;
    int det = lfm_isa_detected();
    const uint32_t types[] = {LFM_TYPE_Q4_0, LFM_TYPE_Q8_0, LFM_TYPE_Q4_K, LFM_TYPE_Q5_K,
                              LFM_TYPE_Q6_K};
    const int64_t rows = 16 * 9, T = 70;
    const int64_t ranges[][2] = {{0, rows}, {5, rows - 3}, {3, 10}, {16, 20}, {30, 34}};
    const int64_t ts[] = {1, 3, 8, 9, T};
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        assert_int_equal(lfm2moe_isa_set_max(lv[l]), LFM2MOE_OK);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
            for (int ni = 0; ni < 2; ni++) {
                const uint32_t wt = types[ti];
                /* 7 and 70 blocks of 32; 1 and 9 super-blocks of 256 */
                const int64_t bs = lfm_type_layout_get(wt)->block_size;
                const int64_t n = bs * (bs == 32 ? (ni ? 70 : 7) : (ni ? 9 : 1));
                const lfm_dot_fn dot =
                    lfm_kernels_prefer_r16(k, wt) ? k->dot[wt] : lfm_kernels_at(0)->dot[wt];
                size_t wrb = lfm_row_bytes(wt, n), arb = lfm_act_row_bytes(wt, n);
                float *x = malloc((size_t)(n * rows) * sizeof(float));
                float *y = malloc((size_t)(T * rows) * sizeof(float));
                uint8_t *W = malloc(wrb * (size_t)rows), *P = malloc(wrb * (size_t)rows);
                uint8_t *U = malloc(wrb * (size_t)rows), *A = malloc(arb * (size_t)T);
                fill(x, n * rows);
                for (int64_t r = 0; r < rows; r++)
                    lfm_quantize_row(wt, x + r * n, W + (size_t)r * wrb, n);
                fill(x, n * T);
                lfm_encode_acts(wt, x, n, T, n, A);
                lfm_r16_pack(wt, W, P, rows, n);
                lfm_r16_unpack(wt, P, U, rows, n);
                assert_memory_equal(U, W, wrb * (size_t)rows);
                lfm_weight w = {P, "w", wt, n, rows, 1, wrb, wrb * (size_t)rows, LFM_LAYOUT_R16};
                for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++)
                    for (size_t tj = 0; tj < sizeof ts / sizeof ts[0]; tj++) {
                        const int64_t r0 = ranges[ri][0], r1 = ranges[ri][1], nt = ts[tj];
                        for (int64_t i = 0; i < T * rows; i++)
                            y[i] = -1234.5f;
                        lfm_matmul_rows(&w, 0, A, nt, y, rows, r0, r1);
                        for (int64_t t = 0; t < nt; t++)
                            for (int64_t r = 0; r < rows; r++) {
                                float want = -1234.5f;
                                if (r >= r0 && r < r1)
                                    want = dot(n, W + (size_t)r * wrb, A + (size_t)t * arb);
                                if (y[t * rows + r] != want)
                                    fail_msg("%s R16 %s n=%lld rows [%lld,%lld) nt=%lld: "
                                             "y[%lld][%lld] %.9g, dot %.9g",
                                             lfm_isa_name(k->isa), lfm_type_name(wt), (long long)n,
                                             (long long)r0, (long long)r1, (long long)nt,
                                             (long long)t, (long long)r, y[t * rows + r], want);
                            }
                    }
                free(x);
                free(y);
                free(W);
                free(P);
                free(U);
                free(A);
            }
    }
    lfm2moe_isa_set_max(det);
}

static void test_entry_points(void **state) {
    (void)state;
    int lv[17], nl = levels(lv + 1) + 1;
    lv[0] = 0;
    int det = lfm_isa_detected();
    const int64_t n = 1024;
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        assert_int_equal(lfm2moe_isa_set_max(lv[l]), LFM2MOE_OK);
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t wt = wtypes[ti], at = lfm_quant_act_type(wt);
            operands o = make_operands(wt, n);
            float got = 0;
            lfm_vec_dot(wt, n, o.w, o.a, &got);
            assert_true(got == k->dot[wt](n, o.w, o.a));
            float x[1024];
            fill(x, n);
            size_t rb = lfm_row_bytes(at, n);
            uint8_t *p = malloc(rb), *q = malloc(rb);
            lfm_quantize_act_row(at, x, p, n);
            k->act[at](x, q, n);
            assert_memory_equal(p, q, rb);
            free(p);
            free(q);
            free(o.w);
            free(o.a);
        }
    }
    lfm2moe_isa_set_max(det);
}

/* ---- element-wise ops --------------------------------------------------- */

static const int64_t ew_lens[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 2048, 2053};
#define N_EW_LENS (sizeof ew_lens / sizeof ew_lens[0])

static void test_rmsnorm(void **state) {
    (void)state;
    int lv[16], nl = levels(lv);
    const lfm_kernels *ref = lfm_kernels_at(0);
    float *x = malloc(2053 * sizeof *x), *w = malloc(2053 * sizeof *w);
    float *a = malloc(2053 * sizeof *a), *b = malloc(2053 * sizeof *b);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        int n_diff = 0;
        for (size_t li = 0; li < N_EW_LENS; li++) {
            int64_t n = ew_lens[li];
            for (int rep = 0; rep < 4; rep++) {
                fill(x, n);
                x[0] = rep == 3 ? 1e-3f : x[0]; /* not all zero for n = 1 */
                for (int64_t i = 0; i < n; i++)
                    w[i] = 1.0f + 0.5f * rng_sym();
                float eps = rep == 2 ? 1e-5f : 1e-6f;
                ref->rmsnorm(a, x, w, n, eps);
                k->rmsnorm(b, x, w, n, eps);
                for (int64_t i = 0; i < n; i++) {
                    n_diff += a[i] != b[i];
                    if (!(fabsf(a[i] - b[i]) <= FLT_EPSILON * fabsf(a[i])))
                        fail_msg("%s rmsnorm n=%lld [%lld]: %.9g vs %.9g", lfm_isa_name(k->isa),
                                 (long long)n, (long long)i, a[i], b[i]);
                }
                /* in place (y == x) gives the out-of-place result */
                memcpy(a, x, (size_t)n * sizeof *a);
                k->rmsnorm(a, a, w, n, eps);
                assert_memory_equal(a, b, (size_t)n * sizeof *a);
            }
        }
        print_message("%s rmsnorm: %d outputs differ from the scalar (<= 1 ulp)\n",
                      lfm_isa_name(k->isa), n_diff);
    }
    free(x);
    free(w);
    free(a);
    free(b);
}

static void test_silu_mul(void **state) {
    (void)state;
    int lv[16], nl = levels(lv);
    const lfm_kernels *ref = lfm_kernels_at(0);
    const int64_t nmax = 2053;
    float *g = malloc(nmax * sizeof *g), *u = malloc(nmax * sizeof *u);
    float *a = malloc(nmax * sizeof *a), *b = malloc(nmax * sizeof *b);
    /* the edges of expf: overflow near 88.72, subnormal results, signed zeros */
    const float special[] = {0.0f,    -0.0f, 88.7f,  -88.7f, 88.73f,  -88.73f, 87.0f,   -87.0f,
                             -89.0f,  89.0f, -95.0f, 104.0f, -104.0f, 110.0f,  -110.0f, 1e-30f,
                             -1e-30f, 1e30f, -1e30f, 0.5f,   -0.5f,   20.0f,   -20.0f};
    const int n_special = (int)(sizeof special / sizeof special[0]);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        double worst = 0; /* in units of 2^-23 |ref| */
        for (size_t li = 0; li < N_EW_LENS; li++) {
            int64_t n = ew_lens[li];
            for (int rep = 0; rep < 3; rep++) {
                for (int64_t i = 0; i < n; i++) {
                    /* magnitudes 2^-8 .. 2^7, so exp sees its whole range */
                    g[i] = rng_sym() * (float)exp2((double)(rng_next() % 16) - 8);
                    u[i] = rng_sym() * 4.0f;
                    if (rep == 2 && i < n_special) g[i] = special[(i + (int64_t)li) % n_special];
                }
                ref->silu_mul(a, g, u, n);
                k->silu_mul(b, g, u, n);
                for (int64_t i = 0; i < n; i++) {
                    float d = fabsf(a[i] - b[i]);
                    if (!(d <= 4 * FLT_EPSILON * fabsf(a[i]) + FLT_MIN))
                        fail_msg("%s silu_mul n=%lld [%lld] g=%.9g u=%.9g: %.9g vs %.9g",
                                 lfm_isa_name(k->isa), (long long)n, (long long)i, g[i], u[i], a[i],
                                 b[i]);
                    if (fabsf(a[i]) >= FLT_MIN && d / (FLT_EPSILON * fabsf(a[i])) > worst)
                        worst = d / (FLT_EPSILON * fabsf(a[i]));
                    assert_true(signbit(a[i]) == signbit(b[i]) || a[i] == 0);
                }
                /* in place (out == gate), as the forward pass calls it */
                k->silu_mul(g, g, u, n);
                assert_memory_equal(g, b, (size_t)n * sizeof *b);
            }
        }
        print_message("%s silu_mul: worst %.2f x 2^-23 |ref|\n", lfm_isa_name(k->isa), worst);
    }
    free(g);
    free(u);
    free(a);
    free(b);
}

static void test_axpy(void **state) {
    (void)state;
    int lv[16], nl = levels(lv);
    const lfm_kernels *ref = lfm_kernels_at(0);
    float x[2053], a[2053], b[2053];
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        for (size_t li = 0; li < N_EW_LENS; li++) {
            int64_t n = ew_lens[li];
            fill(x, n);
            fill(a, n);
            memcpy(b, a, (size_t)n * sizeof *a);
            float s = rng_sym() * 3.0f;
            ref->axpy(a, s, x, n);
            k->axpy(b, s, x, n);
            assert_memory_equal(a, b, (size_t)n * sizeof *a);
        }
    }
}

static void test_rope(void **state) {
    (void)state;
    int lv[16], nl = levels(lv);
    const lfm_kernels *ref = lfm_kernels_at(0);
    const int32_t dims[] = {2, 6, 16, 18, 34, 64, 128, 1024};
    const int32_t heads[] = {1, 3, 8, 32};
    const int64_t poss[] = {0, 1, 17, 511, 4097, 128000};
    float *a = malloc(32 * 1024 * sizeof *a), *b = malloc(32 * 1024 * sizeof *b);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (size_t hi = 0; hi < sizeof heads / sizeof heads[0]; hi++)
                for (size_t pi = 0; pi < sizeof poss / sizeof poss[0]; pi++) {
                    int64_t n = (int64_t)dims[di] * heads[hi];
                    fill(a, n);
                    memcpy(b, a, (size_t)n * sizeof *a);
                    float base = pi % 2 ? 1e6f : 10000.0f;
                    ref->rope_neox(a, heads[hi], dims[di], poss[pi], base);
                    k->rope_neox(b, heads[hi], dims[di], poss[pi], base);
                    if (memcmp(a, b, (size_t)n * sizeof *a) != 0)
                        fail_msg("%s rope d=%d heads=%d pos=%lld differs", lfm_isa_name(k->isa),
                                 dims[di], heads[hi], (long long)poss[pi]);
                }
    }
    free(a);
    free(b);
}

/* Run n tokens in chunks (state carried between calls) at level k. */
static void conv_run(const lfm_kernels *k, float *y, const float *bcx, float *st, const float *w,
                     int64_t n, int64_t C, int32_t L, int64_t chunk) {
    memset(st, 0, (size_t)(L > 1 ? L - 1 : 0) * (size_t)C * sizeof *st);
    for (int64_t t0 = 0; t0 < n; t0 += chunk) {
        int64_t m = n - t0 < chunk ? n - t0 : chunk;
        k->shortconv(y + t0 * C, bcx + t0 * 3 * C, st, w, m, C, L);
    }
}

static void test_shortconv(void **state) {
    (void)state;
    int lv[16], nl = levels(lv);
    const lfm_kernels *ref = lfm_kernels_at(0);
    const int64_t chans[] = {1, 7, 8, 17, 33, 255, 256, 300, 2048};
    const int32_t lens[] = {1, 2, 3, 4, 8, 9};
    const int64_t n = 7;
    float *bcx = malloc(n * 3 * 2048 * sizeof *bcx), *w = malloc(9 * 2048 * sizeof *w);
    float *ya = malloc(n * 2048 * sizeof *ya), *yb = malloc(n * 2048 * sizeof *yb);
    float *sa = malloc(8 * 2048 * sizeof *sa), *sb = malloc(8 * 2048 * sizeof *sb);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        for (size_t ci = 0; ci < sizeof chans / sizeof chans[0]; ci++)
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                int64_t C = chans[ci];
                int32_t L = lens[li];
                fill(bcx, n * 3 * C);
                fill(w, L * C);
                conv_run(ref, ya, bcx, sa, w, n, C, L, n);
                for (int64_t chunk = 1; chunk <= n; chunk += 3) {
                    conv_run(k, yb, bcx, sb, w, n, C, L, chunk);
                    if (memcmp(ya, yb, (size_t)(n * C) * sizeof *ya) != 0)
                        fail_msg("%s shortconv C=%lld L=%d chunk=%lld: y differs",
                                 lfm_isa_name(k->isa), (long long)C, L, (long long)chunk);
                    assert_memory_equal(sa, sb, (size_t)((L - 1) * C) * sizeof *sa);
                }
            }
    }
    free(bcx);
    free(w);
    free(ya);
    free(yb);
    free(sa);
    free(sb);
}

/* The public names (lfm_rmsnorm, ...) run the active level's entries. */
static void test_ew_entry_points(void **state) {
    (void)state;
    int lv[17], nl = levels(lv + 1) + 1;
    lv[0] = 0;
    int det = lfm_isa_detected();
    enum { N = 1027, D = 64, H = 4, C = 100, L = 3, T = 2 };
    static float x[N], w[N], g[N], a[N], b[N], r[H * D], q[H * D];
    static float bcx[T * 3 * C], cw[C * L], ya[T * C], yb[T * C], sa[(L - 1) * C], sb[(L - 1) * C];
    fill(x, N);
    fill(w, N);
    fill(g, N);
    fill(r, H * D);
    fill(bcx, T * 3 * C);
    fill(cw, C * L);
    for (int l = 0; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(lv[l]);
        assert_int_equal(lfm2moe_isa_set_max(lv[l]), LFM2MOE_OK);
        lfm_rmsnorm(a, x, w, N, 1e-5f);
        k->rmsnorm(b, x, w, N, 1e-5f);
        assert_memory_equal(a, b, sizeof a);
        lfm_silu_mul(a, g, x, N);
        k->silu_mul(b, g, x, N);
        assert_memory_equal(a, b, sizeof a);
        memcpy(a, w, sizeof a);
        memcpy(b, w, sizeof b);
        lfm_axpy(a, 0.25f, x, N);
        k->axpy(b, 0.25f, x, N);
        assert_memory_equal(a, b, sizeof a);
        memcpy(q, r, sizeof q);
        lfm_rope_neox(q, H, D, 77, 1e6f);
        memcpy(a, r, sizeof r);
        k->rope_neox(a, H, D, 77, 1e6f);
        assert_memory_equal(q, a, sizeof q);
        memset(sa, 0, sizeof sa);
        memset(sb, 0, sizeof sb);
        lfm_shortconv(ya, bcx, sa, cw, T, C, L);
        k->shortconv(yb, bcx, sb, cw, T, C, L);
        assert_memory_equal(ya, yb, sizeof ya);
    }
    lfm2moe_isa_set_max(det);
}

/* ---- attention tiles ------------------------------------------------------
 * Every level's attn, for each cache type, against the scalar tile of that
 * type (attention.h).  What differs: scores are the same D products in the
 * same order but fused (FMA): each of the two sides errs by <= (D+1) u S
 * per score (S = scale * max_p sum_i |q_i k_i|, u = 2^-24), and the max is
 * subtracted from another score, so a weight's relative error from scores
 * is <= 4 (D+1) u S; exp <= 2 ulp (SIMD polynomial) + 0.5 ulp (libm),
 * <= 6u; the softmax sum in float (8 partial sums) instead of double,
 * <= (len/8 + 8) u relative; the weighted sum of values keeps the order
 * over positions but fuses and applies 1/sum after it, <= (len + 2) u
 * max|v|.  Bound per output:
 *   |got - ref| <= max|v| u (4 (D+1) S + len + len/8 + 16)
 * with len the positions the row sees.
 * F16 and Q8_0 caches: both sides see the same dequantized keys and values
 * (exact half -> float; Q8_0 code x scale is one product, rounded the same
 * way on both sides), so the same bound holds with S and max|v| taken over
 * the dequantized cache.
 * window 0: full causal attention; ring 0: slot = position (else the cache
 * is a ring of that many slots, every slot filled: the ones a row does not
 * see hold other positions' values). */
static void attn_check(int kvt, int H, int Hkv, int D, int pos0, int n, float amp, int window,
                       int ring) {
    const int G = H / Hkv, ctx = pos0 + n, slots = ring ? ring : ctx;
    const int64_t head = lfm_kv_head_bytes(kvt, slots, D);
    float *q = malloc(sizeof(float) * (size_t)(n * H * D));
    uint8_t *kc = calloc((size_t)(Hkv * head), 1);
    uint8_t *vc = calloc((size_t)(Hkv * head), 1);
    float *ref = malloc(sizeof(float) * (size_t)(n * H * D));
    float *got = malloc(sizeof(float) * (size_t)(n * H * D));
    float *scratch =
        malloc(sizeof(float) * lfm_attn_scratch_floats(lfm_attn_score_span(ctx, window), D));
    float *key = malloc(sizeof(float) * (size_t)D), *val = malloc(sizeof(float) * (size_t)D);
    for (int i = 0; i < n * H * D; i++)
        q[i] = amp * rng_sym();
    for (int g = 0; g < Hkv; g++)
        for (int p = 0; p < slots; p++) {
            for (int i = 0; i < D; i++) {
                key[i] = amp * rng_sym();
                val[i] = rng_sym();
            }
            lfm_kv_store(kvt, kc + g * head, vc + g * head, p, key, val, D);
        }
    double vmax = 0;
    for (int g = 0; g < Hkv; g++)
        for (int p = 0; p < slots; p++)
            for (int i = 0; i < D; i++) {
                const double x = fabs(lfm_kv_value(kvt, vc + g * head, p, i, D));
                vmax = x > vmax ? x : vmax;
            }
    const float scale = 1.0f / sqrtf((float)D);
    int lv[16], nl = levels(lv);
    for (int l = -1; l < nl; l++) {
        const lfm_kernels *k = lfm_kernels_at(l < 0 ? 0 : lv[l]);
        for (int g = 0; g < Hkv; g++) {
            lfm_attn_tile a = {.out = (l < 0 ? ref : got) + g * G * D,
                               .q = q + g * G * D,
                               .out_stride = H * D,
                               .q_stride = H * D,
                               .k = kc + g * head,
                               .v = vc + g * head,
                               .pos0 = pos0,
                               .window = window,
                               .ring = ring,
                               .n = n,
                               .G = G,
                               .D = D,
                               .scale = scale,
                               .scratch = scratch};
            k->attn[kvt](&a);
        }
        if (l < 0) continue;
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                const int g = h / G, pos = pos0 + t;
                const int lo = window && pos - window + 1 > 0 ? pos - window + 1 : 0;
                const int len = pos - lo + 1;
                const float *qr = q + (t * H + h) * D;
                double S = 0;
                for (int p = lo; p <= pos; p++) {
                    const int64_t slot = lfm_attn_slot(p, ring);
                    double s = 0;
                    for (int i = 0; i < D; i++)
                        s += fabs((double)qr[i] * lfm_kv_key(kvt, kc + g * head, slot, i, D));
                    S = s > S ? s : S;
                }
                S *= scale;
                const double tol = vmax * ldexp(4.0 * (D + 1) * S + len + len / 8.0 + 16, -24);
                for (int i = 0; i < D; i++) {
                    const int64_t o = (t * H + h) * D + i;
                    if (!(fabs((double)got[o] - ref[o]) <= tol))
                        fail_msg("%s attn kv %d H=%d Hkv=%d D=%d pos0=%d n=%d window=%d "
                                 "ring=%d: out[%d][%d][%d] %.9g, scalar %.9g (tol %.3g)",
                                 lfm_isa_name(k->isa), kvt, H, Hkv, D, pos0, n, window, ring, t, h,
                                 i, got[o], ref[o], tol);
                }
            }
    }
    free(q);
    free(kc);
    free(vc);
    free(ref);
    free(got);
    free(scratch);
    free(key);
    free(val);
}

static void test_attention(void **state) {
    (void)state;
    static const struct {
        int H, Hkv, D, pos0, n;
        float amp;
        int window, ring;
    } shapes[] = {
        {32, 8, 64, 0, 70, 2.0f, 0, 0},   /* the model's shape: prefill from empty */
        {32, 8, 64, 300, 1, 2.0f, 0, 0},  /* decode */
        {32, 8, 64, 129, 40, 4.0f, 0, 0}, /* a tile crossing key blocks, peaky softmax */
        {4, 4, 8, 0, 37, 2.0f, 0, 0},     /* MHA, G = 1: 4-row blocks span 4 tokens */
        {4, 4, 16, 250, 3, 1.0f, 0, 0},   /* MHA, rows not a multiple of 4 */
        {6, 2, 13, 5, 23, 2.0f, 0, 0},    /* odd D, G = 3 */
        {8, 1, 24, 15, 18, 2.0f, 0, 0},   /* G = 8, D with an 8-wide tail */
        {2, 1, 33, 0, 1, 2.0f, 0, 0},     /* first token: one position */
        {3, 3, 71, 100, 5, 3.0f, 0, 0},   /* odd D past 64 */
        {4, 1, 32, 40, 9, 2.0f, 0, 0},    /* one Q8_0 group per head */
        {2, 2, 96, 17, 6, 2.0f, 0, 0},    /* three Q8_0 groups: AVX-512's 64 columns cross one */
        /* sliding windows, full caches: a window start inside a vector,
         * rows of one 4-row block with different starts (G = 1), windows
         * wider than the context so far */
        {32, 8, 64, 0, 70, 2.0f, 8, 0},
        {4, 4, 8, 0, 37, 2.0f, 5, 0},
        {2, 1, 64, 40, 30, 2.0f, 21, 0},
        {8, 1, 24, 15, 18, 2.0f, 100, 0},
        {6, 2, 13, 300, 2, 2.0f, 77, 0},
        /* rings: window + n - 1 slots rounded up to key blocks; prefill and
         * decode far past the ring's size, chunks wrapping mid-tile */
        {2, 1, 64, 0, 54, 2.0f, 8, 64},
        {2, 1, 64, 37, 7, 2.0f, 8, 16},
        {4, 4, 8, 1000, 20, 2.0f, 13, 32},
        {32, 8, 64, 4000, 1, 2.0f, 100, 112},
        {6, 2, 13, 301, 9, 3.0f, 24, 32},
        {8, 1, 24, 77, 33, 2.0f, 40, 80},
        {4, 1, 32, 500, 17, 2.0f, 30, 48}, /* a ring of Q8_0 groups */
    };
    for (int kvt = 0; kvt < LFM_KV_COUNT; kvt++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            if (lfm_kv_type_fits(kvt, shapes[i].D))
                attn_check(kvt, shapes[i].H, shapes[i].Hkv, shapes[i].D, shapes[i].pos0,
                           shapes[i].n, shapes[i].amp, shapes[i].window, shapes[i].ring);
}

/* Every test starts from the same random state (the seed of the run), so
 * a test run alone with a filter sees the data it saw in the whole run. */
static uint64_t run_seed = 12345;
static int reseed(void **state) {
    (void)state;
    rng_state = run_seed;
    return 0;
}

/* checkasm-style: `test_simd [--seed N] [FILTER]` (FILTER: a test name,
 * '*' wildcards, e.g. 'test_attention' or 'test_mat*'); the seed is
 * printed so that a failure found with a random seed can be replayed. */
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            run_seed = strtoull(argv[++i], NULL, 0);
        else if (argv[i][0] != '-')
            cmocka_set_test_filter(argv[i]);
        else {
            fprintf(stderr, "usage: test_simd [--seed N] [TEST_NAME_PATTERN]\n");
            return 2;
        }
    }
    printf("test_simd: seed %llu\n", (unsigned long long)run_seed);
    /* the cap must be in place before the first use of any kernel */
#if defined(__aarch64__)
    setenv("LFM2MOE_MAX_ISA", "neon", 1);
#else
    setenv("LFM2MOE_MAX_ISA", "avx2", 1);
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_cap),    cmocka_unit_test(test_isa_api),
        cmocka_unit_test(test_act),        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_matmul),     cmocka_unit_test(test_matmul_chunks),
        cmocka_unit_test(test_matmul_r16), cmocka_unit_test(test_entry_points),
        cmocka_unit_test(test_rmsnorm),    cmocka_unit_test(test_silu_mul),
        cmocka_unit_test(test_axpy),       cmocka_unit_test(test_rope),
        cmocka_unit_test(test_shortconv),  cmocka_unit_test(test_ew_entry_points),
        cmocka_unit_test(test_attention),
    };
    struct CMUnitTest seeded[sizeof tests / sizeof tests[0]];
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        seeded[i] = tests[i];
        seeded[i].setup_func = reseed;
    }
    return cmocka_run_group_tests(seeded, NULL, NULL);
}
