/* Quantized weight types (kernels/quant): decoding against ggml's own values,
 * our reference quantizers against llama-quantize's bytes, activation
 * encodings, dot products against float references, and quantize ->
 * dequantize error bounds.  Every tolerance below is derived in a comment. */
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

#include "model/gguf.h"
#include "quant.h"
#include "quant_blocks.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden"
#endif

/* float unit roundoff */
#define U_F32 (FLT_EPSILON / 2)
/* relative rounding of float -> half (round to nearest: 2^-11) */
#define U_F16 (1.0 / 2048)

/* The quantized weight types we compute with. */
static const uint32_t qtypes[] = {
    LFM_TYPE_Q4_0, LFM_TYPE_Q4_1, LFM_TYPE_Q5_0, LFM_TYPE_Q5_1, LFM_TYPE_Q8_0,
    LFM_TYPE_Q2_K, LFM_TYPE_Q3_K, LFM_TYPE_Q4_K, LFM_TYPE_Q5_K, LFM_TYPE_Q6_K,
};
#define N_QTYPES (sizeof qtypes / sizeof qtypes[0])

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { /* (0, 1) */
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(void) {
    return (float)(sqrt(-2.0 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform()));
}

/* Weight-like data: Gaussian, scale varying per 32 elements, an offset per
 * 256 (to exercise the affine types' mins) and occasional outliers. */
static void fill_weights(float *x, int64_t n) {
    float scale = 1, offset = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % 256 == 0) offset = 0.3f * rng_gauss();
        if (i % 32 == 0) scale = (float)exp(1.5 * (rng_uniform() - 0.5));
        x[i] = offset + scale * rng_gauss();
        if (rng_uniform() < 0.01) x[i] *= 6;
    }
}

/* Activation-like data: Gaussian with a per-row magnitude and outliers. */
static void fill_acts(float *x, int64_t n) {
    float mag = (float)exp(4 * (rng_uniform() - 0.5));
    for (int64_t i = 0; i < n; i++) {
        x[i] = mag * rng_gauss();
        if (rng_uniform() < 0.02) x[i] *= 10;
    }
}

static int block_size(uint32_t type) {
    return lfm_type_layout_get(type)->block_size;
}

typedef struct loaded {
    uint8_t *buf;
    gguf_file f;
} loaded;

