/* The shipped demo model (models/lfm2moe-demo-f32.gguf, trained by
 * tools/train): behaviour, not just numbers.
 *  - logits equal those of the PyTorch/NumPy model it was exported from;
 *  - greedy answers on the held-out sets are at least as accurate as the
 *    PyTorch model's (tools/train/results.json);
 *  - perplexity (llama.cpp's windowed method) matches PyTorch's within 1%;
 *  - quantized copies keep their perplexity: Q8_0 within 1%, Q4_K_M within
 *    10% of F32. */
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

#include "gld.h"
#include "base/json.h"
#include "perplexity.h"
#include "lfm2moe.h"
#include "test_files.h"

#define DEMO SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"
#define TRAIN SOURCE_DIR "/tools/train"

static json_value *results(void) {
    size_t len;
    char *text = test_read_file(TRAIN "/results.json", &len);
    json_value *v = NULL;
    char err[128];
    if (json_parse(text, len, &v, err, sizeof err)) fail_msg("results.json: %s", err);
    free(text);
    return v;
}

static lfm2moe_model *load(const char *path) {
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load(path, NULL, &m)) fail_msg("load %s: %s", path, lfm2moe_last_error());
    return m;
}

static lfm2moe_session *session(lfm2moe_model *m, int n_ctx) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = 2;
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_OK);
    return s;
}

/* PyTorch/NumPy logits of a held-out prompt: batched prompt, then one token
 * at a time, within 1e-3. */
static void test_logits_match_pytorch(void **state) {
    (void)state;
    char err[256];
    gld g;
    if (gld_read(GOLDEN_DIR "/demo-ref.gld", 1, &g, err, sizeof err)) fail_msg("%s", err);
    lfm2moe_model *m = load(DEMO);
    lfm2moe_session *s = session(m, g.n_prompt + g.n_gen);
    double worst = 0;
    for (int32_t t = 0; t < g.n_prompt + g.n_gen;) {
        int32_t step = t == 0 ? g.n_prompt : 1;
        assert_int_equal(lfm2moe_decode_step(s, g.tokens + t, step, LFM2MOE_DECODE_ALL_LOGITS), 0);
        for (int32_t i = 0; i < step; i++) {
            const float *lg;
            assert_int_equal(lfm2moe_session_logits(s, i, &lg), 0);
            for (int32_t v = 0; v < g.n_vocab; v++) {
                double d = fabs(lg[v] - g.logits[(size_t)(t + i) * g.n_vocab + v]);
                worst = d > worst ? d : worst;
            }
        }
        t += step;
    }
    print_message("demo model vs PyTorch: max |d| %.3g over %d rows\n", worst,
                  g.n_prompt + g.n_gen);
    assert_true(worst <= 1e-3);
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
    gld_free(&g);
}

typedef struct collect {
    char buf[512];
    size_t len;
} collect;

static int on_piece(void *user, const char *piece, size_t len, int32_t token) {
    (void)token;
    collect *c = user;
    if (c->len + len < sizeof c->buf) {
        memcpy(c->buf + c->len, piece, len);
        c->len += len;
    }
    return 0;
}

/* Greedy answer to one user message, as `lfm2moe generate --chat` does. */
static void answer(lfm2moe_model *m, lfm2moe_session *s, const char *question, collect *out) {
    const char *roles[] = {"user"};
    const char *contents[] = {question};
    char prompt[1024];
    size_t plen = 0;
    assert_int_equal(lfm2moe_chat_render(m, roles, contents, 1, NULL, 0,
                                         LFM2MOE_CHAT_ADD_GENERATION_PROMPT, prompt, sizeof prompt,
                                         &plen),
                     0);
    int32_t toks[512];
    size_t n = 0;
    assert_int_equal(
        lfm2moe_tokenize(m, prompt, plen, LFM2MOE_TOKENIZE_PARSE_SPECIAL, toks, 512, &n), 0);
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.sampling.temperature = 0; /* greedy, as the PyTorch evaluation */
    gp.sampling.repeat_penalty = 1;
    gp.sampling.min_p = 0;
    gp.max_tokens = 48;
    gp.callback = on_piece;
    gp.user_data = out;
    out->len = 0;
    lfm2moe_session_reset(s);
    assert_int_equal(lfm2moe_generate(s, toks, n, &gp, NULL), 0);
    out->buf[out->len] = 0;
}

