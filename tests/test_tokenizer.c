/* Tokenizer through the public API and the CLI: llama.cpp's tokenizations
 * of tests/golden/tokenizer-a.jsonl (vocabulary of tiny-a-f32.gguf), byte
 * round trips, the streaming detokenizer, invalid UTF-8, and argument
 * checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/json.h"
#include "lfm2moe.h"
#include "test_files.h"

#define MODEL_A GOLDEN_DIR "/tiny-a-f32.gguf"

static lfm2moe_model *model;

/* The golden lines, parsed. */
static json_value **lines;
static size_t n_lines;

static int setup(void **state) {
    (void)state;
    if (lfm2moe_model_load(MODEL_A, NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "load %s: %s\n", MODEL_A, lfm2moe_last_error());
        return -1;
    }
    size_t len;
    char *text = test_read_file(GOLDEN_DIR "/tokenizer-a.jsonl", &len);
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ll) {
            json_value *v;
            char err[128];
            if (json_parse(line, ll, &v, err, sizeof err)) {
                fprintf(stderr, "tokenizer-a.jsonl: %s\n", err);
                return -1;
            }
            lines = realloc(lines, (n_lines + 1) * sizeof *lines);
            lines[n_lines++] = v;
        }
        line += ll + 1;
    }
    free(text);
    return n_lines ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < n_lines; i++)
        json_free(lines[i]);
    free(lines);
    lfm2moe_model_free(model);
    return 0;
}

static uint32_t line_flags(const json_value *d) {
    return (json_get(d, "add_special")->boolean ? LFM2MOE_TOKENIZE_ADD_BOS : 0) |
           (json_get(d, "parse_special")->boolean ? LFM2MOE_TOKENIZE_PARSE_SPECIAL : 0);
}

/* Tokenize with a size query first; returns a malloc'd array. */
static int32_t *tokenize(const char *text, size_t len, uint32_t flags, size_t *n) {
    int st = lfm2moe_tokenize(model, text, len, flags, NULL, 0, n);
    assert_true(st == LFM2MOE_OK || st == LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(st == LFM2MOE_OK, *n == 0);
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    size_t n2 = 0;
    assert_int_equal(lfm2moe_tokenize(model, text, len, flags, ids, *n, &n2), LFM2MOE_OK);
    assert_int_equal(n2, *n);
    return ids;
}

static char *detokenize(const int32_t *ids, size_t n, size_t *len) {
    int st = lfm2moe_detokenize(model, ids, n, NULL, 0, len);
    assert_true(st == LFM2MOE_OK || st == LFM2MOE_ERR_BUFFER_TOO_SMALL);
    char *buf = malloc(*len + 1);
    size_t l2;
    assert_int_equal(lfm2moe_detokenize(model, ids, n, buf, *len, &l2), LFM2MOE_OK);
    assert_int_equal(l2, *len);
    return buf;
}

/* The ids of golden line d (malloc'd, *n of them); *ok: they are llama.cpp's. */
static int32_t *tokenize_line(const json_value *d, size_t *n, int *ok) {
    const json_value *text = json_get(d, "text"), *ids = json_get(d, "ids");
    int32_t *got = tokenize(text->str, text->len, line_flags(d), n);
    *ok = *n == ids->n;
    for (size_t k = 0; *ok && k < *n; k++)
        *ok = got[k] == (int32_t)ids->items[k]->number;
    return got;
}

static void test_golden_api(void **state) {
    (void)state;
    size_t bad = 0;
    for (size_t i = 0; i < n_lines; i++) {
        const json_value *d = lines[i], *text = json_get(d, "text");
        size_t n;
        int ok;
        int32_t *got = tokenize_line(d, &n, &ok);
        if (!ok) {
            bad++;
            fprintf(stderr, "line %zu (%s): got", i + 1, text->str);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, " %d", (int)got[k]);
            fprintf(stderr, "\n");
        }
        /* a buffer one short reports the size and fills what fits */
        if (n > 1) {
            int32_t *small = malloc(n * sizeof *small);
            size_t need = 0;
            assert_int_equal(
                lfm2moe_tokenize(model, text->str, text->len, line_flags(d), small, n - 1, &need),
                LFM2MOE_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(need, n);
            assert_memory_equal(small, got, (n - 1) * sizeof *small);
            free(small);
        }
        free(got);
    }
    assert_int_equal(bad, 0);
}

/* The other LFM2 family files (pre-tokenizer "lfm2"): the dense LFM2.5
 * model tiny-d-f32 (architecture lfm2) and tiny-t25-f32 (LFM2.5-8B-A1B's
 * template) carry the same vocabulary and must give llama.cpp's ids for
 * every golden line too. */
static void test_golden_family_files(void **state) {
    (void)state;
    static const char *const files[] = {GOLDEN_DIR "/tiny-d-f32.gguf",
                                        GOLDEN_DIR "/tiny-t25-f32.gguf"};
    lfm2moe_model *a = model;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        if (lfm2moe_model_load(files[f], NULL, &model) != LFM2MOE_OK)
            fail_msg("%s: %s", files[f], lfm2moe_last_error());
        size_t bad = 0;
        for (size_t i = 0; i < n_lines; i++) {
            size_t n;
            int ok;
            free(tokenize_line(lines[i], &n, &ok));
            bad += !ok;
        }
        lfm2moe_model_free(model);
        model = a;
        if (bad) fail_msg("%s: %zu lines differ", files[f], bad);
    }
}

