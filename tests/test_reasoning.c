/* Reasoning in lfm2moe_generate (<think>...</think>): the part callback's
 * split, the reasoning budget forcing </think> after exactly N reasoning
 * tokens, n_reasoning, and models without the tokens left alone; then the
 * `generate --reasoning-budget / --show-thinking / --hide-thinking` CLI.
 * Model: tests/golden/tiny-t25-f32.gguf (LFM2.5-8B-A1B's template on a
 * tiny lfm2moe) and its copy with <think> / </think> (THINK_MODEL, made by
 * tests/think/think_model.c). */
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
#include "test_files.h"

#define MODEL_T25 GOLDEN_DIR "/tiny-t25-f32.gguf"
#define PROMPT "<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n"
#define N_GEN 24

static const char think_path[] = THINK_MODEL;
static lfm2moe_model *think_model, *plain_model;
static int32_t t_open, t_close;
static int32_t ban[10];
static float ban_val[10];
static size_t n_ban;

static int setup(void **state) {
    (void)state;
    if (lfm2moe_model_load(think_path, NULL, &think_model) ||
        lfm2moe_model_load(MODEL_T25, NULL, &plain_model) ||
        lfm2moe_token_lookup(think_model, "<think>", 7, &t_open) ||
        lfm2moe_token_lookup(think_model, "</think>", 8, &t_close))
        return -1;
    /* end-of-generation tokens banned: every run makes N_GEN tokens */
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    if (lfm2moe_vocab_get_info(think_model, &vi)) return -1;
    for (int32_t t = 0; t < vi.n_vocab && n_ban < 8; t++) {
        uint32_t a = 0;
        lfm2moe_token_attr(think_model, t, &a);
        if (a & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) ban[n_ban++] = t;
    }
    for (size_t i = 0; i < n_ban; i++)
        ban_val[i] = -1e30f;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lfm2moe_model_free(think_model);
    lfm2moe_model_free(plain_model);
    return 0;
}

typedef struct pieces {
    char text[2][8192]; /* by part */
    size_t len[2];
    char all[8192]; /* what `callback` got */
    size_t all_len;
    int order_ok; /* no ANSWER piece before a REASONING one */
    int seen_answer;
} pieces;

static int on_part(void *ud, int part, const char *piece, size_t len, int32_t token) {
    pieces *p = ud;
    (void)token;
    assert_true(part == LFM2MOE_PART_ANSWER || part == LFM2MOE_PART_REASONING);
    assert_true(p->len[part] + len <= sizeof p->text[part]);
    memcpy(p->text[part] + p->len[part], piece, len);
    p->len[part] += len;
    if (part == LFM2MOE_PART_ANSWER)
        p->seen_answer = 1;
    else if (p->seen_answer)
        p->order_ok = 0;
    return 0;
}

static int on_piece(void *ud, const char *piece, size_t len, int32_t token) {
    pieces *p = ud;
    (void)token;
    memcpy(p->all + p->all_len, piece, len);
    p->all_len += len;
    return 0;
}

static size_t tokenize(lfm2moe_model *m, const char *text, int32_t *out, size_t cap) {
    size_t n = 0;
    assert_int_equal(
        lfm2moe_tokenize(m, text, strlen(text), LFM2MOE_TOKENIZE_PARSE_SPECIAL, out, cap, &n), 0);
    return n;
}

static size_t detok(lfm2moe_model *m, const int32_t *t, size_t n, char *buf, size_t cap) {
    size_t len = 0;
    assert_int_equal(lfm2moe_detokenize(m, t, n, buf, cap, &len), 0);
    return len;
}

/* Greedy generation of N_GEN tokens; `extra_bias` token gets `bias`. */
static lfm2moe_generate_result gen(lfm2moe_model *m, const char *prompt, int32_t budget,
                                   int32_t extra, float bias, pieces *p, int32_t *toks,
                                   size_t *n_prompt) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 256;
    sp.n_threads = 1;
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), 0);
    int32_t in[128];
    *n_prompt = tokenize(m, prompt, in, 128);
    int32_t bt[10];
    float bv[10];
    memcpy(bt, ban, n_ban * sizeof *bt);
    memcpy(bv, ban_val, n_ban * sizeof *bv);
    size_t nb = n_ban;
    if (extra >= 0) {
        bt[nb] = extra;
        bv[nb++] = bias;
    }
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = N_GEN;
    gp.sampling.temperature = 0;
    gp.sampling.logit_bias_tokens = bt;
    gp.sampling.logit_bias_values = bv;
    gp.sampling.n_logit_bias = nb;
    gp.reasoning_budget = budget;
    memset(p, 0, sizeof *p);
    p->order_ok = 1;
    gp.callback = on_piece;
    gp.part_callback = on_part;
    gp.user_data = p;
    lfm2moe_generate_result r = {.struct_size = sizeof r};
    assert_int_equal(lfm2moe_generate(s, in, *n_prompt, &gp, &r), 0);
    assert_int_equal(r.stop_reason, LFM2MOE_STOP_MAX_TOKENS);
    assert_int_equal(r.n_generated, N_GEN);
    size_t n = 0;
    assert_int_equal(lfm2moe_session_tokens(s, toks, 256, &n), 0);
    assert_int_equal(n, *n_prompt + N_GEN);
    lfm2moe_session_free(s);
    return r;
}

