/* Session history: exact rewind, token history, snapshots, forks, prefix
 * reuse in lfm2moe_generate.
 *  - rewind to every position of a 300-token sequence gives the logits of a
 *    fresh session bit for bit (tiny-a and the demo model, every ISA level,
 *    checkpoints every 16 tokens so most rewinds cross one, and none);
 *  - save -> load into a new session -> the same logits; copies continue
 *    identically and independently;
 *  - every truncation, 2,000 bit flips, forged values behind a valid
 *    checksum, another model's state, a too-small context: refused, the
 *    session unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lfm2moe.h"
#include "model/snapshot.h"

#define TINY GOLDEN_DIR "/tiny-a-f32.gguf"
#define TINY_Q GOLDEN_DIR "/tiny-q-q4_0.gguf"
#define DEMO SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"
#define N_SEQ 300
#define N_NEXT 3 /* logits compared after each rewind */

static lfm2moe_model *load(const char *path) {
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load(path, NULL, &m)) fail_msg("load %s: %s", path, lfm2moe_last_error());
    return m;
}

static int n_vocab(const lfm2moe_model *m) {
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    assert_int_equal(lfm2moe_model_get_info(m, &mi), LFM2MOE_OK);
    return mi.n_vocab;
}

static lfm2moe_session *session(const lfm2moe_model *m, int n_ctx, int threads, int interval) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    sp.checkpoint_interval = interval;
    lfm2moe_session *s = NULL;
    if (lfm2moe_session_create(m, &sp, &s)) fail_msg("session: %s", lfm2moe_last_error());
    return s;
}

static void sequence(int32_t *t, int n, int vocab, uint32_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)vocab);
    }
}

static void decode(lfm2moe_session *s, const int32_t *t, int n, uint32_t flags) {
    if (lfm2moe_decode_step(s, t, n, flags)) fail_msg("decode: %s", lfm2moe_last_error());
}

/* Logits of every token of the sequence from one fresh session, one step. */
static float *reference(const lfm2moe_model *m, const int32_t *t, int n, int V) {
    lfm2moe_session *s = session(m, 512, 1, 0);
    decode(s, t, n, LFM2MOE_DECODE_ALL_LOGITS);
    float *ref = malloc((size_t)n * (size_t)V * sizeof(float));
    assert_non_null(ref);
    for (int i = 0; i < n; i++) {
        const float *l;
        assert_int_equal(lfm2moe_session_logits(s, i, &l), LFM2MOE_OK);
        memcpy(ref + (size_t)i * V, l, (size_t)V * sizeof(float));
    }
    lfm2moe_session_free(s);
    return ref;
}

/* Decode t[pos .. pos+N_NEXT) and compare each row with the reference. */
static void expect_next(lfm2moe_session *s, const int32_t *t, int pos, const float *ref, int V,
                        const char *what) {
    int n = N_SEQ - pos < N_NEXT ? N_SEQ - pos : N_NEXT;
    if (n <= 0) return;
    decode(s, t + pos, n, LFM2MOE_DECODE_ALL_LOGITS);
    for (int i = 0; i < n; i++) {
        const float *l;
        assert_int_equal(lfm2moe_session_logits(s, i, &l), LFM2MOE_OK);
        if (memcmp(l, ref + (size_t)(pos + i) * V, (size_t)V * sizeof(float)))
            fail_msg("%s: logits of token %d differ after a rewind to %d", what, pos + i, pos);
    }
}