static void test_golden_cli(void **state) {
    (void)state;
    for (size_t i = 0; i < n_lines; i++) {
        const json_value *d = lines[i], *text = json_get(d, "text"), *ids = json_get(d, "ids");
        char args[512];
        snprintf(args, sizeof args, "tokenize -m '%s'%s%s", MODEL_A,
                 json_get(d, "add_special")->boolean ? "" : " --no-bos",
                 json_get(d, "parse_special")->boolean ? " --parse-special" : "");
        size_t len;
        int status;
        char *out = test_run_cli(args, text->str, text->len, &len, &status);
        assert_int_equal(status, 0);
        json_value *got;
        assert_int_equal(json_parse(out, len, &got, NULL, 0), 0);
        strbuf want = {0}, have = {0};
        json_dump(ids, &want);
        json_dump(got, &have);
        if (strcmp(want.data, have.data))
            fprintf(stderr, "line %zu: CLI gave %s, want %s\n", i + 1, have.data, want.data);
        assert_string_equal(have.data, want.data);
        /* exactly the JSON array and a newline */
        assert_int_equal(len, want.len + 1);
        strbuf_free(&want);
        strbuf_free(&have);
        json_free(got);
        free(out);
    }
}

/* Deterministic pseudo-random texts: pieces of many scripts, digits,
 * punctuation, white space runs, contractions, and raw (invalid) bytes. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static size_t random_text(char *out, size_t max, int allow_invalid) {
    static const char *const pieces[] = {"a",
                                         "b",
                                         "license",
                                         " License",
                                         "THE",
                                         "x",
                                         "Q",
                                         "'s",
                                         "'T",
                                         "'re",
                                         "'LL",
                                         "'d",
                                         "'",
                                         "0",
                                         "7",
                                         "123",
                                         "4567",
                                         " ",
                                         "  ",
                                         "\t",
                                         "\n",
                                         "\r\n",
                                         "\n\n\n",
                                         "   ",
                                         ".",
                                         ",",
                                         "!?",
                                         "(",
                                         ")",
                                         "{",
                                         "}",
                                         "\"",
                                         "-",
                                         "_",
                                         "#",
                                         "\xc2\xa0",
                                         "\xe2\x80\x89",
                                         "\xe3\x80\x80",
                                         "\xc3\xa9",
                                         "\xc3\x9f",
                                         "\xce\xa9",
                                         "\xd0\xb6",
                                         "\xe6\x97\xa5",
                                         "\xe6\x9c\xac",
                                         "\xec\x96\xb4",
                                         "\xd9\xa3",
                                         "\xc2\xb2",
                                         "\xe2\x85\xab",
                                         "\xcc\x81",
                                         "\xe2\x80\x8d",
                                         "\xf0\x9f\x9a\x80",
                                         "\xf0\x9f\x91\xa9",
                                         "\xef\xbf\xbd",
                                         "\xcd\xb8",
                                         "<|",
                                         "|>",
                                         "<|im_start|>",
                                         "<|im_end|>",
                                         "<|pad|>"};
    static const char *const invalid[] = {
        "\xff",         "\x80",         "\xc3",     "\xe3\x81",
        "\xf0\x9f\x9a", "\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80",
        "\x00",         "\xfe\xfe"};
    size_t n = 0, k = rnd() % 40;
    for (size_t i = 0; i < k; i++) {
        const char *p;
        size_t l;
        if (allow_invalid && rnd() % 6 == 0) {
            size_t j = rnd() % (sizeof invalid / sizeof invalid[0]);
            p = invalid[j];
            l = p[0] ? strlen(p) : 1;
        } else {
            p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            l = strlen(p);
        }
        if (n + l > max) break;
        memcpy(out + n, p, l);
        n += l;
    }
    return n;
}

/* Strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF). */
static int valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= need) return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((u[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

/* detokenize(tokenize(text)) == text, and the streaming detokenizer gives
 * the same bytes in pieces that are valid UTF-8 whenever the text is. */
static void check_round_trip(const char *text, size_t len) {
    size_t n;
    int32_t *ids = tokenize(text, len, 0, &n);
    size_t dl;
    char *back = detokenize(ids, n, &dl);
    assert_int_equal(dl, len);
    assert_memory_equal(back, text, len);

    int valid = valid_utf8(text, len);
    lfm2moe_detokenizer *d;
    assert_int_equal(lfm2moe_detokenizer_create(model, &d), LFM2MOE_OK);
    strbuf all = {0};
    for (size_t i = 0; i < n; i++) {
        const char *piece;
        size_t pl;
        assert_int_equal(lfm2moe_detokenizer_push(d, ids[i], &piece, &pl), LFM2MOE_OK);
        if (valid) assert_true(valid_utf8(piece, pl));
        strbuf_append(&all, piece, pl);
    }
    const char *piece;
    size_t pl;
    assert_int_equal(lfm2moe_detokenizer_flush(d, &piece, &pl), LFM2MOE_OK);
    if (valid) assert_int_equal(pl, 0);
    strbuf_append(&all, piece, pl);
    assert_int_equal(all.len, len);
    if (len) assert_memory_equal(all.data, text, len);
    strbuf_free(&all);
    lfm2moe_detokenizer_free(d);
    free(back);
    free(ids);
}

static void test_round_trip(void **state) {
    (void)state;
    for (size_t i = 0; i < n_lines; i++) {
        const json_value *text = json_get(lines[i], "text");
        check_round_trip(text->str, text->len);
    }
    char buf[512];
    for (int i = 0; i < 2000; i++) {
        size_t n = random_text(buf, sizeof buf, 0);
        assert_true(valid_utf8(buf, n));
        check_round_trip(buf, n);
    }
}

static void test_invalid_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } cases[] = {
        {"\xff", 1},
        {"\x80\x80", 2},
        {"abc\xc3", 4},
        {"\xe3\x81 x", 4},
        {"\xf0\x9f\x9a\x80\xf0\x9f", 6},
        {"\xed\xa0\x80", 3},
        {"\xc0\xaf", 2},
        {"a\0b", 3},
        {"\xf8\x88\x80\x80\x80", 5},
        {"don\x92t", 5},
        {"\xfe\xff\xfe\xff", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        int32_t *ids = tokenize(cases[i].s, cases[i].n, LFM2MOE_TOKENIZE_PARSE_SPECIAL, &n);
        assert_true(n > 0);
        free(ids);
        check_round_trip(cases[i].s, cases[i].n);
    }
    char buf[512];
    for (int i = 0; i < 2000; i++)
        check_round_trip(buf, random_text(buf, sizeof buf, 1));
}

/* Long runs are one pre-token each: BPE must stay fast and exact. */
static void test_long_runs(void **state) {
    (void)state;
    size_t len = 1 << 20;
    char *text = malloc(len);
    const char fill[] = {'a', ' ', '7', '.', '\n'};
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(text, fill[f], len);
        check_round_trip(text, len);
    }
    for (size_t i = 0; i < len; i++)
        text[i] = "license"[i % 7];
    check_round_trip(text, len);
    free(text);
}

static void test_special_tokens(void **state) {
    (void)state;
    /* with PARSE_SPECIAL a marker is one token, without it plain text */
    const char *t = "<|im_start|>";
    size_t n;
    int32_t *ids = tokenize(t, strlen(t), LFM2MOE_TOKENIZE_PARSE_SPECIAL, &n);
    assert_int_equal(n, 1);
    int32_t im_start;
    assert_int_equal(lfm2moe_token_lookup(model, t, strlen(t), &im_start), LFM2MOE_OK);
    assert_int_equal(ids[0], im_start);
    free(ids);
    ids = tokenize(t, strlen(t), 0, &n);
    assert_true(n > 1);
    free(ids);

    char buf[64];
    size_t len;
    assert_int_equal(lfm2moe_token_to_bytes(model, im_start, buf, sizeof buf, &len), LFM2MOE_OK);
    assert_int_equal(len, strlen(t));
    assert_memory_equal(buf, t, len);

    /* " " is token 48 in this vocabulary (golden line 3) */
    assert_int_equal(lfm2moe_token_to_bytes(model, 48, buf, sizeof buf, &len), LFM2MOE_OK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], ' ');
}