static void test_init(void **state) {
    (void)state;
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    assert_int_equal(gp.reasoning_budget, -1);
    assert_null(gp.part_callback);
    assert_true(t_open >= 0 && t_close >= 0 && t_open != t_close);
    uint32_t a = 0;
    assert_int_equal(lfm2moe_token_attr(think_model, t_close, &a), 0);
    assert_true(a & LFM2MOE_TOKEN_ATTR_CONTROL);
}

/* A prompt ending in <think>: the budget forces </think> after exactly N
 * reasoning tokens; the parts are the text of the tokens on each side. */
static void test_budget(void **state) {
    (void)state;
    const int32_t budgets[] = {0, 1, 5, 13};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        const int32_t N = budgets[b];
        pieces p;
        int32_t t[256];
        size_t np = 0;
        /* </think> banned from sampling: only the budget can close */
        lfm2moe_generate_result r =
            gen(think_model, PROMPT "<think>", N, t_close, -1e30f, &p, t, &np);
        assert_int_equal(t[np - 1], t_open);
        assert_int_equal(r.n_reasoning, N);
        for (int32_t i = 0; i < N; i++)
            assert_int_not_equal(t[np + (size_t)i], t_close);
        assert_int_equal(t[np + (size_t)N], t_close);
        for (size_t i = np + (size_t)N + 1; i < np + N_GEN; i++) {
            assert_int_not_equal(t[i], t_close);
            assert_int_not_equal(t[i], t_open); /* greedy never picked it here */
        }
        char want[4096];
        size_t wl = detok(think_model, t + np, (size_t)N, want, sizeof want);
        assert_int_equal(p.len[LFM2MOE_PART_REASONING], wl);
        assert_memory_equal(p.text[LFM2MOE_PART_REASONING], want, wl);
        const size_t after = np + (size_t)N + 1;
        wl = detok(think_model, t + after, np + N_GEN - after, want, sizeof want);
        assert_int_equal(p.len[LFM2MOE_PART_ANSWER], wl);
        assert_memory_equal(p.text[LFM2MOE_PART_ANSWER], want, wl);
        assert_true(p.order_ok);
        /* `callback` gets everything, the forced tag included */
        wl = detok(think_model, t + np, N_GEN, want, sizeof want);
        assert_int_equal(p.all_len, wl);
        assert_memory_equal(p.all, want, wl);
        assert_non_null(memmem(p.all, p.all_len, "</think>", 8));
    }
}

/* No budget: the whole generation is reasoning. */
static void test_no_budget(void **state) {
    (void)state;
    pieces p;
    int32_t t[256];
    size_t np = 0;
    lfm2moe_generate_result r = gen(think_model, PROMPT "<think>", -1, t_close, -1e30f, &p, t, &np);
    assert_int_equal(r.n_reasoning, N_GEN);
    assert_int_equal(p.len[LFM2MOE_PART_ANSWER], 0);
    assert_int_equal(p.len[LFM2MOE_PART_REASONING], p.all_len);
    /* a closed <think> in the prompt: the answer part */
    r = gen(think_model, PROMPT "<think>x</think>", 2, t_close, -1e30f, &p, t, &np);
    assert_int_equal(r.n_reasoning, 0);
    assert_int_equal(p.len[LFM2MOE_PART_REASONING], 0);
}

/* A sampled <think> opens reasoning (always sampled here: biased up), so a
 * budget of 0 closes it at once, every time. */
static void test_sampled_think(void **state) {
    (void)state;
    pieces p;
    int32_t t[256];
    size_t np = 0;
    lfm2moe_generate_result r = gen(think_model, PROMPT, 0, t_open, 1e30f, &p, t, &np);
    assert_int_equal(r.n_reasoning, 0);
    for (size_t i = np; i < np + N_GEN; i += 2) {
        assert_int_equal(t[i], t_open);
        assert_int_equal(t[i + 1], t_close);
    }
    assert_int_equal(p.len[LFM2MOE_PART_ANSWER] + p.len[LFM2MOE_PART_REASONING], 0);
    assert_int_equal(p.all_len, (size_t)N_GEN / 2 * 15); /* "<think></think>" each */
}

