/* Golden logits: the library's output for the token ids of each reference
 * file, fed batched (prompt in one step, then one token at a time, as the
 * reference run did) and entirely one token at a time, compared with the
 * logits llama.cpp produced (tests/golden/README.md for the tolerances). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gld.h"
#include "golden_check.h"
#include "lfm2moe.h"

static void check_full(const char *stem, int kv_type, int n_batch, double max_abs, double rel_rms,
                       double argmax, int batched, int threads) {
    char path[1024], model[1024], err[256];
    snprintf(path, sizeof path, GOLDEN_DIR "/%s.gld", stem);
    snprintf(model, sizeof model, GOLDEN_DIR "/%s.gguf", stem);
    gld g;
    if (gld_read(path, 1, &g, err, sizeof err)) fail_msg("%s", err);
    float *logits = malloc((size_t)(g.n_prompt + g.n_gen) * (size_t)g.n_vocab * sizeof(float));
    golden_run(model, &g, batched, threads, kv_type, n_batch, logits);
    golden_stats r = golden_compare(&g, logits);
    static const char *const kv_names[] = {"", " kv f16", " kv q8_0"};
    print_message("%-16s%s %s t%d b%d: max|d| %.3g  rel rms %.3g  argmax %.1f%%\n", stem,
                  kv_names[kv_type], batched ? "batched " : "one-by-one", threads, n_batch,
                  r.max_abs, r.rel_rms, 100 * r.argmax_agree);
    if (max_abs > 0) assert_true(r.max_abs <= max_abs);
    if (rel_rms > 0) assert_true(r.rel_rms <= rel_rms);
    assert_true(r.argmax_agree >= argmax);
    free(logits);
    gld_free(&g);
}

static void check_kv(const char *stem, int kv_type, double max_abs, double rel_rms, double argmax,
                     int batched, int threads) {
    check_full(stem, kv_type, 0, max_abs, rel_rms, argmax, batched, threads);
}

static void check_chunked(const char *stem, double max_abs, double rel_rms, double argmax,
                          int batched, int threads, int n_batch) {
    check_full(stem, LFM2MOE_KV_F32, n_batch, max_abs, rel_rms, argmax, batched, threads);
}

static void check(const char *stem, double max_abs, double rel_rms, double argmax, int batched,
                  int threads) {
    check_full(stem, LFM2MOE_KV_F32, 0, max_abs, rel_rms, argmax, batched, threads);
}

/* F32 weights: max |d| <= 1e-4 on every row (measured 0.8e-5 to 3e-5 at
 * every ISA level; the golden README allows 1e-3), identical argmax */
#define F32_MAX_ABS 1e-4

static void test_tiny_a_f32(void **state) {
    (void)state;
    check("tiny-a-f32", F32_MAX_ABS, 0, 1.0, 1, 1);
    check("tiny-a-f32", F32_MAX_ABS, 0, 1.0, 0, 2);
    check("tiny-a-f32", F32_MAX_ABS, 0, 1.0, 1, 2);
}

/* Dense LFM2 (general.architecture "lfm2"): the same bound. */
static void test_tiny_d_f32(void **state) {
    (void)state;
    check("tiny-d-f32", F32_MAX_ABS, 0, 1.0, 1, 1);
    check("tiny-d-f32", F32_MAX_ABS, 0, 1.0, 0, 2);
    check("tiny-d-f32", F32_MAX_ABS, 0, 1.0, 1, 2);
}

/* Sliding window of 8 on a 54-token run: every row past the 8th sees only
 * the window.  With the default chunk the whole context is cached; with
 * chunks of 4 and 7 tokens the KV cache is a ring (16 slots) that wraps
 * within the prompt and during the greedy steps. */