static void rewind_checks(const char *path, int interval, int step, int threads) {
    lfm2moe_model *m = load(path);
    const int V = n_vocab(m);
    int32_t t[N_SEQ];
    sequence(t, N_SEQ, V, 7);
    int detected = 0;
    lfm2moe_isa_detected(&detected);
    /* scalar, then every level of this CPU's ladder */
    int levels[8], n_levels = 0;
    levels[n_levels++] = LFM2MOE_ISA_SCALAR;
    for (int l = detected >= LFM2MOE_ISA_NEON ? LFM2MOE_ISA_NEON : 1; l <= detected; l++)
        levels[n_levels++] = l;
    for (int li = 0; li < n_levels; li++) {
        const int level = levels[li];
        assert_int_equal(lfm2moe_isa_set_max(level), LFM2MOE_OK);
        float *ref = reference(m, t, N_SEQ, V);
        char what[96];
        snprintf(what, sizeof what, "%s at %s, interval %d", path, lfm2moe_isa_name(level),
                 interval);
        /* the session under test: mixed step sizes */
        lfm2moe_session *s = session(m, 512, threads, interval);
        decode(s, t, 37, 0);
        for (int i = 37; i < 50; i++)
            decode(s, t + i, 1, 0);
        decode(s, t + 50, N_SEQ - 50, 0);
        /* every position, going down: each rewind from pos+N_NEXT to pos */
        for (int pos = N_SEQ; pos >= 0; pos -= step) {
            assert_int_equal(lfm2moe_session_rewind(s, pos), LFM2MOE_OK);
            int32_t at = -1;
            lfm2moe_session_position(s, &at);
            assert_int_equal(at, pos);
            expect_next(s, t, pos, ref, V, what);
        }
        /* long jumps: from the whole sequence back to every 29th position */
        for (int pos = 0; pos < N_SEQ; pos += 29) {
            int32_t at;
            lfm2moe_session_position(s, &at);
            if (at < N_SEQ) decode(s, t + at, N_SEQ - at, 0);
            assert_int_equal(lfm2moe_session_rewind(s, pos), LFM2MOE_OK);
            expect_next(s, t, pos, ref, V, what);
        }
        /* a fresh session that decoded only the prefix, token by token */
        const int probes[] = {1, 15, 16, 17, 150, 299};
        for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
            lfm2moe_session *f = session(m, 512, 1, interval);
            for (int i = 0; i < probes[k]; i++)
                decode(f, t + i, 1, 0);
            expect_next(f, t, probes[k], ref, V, what);
            lfm2moe_session_free(f);
        }
        lfm2moe_session_free(s);
        free(ref);
    }
    lfm2moe_isa_set_max(detected);
    lfm2moe_model_free(m);
}

static void test_rewind_tiny(void **state) {
    (void)state;
    rewind_checks(TINY, 16, 1, 2);    /* and 2 threads against the 1-thread reference */
    rewind_checks(TINY, 1000, 37, 1); /* no checkpoints: re-evaluate from 0 */
}

static void test_rewind_demo(void **state) {
    (void)state;
    rewind_checks(DEMO, 16, 1, 1);
    rewind_checks(DEMO, 0, 17, 1); /* the default interval */
}

/* Quantized weights take other kernels (activation encoding, integer dot
 * products): still batch-invariant. */
static void test_rewind_quantized(void **state) {
    (void)state;
    rewind_checks(TINY_Q, 16, 7, 1);
}

static void test_rewind_errors(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY);
    lfm2moe_session *s = session(m, 64, 1, 8);
    int32_t t[10];
    sequence(t, 10, n_vocab(m), 3);
    decode(s, t, 10, 0);
    assert_int_equal(lfm2moe_session_rewind(s, 11), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_session_rewind(s, -1), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_session_rewind(NULL, 0), LFM2MOE_ERR_INVALID_ARGUMENT);
    const float *l;
    assert_int_equal(lfm2moe_session_rewind(s, 10), LFM2MOE_OK); /* no-op keeps logits */
    assert_int_equal(lfm2moe_session_logits(s, -1, &l), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_rewind(s, 4), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_logits(s, -1, &l), LFM2MOE_ERR_NOT_FOUND);
    /* the history */
    int32_t buf[16];
    size_t n = 0;
    assert_int_equal(lfm2moe_session_tokens(s, buf, 16, &n), LFM2MOE_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, t, 4 * sizeof(int32_t));
    assert_int_equal(lfm2moe_session_tokens(s, NULL, 0, &n), LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 4);
    assert_int_equal(lfm2moe_session_tokens(s, buf, 2, &n), LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(lfm2moe_session_tokens(s, NULL, 2, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    /* checkpoints are counted in the memory size */
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 1024;
    uint64_t a, b;
    sp.checkpoint_interval = 1024;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &a), LFM2MOE_OK);
    sp.checkpoint_interval = 8;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &b), LFM2MOE_OK);
    /* 127 more checkpoints of 6 conv blocks x 2 rows x 128 floats */
    assert_int_equal(b - a, 127ull * 6 * 2 * 128 * 4 + 127);
    sp.max_memory = a + 1;
    lfm2moe_session *x = NULL;
    assert_int_equal(lfm2moe_session_create(m, &sp, &x), LFM2MOE_ERR_LIMIT);
    sp.checkpoint_interval = -1;
    assert_int_equal(lfm2moe_session_memory_size(m, &sp, &a), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
}

