/* lfm2moe bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--bw]
 * Measures like llama-bench: prompt processing (pp: one batched step of p
 * tokens) and text generation (tg: n single-token steps) in tokens/s, mean
 * and standard deviation over REPS runs after one warm-up, plus the time to
 * load the model and produce the first logits, and the peak RSS. Tokens are
 * random ids: speed does not depend on them.
 *
 * Decode reads every weight a token uses once, so its speed is bounded by
 * memory bandwidth, which on shared machines changes from minute to
 * minute.  --bw measures the machine's read bandwidth with the same number
 * of threads right before each tg run and reports the tg runs' weight
 * traffic (GB/s) as a share of it.
 *
 * --grammar FILE / --json-schema FILE / --tools FILE add two rows: gen<n>,
 * n tokens of the generation loop (sample with the library's default
 * sampling, accept, decode) without a grammar, and gen<n>+g, the same with
 * the grammar (restarted whenever it completes), then the overhead. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gen_structured.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill_tokens(int32_t *t, int n, int32_t n_vocab, uint32_t *seed) {
    for (int i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        t[i] = (int32_t)((*seed >> 8) % (uint32_t)n_vocab);
    }
}

/* Bytes of weights one decoded token reads: every tensor once, except
 * that of the expert tensors only n_expert_used of n_expert matrices are
 * read, and of the token embedding one row (but all of it again as the
 * output head when there is no separate output.weight). */
static double weight_bytes_per_token(const lfm2moe_model *m, const lfm2moe_model_info *mi) {
    double total = 0;
    int tied = 1;
    uint64_t embd = 0;
    for (uint64_t i = 0; i < mi->n_tensors; i++) {
        lfm2moe_tensor_info ti = {.struct_size = sizeof ti};
        if (lfm2moe_model_tensor_info(m, i, &ti))
            continue;
        if (!strcmp(ti.name, "output.weight"))
            tied = 0;
        if (!strcmp(ti.name, "token_embd.weight"))
            embd = ti.size;
        else if (strstr(ti.name, "_exps") && mi->n_expert > 0)
            total += (double)ti.size * mi->n_expert_used / mi->n_expert;
        else
            total += (double)ti.size;
    }
    return total + (tied ? (double)embd : 0.0) + (double)embd / (mi->n_vocab > 0 ? mi->n_vocab : 1);
}

typedef struct bw_part {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_part;

static void *bw_read(void *arg) {
    bw_part *b = arg;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= b->n; i += 4) {
        a0 ^= b->p[i];
        a1 ^= b->p[i + 1];
        a2 ^= b->p[i + 2];
        a3 ^= b->p[i + 3];
    }
    b->sum = a0 ^ a1 ^ a2 ^ a3;
    return NULL;
}

#define BW_WORDS (((size_t)1 << 30) / 8) /* 1 GiB: far larger than any cache */
static volatile uint64_t bw_sink;          /* keeps the reads alive */

/* Read bandwidth in GB/s of `threads` threads, each reading its part of
 * buf[BW_WORDS]; the best of 3 passes. */
static double measure_read_bw(const uint64_t *buf, int threads) {
    enum { MAX_T = 256 };
    if (threads < 1 || threads > MAX_T)
        return 0;
    const size_t per = BW_WORDS / (size_t)threads;
    bw_part parts[MAX_T];
    pthread_t tid[MAX_T];
    int joined[MAX_T];
    double best = 0;
    for (int pass = 0; pass < 3; pass++) {
        double a = now();
        for (int t = 0; t < threads; t++) {
            parts[t] = (bw_part){buf + per * (size_t)t, per, 0};
            /* a thread that cannot start reads on this one */
            joined[t] = t > 0 && pthread_create(&tid[t], NULL, bw_read, &parts[t]) == 0;
            if (t > 0 && !joined[t])
                bw_read(&parts[t]);
        }
        bw_read(&parts[0]);
        for (int t = 1; t < threads; t++)
            if (joined[t])
                pthread_join(tid[t], NULL);
        double gbs = (double)(per * (size_t)threads * 8) / (now() - a) / 1e9;
        if (gbs > best)
            best = gbs;
        for (int t = 0; t < threads; t++)
            bw_sink ^= parts[t].sum;
    }
    return best;
}