static void test_heldout_accuracy(void **state) {
    (void)state;
    static const char *kinds[] = {"add", "count", "reverse", "capital", "capital_recall"};
    json_value *res = results();
    const json_value *exact = json_get(res, "heldout_exact");
    assert_non_null(exact);
    lfm2moe_model *m = load(DEMO);
    lfm2moe_session *s = session(m, 256);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, TRAIN "/heldout/%s.jsonl", kinds[k]);
        size_t len;
        char *text = test_read_file(path, &len);
        int n = 0, ok = 0;
        for (char *line = text, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            if (!*line) continue;
            json_value *item = NULL;
            assert_int_equal(json_parse(line, strlen(line), &item, NULL, 0), 0);
            collect c;
            answer(m, s, json_get(item, "prompt")->str, &c);
            ok += strcmp(c.buf, json_get(item, "answer")->str) == 0;
            n++;
            json_free(item);
        }
        free(text);
        const json_value *want = json_get(json_get(exact, kinds[k]), "exact");
        assert_non_null(want);
        double acc = (double)ok / n;
        print_message("held-out %-15s %4d: library %.4f, PyTorch %.4f\n", kinds[k], n, acc,
                      want->number);
        /* at least as accurate as the model it was exported from (the
         * PyTorch value is rounded to 4 decimals) */
        assert_true(acc >= want->number - 1e-4);
    }
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
    json_free(res);
}

/* llama.cpp's perplexity, as `lfm2moe perplexity` computes it. */
static double perplexity(lfm2moe_model *m, const char *text, size_t len, int n_ctx) {
    ppl_result r;
    assert_int_equal(ppl_compute(m, text, len, n_ctx, 2, NULL, NULL, &r), LFM2MOE_OK);
    return r.ppl;
}

static void test_perplexity_matches_pytorch(void **state) {
    (void)state;
    json_value *res = results();
    size_t len;
    char *text = test_read_file(TRAIN "/heldout/text.txt", &len);
    lfm2moe_model *m = load(DEMO);
    static const int ctxs[] = {64, 128};
    for (size_t i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "n_ctx=%d", ctxs[i]);
        const json_value *want = json_get(json_get(json_get(res, "perplexity"), key), "ppl");
        assert_non_null(want);
        double ppl = perplexity(m, text, len, ctxs[i]);
        print_message("perplexity n_ctx %d: library %.4f, PyTorch %.4f\n", ctxs[i], ppl,
                      want->number);
        assert_true(fabs(ppl / want->number - 1) <= 0.01);
    }
    lfm2moe_model_free(m);
    free(text);
    json_free(res);
}

static void test_quantized_perplexity(void **state) {
    (void)state;
    size_t len;
    char *text = test_read_file(TRAIN "/heldout/text.txt", &len);
    lfm2moe_model *m = load(DEMO);
    const double base = perplexity(m, text, len, 128);
    lfm2moe_model_free(m);
    static const struct {
        int ftype;
        double tol;
    } cases[] = {{LFM2MOE_FTYPE_Q8_0, 0.01}, {LFM2MOE_FTYPE_Q4_K_M, 0.10}};
    for (size_t i = 0; i < 2; i++) {
        char out[64];
        snprintf(out, sizeof out, "demo-%d-%d.gguf", cases[i].ftype, (int)getpid());
        lfm2moe_quantize_params qp;
        lfm2moe_quantize_params_init(&qp);
        qp.ftype = cases[i].ftype;
        if (lfm2moe_model_quantize(DEMO, out, &qp)) fail_msg("quantize: %s", lfm2moe_last_error());
        m = load(out);
        double ppl = perplexity(m, text, len, 128);
        lfm2moe_model_info mi = {.struct_size = sizeof mi};
        lfm2moe_model_get_info(m, &mi);
        print_message("%-7s %.2f MiB: perplexity %.4f vs F32 %.4f (%+.2f%%)\n",
                      lfm2moe_ftype_name(cases[i].ftype), (double)mi.file_size / 1048576.0, ppl,
                      base, 100 * (ppl / base - 1));
        assert_true(fabs(ppl / base - 1) <= cases[i].tol);
        lfm2moe_model_free(m);
        unlink(out);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_match_pytorch),
        cmocka_unit_test(test_heldout_accuracy),
        cmocka_unit_test(test_perplexity_matches_pytorch),
        cmocka_unit_test(test_quantized_perplexity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
