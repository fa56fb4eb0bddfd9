/* Tokenizer internals on small vocabularies built byte by byte: loading
 * (absent, unsupported and malformed tokenizers), BPE merge order and ties,
 * llama.cpp's longest-first special-token partition, USER_DEFINED tokens,
 * duplicate texts and token pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/gguf.h"
#include "gguf_builder.h"
#include "lfm2moe.h"
#include "text/tokenizer.h"

/* What the file's tokenizer metadata holds; NULL/0 fields are left out. */
typedef struct {
    const char *model, *pre;
    const char *const *tokens;
    int n_tokens;
    const int32_t *types; /* n_tokens entries */
    const char *const *merges;
    int n_merges, has_merges;
    int bos;     /* -1: absent */
    int add_bos; /* -1: absent */
} tok_spec;

static void kv_str_array(gguf_writer *w, const char *key, const char *const *v, int n) {
    gw_kv_array_head(w, key, GGUF_TYPE_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++)
        gw_cstr(w, v[i]);
}

/* Build the image (with w, an empty image's writer), parse it, load the
 * vocabulary: returns the status. */
static int load(const tok_spec *s, gguf_writer *w, gguf_file *g, struct lfm_vocab **v) {
    int n_kv = (s->model != NULL) + (s->pre != NULL) + (s->tokens != NULL) + (s->types != NULL) +
               (s->has_merges != 0) + (s->bos >= 0) + (s->add_bos >= 0);
    gw_header(w, 0, (uint64_t)n_kv);
    if (s->model) gw_kv_str(w, "tokenizer.ggml.model", s->model);
    if (s->pre) gw_kv_str(w, "tokenizer.ggml.pre", s->pre);
    if (s->tokens) kv_str_array(w, "tokenizer.ggml.tokens", s->tokens, s->n_tokens);
    if (s->types) gw_kv_i32_array(w, "tokenizer.ggml.token_type", s->types, (size_t)s->n_tokens);
    if (s->has_merges) kv_str_array(w, "tokenizer.ggml.merges", s->merges, s->n_merges);
    if (s->bos >= 0) gw_kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)s->bos);
    if (s->add_bos >= 0) gw_kv_bool(w, "tokenizer.ggml.add_bos_token", s->add_bos);
    memset(g, 0, sizeof *g);
    int st = gguf_parse(w->mem->data, w->mem->len, g);
    if (st) fail_msg("gguf_parse: %s", lfm2moe_last_error());
    return lfm_vocab_load(g, v);
}

/* normal a b c ab bc, control <s> Xb bcd!, user-defined [U], then " " (as
 * "Ġ"), d, X, aa and "a" again */
static const char *const toks[] = {"a",    "b",   "c",        "ab", "bc", "<s>", "Xb",
                                   "bcd!", "[U]", "\xc4\xa0", "d",  "X",  "aa",  "a"};
enum { T_A = 0, T_B, T_C, T_AB, T_BC, T_S, T_C1, T_C2, T_U, T_SP, T_D, T_X, T_AA, T_A2 };
static const int32_t types[] = {1, 1, 1, 1, 1, 3, 3, 3, 4, 1, 1, 1, 1, 1};

static tok_spec base_spec(void) {
    static const char *const merges[] = {"a b", "b c", "a a"};
    tok_spec s = {"gpt2", "lfm2", toks, 14, types, merges, 3, 1, T_S, -1};
    return s;
}

static size_t tok(const struct lfm_vocab *v, const char *text, uint32_t flags, int32_t *out) {
    size_t n = 0;
    assert_int_equal(lfm_vocab_tokenize(v, text, strlen(text), flags, out, 64, &n), LFM2MOE_OK);
    return n;
}