/* ---- snapshots and copies -------------------------------------------- */

static void *save(const lfm2moe_session *s, size_t *len) {
    assert_int_equal(lfm2moe_session_save(s, NULL, 0, len), LFM2MOE_OK);
    void *buf = malloc(*len);
    assert_non_null(buf);
    size_t got = 0;
    assert_int_equal(lfm2moe_session_save(s, buf, *len, &got), LFM2MOE_OK);
    assert_int_equal(got, *len);
    return buf;
}

/* Both sessions continue with the same tokens: same logits. */
static void same_future(lfm2moe_session *a, lfm2moe_session *b, const int32_t *t, int n, int V) {
    decode(a, t, n, LFM2MOE_DECODE_ALL_LOGITS);
    decode(b, t, n, LFM2MOE_DECODE_ALL_LOGITS);
    for (int i = 0; i < n; i++) {
        const float *la, *lb;
        assert_int_equal(lfm2moe_session_logits(a, i, &la), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_logits(b, i, &lb), LFM2MOE_OK);
        assert_memory_equal(la, lb, (size_t)V * sizeof(float));
    }
}

static void test_save_load(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY);
    const int V = n_vocab(m);
    int32_t t[260];
    sequence(t, 260, V, 11);
    lfm2moe_session *a = session(m, 512, 2, 16);
    decode(a, t, 200, 0);
    size_t len;
    void *snap = save(a, &len);
    /* proportional to the tokens: 100 tokens take about half */
    lfm2moe_session *h = session(m, 2048, 1, 16);
    decode(h, t, 100, 0);
    size_t len100;
    free(save(h, &len100));
    assert_true(len100 < len * 6 / 10);
    assert_int_equal(lfm2moe_session_save(a, snap, len - 1, &len), LFM2MOE_ERR_BUFFER_TOO_SMALL);

    /* into a new session with other threads and a bigger context */
    lfm2moe_session *b = session(m, 1024, 1, 16);
    decode(b, t + 5, 9, 0); /* whatever it held is replaced */
    assert_int_equal(lfm2moe_session_load(b, snap, len), LFM2MOE_OK);
    int32_t pos;
    lfm2moe_session_position(b, &pos);
    assert_int_equal(pos, 200);
    same_future(a, b, t + 200, 20, V);
    /* the checkpoints came along: rewinds are still exact */
    assert_int_equal(lfm2moe_session_rewind(a, 70), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_rewind(b, 70), LFM2MOE_OK);
    same_future(a, b, t + 70, 5, V);
    /* a session with another interval loads it too (no usable checkpoints) */
    lfm2moe_session *c = session(m, 512, 1, 10);
    assert_int_equal(lfm2moe_session_load(c, snap, len), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_rewind(c, 75), LFM2MOE_OK);
    assert_int_equal(lfm2moe_session_rewind(a, 75), LFM2MOE_OK);
    same_future(a, c, t + 75, 5, V);

    /* files */
    char path[64];
    snprintf(path, sizeof path, "/tmp/lfm2moe-test-session-%d.bin", (int)getpid());
    assert_int_equal(lfm2moe_session_save_file(a, path), LFM2MOE_OK);
    lfm2moe_session *d = session(m, 512, 1, 16);
    assert_int_equal(lfm2moe_session_load_file(d, path), LFM2MOE_OK);
    same_future(a, d, t + 80, 10, V);
    unlink(path);
    assert_int_equal(lfm2moe_session_load_file(d, path), LFM2MOE_ERR_IO);

    /* too small a context: refused, session unchanged */
    lfm2moe_session *e = session(m, 128, 1, 16);
    decode(e, t, 30, 0);
    assert_int_equal(lfm2moe_session_load(e, snap, len), LFM2MOE_ERR_CONTEXT_FULL);
    lfm2moe_session *e2 = session(m, 128, 1, 16);
    decode(e2, t, 30, 0);
    same_future(e, e2, t + 30, 4, V);

    lfm2moe_session *sessions[] = {a, b, c, d, e, e2, h};
    for (size_t i = 0; i < sizeof sessions / sizeof sessions[0]; i++)
        lfm2moe_session_free(sessions[i]);
    free(snap);
    lfm2moe_model_free(m);
}

