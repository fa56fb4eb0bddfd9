/* lfm2moe chat [-m MODEL] [--system TEXT] [options]
 * Interactive multi-turn chat: one user message per line on stdin, the
 * answer streamed to stdout.  The session keeps the conversation, so each
 * turn evaluates only its new tokens: the first turn is the rendered chat
 * template, later ones append "<|im_end|>\n" (closing the previous answer,
 * whose end-of-turn token generation does not feed back) and the new
 * "<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n".
 * Commands: /reset forgets the conversation; Ctrl-D (end of input) or /quit
 * quits; Ctrl-C stops the current answer (and quits at the prompt).
 * Reasoning models (LFM2.5) think in "<think>...</think>" before answering:
 * that part is hidden, or shown dimmed with --show-thinking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"
#include "base/json.h"
#include "think_view.h"

static void usage(void) {
    fprintf(stderr, "usage: lfm2moe chat [-m MODEL] [--system TEXT] [--show-thinking] [options]\n%s",
            gen_opts_usage);
}

/* Tokens of the first turn: the template over [system], user, with the
 * assistant's generation prompt (it begins with <|startoftext|>: no BOS). */
static int first_turn(const lfm2moe_model *m, const char *system, const char *user,
                      json_buf *out) {
    const char *roles[2], *contents[2];
    size_t n = 0, len = 0;
    if (system) {
        roles[n] = "system";
        contents[n++] = system;
    }
    roles[n] = "user";
    contents[n++] = user;
    int st = lfm2moe_chat_render(m, roles, contents, n, NULL, 0,
                                 LFM2MOE_CHAT_ADD_GENERATION_PROMPT, NULL, 0, &len);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) return cli_fail("chat template", st);
    char *buf = malloc(len + 1);
    if (!buf) return cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY);
    st = lfm2moe_chat_render(m, roles, contents, n, NULL, 0, LFM2MOE_CHAT_ADD_GENERATION_PROMPT,
                             buf, len + 1, &len);
    if (!st) json_buf_append(out, buf, len);
    free(buf);
    return st ? cli_fail("chat template", st) : 0;
}

static int show_piece(void *user_data, const char *piece, size_t len, int32_t token) {
    (void)token;
    think_view_put(user_data, piece, len);
    return 0;
}

int cmd_chat(int argc, char **argv) {
    gen_opts o;
    gen_opts_init(&o, 512);
    int show_thinking = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--show-thinking")) {
            show_thinking = 1;
            continue;
        }
        int r = gen_opt_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r == 0) {
            usage();
            return 2;
        }
    }
    lfm2moe_model *model = NULL;
    lfm2moe_session *s = NULL;
    if (gen_open(&o, &model, &s)) return 1;
    const int interactive = isatty(STDIN_FILENO);
    if (interactive)
        fprintf(stderr, "lfm2moe chat: one message per line; /reset, /quit or Ctrl-D; "
                        "Ctrl-C stops an answer\n");
    gen_sigint_install();

    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = o.max_tokens;
    gp.sampling = o.sp;
    gp.stop_strings = o.stops;
    gp.n_stop_strings = o.n_stops;
    think_view view;
    think_view_init(&view, stdout, show_thinking, isatty(STDOUT_FILENO));
    gp.callback = show_piece;
    gp.user_data = &view;

    int rc = 0, turns = 0;
    char *line = NULL;
    size_t cap = 0;
    int32_t *ids = NULL;
    size_t ids_cap = 0;
    for (;;) {
        if (interactive) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break; /* Ctrl-D / end of input */
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (!got) continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            lfm2moe_session_reset(s);
            turns = 0;
            fprintf(stderr, "(conversation reset)\n");
            continue;
        }
        /* this turn's text: the whole template first, then only the new part */
        json_buf text = {0};
        if (turns == 0) {
            if (first_turn(model, o.system, line, &text)) {
                json_buf_free(&text);
                rc = 1;
                break;
            }
        } else {
            static const char open[] = "<|im_end|>\n<|im_start|>user\n";
            static const char close[] = "<|im_end|>\n<|im_start|>assistant\n";
            json_buf_append(&text, open, sizeof open - 1);
            json_buf_append(&text, line, (size_t)got);
            json_buf_append(&text, close, sizeof close - 1);
        }
        if (text.oom) {
            json_buf_free(&text);
            rc = cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY);
            break;
        }
        size_t n = 0;
        int st = lfm2moe_tokenize(model, text.data, text.len, LFM2MOE_TOKENIZE_PARSE_SPECIAL,
                                  ids, ids_cap, &n);
        if (st == LFM2MOE_ERR_BUFFER_TOO_SMALL) {
            int32_t *bigger = realloc(ids, n * sizeof *ids);
            if (!bigger) {
                json_buf_free(&text);
                rc = cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY);
                break;
            }
            ids = bigger;
            ids_cap = n;
            st = lfm2moe_tokenize(model, text.data, text.len, LFM2MOE_TOKENIZE_PARSE_SPECIAL,
                                  ids, ids_cap, &n);
        }
        json_buf_free(&text);
        if (st) {
            rc = cli_fail("tokenize", st);
            break;
        }
        lfm2moe_generate_result r = {.struct_size = sizeof r};
        gen_sigint_target(s);
        st = lfm2moe_generate(s, ids, n, &gp, &r);
        gen_sigint_target(NULL);
        think_view_end(&view);
        putchar('\n');
        fflush(stdout);
        if (st == LFM2MOE_ERR_CONTEXT_FULL) {
            fprintf(stderr, "lfm2moe chat: the context is full: /reset to start over\n");
            continue;
        }
        if (st) {
            rc = cli_fail("generate", st);
            break;
        }
        if (r.n_prompt_tokens > 0) turns++; /* else cancelled before the prompt was in */
        if (r.stop_reason == LFM2MOE_STOP_CANCELLED) fprintf(stderr, "(stopped)\n");
        if (r.stop_reason == LFM2MOE_STOP_CONTEXT_FULL)
            fprintf(stderr, "lfm2moe chat: the context is full: /reset to start over\n");
        if (o.verbose) {
            int32_t pos = 0;
            lfm2moe_session_position(s, &pos);
            fprintf(stderr, "[prompt %d tokens, position %d]\n", r.n_prompt_tokens, (int)pos);
            gen_print_timings(&r);
        }
    }
    free(line);
    free(ids);
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    return rc;
}
