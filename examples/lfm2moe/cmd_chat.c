/* lfm2moe chat [-m MODEL] [--system TEXT] [--session FILE] [options]
 * Interactive multi-turn chat: one user message per line on stdin, the
 * answer streamed to stdout.  The conversation is kept as tokens: the first
 * turn is the rendered chat template; a later one is everything so far plus
 * "<|im_end|>\n" (closing the previous answer, whose end-of-turn token
 * generation does not feed back) and "<|im_start|>user\n...<|im_end|>\n
 * <|im_start|>assistant\n".  Each turn passes the whole conversation to
 * lfm2moe_generate with LFM2MOE_GENERATE_REUSE_PREFIX, so only tokens the
 * session does not hold yet are evaluated; stderr shows the counts.
 * Commands: /regen answers the last message again (a new seed); /edit TEXT
 * replaces the last message and answers it (only the tokens from the edit
 * on are evaluated); /reset forgets the conversation; Ctrl-D (end of
 * input) or /quit quits; Ctrl-C stops the current answer (and quits at the
 * prompt).  --session FILE resumes the conversation saved in FILE and saves
 * it after every answer.
 * --tools FILE gives the tools to the chat template (and constrains calls,
 * --tool-choice as for generate; --grammar / --json-schema constrain every
 * answer); an answer holding tool calls is followed by them as one JSON line
 * (gen_print_tool_calls, as `generate --tools` prints them).
 * Reasoning models (LFM2.5) think in "<think>...</think>" before answering:
 * that part is hidden, or shown dimmed with --show-thinking;
 * --reasoning-budget N limits it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"
#include "gen_structured.h"
#include "base/json.h"

static void usage(void) {
    fprintf(stderr,
            "usage: lfm2moe chat [-m MODEL] [--system TEXT] [--session FILE] [options]\n"
            "  --session FILE      resume the conversation saved in FILE; save it after each "
            "answer\n%s%s",
            gen_opts_usage, gen_structured_usage);
}

/* A growable token list. */
typedef struct toks {
    int32_t *t;
    size_t n, cap;
} toks;

static int toks_add(toks *v, const int32_t *t, size_t n) {
    if (v->n + n > v->cap) {
        size_t c = v->cap ? v->cap * 2 : 256;
        while (c < v->n + n)
            c *= 2;
        int32_t *b = realloc(v->t, c * sizeof *b);
        if (!b) return cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY);
        v->t = b;
        v->cap = c;
    }
    memcpy(v->t + v->n, t, n * sizeof *t);
    v->n += n;
    return 0;
}

static int toks_add_text(toks *v, const lfm2moe_model *m, const char *text) {
    size_t n = 0;
    int32_t *t = gen_tokenize(m, text, strlen(text), LFM2MOE_TOKENIZE_PARSE_SPECIAL, &n);
    if (!t) return 1;
    int rc = toks_add(v, t, n);
    free(t);
    return rc;
}

/* Index just past the last occurrence of `text`'s tokens in v (0 if none). */
static size_t after_last(const toks *v, const lfm2moe_model *m, const char *text) {
    size_t n = 0;
    int32_t *p = gen_tokenize(m, text, strlen(text), LFM2MOE_TOKENIZE_PARSE_SPECIAL, &n);
    size_t at = 0;
    for (size_t i = v->n >= n ? v->n - n + 1 : 0; p && n && i-- > 0;)
        if (!memcmp(v->t + i, p, n * sizeof *p)) {
            at = i + n;
            break;
        }
    free(p);
    return at;
}

/* Tokens of the first turn: the template over [system], user, with the
 * assistant's generation prompt (it begins with <|startoftext|>: no BOS). */
