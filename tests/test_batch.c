/* lfm2moe_decode_batch: the logits of several sessions decoded in one pass
 * equal those of separate lfm2moe_decode_step calls (within the F32 golden
 * tolerance, max |d| <= 0.01, and the same argmax), for mixed prompt
 * lengths, positions, cache types and contexts, with chunks that split a
 * session's tokens, at every ISA level; and every error leaves all the
 * sessions unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gld.h"
#include "lfm2moe.h"

#define TINY_A GOLDEN_DIR "/tiny-a-f32.gguf"
#define DEMO SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"
#define N_SEQ 4

static lfm2moe_model *load(const char *path) {
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load(path, NULL, &m)) fail_msg("load %s: %s", path, lfm2moe_last_error());
    return m;
}

static lfm2moe_session *session(const lfm2moe_model *m, int n_ctx, int n_batch, int kv_type) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    sp.n_threads = 2;
    sp.kv_type = kv_type;
    lfm2moe_session *s = NULL;
    if (lfm2moe_session_create(m, &sp, &s)) fail_msg("session: %s", lfm2moe_last_error());
    return s;
}

static int32_t n_vocab(const lfm2moe_model *m) {
    lfm2moe_model_info info = {.struct_size = sizeof info};
    assert_int_equal(lfm2moe_model_get_info(m, &info), LFM2MOE_OK);
    return info.n_vocab;
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Session i of the batch against its twin decoded alone: the same last
 * logits within 0.01, same argmax, same position. */
static void compare(lfm2moe_session *batched, lfm2moe_session *alone, int32_t n_vocab,
                    const char *what) {
    const float *a, *b;
    assert_int_equal(lfm2moe_session_logits(batched, -1, &a), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_logits(alone, -1, &b), LFM2MOE_OK);
    double worst = 0;
    for (int32_t v = 0; v < n_vocab; v++)
        worst = fmax(worst, fabs((double)a[v] - b[v]));
    if (!(worst <= 0.01) || argmax(a, n_vocab) != argmax(b, n_vocab))
        fail_msg("%s: batched logits differ from decode_step by %.3g (argmax %d vs %d)", what,
                 worst, argmax(a, n_vocab), argmax(b, n_vocab));
    int32_t pa, pb;
    lfm2moe_session_position(batched, &pa);
    lfm2moe_session_position(alone, &pb);
    assert_int_equal(pa, pb);
}

/* Rounds of batches over N_SEQ sessions: a first round of prompts of
 * different lengths, then rounds mixing single tokens (decode) and runs of
 * a few tokens, each session at its own position.  Sessions differ in
 * n_ctx (the largest one drives), cache type, and the driver's n_batch (5)
 * splits the stacked rows into chunks that cut sessions in two. */
static void check_model(const char *path, const char *stem) {
    char err[256];
    gld g;
    char gpath[1024];
    snprintf(gpath, sizeof gpath, GOLDEN_DIR "/%s.gld", stem);
    if (gld_read(gpath, 0, &g, err, sizeof err)) fail_msg("%s", err);
    const int32_t n_tok = g.n_prompt + g.n_gen;
    lfm2moe_model *m = load(path);
    const int32_t V = n_vocab(m);
    static const int ctx[N_SEQ] = {96, 128, 80, 112};
    static const int kv[N_SEQ] = {LFM2MOE_KV_F32, LFM2MOE_KV_F32, LFM2MOE_KV_F16, LFM2MOE_KV_Q8_0};
    for (int batch_rows = 5; batch_rows <= 64; batch_rows += 59) {
        lfm2moe_session *bs[N_SEQ], *solo[N_SEQ];
        for (int i = 0; i < N_SEQ; i++) {
            bs[i] = session(m, ctx[i], batch_rows, kv[i]);
            solo[i] = session(m, ctx[i], batch_rows, kv[i]);
        }
        static const int32_t rounds[][N_SEQ] = {
            {7, 1, 12, 3}, {1, 1, 1, 1}, {1, 4, 1, 2}, {9, 1, 1, 1}, {1, 1, 6, 1}, {1, 1, 1, 1},
        };
        int32_t used[N_SEQ] = {0};
        for (size_t r = 0; r < sizeof rounds / sizeof rounds[0]; r++) {
            const int32_t *toks[N_SEQ];
            for (int i = 0; i < N_SEQ; i++) {
                /* each session reads the golden tokens from its own offset */
                toks[i] = g.tokens + (i * 5 + used[i]) % (n_tok - 16);
                assert_int_equal(lfm2moe_decode_step(solo[i], toks[i], rounds[r][i], 0),
                                 LFM2MOE_OK);
            }
            assert_int_equal(lfm2moe_decode_batch(bs, toks, rounds[r], N_SEQ), LFM2MOE_OK);
            for (int i = 0; i < N_SEQ; i++) {
                char what[160];
                snprintf(what, sizeof what, "%s n_batch %d round %zu session %d", stem, batch_rows,
                         r, i);
                compare(bs[i], solo[i], V, what);
                used[i] += rounds[r][i];
            }
        }
        /* a subset in another order: sessions join and leave freely */
        lfm2moe_session *sub[2] = {bs[3], bs[1]};
        const int32_t one[2] = {1, 1}, *st[2] = {g.tokens + 3, g.tokens + 4};
        assert_int_equal(lfm2moe_decode_batch(sub, st, one, 2), LFM2MOE_OK);
        assert_int_equal(lfm2moe_decode_step(solo[3], g.tokens + 3, 1, 0), LFM2MOE_OK);
        assert_int_equal(lfm2moe_decode_step(solo[1], g.tokens + 4, 1, 0), LFM2MOE_OK);
        compare(bs[3], solo[3], V, "subset 0");
        compare(bs[1], solo[1], V, "subset 1");
        for (int i = 0; i < N_SEQ; i++) {
            lfm2moe_session_free(bs[i]);
            lfm2moe_session_free(solo[i]);
        }
    }
    lfm2moe_model_free(m);
    gld_free(&g);
}

