/* The `lfm2moe` command-line tool: every subcommand is run at least once
 * (generate, chat and bench in test_generate.c; tokenize and template
 * against the golden cases in test_tokenizer.c and test_chat.c), and each
 * refuses a bad option with exit status 2. */
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
#include "golden_check.h"
#include "lfm2moe.h"
#include "perplexity.h"
#include "test_files.h"
#include "think_view.h"
#include "base/json.h"

#define CLI "'" LFM2MOE_CLI "'"
#define DEMO SOURCE_DIR "/models/lfm2moe-demo-f32.gguf"

static void test_info(void **state) {
    (void)state;
    char *out;
    assert_int_equal(test_run_cmd(CLI " info -m " GOLDEN_DIR "/tiny-a-f32.gguf", &out, NULL), 0);
    assert_non_null(strstr(out, "architecture:  lfm2moe\n"));
    assert_non_null(strstr(out, "blocks:        8 (2 attention, 6 conv; 2 dense FFN, 6 MoE)\n"));
    assert_non_null(strstr(out, "ffn:           dense 256; 8 experts of 64, 4 used per token\n"));
    assert_non_null(strstr(out, "layers:        Cd Cd Am Cm Cm Cm Am Cm "));
    assert_non_null(strstr(out, "  F32         84 tensors"));
    free(out);
    /* a file that is not GGUF: exit 1 with a message, no crash */
    assert_int_equal(test_run_cmd(CLI " info -m " SOURCE_DIR "/README.md 2>&1", &out, NULL), 1);
    assert_non_null(strstr(out, "GGUF"));
    free(out);
}

/* The CLI prints what ppl_compute gives in-process (test_demo.c checks
 * that value against PyTorch's). */
static void test_perplexity(void **state) {
    (void)state;
    const char *text_path = SOURCE_DIR "/tools/train/heldout/text.txt";
    char *out;
    assert_int_equal(test_run_cmd(CLI " perplexity -m " DEMO " -f " SOURCE_DIR
                                      "/tools/train/heldout/text.txt --ctx 64 -t 1 2>/dev/null",
                                  &out, NULL),
                     0);
    const char *fin = strstr(out, "Final estimate: PPL = ");
    assert_non_null(fin);
    double cli_ppl = atof(fin + strlen("Final estimate: PPL = "));

    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load(DEMO, NULL, &m), LFM2MOE_OK);
    size_t len;
    char *text = test_read_file(text_path, &len);
    ppl_result r;
    assert_int_equal(ppl_compute(m, text, len, 64, 1, NULL, NULL, &r), LFM2MOE_OK);
    print_message("perplexity: CLI %.4f, in-process %.4f over %ld tokens\n", cli_ppl, r.ppl,
                  r.n_scored);
    assert_true(fabs(cli_ppl - r.ppl) < 1e-4);
    assert_true(r.ppl > 1 && r.ppl < 10); /* the demo model knows this text */
    free(out);
    free(text);
    lfm2moe_model_free(m);

    /* too short a text for the window */
    assert_int_equal(test_run_cmd(CLI " perplexity -m " DEMO " -f " SOURCE_DIR
                                      "/tests/golden/prompt-a.txt --ctx 4096 2>&1",
                                  &out, NULL),
                     1);
    assert_non_null(strstr(out, "need at least 4096"));
    free(out);
}

/* quantize the F32 golden source to Q8_0, then eval the copy on the Q8_0
 * golden's tokens: within that golden's tolerance (0.03 relative RMS,
 * argmax on 95% of rows) of llama.cpp on llama-quantize's file. */
