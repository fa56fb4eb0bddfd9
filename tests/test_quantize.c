/* lfm2moe_model_quantize: quantizing the golden F32 model with each file
 * type reproduces the reference engine's files tensor for tensor (same type
 * choices, byte-identical blocks), and the result loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/gguf.h"
#include "lfm2moe.h"
#include "r16.h"
#include "test_files.h"

static void check_against_golden(const char *stem, int ftype) {
    char golden[512], out[512];
    snprintf(golden, sizeof golden, GOLDEN_DIR "/tiny-q-%s.gguf", stem);
    snprintf(out, sizeof out, "quantize-test-%s-%d.gguf", stem, (int)getpid());
    lfm2moe_quantize_params qp;
    assert_int_equal(lfm2moe_quantize_params_init(&qp), 0);
    qp.ftype = ftype;
    int st = lfm2moe_model_quantize(GOLDEN_DIR "/tiny-q-f32.gguf", out, &qp);
    if (st) fail_msg("quantize %s: %s", stem, lfm2moe_last_error());
    size_t na, nb;
    void *a = test_read_file(out, &na), *b = test_read_file(golden, &nb);
    gguf_file ga, gb;
    assert_int_equal(gguf_parse(a, na, &ga), 0);
    assert_int_equal(gguf_parse(b, nb, &gb), 0);
    assert_int_equal(ga.n_tensors, gb.n_tensors);
    int identical = 0;
    for (uint64_t i = 0; i < gb.n_tensors; i++) {
        const gguf_tensor *tb = &gb.tensors[i], *ta = gguf_find_tensor(&ga, tb->name);
        assert_non_null(ta);
        if (ta->type != tb->type)
            fail_msg("%s: %s is type %u, reference %u", stem, tb->name, ta->type, tb->type);
        assert_int_equal(ta->nbytes, tb->nbytes);
        if (memcmp(ta->data, tb->data, (size_t)tb->nbytes))
            fail_msg("%s: %s differs from the reference", stem, tb->name);
        identical++;
    }
    int64_t fa = -1, fb = -2;
    gguf_get_i64(&ga, "general.file_type", &fa);
    gguf_get_i64(&gb, "general.file_type", &fb);
    assert_int_equal(fa, fb);
    assert_int_equal(ga.n_kv, gb.n_kv);
    print_message("%-7s %d tensors identical to llama-quantize's\n", stem, identical);
    gguf_free(&ga);
    gguf_free(&gb);
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load(out, NULL, &m), 0);
    lfm2moe_model_free(m);
    free(a);
    free(b);
    unlink(out);
}

static void test_reproduces_reference_files(void **state) {
    (void)state;
    static const char *names[] = {"q8_0",   "q4_0",   "q4_1",   "q5_0", "q5_1", "q2_k",
                                  "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "f16",  "bf16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int ft = -1;
        assert_int_equal(lfm2moe_ftype_from_name(names[i], &ft), 0);
        assert_non_null(lfm2moe_ftype_name(ft));
        check_against_golden(names[i], ft);
    }
}

static int cancel_at_half(void *user, uint64_t done, uint64_t total) {
    (void)user;
    return done * 2 >= total;
}

static void test_errors(void **state) {
    (void)state;
    lfm2moe_quantize_params qp;
    lfm2moe_quantize_params_init(&qp);
    assert_int_equal(qp.ftype, LFM2MOE_FTYPE_Q4_K_M);
    int ft;
    assert_int_equal(lfm2moe_ftype_from_name("q4_k_m", &ft), 0);
    assert_int_equal(ft, LFM2MOE_FTYPE_Q4_K_M);
    assert_int_equal(lfm2moe_ftype_from_name("iq2_xxs", &ft), LFM2MOE_ERR_NOT_FOUND);
    assert_null(lfm2moe_ftype_name(999));
    qp.ftype = 999;
    assert_int_equal(lfm2moe_model_quantize(GOLDEN_DIR "/tiny-q-f32.gguf", "x.gguf", &qp),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    qp.ftype = LFM2MOE_FTYPE_Q8_0;
    assert_int_equal(lfm2moe_model_quantize("/nonexistent.gguf", "x.gguf", &qp), LFM2MOE_ERR_IO);
    assert_int_equal(
        lfm2moe_model_quantize(GOLDEN_DIR "/tiny-q-f32.gguf", "/nonexistent-dir/x.gguf", &qp),
        LFM2MOE_ERR_IO);
    qp.progress = cancel_at_half;
    assert_int_equal(lfm2moe_model_quantize(GOLDEN_DIR "/tiny-q-f32.gguf", "cancelled.gguf", &qp),
                     LFM2MOE_ERR_CANCELLED);
    assert_int_equal(access("cancelled.gguf", F_OK), -1); /* nothing left behind */
    assert_int_equal(access("cancelled.gguf.part", F_OK), -1);
}

