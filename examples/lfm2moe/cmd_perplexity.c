/* lfm2moe perplexity -m MODEL -f TEXT [--ctx N] [-t THREADS]
 * Perplexity over a text file computed as llama.cpp's perplexity tool does
 * (examples/common/perplexity.h).  Prints the running value per window and
 * the final estimate with its standard error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "perplexity.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap) break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void print_window(void *user, size_t window, double running) {
    (void)user;
    printf("[%zu]%.4f,", window + 1, running);
    fflush(stdout);
}

int cmd_perplexity(int argc, char **argv) {
    const char *path = NULL, *text_path = NULL;
    int n_ctx = 512, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-f") && i + 1 < argc)
            text_path = argv[++i];
        else if ((!strcmp(argv[i], "--ctx") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            n_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: lfm2moe perplexity -m MODEL -f TEXT [--ctx N] [-t THREADS]\n");
            return 2;
        }
    }
    if (!text_path || n_ctx < 4) {
        fprintf(stderr, "lfm2moe perplexity: -f TEXT is required and --ctx must be >= 4\n");
        return 2;
    }
    size_t len = 0;
    char *text = read_all(text_path, &len);
    if (!text) {
        fprintf(stderr, "lfm2moe perplexity: cannot read %s\n", text_path);
        return 1;
    }
    lfm2moe_model *model = cli_load_model(path);
    if (!model) {
        free(text);
        return 1;
    }
    int rc = 1;
    ppl_result r;
    int st = ppl_compute(model, text, len, n_ctx, threads, print_window, NULL, &r);
    if (st == LFM2MOE_ERR_INVALID_ARGUMENT && r.n_windows == 0 && r.n_tokens > 0) {
        fprintf(stderr, "lfm2moe perplexity: %zu tokens, need at least %d (--ctx)\n", r.n_tokens,
                n_ctx);
        goto done;
    }
    if (st) {
        cli_fail("perplexity", st);
        goto done;
    }
    fprintf(stderr, "%zu tokens, %zu windows of %d, scored the second half of each\n", r.n_tokens,
            r.n_windows, n_ctx);
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.err);
    rc = 0;
done:
    lfm2moe_model_free(model);
    free(text);
    return rc;
}
