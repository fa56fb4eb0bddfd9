/* lfm2moe_generate on tests/golden/tiny-a-f32.gguf (real tokenizer, LFM2
 * chat template, random weights): every stop reason, stop strings, streamed
 * pieces vs. a manual decode/sample loop, seeding, multi-turn cache reuse,
 * argument errors; and the `generate` / `chat` CLI subcommands. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lfm2moe.h"
#include "test_files.h"

#define MODEL_A GOLDEN_DIR "/tiny-a-f32.gguf"
#define NV 1024
#define EOT 7 /* <|im_end|> in tiny-a's vocabulary */

static lfm2moe_model *model;
static int32_t eog[8];
static int n_eog;
static float eog_ban[8];

static int setup(void **state) {
    (void)state;
    if (lfm2moe_model_load(MODEL_A, NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "load %s: %s\n", MODEL_A, lfm2moe_last_error());
        return -1;
    }
    for (int32_t t = 0; t < NV; t++) {
        uint32_t a = 0;
        if (lfm2moe_token_attr(model, t, &a)) return -1;
        if ((a & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) && n_eog < 8) {
            eog_ban[n_eog] = -INFINITY;
            eog[n_eog++] = t;
        }
    }
    return n_eog >= 2 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    lfm2moe_model_free(model);
    return 0;
}

static lfm2moe_session *new_session(int32_t n_ctx) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = 1; /* identical arithmetic in every run */
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(model, &sp, &s), LFM2MOE_OK);
    return s;
}

static size_t tokenize(const char *text, uint32_t flags, int32_t *out, size_t cap) {
    size_t n = 0;
    assert_int_equal(lfm2moe_tokenize(model, text, strlen(text), flags, out, cap, &n), 0);
    return n;
}

static int32_t position(const lfm2moe_session *s) {
    int32_t pos = -1;
    assert_int_equal(lfm2moe_session_position(s, &pos), 0);
    return pos;
}

/* ---- stream collector ------------------------------------------------------ */
typedef struct collect {
    char text[8192];
    size_t len;
    size_t bounds[1024]; /* end offset of each piece */
    int calls;
    int stop_at;   /* return 1 on this call (1-based), 0 never */
    int cancel_at; /* lfm2moe_session_cancel on this call */
    lfm2moe_session *session;
} collect;

static int on_piece(void *ud, const char *piece, size_t len, int32_t token) {
    collect *c = ud;
    assert_true(len > 0);
    assert_true(token >= 0 && token < NV);
    assert_true(c->len + len <= sizeof c->text);
    memcpy(c->text + c->len, piece, len);
    c->len += len;
    if (c->calls < 1024) c->bounds[c->calls] = c->len;
    c->calls++;
    if (c->cancel_at && c->calls == c->cancel_at) lfm2moe_session_cancel(c->session);
    return c->stop_at && c->calls == c->stop_at;
}

/* Greedy params: no penalties, end-of-generation tokens banned. */
static lfm2moe_generate_params greedy_params(collect *c, int32_t max_tokens) {
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = max_tokens;
    gp.sampling.temperature = 0.0f;
    gp.sampling.repeat_penalty = 1.0f;
    gp.sampling.logit_bias_tokens = eog;
    gp.sampling.logit_bias_values = eog_ban;
    gp.sampling.n_logit_bias = (size_t)n_eog;
    gp.callback = on_piece;
    gp.user_data = c;
    return gp;
}

static lfm2moe_generate_result run(lfm2moe_session *s, const int32_t *prompt, size_t n,
                                   const lfm2moe_generate_params *gp) {
    lfm2moe_generate_result r;
    memset(&r, 0xAB, sizeof r);
    r.struct_size = sizeof r;
    int st = lfm2moe_generate(s, prompt, n, gp, &r);
    if (st) fprintf(stderr, "generate: %s\n", lfm2moe_last_error());
    assert_int_equal(st, LFM2MOE_OK);
    assert_true(r.prompt_seconds >= 0.0 && r.generate_seconds >= 0.0);
    return r;
}

/* The same thing by hand: decode the prompt, then sample / accept / decode
 * with a public sampler.  Returns the number of tokens. */
