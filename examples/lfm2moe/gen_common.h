/* Shared by `lfm2moe generate` and `lfm2moe chat`: options, the default
 * model, Ctrl-C cancellation, streaming to stdout and the timings line. */
#ifndef LFM2MOE_CLI_GEN_COMMON_H
#define LFM2MOE_CLI_GEN_COMMON_H

#include <stddef.h>

#include "lfm2moe.h"
#include "think_view.h"

#define GEN_MAX_STOPS 16

typedef struct gen_opts {
    const char *model; /* NULL: cli_default_model() */
    int threads, n_ctx, max_tokens, verbose, seed_set;
    int reasoning_budget; /* --reasoning-budget N; -1: no limit */
    int show_thinking;    /* --show-thinking 1, --hide-thinking 0, else -1 */
    const char *system;   /* system message (chat template) */
    const char *stops[GEN_MAX_STOPS];
    size_t n_stops;
    lfm2moe_sampling_params sp;
} gen_opts;

/* Defaults: library sampling defaults, max_tokens 256 (chat: 512), no
 * reasoning budget, show_thinking -1 (the command's default). */
void gen_opts_init(gen_opts *o, int max_tokens);

/* Try the option at argv[*i] (advancing *i past its value): 1 consumed,
 * 0 not one of ours, -1 bad or missing value (message printed). */
int gen_opt_parse(gen_opts *o, int argc, char **argv, int *i);

/* Usage text of the shared options. */
extern const char gen_opts_usage[];

/* Path of the model to use when -m is not given: $LFM2MOE_MODEL, else the
 * first models/lfm2moe-demo-*.gguf next to the executable's install
 * (<prefix>/share/lfm2moe/models/ from <prefix>/bin/lfm2moe) or in the
 * source tree the executable was built from.  NULL (message printed) if
 * none.  The string is static. */
const char *cli_default_model(void);

/* Load the model (-m or default) and create a session per the options;
 * picks a random seed when none was given.  0 on success, 1 on failure
 * (message printed). */
int gen_open(gen_opts *o, lfm2moe_model **model, lfm2moe_session **session);

/* Ctrl-C: while a generation runs on `session`, cancel it; otherwise
 * (waiting for input) exit with status 130. */
void gen_sigint_install(void);
void gen_sigint_target(lfm2moe_session *session); /* NULL: not generating */

/* Where an answer goes: stdout through a think_view (reasoning shown dimmed
 * on a terminal, or hidden), and the answer part (no reasoning) collected
 * for the tool-call parser.  gen_view_attach sets gp's callbacks. */
typedef struct gen_view {
    think_view view;
    struct json_buf *answer; /* may be NULL */
} gen_view;

void gen_view_attach(gen_view *v, lfm2moe_generate_params *gp, int show_thinking,
                     struct json_buf *answer);

/* Name of a stop reason ("eos", "max-tokens", ...). */
const char *gen_stop_name(int reason);

/* "prompt N tokens, X s (Y tok/s); generated ..." on stderr. */
void gen_print_timings(const lfm2moe_generate_result *r);

/* Tokens of text[0..len) with the tokenizer flags (malloc'd, *n of them);
 * NULL on failure (message printed). */
int32_t *gen_tokenize(const lfm2moe_model *m, const char *text, size_t len, uint32_t flags,
                      size_t *n);

/* The session's tokens (malloc'd, *n of them); NULL on failure. */
int32_t *gen_session_tokens(const lfm2moe_session *s, size_t *n);

/* Load a snapshot into the session if `path` exists: 1 loaded, 0 no file
 * or not usable (a note on stderr says why, the session is unchanged). */
int gen_session_restore(lfm2moe_session *s, const char *path);

/* Save the session to `path`; 0 or 1 (message printed). */
int gen_session_store(const lfm2moe_session *s, const char *path);

#endif