static void load_gguf(const char *stem, loaded *out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", GOLDEN_DIR, stem);
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    out->buf = malloc((size_t)size);
    assert_non_null(out->buf);
    assert_int_equal(fread(out->buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    memset(&out->f, 0, sizeof out->f);
    assert_int_equal(gguf_parse(out->buf, (uint64_t)size, &out->f), 0);
}

static void unload_gguf(loaded *l) {
    gguf_free(&l->f);
    free(l->buf);
}

/* ---- support table ------------------------------------------------------ */

static void test_support_table(void **state) {
    (void)state;
    for (size_t i = 0; i < N_QTYPES; i++) {
        uint32_t t = qtypes[i];
        assert_true(lfm_quant_supported(t));
        assert_true(lfm_quant_can_quantize(t));
        uint32_t want = t == LFM_TYPE_Q4_1 || t == LFM_TYPE_Q5_1 ? LFM_TYPE_Q8_1
                        : block_size(t) == 32                    ? LFM_TYPE_Q8_0
                                                                 : LFM_TYPE_Q8_K;
        assert_int_equal(lfm_quant_act_type(t), want);
        assert_int_equal(lfm_row_bytes(t, 1024),
                         (size_t)(1024 / block_size(t)) * lfm_type_layout_get(t)->type_size);
    }
    const uint32_t floats[] = {LFM_TYPE_F32, LFM_TYPE_F16, LFM_TYPE_BF16};
    for (size_t i = 0; i < 3; i++) {
        assert_true(lfm_quant_supported(floats[i]));
        assert_true(lfm_quant_can_quantize(floats[i]));
        assert_int_equal(lfm_quant_act_type(floats[i]), floats[i]);
    }
    const uint32_t unsupported[] = {
        LFM_TYPE_Q8_1,    LFM_TYPE_Q8_K,
        LFM_TYPE_IQ2_XXS, LFM_TYPE_IQ2_XS,
        LFM_TYPE_IQ3_XXS, LFM_TYPE_IQ1_S,
        LFM_TYPE_IQ4_NL,  LFM_TYPE_IQ3_S,
        LFM_TYPE_IQ2_S,   LFM_TYPE_IQ4_XS,
        LFM_TYPE_IQ1_M,   LFM_TYPE_TQ1_0,
        LFM_TYPE_TQ2_0,   LFM_TYPE_MXFP4,
        LFM_TYPE_I8,      LFM_TYPE_I32,
        LFM_TYPE_F64,     4,
        LFM_TYPE_COUNT,   1000,
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        assert_false(lfm_quant_supported(unsupported[i]));
        assert_false(lfm_quant_can_quantize(unsupported[i]));
    }
}

/* ---- dequantization vs ggml (tiny-q-dequant-ref.gguf) ------------------- */

/* Our formulas are ggml's with the same operation order and no fused
 * multiply-add: every value must be bit-identical (the golden README asks
 * only 1e-6 relative; our README promises bit-identical decoding). */
static void test_golden_dequant(void **state) {
    (void)state;
    loaded ref;
    load_gguf("tiny-q-dequant-ref", &ref);
    double max_rel[LFM_TYPE_COUNT] = {0};
    int seen[LFM_TYPE_COUNT] = {0};
    long n_diff = 0, n_values = 0;
    loaded src = {0};
    char src_stem[256] = "";
    for (uint64_t ti = 0; ti < ref.f.n_tensors; ti++) {
        const gguf_tensor *rt = &ref.f.tensors[ti];
        const char *colon = strchr(rt->name, ':');
        assert_non_null(colon);
        assert_int_equal(rt->type, LFM_TYPE_F32);
        size_t stem_len = (size_t)(colon - rt->name);
        assert_true(stem_len < sizeof src_stem);
        if (strncmp(src_stem, rt->name, stem_len) != 0 || src_stem[stem_len] != '\0') {
            if (src.buf) unload_gguf(&src);
            memcpy(src_stem, rt->name, stem_len);
            src_stem[stem_len] = '\0';
            load_gguf(src_stem, &src);
        }
        const gguf_tensor *st = gguf_find_tensor(&src.f, colon + 1);
        if (!st) fail_msg("%s: no tensor %s", src_stem, colon + 1);
        assert_true(lfm_quant_supported(st->type));
        const int64_t n_cols = st->ne[0];
        const int64_t n_rows = rt->ne[1];
        assert_int_equal(rt->ne[0], n_cols);
        assert_true(n_rows >= 1 && n_rows <= st->ne[1]);
        const size_t rb = lfm_row_bytes(st->type, n_cols);
        float *out = malloc((size_t)(n_cols + 1) * sizeof(float));
        assert_non_null(out);
        for (int64_t r = 0; r < n_rows; r++) {
            out[n_cols] = 12345.0f; /* canary: nothing written past the row */
            lfm_dequantize_row(st->type, (const uint8_t *)st->data + (size_t)r * rb, out, n_cols);
            assert_true(out[n_cols] == 12345.0f);
            const float *want = (const float *)rt->data + r * n_cols;
            for (int64_t c = 0; c < n_cols; c++) {
                double diff = fabs((double)out[c] - (double)want[c]);
                double rel = diff == 0 ? 0 : diff / fabs((double)want[c]);
                if (rel > max_rel[st->type]) max_rel[st->type] = rel;
                n_diff += diff != 0;
                n_values++;
                if (memcmp(&out[c], &want[c], sizeof(float)) != 0)
                    fail_msg("%s row %lld col %lld: got %.9g want %.9g (not bit-identical)",
                             rt->name, (long long)r, (long long)c, out[c], want[c]);
            }
        }
        seen[st->type]++;
        free(out);
    }
    if (src.buf) unload_gguf(&src);
    unload_gguf(&ref);
    print_message("dequant vs ggml: %ld values, %ld not bit-identical\n", n_values, n_diff);
    for (uint32_t t = 0; t < LFM_TYPE_COUNT; t++)
        if (seen[t])
            print_message("  %-5s %2d tensors, max rel error %.3g\n", lfm_type_name(t), seen[t],
                          max_rel[t]);
    /* every type of the published files is covered */
    for (size_t i = 0; i < N_QTYPES; i++)
        if (!seen[qtypes[i]]) fail_msg("no reference rows of type %s", lfm_type_name(qtypes[i]));
    assert_true(seen[LFM_TYPE_F16] && seen[LFM_TYPE_BF16]);
}

/* ---- our quantizers vs llama-quantize ----------------------------------- */

/* tiny-q-f32.gguf is the source every tiny-q-<type>.gguf was quantized from
 * by llama-quantize (no importance matrix, so ggml's quantize_row_*_ref).
 * Requantizing every row of every tensor must give the same bytes. */
static void test_golden_requantize(void **state) {
    (void)state;
    static const char *stems[] = {"tiny-q-f16",    "tiny-q-bf16",   "tiny-q-q8_0",   "tiny-q-q4_0",
                                  "tiny-q-q4_1",   "tiny-q-q5_0",   "tiny-q-q5_1",   "tiny-q-q2_k",
                                  "tiny-q-q3_k_m", "tiny-q-q4_k_m", "tiny-q-q5_k_m", "tiny-q-q6_k"};
    loaded f32;
    load_gguf("tiny-q-f32", &f32);
    long blocks[LFM_TYPE_COUNT] = {0}, same[LFM_TYPE_COUNT] = {0};
    for (size_t s = 0; s < sizeof stems / sizeof stems[0]; s++) {
        loaded q;
        load_gguf(stems[s], &q);
        for (uint64_t ti = 0; ti < q.f.n_tensors; ti++) {
            const gguf_tensor *qt = &q.f.tensors[ti];
            if (qt->type == LFM_TYPE_F32) continue;
            assert_true(lfm_quant_can_quantize(qt->type));
            const gguf_tensor *ft = gguf_find_tensor(&f32.f, qt->name);
            assert_non_null(ft);
            assert_int_equal(ft->type, LFM_TYPE_F32);
            const int64_t n_cols = qt->ne[0];
            assert_int_equal(ft->ne[0], n_cols);
            const int64_t n_rows = qt->nbytes / lfm_row_bytes(qt->type, n_cols);
            const size_t rb = lfm_row_bytes(qt->type, n_cols);
            const size_t bb = (size_t)lfm_type_layout_get(qt->type)->type_size;
            uint8_t *out = malloc(rb);
            assert_non_null(out);
            for (int64_t r = 0; r < n_rows; r++) {
                lfm_quantize_row(qt->type, (const float *)ft->data + r * n_cols, out, n_cols);
                const uint8_t *want = (const uint8_t *)qt->data + (size_t)r * rb;
                for (size_t b = 0; b < rb / bb; b++) {
                    blocks[qt->type]++;
                    same[qt->type] += memcmp(out + b * bb, want + b * bb, bb) == 0;
                }
            }
            free(out);
        }
        unload_gguf(&q);
    }
    unload_gguf(&f32);
    int n_types = 0;
    for (uint32_t t = 0; t < LFM_TYPE_COUNT; t++) {
        if (!blocks[t]) continue;
        n_types++;
        print_message("  requantize %-5s %ld/%ld blocks byte-identical\n", lfm_type_name(t),
                      same[t], blocks[t]);
        if (same[t] != blocks[t])
            fail_msg("%s: %ld of %ld blocks differ from llama-quantize", lfm_type_name(t),
                     blocks[t] - same[t], blocks[t]);
    }
    assert_int_equal(n_types, (int)N_QTYPES + 2); /* + F16, BF16 */
}

/* ---- activation encodings ----------------------------------------------- */

/* Q8_0/Q8_1: d = amax/127, codes round-to-nearest-even of x*127/amax.
 * Per element |q*half(d) - x| <= d*(0.5 + 127*2^-11 + 300u): half a step,
 * plus the code times half(d)'s rounding (2^-11 relative), plus float
 * rounding of amax/127 and x*id.  0.5625 covers it. */
static void check_act_q8_block(const float *x, int n, const float *xq, double d_real) {
    for (int j = 0; j < n; j++)
        if (!(fabs((double)xq[j] - x[j]) <= d_real * 0.5625 + 1e-30))
            fail_msg("elem %d: %.9g encoded as %.9g (d %.6g)", j, x[j], xq[j], d_real);
}

static void test_act_q8_0_q8_1(void **state) {
    (void)state;
    rng_state = 1;
    enum { N = 1024 };
    float x[N], xq[N];
    block_q8_0 b0[N / 32];
    block_q8_1 b1[N / 32];
    for (int trial = 0; trial < 50; trial++) {
        fill_acts(x, N);
        if (trial == 0) memset(x + 64, 0, 32 * sizeof(float)); /* an all-zero block */
        lfm_quantize_act_row(LFM_TYPE_Q8_0, x, b0, N);
        lfm_quantize_act_row(LFM_TYPE_Q8_1, x, b1, N);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[32 * b + j]));
            /* identical codes and scales in both encodings */
            assert_int_equal(b0[b].d, b1[b].d);
            assert_memory_equal(b0[b].qs, b1[b].qs, 32);
            assert_int_equal(b0[b].d, lfm_f32_to_fp16(amax / 127.f));
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                /* the code is x*127/amax rounded to nearest, ties even */
                float v = amax != 0 ? x[32 * b + j] * (127.f / amax) : 0;
                assert_int_equal(b0[b].qs[j], (int)nearbyintf(v));
                sum += b1[b].qs[j];
            }
            /* s = d*sum with d before rounding to half */
            assert_int_equal(b1[b].s, lfm_f32_to_fp16(amax / 127.f * (float)sum));
        }
        lfm_dequantize_row(LFM_TYPE_Q8_0, b0, xq, N);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[32 * b + j]));
            check_act_q8_block(x + 32 * b, 32, xq + 32 * b, amax / 127.0);
        }
    }
    /* ties: with amax = 127 the multiplier is exactly 1; ggml's AVX path
     * rounds halves to even, the C reference (roundf) would give 3, 4, -3 */
    float t[32] = {127, 2.5f, 3.5f, -2.5f, 0.5f, -0.5f, 1.5f, -126.5f};
    lfm_quantize_act_row(LFM_TYPE_Q8_0, t, b0, 32);
    const int want[8] = {127, 2, 4, -2, 0, 0, 2, -126};
    for (int j = 0; j < 8; j++)
        assert_int_equal(b0[0].qs[j], want[j]);
    assert_true(lfm_fp16_to_f32(b0[0].d) == 1.0f);
}