static int manual(const int32_t *prompt, size_t n, const lfm2moe_sampling_params *sp, int max,
                  int32_t *out) {
    lfm2moe_session *s = new_session(512);
    lfm2moe_sampler *sm = NULL;
    assert_int_equal(lfm2moe_sampler_create(model, sp, &sm), 0);
    assert_int_equal(lfm2moe_decode_step(s, prompt, (int32_t)n, 0), 0);
    for (size_t i = 0; i < n; i++)
        lfm2moe_sampler_accept(sm, prompt[i]);
    int k = 0;
    while (k < max) {
        const float *l;
        assert_int_equal(lfm2moe_session_logits(s, -1, &l), 0);
        int32_t t;
        assert_int_equal(lfm2moe_sampler_sample(sm, l, &t), 0);
        out[k++] = t;
        uint32_t a;
        lfm2moe_token_attr(model, t, &a);
        if (a & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) break;
        lfm2moe_sampler_accept(sm, t);
        assert_int_equal(lfm2moe_decode_step(s, &t, 1, 0), 0);
    }
    lfm2moe_sampler_free(sm);
    lfm2moe_session_free(s);
    return k;
}

static size_t detok(const int32_t *t, int n, char *buf, size_t cap) {
    size_t len = 0;
    assert_int_equal(lfm2moe_detokenize(model, t, (size_t)n, buf, cap, &len), 0);
    return len;
}

/* No piece boundary falls inside a well-formed multi-byte UTF-8 character;
 * returns the number of such characters seen. */
static int check_utf8_bounds(const collect *c) {
    int multi = 0;
    const unsigned char *u = (const unsigned char *)c->text;
    size_t i = 0;
    while (i < c->len) {
        size_t need = u[i] < 0x80             ? 1
                      : (u[i] & 0xE0) == 0xC0 ? 2
                      : (u[i] & 0xF0) == 0xE0 ? 3
                      : (u[i] & 0xF8) == 0xF0 ? 4
                                              : 1;
        size_t k = 1;
        while (k < need && i + k < c->len && (u[i + k] & 0xC0) == 0x80)
            k++;
        if (k == need && need > 1) {
            multi++;
            for (int b = 0; b < c->calls && b < 1024; b++)
                assert_false(c->bounds[b] > i && c->bounds[b] < i + need);
        }
        i += k;
    }
    return multi;
}

