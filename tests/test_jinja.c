/* The Jinja engine (lib/text/jinja) on its own: every construct against
 * Jinja2's own output (tests/jinja/cases.jsonl, made by make_cases.py with
 * transformers' environment), syntax errors with their line and column,
 * runtime errors, and each limit stopping a hostile template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/json.h"
#include "lfm2moe.h"
#include "model/gguf.h"
#include "text/jinja/jinja.h"
#include "test_files.h"

/* Render with vars given as JSON text (NULL = none); returns the status,
 * *out (caller frees) the text. */
static int render(const char *tmpl, const char *vars, const jj_limits *lim, char **out) {
    json_value *v = NULL;
    if (vars) assert_int_equal(json_parse(vars, strlen(vars), &v, NULL, 0), 0);
    strbuf b = {0};
    int st = jj_render(tmpl, strlen(tmpl), NULL, 0, v, lim, &b);
    json_free(v);
    if (!b.data) strbuf_append(&b, "", 0);
    *out = b.data;
    return st;
}

static void expect(const char *tmpl, const char *vars, const char *want) {
    char *got;
    int st = render(tmpl, vars, NULL, &got);
    if (st) fail_msg("%s: status %d: %s", tmpl, st, lfm2moe_last_error());
    if (strcmp(got, want)) fail_msg("%s:\n got  [%s]\n want [%s]", tmpl, got, want);
    free(got);
}

/* The render fails with `status` and a message containing each of the
 * NULL-terminated fragments. */
static void expect_error(const char *tmpl, const char *vars, const jj_limits *lim, int status,
                         ...) {
    char *got;
    int st = render(tmpl, vars, lim, &got);
    free(got);
    if (st != status)
        fail_msg("%s: status %d, want %d (%s)", tmpl, st, status, lfm2moe_last_error());
    va_list ap;
    va_start(ap, status);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(lfm2moe_last_error(), frag))
            fail_msg("%s: message [%s] lacks [%s]", tmpl, lfm2moe_last_error(), frag);
    va_end(ap);
}

static void test_jinja2_cases(void **state) {
    (void)state;
    size_t len = 0, n = 0, ll;
    char *text = test_read_file(SOURCE_DIR "/tests/jinja/cases.jsonl", &len);
    const char *cur = text, *line;
    while (test_next_line(&cur, text + len, &line, &ll)) {
        json_value *c;
        assert_int_equal(json_parse(line, ll, &c, NULL, 0), 0);
        const json_value *t = json_get(c, "template"), *want = json_get(c, "rendered");
        strbuf out = {0};
        int st = jj_render(t->str, t->len, NULL, 0, json_get(c, "vars"), NULL, &out);
        if (st) fail_msg("case %zu %s: %s", n + 1, t->str, lfm2moe_last_error());
        if (out.len != want->len || memcmp(out.data, want->str, out.len))
            fail_msg("case %zu %s:\n got  [%s]\n want [%s]", n + 1, t->str,
                     out.data ? out.data : "", want->str);
        strbuf_free(&out);
        json_free(c);
        n++;
    }
    assert_true(n >= 70);
    free(text);
}

/* Beyond Jinja2's immutable sandbox: list.append (templates written for
 * other runtimes use it on namespace lists), strftime_now. */