/* Q8_K: the signed extreme maps to -127, d = 1/iscale as a float; per
 * element |q*d - x| <= |d|*(0.5 + 1e-4) (half a step plus float rounding of
 * iscale, x*iscale and 1/iscale, each a few u relative on codes <= 127). */
static void test_act_q8_K(void **state) {
    (void)state;
    rng_state = 2;
    enum { N = 1024 };
    float x[N], xq[N];
    block_q8_K b[N / 256];
    for (int trial = 0; trial < 50; trial++) {
        fill_acts(x, N);
        if (trial == 0) memset(x + 256, 0, 256 * sizeof(float));
        lfm_quantize_act_row(LFM_TYPE_Q8_K, x, b, N);
        lfm_dequantize_row(LFM_TYPE_Q8_K, b, xq, N);
        for (int s = 0; s < N / 256; s++) {
            const float *xs = x + 256 * s;
            float amax = 0, max = 0;
            for (int j = 0; j < 256; j++)
                if (fabsf(xs[j]) > amax) {
                    amax = fabsf(xs[j]);
                    max = xs[j];
                }
            if (amax == 0) {
                assert_true(b[s].d == 0);
            } else {
                assert_true(b[s].d == 1 / (-127.f / max));
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int l = 0; l < 16; l++)
                    sum += b[s].qs[16 * j + l];
                assert_int_equal(b[s].bsums[j], sum);
            }
            for (int j = 0; j < 256; j++) {
                assert_true(b[s].qs[j] >= -127 && b[s].qs[j] <= 127);
                if (!(fabs((double)xq[256 * s + j] - xs[j]) <= fabs(b[s].d) * (0.5 + 1e-4)))
                    fail_msg("Q8_K elem %d: %.9g -> %.9g", j, xs[j], xq[256 * s + j]);
            }
        }
    }
    /* ties: extreme -127 gives iscale 1; nearest-even as ggml's nearest_int */
    float t[256] = {-127, 2.5f, 3.5f, -2.5f, 0.5f, 1.5f};
    lfm_quantize_act_row(LFM_TYPE_Q8_K, t, b, 256);
    const int want[6] = {-127, 2, 4, -2, 0, 2};
    for (int j = 0; j < 6; j++)
        assert_int_equal(b[0].qs[j], want[j]);
    assert_true(b[0].d == 1.0f);
}

