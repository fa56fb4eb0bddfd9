/* Grammar-constrained generation on real models (the demo model and the
 * random-weight tiny-a): every output of a constrained generation that
 * stops by EOS is a sentence of the grammar, with greedy and every sampler
 * setting; JSON-Schema outputs are valid JSON of the right shape (the
 * independent validation is tests/test_json_schema_valid.py); tool-call
 * outputs always parse and match the tools; the API refuses bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "generate/grammar/grammar.h"
#include "lfm2moe.h"

#define DEMO SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"
#define TINY GOLDEN_DIR "/tiny-a-f32.gguf"

typedef struct text {
    char buf[16384];
    size_t n;
} text;

static int collect(void *ud, const char *piece, size_t len, int32_t token) {
    (void)token;
    text *t = ud;
    if (t->n + len < sizeof t->buf) {
        memcpy(t->buf + t->n, piece, len);
        t->n += len;
        t->buf[t->n] = '\0';
    }
    return 0;
}

typedef struct fixture {
    lfm2moe_model *model;
    lfm2moe_session *session;
    int32_t prompt[256];
    size_t n_prompt;
} fixture;

static void open_model(fixture *f, const char *path) {
    assert_int_equal(lfm2moe_model_load(path, NULL, &f->model), 0);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 2048;
    sp.n_threads = 1;
    assert_int_equal(lfm2moe_session_create(f->model, &sp, &f->session), 0);
    const char *p = "<|startoftext|><|im_start|>user\nGive me the data as "
                    "JSON.<|im_end|>\n<|im_start|>assistant\n";
    assert_int_equal(lfm2moe_tokenize(f->model, p, strlen(p), LFM2MOE_TOKENIZE_PARSE_SPECIAL,
                                      f->prompt, 256, &f->n_prompt),
                     0);
}

static void close_model(fixture *f) {
    lfm2moe_session_free(f->session);
    lfm2moe_model_free(f->model);
}

/* One generation from the prompt; returns the stop reason. */
static int run(fixture *f, const lfm2moe_grammar *g, const lfm2moe_sampling_params *sp, text *out,
               int max_tokens) {
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.sampling = *sp;
    gp.sampling.grammar = g;
    gp.max_tokens = max_tokens;
    gp.callback = collect;
    gp.user_data = out;
    out->n = 0;
    out->buf[0] = '\0';
    lfm2moe_generate_result r = {.struct_size = sizeof r};
    assert_int_equal(lfm2moe_session_reset(f->session), 0);
    int st = lfm2moe_generate(f->session, f->prompt, f->n_prompt, &gp, &r);
    if (st) fail_msg("generate: %s", lfm2moe_last_error());
    return r.stop_reason;
}

static int in_language(const lfm2moe_grammar *g, const char *s) {
    lfm_matcher *m = NULL;
    assert_int_equal(lfm_matcher_create(g->cg, &m), 0);
    gm_state st = lfm_matcher_state(m);
    for (; *s && st.set != GM_DEAD; s++)
        st = lfm_matcher_step(m, st, (uint8_t)*s);
    int ok = lfm_matcher_can_end(m, st);
    lfm_matcher_free(m);
    return ok;
}

/* Every sampler setting: greedy, temperature, top-k, top-p, min-p, penalties. */
static void settings(int i, lfm2moe_sampling_params *sp, uint64_t seed) {
    lfm2moe_sampling_params_init(sp);
    sp->seed = seed;
    sp->temperature = 1.0f;
    sp->min_p = 0.0f;
    sp->repeat_penalty = 1.0f;
    switch (i % 6) {
    case 0: sp->temperature = 0.0f; break;
    case 1: break;
    case 2: sp->top_k = 5; break;
    case 3: sp->top_p = 0.8f; break;
    case 4: sp->min_p = 0.2f; break;
    case 5:
        sp->repeat_penalty = 1.5f;
        sp->frequency_penalty = 0.5f;
        sp->presence_penalty = 0.5f;
        break;
    }
}

