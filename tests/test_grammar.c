/* GBNF grammars without a model: the parser (errors with line and column,
 * left recursion refused, limits) and the matcher (accepted and rejected
 * strings, valid prefixes) on JSON, arithmetic, list and C-identifier
 * grammars written for these tests from the GBNF description, plus the
 * JSON Schema and tool-list converters' output compiled and matched. */
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
#include "generate/grammar/schema_internal.h"
#include "lfm2moe.h"

/* 1: text is a sentence of the grammar; 0: a valid prefix only; -1: not even that. */
static int match(const lfm_cgrammar *g, const char *text) {
    lfm_matcher *m = NULL;
    assert_int_equal(lfm_matcher_create(g, &m), 0);
    gm_state s = lfm_matcher_state(m);
    for (const char *p = text; *p && s.set != GM_DEAD; p++)
        s = lfm_matcher_step(m, s, (uint8_t)*p);
    int r = s.set == GM_DEAD ? -1 : lfm_matcher_can_end(m, s) ? 1 : 0;
    lfm_matcher_free(m);
    return r;
}

static lfm_cgrammar *compile(const char *gbnf) {
    lfm_cgrammar *g = NULL;
    int st = lfm_gbnf_parse(gbnf, strlen(gbnf), NULL, &g);
    if (st) fail_msg("grammar failed: %s\n%s", lfm2moe_last_error(), gbnf);
    return g;
}

static void expect(const char *gbnf, const char *const *yes, const char *const *prefix,
                   const char *const *no) {
    lfm_cgrammar *g = compile(gbnf);
    for (; yes && *yes; yes++)
        if (match(g, *yes) != 1) fail_msg("should accept '%s' (got %d)", *yes, match(g, *yes));
    for (; prefix && *prefix; prefix++)
        if (match(g, *prefix) != 0)
            fail_msg("should be a prefix only: '%s' (got %d)", *prefix, match(g, *prefix));
    for (; no && *no; no++)
        if (match(g, *no) != -1) fail_msg("should reject '%s' (got %d)", *no, match(g, *no));
    lfm_cgrammar_free(g);
}

static const char json_gbnf[] =
    "# JSON (RFC 8259), written from the GBNF description\n"
    "root   ::= ws value ws\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\")\n"
    "object ::= \"{\" ws ( member ( ws \",\" ws member )* )? ws \"}\"\n"
    "member ::= string ws \":\" ws value\n"
    "array  ::= \"[\" ws ( value ( ws \",\" ws value )* )? ws \"]\"\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x00-\\x1f] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} "
    ") )* \"\\\"\"\n"
    "number ::= \"-\"? ( \"0\" | [1-9] [0-9]* ) ( \".\" [0-9]+ )? ( [eE] [-+]? [0-9]+ )?\n"
    "ws     ::= [ \\t\\n\\r]*\n";

static void test_json_grammar(void **state) {
    (void)state;
    const char *yes[] = {"{}",
                         "[]",
                         "0",
                         "-1.5e+10",
                         "\"a\\u00e9\\n\"",
                         " {\"a\": [1, 2, {\"b\": null}], \"c\": true} ",
                         "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                         "[[[[]]]]",
                         NULL};
    const char *prefix[] = {"{", "{\"a\"", "[1,", "\"abc", "-", "1.", "\"\xe2\x82", "tr", NULL};
    const char *no[] = {"{,}",  "[1,]",     "01",    "\"\\x\"", "{\"a\" 1}",
                        "nul1", "\"\x01\"", "[1] x", "\xff",    NULL};
    expect(json_gbnf, yes, prefix, no);
}

static void test_arithmetic_grammar(void **state) {
    (void)state;
    const char *g = "root ::= expr\n"
                    "expr ::= term ((\"+\" | \"-\") term)*\n"
                    "term ::= factor ((\"*\" | \"/\") factor)*\n"
                    "factor ::= number | \"(\" expr \")\" | \"-\" factor\n"
                    "number ::= [0-9]+ (\".\" [0-9]+)?\n";
    const char *yes[] = {"1", "1+2*3", "(1+2)*3", "--4", "((2.5))/-7", "1-2-3", NULL};
    const char *prefix[] = {"(", "1+", "((1", "2.", NULL};
    const char *no[] = {"+1", "1++2", "()", "1)", "a", "1 + 2", NULL};
    expect(g, yes, prefix, no);
}