static void put_u32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, 4);
}

static void reseal(unsigned char *p, size_t len) {
    uint64_t sum = lfm_snapshot_checksum(p, len - 8);
    memcpy(p + len - 8, &sum, 8);
}

/* Refused with `code`, and b still holds what it held. */
static void refused(lfm2moe_session *b, const void *data, size_t len, int code, const int32_t *held,
                    int n_held) {
    int st = lfm2moe_session_load(b, data, len);
    if (st != code)
        fail_msg("load of %zu bytes returned %d (%s), expected %d", len, st, lfm2moe_last_error(),
                 code);
    assert_true(strlen(lfm2moe_last_error()) > 0);
    int32_t now[64];
    size_t n = 0;
    assert_int_equal(lfm2moe_session_tokens(b, now, 64, &n), LFM2MOE_OK);
    assert_int_equal(n, (size_t)n_held);
    assert_memory_equal(now, held, (size_t)n_held * sizeof(int32_t));
}

static void test_corrupt_snapshots(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY);
    const int V = n_vocab(m);
    int32_t t[60];
    sequence(t, 60, V, 5);
    lfm2moe_session *a = session(m, 256, 1, 8);
    decode(a, t, 40, 0);
    size_t len;
    unsigned char *snap = save(a, &len);
    lfm2moe_session *b = session(m, 256, 1, 8);
    decode(b, t + 20, 12, 0);
    lfm2moe_session *ref = session(m, 256, 1, 8);
    decode(ref, t + 20, 12, 0);

    /* every truncation */
    for (size_t cut = 0; cut < len; cut++)
        refused(b, snap, cut, LFM2MOE_ERR_BAD_FORMAT, t + 20, 12);
    /* 2,000 single-bit flips */
    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    uint32_t seed = 99;
    for (int i = 0; i < 2000; i++) {
        memcpy(bad, snap, len);
        seed = seed * 1664525u + 1013904223u;
        size_t bit = (seed >> 3) % (len * 8);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int st = lfm2moe_session_load(b, bad, len);
        assert_true(st == LFM2MOE_ERR_BAD_FORMAT || st == LFM2MOE_ERR_INVALID_ARGUMENT);
    }
    refused(b, snap, 0, LFM2MOE_ERR_BAD_FORMAT, t + 20, 12);
    /* forged values behind a valid checksum: header at 96, tokens follow */
    struct {
        size_t at;
        uint32_t value;
        int code;
    } forged[] = {
        {8, 2, LFM2MOE_ERR_BAD_FORMAT},             /* version */
        {12, 64, LFM2MOE_ERR_BAD_FORMAT},           /* header size */
        {16, 1, LFM2MOE_ERR_INVALID_ARGUMENT},      /* model hash */
        {44, 64, LFM2MOE_ERR_INVALID_ARGUMENT},     /* n_embd */
        {72, 1, LFM2MOE_ERR_INVALID_ARGUMENT},      /* kv type */
        {76, 41, LFM2MOE_ERR_BAD_FORMAT},           /* n_tokens vs size */
        {76, 0x7fffffff, LFM2MOE_ERR_CONTEXT_FULL}, /* n_tokens */
        {76, 0x80000000u, LFM2MOE_ERR_BAD_FORMAT},  /* negative */
        {80, 0, LFM2MOE_ERR_BAD_FORMAT},            /* interval */
        {84, 6, LFM2MOE_ERR_BAD_FORMAT},            /* checkpoints > tokens / interval */
        {96, (uint32_t)V, LFM2MOE_ERR_BAD_FORMAT},  /* token out of range */
        {96 + 4 * 7, 0xffffffffu, LFM2MOE_ERR_BAD_FORMAT},
        {96 + 160, 0x7fc00000u, LFM2MOE_ERR_BAD_FORMAT}, /* NaN in the conv state */
        {len - 12, 0x7f800000u, LFM2MOE_ERR_BAD_FORMAT}, /* Inf in the KV cache */
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        memcpy(bad, snap, len);
        put_u32(bad + forged[i].at, forged[i].value);
        reseal(bad, len);
        refused(b, bad, len, forged[i].code, t + 20, 12);
    }
    /* checkpoint indices out of order: the first checkpoint's index */
    const size_t conv_bytes = 6 * 2 * 128 * 4;
    const size_t ck = 96 + 40 * 4 + conv_bytes;
    memcpy(bad, snap, len);
    put_u32(bad + ck, 5);
    reseal(bad, len);
    refused(b, bad, len, LFM2MOE_ERR_BAD_FORMAT, t + 20, 12);
    memcpy(bad, snap, len);
    memcpy(bad, "LFM2SESX", 8);
    refused(b, bad, len, LFM2MOE_ERR_BAD_FORMAT, t + 20, 12);

    /* another model's state: a different file with the same shapes, and
     * another shape */
    lfm2moe_model *q = load(TINY_Q);
    lfm2moe_session *qa = session(q, 256, 1, 8);
    int32_t tq[10];
    sequence(tq, 10, n_vocab(q), 5);
    decode(qa, tq, 10, 0);
    size_t qlen;
    void *qsnap = save(qa, &qlen);
    refused(b, qsnap, qlen, LFM2MOE_ERR_INVALID_ARGUMENT, t + 20, 12);
    lfm2moe_model *demo = load(DEMO);
    lfm2moe_session *da = session(demo, 256, 1, 8);
    decode(da, t, 10, 0);
    size_t dlen;
    void *dsnap = save(da, &dlen);
    refused(b, dsnap, dlen, LFM2MOE_ERR_INVALID_ARGUMENT, t + 20, 12);
    assert_int_equal(lfm2moe_session_load(NULL, snap, len), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_session_load(b, NULL, 5), LFM2MOE_ERR_INVALID_ARGUMENT);

    /* b is exactly as before: same future as its twin */
    same_future(b, ref, t + 32, 5, V);
    free(qsnap);
    free(dsnap);
    free(bad);
    free(snap);
    lfm2moe_session *all[] = {a, b, ref, qa, da};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lfm2moe_session_free(all[i]);
    lfm2moe_model_free(q);
    lfm2moe_model_free(demo);
    lfm2moe_model_free(m);
}

