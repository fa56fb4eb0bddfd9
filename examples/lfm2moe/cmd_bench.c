/* lfm2moe bench -m MODEL [-p 512] [-n 128] [-d 0[,4096...]] [-t THREADS] [-r REPS] [--bw]
 *               [--parallel N[,N...]] [--rewind] [--repack]
 * Measures like llama-bench: prompt processing (pp: one batched step of p
 * tokens) and text generation (tg: n single-token steps) in tokens/s, each
 * after DEPTH tokens of context (-d; prefilled untimed before every run, as
 * llama-bench does), plus the time to load the model and produce the first
 * logits, and the peak RSS.  The median of REPS runs after one warm-up is
 * reported with the spread: min-max and its half-width relative to the
 * median.  Tokens are random ids: speed does not depend on them.
 * --parallel replaces tg by the aggregate decode speed of N sequences
 * decoded together (bench_parallel.c).
 *
 * Decode reads every weight a token uses once, so its speed is bounded by
 * memory bandwidth, which on shared machines changes from minute to
 * minute.  --bw measures the machine's read bandwidth with the same number
 * of threads right before each tg run and reports the tg runs' weight
 * traffic (GB/s) as a share of it.
 *
 * --repack loads with LFM2MOE_MODEL_REPACK (weights rewritten at load into
 * the layout the kernels stream fastest).
 *
 * --rewind adds the time of lfm2moe_session_rewind after p tokens: its worst
 * case (interval - 1 tokens re-evaluated) and a rewind to a checkpoint.
 *
 * --grammar FILE / --json-schema FILE / --tools FILE add gen<n> (the
 * generation loop: sample, accept, decode) and gen<n>+grammar (the same,
 * constrained) and the overhead between them (bench_grammar.c). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_grammar.h"
#include "bench_parallel.h"
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
        if (lfm2moe_model_tensor_info(m, i, &ti)) continue;
        if (!strcmp(ti.name, "output.weight")) tied = 0;
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
static volatile uint64_t bw_sink;        /* keeps the reads alive */

/* Read bandwidth in GB/s of `threads` threads, each reading its part of
 * buf[BW_WORDS]; the best of 3 passes. */