static void test_list_grammar(void **state) {
    (void)state;
    const char *g = "root ::= item+\n"
                    "# one item per line, a dash and some text\n"
                    "item ::= \"- \" [^\\n]+ \"\\n\"\n";
    const char *yes[] = {"- a\n", "- milk\n- eggs and ham\n", NULL};
    const char *prefix[] = {"", "-", "- a", "- a\n-", NULL};
    const char *no[] = {"* a\n", "- \n", "-a\n", NULL};
    expect(g, yes, prefix, no);
}

static void test_c_identifier_grammar(void **state) {
    (void)state;
    const char *g = "root ::= [a-zA-Z_] [a-zA-Z0-9_]{0,30}\n";
    const char *yes[] = {"x", "_a1", "Hello_World_42", "abcdefghijklmnopqrstuvwxyz01234", NULL};
    const char *no[] = {"1a", "a-b", "abcdefghijklmnopqrstuvwxyz012345", "", NULL};
    expect(g, yes, NULL, NULL);
    lfm_cgrammar *cg = compile(g);
    for (const char *const *p = no; *p; p++)
        if (match(cg, *p) == 1) fail_msg("should not accept '%s'", *p);
    lfm_cgrammar_free(cg);
}

static void test_syntax_features(void **state) {
    (void)state;
    /* repetitions, negation, ranges, escapes, any char, groups over lines, comments */
    const char *g = "root ::= ( \"a\"{2} \"b\"{1,3} \"c\"{2,} \"d\"{,1}   # counts\n"
                    "  | [^a-c] . \"\\x41\\u00e9\\U0001F600\" ) \"!\"?\n";
    const char *yes[] = {"aabcc", "aabbbccccd", "aabccd!", "zqA\xc3\xa9\xf0\x9f\x98\x80", NULL};
    const char *prefix[] = {"a", "aab", "aabbbc", NULL};
    const char *no[] = {"abcc", "aabbbbcc", "aabccdd", "aqA", NULL};
    expect(g, yes, prefix, no);
    /* a rule named differently as start */
    lfm_cgrammar *cg = NULL;
    assert_int_equal(lfm_gbnf_parse("a ::= \"x\" b\nb ::= \"y\"\n", 21, "b", &cg), 0);
    assert_int_equal(match(cg, "y"), 1);
    lfm_cgrammar_free(cg);
}

