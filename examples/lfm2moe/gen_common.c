/* Shared by `lfm2moe generate` and `lfm2moe chat` (see gen_common.h). */
#include "gen_common.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "base/json.h"

#ifndef LFM2MOE_SOURCE_DIR
#define LFM2MOE_SOURCE_DIR ""
#endif

const char gen_opts_usage[] =
    "  -m MODEL            GGUF file (default: $LFM2MOE_MODEL, else the shipped demo model)\n"
    "  -n N                max tokens to generate (<= 0: until the context is full)\n"
    "  --temp T            temperature (0 = greedy)         default 0.3\n"
    "  --top-k K           keep the K most likely (0 = off)  default 0\n"
    "  --top-p P           nucleus sampling (1 = off)        default 1\n"
    "  --min-p P           drop p < P * p_max (0 = off)      default 0.15\n"
    "  --repeat-penalty R  over the last 64 tokens (1 = off) default 1.05\n"
    "  --seed S            random seed (default: random)\n"
    "  --stop TEXT         stop when TEXT appears (repeatable)\n"
    "  -t THREADS          worker threads (default: all CPUs)\n"
    "  -c CTX              context length (default: min(trained, 4096))\n"
    "  --system TEXT       system message (chat template)\n"
    "  --reasoning-budget N  reasoning models: at most N thinking tokens, then </think>\n"
    "  --show-thinking / --hide-thinking  print the reasoning (dimmed on a terminal) or not\n"
    "  -v                  verbose: positions and timings on stderr\n";

void gen_opts_init(gen_opts *o, int max_tokens) {
    memset(o, 0, sizeof *o);
    o->max_tokens = max_tokens;
    o->reasoning_budget = -1;
    o->show_thinking = -1;
    lfm2moe_sampling_params_init(&o->sp);
}

static int parse_int(const char *opt, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "lfm2moe: %s: not an integer: '%s'\n", opt, s);
        return -1;
    }
    *out = (int)v;
    return 1;
}

static int parse_float(const char *opt, const char *s, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "lfm2moe: %s: not a number: '%s'\n", opt, s);
        return -1;
    }
    *out = (float)v;
    return 1;
}

int gen_opt_parse(gen_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "-v")) {
        o->verbose = 1;
        return 1;
    }
    if (!strcmp(a, "--show-thinking") || !strcmp(a, "--hide-thinking")) {
        o->show_thinking = a[2] == 's';
        return 1;
    }
    static const char *const with_value[] = {
        "-m",       "--model",           "-n",     "--temp", "--top-k", "--top-p",
        "--min-p",  "--repeat-penalty",  "--seed", "--stop", "-t",      "-c",
        "--system", "--reasoning-budget"};
    int known = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        known |= !strcmp(a, with_value[k]);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "lfm2moe: %s needs a value\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        o->model = v;
        return 1;
    }
    if (!strcmp(a, "--system")) {
        o->system = v;
        return 1;
    }
    if (!strcmp(a, "--stop")) {
        if (o->n_stops == GEN_MAX_STOPS) {
            fprintf(stderr, "lfm2moe: at most %d --stop strings\n", GEN_MAX_STOPS);
            return -1;
        }
        o->stops[o->n_stops++] = v;
        return 1;
    }
    if (!strcmp(a, "-n")) return parse_int(a, v, &o->max_tokens);
    if (!strcmp(a, "-t")) return parse_int(a, v, &o->threads);
    if (!strcmp(a, "-c")) return parse_int(a, v, &o->n_ctx);
    if (!strcmp(a, "--reasoning-budget")) {
        if (parse_int(a, v, &o->reasoning_budget) < 0 || o->reasoning_budget < 0) {
            fprintf(stderr, "lfm2moe: --reasoning-budget: a count of tokens (>= 0)\n");
            return -1;
        }
        return 1;
    }
    if (!strcmp(a, "--top-k")) return parse_int(a, v, &o->sp.top_k);
    if (!strcmp(a, "--temp")) return parse_float(a, v, &o->sp.temperature);
    if (!strcmp(a, "--top-p")) return parse_float(a, v, &o->sp.top_p);
    if (!strcmp(a, "--min-p")) return parse_float(a, v, &o->sp.min_p);
    if (!strcmp(a, "--repeat-penalty")) return parse_float(a, v, &o->sp.repeat_penalty);
    /* --seed */
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || end == v || *end || *v == '-') {
        fprintf(stderr, "lfm2moe: --seed: not an unsigned integer: '%s'\n", v);
        return -1;
    }
    o->sp.seed = s;
    o->seed_set = 1;
    return 1;
}

/* First match of dir + "/lfm2moe-demo-*.gguf" into out; 1 if found. */
static int find_in(const char *dir, char *out, size_t cap) {
    char pattern[PATH_MAX];
    if (snprintf(pattern, sizeof pattern, "%s/lfm2moe-demo-*.gguf", dir) >= (int)sizeof pattern)
        return 0;
    glob_t g;
    int found = 0;
    if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0 && strlen(g.gl_pathv[0]) < cap) {
        strcpy(out, g.gl_pathv[0]); /* glob sorts: the same file every time */
        found = 1;
    }
    globfree(&g);
    return found;
}

const char *cli_default_model(void) {
    static char path[PATH_MAX];
    const char *env = getenv("LFM2MOE_MODEL");
    if (env && *env) return env;
    /* the executable's directory, independent of the current directory */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            char dir[PATH_MAX + 32];
            snprintf(dir, sizeof dir, "%s/../share/lfm2moe/models", exe);
            if (find_in(dir, path, sizeof path)) return path;
        }
    }
    if (*LFM2MOE_SOURCE_DIR && find_in(LFM2MOE_SOURCE_DIR "/models", path, sizeof path))
        return path;
    fprintf(stderr,
            "lfm2moe: no model given: use -m MODEL or set LFM2MOE_MODEL (no "
            "lfm2moe-demo-*.gguf found in <prefix>/share/lfm2moe/models or %s/models)\n",
            *LFM2MOE_SOURCE_DIR ? LFM2MOE_SOURCE_DIR : "the source tree");
    return NULL;
}