static double measure_read_bw(const uint64_t *buf, int threads) {
    enum { MAX_T = 256 };
    if (threads < 1 || threads > MAX_T) return 0;
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
            if (t > 0 && !joined[t]) bw_read(&parts[t]);
        }
        bw_read(&parts[0]);
        for (int t = 1; t < threads; t++)
            if (joined[t]) pthread_join(tid[t], NULL);
        double gbs = (double)(per * (size_t)threads * 8) / (now() - a) / 1e9;
        if (gbs > best) best = gbs;
        for (int t = 0; t < threads; t++)
            bw_sink ^= parts[t].sum;
    }
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(const double *v, int n) {
    double s[64];
    n = n < 64 ? n : 64;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void report(const char *model_desc, double gib, double bparams, int threads,
                   const char *test, const double *v, int reps) {
    double lo = v[0], hi = v[0];
    for (int i = 1; i < reps; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    const double med = median_of(v, reps);
    char spread[48];
    snprintf(spread, sizeof spread, "%.2f-%.2f (±%.1f%%)", lo, hi,
             med > 0 ? 50.0 * (hi - lo) / med : 0.0);
    printf("| %-28s | %8.2f GiB | %7.2f B | %7d | %-14s | %9.2f | %-26s |\n", model_desc, gib,
           bparams, threads, test, med, spread);
    fflush(stdout);
}

/* Fills the context with depth random tokens (untimed). */
static int prefill_depth(lfm2moe_session *s, int32_t *tok, int depth, int32_t n_vocab,
                         uint32_t *seed) {
    lfm2moe_session_reset(s);
    if (depth == 0) return 0;
    fill_tokens(tok, depth, n_vocab, seed);
    int st = lfm2moe_decode_step(s, tok, depth, 0);
    return st ? cli_fail("decode", st) : 0;
}

static void test_name(char *out, size_t size, const char *kind, int n, int depth) {
    if (depth > 0)
        snprintf(out, size, "%s%d @ d%d", kind, n, depth);
    else
        snprintf(out, size, "%s%d", kind, n);
}

/* -d 0,4096,...: up to 16 depths, each >= 0 */
static int parse_depths(const char *arg, int *d, int max) {
    int n = 0;
    for (const char *c = arg; *c && n < max;) {
        char *end;
        long v = strtol(c, &end, 10);
        if (end == c || v < 0 || v > (1 << 24) || (*end && *end != ',')) return 0;
        d[n++] = (int)v;
        c = *end ? end + 1 : end;
    }
    return n;
}

/* tg at one depth: per run, fill the context, then n timed steps; with
 * bw_buf, the machine's read bandwidth measured right before each run.
 * The warm-up (r = -1) runs from an empty context, as llama-bench's does:
 * a long context's fill, untimed, would only double a run's time. */
static int run_tg(lfm2moe_session *s, int32_t *tok, int n, int depth, int reps, int32_t n_vocab,
                  uint32_t *seed, const uint64_t *bw_buf, int n_threads, double *vals,
                  double *bw_machine) {
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        if (prefill_depth(s, tok, r < 0 ? 0 : depth, n_vocab, seed)) return 1;
        fill_tokens(tok, n, n_vocab, seed);
        if (bw_buf && r >= 0) bw_machine[r] = measure_read_bw(bw_buf, n_threads);
        double a = now();
        for (int i = 0; i < n; i++) {
            int st = lfm2moe_decode_step(s, tok + i, 1, 0);
            if (st) return cli_fail("decode", st);
        }
        if (r >= 0) vals[r] = n / (now() - a);
    }
    return 0;
}

static int run_pp(lfm2moe_session *s, int32_t *tok, int p, int depth, int reps, int32_t n_vocab,
                  uint32_t *seed, double *vals) {
    for (int r = -1; r < reps; r++) { /* the warm-up as run_tg's */
        if (prefill_depth(s, tok, r < 0 ? 0 : depth, n_vocab, seed)) return 1;
        fill_tokens(tok, p, n_vocab, seed);
        double a = now();
        int st = lfm2moe_decode_step(s, tok, p, 0);
        if (st) return cli_fail("decode", st);
        if (r >= 0) vals[r] = p / (now() - a);
    }
    return 0;
}

/* --parallel: one table row per count (median aggregate tok/s), then each
 * count's speed relative to the first count's: the median of the
 * per-repetition ratios (the runs of a repetition are neighbours in time). */
static int report_parallel(lfm2moe_model *model, const lfm2moe_model_info *mi, const char *name,
                           double gib, double bp, int n_threads, const int *counts, int n_counts,
                           int n, int threads, int reps) {
    double *tps = malloc(2 * (size_t)n_counts * (size_t)reps * sizeof *tps);
    if (!tps) return cli_fail("bench --parallel", LFM2MOE_ERR_OUT_OF_MEMORY);
    double *cpu_ms = tps + n_counts * reps;
    int st = bench_parallel(model, mi->n_vocab, counts, n_counts, n, threads, reps, tps, cpu_ms);
    if (st) {
        free(tps);
        return cli_fail("bench --parallel", st);
    }
    for (int c = 0; c < n_counts; c++) {
        char test[32];
        snprintf(test, sizeof test, "tg%d x%d seq", n, counts[c]);
        report(name, gib, bp, n_threads, test, tps + c * reps, reps);
    }
    printf("aggregate decode relative to %d sequence%s (median of per-run ratios, runs "
           "interleaved):",
           counts[0], counts[0] > 1 ? "s" : "");
    for (int c = 0; c < n_counts; c++) {
        double ratio[64];
        for (int r = 0; r < reps; r++)
            ratio[r] = tps[c * reps + r] / tps[r];
        printf(" x%d %.2f%s", counts[c], median_of(ratio, reps), c + 1 < n_counts ? "," : "\n");
    }
    /* CPU time is what a loaded machine does not take away: the work per step */
    printf("process CPU time per step (median):");
    for (int c = 0; c < n_counts; c++)
        printf(" x%d %.1f ms%s", counts[c], median_of(cpu_ms + c * reps, reps),
               c + 1 < n_counts ? "," : "\n");
    free(tps);
    return 0;
}

/* --rewind: after p tokens of context, the time of lfm2moe_session_rewind
 * to the position with the most tokens to re-evaluate (interval - 1, from
 * the checkpoint below it), and to a checkpoint (nothing to re-evaluate);
 * the token is decoded again, untimed, between runs. */
static int bench_rewind(lfm2moe_model *model, int32_t n_vocab, int p, int threads, int reps) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = threads;
    sp.n_ctx = p + 1;
    lfm2moe_session *s = NULL;
    int st = lfm2moe_session_create(model, &sp, &s);
    if (st) return cli_fail("session", st);
    const int K = 64; /* the default checkpoint interval */
    int32_t *tok = malloc((size_t)p * sizeof *tok);
    double *worst = malloc((size_t)reps * sizeof *worst),
           *best = malloc((size_t)reps * sizeof *best);
    uint32_t seed = 7;
    const int target = (p - 1) / K * K + K - 1 < p ? (p - 1) / K * K + K - 1 : (p - 1) / K * K - 1;
    const int at_ckpt = (p - 1) / K * K;
    int rc = 1;
    if (!tok || !worst || !best || target < K - 1 || p < K) {
        fprintf(stderr, "lfm2moe bench: --rewind needs -p >= %d\n", K);
        goto done;
    }
    fill_tokens(tok, p, n_vocab, &seed);
    if ((st = lfm2moe_decode_step(s, tok, p, 0))) {
        cli_fail("decode", st);
        goto done;
    }
    for (int r = -1; r < reps; r++) {
        const int to[2] = {target, at_ckpt};
        for (int k = 0; k < 2; k++) {
            double a = now();
            if ((st = lfm2moe_session_rewind(s, to[k]))) {
                cli_fail("rewind", st);
                goto done;
            }
            double ms = 1e3 * (now() - a);
            if (r >= 0) (k ? best : worst)[r] = ms;
            if ((st = lfm2moe_decode_step(s, tok + to[k], p - to[k], 0))) {
                cli_fail("decode", st);
                goto done;
            }
        }
    }
    double wmin = worst[0], wmax = worst[0], bmax = best[0], wsum = 0, bsum = 0;
    for (int r = 0; r < reps; r++) {
        wmin = worst[r] < wmin ? worst[r] : wmin;
        wmax = worst[r] > wmax ? worst[r] : wmax;
        bmax = best[r] > bmax ? best[r] : bmax;
        wsum += worst[r];
        bsum += best[r];
    }
    printf("\nrewind from %d to %d (%d tokens re-evaluated, the worst case of interval %d): "
           "mean %.1f ms (min %.1f, max %.1f); to the checkpoint at %d: mean %.3f ms (max %.3f)\n",
           p, target, target % K, K, wsum / reps, wmin, wmax, at_ckpt, bsum / reps, bmax);
    rc = 0;
done:
    free(tok);
    free(worst);
    free(best);
    lfm2moe_session_free(s);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *path = NULL;
    int p = 512, n = 128, threads = 0, reps = 3, bw = 0, depths[16] = {0}, n_depths = 1, rewind = 0;
    uint32_t load_flags = 0;
    int counts[16], n_counts = 0, bad_counts = 0;
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
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            n_depths = parse_depths(argv[++i], depths, 16);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bw"))
            bw = 1;
        else if (!strcmp(argv[i], "--rewind"))
            rewind = 1;
        else if (!strcmp(argv[i], "--repack"))
            load_flags |= LFM2MOE_MODEL_REPACK;
        else if (!strcmp(argv[i], "--parallel") && i + 1 < argc) {
            n_counts = parse_depths(argv[++i], counts, 16);
            for (int c = 0; c < n_counts; c++)
                bad_counts |= counts[c] < 1 || counts[c] > BENCH_PAR_MAX;
        } else {
            fprintf(stderr,
                    "usage: lfm2moe bench -m MODEL [-p 512] [-n 128] [-d DEPTH[,DEPTH...]] "
                    "[-t THREADS] [-r REPS] [--bw] [--parallel N[,N...]] [--rewind] [--repack]\n"
                    "       [--grammar FILE | --json-schema FILE | --tools FILE]\n");
            return 2;
        }
    }
    if (bad_counts) {
        fprintf(stderr, "lfm2moe bench: --parallel takes counts from 1 to %d\n", BENCH_PAR_MAX);
        return 2;
    }
    if (p < 0 || n < 0 || reps < 1 || reps > 64 || (p == 0 && n == 0) || n_depths < 1) {
        fprintf(stderr, "lfm2moe bench: need -p or -n > 0, 1 <= -r <= 64, -d N[,N...] >= 0\n");
        return 2;
    }
    int max_depth = 0;
    for (int i = 0; i < n_depths; i++)
        max_depth = depths[i] > max_depth ? depths[i] : max_depth;
    double t0 = now();
    lfm2moe_model *model = cli_load_model_flags(path, load_flags);
    if (!model) return 1;
    double t_load = now() - t0;
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    lfm2moe_model_get_info(model, &mi);
    char name[128] = "", ftype[32] = "";
    lfm2moe_model_meta_string(model, "general.file_type", ftype, sizeof ftype, NULL);
    const char *ft = lfm2moe_ftype_name(atoi(ftype));
    const char *arch = "?";
    lfm2moe_model_architecture(model, &arch);
    snprintf(name, sizeof name, "%.16s %dx%d %s", arch, mi.n_block, mi.n_embd, ft ? ft : "?");

    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = threads;
    sp.n_ctx = max_depth + (p > n ? p : n) + 1;
    sp.n_batch = p > 0 ? p : 512;
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
    const int max_tok = max_depth > p + n ? max_depth : p + n;
    int32_t *tok = malloc((size_t)(max_tok + 1) * sizeof *tok);
    double *vals = malloc((size_t)reps * sizeof *vals);
    double *bw_machine = malloc((size_t)reps * sizeof *bw_machine); /* --bw: GB/s per tg run */
    uint64_t *bw_buf = NULL;
    uint32_t seed = 42;
    int rc = 1;
    if (!tok || !vals || !bw_machine) goto done;
    /* load to first token: one decode of one token after the load */
    fill_tokens(tok, 1, mi.n_vocab, &seed);
    if ((st = lfm2moe_decode_step(s, tok, 1, 0))) {
        cli_fail("decode", st);
        goto done;
    }
    double t_first = now() - t0;
    if (bw && n > 0) {
        if (!(bw_buf = malloc(BW_WORDS * 8))) {
            fprintf(stderr, "lfm2moe bench: no memory for --bw\n");
            goto done;
        }
        for (size_t i = 0; i < BW_WORDS; i++)
            bw_buf[i] = i;
    }
    int n_threads = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("| %-28s | %12s | %9s | %7s | %-14s | %9s | %-26s |\n", "model", "size", "params",
           "threads", "test", "t/s (med)", "spread (min-max)");
    printf("|------------------------------|--------------|-----------|---------|----------------|"
           "-----------|----------------------------|\n");
    const double gib = (double)mi.file_size / (1 << 30), bp = (double)mi.n_params / 1e9;
    const double gb = weight_bytes_per_token(model, &mi) / 1e9;
    char test[32];
    for (int di = 0; di < n_depths; di++) {
        const int d = depths[di];
        if (p > 0) {
            if (run_pp(s, tok, p, d, reps, mi.n_vocab, &seed, vals)) goto done;
            test_name(test, sizeof test, "pp", p, d);
            report(name, gib, bp, n_threads, test, vals, reps);
        }
        if (n > 0 && n_counts == 0) {
            if (run_tg(s, tok, n, d, reps, mi.n_vocab, &seed, bw_buf, n_threads, vals, bw_machine))
                goto done;
            test_name(test, sizeof test, "tg", n, d);
            report(name, gib, bp, n_threads, test, vals, reps);
            if (bw_buf) {
                /* per run: weight traffic / the bandwidth measured just before */
                double share[64];
                for (int r = 0; r < reps; r++)
                    share[r] = vals[r] * gb / bw_machine[r];
                printf("bw %s: %.3f GB of weights per token, %.1f GB/s; machine read bandwidth "
                       "(threads: %d, measured before each run) %.1f GB/s; share %.0f%%\n",
                       test, gb, median_of(vals, reps) * gb, n_threads, median_of(bw_machine, reps),
                       100.0 * median_of(share, reps));
            }
        }
    }
    if (rewind && bench_rewind(model, mi.n_vocab, p, threads, reps)) goto done;
    if (n > 0 && n_counts > 0 &&
        report_parallel(model, &mi, name, gib, bp, n_threads, counts, n_counts, n, threads, reps))
        goto done;
    if (grammar && n > 0) { /* gen<n>: the generation loop, +g: with the grammar */
        double with[64];
        if (bench_grammar(s, model, grammar, n, reps, vals, with)) goto done;
        test_name(test, sizeof test, "gen", n, 0);
        report(name, gib, bp, n_threads, test, vals, reps);
        snprintf(test, sizeof test, "gen%d+grammar", n);
        report(name, gib, bp, n_threads, test, with, reps);
        const double a = median_of(vals, reps), b = median_of(with, reps);
        printf("grammar: %.2f ms per token, %.1f%% fewer tokens/s than without (medians)\n",
               1e3 * (1.0 / b - 1.0 / a), 100.0 * (1.0 - b / a));
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int isa = 0;
    lfm2moe_isa_active(&isa);
    printf("\nload %.3f s, load to first token %.3f s, peak RSS %.2f GiB%s, kernels %s\n", t_load,
           t_first, (double)ru.ru_maxrss / (1024.0 * 1024.0),
           bw_buf ? " (1 GiB of it the --bw buffer)" : "", lfm2moe_isa_name(isa));
    rc = 0;
done:
    free(bw_buf);
    free(tok);
    free(vals);
    free(bw_machine);
    lfm2moe_grammar_free(grammar);
    gen_structured_close(&so);
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    return rc;
}