/* ---- dot products ------------------------------------------------------- */

/* Per element magnitude of the offset term of the affine types (|m| of
 * x = d*q - m), read from the blocks: rounding errors of the decoded weight
 * scale with |d*q| + |m|, not with |x|. */
static void offset_magnitudes(uint32_t type, const void *w, int64_t n, float *off) {
    for (int64_t i = 0; i < n; i++)
        off[i] = 0;
    switch (type) {
    case LFM_TYPE_Q4_1:
        for (int64_t b = 0; b < n / 32; b++)
            for (int j = 0; j < 32; j++)
                off[32 * b + j] = fabsf(lfm_fp16_to_f32(((const block_q4_1 *)w)[b].m));
        break;
    case LFM_TYPE_Q5_1:
        for (int64_t b = 0; b < n / 32; b++)
            for (int j = 0; j < 32; j++)
                off[32 * b + j] = fabsf(lfm_fp16_to_f32(((const block_q5_1 *)w)[b].m));
        break;
    case LFM_TYPE_Q2_K:
        for (int64_t b = 0; b < n / 256; b++) {
            const block_q2_K *x = (const block_q2_K *)w + b;
            for (int j = 0; j < 256; j++)
                off[256 * b + j] = lfm_fp16_to_f32(x->dmin) * (float)(x->scales[j / 16] >> 4);
        }
        break;
    case LFM_TYPE_Q4_K:
    case LFM_TYPE_Q5_K:
        for (int64_t b = 0; b < n / 256; b++) {
            const uint8_t *base = (const uint8_t *)w + (size_t)b * lfm_row_bytes(type, 256);
            uint16_t dmin;
            memcpy(&dmin, base + 2, 2);
            for (int j = 0; j < 256; j++) {
                uint8_t sc, m;
                lfm_scale_min_k4(j / 32, base + 4, &sc, &m);
                off[256 * b + j] = lfm_fp16_to_f32(dmin) * (float)m;
            }
        }
        break;
    default: break;
    }
}