static void expect_error(const char *gbnf, int status, const char *needle) {
    lfm_cgrammar *g = NULL;
    int st = lfm_gbnf_parse(gbnf, strlen(gbnf), NULL, &g);
    if (st != status)
        fail_msg("'%s': status %d, want %d (%s)", gbnf, st, status, lfm2moe_last_error());
    assert_null(g);
    if (!strstr(lfm2moe_last_error(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", gbnf, lfm2moe_last_error(), needle);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("root ::= \"a\"\nfoo ::= bar )\n", LFM2MOE_ERR_PARSE, "line 2, column 13");
    expect_error("root ::= \"abc\n", LFM2MOE_ERR_PARSE, "unterminated string");
    expect_error("root ::= [a-\n", LFM2MOE_ERR_PARSE, "line 1");
    expect_error("root ::= x\n", LFM2MOE_ERR_PARSE, "undefined rule 'x'");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", LFM2MOE_ERR_PARSE, "defined twice");
    expect_error("root ::= * \"a\"\n", LFM2MOE_ERR_PARSE, "nothing to repeat");
    expect_error("root ::= \"\\q\"\n", LFM2MOE_ERR_PARSE, "unknown escape");
    expect_error("root ::= [z-a]\n", LFM2MOE_ERR_PARSE, "range");
    expect_error("root ::= \"a\"{3,2}\n", LFM2MOE_ERR_PARSE, "maximum below minimum");
    expect_error("root ::= \"a\"{99999}\n", LFM2MOE_ERR_LIMIT, "repetition count");
    expect_error("start ::= \"a\"\n", LFM2MOE_ERR_NOT_FOUND, "root");
    expect_error("", LFM2MOE_ERR_PARSE, "no rules");
    expect_error("root ::= (\"a\"\n", LFM2MOE_ERR_PARSE, "matching ')'");
    /* left recursion, direct, indirect and through a nullable prefix */
    expect_error("root ::= root \"a\" | \"b\"\n", LFM2MOE_ERR_PARSE, "left recursion");
    expect_error("root ::= a\na ::= b \"x\"\nb ::= \"y\"? root\n", LFM2MOE_ERR_PARSE,
                 "root -> a -> b -> root");
    expect_error("root ::= (\"\")* \"a\"\n", LFM2MOE_ERR_PARSE, "left recursion");
    expect_error("root ::= (\"a\"?)*\n", LFM2MOE_ERR_PARSE, "left recursion");
    /* right recursion is fine */
    lfm_cgrammar *g = compile("root ::= \"a\" root | \"b\"\n");
    assert_int_equal(match(g, "aaab"), 1);
    lfm_cgrammar_free(g);
}

static void test_limits(void **state) {
    (void)state;
    /* repetitions expanding past the element limit */
    char lit[300];
    memset(lit, 'a', sizeof lit);
    snprintf(lit, sizeof lit, "root ::= \"%0200d\"{9000}\n", 0);
    expect_error(lit, LFM2MOE_ERR_LIMIT, "elements");
    /* deep nesting: stacks deeper than the limit are dropped, not a crash */
    lfm_cgrammar *g = compile("root ::= \"(\" root \")\" | \"x\"\n");
    char deep[3000];
    memset(deep, '(', 2000);
    deep[2000] = '\0';
    assert_int_equal(match(g, deep), -1);
    memset(deep, '(', 500);
    deep[500] = '\0';
    assert_int_equal(match(g, deep), 0);
    lfm_cgrammar_free(g);
    /* an ambiguous grammar: the number of live stacks is capped */
    g = compile("root ::= x*\nx ::= \"a\" | \"a\" \"a\" | \"a\" \"a\" \"a\" | \"a\" x\n");
    assert_true(match(g, "aaaaaaaaaaaaaaaa") >= -1); /* terminates either way */
    lfm_cgrammar_free(g);
    /* hostile text: 1 MiB + 1 */
    size_t n = LFM_GBNF_MAX_TEXT + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    lfm_cgrammar *cg = NULL;
    assert_int_equal(lfm_gbnf_parse(big, n, NULL, &cg), LFM2MOE_ERR_LIMIT);
    free(big);
}

/* ---- JSON Schema and tools, compiled and matched -------------------------------- */
static lfm_cgrammar *from_schema(const char *schema, int want) {
    json_value *v = NULL;
    assert_int_equal(json_parse(schema, strlen(schema), &v, NULL, 0), 0);
    strbuf b = {0};
    int st = lfm_schema_to_gbnf(v, "root", 0, &b);
    json_free(v);
    if (st != want)
        fail_msg("schema %s: status %d, want %d: %s", schema, st, want, lfm2moe_last_error());
    lfm_cgrammar *g = NULL;
    if (!st) {
        if (lfm_gbnf_parse(b.data, b.len, NULL, &g))
            fail_msg("schema %s gave bad GBNF: %s\n%s", schema, lfm2moe_last_error(), b.data);
    }
    strbuf_free(&b);
    return g;
}

static void schema_expect(const char *schema, const char *const *yes, const char *const *no) {
    lfm_cgrammar *g = from_schema(schema, 0);
    for (; yes && *yes; yes++)
        if (match(g, *yes) != 1) fail_msg("%s should accept %s (%d)", schema, *yes, match(g, *yes));
    for (; no && *no; no++)
        if (match(g, *no) == 1) fail_msg("%s should reject %s", schema, *no);
    lfm_cgrammar_free(g);
}

static void test_json_schema(void **state) {
    (void)state;
    const char *obj = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
                      "\"maxLength\": 5}, \"age\": {\"type\": \"integer\"}, \"tags\": {\"type\": "
                      "\"array\", \"items\": {\"enum\": [\"a\", \"b\", 3, null]}, \"minItems\": 1, "
                      "\"maxItems\": 2}}, \"required\": [\"name\"]}";
    const char *yes[] = {"{\"name\": \"bob\"}",
                         "{\"name\":\"\",\"age\":-12}",
                         "{\"name\": \"x\", \"tags\": [3, null]}",
                         "{\"name\": \"x\", \"age\": 0, \"tags\": [\"a\"]}",
                         "{\n  \"name\": \"\\u00e9\"\n}",
                         NULL};
    const char *no[] = {"{}",
                        "{\"age\": 1}",
                        "{\"name\": \"toolong\"}",
                        "{\"name\": \"x\", \"tags\": []}",
                        "{\"name\": \"x\", \"other\": 1}",
                        "{\"age\": 1, \"name\": \"x\"}",
                        "{\"name\": \"x\", \"age\": 01}",
                        NULL};
    schema_expect(obj, yes, no);
    const char *fmt =
        "{\"type\": \"array\", \"items\": {\"anyOf\": [{\"type\": \"string\", \"format\": "
        "\"date\"}, {\"type\": \"string\", \"format\": \"uuid\"}, {\"type\": \"string\", "
        "\"format\": \"date-time\"}, {\"type\": \"string\", \"format\": \"time\"}]}}";
    const char *fy[] = {"[\"2024-02-28\", \"123e4567-e89b-12d3-a456-426614174000\", "
                        "\"2020-01-31T23:59:59Z\", \"10:00:00+02:00\"]",
                        NULL};
    const char *fn[] = {"[\"2024-02-30\"]", "[\"2024-13-01\"]", "[\"10:00:00\"]", NULL};
    schema_expect(fmt, fy, fn);
    const char *refs =
        "{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": {\"type\": "
        "\"number\"}, \"next\": {\"anyOf\": [{\"$ref\": \"#/$defs/node\"}, {\"type\": "
        "\"null\"}]}}, \"required\": [\"v\", \"next\"]}}, \"$ref\": \"#/$defs/node\"}";
    const char *ry[] = {"{\"v\": 1.5, \"next\": {\"v\": -2e3, \"next\": null}}", NULL};
    const char *rn[] = {"{\"v\": 1, \"next\": {}}", NULL};
    schema_expect(refs, ry, rn);
    const char *pat =
        "{\"type\": \"object\", \"properties\": {\"code\": {\"type\": \"string\", \"pattern\": "
        "\"^[A-Z]{2}-\\\\d{3}(x|yz)?$\"}, \"any\": {\"type\": \"string\", \"pattern\": "
        "\"a\\\\.b\"}, "
        "\"c\": {\"const\": {\"k\": [true]}}, \"t\": {\"type\": [\"boolean\", \"null\"]}}, "
        "\"required\": [\"code\", \"any\", \"c\", \"t\"], \"additionalProperties\": {\"type\": "
        "\"integer\"}}";
    const char *py[] = {"{\"code\": \"AB-123yz\", \"any\": \"xxa.b\\\"\", \"c\": {\"k\": [true]}, "
                        "\"t\": null, \"n\": 5}",
                        NULL};
    const char *pn[] = {
        "{\"code\": \"AB-12\", \"any\": \"a.b\", \"c\": {\"k\": [true]}, \"t\": null}",
        "{\"code\": \"AB-123\", \"any\": \"ab\", \"c\": {\"k\": [true]}, \"t\": null}", NULL};
    schema_expect(pat, py, pn);
    /* oneOf is compiled as anyOf (lfm2moe.h): with overlapping branches a
     * value of both is accepted; exclusive branches keep oneOf's meaning */
    const char *oy[] = {"1", "1.5", NULL}, *on[] = {"\"1\"", NULL};
    schema_expect("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}", oy, on);
    const char *ey[] = {"{\"a\": 1}", "{\"b\": true}", NULL};
    const char *en[] = {"{\"a\": 1, \"b\": true}", "{}", NULL};
    schema_expect("{\"oneOf\": [{\"type\": \"object\", \"properties\": {\"a\": {\"type\": "
                  "\"integer\"}}, \"required\": [\"a\"]}, {\"type\": \"object\", \"properties\": "
                  "{\"b\": {\"type\": \"boolean\"}}, \"required\": [\"b\"]}]}",
                  ey, en);
    /* two combinators would need their intersection: refused, not dropped */
    from_schema("{\"anyOf\": [{\"type\": \"integer\"}], \"oneOf\": [{\"type\": \"number\"}]}",
                LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "'anyOf' together with 'oneOf'"));
    from_schema("{\"oneOf\": [{\"type\": \"integer\"}], \"allOf\": [{\"type\": \"number\"}]}",
                LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "'allOf' together with 'oneOf'"));
    /* errors name the keyword */
    from_schema("{\"type\": \"string\", \"minimum\": 3}", LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "'minimum'"));
    from_schema("{\"type\": \"string\", \"format\": \"email\"}", LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "email"));
    from_schema("{\"$ref\": \"#/$defs/missing\"}", LFM2MOE_ERR_INVALID_ARGUMENT);
    from_schema("{\"type\": \"string\", \"pattern\": \"(?=x)\"}", LFM2MOE_ERR_INVALID_ARGUMENT);
    from_schema("{\"type\": \"wat\"}", LFM2MOE_ERR_INVALID_ARGUMENT);
}