/* n tokens of sample + accept + decode from a fresh session, tokens/s. */
static int gen_loop(lfm2moe_session *s, const lfm2moe_model *m, const lfm2moe_grammar *g, int n,
                    uint64_t seed, double *tps) {
    lfm2moe_sampling_params sp;
    lfm2moe_sampling_params_init(&sp);
    sp.seed = seed;
    sp.grammar = g;
    lfm2moe_sampler *sm = NULL;
    int st = lfm2moe_sampler_create(m, &sp, &sm);
    if (st) return cli_fail("sampler", st);
    lfm2moe_session_reset(s);
    int32_t tok = 0;
    st = lfm2moe_decode_step(s, &tok, 1, 0);
    double a = now();
    for (int i = 0; i < n && !st; i++) {
        const float *logits = NULL;
        uint32_t attr = 0;
        if ((st = lfm2moe_session_logits(s, -1, &logits)) ||
            (st = lfm2moe_sampler_sample(sm, logits, &tok)))
            break;
        lfm2moe_token_attr(m, tok, &attr);
        if (attr & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION)
            st = lfm2moe_sampler_reset(sm); /* the grammar starts again */
        else
            st = lfm2moe_sampler_accept(sm, tok);
        if (!st) st = lfm2moe_decode_step(s, &tok, 1, 0);
    }
    *tps = n / (now() - a);
    lfm2moe_sampler_free(sm);
    return st ? cli_fail("generation", st) : 0;
}

static void report(const char *model_desc, double gib, double bparams, int threads,
                   const char *test, const double *v, int reps) {
    double mean = 0, var = 0;
    for (int i = 0; i < reps; i++)
        mean += v[i];
    mean /= reps;
    for (int i = 0; i < reps; i++)
        var += (v[i] - mean) * (v[i] - mean);
    double sd = reps > 1 ? sqrt(var / (reps - 1)) : 0;
    printf("| %-28s | %8.2f GiB | %7.2f B | %7d | %-6s | %9.2f ± %6.2f |\n", model_desc, gib,
           bparams, threads, test, mean, sd);
}