/* Per element bound of |decoded activation - activation| (see the act
 * tests): Q8_0/Q8_1 0.5625*amax/127 per 32, Q8_K (0.5+1e-4)*amax/127 per 256. */
static void act_error_bounds(uint32_t at, const float *a, int64_t n, double *e) {
    const int bs = at == LFM_TYPE_Q8_K ? 256 : 32;
    const double k = at == LFM_TYPE_Q8_K ? 0.5 + 1e-4 : 0.5625;
    for (int64_t b = 0; b < n / bs; b++) {
        float amax = 0;
        for (int j = 0; j < bs; j++)
            amax = fmaxf(amax, fabsf(a[b * bs + j]));
        for (int j = 0; j < bs; j++)
            e[b * bs + j] = k * amax / 127.0 * (1 + 1e-6);
    }
}

/* worst[0..2]: largest |error| / tolerance of checks (1), (2), (3). */
static void check_dots(uint32_t wt, int64_t n, int trials, double worst[3]) {
    const uint32_t at = lfm_quant_act_type(wt);
    const int nb = (int)(n / block_size(wt));
    float *w = malloc((size_t)n * sizeof(float)), *wd = malloc((size_t)n * sizeof(float));
    float *a = malloc((size_t)n * sizeof(float)), *ad = malloc((size_t)n * sizeof(float));
    float *off = malloc((size_t)n * sizeof(float));
    double *ea = malloc((size_t)n * sizeof(double));
    void *wq = malloc(lfm_row_bytes(wt, n)), *aq = malloc(lfm_row_bytes(at, n));
    assert_true(w && wd && a && ad && off && ea && wq && aq);
    for (int t = 0; t < trials; t++) {
        fill_weights(w, n);
        fill_acts(a, n);
        lfm_quantize_row(wt, w, wq, n);
        lfm_dequantize_row(wt, wq, wd, n);
        lfm_quantize_act_row(at, a, aq, n);
        lfm_dequantize_row(at, aq, ad, n);
        offset_magnitudes(wt, wq, n, off);
        act_error_bounds(at, a, n, ea);
        float got;
        lfm_vec_dot(wt, n, wq, aq, &got);

        /* (1) Same numbers as the decoded operands: ref_q = sum wd*ad in
         * double.  Our integer sums are exact; the float work is a few
         * products per block (scales, <= 4 roundings), the decoded operands'
         * own roundings (<= 3 on |d*q| + |m|), and summing nb block terms
         * (<= nb roundings).  So |got - ref_q| <= (nb + 8) u S with
         * S = sum (|wd| + 2|m|) |ad|.  Q4_1/Q5_1 also use the precomputed
         * s = half(d*sum q) where the decoded activations give
         * half(d)*sum q: off by <= 2^-10 (1.01) |sum ad| per block, times |m|. */
        double ref_q = 0, S = 0, s_term = 0;
        for (int64_t i = 0; i < n; i++) {
            ref_q += (double)wd[i] * ad[i];
            S += (fabs(wd[i]) + 2.0 * off[i]) * fabs(ad[i]);
        }
        if (at == LFM_TYPE_Q8_1)
            for (int64_t b = 0; b < n / 32; b++) {
                double sa = 0;
                for (int j = 0; j < 32; j++)
                    sa += fabs(ad[32 * b + j]);
                s_term += off[32 * b] * sa * 2 * U_F16 * 1.01;
            }
        const double tol_q = (nb + 8) * U_F32 * S + s_term;
        const double err_q = fabs(got - ref_q);
        if (!(err_q <= tol_q))
            fail_msg("%s n=%lld: vec_dot %.9g vs decoded %.9g (|diff| %.3g > %.3g)",
                     lfm_type_name(wt), (long long)n, got, ref_q, err_q, tol_q);

        /* (2) Against float activations: ref_f = sum wd*a.  The only extra
         * error is the activation encoding: |sum wd*(ad - a)| <=
         * sum |wd| * e_i, e_i the per element bound of the act tests. */
        double ref_f = 0, tol_f = tol_q;
        for (int64_t i = 0; i < n; i++) {
            ref_f += (double)wd[i] * a[i];
            tol_f += fabs(wd[i]) * ea[i];
        }
        const double err_f = fabs(got - ref_f);
        if (!(err_f <= tol_f))
            fail_msg("%s n=%lld: vec_dot %.9g vs float %.9g (|diff| %.3g > %.3g)",
                     lfm_type_name(wt), (long long)n, got, ref_f, err_f, tol_f);

        /* (3) That worst case adds every rounding error with the same sign;
         * they are independent and unbiased, so the real error is much
         * smaller: rounding to a step d is ~uniform, variance d^2/12, and
         * Q8_0/Q8_1's half-precision d scales a block's activations by up to
         * 2^-11 (a systematic part).  Six standard deviations plus those:
         * a biased encoding (truncation, a wrong scale) fails here. */
        const int abs_ = at == LFM_TYPE_Q8_K ? 256 : 32;
        double var = 0, sys = 0;
        for (int64_t i = 0; i < n; i++) {
            const double d = ea[i - i % abs_] / (at == LFM_TYPE_Q8_K ? 0.5 + 1e-4 : 0.5625);
            var += (double)wd[i] * wd[i] * d * d / 12;
            if (at != LFM_TYPE_Q8_K) sys += fabs((double)wd[i] * a[i]) * U_F16;
        }
        const double tol_s = tol_q + sys + 6 * sqrt(var);
        if (!(err_f <= tol_s))
            fail_msg("%s n=%lld: vec_dot %.9g vs float %.9g (|diff| %.3g > 6 sigma %.3g)",
                     lfm_type_name(wt), (long long)n, got, ref_f, err_f, tol_s);
        if (err_q / tol_q > worst[0]) worst[0] = err_q / tol_q;
        if (err_f / tol_f > worst[1]) worst[1] = err_f / tol_f;
        if (err_f / tol_s > worst[2]) worst[2] = err_f / tol_s;
    }
    free(w), free(wd), free(a), free(ad), free(off), free(ea), free(wq), free(aq);
}