static void test_tiny_d_swa_f32(void **state) {
    (void)state;
    check("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 1, 1);
    check("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 0, 2);
    check("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 1, 2);
    check_chunked("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 1, 2, 4);
    check_chunked("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 1, 1, 7);
    check_chunked("tiny-d-swa-f32", F32_MAX_ABS, 0, 1.0, 0, 2, 4);
}

/* Smaller KV caches against the same F32 goldens (README states these
 * bounds): F16 max |d| <= 0.05, Q8_0 relative RMS <= 0.07, argmax equal on
 * >= 95% of rows, prefilled in one batch and token by token. */
static void test_tiny_a_kv_types(void **state) {
    (void)state;
    for (int batched = 0; batched < 2; batched++) {
        check_kv("tiny-a-f32", LFM2MOE_KV_F16, 0.05, 0, 0.95, batched, 2);
        check_kv("tiny-a-f32", LFM2MOE_KV_Q8_0, 0, 0.07, 0.95, batched, 2);
        check_kv("tiny-q-f32", LFM2MOE_KV_F16, 0.05, 0, 0.95, batched, 1);
        check_kv("tiny-q-f32", LFM2MOE_KV_Q8_0, 0, 0.07, 0.95, batched, 1);
    }
}

static void test_tiny_q_f32(void **state) {
    (void)state;
    check("tiny-q-f32", F32_MAX_ABS, 0, 1.0, 1, 2);
    check("tiny-q-f32", F32_MAX_ABS, 0, 1.0, 0, 1);
}

/* F16 / BF16: max |d| <= 0.05 / 0.25 */
static void test_tiny_q_f16_bf16(void **state) {
    (void)state;
    check("tiny-q-f16", 0.05, 0, 1.0, 1, 2);
    check("tiny-q-f16", 0.05, 0, 1.0, 0, 2);
    check("tiny-q-bf16", 0.25, 0, 0.9, 1, 2);
    check("tiny-q-bf16", 0.25, 0, 0.9, 0, 2);
}

/* Quantized types (8-bit activations as the reference engine): relative RMS
 * <= 0.07 of the logits' spread, argmax agreeing on >= 90% of rows. */
static void test_tiny_q_quantized(void **state) {
    (void)state;
    static const char *types[] = {"q8_0", "q4_0",   "q4_1",   "q5_0",   "q5_1",
                                  "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char stem[64];
        snprintf(stem, sizeof stem, "tiny-q-%s", types[i]);
        check(stem, 0, 0.07, 0.9, 1, 2);
        check(stem, 0, 0.07, 0.9, 0, 1);
    }
}

/* Q4_0 / Q8_0 / Q4_K / Q5_K / Q6_K weights in the R16 layout, rewritten at load
 * (LFM2MOE_MODEL_REPACK) or written so (LFM2MOE_QUANTIZE_REPACK): where
 * the level has R16 kernels (AVX512_VNNI), logits bit-identical to the
 * row layout's; elsewhere (portable path: the scalar's float order) within
 * the same golden bounds.  Batched and one at a time, 2 threads (chunk
 * boundaries inside the matrices). */
static void test_tiny_q_repacked(void **state) {
    (void)state;
    static const char *types[] = {"q4_0", "q8_0", "q4_k_m", "q5_k_m", "q6_k"};
    int isa = -1;
    lfm2moe_isa_active(&isa);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (int batched = 0; batched < 2; batched++) {
            char path[1024], model[1024], packed[1024], err[256];
            snprintf(path, sizeof path, GOLDEN_DIR "/tiny-q-%s.gld", types[i]);
            snprintf(model, sizeof model, GOLDEN_DIR "/tiny-q-%s.gguf", types[i]);
            /* named per level: the levels run as parallel processes */
            snprintf(packed, sizeof packed, "test-golden-r16-%s-%s.gguf", lfm2moe_isa_name(isa),
                     types[i]);
            gld g;
            if (gld_read(path, 1, &g, err, sizeof err)) fail_msg("%s", err);
            lfm2moe_quantize_params qp;
            lfm2moe_quantize_params_init(&qp);
            qp.flags = LFM2MOE_QUANTIZE_REPACK;
            assert_int_equal(lfm2moe_model_quantize(model, packed, &qp), LFM2MOE_OK);
            /* an R16 file cannot be re-quantized (its types are not ggml's) */
            lfm2moe_quantize_params_init(&qp);
            char bad[1024];
            snprintf(bad, sizeof bad, "test-golden-r16-bad-%s.gguf", lfm2moe_isa_name(isa));
            assert_int_equal(lfm2moe_model_quantize(packed, bad, &qp),
                             LFM2MOE_ERR_UNSUPPORTED_TYPE);
            const size_t n = (size_t)(g.n_prompt + g.n_gen) * (size_t)g.n_vocab;
            float *rows = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
            golden_run(model, &g, batched, 2, LFM2MOE_KV_F32, 0, rows);
            for (int way = 0; way < 2; way++) {
                if (way == 0)
                    golden_run_flags(model, LFM2MOE_MODEL_REPACK, &g, batched, 2, LFM2MOE_KV_F32, 0,
                                     got);
                else
                    golden_run(packed, &g, batched, 2, LFM2MOE_KV_F32, 0, got);
                golden_stats r = golden_compare(&g, got);
                if (!(r.rel_rms <= 0.07 && r.argmax_agree >= 0.9))
                    fail_msg("%s %s, batched %d: rel rms %g, argmax agreement %g", types[i],
                             way ? "written R16" : "rewritten at load", batched, r.rel_rms,
                             r.argmax_agree);
                if (isa == LFM2MOE_ISA_AVX512_VNNI || way == 0)
                    assert_memory_equal(got, rows, n * sizeof(float));
            }
            remove(packed);
            free(rows);
            free(got);
            gld_free(&g);
        }
}

/* Usage: test_golden [LEVEL]
 * Every kernel level this CPU runs (lfm2moe_isa_set_max), scalar first,
 * must pass the same checks.  With a level name (tests/meson.build registers
 * one test per level of the build's architecture, so that the levels run in
 * parallel and each has its own time limit, which matters under emulation),
 * only that level; 77 (skipped) if this CPU does not have it. */
int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_a_f32),       cmocka_unit_test(test_tiny_d_f32),
        cmocka_unit_test(test_tiny_d_swa_f32),   cmocka_unit_test(test_tiny_a_kv_types),
        cmocka_unit_test(test_tiny_q_f32),       cmocka_unit_test(test_tiny_q_f16_bf16),
        cmocka_unit_test(test_tiny_q_quantized), cmocka_unit_test(test_tiny_q_repacked),
    };
    const char *only = argc > 1 ? argv[1] : NULL;
    int failed = 0, best = 0, ran = 0, known = 0;
    lfm2moe_isa_detected(&best);
    for (int isa = 0; isa <= 16; isa++) {
        if (only && strcmp(only, lfm2moe_isa_name(isa)) != 0) continue;
        known = 1;
        int active = -1;
        if (lfm2moe_isa_set_max(isa) != LFM2MOE_OK || lfm2moe_isa_active(&active) != LFM2MOE_OK ||
            active != isa)
            continue;
        char name[64];
        snprintf(name, sizeof name, "golden@%s", lfm2moe_isa_name(isa));
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
        ran++;
    }
    lfm2moe_isa_set_max(best);
    if (only && !known) {
        fprintf(stderr, "test_golden: no kernel level is called %s\n", only);
        return 1;
    }
    if (only && !ran) {
        printf("golden@%s: this CPU does not run that level; skipped\n", only);
        return 77;
    }
    return failed || ran == 0;
}
