/* lfm2moe generate [-m MODEL] (-p TEXT | -f FILE) [--chat [--system TEXT]] [options]
 * Streams the continuation of the prompt to stdout (then a newline) and the
 * timings to stderr.  The prompt is tokenized with BOS (if the model wants
 * one) and special tokens parsed; with --chat it is first rendered by the
 * chat template as a user message (plus the system message) with the
 * assistant's generation prompt, and not given a BOS (the template starts
 * with <|startoftext|>).  Ctrl-C stops the generation.
 * --prompt-cache FILE: start from the session saved in FILE (if it is one
 * of this model), evaluate only the prompt tokens past the common prefix,
 * and save the session (prompt + answer) to FILE afterwards.
 * --grammar / --json-schema / --tools constrain the output (gen_structured.c);
 * with --tools the parsed calls follow the text as one JSON line.
 * Reasoning models (LFM2.5): the thinking is printed (dimmed on a terminal)
 * before the answer, which starts on its own line; --hide-thinking drops
 * it; --reasoning-budget N forces </think> after N thinking tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gen_common.h"
#include "gen_structured.h"
#include "base/json.h"

static void usage(void) {
    fprintf(stderr,
            "usage: lfm2moe generate [-m MODEL] (-p TEXT | -f FILE) [--chat] [options]\n"
            "  -p TEXT             prompt\n"
            "  -f FILE             read the prompt from FILE\n"
            "  --chat              render the prompt as a user turn with the chat template\n"
            "  --prompt-cache FILE reuse the session saved in FILE (common prefix), save it "
            "after\n%s%s",
            gen_opts_usage, gen_structured_usage);
}

/* The chat template applied to [system], user with the generation prompt. */
static char *render_chat(const lfm2moe_model *m, const char *system, const char *user,
                         const char *const *tools, size_t n_tools) {
    const char *roles[2], *contents[2];
    size_t n = 0;
    if (system) {
        roles[n] = "system";
        contents[n++] = system;
    }
    roles[n] = "user";
    contents[n++] = user;
    size_t len = 0;
    int st = lfm2moe_chat_render(m, roles, contents, n, tools, n_tools,
                                 LFM2MOE_CHAT_ADD_GENERATION_PROMPT, NULL, 0, &len);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        cli_fail("chat template", st);
        return NULL;
    }
    char *buf = malloc(len + 1);
    if (!buf) {
        fprintf(stderr, "lfm2moe: out of memory\n");
        return NULL;
    }
    if ((st = lfm2moe_chat_render(m, roles, contents, n, tools, n_tools,
                                  LFM2MOE_CHAT_ADD_GENERATION_PROMPT, buf, len + 1, &len))) {
        cli_fail("chat template", st);
        free(buf);
        return NULL;
    }
    return buf;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o;
    gen_opts_init(&o, 256);
    const char *prompt = NULL, *file = NULL, *cache = NULL;
    int chat = 0;
    gen_structured so = {0};
    for (int i = 1; i < argc; i++) {
        int r = gen_opt_parse(&o, argc, argv, &i);
        if (r == 0) r = gen_structured_opt(&so, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-p") && i + 1 < argc)
            prompt = argv[++i];
        else if (!strcmp(argv[i], "-f") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--prompt-cache") && i + 1 < argc)
            cache = argv[++i];
        else if (!strcmp(argv[i], "--chat"))
            chat = 1;
        else {
            usage();
            return 2;
        }
    }
    if (!prompt == !file) {
        fprintf(stderr, "lfm2moe generate: give the prompt with either -p TEXT or -f FILE\n");
        usage();
        return 2;
    }
    json_buf text = {0};
    if (file && gen_read_file(file, &text)) return 1;
    if (prompt) json_buf_append(&text, prompt, strlen(prompt));
    if (text.oom) {
        fprintf(stderr, "lfm2moe: out of memory\n");
        json_buf_free(&text);
        return 1;
    }

    int rc = 1, st;
    lfm2moe_model *model = NULL;
    lfm2moe_session *s = NULL;
    char *rendered = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    lfm2moe_grammar *grammar = NULL;
    json_buf out = {0};
    if (gen_open(&o, &model, &s)) goto done;
    if (gen_structured_open(&so, model, &grammar)) goto done;
    uint32_t flags = LFM2MOE_TOKENIZE_PARSE_SPECIAL;
    const char *in = text.data;
    size_t in_len = text.len;
    if (chat) {
        if (!(rendered = render_chat(model, o.system, text.data, (const char *const *)so.tools,
                                     so.n_tools)))
            goto done;
        in = rendered;
        in_len = strlen(rendered);
    } else {
        lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
        if ((st = lfm2moe_vocab_get_info(model, &vi))) {
            cli_fail("vocab", st);
            goto done;
        }
        if (vi.add_bos) flags |= LFM2MOE_TOKENIZE_ADD_BOS;
        if (o.system) fprintf(stderr, "lfm2moe generate: --system is ignored without --chat\n");
    }
    if (!(ids = gen_tokenize(model, in, in_len, flags, &n))) goto done;
    if (!n) {
        fprintf(stderr, "lfm2moe generate: the prompt is empty\n");
        goto done;
    }
    if (o.verbose) fprintf(stderr, "lfm2moe: prompt of %zu tokens\n", n);

    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = o.max_tokens;
    gp.sampling = o.sp;
    gp.sampling.grammar = grammar;
    gp.reasoning_budget = o.reasoning_budget;
    gp.stop_strings = o.stops;
    gp.n_stop_strings = o.n_stops;
    gen_view view;
    gen_view_attach(&view, &gp, o.show_thinking != 0, so.tools_file ? &out : NULL);
    gp.flags = LFM2MOE_GENERATE_REUSE_PREFIX;
    if (cache && gen_session_restore(s, cache) && o.verbose) {
        int32_t held = 0;
        lfm2moe_session_position(s, &held);
        fprintf(stderr, "lfm2moe: %s holds %d tokens\n", cache, held);
    }
    lfm2moe_generate_result r = {.struct_size = sizeof r};
    gen_sigint_install();
    gen_sigint_target(s);
    st = lfm2moe_generate(s, ids, n, &gp, &r);
    gen_sigint_target(NULL);
    think_view_end(&view.view);
    putchar('\n');
    fflush(stdout);
    if (st) {
        cli_fail("generate", st);
        goto done;
    }
    gen_print_timings(&r);
    rc = cache ? gen_session_store(s, cache) : 0;
    if (!rc && so.tools_file) rc = gen_print_tool_calls(out.data ? out.data : "", out.len);
done:
    json_buf_free(&out);
    gen_structured_close(&so);
    lfm2moe_grammar_free(grammar);
    free(ids);
    free(rendered);
    json_buf_free(&text);
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    return rc;
}