static void test_gbnf_every_setting(void **state) {
    (void)state;
    static const char gbnf[] =
        "root ::= num \" plus \" num \" is \" num \".\"\nnum ::= [1-9] [0-9]{0,2}\n";
    const char *paths[] = {DEMO, TINY};
    for (int m = 0; m < 2; m++) {
        fixture f = {0};
        open_model(&f, paths[m]);
        lfm2moe_grammar *g = NULL;
        assert_int_equal(lfm2moe_grammar_create(f.model, gbnf, strlen(gbnf), NULL, &g), 0);
        static text t;
        for (int i = 0; i < 60; i++) {
            lfm2moe_sampling_params sp;
            settings(i, &sp, (uint64_t)i);
            int reason = run(&f, g, &sp, &t, 64);
            if (reason != LFM2MOE_STOP_EOS || !in_language(g, t.buf))
                fail_msg("model %d setting %d: '%s' (stop %d)", m, i, t.buf, reason);
        }
        lfm2moe_grammar_free(g);
        close_model(&f);
    }
}

static const char person_schema[] =
    "{\"type\": \"object\", \"properties\": {"
    "\"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 12},"
    "\"age\": {\"type\": \"integer\"},"
    "\"email\": {\"type\": [\"string\", \"null\"], \"maxLength\": 8},"
    "\"role\": {\"enum\": [\"admin\", \"user\", 7]},"
    "\"born\": {\"type\": \"string\", \"format\": \"date\"},"
    "\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 4}, "
    "\"maxItems\": 3},"
    "\"score\": {\"type\": \"number\"}, \"ok\": {\"type\": \"boolean\"}},"
    "\"required\": [\"name\", \"age\", \"role\"]}";

static void test_json_schema_outputs_parse(void **state) {
    (void)state;
    const char *paths[] = {DEMO, TINY};
    for (int m = 0; m < 2; m++) {
        fixture f = {0};
        open_model(&f, paths[m]);
        lfm2moe_grammar *g = NULL;
        if (lfm2moe_grammar_from_json_schema(f.model, person_schema, strlen(person_schema), &g))
            fail_msg("%s", lfm2moe_last_error());
        static text t;
        for (int seed = 0; seed < 200; seed++) {
            lfm2moe_sampling_params sp;
            settings(1, &sp, (uint64_t)seed);
            int reason = run(&f, g, &sp, &t, 1024);
            json_value *v = NULL;
            char err[128];
            if (reason != LFM2MOE_STOP_EOS || json_parse(t.buf, t.n, &v, err, sizeof err))
                fail_msg("model %d seed %d: stop %d, '%s'", m, seed, reason, t.buf);
            const json_value *name = json_get(v, "name"), *age = json_get(v, "age");
            assert_true(v->type == JSON_OBJECT && name && name->type == JSON_STRING && age &&
                        age->type == JSON_NUMBER && age->is_integer && json_get(v, "role"));
            json_free(v);
        }
        lfm2moe_grammar_free(g);
        close_model(&f);
    }
}

static const char *const tools[] = {
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
    "\"Weather\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", "
    "\"maxLength\": 10}, \"days\": {\"type\": \"integer\"}, \"metric\": {\"type\": \"boolean\"}, "
    "\"units\": {\"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\"]}}}",
    "{\"name\": \"db.now\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}",
    "{\"name\": \"send-mail\", \"parameters\": {\"type\": \"object\", \"properties\": {\"to\": "
    "{\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 6}, \"minItems\": 1, "
    "\"maxItems\": 2}, \"cc\": {\"type\": [\"string\", \"null\"], \"maxLength\": 5}}, "
    "\"required\": [\"to\"]}}",
};

/* The calls match the tools: known names, required arguments present,
 * values of the declared types. */