static void test_tool_grammar(void **state) {
    (void)state;
    const char *t0 =
        "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
        "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": "
        "{\"type\": \"integer\"}, \"metric\": {\"type\": \"boolean\"}}, \"required\": "
        "[\"city\"]}}}";
    const char *t1 =
        "{\"name\": \"db.now\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}";
    json_value *v[2];
    assert_int_equal(json_parse(t0, strlen(t0), &v[0], NULL, 0), 0);
    assert_int_equal(json_parse(t1, strlen(t1), &v[1], NULL, 0), 0);
    strbuf b = {0};
    assert_int_equal(lfm_tools_to_gbnf((const json_value *const *)v, 2, 1, &b), 0);
    lfm_cgrammar *g = NULL;
    if (lfm_gbnf_parse(b.data, b.len, NULL, &g)) fail_msg("%s\n%s", lfm2moe_last_error(), b.data);
    const char *yes[] = {"<|tool_call_start|>[get_weather(city=\"Paris\")]<|tool_call_end|>",
                         "<|tool_call_start|>[get_weather(city=\"a\", days=3, metric=True), "
                         "db.now()]<|tool_call_end|>",
                         "<|tool_call_start|>[db.now(),db.now()]<|tool_call_end|>", NULL};
    const char *no[] = {
        "<|tool_call_start|>[get_weather()]<|tool_call_end|>",
        "<|tool_call_start|>[get_weather(city=\"a\", metric=true)]<|tool_call_end|>",
        "<|tool_call_start|>[other()]<|tool_call_end|>", NULL};
    for (const char *const *p = yes; *p; p++) {
        if (match(g, *p) != 1) fail_msg("tools should accept %s\n%s", *p, b.data);
        lfm2moe_tool_calls *calls = NULL;
        assert_int_equal(lfm2moe_tool_calls_parse(*p, strlen(*p), &calls), 0);
        lfm2moe_tool_calls_free(calls);
    }
    for (const char *const *p = no; *p; p++)
        if (match(g, *p) == 1) fail_msg("tools should reject %s", *p);
    lfm_cgrammar_free(g);
    strbuf_free(&b);
    json_free(v[0]);
    json_free(v[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_grammar),    cmocka_unit_test(test_arithmetic_grammar),
        cmocka_unit_test(test_list_grammar),    cmocka_unit_test(test_c_identifier_grammar),
        cmocka_unit_test(test_syntax_features), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_json_schema),
        cmocka_unit_test(test_tool_grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