static void test_tiny_a(void **state) {
    (void)state;
    check_model(TINY_A, "tiny-a-f32");
}

static void test_demo(void **state) {
    (void)state;
    check_model(DEMO, "demo-ref");
}

/* Every failure leaves every session as it was: position and logits. */
static void test_errors(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY_A), *other = load(DEMO);
    const int32_t V = n_vocab(m);
    lfm2moe_session *s[3] = {session(m, 16, 0, 0), session(m, 32, 0, 0), session(m, 16, 0, 1)};
    lfm2moe_session *o = session(other, 16, 0, 0);
    const int32_t t5[5] = {1, 2, 3, 4, 5}, *toks[3] = {t5, t5, t5}, n3[3] = {2, 3, 1};
    assert_int_equal(lfm2moe_decode_batch(s, toks, n3, 3), LFM2MOE_OK);
    float *before = malloc(3 * (size_t)V * sizeof(float));
    for (int i = 0; i < 3; i++) {
        const float *l;
        assert_int_equal(lfm2moe_session_logits(s[i], -1, &l), LFM2MOE_OK);
        memcpy(before + (size_t)i * V, l, (size_t)V * sizeof(float));
    }
    const int32_t bad[2] = {7, 99999}, *tb[3] = {t5, bad, t5}, nb[3] = {1, 2, 1};
    static const int32_t t16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const int32_t *tbig[3] = {t5, t5, t16};
    const int32_t zero[3] = {1, 0, 1}, big[3] = {1, 1, 16}, *tnull[3] = {t5, NULL, t5};
    lfm2moe_session *dup[3] = {s[0], s[1], s[0]}, *mixed[3] = {s[0], o, s[2]};
    lfm2moe_session *with_null[3] = {s[0], NULL, s[2]};
    const int32_t ones[3] = {1, 1, 1};
    assert_int_equal(lfm2moe_decode_batch(NULL, toks, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, NULL, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, toks, NULL, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, toks, ones, 0), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(with_null, toks, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, tnull, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, toks, zero, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(dup, toks, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(mixed, toks, ones, 3), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_decode_batch(s, tb, nb, 3), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    /* session 2 holds 1 of 16 positions: 16 more do not fit */
    assert_int_equal(lfm2moe_decode_batch(s, tbig, big, 3), LFM2MOE_ERR_CONTEXT_FULL);
    const int32_t expect_pos[3] = {2, 3, 1};
    for (int i = 0; i < 3; i++) {
        int32_t pos;
        const float *l;
        lfm2moe_session_position(s[i], &pos);
        assert_int_equal(pos, expect_pos[i]);
        assert_int_equal(lfm2moe_session_logits(s[i], -1, &l), LFM2MOE_OK);
        assert_memory_equal(l, before + (size_t)i * V, (size_t)V * sizeof(float));
    }
    /* and the sessions still work */
    assert_int_equal(lfm2moe_decode_batch(s, toks, ones, 3), LFM2MOE_OK);
    free(before);
    for (int i = 0; i < 3; i++)
        lfm2moe_session_free(s[i]);
    lfm2moe_session_free(o);
    lfm2moe_model_free(m);
    lfm2moe_model_free(other);
}

/* Q8_0 needs whole 32-dimension groups per head; bad kv_type values are
 * refused. */
static void test_kv_type_params(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY_A);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    assert_int_equal(sp.kv_type, LFM2MOE_KV_F32);
    lfm2moe_session *s = NULL;
    uint64_t f32 = 0, f16 = 0, q8 = 0;
    sp.n_ctx = 4096;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &f32), LFM2MOE_OK);
    sp.kv_type = LFM2MOE_KV_F16;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &f16), LFM2MOE_OK);
    sp.kv_type = LFM2MOE_KV_Q8_0;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &q8), LFM2MOE_OK);
    /* tiny-a: 2 attention blocks, 1 kv head of 64: 256 elements per token */
    assert_true(f32 - f16 == 4096ull * 256 * 2);
    assert_true(f16 - q8 == 4096ull * 256 * 2 - 4096ull * 256 * 34 / 32);
    sp.kv_type = 3;
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_ERR_INVALID_ARGUMENT);
    sp.kv_type = -1;
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_null(s);
    lfm2moe_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_a),
        cmocka_unit_test(test_demo),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_kv_type_params),
    };
    /* every kernel level this CPU runs, scalar first */
    int failed = 0, best = 0, ran = 0;
    lfm2moe_isa_detected(&best);
    for (int isa = 0; isa <= 16; isa++) {
        int active = -1;
        if (lfm2moe_isa_set_max(isa) != LFM2MOE_OK || lfm2moe_isa_active(&active) != LFM2MOE_OK ||
            active != isa)
            continue;
        char name[64];
        snprintf(name, sizeof name, "batch@%s", lfm2moe_isa_name(isa));
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
        ran++;
    }
    lfm2moe_isa_set_max(best);
    return failed || ran == 0;
}