int cmd_bench(int argc, char **argv) {
    const char *path = NULL;
    int p = 512, n = 128, threads = 0, reps = 3, bw = 0;
    gen_structured so = {0};
    for (int i = 1; i < argc; i++) {
        int r = gen_structured_opt(&so, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            p = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bw"))
            bw = 1;
        else {
            fprintf(stderr, "usage: lfm2moe bench -m MODEL [-p 512] [-n 128] [-t THREADS] "
                            "[-r REPS] [--bw] [--grammar FILE | --json-schema FILE | --tools FILE]\n");
            return 2;
        }
    }
    if (p < 0 || n < 0 || reps < 1 || (p == 0 && n == 0)) {
        fprintf(stderr, "lfm2moe bench: need -p or -n > 0 and -r >= 1\n");
        return 2;
    }
    double t0 = now();
    lfm2moe_model *model = cli_load_model(path);
    if (!model)
        return 1;
    double t_load = now() - t0;
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    lfm2moe_model_get_info(model, &mi);
    char name[128] = "", ftype[32] = "";
    lfm2moe_model_meta_string(model, "general.file_type", ftype, sizeof ftype, NULL);
    const char *ft = lfm2moe_ftype_name(atoi(ftype));
    snprintf(name, sizeof name, "lfm2moe %dx%d %s", mi.n_block, mi.n_embd, ft ? ft : "?");

    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = threads;
    sp.n_ctx = (p > 0 ? p : 1) + n + 1;
    sp.n_batch = p > 0 ? p : 1;
    lfm2moe_session *s = NULL;
    lfm2moe_grammar *grammar = NULL;
    int st = lfm2moe_session_create(model, &sp, &s);
    if (st) {
        lfm2moe_model_free(model);
        return cli_fail("session", st);
    }
    if (gen_structured_open(&so, model, &grammar)) {
        lfm2moe_session_free(s);
        lfm2moe_model_free(model);
        return 1;
    }
    int32_t *tok = malloc((size_t)(p + n + 1) * sizeof *tok);
    double *vals = malloc((size_t)reps * sizeof *vals);
    double *bw_machine = NULL; /* --bw: GB/s before each tg run */
    uint32_t seed = 42;
    int rc = 1;
    if (!tok || !vals)
        goto done;
    /* load to first token: one decode of one token after the load */
    fill_tokens(tok, 1, mi.n_vocab, &seed);
    if ((st = lfm2moe_decode_step(s, tok, 1, 0))) {
        cli_fail("decode", st);
        goto done;
    }
    double t_first = now() - t0;
    int n_threads = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("| %-28s | %12s | %9s | %7s | %-6s | %18s |\n", "model", "size", "params", "threads",
           "test", "t/s");
    printf("|------------------------------|--------------|-----------|---------|--------|--------------------|\n");
    const double gib = (double)mi.file_size / (1 << 30), bp = (double)mi.n_params / 1e9;
    if (p > 0) {
        for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
            fill_tokens(tok, p, mi.n_vocab, &seed);
            lfm2moe_session_reset(s);
            double a = now();
            if ((st = lfm2moe_decode_step(s, tok, p, 0))) {
                cli_fail("decode", st);
                goto done;
            }
            if (r >= 0)
                vals[r] = p / (now() - a);
        }
        char test[16];
        snprintf(test, sizeof test, "pp%d", p);
        report(name, gib, bp, n_threads, test, vals, reps);
    }
    if (n > 0) {
        uint64_t *bw_buf = NULL;
        if (bw) {
            double *machine = malloc((size_t)reps * sizeof *machine);
            bw_buf = malloc(BW_WORDS * 8);
            if (!bw_buf || !machine) {
                free(machine);
                free(bw_buf);
                fprintf(stderr, "lfm2moe bench: no memory for --bw\n");
                goto done;
            }
            for (size_t i = 0; i < BW_WORDS; i++)
                bw_buf[i] = i;
            bw_machine = machine;
        }
        for (int r = -1; r < reps; r++) {
            fill_tokens(tok, n, mi.n_vocab, &seed);
            lfm2moe_session_reset(s);
            if (bw && r >= 0)
                bw_machine[r] = measure_read_bw(bw_buf, n_threads);
            double a = now();
            for (int i = 0; i < n; i++)
                if ((st = lfm2moe_decode_step(s, tok + i, 1, 0))) {
                    free(bw_buf);
                    cli_fail("decode", st);
                    goto done;
                }
            if (r >= 0)
                vals[r] = n / (now() - a);
        }
        free(bw_buf);
        char test[16];
        snprintf(test, sizeof test, "tg%d", n);
        report(name, gib, bp, n_threads, test, vals, reps);
        if (bw) {
            /* per run: weight traffic / the bandwidth measured just before */
            const double gb = weight_bytes_per_token(model, &mi) / 1e9;
            double traffic = 0, machine = 0, share = 0;
            for (int r = 0; r < reps; r++) {
                traffic += vals[r] * gb / reps;
                machine += bw_machine[r] / reps;
                share += vals[r] * gb / bw_machine[r] / reps;
            }
            printf("\ntg: %.3f GB of weights per token, %.1f GB/s; machine read bandwidth "
                   "(threads: %d, measured before each run) %.1f GB/s; share %.0f%%\n",
                   gb, traffic, n_threads, machine, 100.0 * share);
        }
    }
    if (grammar && n > 0) {
        double *with = malloc((size_t)reps * sizeof *with);
        if (!with) goto done;
        for (int r = -1; r < reps; r++) { /* interleaved, so both see the same machine */
            double a = 0, b = 0;
            if (gen_loop(s, model, NULL, n, (uint64_t)(r + 1), &a) ||
                gen_loop(s, model, grammar, n, (uint64_t)(r + 1), &b)) {
                free(with);
                goto done;
            }
            if (r >= 0) vals[r] = a, with[r] = b;
        }
        char test[24];
        snprintf(test, sizeof test, "gen%d", n);
        report(name, gib, bp, n_threads, test, vals, reps);
        snprintf(test, sizeof test, "gen%d+g", n);
        report(name, gib, bp, n_threads, test, with, reps);
        double ma = 0, mb = 0;
        for (int r = 0; r < reps; r++) ma += vals[r] / reps, mb += with[r] / reps;
        printf("\ngrammar: %.2f ms per token, %.1f%% fewer tokens/s than unconstrained\n",
               1e3 * (1.0 / mb - 1.0 / ma), 100.0 * (1.0 - mb / ma));
        free(with);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int isa = 0;
    lfm2moe_isa_active(&isa);
    printf("\nload %.3f s, load to first token %.3f s, peak RSS %.2f GiB%s, kernels %s\n",
           t_load, t_first, (double)ru.ru_maxrss / (1024.0 * 1024.0),
           bw && n > 0 ? " (1 GiB of it the --bw buffer)" : "", lfm2moe_isa_name(isa));
    rc = 0;
done:
    free(tok);
    free(vals);
    free(bw_machine);
    lfm2moe_grammar_free(grammar);
    gen_structured_close(&so);
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    return rc;
}