static void test_vocab_info_and_attrs(void **state) {
    (void)state;
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    assert_int_equal(lfm2moe_vocab_get_info(model, &vi), LFM2MOE_OK);
    assert_int_equal(vi.n_vocab, 1024);
    assert_int_equal(vi.bos, 1);
    assert_int_equal(vi.eos, 7);
    assert_int_equal(vi.pad, 0);
    assert_int_equal(vi.end_of_turn, 7); /* <|im_end|> */
    assert_int_equal(vi.add_bos, 1);

    uint32_t a;
    assert_int_equal(lfm2moe_token_attr(model, 7, &a), LFM2MOE_OK);
    assert_int_equal(a, LFM2MOE_TOKEN_ATTR_CONTROL | LFM2MOE_TOKEN_ATTR_END_OF_GENERATION);
    assert_int_equal(lfm2moe_token_attr(model, 2, &a), LFM2MOE_OK); /* <|endoftext|> */
    assert_int_equal(a, LFM2MOE_TOKEN_ATTR_CONTROL | LFM2MOE_TOKEN_ATTR_END_OF_GENERATION);
    assert_int_equal(lfm2moe_token_attr(model, 6, &a), LFM2MOE_OK); /* <|im_start|> */
    assert_int_equal(a, LFM2MOE_TOKEN_ATTR_CONTROL);
    assert_int_equal(lfm2moe_token_attr(model, 300, &a), LFM2MOE_OK);
    assert_int_equal(a, LFM2MOE_TOKEN_ATTR_NORMAL);

    int32_t id;
    assert_int_equal(lfm2moe_token_lookup(model, "<|im_end|>", 10, &id), LFM2MOE_OK);
    assert_int_equal(id, 7);
    /* vocabulary text, not bytes: " the" is spelled "Ġthe" */
    assert_int_equal(lfm2moe_token_lookup(model, "\xc4\xa0the", 5, &id), LFM2MOE_OK);
    char buf[16];
    size_t len;
    assert_int_equal(lfm2moe_token_to_bytes(model, id, buf, sizeof buf, &len), LFM2MOE_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, " the", 4);
    assert_int_equal(lfm2moe_token_lookup(model, "<|nope|>", 8, &id), LFM2MOE_ERR_NOT_FOUND);
    assert_true(strlen(lfm2moe_last_error()) > 0);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    int32_t ids[8];
    size_t n;
    char buf[8];
    uint32_t a;
    int32_t id;
    const char *piece;
    assert_int_equal(lfm2moe_tokenize(NULL, "a", 1, 0, ids, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tokenize(model, NULL, 1, 0, ids, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tokenize(model, NULL, 0, 0, ids, 8, &n), LFM2MOE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lfm2moe_tokenize(model, "a", 1, 0, NULL, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tokenize(model, "a", 1, 0, ids, 8, NULL),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tokenize(model, "a", 1, 0x80, ids, 8, &n),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_true(strstr(lfm2moe_last_error(), "flags") != NULL);

    assert_int_equal(lfm2moe_token_to_bytes(NULL, 1, buf, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_token_to_bytes(model, -1, buf, 8, &n), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_token_to_bytes(model, 1024, buf, 8, &n),
                     LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_token_to_bytes(model, 1, NULL, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    /* "<|startoftext|>" is 15 bytes: too small reports the size, fills a prefix */
    memset(buf, 0, sizeof buf);
    assert_int_equal(lfm2moe_token_to_bytes(model, 1, buf, 8, &n), LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 15);
    assert_memory_equal(buf, "<|starto", 8);
    assert_int_equal(lfm2moe_token_to_bytes(model, 1, NULL, 0, &n), LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 15);

    int32_t bad[2] = {5, 5000};
    assert_int_equal(lfm2moe_detokenize(model, bad, 2, buf, 8, &n), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_detokenize(model, NULL, 2, buf, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_detokenize(model, NULL, 0, buf, 8, &n), LFM2MOE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lfm2moe_detokenize(NULL, bad, 1, buf, 8, &n), LFM2MOE_ERR_INVALID_ARGUMENT);

    assert_int_equal(lfm2moe_token_lookup(NULL, "a", 1, &id), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_token_lookup(model, NULL, 1, &id), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_token_lookup(model, "a", 1, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);

    assert_int_equal(lfm2moe_token_attr(NULL, 1, &a), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_token_attr(model, 1, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_token_attr(model, 99999, &a), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);

    lfm2moe_vocab_info vi = {.struct_size = 4};
    assert_int_equal(lfm2moe_vocab_get_info(model, &vi), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_vocab_get_info(model, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_vocab_get_info(NULL, &vi), LFM2MOE_ERR_INVALID_ARGUMENT);

    lfm2moe_detokenizer *d = NULL;
    assert_int_equal(lfm2moe_detokenizer_create(NULL, &d), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_null(d);
    assert_int_equal(lfm2moe_detokenizer_create(model, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_detokenizer_create(model, &d), LFM2MOE_OK);
    assert_int_equal(lfm2moe_detokenizer_push(d, 5000, &piece, &n), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_detokenizer_push(NULL, 5, &piece, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_detokenizer_push(d, 5, NULL, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_detokenizer_flush(d, &piece, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_detokenizer_flush(d, &piece, &n), LFM2MOE_OK);
    assert_int_equal(n, 0);
    lfm2moe_detokenizer_free(d);
    lfm2moe_detokenizer_free(NULL);
}

/* A multi-byte character split over two tokens is held back, then whole. */
static void test_stream_holds_partial_characters(void **state) {
    (void)state;
    const char *text = "\xf0\x9f\x9a\x80"; /* U+1F680, 4 bytes: at least 2 tokens here */
    size_t n;
    int32_t *ids = tokenize(text, 4, 0, &n);
    assert_true(n >= 2);
    lfm2moe_detokenizer *d;
    assert_int_equal(lfm2moe_detokenizer_create(model, &d), LFM2MOE_OK);
    const char *piece;
    size_t pl, total = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        assert_int_equal(lfm2moe_detokenizer_push(d, ids[i], &piece, &pl), LFM2MOE_OK);
        assert_int_equal(pl, 0);
    }
    assert_int_equal(lfm2moe_detokenizer_push(d, ids[n - 1], &piece, &pl), LFM2MOE_OK);
    assert_int_equal(pl, 4);
    assert_memory_equal(piece, text, 4);
    total += pl;
    /* an incomplete tail is emitted by flush */
    assert_int_equal(lfm2moe_detokenizer_push(d, ids[0], &piece, &pl), LFM2MOE_OK);
    assert_int_equal(pl, 0);
    assert_int_equal(lfm2moe_detokenizer_flush(d, &piece, &pl), LFM2MOE_OK);
    assert_true(pl > 0);
    lfm2moe_detokenizer_free(d);
    free(ids);
    (void)total;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_api),
        cmocka_unit_test(test_golden_family_files),
        cmocka_unit_test(test_golden_cli),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_vocab_info_and_attrs),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_stream_holds_partial_characters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