static void test_bpe_rank_order_and_ties(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = NULL;
    tok_spec s = base_spec();
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    assert_non_null(v);
    int32_t out[64];
    /* "abc" is not a token: merge "a b" (rank 0) before "b c" (rank 1) */
    assert_int_equal(tok(v, "abc", 0, out), 2);
    assert_int_equal(out[0], T_AB);
    assert_int_equal(out[1], T_C);
    /* equal ranks merge leftmost first; stale pairs are skipped */
    assert_int_equal(tok(v, "aaa", 0, out), 2);
    assert_int_equal(out[0], T_AA);
    assert_int_equal(out[1], T_A2); /* duplicate text: the later id wins */
    assert_int_equal(tok(v, "aaaa", 0, out), 2);
    assert_int_equal(out[0], T_AA);
    assert_int_equal(out[1], T_AA);
    /* BOS when asked and defined; add_bos defaults to on for lfm2 */
    assert_int_equal(tok(v, "", LFM2MOE_TOKENIZE_ADD_BOS, out), 1);
    assert_int_equal(out[0], T_S);
    assert_int_equal(v->add_bos, 1);
    assert_int_equal(lfm_vocab_find(v, "a", 1), T_A2);
    lfm_vocab_free(v);
    gguf_free(&g);
    strbuf_free(&b);

    /* the other merge order gives the other split */
    static const char *const merges2[] = {"b c", "a b"};
    s.merges = merges2;
    s.n_merges = 2;
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    assert_int_equal(tok(v, "abc", 0, out), 2);
    assert_int_equal(out[0], T_A2);
    assert_int_equal(out[1], T_BC);
    lfm_vocab_free(v);
    gguf_free(&g);
    strbuf_free(&b);
}

static void test_special_partition(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = NULL;
    tok_spec s = base_spec();
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    int32_t out[64];
    /* "Xb" and "bcd!" overlap in "Xbcd!": the longer token is cut first
     * (llama.cpp), not the leftmost */
    assert_int_equal(tok(v, "Xbcd!", LFM2MOE_TOKENIZE_PARSE_SPECIAL, out), 2);
    assert_int_equal(out[0], T_X);
    assert_int_equal(out[1], T_C2);
    /* USER_DEFINED tokens are cut even without PARSE_SPECIAL, CONTROL not */
    size_t n = tok(v, "X[U]X<s>", 0, out);
    assert_int_equal(out[0], T_X);
    assert_int_equal(out[1], T_U);
    assert_int_equal(out[2], T_X);
    assert_int_equal(n, 3); /* "<s>" as text: '<', 's', '>' have no tokens here */
    n = tok(v, "X[U]X<s>", LFM2MOE_TOKENIZE_PARSE_SPECIAL, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[3], T_S);
    /* special pieces are their text; " " is decoded from "Ġ" */
    size_t len;
    const char *p = lfm_vocab_piece(v, T_U, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "[U]", 3);
    p = lfm_vocab_piece(v, T_SP, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], ' ');
    lfm_vocab_free(v);
    gguf_free(&g);
    strbuf_free(&b);
}

static void test_no_tokenizer(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = (struct lfm_vocab *)&v;
    tok_spec s = {0};
    s.bos = s.add_bos = -1;
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    assert_null(v);
    gguf_free(&g);
    strbuf_free(&b);
    s.model = "none";
    v = (struct lfm_vocab *)&v;
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    assert_null(v);
    gguf_free(&g);
    strbuf_free(&b);
}

static void expect_bad(tok_spec s, const char *what) {
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = (struct lfm_vocab *)&v;
    int st = load(&s, &w, &g, &v);
    if (st != LFM2MOE_ERR_BAD_MODEL) fail_msg("%s: status %d", what, st);
    assert_null(v);
    assert_true(strlen(lfm2moe_last_error()) > 0);
    gguf_free(&g);
    strbuf_free(&b);
}

/* The pre-tokenizer names of llama.cpp's llama3 split, "lfm2" (every LFM2
 * and LFM2.5 file) first, load. */
static void test_pre_tokenizer_names(void **state) {
    (void)state;
    static const char *const names[] = {"lfm2", "llama3", "llama-bpe", "jina-v5-nano"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tok_spec s = base_spec();
        s.pre = names[i];
        strbuf b = {0};
        gguf_writer w = gw_memory(&b);
        gguf_file g;
        struct lfm_vocab *v = NULL;
        if (load(&s, &w, &g, &v) != LFM2MOE_OK)
            fail_msg("pre-tokenizer '%s': %s", names[i], lfm2moe_last_error());
        assert_non_null(v);
        lfm_vocab_free(v);
        gguf_free(&g);
        strbuf_free(&b);
    }
}