/* A repacked file names its R16 layout (r16.h); a build refuses the R16
 * tensors of a layout it does not read, with a message that says to
 * repack, and reads those that did not change (layout 1 differs from 2
 * only in Q6_K). */
static int load_with_layout(const char *packed, uint32_t layout) {
    size_t n;
    uint8_t *img = (uint8_t *)test_read_file(packed, &n);
    const size_t kl = strlen(LFM_R16_LAYOUT_KEY);
    uint8_t *at = NULL;
    for (size_t i = 0; i + kl + 8 <= n && !at; i++)
        if (!memcmp(img + i, LFM_R16_LAYOUT_KEY, kl)) at = img + i + kl + 4; /* after the type */
    assert_non_null(at);
    memcpy(at, &layout, 4);
    char path[256];
    snprintf(path, sizeof path, "quantize-layout-%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, n, f), n);
    fclose(f);
    free(img);
    lfm2moe_model *m = NULL;
    const int st = lfm2moe_model_load(path, NULL, &m);
    lfm2moe_model_free(m);
    unlink(path);
    return st;
}

static void test_repack_layout(void **state) {
    (void)state;
    static const struct {
        const char *stem;
        int layout1_ok; /* no Q6_K tensor */
    } cases[] = {{"q8_0", 1}, {"q6_k", 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char in[512], out[256];
        snprintf(in, sizeof in, GOLDEN_DIR "/tiny-q-%s.gguf", cases[c].stem);
        snprintf(out, sizeof out, "quantize-repack-%d.gguf", (int)getpid());
        lfm2moe_quantize_params qp;
        lfm2moe_quantize_params_init(&qp);
        qp.flags = LFM2MOE_QUANTIZE_REPACK;
        assert_int_equal(lfm2moe_model_quantize(in, out, &qp), 0);
        size_t n;
        void *img = test_read_file(out, &n);
        gguf_file g;
        assert_int_equal(gguf_parse(img, n, &g), 0);
        int64_t v = 0;
        assert_int_equal(gguf_get_i64(&g, LFM_R16_LAYOUT_KEY, &v), 0);
        assert_int_equal(v, LFM_R16_LAYOUT);
        gguf_free(&g);
        free(img);
        assert_int_equal(load_with_layout(out, LFM_R16_LAYOUT), 0);
        assert_int_equal(load_with_layout(out, LFM_R16_LAYOUT + 1), LFM2MOE_ERR_UNSUPPORTED_TYPE);
        assert_non_null(strstr(lfm2moe_last_error(), "repack"));
        assert_int_equal(load_with_layout(out, 1),
                         cases[c].layout1_ok ? 0 : LFM2MOE_ERR_UNSUPPORTED_TYPE);
        unlink(out);
    }
}

/* A synthesized model carries a working tokenizer of its vocabulary size:
 * the LFM2 special tokens at their ids, text round-trips, common letter
 * pairs merge into one token. */
static void test_synth_tokenizer(void **state) {
    (void)state;
    char out[64];
    snprintf(out, sizeof out, "synth-test-%d.gguf", (int)getpid());
    lfm2moe_synth_params sp;
    lfm2moe_synth_params_init(&sp);
    sp.shape = "tiny";
    assert_int_equal(lfm2moe_model_synthesize(out, &sp), 0);
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load(out, NULL, &m), 0);
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    assert_int_equal(lfm2moe_vocab_get_info(m, &vi), 0);
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    assert_int_equal(lfm2moe_model_get_info(m, &mi), 0);
    assert_int_equal(vi.n_vocab, mi.n_vocab);
    assert_int_equal(vi.bos, 1);
    assert_int_equal(vi.eos, 7);
    assert_int_equal(vi.end_of_turn, 7);
    static const char text[] = "<|im_start|>user\nthe end, \xc3\xa9t\xc3\xa9!<|im_end|>";
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(lfm2moe_tokenize(m, text, sizeof text - 1,
                                      LFM2MOE_TOKENIZE_ADD_BOS | LFM2MOE_TOKENIZE_PARSE_SPECIAL,
                                      ids, 64, &n),
                     0);
    assert_true(n > 4 && n < sizeof text - 1); /* pairs merged */
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 6);
    assert_int_equal(ids[n - 1], 7);
    char back[128];
    size_t len = 0;
    assert_int_equal(lfm2moe_detokenize(m, ids + 1, n - 1, back, sizeof back, &len), 0);
    assert_int_equal(len, sizeof text - 1);
    assert_memory_equal(back, text, len);
    int32_t th = -1;
    assert_int_equal(lfm2moe_token_lookup(m, "th", 2, &th), 0);
    assert_int_equal(lfm2moe_tokenize(m, "th", 2, 0, ids, 64, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], th);
    lfm2moe_model_free(m);
    remove(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproduces_reference_files),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_repack_layout),
        cmocka_unit_test(test_synth_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