static void test_vec_dot(void **state) {
    (void)state;
    rng_state = 3;
    for (size_t i = 0; i < N_QTYPES; i++) {
        double worst[3] = {0, 0, 0};
        check_dots(qtypes[i], 256, 40, worst);
        check_dots(qtypes[i], 4096, 20, worst);
        print_message("  vec_dot %-5s worst |err|/tol: vs decoded %.3f, vs float: worst case "
                      "%.3f, 6 sigma %.3f\n",
                      lfm_type_name(qtypes[i]), worst[0], worst[1], worst[2]);
    }
}

/* A dot product must see every element: one changed weight code or
 * activation code changes the result. */
static void test_vec_dot_sensitivity(void **state) {
    (void)state;
    rng_state = 4;
    enum { N = 512 };
    float w[N], a[N];
    for (size_t i = 0; i < N_QTYPES; i++) {
        const uint32_t wt = qtypes[i], at = lfm_quant_act_type(wt);
        uint8_t wq[N * 2], aq[N * 2];
        fill_weights(w, N);
        for (int j = 0; j < N; j++)
            a[j] = 0;
        lfm_quantize_row(wt, w, wq, N);
        float wd[N];
        lfm_dequantize_row(wt, wq, wd, N);
        /* one-hot activations pick single decoded weights */
        for (int k = 0; k < N; k += 37) {
            memset(a, 0, sizeof a);
            a[k] = 1.0f;
            lfm_quantize_act_row(at, a, aq, N);
            float got;
            lfm_vec_dot(wt, N, wq, aq, &got);
            /* the encoded 1.0 is exact (127 * (1/127) rounds within 2^-11),
             * the all-zero blocks contribute nothing */
            float ad[N];
            lfm_dequantize_row(at, aq, ad, N);
            double want = (double)wd[k] * ad[k];
            /* float rounding, plus for Q4_1/Q5_1 the precomputed s (see
             * check_dots: |m| 2^-10 |ad| at most) */
            float off[N];
            offset_magnitudes(wt, wq, N, off);
            double tol = 1e-5 * (fabs(want) + fabs(wd[k]) + off[k]) +
                         off[k] * fabs(ad[k]) * 2 * U_F16 * 1.01;
            if (!(fabs(got - want) <= tol))
                fail_msg("%s one-hot %d: %.9g vs %.9g", lfm_type_name(wt), k, got, want);
        }
    }
}