static void test_malformed(void **state) {
    (void)state;
    tok_spec s = base_spec();
    s.model = "llama";
    expect_bad(s, "SentencePiece model");
    s = base_spec();
    s.pre = NULL;
    expect_bad(s, "no pre-tokenizer");
    s = base_spec();
    s.pre = "gpt-2";
    expect_bad(s, "unsupported pre-tokenizer");
    assert_non_null(strstr(lfm2moe_last_error(), "'gpt-2'"));
    s.pre = "qwen2";
    expect_bad(s, "another family's pre-tokenizer");
    assert_non_null(strstr(lfm2moe_last_error(), "'qwen2'"));
    s.pre = "lfm2x";
    expect_bad(s, "a name that starts like lfm2");
    s = base_spec();
    s.tokens = NULL;
    s.types = NULL;
    expect_bad(s, "no tokens");
    s = base_spec();
    s.n_tokens = 0;
    s.types = NULL;
    expect_bad(s, "empty tokens");
    s = base_spec();
    s.has_merges = 0;
    expect_bad(s, "no merges");
    static const char *const bad_merge[] = {"a b", "ab"};
    s = base_spec();
    s.merges = bad_merge;
    s.n_merges = 2;
    expect_bad(s, "merge without a space");

    /* token_type with the wrong count */
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = NULL;
    gw_header(&w, 0, 5);
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "lfm2");
    kv_str_array(&w, "tokenizer.ggml.tokens", toks, 3);
    gw_kv_i32_array(&w, "tokenizer.ggml.token_type", types, 2);
    kv_str_array(&w, "tokenizer.ggml.merges", toks, 0);
    assert_int_equal(gguf_parse(b.data, b.len, &g), LFM2MOE_OK);
    assert_int_equal(lfm_vocab_load(&g, &v), LFM2MOE_ERR_BAD_MODEL);
    assert_null(v);
    gguf_free(&g);
    strbuf_free(&b);
    /* tokens that are not strings */
    gw_header(&w, 0, 3);
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "lfm2");
    gw_kv_i32_array(&w, "tokenizer.ggml.tokens", types, 3);
    assert_int_equal(gguf_parse(b.data, b.len, &g), LFM2MOE_OK);
    assert_int_equal(lfm_vocab_load(&g, &v), LFM2MOE_ERR_BAD_MODEL);
    gguf_free(&g);
    strbuf_free(&b);

    assert_int_equal(lfm_vocab_load(NULL, &v), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm_vocab_free(NULL);
}

static void test_odd_but_accepted(void **state) {
    (void)state;
    /* out-of-range BOS is ignored (as llama.cpp does), unknown token types
     * decode to nothing, add_bos_token false is honoured */
    static const int32_t odd_types[] = {1, 1, 1, 1, 1, 3, 3, 3, 4, 1, 1, 1, 1, 42};
    tok_spec s = base_spec();
    s.types = odd_types;
    s.bos = 1000;
    s.add_bos = 0;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gguf_file g;
    struct lfm_vocab *v = NULL;
    assert_int_equal(load(&s, &w, &g, &v), LFM2MOE_OK);
    assert_int_equal(v->bos, -1);
    assert_int_equal(v->add_bos, 0);
    assert_int_equal(v->attr[T_A2], 0);
    size_t len;
    lfm_vocab_piece(v, T_A2, &len);
    assert_int_equal(len, 0);
    int32_t out[4];
    size_t n;
    assert_int_equal(lfm_vocab_tokenize(v, "", 0, LFM2MOE_TOKENIZE_ADD_BOS, out, 4, &n),
                     LFM2MOE_OK);
    assert_int_equal(n, 0);
    /* a character without any token is dropped, not a crash */
    assert_int_equal(lfm_vocab_tokenize(v, "zz", 2, 0, out, 4, &n), LFM2MOE_OK);
    assert_int_equal(n, 0);
    lfm_vocab_free(v);
    gguf_free(&g);
    strbuf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_rank_order_and_ties),
        cmocka_unit_test(test_special_partition),
        cmocka_unit_test(test_no_tokenizer),
        cmocka_unit_test(test_pre_tokenizer_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_odd_but_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