static void test_copy(void **state) {
    (void)state;
    lfm2moe_model *m = load(DEMO);
    const int V = n_vocab(m);
    int32_t t[200];
    sequence(t, 200, V, 17);
    lfm2moe_session *a = session(m, 256, 2, 16);
    decode(a, t, 100, 0);
    lfm2moe_session *b = NULL, *c = NULL;
    assert_int_equal(lfm2moe_session_copy(a, NULL, &b), LFM2MOE_OK);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 512;
    sp.n_threads = 1;
    sp.checkpoint_interval = 24;
    assert_int_equal(lfm2moe_session_copy(a, &sp, &c), LFM2MOE_OK);
    int32_t n_ctx;
    lfm2moe_session_context_length(b, &n_ctx);
    assert_int_equal(n_ctx, 256);
    /* the three continue identically */
    same_future(a, b, t + 100, 10, V);
    lfm2moe_session *a2 = NULL;
    assert_int_equal(lfm2moe_session_copy(a, NULL, &a2), LFM2MOE_OK);
    decode(c, t + 100, 10, 0);
    same_future(a2, c, t + 110, 10, V);
    /* and independently: b takes other tokens, a is unaffected */
    int32_t other[20];
    sequence(other, 20, V, 23);
    decode(b, other, 20, 0);
    assert_int_equal(lfm2moe_session_rewind(b, 60), LFM2MOE_OK);
    lfm2moe_session *fresh = session(m, 256, 1, 16);
    decode(fresh, t, 110, 0);
    same_future(a, fresh, t + 110, 10, V);
    assert_int_equal(lfm2moe_session_rewind(fresh, 60), LFM2MOE_OK);
    same_future(b, fresh, t + 60, 10, V);
    /* a copy smaller than what the source holds */
    sp.n_ctx = 64;
    lfm2moe_session *tiny = (lfm2moe_session *)1;
    assert_int_equal(lfm2moe_session_copy(a, &sp, &tiny), LFM2MOE_ERR_CONTEXT_FULL);
    assert_null(tiny);
    lfm2moe_session *all[] = {a, b, c, a2, fresh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lfm2moe_session_free(all[i]);
    lfm2moe_model_free(m);
}

/* F16 and Q8_0 caches: rewinds are exact, snapshots and copies carry the
 * cache bytes as they are; sessions decoded together by
 * lfm2moe_decode_batch keep their history and checkpoints too. */
static void test_kv_types_and_batches(void **state) {
    (void)state;
    lfm2moe_model *m = load(TINY);
    const int V = n_vocab(m);
    int32_t t[120];
    sequence(t, 120, V, 41);
    const int types[] = {LFM2MOE_KV_F16, LFM2MOE_KV_Q8_0};
    for (size_t k = 0; k < 2; k++) {
        lfm2moe_session_params sp;
        lfm2moe_session_params_init(&sp);
        sp.n_ctx = 256;
        sp.n_threads = 1;
        sp.checkpoint_interval = 16;
        sp.kv_type = types[k];
        lfm2moe_session *a = NULL, *b = NULL, *fresh = NULL, *c = NULL;
        assert_int_equal(lfm2moe_session_create(m, &sp, &a), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_create(m, &sp, &b), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_create(m, &sp, &fresh), LFM2MOE_OK);
        decode(a, t, 100, 0);
        size_t len;
        void *snap = save(a, &len);
        assert_int_equal(lfm2moe_session_load(b, snap, len), LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_copy(a, NULL, &c), LFM2MOE_OK);
        same_future(a, b, t + 100, 5, V);
        decode(c, t + 100, 5, 0);
        for (int pos = 99; pos > 0; pos -= 23) {
            assert_int_equal(lfm2moe_session_rewind(a, pos), LFM2MOE_OK);
            assert_int_equal(lfm2moe_session_rewind(c, pos), LFM2MOE_OK);
            lfm2moe_session_reset(fresh);
            decode(fresh, t, pos, 0);
            same_future(a, fresh, t + pos, 3, V);
            lfm2moe_session_rewind(fresh, pos);
            same_future(c, fresh, t + pos, 3, V);
        }
        /* a snapshot of another KV type is refused */
        lfm2moe_session *f32 = session(m, 256, 1, 16);
        assert_int_equal(lfm2moe_session_load(f32, snap, len), LFM2MOE_ERR_INVALID_ARGUMENT);
        free(snap);
        lfm2moe_session *all[] = {a, b, c, fresh, f32};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            lfm2moe_session_free(all[i]);
    }
    /* two sessions decoded by one batch call: tokens recorded, exact rewinds */
    lfm2moe_session *x = session(m, 256, 1, 8), *y = session(m, 256, 1, 8);
    decode(x, t, 10, 0);
    const int32_t *toks[2] = {t + 10, t + 50};
    const int32_t n[2] = {30, 20};
    lfm2moe_session *both[2] = {x, y};
    assert_int_equal(lfm2moe_decode_batch(both, toks, n, 2), LFM2MOE_OK);
    int32_t held[64];
    size_t nh = 0;
    assert_int_equal(lfm2moe_session_tokens(x, held, 64, &nh), LFM2MOE_OK);
    assert_int_equal(nh, 40);
    assert_memory_equal(held, t, 40 * sizeof(int32_t));
    assert_int_equal(lfm2moe_session_tokens(y, held, 64, &nh), LFM2MOE_OK);
    assert_int_equal(nh, 20);
    assert_memory_equal(held, t + 50, 20 * sizeof(int32_t));
    lfm2moe_session *fx = session(m, 256, 1, 8);
    decode(fx, t, 27, 0);
    assert_int_equal(lfm2moe_session_rewind(x, 27), LFM2MOE_OK); /* checkpoint 24 from the batch */
    same_future(x, fx, t + 27, 4, V);
    lfm2moe_session_free(x);
    lfm2moe_session_free(y);
    lfm2moe_session_free(fx);
    lfm2moe_model_free(m);
}

/* ---- prefix reuse in lfm2moe_generate -------------------------------- */

typedef struct text {
    char buf[4096];
    size_t n;
} text;

static int collect(void *ud, const char *piece, size_t len, int32_t token) {
    (void)token;
    text *x = ud;
    if (x->n + len < sizeof x->buf) {
        memcpy(x->buf + x->n, piece, len);
        x->n += len;
        x->buf[x->n] = 0;
    }
    return 0;
}

static void gen(lfm2moe_session *s, const int32_t *p, size_t n, uint32_t flags, text *out,
                lfm2moe_generate_result *r) {
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = 12;
    gp.sampling.temperature = 0;
    gp.flags = flags;
    gp.callback = collect;
    gp.user_data = out;
    out->n = 0;
    out->buf[0] = 0;
    r->struct_size = sizeof *r;
    if (lfm2moe_generate(s, p, n, &gp, r)) fail_msg("generate: %s", lfm2moe_last_error());
}

static void test_generate_reuse(void **state) {
    (void)state;
    lfm2moe_model *m = load(DEMO);
    int32_t conv[120];
    sequence(conv, 120, n_vocab(m), 31);
    lfm2moe_session *s = session(m, 256, 1, 16);
    lfm2moe_generate_result r;
    text a, b;
    gen(s, conv, 60, LFM2MOE_GENERATE_REUSE_PREFIX, &a, &r);
    assert_int_equal(r.n_prompt_reused, 0);
    assert_int_equal(r.n_prompt_tokens, 60);
    /* the whole conversation again, longer: only the new part is evaluated */
    gen(s, conv, 100, LFM2MOE_GENERATE_REUSE_PREFIX, &a, &r);
    assert_int_equal(r.n_prompt_reused, 60);
    assert_int_equal(r.n_prompt_tokens, 40);
    /* regenerate: the same conversation, one token evaluated for logits */
    gen(s, conv, 100, LFM2MOE_GENERATE_REUSE_PREFIX, &b, &r);
    assert_int_equal(r.n_prompt_reused, 99);
    assert_int_equal(r.n_prompt_tokens, 1);
    assert_string_equal(a.buf, b.buf);
    /* an edit at token 90: the rest from there */
    int32_t edited[100];
    memcpy(edited, conv, sizeof edited);
    edited[90] = (edited[90] + 1) % 1024;
    gen(s, edited, 100, LFM2MOE_GENERATE_REUSE_PREFIX, &a, &r);
    assert_int_equal(r.n_prompt_reused, 90);
    assert_int_equal(r.n_prompt_tokens, 10);
    lfm2moe_session *fresh = session(m, 256, 1, 16);
    gen(fresh, edited, 100, 0, &b, &r);
    assert_int_equal(r.n_prompt_reused, 0);
    assert_string_equal(a.buf, b.buf);
    /* unknown flags */
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    assert_int_equal(gp.flags, 0);
    gp.flags = 2;
    assert_int_equal(lfm2moe_generate(s, conv, 5, &gp, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_session_free(s);
    lfm2moe_session_free(fresh);
    lfm2moe_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewind_errors),  cmocka_unit_test(test_rewind_tiny),
        cmocka_unit_test(test_rewind_demo),    cmocka_unit_test(test_rewind_quantized),
        cmocka_unit_test(test_save_load),      cmocka_unit_test(test_corrupt_snapshots),
        cmocka_unit_test(test_copy),           cmocka_unit_test(test_kv_types_and_batches),
        cmocka_unit_test(test_generate_reuse),
    };
    /* e.g. HISTORY_TEST_FILTER='test_corrupt*' for a quick sanitizer run */
    if (getenv("HISTORY_TEST_FILTER")) cmocka_set_test_filter(getenv("HISTORY_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