/* ---- quantize -> dequantize ---------------------------------------------- */

/* Legacy types, per element (t = x/d the position on the code grid):
 *   Q8_0  d = amax/127, roundf:          |err| <= d*(0.5 + 127*2^-11) (+u)
 *   Q4_0  d = max/-8, codes t+8 clamped at 15: half a step, or one step for
 *         the t > 7.5 end the clamp cuts; plus 8 |d| 2^-11 for half(d)
 *   Q5_0  the same with 16
 *   Q4_1  d = (max-min)/15, m = min:     d*(0.5 + 15*2^-11) + |min| 2^-11
 *   Q5_1  the same with 31 */
static double legacy_bound(uint32_t t, const float *x, int j) {
    float amax = 0, max = 0, mn = FLT_MAX, mx = -FLT_MAX;
    for (int i = 0; i < 32; i++) {
        if (amax < fabsf(x[i])) {
            amax = fabsf(x[i]);
            max = x[i];
        }
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    const double slack = 1 + 1e-5;
    switch (t) {
    case LFM_TYPE_Q8_0: return amax / 127.0 * (0.5 + 127 * U_F16) * slack;
    case LFM_TYPE_Q4_0:
    case LFM_TYPE_Q5_0: {
        const double half = t == LFM_TYPE_Q4_0 ? 8 : 16;
        if (max == 0) return 0;
        const double d = max / -half, pos = x[j] / d;
        return (fabs(d) * (pos > half - 0.5 ? 1.0 : 0.5) + half * fabs(d) * U_F16) * slack;
    }
    default: {
        const double levels = t == LFM_TYPE_Q4_1 ? 15 : 31;
        const double d = ((double)mx - mn) / levels;
        return (d * (0.5 + levels * U_F16) + fabs(mn) * U_F16) * slack + 1e-30;
    }
    }
}

/* k-quants: codes are recomputed with the final (quantized) sub-block scale
 * D and offset M (x ~ D*l - M), so each element must decode to the grid
 * point nearest to it: |err| <= min_l |D*l - M - x| (+ float rounding).
 * Returns the grid of element j: D, M and the code range. */
static void kquant_grid(uint32_t t, const void *blk, int j, double *D, double *M, int *lo,
                        int *hi) {
    *M = 0;
    switch (t) {
    case LFM_TYPE_Q2_K: {
        const block_q2_K *b = blk;
        *D = lfm_fp16_to_f32(b->d) * (double)(b->scales[j / 16] & 0xF);
        *M = lfm_fp16_to_f32(b->dmin) * (double)(b->scales[j / 16] >> 4);
        *lo = 0, *hi = 3;
        break;
    }
    case LFM_TYPE_Q3_K: {
        const block_q3_K *b = blk;
        int sc[16];
        lfm_q3k_scales(b->scales, sc);
        *D = lfm_fp16_to_f32(b->d) * (double)sc[j / 16];
        *lo = -4, *hi = 3;
        break;
    }
    case LFM_TYPE_Q4_K:
    case LFM_TYPE_Q5_K: {
        const block_q4_K *b = blk; /* Q5_K starts with the same fields */
        uint8_t sc, m;
        lfm_scale_min_k4(j / 32, b->scales, &sc, &m);
        *D = lfm_fp16_to_f32(b->d) * (double)sc;
        *M = lfm_fp16_to_f32(b->dmin) * (double)m;
        *lo = 0, *hi = t == LFM_TYPE_Q4_K ? 15 : 31;
        break;
    }
    default: { /* Q6_K */
        const block_q6_K *b = blk;
        *D = lfm_fp16_to_f32(b->d) * (double)b->scales[j / 16];
        *lo = -32, *hi = 31;
        break;
    }
    }
}

static void test_roundtrip_bounds(void **state) {
    (void)state;
    rng_state = 5;
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *q = malloc(N * 2);
    assert_true(x && y && q);
    for (size_t i = 0; i < N_QTYPES; i++) {
        const uint32_t t = qtypes[i];
        const int bs = block_size(t);
        const size_t bb = (size_t)lfm_type_layout_get(t)->type_size;
        double worst = 0, se = 0, sx = 0;
        for (int trial = 0; trial < 10; trial++) {
            fill_weights(x, N);
            if (trial == 0) memset(x + 512, 0, 256 * sizeof(float)); /* zero blocks stay zero */
            lfm_quantize_row(t, x, q, N);
            lfm_dequantize_row(t, q, y, N);
            for (int e = 0; e < N; e++) {
                const int b = e / bs, j = e % bs;
                double err = fabs((double)y[e] - x[e]), bound;
                if (bs == 32) {
                    bound = legacy_bound(t, x + b * bs, j);
                } else {
                    double D, M;
                    int lo, hi;
                    kquant_grid(t, q + (size_t)b * bb, j, &D, &M, &lo, &hi);
                    double best = INFINITY;
                    for (int l = lo; l <= hi; l++)
                        best = fmin(best, fabs(D * l - M - x[e]));
                    /* decoding rounds up to 3 times on |D*l| + |M| */
                    bound = best + 4 * U_F32 * (fabs(D) * 32 + M) + 1e-30;
                }
                if (!(err <= bound))
                    fail_msg("%s elem %d: %.9g -> %.9g (err %.3g > bound %.3g)", lfm_type_name(t),
                             e, x[e], y[e], err, bound);
                if (bound > 0 && err / bound > worst) worst = err / bound;
                se += err * err;
                sx += (double)x[e] * x[e];
            }
        }
        print_message("  roundtrip %-5s rms err / rms x = %.4f, worst err/bound %.3f\n",
                      lfm_type_name(t), sqrt(se / sx), worst);
    }
    free(x), free(y), free(q);
}

/* ggml's own acceptance test (tests/test-quantize-fns.cpp): data
 * 0.1 + 2 cos(i + offset), 4096 values, error sqrt(sum err^2) / n below
 * 0.002, or 0.0075 for Q2_K and 0.0040 for Q3_K. */
static void test_ggml_quantize_fns_bound(void **state) {
    (void)state;
    enum { N = 32 * 128 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *q = malloc(N * 2);
    assert_true(x && y && q);
    for (int i = 0; i < N; i++)
        x[i] = 0.1f + 2 * cosf((float)i);
    for (size_t i = 0; i < N_QTYPES; i++) {
        const uint32_t t = qtypes[i];
        lfm_quantize_row(t, x, q, N);
        lfm_dequantize_row(t, q, y, N);
        double se = 0;
        for (int e = 0; e < N; e++)
            se += ((double)y[e] - x[e]) * ((double)y[e] - x[e]);
        const double err = sqrt(se) / N;
        const double lim = t == LFM_TYPE_Q2_K ? 0.0075 : t == LFM_TYPE_Q3_K ? 0.0040 : 0.002;
        print_message("  ggml total error %-5s %.6f (limit %.4f)\n", lfm_type_name(t), err, lim);
        assert_true(err < lim);
    }
    free(x), free(y), free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_support_table),
        cmocka_unit_test(test_golden_dequant),
        cmocka_unit_test(test_golden_requantize),
        cmocka_unit_test(test_act_q8_0_q8_1),
        cmocka_unit_test(test_act_q8_K),
        cmocka_unit_test(test_vec_dot),
        cmocka_unit_test(test_vec_dot_sensitivity),
        cmocka_unit_test(test_roundtrip_bounds),
        cmocka_unit_test(test_ggml_quantize_fns_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
