/* The CLI's JSON reader/writer: parse + dump must equal Python's
 * json.dumps(json.loads(text), ensure_ascii=False) (expected strings were
 * produced by Python 3.11), and malformed input must fail with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/array.h"
#include "base/json.h"

static void roundtrip(const char *in, size_t in_len, const char *want, size_t want_len) {
    json_value *v;
    char err[128];
    if (json_parse(in, in_len, &v, err, sizeof err)) fail_msg("parse %s: %s", in, err);
    strbuf b = {0};
    assert_int_equal(json_dump(v, &b), 0);
    if (b.len != want_len || memcmp(b.data, want, want_len))
        fail_msg("dump of %s gave %s, want %s", in, b.data, want);
    strbuf_free(&b);
    json_free(v);
}

#define RT(in, want) roundtrip(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_python_compatible(void **state) {
    (void)state;
    RT("{\"b\": 1, \"a\": [1.0, 2.50, 1e5, -0, 1E-7, 123456789012345678901234567890, 0.1, 1e16, "
       "1.5e300, -0.0, 3.14159, 100.0, 0.0001, 0.00001, 1e15, 123456789.125]}",
       "{\"b\": 1, \"a\": [1.0, 2.5, 100000.0, 0, 1e-07, 123456789012345678901234567890, 0.1, "
       "1e+16, 1.5e+300, -0.0, 3.14159, 100.0, 0.0001, 1e-05, 1000000000000000.0, "
       "123456789.125]}");
    RT("\"\\u00e9\\ud83d\\ude00\\n\\t\\u0001\\/\\\"\\\\ \\u007f x\"",
       "\"\xc3\xa9\xf0\x9f\x98\x80\\n\\t\\u0001/\\\"\\\\ \x7f x\"");
    RT("{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"a\": 3, \"b\": 2}");
    RT(" \n [ true , false , null , { } , [ ] , \"\" ] \r\n", "[true, false, null, {}, [], \"\"]");
    RT("1e400", "Infinity");
    RT("-1e400", "-Infinity");
    RT("2.0e-323", "2e-323");
    RT("5e-324", "5e-324");
    RT("1.7976931348623157e308", "1.7976931348623157e+308");
    /* \u0000 inside a string survives (length-counted) */
    RT("\"a\\u0000b\"", "\"a\\u0000b\"");
    /* raw UTF-8 passes through; a lone surrogate becomes its 3 bytes */
    RT("\"\xe6\x97\xa5\\ud800\"", "\"\xe6\x97\xa5\xed\xa0\x80\"");
}

static void test_accessors(void **state) {
    (void)state;
    json_value *v;
    const char *t = "{\"messages\": [{\"role\": \"user\"}], \"n\": 3}";
    assert_int_equal(json_parse(t, strlen(t), &v, NULL, 0), 0);
    const json_value *m = json_get(v, "messages");
    assert_non_null(m);
    assert_int_equal(m->type, JSON_ARRAY);
    assert_int_equal(m->n, 1);
    assert_string_equal(json_get(m->items[0], "role")->str, "user");
    assert_true(json_get(v, "n")->number == 3.0);
    assert_int_equal(json_get(v, "n")->is_integer, 1);
    assert_null(json_get(v, "missing"));
    assert_null(json_get(m, "role")); /* not an object */
    json_free(v);
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",          "[1,]",   "{\"a\" 1}", "\"\x01\"",   "[1 2]",  "tru",      "01",
        "1.",        "-",      "\"\\x\"",   "{\"a\":1}x", "[",      "{\"a\":}", "\"abc",
        "\"\\u12\"", "{1: 2}", "nul",       ".5",         "[1,,2]", "1e",       "'a'",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_value *v = (json_value *)&v;
        char err[128] = "";
        if (json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err) == 0)
            fail_msg("accepted malformed JSON %s", bad[i]);
        assert_null(v);
        assert_true(strlen(err) > 0);
    }
    /* deep nesting is refused, not a stack overflow */
    size_t depth = 200000;
    char *deep = malloc(depth);
    memset(deep, '[', depth);
    json_value *v;
    assert_int_equal(json_parse(deep, depth, &v, NULL, 0), -1);
    free(deep);
}

/* The string builder under the writer: binary-safe, NUL-terminated, and
 * once an append fails every later one fails too until strbuf_clear. */
static void test_strbuf(void **state) {
    (void)state;
    strbuf b = {0};
    assert_int_equal(strbuf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_int_equal(b.data[0], '\0');
    assert_int_equal(strbuf_puts(&b, "ab"), 0);
    assert_int_equal(strbuf_zeros(&b, 2), 0);
    assert_int_equal(strbuf_putc(&b, 'c'), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "ab\0\0c", 6);
    assert_int_equal(strbuf_append(&b, "x", SIZE_MAX), -1); /* cannot fit: sticky */
    assert_true(b.oom);
    assert_int_equal(strbuf_puts(&b, "d"), -1);
    assert_int_equal(b.len, 5);
    strbuf_clear(&b);
    assert_false(b.oom);
    assert_int_equal(strbuf_puts(&b, "ok"), 0);
    char *t = strbuf_take(&b);
    assert_string_equal(t, "ok");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(t);
    strbuf_free(&b);
}

/* The growable-array helper: doubling growth, and a size that cannot be
 * addressed refused with the array left as it was. */
static void test_array(void **state) {
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 100; n++) {
        assert_int_equal(LFM_RESERVE(a, cap, n + 1), 0);
        assert_true(cap >= n + 1);
        a[n] = (int)n;
    }
    assert_int_equal(cap, 128);
    int *const before = a;
    assert_int_equal(LFM_RESERVE(a, cap, SIZE_MAX / 2), -1);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 128);
    assert_int_equal(a[99], 99);
    assert_int_equal(lfm_grow_cap(8, 9, 4), 16);
    assert_int_equal(lfm_grow_cap(0, 3, 4), 8);
    assert_int_equal(lfm_grow_cap(8, SIZE_MAX / 4 + 1, 4), 0);
    assert_null(lfm_realloc_array(NULL, SIZE_MAX / 2, 4));
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_compatible),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