static void test_extensions(void **state) {
    (void)state;
    expect("{% set ns = namespace(l=[]) %}{% for i in [1, 2] %}{{ ns.l.append(i) }}{% endfor %}{{ "
           "ns.l }}",
           NULL, "NoneNone[1, 2]");
    char want[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(want, sizeof want, "%Y", &tm);
    expect("{{ strftime_now('%Y') }}", NULL, want);
    /* extra string variables, overridden by the JSON ones */
    jj_var extra[] = {{"bos_token", "<s>", 3}, {"eos_token", "</s>", 4}};
    json_value *v;
    assert_int_equal(json_parse("{\"eos_token\": \"E\"}", 18, &v, NULL, 0), 0);
    strbuf out = {0};
    assert_int_equal(jj_render("{{ bos_token }}{{ eos_token }}", 30, extra, 2, v, NULL, &out), 0);
    assert_string_equal(out.data, "<s>E");
    strbuf_free(&out);
    json_free(v);
}

static void test_syntax_errors(void **state) {
    (void)state;
    const int U = LFM2MOE_ERR_UNSUPPORTED_TEMPLATE;
    expect_error("a\n  {% include 'x' %}", NULL, NULL, U, "line 2 column 6",
                 "unknown tag 'include'", NULL);
    expect_error("{% call foo() %}{% endcall %}", NULL, NULL, U, "line 1 column 4", "'call'", NULL);
    expect_error("{{ x | nofilter }}", NULL, NULL, U, "line 1 column 8",
                 "unknown filter 'nofilter'", NULL);
    expect_error("{% if x is nottest %}{% endif %}", NULL, NULL, U, "column 12", "unknown test",
                 NULL);
    expect_error("{% if x %}\nabc", NULL, NULL, U, "line 2 column 4", "expected 'endif'", NULL);
    expect_error("{% endfor %}", NULL, NULL, U, "unexpected 'endfor'", NULL);
    expect_error("{{ 1 + }}", NULL, NULL, U, "line 1 column 8", NULL);
    expect_error("{{ 'abc }}", NULL, NULL, U, "unterminated string", NULL);
    expect_error("{{ x ", NULL, NULL, U, "not closed", NULL);
    expect_error("{# x", NULL, NULL, U, "comment not closed", NULL);
    expect_error("{{ a $ b }}", NULL, NULL, U, "unexpected character '$'", NULL);
    expect_error("{% break %}", NULL, NULL, U, "outside a loop", NULL);
    expect_error("{% for x in y recursive %}{% endfor %}", NULL, NULL, U, "recursive", NULL);
    expect_error("{{ f(*a) }}", NULL, NULL, U, "not supported", NULL);
    expect_error("{% raw %}x{% endraw %}", NULL, NULL, U, "unknown tag 'raw'", NULL);
    expect_error("{{ 99999999999999999999 }}", NULL, NULL, U, "too large", NULL);
    /* the column counts characters, not bytes */
    expect_error("é{{ x | nope }}", NULL, NULL, U, "line 1 column 9", NULL);
}

static void test_runtime_errors(void **state) {
    (void)state;
    const int I = LFM2MOE_ERR_INVALID_ARGUMENT;
    expect_error("{{ raise_exception('Roles must alternate') }}", NULL, NULL, I, "line 1 column 4",
                 "raised an error: Roles must alternate", NULL);
    expect_error("\n{{ nope.attr }}", NULL, NULL, I, "line 2", "'nope' is undefined", NULL);
    expect_error("{{ messages[0]['role'] }}", "{\"messages\": []}", NULL, I, "undefined", NULL);
    expect_error("{{ nope + 1 }}", NULL, NULL, I, "'nope' is undefined", NULL);
    expect_error("{{ 'a' + 1 }}", NULL, NULL, I, "unsupported operand types for +: 'str' and 'int'",
                 NULL);
    expect_error("{{ 1 / 0 }}", NULL, NULL, I, "division by zero", NULL);
    expect_error("{{ 1 < 'a' }}", NULL, NULL, I, "cannot order", NULL);
    expect_error("{% set x = 1 %}{% set x.y = 2 %}", NULL, NULL, I, "namespace", NULL);
    expect_error("{{ nope() }}", NULL, NULL, I, "'nope' is undefined", NULL);
    expect_error("{{ 3() }}", NULL, NULL, I, "not callable", NULL);
    expect_error("{% for a, b in [1] %}{% endfor %}", NULL, NULL, I, "cannot unpack", NULL);
    expect_error("{% for x in 3 %}{% endfor %}", NULL, NULL, I, "not iterable", NULL);
    expect_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", NULL, NULL, I, "not more than 1",
                 NULL);
    expect_error("{{ 9223372036854775807 + 1 }}", NULL, NULL, I, "overflow", NULL);
    expect_error("{{ nope | tojson }}", NULL, NULL, I, "undefined", NULL);
    expect_error("{{ {1: 2} | tojson }}", NULL, NULL, I, "keys must be strings", NULL);
    expect_error("{{ 'x'.format(1, y=2) ~ '{:>3}'.format(1) }}", NULL, NULL, I, "not supported",
                 NULL);
}