static int first_turn(const lfm2moe_model *m, const char *system, const char *user,
                      const gen_structured *so, toks *out) {
    const char *roles[2], *contents[2];
    size_t n = 0, len = 0;
    if (system) {
        roles[n] = "system";
        contents[n++] = system;
    }
    roles[n] = "user";
    contents[n++] = user;
    const char *const *tools = (const char *const *)so->tools;
    int st = lfm2moe_chat_render(m, roles, contents, n, tools, so->n_tools,
                                 LFM2MOE_CHAT_ADD_GENERATION_PROMPT, NULL, 0, &len);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) return cli_fail("chat template", st);
    char *buf = malloc(len + 1);
    if (!buf) return cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY);
    st = lfm2moe_chat_render(m, roles, contents, n, tools, so->n_tools,
                             LFM2MOE_CHAT_ADD_GENERATION_PROMPT, buf, len + 1, &len);
    int rc = st ? cli_fail("chat template", st) : toks_add_text(out, m, buf);
    free(buf);
    return rc;
}

/* The user turn after a conversation that ended with an answer. */
static int next_turn(const lfm2moe_model *m, const char *user, toks *out) {
    static const char open[] = "<|im_end|>\n<|im_start|>user\n";
    static const char close[] = "<|im_end|>\n<|im_start|>assistant\n";
    json_buf text = {0};
    json_buf_append(&text, open, sizeof open - 1);
    json_buf_append(&text, user, strlen(user));
    json_buf_append(&text, close, sizeof close - 1);
    int rc =
        text.oom ? cli_fail("chat", LFM2MOE_ERR_OUT_OF_MEMORY) : toks_add_text(out, m, text.data);
    json_buf_free(&text);
    return rc;
}

/* The conversation to answer for `line` (a message or a command); 1 to skip
 * this line (nothing to answer), -1 on error. */
static int build_prompt(const lfm2moe_model *m, const gen_opts *o, const gen_structured *so,
                        const toks *held, const char *line, toks *prompt) {
    prompt->n = 0;
    if (!strcmp(line, "/regen") || !strncmp(line, "/edit ", 6)) {
        const int edit = line[1] == 'e';
        /* the last user turn starts at its <|im_start|>, its answer after
         * "<|im_start|>assistant\n" */
        size_t cut = edit ? after_last(held, m, "<|im_start|>user\n")
                          : after_last(held, m, "<|im_start|>assistant\n");
        if (!cut) {
            fprintf(stderr, "(no message to %s yet)\n", edit ? "edit" : "regenerate");
            return 1;
        }
        if (!edit) return toks_add(prompt, held->t, cut) ? -1 : 0;
        const char *text = line + 6;
        json_buf b = {0};
        json_buf_append(&b, text, strlen(text));
        json_buf_append(&b, "<|im_end|>\n<|im_start|>assistant\n",
                        sizeof "<|im_end|>\n<|im_start|>assistant\n" - 1);
        int rc = b.oom || toks_add(prompt, held->t, cut) || toks_add_text(prompt, m, b.data);
        json_buf_free(&b);
        return rc ? -1 : 0;
    }
    if (!held->n) return first_turn(m, o->system, line, so, prompt) ? -1 : 0;
    if (toks_add(prompt, held->t, held->n)) return -1;
    return next_turn(m, line, prompt) ? -1 : 0;
}

