/* Chat template and tool calls through the public API and the CLI: every
 * line of tests/golden/chat-a.jsonl (rendered by the model's own Jinja
 * template) byte for byte, more conversations checked against Jinja2 when
 * this test was written, template detection, and the tool-call parser. */
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
#define MODEL_T25 GOLDEN_DIR "/tiny-t25-f32.gguf"
#define MODEL_D GOLDEN_DIR "/tiny-d-f32.gguf"

static lfm2moe_model *model;

static int setup(void **state) {
    (void)state;
    if (lfm2moe_model_load(MODEL_A, NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "load %s: %s\n", MODEL_A, lfm2moe_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lfm2moe_model_free(model);
    return 0;
}

/* Render a conversation given as JSON ({messages, tools, add_generation_prompt})
 * through the API; tools and non-string contents as json.dumps text. */
static char *render_json(const lfm2moe_model *m, const json_value *conv, int *status) {
    const json_value *msgs = json_get(conv, "messages"), *tools = json_get(conv, "tools");
    const json_value *agp = json_get(conv, "add_generation_prompt");
    size_t nm = msgs->n, nt = tools ? tools->n : 0;
    const char **roles = calloc(nm + 1, sizeof *roles),
               **contents = calloc(nm + 1, sizeof *contents);
    const char **tt = calloc(nt + 1, sizeof *tt);
    strbuf *bufs = calloc(nm + nt + 1, sizeof *bufs);
    for (size_t i = 0; i < nm; i++) {
        const json_value *c = json_get(msgs->items[i], "content");
        roles[i] = json_get(msgs->items[i], "role")->str;
        if (c->type == JSON_STRING)
            strbuf_append(&bufs[i], c->str, c->len);
        else
            json_dump(c, &bufs[i]);
        contents[i] = bufs[i].data;
    }
    for (size_t i = 0; i < nt; i++) {
        if (tools->items[i]->type == JSON_STRING)
            strbuf_append(&bufs[nm + i], tools->items[i]->str, tools->items[i]->len);
        else
            json_dump(tools->items[i], &bufs[nm + i]);
        tt[i] = bufs[nm + i].data;
    }
    uint32_t flags = agp && agp->boolean ? LFM2MOE_CHAT_ADD_GENERATION_PROMPT : 0;
    size_t len = 0;
    char *out = NULL;
    *status = lfm2moe_chat_render(m, roles, contents, nm, tt, nt, flags, NULL, 0, &len);
    if (*status == LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        out = malloc(len + 1);
        size_t len2;
        *status = lfm2moe_chat_render(m, roles, contents, nm, tt, nt, flags, out, len + 1, &len2);
        assert_int_equal(len2, len);
        assert_int_equal(strlen(out), len);
    }
    for (size_t i = 0; i < nm + nt; i++)
        strbuf_free(&bufs[i]);
    free(bufs);
    free(roles);
    free(contents);
    free(tt);
    return out;
}

/* Each line: {"messages", "tools"?, "add_generation_prompt", "rendered"}. */
static void check_lines(const char *jsonl, size_t len, int via_cli) {
    size_t n = 0;
    for (const char *line = jsonl; line < jsonl + len;) {
        const char *nl = memchr(line, '\n', (size_t)(jsonl + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(jsonl + len - line);
        if (ll) {
            json_value *d;
            char err[128];
            if (json_parse(line, ll, &d, err, sizeof err)) fail_msg("bad test line: %s", err);
            const json_value *want = json_get(d, "rendered");
            char *got;
            size_t got_len;
            int st;
            if (via_cli) {
                char args[512];
                snprintf(args, sizeof args, "template -m '%s'", MODEL_A);
                got = test_run_cli(args, line, ll, &got_len, &st);
            } else {
                got = render_json(model, d, &st);
                got_len = got ? strlen(got) : 0;
            }
            assert_int_equal(st, 0);
            if (got_len != want->len || memcmp(got, want->str, got_len))
                fail_msg("line %zu: rendered\n%s\nwant\n%s", n + 1, got, want->str);
            free(got);
            json_free(d);
            n++;
        }
        line += ll + 1;
    }
    assert_true(n > 0);
}

static void test_golden(void **state) {
    (void)state;
    size_t len;
    char *text = test_read_file(GOLDEN_DIR "/chat-a.jsonl", &len);
    assert_non_null(text);
    check_lines(text, len, 0);
    check_lines(text, len, 1);
    free(text);
}

/* Expected renderings computed with Jinja2 from the model's template
 * (bos_token = "<|startoftext|>", tojson = json.dumps(ensure_ascii=False)). */
static const char more_cases[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, {\"role\": \"user\", \"content\": "
    "\"hi\"}], \"add_generation_prompt\": false, "
    "\"rendered\": \"<|startoftext|><|im_start|>user\\nhi<|im_end|>\\n\"}\n"
    "{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, {\"role\": \"user\", \"content\": "
    "\"hi\"}], \"tools\": [{\"name\": \"f\"}], \"add_generation_prompt\": true, "
    "\"rendered\": \"<|startoftext|><|im_start|>system\\nList of tools: "
    "<|tool_list_start|>[{\\\"name\\\": "
    "\\\"f\\\"}]<|tool_list_end|><|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>"
    "assistant\\n\"}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"system\", "
    "\"content\": \"late\"}, {\"role\": \"tool\", \"content\": \"[1]\"}], "
    "\"add_generation_prompt\": true, "
    "\"rendered\": "
    "\"<|startoftext|><|im_start|>user\\nhi<|im_end|>\\n<|im_start|>system\\nlate<|im_end|>\\n<|im_"
    "start|>tool\\n<|tool_response_start|>[1]<|tool_response_end|><|im_end|>\\n<|im_start|>"
    "assistant\\n\"}\n"
    "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}], \"tools\": [\"{\\\"name\\\": "
    "\\\"verbatim\\\"}\", {\"name\": \"\xc3\xa9\", \"x\": [1.5, 2, null, true]}], "
    "\"add_generation_prompt\": false, "
    "\"rendered\": \"<|startoftext|><|im_start|>system\\nS\\nList of tools: "
    "<|tool_list_start|>[{\\\"name\\\": \\\"verbatim\\\"}, {\\\"name\\\": \\\"\xc3\xa9\\\", "
    "\\\"x\\\": [1.5, 2, null, true]}]<|tool_list_end|><|im_end|>\\n\"}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": {\"a\": 1}}], \"add_generation_prompt\": "
    "true, "
    "\"rendered\": \"<|startoftext|><|im_start|>user\\n{\\\"a\\\": "
    "1}<|im_end|>\\n<|im_start|>assistant\\n\"}\n";

static void test_more_conversations(void **state) {
    (void)state;
    check_lines(more_cases, sizeof more_cases - 1, 0);
    check_lines(more_cases, sizeof more_cases - 1, 1);
}

/* The request a golden line describes: every member but "rendered". */
static void request_of(const json_value *d, strbuf *req) {
    strbuf_append(req, "{", 1);
    for (size_t i = 0, k = 0; i < d->n; i++) {
        if (!strcmp(d->keys[i], "rendered")) continue;
        if (k++) strbuf_append(req, ", ", 2);
        json_dump_string(d->keys[i], d->key_lens[i], req);
        strbuf_append(req, ": ", 2);
        json_dump(d->items[i], req);
    }
    strbuf_append(req, "}", 1);
}

/* Every line of a golden file through lfm2moe_chat_render_json and through
 * `lfm2moe template -m`, byte for byte. */
static void check_json_render(const char *model_path, const char *jsonl_path) {
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load(model_path, NULL, &m))
        fail_msg("load %s: %s", model_path, lfm2moe_last_error());
    size_t len = 0, n = 0, ll;
    char *text = test_read_file(jsonl_path, &len);
    const char *cur = text, *line;
    while (test_next_line(&cur, text + len, &line, &ll)) {
        json_value *d;
        assert_int_equal(json_parse(line, ll, &d, NULL, 0), 0);
        const json_value *want = json_get(d, "rendered");
        strbuf req = {0};
        request_of(d, &req);
        size_t need = 0, got_len = 0;
        assert_int_equal(lfm2moe_chat_render_json(m, req.data, req.len, 0, NULL, 0, &need),
                         LFM2MOE_ERR_BUFFER_TOO_SMALL);
        char *got = malloc(need + 1);
        int st = lfm2moe_chat_render_json(m, req.data, req.len, 0, got, need + 1, &got_len);
        if (st) fail_msg("%s line %zu: %s", jsonl_path, n + 1, lfm2moe_last_error());
        if (got_len != want->len || memcmp(got, want->str, got_len))
            fail_msg("%s line %zu:\n got  [%s]\n want [%s]", jsonl_path, n + 1, got, want->str);
        free(got);
        char args[512];
        snprintf(args, sizeof args, "template -m '%s'", model_path);
        got = test_run_cli(args, req.data, req.len, &got_len, &st);
        assert_int_equal(st, 0);
        if (got_len != want->len || memcmp(got, want->str, got_len))
            fail_msg("CLI %s line %zu:\n got  [%s]\n want [%s]", jsonl_path, n + 1, got, want->str);
        free(got);
        strbuf_free(&req);
        json_free(d);
        n++;
    }
    assert_true(n > 0);
    free(text);
    lfm2moe_model_free(m);
}

static void test_golden_json(void **state) {
    (void)state;
    check_json_render(MODEL_A, GOLDEN_DIR "/chat-a.jsonl");
    check_json_render(MODEL_T25, GOLDEN_DIR "/chat-25moe-a.jsonl");
    /* tiny-d is a dense `lfm2` file: through the model once the loader takes
     * it (test_jinja renders its template from the GGUF meanwhile) */
    lfm2moe_model *d = NULL;
    int st = lfm2moe_model_load(MODEL_D, NULL, &d);
    lfm2moe_model_free(d);
    if (st == LFM2MOE_OK)
        check_json_render(MODEL_D, GOLDEN_DIR "/chat-25dense-a.jsonl");
    else
        assert_int_equal(st, LFM2MOE_ERR_UNSUPPORTED_ARCH);
}

/* JSON-call specifics: flags vs the request's add_generation_prompt,
 * bos_token from the request, a caller-supplied template, bad requests. */
static void test_render_json_api(void **state) {
    (void)state;
    char buf[512];
    size_t len;
    const char *req = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}";
    assert_int_equal(lfm2moe_chat_render_json(model, req, strlen(req),
                                              LFM2MOE_CHAT_ADD_GENERATION_PROMPT, buf, sizeof buf,
                                              &len),
                     LFM2MOE_OK);
    assert_string_equal(buf,
                        "<|startoftext|><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    const char *req2 =
        "{\"messages\": [], \"add_generation_prompt\": false, \"bos_token\": \"B\", \"x\": [1, 2]}";
    const char *t = "{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}{{ x | tojson }}";
    assert_int_equal(lfm2moe_chat_render_template(model, t, strlen(t), req2, strlen(req2),
                                                  LFM2MOE_CHAT_ADD_GENERATION_PROMPT, buf,
                                                  sizeof buf, &len),
                     LFM2MOE_OK);
    assert_string_equal(buf, "B<|im_end|>False[1, 2]");
    /* no model: no bos/eos */
    const char *t2 = "[{{ bos_token }}{{ eos_token }}]{{ add_generation_prompt }}";
    assert_int_equal(lfm2moe_chat_render_template(NULL, t2, strlen(t2), req, strlen(req), 0, buf,
                                                  sizeof buf, &len),
                     LFM2MOE_OK);
    assert_string_equal(buf, "[]False");
    /* as in transformers, tools and documents are None when not given */
    const char *t3 = "{{ tools is none }}{{ documents is none }}{{ tools is defined }}";
    assert_int_equal(lfm2moe_chat_render_template(NULL, t3, strlen(t3), req, strlen(req), 0, buf,
                                                  sizeof buf, &len),
                     LFM2MOE_OK);
    assert_string_equal(buf, "TrueTrueTrue");
    assert_int_equal(lfm2moe_chat_render_json(model, "[1]", 3, 0, buf, sizeof buf, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        lfm2moe_chat_render_json(model, "{\"messages\": 1}", 15, 0, buf, sizeof buf, &len),
        LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render_json(model, "{", 1, 0, buf, sizeof buf, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render_json(NULL, req, strlen(req), 0, buf, sizeof buf, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render_json(model, req, strlen(req), 4, buf, sizeof buf, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        lfm2moe_chat_render_template(model, NULL, 3, req, strlen(req), 0, buf, sizeof buf, &len),
        LFM2MOE_ERR_INVALID_ARGUMENT);
    const char *bad = "{% for %}";
    assert_int_equal(lfm2moe_chat_render_template(model, bad, strlen(bad), req, strlen(req), 0, buf,
                                                  sizeof buf, &len),
                     LFM2MOE_ERR_UNSUPPORTED_TEMPLATE);
    assert_non_null(strstr(lfm2moe_last_error(), "line 1 column 8"));
    const char *hostile =
        "{% for i in range(999999) %}{% for j in range(999999) %}{% endfor %}{% endfor %}";
    assert_int_equal(lfm2moe_chat_render_template(model, hostile, strlen(hostile), req, strlen(req),
                                                  0, buf, sizeof buf, &len),
                     LFM2MOE_ERR_LIMIT);
    /* the model stays usable */
    assert_int_equal(lfm2moe_chat_render_json(model, req, strlen(req), 0, buf, sizeof buf, &len),
                     LFM2MOE_OK);
}

static void test_render_edges(void **state) {
    (void)state;
    char buf[256];
    size_t len;
    /* no messages: the template fails on messages[0], as Jinja2 does */
    assert_int_equal(lfm2moe_chat_render(model, NULL, NULL, 0, NULL, 0,
                                         LFM2MOE_CHAT_ADD_GENERATION_PROMPT, buf, sizeof buf, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lfm2moe_last_error(), "undefined"));

    const char *roles[] = {"user"}, *contents[] = {"Hello!"};
    const char *want = "<|startoftext|><|im_start|>user\nHello!<|im_end|>\n";
    /* too small: the needed length, a NUL-terminated prefix */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 0, 0, buf, 10, &len),
                     LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen(want));
    assert_int_equal(buf[9], '\0');
    assert_memory_equal(buf, want, 9);
    /* exactly len bytes is still too small (no room for the NUL) */
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 0, 0, buf, len, &len),
                     LFM2MOE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 0, 0, buf, len + 1, NULL),
                     LFM2MOE_OK);
    assert_string_equal(buf, want);
}

static void test_render_invalid_arguments(void **state) {
    (void)state;
    char buf[256];
    size_t len;
    const char *roles[] = {"user", NULL}, *contents[] = {"a", "b"}, *tools[] = {NULL};
    assert_int_equal(lfm2moe_chat_render(NULL, roles, contents, 1, NULL, 0, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, NULL, contents, 1, NULL, 0, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, roles, NULL, 1, NULL, 0, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 2, NULL, 0, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_true(strstr(lfm2moe_last_error(), "message 1") != NULL);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 1, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, tools, 1, 0, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 0, 0x10, buf, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_chat_render(model, roles, contents, 1, NULL, 0, 0, NULL, 256, &len),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
}

/* The model file with one byte of its metadata changed, loaded from memory. */
static lfm2moe_model *patched_model(char **image, const char *find, size_t at, char byte) {
    size_t len;
    *image = test_read_file(MODEL_A, &len);
    assert_non_null(*image);
    char *p = memmem(*image, len, find, strlen(find));
    assert_non_null(p);
    p[at] = byte;
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load_from_memory(*image, len, NULL, &m), LFM2MOE_OK);
    return m;
}

static void test_template_detection(void **state) {
    (void)state;
    const char *roles[] = {"user"}, *contents[] = {"Hello!"};
    char buf[256];
    size_t len;
    char *image;
    /* another template: rendered as it is */
    lfm2moe_model *m = patched_model(&image, "List of tools: ", 0, 'l');
    const char *tools[] = {"{}"};
    assert_int_equal(lfm2moe_chat_render(m, roles, contents, 1, tools, 1, 0, buf, sizeof buf, &len),
                     LFM2MOE_OK);
    assert_non_null(strstr(buf, "list of tools: "));
    lfm2moe_model_free(m);
    free(image);
    /* a construct the engine does not know: UNSUPPORTED_TEMPLATE, with the place */
    m = patched_model(&image, "{%- endfor -%}", 4, 'x');
    assert_int_equal(lfm2moe_chat_render(m, roles, contents, 1, NULL, 0, 0, buf, sizeof buf, &len),
                     LFM2MOE_ERR_UNSUPPORTED_TEMPLATE);
    assert_non_null(strstr(lfm2moe_last_error(), "line 18 column 6: unknown tag 'xndfor'"));
    lfm2moe_model_free(m);
    free(image);
    /* no template at all (key renamed): the LFM2 one */
    m = patched_model(&image, "tokenizer.chat_template", 22, 'X');
    assert_int_equal(lfm2moe_chat_render(m, roles, contents, 1, NULL, 0, 0, buf, sizeof buf, &len),
                     LFM2MOE_OK);
    assert_string_equal(buf, "<|startoftext|><|im_start|>user\nHello!<|im_end|>\n");
    lfm2moe_model_free(m);
    free(image);
}

/* ---- tool calls ---------------------------------------------------------- */
static lfm2moe_tool_calls *parse_ok(const char *text, size_t n_expected) {
    lfm2moe_tool_calls *calls = NULL;
    int st = lfm2moe_tool_calls_parse(text, strlen(text), &calls);
    if (st) fail_msg("parse failed for %s: %s", text, lfm2moe_last_error());
    size_t n;
    assert_int_equal(lfm2moe_tool_calls_count(calls, &n), LFM2MOE_OK);
    assert_int_equal(n, n_expected);
    return calls;
}

static void expect_call(const lfm2moe_tool_calls *calls, size_t i, const char *name,
                        const char *args) {
    const char *nm, *ar;
    assert_int_equal(lfm2moe_tool_calls_get(calls, i, &nm, &ar), LFM2MOE_OK);
    assert_string_equal(nm, name);
    assert_string_equal(ar, args);
}

static void test_tool_calls(void **state) {
    (void)state;
    lfm2moe_tool_calls *c;

    c = parse_ok("<|tool_call_start|>[get_weather(city=\"Paris\")]<|tool_call_end|>", 1);
    expect_call(c, 0, "get_weather", "{\"city\": \"Paris\"}");
    lfm2moe_tool_calls_free(c);

    /* expected arguments: json.dumps(ast.literal_eval(...)) in Python */
    c = parse_ok("Sure.<|tool_call_start|>[f(a=1, b=-2.5, c=True, d=None, e=[1, 'x', (2,)], "
                 "g={'k': \"v\", 1: False}), g()]<|tool_call_end|>done",
                 2);
    expect_call(c, 0, "f",
                "{\"a\": 1, \"b\": -2.5, \"c\": true, \"d\": null, \"e\": [1, \"x\", [2]], "
                "\"g\": {\"k\": \"v\", \"1\": false}}");
    expect_call(c, 1, "g", "{}");
    lfm2moe_tool_calls_free(c);

    c = parse_ok("<|tool_call_start|>[f(s='it\\'s \"q\" \\n \\t \\\\ \\u00e9 \\x41 \\U0001F600 "
                 "\\d')]<|tool_call_end|>",
                 1);
    expect_call(c, 0, "f",
                "{\"s\": \"it's \\\"q\\\" \\n \\t \\\\ \xc3\xa9 A \xf0\x9f\x98\x80 \\\\d\"}");
    lfm2moe_tool_calls_free(c);

    c = parse_ok("<|tool_call_start|>[f(a=0x1F, b=1_000, c=.5, d=5., e=1e3, g=-0, h=(3), "
                 "i=())]<|tool_call_end|>",
                 1);
    expect_call(c, 0, "f",
                "{\"a\": 31, \"b\": 1000, \"c\": 0.5, \"d\": 5.0, \"e\": 1e3, \"g\": 0, \"h\": 3, "
                "\"i\": []}");
    lfm2moe_tool_calls_free(c);

    c = parse_ok("<|tool_call_start|>[f(t=\"\"\"tri\"ple\"\"\", r=r\"a\\nb\", cat=\"ab\" 'cd', "
                 "z=\"\\x00\\x1f\")]<|tool_call_end|>",
                 1);
    expect_call(c, 0, "f",
                "{\"t\": \"tri\\\"ple\", \"r\": \"a\\\\nb\", \"cat\": \"abcd\", "
                "\"z\": \"\\u0000\\u001f\"}");
    lfm2moe_tool_calls_free(c);

    /* two blocks, a trailing comma, a bare call, white space */
    c = parse_ok("<|tool_call_start|>[a(x=1,)]<|tool_call_end|> then "
                 "<|tool_call_start|> b.c-d ( y = [ ] ) <|tool_call_end|>",
                 2);
    expect_call(c, 0, "a", "{\"x\": 1}");
    expect_call(c, 1, "b.c-d", "{\"y\": []}");
    lfm2moe_tool_calls_free(c);

    /* JSON-style calls */
    c = parse_ok("<|tool_call_start|>[{\"name\": \"f\", \"arguments\": {\"x\": 1, \"y\": "
                 "[true, null]}}]<|tool_call_end|>",
                 1);
    expect_call(c, 0, "f", "{\"x\": 1, \"y\": [true, null]}");
    lfm2moe_tool_calls_free(c);

    /* no calls */
    c = parse_ok("just text", 0);
    lfm2moe_tool_calls_free(c);
    c = parse_ok("<|tool_call_start|>[]<|tool_call_end|>", 0);
    lfm2moe_tool_calls_free(c);
    c = parse_ok("", 0);
    lfm2moe_tool_calls_free(c);
}

static void test_tool_calls_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "<|tool_call_start|>[f(a=1)]",                         /* no end marker */
        "<|tool_call_start|>[f(a=1]<|tool_call_end|>",         /* unclosed call */
        "<|tool_call_start|>[f(1)]<|tool_call_end|>",          /* positional */
        "<|tool_call_start|>[f(a=1, a=2)]<|tool_call_end|>",   /* repeated keyword */
        "<|tool_call_start|>[f(a=)]<|tool_call_end|>",         /* no value */
        "<|tool_call_start|>[f(a=\"x)]<|tool_call_end|>",      /* unterminated string */
        "<|tool_call_start|>[f(a=foo)]<|tool_call_end|>",      /* not a literal */
        "<|tool_call_start|>[f(a=g())]<|tool_call_end|>",      /* nested call */
        "<|tool_call_start|>[f(a=1) g()]<|tool_call_end|>",    /* missing comma */
        "<|tool_call_start|>[123]<|tool_call_end|>",           /* not a call */
        "<|tool_call_start|>[f()] junk<|tool_call_end|>",      /* trailing text */
        "<|tool_call_start|>[f(a={[1]: 2})]<|tool_call_end|>", /* unhashable key */
        "<|tool_call_start|>[f(a='\\x4')]<|tool_call_end|>",   /* short hex escape */
        "<|tool_call_start|>[f(a=1j)]<|tool_call_end|>",       /* complex number */
        "<|tool_call_start|>[{\"name\": 1}]<|tool_call_end|>", /* JSON call without args */
        "<|tool_call_start|>[f(a=1)]<|tool_call_end|><|tool_call_start|>[g(]<|tool_call_end|>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lfm2moe_tool_calls *c = (lfm2moe_tool_calls *)&c; /* must be reset to NULL */
        int st = lfm2moe_tool_calls_parse(bad[i], strlen(bad[i]), &c);
        if (st != LFM2MOE_ERR_PARSE) fail_msg("case %zu (%s): status %d", i, bad[i], st);
        assert_null(c);
        assert_true(strstr(lfm2moe_last_error(), "tool call") != NULL);
    }
    /* deep nesting fails cleanly */
    size_t depth = 100000;
    static const char head[] = "<|tool_call_start|>[f(a=", tail[] = ")]<|tool_call_end|>";
    char *deep = malloc(depth + sizeof head + sizeof tail);
    assert_non_null(deep);
    size_t n = sizeof head - 1;
    memcpy(deep, head, n);
    memset(deep + n, '[', depth);
    n += depth;
    memcpy(deep + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    lfm2moe_tool_calls *c = NULL;
    assert_int_equal(lfm2moe_tool_calls_parse(deep, n, &c), LFM2MOE_ERR_PARSE);
    assert_null(c);
    free(deep);
    /* a block cut anywhere never crashes */
    const char *full = "<|tool_call_start|>[f(a='x\\n', b=[1, {\"k\": (2, 3.5e-1)}], c=None), "
                       "g(h=r'''q''')]<|tool_call_end|>";
    for (size_t cut = 0; cut <= strlen(full); cut++) {
        int st = lfm2moe_tool_calls_parse(full, cut, &c);
        assert_true(st == LFM2MOE_OK || st == LFM2MOE_ERR_PARSE);
        lfm2moe_tool_calls_free(c);
    }
}

static void test_tool_calls_invalid_arguments(void **state) {
    (void)state;
    lfm2moe_tool_calls *c = NULL;
    size_t n;
    const char *a, *b;
    assert_int_equal(lfm2moe_tool_calls_parse(NULL, 3, &c), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tool_calls_parse("x", 1, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tool_calls_parse(NULL, 0, &c), LFM2MOE_OK);
    assert_int_equal(lfm2moe_tool_calls_count(c, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tool_calls_count(NULL, &n), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tool_calls_get(c, 0, &a, &b), LFM2MOE_ERR_NOT_FOUND);
    assert_int_equal(lfm2moe_tool_calls_get(NULL, 0, &a, &b), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_tool_calls_get(c, 0, NULL, &b), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_tool_calls_free(c);
    lfm2moe_tool_calls_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_more_conversations),
        cmocka_unit_test(test_golden_json),
        cmocka_unit_test(test_render_json_api),
        cmocka_unit_test(test_render_edges),
        cmocka_unit_test(test_render_invalid_arguments),
        cmocka_unit_test(test_template_detection),
        cmocka_unit_test(test_tool_calls),
        cmocka_unit_test(test_tool_calls_malformed),
        cmocka_unit_test(test_tool_calls_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
