/* The public ABI: versions, statuses, NULL handling, every failure leaves
 * handles usable, and bad models are refused with a message naming the
 * problem.  Links the shared library like an application does. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gguf_builder.h"
#include "lfm2moe.h"
#include "test_files.h"

#define TINY_A GOLDEN_DIR "/tiny-a-f32.gguf"

static void expect_error(int st, int want, const char *needle) {
    if (st != want)
        fail_msg("status %d (%s), expected %d; message: %s", st, lfm2moe_status_string(st), want,
                 lfm2moe_last_error());
    if (needle && !strstr(lfm2moe_last_error(), needle))
        fail_msg("message '%s' does not mention '%s'", lfm2moe_last_error(), needle);
}

static void test_version_and_status(void **state) {
    (void)state;
    /* The library against meson's project version (passed by tests/meson.build
     * straight from project()), not against the header it was built from. */
    assert_string_equal(lfm2moe_version_string(), LFM2MOE_PROJECT_VERSION);
    unsigned major, minor, patch;
    assert_int_equal(sscanf(LFM2MOE_PROJECT_VERSION, "%u.%u.%u", &major, &minor, &patch), 3);
    assert_int_equal(lfm2moe_version(), major * 10000 + minor * 100 + patch);
    assert_int_equal(LFM2MOE_VERSION_NUMBER, lfm2moe_version());
    for (int st = 0; st >= LFM2MOE_ERR_INTERNAL; st--)
        assert_string_not_equal(lfm2moe_status_string(st), "unknown status");
    assert_string_equal(lfm2moe_status_string(12345), "unknown status");
}