/* Without <think> tokens nothing changes: same tokens as without the
 * options, everything ANSWER, n_reasoning 0. */
static void test_plain_model(void **state) {
    (void)state;
    int32_t id = 0;
    assert_int_not_equal(lfm2moe_token_lookup(plain_model, "<think>", 7, &id), 0);
    pieces p, q;
    int32_t t[256], u[256];
    size_t np = 0, nq = 0;
    lfm2moe_generate_result r = gen(plain_model, PROMPT "<think>", 0, -1, 0, &p, t, &np);
    lfm2moe_generate_result r2 = gen(plain_model, PROMPT "<think>", -1, -1, 0, &q, u, &nq);
    assert_int_equal(r.n_reasoning, 0);
    assert_int_equal(r2.n_reasoning, 0);
    assert_int_equal(np, nq);
    assert_memory_equal(t, u, (np + N_GEN) * sizeof *t);
    assert_int_equal(p.len[LFM2MOE_PART_REASONING], 0);
    assert_int_equal(p.len[LFM2MOE_PART_ANSWER], p.all_len);
    assert_memory_equal(p.text[LFM2MOE_PART_ANSWER], p.all, p.all_len);
}

/* The CLI: --hide-thinking prints the answer alone, --show-thinking the
 * reasoning, a newline and the answer (no terminal: no dimming), and the
 * timings count the reasoning tokens. */
static void test_cli(void **state) {
    (void)state;
    pieces p;
    size_t np = 0;
    /* the CLI has no logit bias: the same greedy run without bans */
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(think_model, &sp, &s), 0);
    /* as `generate` without --chat tokenizes: a BOS if the model wants one */
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    assert_int_equal(lfm2moe_vocab_get_info(think_model, &vi), 0);
    int32_t in[128];
    const char *text = PROMPT "<think>";
    assert_int_equal(lfm2moe_tokenize(think_model, text, strlen(text),
                                      LFM2MOE_TOKENIZE_PARSE_SPECIAL |
                                          (vi.add_bos ? LFM2MOE_TOKENIZE_ADD_BOS : 0),
                                      in, 128, &np),
                     0);
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = N_GEN;
    gp.sampling.temperature = 0;
    gp.reasoning_budget = 4;
    memset(&p, 0, sizeof p);
    gp.part_callback = on_part;
    gp.user_data = &p;
    lfm2moe_generate_result r = {.struct_size = sizeof r};
    assert_int_equal(lfm2moe_generate(s, in, np, &gp, &r), 0);
    lfm2moe_session_free(s);
    assert_int_equal(r.n_reasoning, 4);
    const char *ans = p.text[LFM2MOE_PART_ANSWER];
    size_t ans_len = p.len[LFM2MOE_PART_ANSWER];
    while (ans_len && (*ans == ' ' || *ans == '\n')) { /* think_view drops these */
        ans++;
        ans_len--;
    }
    char args[768];
    snprintf(args, sizeof args,
             "generate -m %s -p '%s<think>' -n %d --temp 0 --reasoning-budget 4 "
             "--hide-thinking 2>/dev/null",
             think_path, PROMPT, N_GEN);
    size_t len = 0;
    int status = -1;
    char *out = test_run_cli(args, "", 0, &len, &status);
    assert_int_equal(status, 0);
    assert_int_equal(len, ans_len + 1);
    assert_memory_equal(out, ans, ans_len);
    free(out);
    snprintf(args, sizeof args,
             "generate -m %s -p '%s<think>' -n %d --temp 0 --reasoning-budget 4 2>&1", think_path,
             PROMPT, N_GEN);
    out = test_run_cli(args, "", 0, &len, &status);
    assert_int_equal(status, 0);
    char want[8192];
    int wl = snprintf(want, sizeof want, "%.*s\n%.*s\n", (int)p.len[LFM2MOE_PART_REASONING],
                      p.text[LFM2MOE_PART_REASONING], (int)ans_len, ans);
    assert_true(len > (size_t)wl);
    assert_memory_equal(out, want, (size_t)wl);
    assert_non_null(strstr(out + wl, ", 4 of them reasoning,"));
    free(out);
    snprintf(args, sizeof args, "generate -m %s -p x --reasoning-budget -2 2>/dev/null",
             think_path);
    out = test_run_cli(args, "", 0, &len, &status);
    assert_int_not_equal(status, 0);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_no_budget),   cmocka_unit_test(test_sampled_think),
        cmocka_unit_test(test_plain_model), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
