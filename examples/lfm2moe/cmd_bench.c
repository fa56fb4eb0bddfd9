/* lfm2moe bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS]
 * Measures like llama-bench: prompt processing (pp: one batched step of p
 * tokens) and text generation (tg: n single-token steps) in tokens/s, mean
 * and standard deviation over REPS runs after one warm-up, plus the time to
 * load the model and produce the first logits, and the peak RSS. Tokens are
 * random ids: speed does not depend on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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
    int p = 512, n = 128, threads = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
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
        else {
            fprintf(stderr, "usage: lfm2moe bench -m MODEL [-p 512] [-n 128] [-t THREADS] "
                            "[-r REPS]\n");
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
    int st = lfm2moe_session_create(model, &sp, &s);
    if (st) {
        lfm2moe_model_free(model);
        return cli_fail("session", st);
    }
    int32_t *tok = malloc((size_t)(p + n + 1) * sizeof *tok);
    double *vals = malloc((size_t)reps * sizeof *vals);
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
        for (int r = -1; r < reps; r++) {
            fill_tokens(tok, n, mi.n_vocab, &seed);
            lfm2moe_session_reset(s);
            double a = now();
            for (int i = 0; i < n; i++)
                if ((st = lfm2moe_decode_step(s, tok + i, 1, 0))) {
                    cli_fail("decode", st);
                    goto done;
                }
            if (r >= 0)
                vals[r] = n / (now() - a);
        }
        char test[16];
        snprintf(test, sizeof test, "tg%d", n);
        report(name, gib, bp, n_threads, test, vals, reps);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int isa = 0;
    lfm2moe_isa_active(&isa);
    printf("\nload %.3f s, load to first token %.3f s, peak RSS %.2f GiB, kernels %s\n", t_load,
           t_first, (double)ru.ru_maxrss / (1024.0 * 1024.0), lfm2moe_isa_name(isa));
    rc = 0;
done:
    free(tok);
    free(vals);
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    return rc;
}