/* ---- tests ------------------------------------------------------------------- */
static void test_params_init(void **state) {
    (void)state;
    lfm2moe_generate_params gp;
    assert_int_equal(lfm2moe_generate_params_init(&gp), 0);
    assert_int_equal(gp.struct_size, sizeof gp);
    assert_int_equal(gp.max_tokens, 256);
    assert_int_equal(gp.sampling.struct_size, sizeof gp.sampling);
    assert_true(gp.sampling.temperature == 0.3f && gp.sampling.min_p == 0.15f);
    assert_null(gp.callback);
    assert_int_equal(gp.n_stop_strings, 0);
    assert_int_equal(lfm2moe_generate_params_init(NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
}

static void test_max_tokens_greedy(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("Hello world, this is a test.", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(256);
    collect c = {0};
    lfm2moe_generate_params gp = greedy_params(&c, 12);
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
    assert_int_equal(r.n_generated, 12);
    assert_int_equal(r.n_prompt_tokens, (int)n);
    assert_int_equal(position(s), (int)n + 12); /* every token decoded */
    /* the streamed text is the detokenized greedy sequence */
    int32_t ref[64];
    int k = manual(p, n, &gp.sampling, 12, ref);
    assert_int_equal(k, 12);
    char buf[4096];
    size_t len = detok(ref, k, buf, sizeof buf);
    assert_int_equal(c.len, len);
    assert_memory_equal(c.text, buf, len);
    /* continuing (no prompt) from the session's logits picks up the sequence */
    collect c2 = {0};
    gp.user_data = &c2;
    gp.max_tokens = 4;
    r = run(s, NULL, 0, &gp);
    assert_int_equal(r.n_prompt_tokens, 0);
    assert_int_equal(r.n_generated, 4);
    assert_int_equal(position(s), (int)n + 16);
    k = manual(p, n, &gp.sampling, 16, ref);
    len = detok(ref + 12, 4, buf, sizeof buf);
    assert_int_equal(c2.len, len);
    assert_memory_equal(c2.text, buf, len);
    /* result may be NULL, callback may be NULL */
    gp.callback = NULL;
    assert_int_equal(lfm2moe_generate(s, NULL, 0, &gp, NULL), 0);
    assert_int_equal(position(s), (int)n + 20);
    lfm2moe_session_free(s);
}

static void test_eos(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("Hello", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    uint32_t a = 0;
    assert_int_equal(lfm2moe_token_attr(model, EOT, &a), 0);
    assert_true(a & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION);
    const float values[] = {INFINITY, 1000.0f};
    for (int v = 0; v < 2; v++) {
        lfm2moe_session *s = new_session(128);
        collect c = {0};
        lfm2moe_generate_params gp = greedy_params(&c, 50);
        int32_t tok[] = {EOT};
        gp.sampling.logit_bias_tokens = tok;
        gp.sampling.logit_bias_values = &values[v];
        gp.sampling.n_logit_bias = 1;
        gp.sampling.temperature = 0.8f; /* forced at any temperature */
        lfm2moe_generate_result r = run(s, p, n, &gp);
        assert_int_equal(r.stop_reason, LFM2MOE_STOP_EOS);
        assert_int_equal(r.n_generated, 1);
        assert_int_equal(c.calls, 0);          /* its text is not streamed */
        assert_int_equal(position(s), (int)n); /* nor fed back */
        lfm2moe_session_free(s);
    }
}

static void test_stop_strings(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("The quick brown fox", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(256);
    collect full = {0};
    lfm2moe_generate_params gp = greedy_params(&full, 40);
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
    assert_true(full.len > 40);
    /* stop strings taken from the middle of the text, of several lengths
     * (so some span token boundaries) */
    for (size_t at = full.len / 3; at < full.len - 8; at += 7) {
        for (size_t sl = 1; sl <= 6; sl += 2) {
            char stop[8];
            memcpy(stop, full.text + at, sl);
            stop[sl] = 0;
            if (strlen(stop) != sl) continue; /* a NUL byte in the text */
            const char *first = memmem(full.text, full.len, stop, sl);
            size_t expect = (size_t)(first - full.text);
            const char *stops[] = {"\x01never\x02", stop};
            lfm2moe_session_reset(s);
            collect c = {0};
            gp.user_data = &c;
            gp.stop_strings = stops;
            gp.n_stop_strings = 2;
            r = run(s, p, n, &gp);
            assert_int_equal(r.stop_reason, LFM2MOE_STOP_STRING);
            assert_int_equal(c.len, expect);
            assert_memory_equal(c.text, full.text, expect);
            /* the token that completed the stop string is not fed back */
            assert_int_equal(position(s), (int)n + r.n_generated - 1);
        }
    }
    /* earliest match wins among several; a stop string that never shows
     * leaves the output whole (text held back for it is flushed at the end) */
    {
        char late[5], early[4];
        memcpy(late, full.text + full.len - 6, 4);
        late[4] = 0;
        memcpy(early, full.text + full.len / 2, 3);
        early[3] = 0;
        if (strlen(late) == 4 && strlen(early) == 3) {
            const char *stops[] = {late, early};
            size_t e = (size_t)((const char *)memmem(full.text, full.len, early, 3) - full.text);
            lfm2moe_session_reset(s);
            collect c = {0};
            gp.user_data = &c;
            gp.stop_strings = stops;
            gp.n_stop_strings = 2;
            r = run(s, p, n, &gp);
            assert_int_equal(r.stop_reason, LFM2MOE_STOP_STRING);
            assert_true(c.len <= e);
        }
        /* the last 3 bytes + "\x7f": a prefix of it is held until the end */
        char tail[5];
        memcpy(tail, full.text + full.len - 3, 3);
        tail[3] = 0x7f;
        tail[4] = 0;
        if (!memmem(full.text, full.len, tail, 4) && strlen(tail) == 4) {
            const char *stops[] = {tail};
            lfm2moe_session_reset(s);
            collect c = {0};
            gp.user_data = &c;
            gp.stop_strings = stops;
            gp.n_stop_strings = 1;
            r = run(s, p, n, &gp);
            assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
            assert_int_equal(c.len, full.len);
            assert_memory_equal(c.text, full.text, full.len);
        }
    }
    lfm2moe_session_free(s);
}

static void test_callback_stop(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("Once upon a time", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(256);
    collect c = {.stop_at = 3};
    lfm2moe_generate_params gp = greedy_params(&c, 100);
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_CALLBACK);
    assert_int_equal(c.calls, 3); /* not called again after it said stop */
    assert_true(r.n_generated >= 3 && r.n_generated < 100);
    assert_int_equal(position(s), (int)n + r.n_generated); /* the last shown token is in */
    lfm2moe_session_free(s);
}

static void test_context_full(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("Hello world", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session((int32_t)n + 5);
    collect c = {0};
    lfm2moe_generate_params gp = greedy_params(&c, 0); /* until the context is full */
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_CONTEXT_FULL);
    assert_int_equal(r.n_generated, 5);
    assert_int_equal(position(s), (int)n + 5);
    /* full already: stops at once */
    r = run(s, NULL, 0, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_CONTEXT_FULL);
    assert_int_equal(r.n_generated, 0);
    /* a prompt that does not fit is an error and changes nothing */
    lfm2moe_session_reset(s);
    assert_int_equal(lfm2moe_decode_step(s, p, 3, 0), 0);
    lfm2moe_generate_result r2 = {.struct_size = sizeof r2};
    assert_int_equal(lfm2moe_generate(s, p, n + 3, &gp, &r2), LFM2MOE_ERR_CONTEXT_FULL);
    assert_int_equal(position(s), 3);
    lfm2moe_session_free(s);
}

static void test_cancel(void **state) {
    (void)state;
    int32_t p[64];
    size_t n = tokenize("Hello world", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(256);
    collect c = {.cancel_at = 2, .session = s};
    lfm2moe_generate_params gp = greedy_params(&c, 50);
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_CANCELLED);
    assert_true(r.n_generated >= 2 && r.n_generated < 50);
    /* the token whose decode was cancelled is not in the session */
    assert_int_equal(position(s), (int)n + r.n_generated - 1);
    /* the session stays usable, and the request does not outlive the call */
    collect c2 = {0};
    gp.user_data = &c2;
    gp.max_tokens = 3;
    r = run(s, NULL, 0, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
    /* a cancel before the call is cleared when it starts */
    lfm2moe_session_cancel(s);
    r = run(s, NULL, 0, &gp);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
    assert_int_equal(r.n_generated, 3);
    lfm2moe_session_free(s);
}

static void sampled_run(uint64_t seed, collect *c, int32_t *ref, int *n_ref) {
    int32_t p[64];
    size_t n = tokenize("Bonjour, ça va? Ünïcödé ✓ 日本語", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(512);
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = 150;
    gp.sampling.temperature = 1.3f;
    gp.sampling.min_p = 0.0f;
    gp.sampling.seed = seed;
    gp.callback = on_piece;
    gp.user_data = c;
    lfm2moe_generate_result r = run(s, p, n, &gp);
    assert_true(r.stop_reason == LFM2MOE_STOP_MAX_TOKENS || r.stop_reason == LFM2MOE_STOP_EOS);
    if (ref) {
        *n_ref = manual(p, n, &gp.sampling, 150, ref);
        assert_int_equal(*n_ref, r.n_generated);
    }
    lfm2moe_session_free(s);
}

static void test_seeded_stream(void **state) {
    (void)state;
    static collect a, b, d;
    int32_t ref[160];
    int n_ref = 0;
    sampled_run(2024, &a, ref, &n_ref);
    /* the stream is the manual sample loop's text, in whole UTF-8 characters */
    uint32_t attr = 0;
    lfm2moe_token_attr(model, ref[n_ref - 1], &attr);
    if (attr & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) n_ref--;
    char buf[8192];
    size_t len = detok(ref, n_ref, buf, sizeof buf);
    assert_int_equal(a.len, len);
    assert_memory_equal(a.text, buf, len);
    check_utf8_bounds(&a);
    /* same seed, same text; another seed, another text */
    sampled_run(2024, &b, NULL, NULL);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.text, b.text, a.len);
    sampled_run(2025, &d, NULL, NULL);
    assert_false(a.len == d.len && !memcmp(a.text, d.text, a.len));
    check_utf8_bounds(&d);
}

/* Token whose bytes are the single byte b. */
static int32_t byte_token(unsigned char b) {
    for (int32_t t = 0; t < NV; t++) {
        char buf[8];
        size_t len = 0;
        if (!lfm2moe_token_to_bytes(model, t, buf, sizeof buf, &len) && len == 1 &&
            (unsigned char)buf[0] == b)
            return t;
    }
    fail_msg("no token for byte 0x%02x", b);
    return -1;
}

/* Characters split over byte tokens: force a random mix of the bytes of
 * "é" (C3 A9) or "日" (E6 97 A5) with +inf biases; the pieces must never cut
 * a character that the bytes complete, and must add up to the text. */
static void test_utf8_stream(void **state) {
    (void)state;
    static const unsigned char sets[2][3] = {{0xC3, 0xA9, 0}, {0xE6, 0x97, 0xA5}};
    const int sizes[2] = {2, 3};
    int32_t p[8];
    size_t n = tokenize("x", LFM2MOE_TOKENIZE_ADD_BOS, p, 8);
    for (int k = 0; k < 2; k++) {
        int32_t toks[3];
        float inf[3] = {INFINITY, INFINITY, INFINITY};
        for (int i = 0; i < sizes[k]; i++)
            toks[i] = byte_token(sets[k][i]);
        lfm2moe_generate_params gp;
        lfm2moe_generate_params_init(&gp);
        gp.max_tokens = 300;
        gp.sampling.seed = 11 + (uint64_t)k;
        gp.sampling.logit_bias_tokens = toks;
        gp.sampling.logit_bias_values = inf;
        gp.sampling.n_logit_bias = (size_t)sizes[k];
        static collect c;
        memset(&c, 0, sizeof c);
        gp.callback = on_piece;
        gp.user_data = &c;
        lfm2moe_session *s = new_session(512);
        lfm2moe_generate_result r = run(s, p, n, &gp);
        lfm2moe_session_free(s);
        assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
        int32_t ref[300];
        assert_int_equal(manual(p, n, &gp.sampling, 300, ref), 300);
        char buf[1024];
        size_t len = detok(ref, 300, buf, sizeof buf);
        assert_int_equal(c.len, len);
        assert_memory_equal(c.text, buf, len);
        int multi = check_utf8_bounds(&c);
        assert_true(multi >= 5);
        assert_true(c.calls > multi); /* pieces were streamed, not one flush */
    }
}

static void test_multi_turn(void **state) {
    (void)state;
    const char *roles[] = {"system", "user"};
    const char *contents[] = {"You are terse.", "Hi there"};
    char prompt1[1024];
    size_t l1 = 0;
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 2, NULL, 0,
                                         LFM2MOE_CHAT_ADD_GENERATION_PROMPT, prompt1,
                                         sizeof prompt1, &l1),
                     0);
    int32_t full[512];
    size_t n1 = tokenize(prompt1, LFM2MOE_TOKENIZE_PARSE_SPECIAL, full, 512);
    assert_int_equal(full[0], 1); /* <|startoftext|> comes from the template */
    lfm2moe_session *s = new_session(512);
    collect c1 = {0};
    lfm2moe_generate_params gp = greedy_params(&c1, 6);
    lfm2moe_generate_result r = run(s, full, n1, &gp);
    assert_int_equal(r.n_prompt_tokens, (int)n1);
    assert_int_equal(position(s), (int)n1 + 6);
    /* turn 2: only the new tokens are evaluated */
    const char *turn2 = "<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n";
    int32_t t2[64];
    size_t n2 = tokenize(turn2, LFM2MOE_TOKENIZE_PARSE_SPECIAL, t2, 64);
    assert_int_equal(t2[0], EOT);
    collect c2 = {0};
    gp.user_data = &c2;
    r = run(s, t2, n2, &gp);
    assert_int_equal(r.n_prompt_tokens, (int)n2);
    assert_int_equal(position(s), (int)(n1 + 6 + n2 + 6));
    /* same answer as evaluating the whole conversation from scratch */
    int32_t gen1[8];
    assert_int_equal(manual(full, n1, &gp.sampling, 6, gen1), 6);
    char buf[4096];
    size_t len = detok(gen1, 6, buf, sizeof buf);
    assert_int_equal(c1.len, len);
    assert_memory_equal(c1.text, buf, len);
    memcpy(full + n1, gen1, sizeof gen1[0] * 6);
    memcpy(full + n1 + 6, t2, sizeof t2[0] * n2);
    int32_t gen2[8];
    assert_int_equal(manual(full, n1 + 6 + n2, &gp.sampling, 6, gen2), 6);
    len = detok(gen2, 6, buf, sizeof buf);
    assert_int_equal(c2.len, len);
    assert_memory_equal(c2.text, buf, len);
    lfm2moe_session_free(s);
}

static void test_errors(void **state) {
    (void)state;
    int32_t p[8];
    size_t n = tokenize("Hi", LFM2MOE_TOKENIZE_ADD_BOS, p, 8);
    lfm2moe_session *s = new_session(64);
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = 2;
    assert_int_equal(lfm2moe_generate(NULL, p, n, &gp, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_generate(s, NULL, 3, &gp, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    /* nothing to continue from */
    assert_int_equal(lfm2moe_generate(s, p, 0, &gp, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_generate_result r = {.struct_size = 4};
    assert_int_equal(lfm2moe_generate(s, p, n, &gp, &r), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_generate_params bad = gp;
    bad.struct_size = 12;
    assert_int_equal(lfm2moe_generate(s, p, n, &bad, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    bad = gp;
    bad.n_stop_strings = 1;
    assert_int_equal(lfm2moe_generate(s, p, n, &bad, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    const char *stops[] = {"a", NULL};
    bad.stop_strings = stops;
    bad.n_stop_strings = 2;
    assert_int_equal(lfm2moe_generate(s, p, n, &bad, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    bad = gp;
    bad.sampling.temperature = NAN;
    assert_int_equal(lfm2moe_generate(s, p, n, &bad, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    int32_t oob[] = {1, NV};
    assert_int_equal(lfm2moe_generate(s, oob, 2, &gp, NULL), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(position(s), 0); /* nothing changed */
    /* NULL params = defaults */
    assert_int_equal(lfm2moe_generate(s, p, n, NULL, NULL), 0);
    assert_true(position(s) > (int)n);
    lfm2moe_session_free(s);
}

/* ---- CLI --------------------------------------------------------------------- */
static void test_cli_generate(void **state) {
    (void)state;
    /* greedy CLI output == greedy API output for the same prompt */
    char cmd[1024], *out = NULL;
    size_t len = 0;
    snprintf(cmd, sizeof cmd,
             "%s generate -m %s -p 'The quick brown fox' -n 20 --temp 0 --repeat-penalty 1 "
             "-t 1 2>/dev/null",
             LFM2MOE_CLI, MODEL_A);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    int32_t p[64];
    size_t n = tokenize("The quick brown fox", LFM2MOE_TOKENIZE_ADD_BOS, p, 64);
    lfm2moe_session *s = new_session(0);
    collect c = {0};
    lfm2moe_generate_params gp = greedy_params(&c, 20);
    gp.sampling.n_logit_bias = 0;
    run(s, p, n, &gp);
    lfm2moe_session_free(s);
    assert_true(len >= 1 && out[len - 1] == '\n'); /* the CLI ends the text with a newline */
    assert_int_equal(len - 1, c.len);
    assert_memory_equal(out, c.text, c.len);
    /* the timings line goes to stderr */
    snprintf(cmd, sizeof cmd,
             "%s generate -m %s -p Hello -n 4 --seed 3 --temp 0.7 --top-k 40 --top-p 0.9 "
             "--min-p 0.05 -c 64 2>&1 >/dev/null",
             LFM2MOE_CLI, MODEL_A);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    assert_non_null(strstr(out, "tok/s"));
    /* --chat renders the template; a bad option fails */
    snprintf(cmd, sizeof cmd,
             "%s generate -m %s -p Hello --chat --system 'Be brief.' -n 4 >/dev/null 2>&1",
             LFM2MOE_CLI, MODEL_A);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    snprintf(cmd, sizeof cmd, "%s generate -m %s -p Hello --temp x >/dev/null 2>&1", LFM2MOE_CLI,
             MODEL_A);
    free(out);
    assert_int_not_equal(test_run_cmd(cmd, &out, &len), 0);
    /* -f FILE as the prompt */
    snprintf(cmd, sizeof cmd, "%s generate -m %s -f %s/prompt-a.txt -n 2 >/dev/null 2>&1",
             LFM2MOE_CLI, MODEL_A, GOLDEN_DIR);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    free(out);
}

static void test_cli_bench(void **state) {
    (void)state;
    char cmd[1024], *out = NULL;
    size_t len = 0;
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 4 -r 2 -t 1 --bw 2>&1", LFM2MOE_CLI, MODEL_A);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    assert_non_null(strstr(out, "| pp8 "));
    assert_non_null(strstr(out, "| tg4 "));
    /* --bw: weight traffic per token and the measured read bandwidth */
    const char *bw = strstr(out, "bw tg4: ");
    assert_non_null(bw);
    double gb = 0, traffic = 0, machine = 0;
    int threads = 0;
    assert_int_equal(sscanf(bw,
                            "bw tg4: %lf GB of weights per token, %lf GB/s; machine read "
                            "bandwidth (threads: %d, measured before each run) %lf GB/s",
                            &gb, &traffic, &threads, &machine),
                     4);
    assert_true(gb > 0 && traffic > 0 && machine > 0);
    assert_int_equal(threads, 1);
    assert_non_null(strstr(out, "peak RSS"));
    snprintf(cmd, sizeof cmd, "%s bench -m %s --no-such-option >/dev/null 2>&1", LFM2MOE_CLI,
             MODEL_A);
    free(out);
    assert_int_not_equal(test_run_cmd(cmd, &out, &len), 0);
    free(out);
}

static void test_cli_chat(void **state) {
    (void)state;
    char cmd[1024], *out = NULL;
    size_t len = 0;
    /* two turns, a reset, a third turn; the positions reported on stderr
     * show the cache reuse */
    snprintf(cmd, sizeof cmd,
             "printf 'Hi\\nAnd now?\\n/reset\\nHello again\\n' | %s chat -m %s -n 5 --temp 0 -v "
             "2>&1",
             LFM2MOE_CLI, MODEL_A);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    /* verbose lines: "[prompt N tokens, position P]" per turn */
    int prompts[4], positions[4], k = 0;
    for (const char *q = out; (q = strstr(q, "[prompt ")) && k < 4; q++) {
        assert_int_equal(sscanf(q, "[prompt %d tokens, position %d]", &prompts[k], &positions[k]),
                         2);
        k++;
    }
    assert_int_equal(k, 3);
    /* turn 2 evaluates only "<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n" */
    int32_t t2[64];
    size_t n2 =
        tokenize("<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n",
                 LFM2MOE_TOKENIZE_PARSE_SPECIAL, t2, 64);
    assert_int_equal(prompts[1], (int)n2);
    assert_true(positions[1] >= positions[0] + (int)n2);
    /* turns 1 and 3 (after /reset) evaluate the whole rendered conversation */
    const char *users[] = {"Hi", "Hello again"};
    for (int i = 0; i < 2; i++) {
        const char *role = "user";
        char r[512];
        size_t rl = 0;
        assert_int_equal(lfm2moe_chat_render(model, &role, &users[i], 1, NULL, 0,
                                             LFM2MOE_CHAT_ADD_GENERATION_PROMPT, r, sizeof r, &rl),
                         0);
        int32_t t[128];
        size_t nt = tokenize(r, LFM2MOE_TOKENIZE_PARSE_SPECIAL, t, 128);
        assert_int_equal(prompts[2 * i], (int)nt);
        assert_true(positions[2 * i] >= (int)nt && positions[2 * i] <= (int)nt + 5);
    }
    free(out);
}

/* The "[reused R, evaluated E prompt tokens]" lines of a chat run. */
static int reuse_counts(const char *out, int *reused, int *evaluated, int max) {
    int k = 0;
    for (const char *q = out; (q = strstr(q, "[reused ")) && k < max; q++) {
        assert_int_equal(
            sscanf(q, "[reused %d, evaluated %d prompt tokens]", &reused[k], &evaluated[k]), 2);
        k++;
    }
    return k;
}

/* On the demo model: /regen re-evaluates one token, /edit only the edited
 * message, and --session resumes the conversation in a new run. */
static void test_cli_chat_regen(void **state) {
    (void)state;
    char cmd[1024], *out = NULL, path[64];
    size_t len = 0;
    snprintf(path, sizeof path, "/tmp/lfm2moe-test-chat-%d.session", (int)getpid());
    unlink(path);
    snprintf(cmd, sizeof cmd,
             "printf 'Hi\\nAnd now?\\n/regen\\n/edit And then?\\n' | %s chat -m %s/models/"
             "lfm2moe-demo-f32.gguf -n 6 --temp 0 -t 1 --session %s 2>&1 >/dev/null",
             LFM2MOE_CLI, SOURCE_DIR, path);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    int r[8], e[8];
    assert_int_equal(reuse_counts(out, r, e, 8), 4);
    assert_int_equal(r[0], 0);
    assert_true(r[1] >= e[0] && r[1] <= e[0] + 6); /* turn 1 and its answer are kept */
    /* regenerate: the conversation up to the answer is held, 1 token for logits */
    assert_int_equal(e[2], 1);
    assert_int_equal(r[2], r[1] + e[1] - 1);
    /* edit: everything before the last user message is reused */
    assert_true(r[3] >= r[1] + 3);
    assert_true(e[3] < e[1] + 2 && e[3] >= 1);
    /* a second run resumes the saved conversation */
    snprintf(cmd, sizeof cmd,
             "printf 'More?\\n' | %s chat -m %s/models/lfm2moe-demo-f32.gguf -n 6 --temp 0 -t 1 "
             "--session %s 2>&1 >/dev/null",
             LFM2MOE_CLI, SOURCE_DIR, path);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    int held = 0;
    const char *res = strstr(out, "(resumed ");
    assert_non_null(res);
    assert_int_equal(sscanf(res, "(resumed %d tokens", &held), 1);
    assert_true(held > r[3] + e[3]);
    assert_int_equal(reuse_counts(out, r, e, 8), 1);
    assert_int_equal(r[0], held);
    unlink(path);
    /* generate --prompt-cache: the second run evaluates one token */
    snprintf(cmd, sizeof cmd,
             "%s generate -m %s -p 'The quick brown fox' -n 3 --temp 0 -t 1 --prompt-cache %s "
             "2>&1 >/dev/null",
             LFM2MOE_CLI, MODEL_A, path);
    int p1 = 0, k1 = -1, p2 = 0, k2 = 0;
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    assert_int_equal(sscanf(strstr(out, "prompt "), "prompt %d tokens (%d reused)", &p1, &k1), 2);
    assert_int_equal(k1, 0);
    free(out);
    assert_int_equal(test_run_cmd(cmd, &out, &len), 0);
    assert_int_equal(sscanf(strstr(out, "prompt "), "prompt %d tokens (%d reused)", &p2, &k2), 2);
    assert_int_equal(p2, 1);
    assert_int_equal(k2, p1 - 1);
    unlink(path);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_init),
        cmocka_unit_test(test_max_tokens_greedy),
        cmocka_unit_test(test_eos),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_context_full),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_seeded_stream),
        cmocka_unit_test(test_utf8_stream),
        cmocka_unit_test(test_multi_turn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cli_generate),
        cmocka_unit_test(test_cli_bench),
        cmocka_unit_test(test_cli_chat),
        cmocka_unit_test(test_cli_chat_regen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