static void test_limits(void **state) {
    (void)state;
    const int L = LFM2MOE_ERR_LIMIT;
    /* small bounds keep this test fast; the defaults are the same code */
    jj_limits lim;
    jj_limits_default(&lim);
    lim.max_iterations = 20000;
    lim.max_output = 1 << 16;
    lim.max_memory = 8 << 20;
    /* recursion: a macro calling itself forever, deep nesting in the source */
    expect_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", NULL, NULL, L, "nested deeper",
                 NULL);
    char deep[4096] = "{{ ";
    for (int i = 0; i < 1000; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 1000; i++)
        strcat(deep, ")");
    strcat(deep, " }}");
    expect_error(deep, NULL, NULL, L, "nested deeper", NULL);
    /* loop iterations, nested loops included */
    expect_error("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
                 NULL, &lim, L, "more than 20000 loop iterations", NULL);
    expect_error("{{ range(30000) | length }}", NULL, &lim, L, "iteration limit", NULL);
    /* output size, and memory through doubling strings */
    expect_error("{% for i in range(10000) %}0123456789abcdef{% endfor %}", NULL, &lim, L,
                 "output longer than 65536 bytes", NULL);
    expect_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s "
                 "%}{% endfor %}",
                 NULL, &lim, L, NULL);
    expect_error("{{ 'x' * 100000000000 }}", NULL, NULL, L, "memory", NULL);
    expect_error("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l "
                 "%}{% endfor %}",
                 NULL, &lim, L, NULL);
    /* a list shared 2^40 times over: tojson and printing are bounded */
    expect_error(
        "{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}"
        "{% endfor %}{{ ns.a | tojson }}",
        NULL, &lim, L, "too large", NULL);
    expect_error(
        "{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}"
        "{% endfor %}{{ ns.a }}",
        NULL, &lim, L, NULL);
    /* a cycle: a namespace list appended to itself */
    expect_error("{% set ns = namespace(l=[]) %}{{ ns.l.append(ns.l) }}{{ ns.l }}", NULL, NULL, L,
                 "nested too deeply", NULL);
    expect_error("{% set ns = namespace(l=[]) %}{{ ns.l.append(ns.l) }}{{ ns.l | tojson }}", NULL,
                 NULL, L, "nested too deeply", NULL);
    expect_error("{% set ns = namespace(l=[]) %}{{ ns.l.append(ns.l) }}{{ ns.l == ns.l }}", NULL,
                 NULL, L, "nested too deeply", NULL);
    /* wall time: a loop that would run for minutes (over one list made
     * once, so that memory stays flat and only the clock can stop it,
     * however fast the machine) */
    jj_limits_default(&lim);
    lim.max_time_ms = 200;
    lim.max_iterations = UINT64_MAX;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_error("{% set r = range(100000) %}{% for i in r %}{% for j in r %}{{ '' }}{% endfor %}"
                 "{% endfor %}",
                 NULL, &lim, L, "longer than 200 ms", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((double)(t1.tv_sec - t0.tv_sec) < 10.0);
}

/* The templates the goldens use, read from the GGUF files, rendered through
 * the template-string call (tiny-d is an `lfm2` file: this works whether or
 * not the loader accepts it yet). */
static void test_dense_template_from_gguf(void **state) {
    (void)state;
    size_t len = 0;
    char *img = test_read_file(SOURCE_DIR "/tests/golden/tiny-d-f32.gguf", &len);
    assert_non_null(img);
    gguf_file f;
    assert_int_equal(gguf_parse(img, len, &f), 0);
    gguf_str t;
    assert_int_equal(gguf_get_str(&f, "tokenizer.chat_template", &t), 0);
    size_t clen = 0;
    char *cases = test_read_file(SOURCE_DIR "/tests/golden/chat-25dense-a.jsonl", &clen);
    assert_non_null(cases);
    size_t n = 0, ll;
    const char *cur = cases, *line;
    while (test_next_line(&cur, cases + clen, &line, &ll)) {
        json_value *c;
        assert_int_equal(json_parse(line, ll, &c, NULL, 0), 0);
        const json_value *want = json_get(c, "rendered");
        /* the request is the case itself; bos_token as the vocabulary's */
        strbuf req = {0};
        strbuf_append(&req, "{\"bos_token\": \"<|startoftext|>\", ", 33);
        strbuf_append(&req, line + 1, ll - 1);
        char out[8192];
        size_t olen;
        int st = lfm2moe_chat_render_template(NULL, t.ptr, (size_t)t.len, req.data, req.len, 0, out,
                                              sizeof out, &olen);
        if (st) fail_msg("line %zu: %s", n + 1, lfm2moe_last_error());
        if (olen != want->len || memcmp(out, want->str, olen))
            fail_msg("line %zu:\n got  [%s]\n want [%s]", n + 1, out, want->str);
        strbuf_free(&req);
        json_free(c);
        n++;
    }
    assert_int_equal(n, 9);
    free(cases);
    gguf_free(&f);
    free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jinja2_cases),  cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_syntax_errors), cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_dense_template_from_gguf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