static void test_quantize_then_eval(void **state) {
    (void)state;
    char dir[] = "/tmp/lfm2moe-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char q8[256], outg[256], cmd[1024];
    snprintf(q8, sizeof q8, "%s/q8.gguf", dir);
    snprintf(outg, sizeof outg, "%s/out.gld", dir);
    char *out;
    snprintf(cmd, sizeof cmd, CLI " quantize " GOLDEN_DIR "/tiny-q-f32.gguf %s Q8_0 2>&1", q8);
    assert_int_equal(test_run_cmd(cmd, &out, NULL), 0);
    free(out);
    snprintf(cmd, sizeof cmd,
             CLI " eval -m %s --tokens " GOLDEN_DIR "/tiny-q-q8_0.gld --out %s 2>&1", q8, outg);
    assert_int_equal(test_run_cmd(cmd, &out, NULL), 0);
    free(out);
    gld want, got;
    char err[256];
    if (gld_read(GOLDEN_DIR "/tiny-q-q8_0.gld", 1, &want, err, sizeof err) ||
        gld_read(outg, 1, &got, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(got.n_prompt + got.n_gen, want.n_prompt + want.n_gen);
    assert_memory_equal(got.tokens, want.tokens,
                        (size_t)(want.n_prompt + want.n_gen) * sizeof(int32_t));
    golden_stats r = golden_compare(&want, got.logits);
    print_message("quantize Q8_0 + eval: rel rms %.3g, argmax %.1f%%\n", r.rel_rms,
                  100 * r.argmax_agree);
    assert_true(r.rel_rms <= 0.03);
    assert_true(r.argmax_agree >= 0.95);
    gld_free(&got);
    /* --repack: the same weights in the R16 layout, listed by info, same
     * logits within the same bounds (bit-identity: test_golden) */
    char r16[256];
    snprintf(r16, sizeof r16, "%s/r16.gguf", dir);
    snprintf(cmd, sizeof cmd, CLI " quantize --repack %s %s 2>&1", q8, r16);
    assert_int_equal(test_run_cmd(cmd, &out, NULL), 0);
    free(out);
    snprintf(cmd, sizeof cmd, CLI " info -m %s 2>&1", r16);
    assert_int_equal(test_run_cmd(cmd, &out, NULL), 0);
    assert_non_null(strstr(out, "Q8_0_R16"));
    free(out);
    snprintf(cmd, sizeof cmd,
             CLI " eval -m %s --tokens " GOLDEN_DIR "/tiny-q-q8_0.gld --out %s 2>&1", r16, outg);
    assert_int_equal(test_run_cmd(cmd, &out, NULL), 0);
    free(out);
    if (gld_read(outg, 1, &got, err, sizeof err)) fail_msg("%s", err);
    r = golden_compare(&want, got.logits);
    assert_true(r.rel_rms <= 0.03);
    assert_true(r.argmax_agree >= 0.95);
    gld_free(&want);
    gld_free(&got);
    unlink(r16);
    /* an unknown type is refused and writes nothing */
    snprintf(cmd, sizeof cmd, CLI " quantize " GOLDEN_DIR "/tiny-q-f32.gguf %s/x.gguf Q7_X 2>&1",
             dir);
    assert_int_not_equal(test_run_cmd(cmd, &out, NULL), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/x.gguf", dir);
    assert_int_not_equal(access(cmd, F_OK), 0);
    unlink(q8);
    unlink(outg);
    rmdir(dir);
}

/* Every subcommand: a bad option is a usage error (2), never a crash. */
static void test_usage_errors(void **state) {
    (void)state;
    const char *cmds[] = {"info",       "eval",  "tokenize", "template", "quantize",
                          "perplexity", "synth", "bench",    "generate", "chat"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char cmd[256], *out;
        snprintf(cmd, sizeof cmd, CLI " %s --no-such-option </dev/null 2>&1", cmds[i]);
        int st = test_run_cmd(cmd, &out, NULL);
        if (st != 2) fail_msg("`lfm2moe %s --no-such-option` exited %d: %s", cmds[i], st, out);
        assert_non_null(strstr(out, "usage"));
        free(out);
    }
    char *out;
    assert_int_equal(test_run_cmd(CLI " no-such-command 2>&1", &out, NULL), 2);
    free(out);
}

/* `lfm2moe chat` / `generate`'s display of LFM2.5 reasoning, fed with the
 * library's parts: the thinking hidden or shown (dimmed), the answer on its
 * own line without the white space that follows </think>. */
typedef struct view_piece {
    int reasoning;
    const char *text;
} view_piece;

static char *view_text(const view_piece *pieces, int show, int dim) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    think_view v;
    think_view_init(&v, f, show, dim);
    for (size_t i = 0; pieces[i].text; i++)
        think_view_part(&v, pieces[i].reasoning, pieces[i].text, strlen(pieces[i].text));
    think_view_end(&v);
    fclose(f);
    return buf;
}

static void test_think_view(void **state) {
    (void)state;
    const view_piece parts[] = {
        {1, "Add"}, {1, " them."}, {0, "\n"}, {0, "\nIt is 42."}, {0, NULL}};
    char *out = view_text(parts, 0, 0);
    assert_string_equal(out, "It is 42.");
    free(out);
    out = view_text(parts, 1, 0);
    assert_string_equal(out, "Add them.\nIt is 42.");
    free(out);
    out = view_text(parts, 1, 1);
    assert_string_equal(out, "\x1b[2mAdd them.\x1b[0m\nIt is 42.");
    free(out);
    const view_piece plain[] = {{0, "a < b, <think> and "}, {0, "</think>"}, {0, NULL}};
    out = view_text(plain, 0, 0); /* no reasoning part: everything, tag-like text too */
    assert_string_equal(out, "a < b, <think> and </think>");
    free(out);
    const view_piece open[] = {{1, "still thinking"}, {0, NULL}};
    out = view_text(open, 1, 1); /* ended inside: the dim mode is left */
    assert_string_equal(out, "\x1b[2mstill thinking\x1b[0m");
    free(out);
}

/* `lfm2moe chat --tools`: the tools reach the template, calls are
 * constrained (required), and each answer is followed by its calls as one
 * JSON line, as `generate --tools` prints them. */
static void test_chat_tool_calls(void **state) {
    (void)state;
    char tools_path[] = "/tmp/lfm2moe-tools-XXXXXX";
    int fd = mkstemp(tools_path);
    assert_true(fd >= 0);
    const char tools[] = "[{\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\", "
                         "\"properties\": {\"city\": {\"type\": \"string\", \"maxLength\": 8}}, "
                         "\"required\": [\"city\"]}}]";
    assert_int_equal(write(fd, tools, sizeof tools - 1), (ssize_t)(sizeof tools - 1));
    close(fd);
    char args[512];
    snprintf(args, sizeof args,
             "chat -m %s/tiny-a-f32.gguf --tools %s --tool-choice required --seed 5 -n 300 -t 1 "
             "2>/dev/null",
             GOLDEN_DIR, tools_path);
    const char input[] = "Weather in Oslo?\nAnd in Rome?\n";
    size_t len = 0;
    int status = -1;
    char *out = test_run_cli(args, input, sizeof input - 1, &len, &status);
    unlink(tools_path);
    assert_int_equal(status, 0);
    int calls = 0;
    for (const char *line = out; (line = strstr(line, "\n[{\"name\": ")); calls++) {
        line++;
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        json_value *v = NULL;
        if (json_parse(line, (size_t)(end - line), &v, NULL, 0)) fail_msg("not JSON: %s", line);
        assert_true(v->type == JSON_ARRAY && v->n >= 1);
        for (size_t i = 0; i < v->n; i++) {
            const json_value *name = json_get(v->items[i], "name");
            const json_value *city = json_get(json_get(v->items[i], "arguments"), "city");
            assert_true(name && name->type == JSON_STRING && !strcmp(name->str, "get_weather"));
            assert_true(city && city->type == JSON_STRING);
        }
        json_free(v);
        line = end;
    }
    assert_int_equal(calls, 2); /* one line per answer */
    free(out);
    /* the same options refuse a bad tool choice */
    out = test_run_cli("chat --tool-choice maybe 2>/dev/null", "", 0, &len, &status);
    assert_int_equal(status, 2);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_think_view),
        cmocka_unit_test(test_chat_tool_calls),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_perplexity),
        cmocka_unit_test(test_quantize_then_eval),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