int cmd_chat(int argc, char **argv) {
    gen_opts o;
    gen_opts_init(&o, 512);
    const char *session_file = NULL;
    gen_structured so = {0};
    for (int i = 1; i < argc; i++) {
        int r = gen_opt_parse(&o, argc, argv, &i);
        if (r == 0) r = gen_structured_opt(&so, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--session") && i + 1 < argc) {
            session_file = argv[++i];
            continue;
        }
        usage();
        return 2;
    }
    lfm2moe_model *model = NULL;
    lfm2moe_session *s = NULL;
    lfm2moe_grammar *grammar = NULL;
    if (gen_open(&o, &model, &s)) return 1;
    if (gen_structured_open(&so, model, &grammar)) {
        gen_structured_close(&so);
        lfm2moe_session_free(s);
        lfm2moe_model_free(model);
        return 1;
    }
    const int interactive = isatty(STDIN_FILENO);
    if (interactive)
        fprintf(stderr, "lfm2moe chat: one message per line; /regen, /edit TEXT, /reset, /quit "
                        "or Ctrl-D; Ctrl-C stops an answer\n");
    gen_sigint_install();

    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = o.max_tokens;
    gp.sampling = o.sp;
    gp.stop_strings = o.stops;
    gp.n_stop_strings = o.n_stops;
    gp.reasoning_budget = o.reasoning_budget;
    gp.sampling.grammar = grammar;
    gen_view view;
    json_buf answer_text = {0};
    gen_view_attach(&view, &gp, o.show_thinking == 1, &answer_text);
    gp.flags = LFM2MOE_GENERATE_REUSE_PREFIX;

    int rc = 0;
    toks held = {0}, prompt = {0};
    char *line = NULL;
    size_t cap = 0;
    if (session_file && gen_session_restore(s, session_file)) {
        int32_t *t = gen_session_tokens(s, &held.n);
        if (!t) {
            rc = 1;
            goto done;
        }
        held.t = t;
        held.cap = held.n;
        fprintf(stderr, "(resumed %zu tokens from %s)\n", held.n, session_file);
    }
    for (uint64_t answer = 0;; answer++) {
        if (interactive) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break; /* Ctrl-D / end of input */
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (!got) continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            lfm2moe_session_reset(s);
            held.n = 0;
            fprintf(stderr, "(conversation reset)\n");
            continue;
        }
        int b = build_prompt(model, &o, &so, &held, line, &prompt);
        if (b < 0) {
            rc = 1;
            break;
        }
        if (b > 0) continue;
        /* a regenerated answer should differ: a new seed per answer */
        gp.sampling.seed = o.sp.seed + answer;
        lfm2moe_generate_result r = {.struct_size = sizeof r};
        answer_text.len = 0;
        gen_sigint_target(s);
        int st = lfm2moe_generate(s, prompt.t, prompt.n, &gp, &r);
        gen_sigint_target(NULL);
        think_view_end(&view.view);
        putchar('\n');
        /* a malformed call (unconstrained model) is reported, the chat goes on */
        if (answer_text.len && memmem(answer_text.data, answer_text.len, "<|tool_call_start|>", 19))
            gen_print_tool_calls(answer_text.data, answer_text.len);
        fflush(stdout);
        free(held.t);
        held = (toks){0};
        if (!(held.t = gen_session_tokens(s, &held.n))) {
            rc = 1;
            break;
        }
        held.cap = held.n;
        if (st == LFM2MOE_ERR_CONTEXT_FULL) {
            fprintf(stderr, "lfm2moe chat: the context is full: /reset to start over\n");
            continue;
        }
        if (st) {
            rc = cli_fail("generate", st);
            break;
        }
        fprintf(stderr, "[reused %d, evaluated %d prompt tokens]\n", r.n_prompt_reused,
                r.n_prompt_tokens);
        if (r.stop_reason == LFM2MOE_STOP_CANCELLED) fprintf(stderr, "(stopped)\n");
        if (r.stop_reason == LFM2MOE_STOP_CONTEXT_FULL)
            fprintf(stderr, "lfm2moe chat: the context is full: /reset to start over\n");
        if (o.verbose) {
            int32_t pos = 0;
            lfm2moe_session_position(s, &pos);
            fprintf(stderr, "[prompt %d tokens, position %d]\n", r.n_prompt_tokens, (int)pos);
            gen_print_timings(&r);
        }
        if (session_file && gen_session_store(s, session_file)) {
            rc = 1;
            break;
        }
    }
done:
    free(line);
    free(held.t);
    free(prompt.t);
    json_buf_free(&answer_text);
    lfm2moe_session_free(s);
    lfm2moe_grammar_free(grammar);
    gen_structured_close(&so);
    lfm2moe_model_free(model);
    return rc;
}