static void check_calls(const char *out, int seed) {
    lfm2moe_tool_calls *calls = NULL;
    if (lfm2moe_tool_calls_parse(out, strlen(out), &calls))
        fail_msg("seed %d: '%s' does not parse: %s", seed, out, lfm2moe_last_error());
    size_t n = 0;
    lfm2moe_tool_calls_count(calls, &n);
    if (n == 0 && strstr(out, "<|tool_call_start|>"))
        fail_msg("seed %d: no calls in '%s'", seed, out);
    for (size_t i = 0; i < n; i++) {
        const char *name, *args;
        assert_int_equal(lfm2moe_tool_calls_get(calls, i, &name, &args), 0);
        json_value *v = NULL;
        assert_int_equal(json_parse(args, strlen(args), &v, NULL, 0), 0);
        if (!strcmp(name, "get_weather")) {
            const json_value *c = json_get(v, "city"), *d = json_get(v, "days"),
                             *m = json_get(v, "metric");
            assert_true(c && c->type == JSON_STRING);
            assert_true(!d || (d->type == JSON_NUMBER && d->is_integer));
            assert_true(!m || m->type == JSON_BOOL);
        } else if (!strcmp(name, "db.now")) {
            assert_int_equal(v->n, 0);
        } else if (!strcmp(name, "send-mail")) {
            const json_value *to = json_get(v, "to"), *cc = json_get(v, "cc");
            assert_true(to && to->type == JSON_ARRAY && to->n >= 1 && to->n <= 2);
            assert_true(!cc || cc->type == JSON_STRING || cc->type == JSON_NULL);
        } else {
            fail_msg("seed %d: unknown tool '%s'", seed, name);
        }
        json_free(v);
    }
    lfm2moe_tool_calls_free(calls);
}

static void test_tool_calls_required(void **state) {
    (void)state;
    const char *paths[] = {DEMO, TINY};
    for (int m = 0; m < 2; m++) {
        fixture f = {0};
        open_model(&f, paths[m]);
        lfm2moe_grammar *g = NULL;
        if (lfm2moe_grammar_from_tools(f.model, tools, 3, LFM2MOE_TOOL_CHOICE_REQUIRED, &g))
            fail_msg("%s", lfm2moe_last_error());
        static text t;
        for (int seed = 0; seed < 200; seed++) {
            lfm2moe_sampling_params sp;
            settings(seed % 6 == 0 ? 1 : seed, &sp, (uint64_t)seed);
            int reason = run(&f, g, &sp, &t, 1024);
            if (reason != LFM2MOE_STOP_EOS || !strstr(t.buf, "<|tool_call_end|>"))
                fail_msg("model %d seed %d: stop %d '%s'", m, seed, reason, t.buf);
            check_calls(t.buf, seed);
        }
        lfm2moe_grammar_free(g);
        close_model(&f);
    }
}

static void test_tool_calls_auto_and_none(void **state) {
    (void)state;
    fixture f = {0};
    open_model(&f, DEMO);
    int32_t start = -1;
    assert_int_equal(lfm2moe_token_lookup(f.model, "<|tool_call_start|>", 19, &start), 0);
    lfm2moe_grammar *ga = NULL, *gn = NULL;
    assert_int_equal(lfm2moe_grammar_from_tools(f.model, tools, 3, LFM2MOE_TOOL_CHOICE_AUTO, &ga),
                     0);
    assert_int_equal(lfm2moe_grammar_from_tools(f.model, tools, 3, LFM2MOE_TOOL_CHOICE_NONE, &gn),
                     0);
    /* auto: force the model into a call with a logit bias on the start token:
     * the rest of the block is then constrained and parses */
    static text t;
    for (int seed = 0; seed < 40; seed++) {
        lfm2moe_sampling_params sp;
        settings(1, &sp, (uint64_t)seed);
        float bias = seed % 2 ? 8.0f : 0.0f;
        sp.logit_bias_tokens = &start;
        sp.logit_bias_values = &bias;
        sp.n_logit_bias = 1;
        run(&f, ga, &sp, &t, 300);
        if (strstr(t.buf, "<|tool_call_start|>")) {
            const char *end = strstr(t.buf, "<|tool_call_end|>");
            if (!end) fail_msg("seed %d: unfinished block '%s'", seed, t.buf);
            check_calls(t.buf, seed);
        }
        /* none: even a strong bias cannot start a call */
        bias = 50.0f;
        run(&f, gn, &sp, &t, 40);
        assert_null(strstr(t.buf, "<|tool_call_start|>"));
    }
    lfm2moe_grammar_free(ga);
    lfm2moe_grammar_free(gn);
    close_model(&f);
}