int gen_open(gen_opts *o, lfm2moe_model **model, lfm2moe_session **session) {
    *model = NULL;
    *session = NULL;
    const char *path = o->model ? o->model : cli_default_model();
    if (!path) return 1;
    if (o->verbose) fprintf(stderr, "lfm2moe: model %s\n", path);
    if (!(*model = cli_load_model(path))) return 1;
    if (!o->seed_set) /* a fresh seed per run, reported with -v */
        o->sp.seed = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid();
    if (o->verbose) fprintf(stderr, "lfm2moe: seed %llu\n", (unsigned long long)o->sp.seed);
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = o->threads;
    sp.n_ctx = o->n_ctx;
    if (o->threads < 0 || o->n_ctx < 0) {
        fprintf(stderr, "lfm2moe: -t and -c must not be negative\n");
        goto fail;
    }
    int st = lfm2moe_session_create(*model, &sp, session);
    if (st) {
        cli_fail("session", st);
        goto fail;
    }
    return 0;
fail:
    lfm2moe_model_free(*model);
    *model = NULL;
    return 1;
}

/* ---- Ctrl-C ------------------------------------------------------------ */
static _Atomic(lfm2moe_session *) sigint_session;

static void on_sigint(int sig) {
    (void)sig;
    lfm2moe_session *s = atomic_load(&sigint_session);
    if (s)
        lfm2moe_session_cancel(s); /* an atomic store: safe in a handler */
    else
        _exit(130);
}

void gen_sigint_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
}

void gen_sigint_target(lfm2moe_session *session) {
    atomic_store(&sigint_session, session);
}

/* ---- output ------------------------------------------------------------ */
static int view_part(void *user_data, int part, const char *piece, size_t len, int32_t token) {
    (void)token;
    gen_view *v = user_data;
    think_view_part(&v->view, part == LFM2MOE_PART_REASONING, piece, len);
    if (part == LFM2MOE_PART_ANSWER && v->answer) json_buf_append(v->answer, piece, len);
    return 0;
}

void gen_view_attach(gen_view *v, lfm2moe_generate_params *gp, int show_thinking,
                     json_buf *answer) {
    think_view_init(&v->view, stdout, show_thinking, isatty(STDOUT_FILENO));
    v->answer = answer;
    gp->callback = NULL;
    gp->part_callback = view_part;
    gp->user_data = v;
}

const char *gen_stop_name(int reason) {
    switch (reason) {
    case LFM2MOE_STOP_EOS: return "end of generation";
    case LFM2MOE_STOP_STRING: return "stop string";
    case LFM2MOE_STOP_MAX_TOKENS: return "max tokens";
    case LFM2MOE_STOP_CALLBACK: return "callback";
    case LFM2MOE_STOP_CONTEXT_FULL: return "context full";
    case LFM2MOE_STOP_CANCELLED: return "cancelled";
    default: return "none";
    }
}

static double rate(int n, double s) {
    return s > 0 ? n / s : 0.0;
}

void gen_print_timings(const lfm2moe_generate_result *r) {
    fprintf(stderr,
            "lfm2moe: prompt %d tokens (%d reused) in %.3f s (%.2f tok/s), generated %d tokens "
            "in %.3f s (%.2f tok/s), %d of them reasoning, stop: %s\n",
            r->n_prompt_tokens, r->n_prompt_reused, r->prompt_seconds,
            rate(r->n_prompt_tokens, r->prompt_seconds), r->n_generated, r->generate_seconds,
            rate(r->n_generated, r->generate_seconds), r->n_reasoning,
            gen_stop_name(r->stop_reason));
}

/* Tokens of text[0..len) (size query first); NULL on failure. */
int32_t *gen_tokenize(const lfm2moe_model *m, const char *text, size_t len, uint32_t flags,
                      size_t *n) {
    int st = lfm2moe_tokenize(m, text, len, flags, NULL, 0, n);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        cli_fail("tokenize", st);
        return NULL;
    }
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "lfm2moe: out of memory\n");
        return NULL;
    }
    if ((st = lfm2moe_tokenize(m, text, len, flags, ids, *n, n))) {
        cli_fail("tokenize", st);
        free(ids);
        return NULL;
    }
    return ids;
}

int32_t *gen_session_tokens(const lfm2moe_session *s, size_t *n) {
    lfm2moe_session_tokens(s, NULL, 0, n); /* BUFFER_TOO_SMALL with the count */
    int32_t *t = malloc((*n ? *n : 1) * sizeof *t);
    if (!t || lfm2moe_session_tokens(s, t, *n, n)) {
        free(t);
        fprintf(stderr, "lfm2moe: out of memory\n");
        return NULL;
    }
    return t;
}

int gen_session_restore(lfm2moe_session *s, const char *path) {
    if (access(path, F_OK) != 0) return 0;
    int st = lfm2moe_session_load_file(s, path);
    if (st) {
        fprintf(stderr, "lfm2moe: not using %s: %s\n", path, lfm2moe_last_error());
        return 0;
    }
    return 1;
}

int gen_session_store(const lfm2moe_session *s, const char *path) {
    int st = lfm2moe_session_save_file(s, path);
    return st ? cli_fail("save session", st) : 0;
}