static void test_null_arguments(void **state) {
    (void)state;
    lfm2moe_model *m = (lfm2moe_model *)1;
    expect_error(lfm2moe_model_load(NULL, NULL, &m), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    assert_null(m); /* out set to NULL on failure */
    expect_error(lfm2moe_model_load(TINY_A, NULL, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_model_load_from_memory(NULL, 10, NULL, &m), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    expect_error(lfm2moe_model_params_init(NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_session_params_init(NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    lfm2moe_session *s = (lfm2moe_session *)1;
    expect_error(lfm2moe_session_create(NULL, NULL, &s), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    assert_null(s);
    expect_error(lfm2moe_decode_step(NULL, (int32_t[]){1}, 1, 0), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    expect_error(lfm2moe_session_reset(NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_session_position(NULL, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_session_logits(NULL, -1, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_session_cancel(NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_model_get_info(NULL, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_model_architecture(NULL, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_model_meta_string(NULL, "k", NULL, 0, NULL), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    expect_error(lfm2moe_tokenize(NULL, "a", 1, 0, NULL, 0, NULL), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    /* the messages name the function called (LFM_CHECK_ARG* in base/errors.h) */
    expect_error(lfm2moe_model_get_info(NULL, NULL), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    assert_string_equal(lfm2moe_last_error(), "lfm2moe_model_get_info: NULL argument");
    expect_error(lfm2moe_session_create(NULL, NULL, &s), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    assert_string_equal(lfm2moe_last_error(), "lfm2moe_session_create: NULL model");
    expect_error(lfm2moe_decode_step(NULL, (int32_t[]){1}, 1, 0), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    assert_string_equal(lfm2moe_last_error(), "lfm2moe_decode_step: NULL argument");
    expect_error(lfm2moe_token_to_bytes(NULL, 0, NULL, 4, NULL), LFM2MOE_ERR_INVALID_ARGUMENT,
                 NULL);
    assert_string_equal(lfm2moe_last_error(), "lfm2moe_token_to_bytes: model is NULL");
    /* every *_free accepts NULL */
    lfm2moe_model_free(NULL);
    lfm2moe_session_free(NULL);
    lfm2moe_detokenizer_free(NULL);
    lfm2moe_tool_calls_free(NULL);
}

static void test_model_info(void **state) {
    (void)state;
    lfm2moe_model *m = NULL;
    lfm2moe_model_params mp;
    assert_int_equal(lfm2moe_model_params_init(&mp), 0);
    assert_int_equal(lfm2moe_model_load(TINY_A, &mp, &m), LFM2MOE_OK);
    lfm2moe_model_info in = {0};
    expect_error(lfm2moe_model_get_info(m, &in), LFM2MOE_ERR_INVALID_ARGUMENT, "struct_size");
    in.struct_size = sizeof in;
    assert_int_equal(lfm2moe_model_get_info(m, &in), LFM2MOE_OK);
    assert_int_equal(in.n_vocab, 1024);
    assert_int_equal(in.n_embd, 128);
    assert_int_equal(in.n_block, 8);
    assert_int_equal(in.n_head, 2);
    assert_int_equal(in.n_head_kv, 1);
    assert_int_equal(in.head_dim, 64);
    assert_int_equal(in.n_expert, 8);
    assert_int_equal(in.n_expert_used, 4);
    assert_int_equal(in.n_ff_expert, 64);
    assert_int_equal(in.n_dense_block, 2);
    assert_int_equal(in.n_attention_block, 2);
    assert_int_equal(in.conv_l_cache, 3);
    assert_int_equal(in.n_tensors, 84);
    int32_t op, ffn;
    assert_int_equal(lfm2moe_model_block_kind(m, 2, &op, &ffn), 0);
    assert_int_equal(op, LFM2MOE_BLOCK_ATTENTION);
    assert_int_equal(ffn, LFM2MOE_FFN_MOE);
    assert_int_equal(lfm2moe_model_block_kind(m, 1, &op, &ffn), 0);
    assert_int_equal(op, LFM2MOE_BLOCK_CONV);
    assert_int_equal(ffn, LFM2MOE_FFN_DENSE);
    expect_error(lfm2moe_model_block_kind(m, 8, &op, &ffn), LFM2MOE_ERR_NOT_FOUND, NULL);
    const char *arch;
    assert_int_equal(lfm2moe_model_architecture(m, &arch), 0);
    assert_string_equal(arch, "lfm2moe");

    char buf[64];
    size_t need = 0;
    assert_int_equal(lfm2moe_model_meta_string(m, "general.name", buf, sizeof buf, &need), 0);
    assert_string_equal(buf, "ref-tiny-a");
    assert_int_equal(need, 10);
    assert_int_equal(
        lfm2moe_model_meta_string(m, "lfm2moe.attention.head_count_kv", buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "[0, 0, 1, 0, 0, 0, 1, 0]");
    assert_int_equal(lfm2moe_model_meta_string(m, "lfm2moe.rope.freq_base", buf, sizeof buf, NULL),
                     0);
    assert_string_equal(buf, "1000000");
    assert_int_equal(
        lfm2moe_model_meta_string(m, "tokenizer.ggml.add_bos_token", buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "true");
    /* size query, then a truncated but terminated prefix */
    expect_error(lfm2moe_model_meta_string(m, "general.name", NULL, 0, &need),
                 LFM2MOE_ERR_BUFFER_TOO_SMALL, NULL);
    assert_int_equal(need, 10);
    expect_error(lfm2moe_model_meta_string(m, "general.name", buf, 4, &need),
                 LFM2MOE_ERR_BUFFER_TOO_SMALL, NULL);
    assert_string_equal(buf, "ref");
    expect_error(lfm2moe_model_meta_string(m, "no.such.key", buf, sizeof buf, NULL),
                 LFM2MOE_ERR_NOT_FOUND, "no.such.key");
    uint64_t nkv;
    const char *key;
    assert_int_equal(lfm2moe_model_meta_count(m, &nkv), 0);
    assert_int_equal(nkv, 28);
    assert_int_equal(lfm2moe_model_meta_key(m, 0, &key), 0);
    assert_string_equal(key, "general.architecture");
    expect_error(lfm2moe_model_meta_key(m, nkv, &key), LFM2MOE_ERR_NOT_FOUND, NULL);
    lfm2moe_tensor_info ti = {.struct_size = sizeof ti};
    assert_int_equal(lfm2moe_model_tensor_info(m, 0, &ti), 0);
    assert_string_equal(ti.name, "token_embd.weight");
    assert_string_equal(ti.type_name, "F32");
    assert_int_equal(ti.ne[0], 128);
    assert_int_equal(ti.ne[1], 1024);
    assert_int_equal(ti.size, 128 * 1024 * 4);
    lfm2moe_model_free(m);
}

static void test_load_failures(void **state) {
    (void)state;
    lfm2moe_model *m = NULL;
    expect_error(lfm2moe_model_load("/nonexistent/model.gguf", NULL, &m), LFM2MOE_ERR_IO,
                 "/nonexistent/model.gguf");
    expect_error(lfm2moe_model_load(GOLDEN_DIR, NULL, &m), LFM2MOE_ERR_IO, "regular file");
    expect_error(lfm2moe_model_load(GOLDEN_DIR "/prompt-a.txt", NULL, &m), LFM2MOE_ERR_BAD_FORMAT,
                 NULL);
    lfm2moe_model_params mp;
    lfm2moe_model_params_init(&mp);
    mp.struct_size = 8;
    expect_error(lfm2moe_model_load(TINY_A, &mp, &m), LFM2MOE_ERR_INVALID_ARGUMENT, "struct_size");
    assert_null(m);
}

static const int attn_blocks_a[] = {1};

static test_model_shape small_shape(void) {
    test_model_shape sh = {.n_vocab = 64,
                           .n_embd = 32,
                           .n_block = 3,
                           .n_head = 2,
                           .n_head_kv = 1,
                           .head_dim = 16,
                           .n_ff = 48,
                           .n_expert = 4,
                           .n_expert_used = 2,
                           .n_ff_exp = 32,
                           .n_dense = 1,
                           .l_cache = 3,
                           .attn_blocks = attn_blocks_a,
                           .n_attn = 1,
                           .tied = 1,
                           .seed = 7};
    return sh;
}

static void test_wrong_architecture(void **state) {
    (void)state;
    test_model_shape sh = small_shape();
    sh.arch = "llama";
    strbuf b = {0};
    gb_build_model(&b, &sh);
    lfm2moe_model *m = NULL;
    expect_error(lfm2moe_model_load_from_memory(b.data, b.len, NULL, &m),
                 LFM2MOE_ERR_UNSUPPORTED_ARCH, "'llama'");
    strbuf_free(&b);
    /* an lfm2moe-shaped file that says it is dense: the keys are looked
     * up under its own name */
    sh.arch = "lfm2";
    gb_build_model(&b, &sh);
    expect_error(lfm2moe_model_load_from_memory(b.data, b.len, NULL, &m), LFM2MOE_ERR_BAD_MODEL,
                 "ffn_gate");
    strbuf_free(&b);
    sh = small_shape();
    gb_build_model(&b, &sh);
    assert_int_equal(lfm2moe_model_load_from_memory(b.data, b.len, NULL, &m), LFM2MOE_OK);
    lfm2moe_model_free(m);
    strbuf_free(&b);
}

/* Dense LFM2 files: architecture "lfm2", every block dense, no experts;
 * the sliding window is reported, and a session whose chunks are smaller
 * than the context keeps a ring of window + n_batch - 1 positions (in
 * whole key blocks) per attention block instead of the whole context. */
static void test_dense_architecture_and_window(void **state) {
    (void)state;
    lfm2moe_model *d = NULL, *w = NULL;
    assert_int_equal(lfm2moe_model_load(GOLDEN_DIR "/tiny-d-f32.gguf", NULL, &d), LFM2MOE_OK);
    assert_int_equal(lfm2moe_model_load(GOLDEN_DIR "/tiny-d-swa-f32.gguf", NULL, &w), LFM2MOE_OK);
    const char *arch;
    assert_int_equal(lfm2moe_model_architecture(d, &arch), 0);
    assert_string_equal(arch, "lfm2");
    lfm2moe_model_info in = {.struct_size = sizeof in};
    assert_int_equal(lfm2moe_model_get_info(d, &in), LFM2MOE_OK);
    assert_int_equal(in.n_block, 6);
    assert_int_equal(in.n_expert, 0);
    assert_int_equal(in.n_dense_block, 6);
    assert_int_equal(in.n_ff, 384);
    assert_int_equal(in.n_attention_block, 2);
    assert_int_equal(in.sliding_window, 0);
    for (int32_t b = 0; b < in.n_block; b++) {
        int32_t op, ffn;
        assert_int_equal(lfm2moe_model_block_kind(d, b, &op, &ffn), 0);
        assert_int_equal(ffn, LFM2MOE_FFN_DENSE);
        assert_int_equal(op, b == 2 || b == 4 ? LFM2MOE_BLOCK_ATTENTION : LFM2MOE_BLOCK_CONV);
    }
    assert_int_equal(lfm2moe_model_get_info(w, &in), LFM2MOE_OK);
    assert_int_equal(in.sliding_window, 8);

    /* 2 attention blocks x K,V x 1 kv head x 64 floats per position */
    const uint64_t per_pos = 2 * 2 * 1 * 64 * sizeof(float);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 1024;
    sp.n_batch = 64;
    uint64_t full = 0, ring = 0;
    assert_int_equal(lfm2moe_session_memory_size(d, &sp, &full), 0);
    assert_int_equal(lfm2moe_session_memory_size(w, &sp, &ring), 0);
    /* the ring (8 + 63 -> 80 slots) and its rollback copy instead of 1024
     * positions; the window-sized attention scratch is smaller too */
    assert_true(full - ring >= (1024 - 2 * 80) * per_pos);
    assert_true(full - ring <= (1024 - 2 * 80) * per_pos + 64 * 1024);
    /* chunks as long as the context: a ring would not be smaller */
    sp.n_batch = 1024;
    assert_int_equal(lfm2moe_session_memory_size(d, &sp, &full), 0);
    assert_int_equal(lfm2moe_session_memory_size(w, &sp, &ring), 0);
    assert_true(full >= ring && full - ring < 64 * 1024);
    lfm2moe_model_free(d);

    /* a ring that has wrapped: a rewind that needs dropped positions and a
     * copy or a snapshot into another ring size are refused; a copy, and a
     * snapshot loaded, into the same ring size continue exactly like the
     * original */
    sp.n_ctx = 256;
    sp.n_batch = 8; /* ring of 8 + 7 -> 16 slots */
    sp.checkpoint_interval = 32;
    lfm2moe_session *s = NULL, *c = NULL;
    assert_int_equal(lfm2moe_session_create(w, &sp, &s), LFM2MOE_OK);
    int32_t toks[60];
    for (int i = 0; i < 60; i++)
        toks[i] = 10 + i;
    assert_int_equal(lfm2moe_decode_step(s, toks, 60, 0), LFM2MOE_OK);
    /* from the checkpoint at 32 the window needs 25..31; the ring holds 44..59 */
    expect_error(lfm2moe_session_rewind(s, 40), LFM2MOE_ERR_INVALID_ARGUMENT, "ring");
    size_t len = 0;
    assert_int_equal(lfm2moe_session_save(s, NULL, 0, &len), LFM2MOE_OK);
    uint8_t *snap = malloc(len);
    assert_non_null(snap);
    assert_int_equal(lfm2moe_session_save(s, snap, len, &len), LFM2MOE_OK);
    uint32_t version = 0;
    memcpy(&version, snap + 8, 4);
    assert_int_equal(version, 2); /* the ring's own layout (docs/session-format.md) */
    lfm2moe_session_params other = sp;
    other.n_batch = 16;
    expect_error(lfm2moe_session_copy(s, &other, &c), LFM2MOE_ERR_INVALID_ARGUMENT, "ring");
    lfm2moe_session *l = NULL, *o = NULL;
    assert_int_equal(lfm2moe_session_create(w, &other, &o), LFM2MOE_OK);
    assert_int_equal(lfm2moe_decode_step(o, toks, 3, 0), LFM2MOE_OK);
    expect_error(lfm2moe_session_load(o, snap, len), LFM2MOE_ERR_INVALID_ARGUMENT, "ring");
    int32_t pos = 0;
    assert_int_equal(lfm2moe_session_position(o, &pos), 0);
    assert_int_equal(pos, 3); /* unchanged */
    lfm2moe_session_free(o);
    assert_int_equal(lfm2moe_session_copy(s, &sp, &c), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_create(w, &sp, &l), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_load(l, snap, len), LFM2MOE_OK);
    /* saved again: the same bytes */
    uint8_t *again = malloc(len);
    size_t len2 = 0;
    assert_non_null(again);
    assert_int_equal(lfm2moe_session_save(l, again, len, &len2), LFM2MOE_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(snap, again, len);
    free(again);
    free(snap);
    /* 40 more tokens one at a time (the ring wraps again), then a batch:
     * every row bit-identical in the original, its copy and the loaded one */
    lfm2moe_session *const three[3] = {s, c, l};
    for (int i = 0; i < 41; i++) {
        const int32_t next = i < 40 ? 77 + i : 200;
        const float *orig = NULL, *other_logits = NULL;
        for (int k = 0; k < 3; k++)
            assert_int_equal(lfm2moe_decode_step(three[k], &next, 1, 0), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_logits(s, -1, &orig), LFM2MOE_OK);
        for (int k = 1; k < 3; k++) {
            assert_int_equal(lfm2moe_session_logits(three[k], -1, &other_logits), LFM2MOE_OK);
            assert_memory_equal(orig, other_logits, 1024 * sizeof(float));
        }
    }
    for (int k = 0; k < 3; k++)
        assert_int_equal(lfm2moe_decode_step(three[k], toks, 20, LFM2MOE_DECODE_ALL_LOGITS),
                         LFM2MOE_OK);
    for (int32_t row = 0; row < 20; row++) {
        const float *a = NULL, *b = NULL;
        assert_int_equal(lfm2moe_session_logits(s, row, &a), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_logits(l, row, &b), LFM2MOE_OK);
        assert_memory_equal(a, b, 1024 * sizeof(float));
    }
    lfm2moe_session_free(l);
    lfm2moe_session_free(c);
    lfm2moe_session_free(s);
    lfm2moe_model_free(w);

    /* an lfm2 file must carry its keys under lfm2.* */
    test_model_shape sh = small_shape();
    sh.n_dense = sh.n_block;
    sh.arch = "lfm2";
    strbuf b = {0};
    gb_build_model(&b, &sh);
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load_from_memory(b.data, b.len, NULL, &m), LFM2MOE_OK);
    lfm2moe_model_free(m);
    strbuf_free(&b);
}

/* Patch the tensor-info entry of `name` in a GGUF image: returns a pointer
 * to its n_dims field. */
static uint8_t *find_tensor_info(uint8_t *buf, size_t len, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 8; i + n + 4 < len; i++) {
        uint64_t l;
        memcpy(&l, buf + i - 8, 8);
        if (l == n && memcmp(buf + i, name, n) == 0) return buf + i + n;
    }
    fail_msg("tensor %s not found", name);
    return NULL;
}

static void test_unsupported_and_misshapen_tensors(void **state) {
    (void)state;
    size_t len;
    uint8_t *orig = (uint8_t *)test_read_file(GOLDEN_DIR "/tiny-q-q4_0.gguf", &len);
    uint8_t *buf = malloc(len);
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load_from_memory(orig, len, NULL, &m), LFM2MOE_OK);
    lfm2moe_model_free(m);

    /* Q4_0 -> IQ4_NL (same block size and bytes, not computable) */
    memcpy(buf, orig, len);
    uint8_t *p = find_tensor_info(buf, len, "blk.1.attn_q.weight");
    uint32_t nd;
    memcpy(&nd, p, 4);
    uint32_t type;
    memcpy(&type, p + 4 + 8 * nd, 4);
    assert_int_equal(type, 2); /* Q4_0 */
    type = 20;                 /* IQ4_NL */
    memcpy(p + 4 + 8 * nd, &type, 4);
    expect_error(lfm2moe_model_load_from_memory(buf, len, NULL, &m), LFM2MOE_ERR_UNSUPPORTED_TYPE,
                 "blk.1.attn_q.weight");
    assert_non_null(strstr(lfm2moe_last_error(), "IQ4_NL"));
    assert_null(m);

    /* a norm with the wrong length */
    memcpy(buf, orig, len);
    p = find_tensor_info(buf, len, "blk.0.ffn_norm.weight");
    uint64_t ne0 = 128;
    memcpy(p + 4, &ne0, 8);
    expect_error(lfm2moe_model_load_from_memory(buf, len, NULL, &m), LFM2MOE_ERR_BAD_MODEL,
                 "blk.0.ffn_norm.weight");

    /* a missing tensor (renamed) */
    memcpy(buf, orig, len);
    p = find_tensor_info(buf, len, "blk.2.ffn_up_exps.weight");
    memcpy(p - 10, "XX", 2);
    expect_error(lfm2moe_model_load_from_memory(buf, len, NULL, &m), LFM2MOE_ERR_BAD_MODEL,
                 "missing");
    free(buf);
    free(orig);
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_session_errors_leave_state(void **state) {
    (void)state;
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load(TINY_A, NULL, &m), LFM2MOE_OK);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 8;
    sp.n_threads = 2;
    uint64_t need = 0;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &need), 0);
    assert_true(need > 8 * 2 * 64 * 4);
    sp.max_memory = need - 1;
    lfm2moe_session *s = NULL;
    expect_error(lfm2moe_session_create(m, &sp, &s), LFM2MOE_ERR_LIMIT, "bytes");
    /* room for exactly one more row of logits (two buffers of n_vocab floats):
     * an ALL_LOGITS step of 2 tokens fits, one of 3 does not */
    sp.max_memory = need + 2 * 1024 * sizeof(float);
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_OK);

    const float *lg;
    expect_error(lfm2moe_session_logits(s, -1, &lg), LFM2MOE_ERR_NOT_FOUND, NULL);
    int32_t toks[] = {1, 6, 100, 200, 300};
    assert_int_equal(lfm2moe_decode_step(s, toks, 3, 0), LFM2MOE_OK);
    float before[1024];
    assert_int_equal(lfm2moe_session_logits(s, -1, &lg), 0);
    memcpy(before, lg, sizeof before);
    expect_error(lfm2moe_session_logits(s, 0, &lg), LFM2MOE_ERR_NOT_FOUND, "ALL_LOGITS");

    /* failures: nothing changes */
    int32_t bad[] = {5, 1024};
    expect_error(lfm2moe_decode_step(s, bad, 2, 0), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE, "1024");
    bad[1] = -1;
    expect_error(lfm2moe_decode_step(s, bad, 2, 0), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE, NULL);
    int32_t many[6] = {1, 2, 3, 4, 5, 6};
    expect_error(lfm2moe_decode_step(s, many, 6, 0), LFM2MOE_ERR_CONTEXT_FULL, "context");
    expect_error(lfm2moe_decode_step(s, toks, 0, 0), LFM2MOE_ERR_INVALID_ARGUMENT, NULL);
    expect_error(lfm2moe_decode_step(s, toks, 1, 0x80), LFM2MOE_ERR_INVALID_ARGUMENT, "flags");
    expect_error(lfm2moe_decode_step(s, toks, 3, LFM2MOE_DECODE_ALL_LOGITS), LFM2MOE_ERR_LIMIT,
                 "max_memory");
    int32_t pos;
    assert_int_equal(lfm2moe_session_position(s, &pos), 0);
    assert_int_equal(pos, 3);
    assert_int_equal(lfm2moe_session_logits(s, -1, &lg), 0);
    assert_memory_equal(lg, before, sizeof before);

    /* the session continues exactly as a fresh one that never saw the errors */
    assert_int_equal(lfm2moe_decode_step(s, toks + 3, 2, LFM2MOE_DECODE_ALL_LOGITS), 0);
    float cont[1024];
    assert_int_equal(lfm2moe_session_logits(s, 1, &lg), 0);
    memcpy(cont, lg, sizeof cont);
    lfm2moe_session *fresh = NULL;
    sp.max_memory = 0;
    assert_int_equal(lfm2moe_session_create(m, &sp, &fresh), 0);
    assert_int_equal(lfm2moe_decode_step(fresh, toks, 5, 0), 0);
    assert_int_equal(lfm2moe_session_logits(fresh, -1, &lg), 0);
    for (int i = 0; i < 1024; i++)
        assert_true(fabsf(lg[i] - cont[i]) <= 1e-4f);
    assert_int_equal(argmax(lg, 1024), argmax(cont, 1024));

    /* fill the context to the last slot, then one more is refused */
    assert_int_equal(lfm2moe_decode_step(s, many, 3, 0), 0);
    assert_int_equal(lfm2moe_session_position(s, &pos), 0);
    assert_int_equal(pos, 8);
    expect_error(lfm2moe_decode_step(s, many, 1, 0), LFM2MOE_ERR_CONTEXT_FULL, NULL);

    /* reset: the same tokens give the same logits again */
    assert_int_equal(lfm2moe_session_reset(s), 0);
    assert_int_equal(lfm2moe_session_position(s, &pos), 0);
    assert_int_equal(pos, 0);
    expect_error(lfm2moe_session_logits(s, -1, &lg), LFM2MOE_ERR_NOT_FOUND, NULL);
    assert_int_equal(lfm2moe_decode_step(s, toks, 3, 0), 0);
    assert_int_equal(lfm2moe_session_logits(s, -1, &lg), 0);
    assert_memory_equal(lg, before, sizeof before);

    sp.struct_size = 4;
    lfm2moe_session *bad_s = NULL;
    expect_error(lfm2moe_session_create(m, &sp, &bad_s), LFM2MOE_ERR_INVALID_ARGUMENT,
                 "struct_size");
    const lfm2moe_model *owner = NULL;
    assert_int_equal(lfm2moe_session_model(s, &owner), 0);
    assert_ptr_equal(owner, m);
    lfm2moe_session_free(fresh);
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
}

/* A header longer than the loader's first read (1 MiB): a model with a
 * 3 MiB metadata string array still loads, and every truncation of that
 * file inside the header is refused. */
static void test_large_header_and_truncated_files(void **state) {
    (void)state;
    test_model_shape sh = small_shape();
    strbuf model = {0};
    gb_build_model(&model, &sh);
    /* splice an extra key into the metadata: bump n_kv, insert after the header */
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    uint64_t n_kv;
    memcpy(&n_kv, model.data + 16, 8);
    n_kv++;
    gw_raw(&w, model.data, 16);
    gw_u64(&w, n_kv);
    gw_cstr(&w, "test.padding");
    gw_u32(&w, 9);
    gw_u32(&w, 8);
    gw_u64(&w, 100000);
    for (int i = 0; i < 100000; i++)
        gw_cstr(&w, "twenty-eight bytes of text!");
    size_t meta_end = b.len;
    gw_raw(&w, model.data + 24, model.len - 24);
    /* the data section must stay aligned: pad before it by re-building offsets
     * is not needed when the insertion is a multiple of 32 bytes */
    size_t inserted = meta_end - 24;
    int pad = (int)((32 - inserted % 32) % 32);
    if (pad) { /* lengthen the last string by `pad` bytes */
        strbuf fixed = {0};
        gguf_writer fixed_w = gw_memory(&fixed);
        gw_raw(&fixed_w, b.data, meta_end - 8 - 27);
        uint64_t l = 27 + (uint64_t)pad;
        gw_u64(&fixed_w, l);
        gw_raw(&fixed_w, "twenty-eight bytes of text!", 27);
        for (int i = 0; i < pad; i++)
            gw_raw(&fixed_w, "x", 1);
        gw_raw(&fixed_w, model.data + 24, model.len - 24);
        strbuf_free(&b);
        b = fixed;
    }
    char path[64];
    snprintf(path, sizeof path, "large-header-%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load(path, NULL, &m)) fail_msg("load: %s", lfm2moe_last_error());
    char val[16];
    size_t need = 0;
    expect_error(lfm2moe_model_meta_string(m, "test.padding", val, sizeof val, &need),
                 LFM2MOE_ERR_BUFFER_TOO_SMALL, NULL);
    assert_true(need > 2900000);
    lfm2moe_model_free(m);
    /* truncations inside and just after the header */
    size_t cuts[] = {100, 1u << 20, (1u << 20) + 5, 3u << 20, meta_end + 100, b.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
        int st = lfm2moe_model_load(path, NULL, &m);
        assert_true(st == LFM2MOE_ERR_BAD_FORMAT);
        assert_null(m);
        f = fopen(path, "wb");
        assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
        fclose(f);
    }
    unlink(path);
    strbuf_free(&b);
    strbuf_free(&model);
}

/* A call that succeeds leaves lfm2moe_last_error as it was: loading
 * models (whose optional metadata keys are absent), creating sessions,
 * decoding, tokenizing and rendering record nothing. */
static void test_last_error_after_success(void **state) {
    (void)state;
    const char *models[] = {TINY_A, GOLDEN_DIR "/tiny-q-q4_k_m.gguf",
                            SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        lfm2moe_model *m = NULL;
        assert_int_equal(lfm2moe_model_load(NULL, NULL, &m), LFM2MOE_ERR_INVALID_ARGUMENT);
        char before[512];
        snprintf(before, sizeof before, "%s", lfm2moe_last_error());
        assert_true(before[0] != '\0');
        assert_int_equal(lfm2moe_model_load(models[i], NULL, &m), LFM2MOE_OK);
        lfm2moe_session *s = NULL;
        assert_int_equal(lfm2moe_session_create(m, NULL, &s), LFM2MOE_OK);
        int32_t toks[16];
        size_t n = 0;
        assert_int_equal(
            lfm2moe_tokenize(m, "Hello world", 11, LFM2MOE_TOKENIZE_ADD_BOS, toks, 16, &n),
            LFM2MOE_OK);
        assert_int_equal(lfm2moe_decode_step(s, toks, (int32_t)n, 0), LFM2MOE_OK);
        const char *roles[] = {"user"}, *contents[] = {"Hi"};
        char out[256];
        size_t len = 0;
        assert_int_equal(lfm2moe_chat_render(m, roles, contents, 1, NULL, 0,
                                             LFM2MOE_CHAT_ADD_GENERATION_PROMPT, out, sizeof out,
                                             &len),
                         LFM2MOE_OK);
        assert_string_equal(lfm2moe_last_error(), before);
        lfm2moe_session_free(s);
        lfm2moe_model_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_status),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_model_info),
        cmocka_unit_test(test_load_failures),
        cmocka_unit_test(test_wrong_architecture),
        cmocka_unit_test(test_dense_architecture_and_window),
        cmocka_unit_test(test_unsupported_and_misshapen_tensors),
        cmocka_unit_test(test_session_errors_leave_state),
        cmocka_unit_test(test_large_header_and_truncated_files),
        cmocka_unit_test(test_last_error_after_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