static void test_api_errors(void **state) {
    (void)state;
    fixture f = {0};
    open_model(&f, DEMO);
    lfm2moe_grammar *g = (lfm2moe_grammar *)1;
    assert_int_equal(lfm2moe_grammar_create(NULL, "root ::= \"a\"", 12, NULL, &g),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_null(g);
    assert_int_equal(lfm2moe_grammar_create(f.model, "root ::= \"a\"", 12, NULL, NULL),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_grammar_create(f.model, "root ::= (", 10, NULL, &g),
                     LFM2MOE_ERR_PARSE);
    assert_non_null(strstr(lfm2moe_last_error(), "line 1, column"));
    assert_int_equal(lfm2moe_grammar_from_json_schema(f.model, "{", 1, &g), LFM2MOE_ERR_PARSE);
    assert_int_equal(lfm2moe_grammar_from_json_schema(f.model, "{\"maxProperties\": 1}", 20, &g),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "maxProperties"));
    assert_int_equal(lfm2moe_grammar_from_tools(f.model, tools, 3, 7, &g),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    const char *bad_tool[] = {"{\"name\": \"a b\"}"};
    assert_int_equal(lfm2moe_grammar_from_tools(f.model, bad_tool, 1, 0, &g),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_grammar_free(NULL);
    /* the GBNF text, with the buffer protocol */
    assert_int_equal(lfm2moe_grammar_create(f.model, "root ::= \"ab\"\n", 14, NULL, &g), 0);
    char small[4];
    size_t need = 0;
    assert_int_equal(lfm2moe_grammar_gbnf(g, small, sizeof small, &need),
                     LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, 14);
    char buf[32];
    assert_int_equal(lfm2moe_grammar_gbnf(g, buf, sizeof buf, &need), 0);
    assert_string_equal(buf, "root ::= \"ab\"\n");
    /* a sampler: accepting a token the grammar refuses fails and changes nothing */
    lfm2moe_sampler *sm = NULL;
    assert_int_equal(lfm2moe_sampler_create(f.model, NULL, &sm), 0);
    assert_int_equal(lfm2moe_sampler_set_grammar(sm, g), 0);
    int32_t tb = -1, ta = -1;
    size_t n = 0;
    assert_int_equal(lfm2moe_tokenize(f.model, "b", 1, 0, &tb, 1, &n), 0);
    assert_int_equal(lfm2moe_tokenize(f.model, "a", 1, 0, &ta, 1, &n), 0);
    assert_int_equal(lfm2moe_sampler_accept(sm, tb), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_sampler_accept(sm, ta), 0);
    /* now only "b" then the end: the sampler finds them whatever the logits */
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    lfm2moe_vocab_get_info(f.model, &vi);
    float *logits = calloc((size_t)vi.n_vocab, sizeof *logits);
    int32_t tok = -1;
    assert_int_equal(lfm2moe_sampler_sample(sm, logits, &tok), 0);
    assert_int_equal(tok, tb);
    assert_int_equal(lfm2moe_sampler_accept(sm, tok), 0);
    assert_int_equal(lfm2moe_sampler_sample(sm, logits, &tok), 0);
    uint32_t attr = 0;
    lfm2moe_token_attr(f.model, tok, &attr);
    assert_true(attr & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION);
    /* reset goes back to the start; detaching frees the constraint */
    assert_int_equal(lfm2moe_sampler_reset(sm), 0);
    assert_int_equal(lfm2moe_sampler_sample(sm, logits, &tok), 0);
    assert_int_equal(tok, ta);
    assert_int_equal(lfm2moe_sampler_set_grammar(sm, NULL), 0);
    free(logits);
    lfm2moe_sampler_free(sm);
    /* a grammar of another model is refused */
    lfm2moe_model *other = NULL;
    assert_int_equal(lfm2moe_model_load(TINY, NULL, &other), 0);
    assert_int_equal(lfm2moe_sampler_create(other, NULL, &sm), 0);
    assert_int_equal(lfm2moe_sampler_set_grammar(sm, g), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_sampler_free(sm);
    lfm2moe_model_free(other);
    lfm2moe_grammar_free(g);
    close_model(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_gbnf_every_setting),
        cmocka_unit_test(test_json_schema_outputs_parse),
        cmocka_unit_test(test_tool_calls_required),
        cmocka_unit_test(test_tool_calls_auto_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
