/* lfm2moe perplexity -m MODEL -f TEXT [--ctx N] [-t THREADS]
 * Perplexity over a text file computed as llama.cpp's perplexity tool does:
 * the text is tokenized once (with BOS), cut into windows of N tokens whose
 * first token is replaced by BOS, each window is evaluated in one pass, and
 * only the second half of each window is scored (every scored token has at
 * least N/2 tokens of context).  Prints the running value per window and
 * the final estimate with its standard error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
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
    int rc = 1, st;
    int32_t *tokens = NULL;
    lfm2moe_session *s = NULL;
    size_t n_tok = 0;
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    if ((st = lfm2moe_vocab_get_info(model, &vi))) {
        cli_fail("vocabulary", st);
        goto done;
    }
    st = lfm2moe_tokenize(model, text, len, LFM2MOE_TOKENIZE_ADD_BOS, NULL, 0, &n_tok);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        cli_fail("tokenize", st);
        goto done;
    }
    tokens = malloc((n_tok ? n_tok : 1) * sizeof *tokens);
    if (!tokens ||
        (st = lfm2moe_tokenize(model, text, len, LFM2MOE_TOKENIZE_ADD_BOS, tokens, n_tok, &n_tok))) {
        cli_fail("tokenize", st ? st : LFM2MOE_ERR_OUT_OF_MEMORY);
        goto done;
    }
    const size_t n_chunk = n_tok / (size_t)n_ctx;
    if (n_chunk == 0) {
        fprintf(stderr, "lfm2moe perplexity: %zu tokens, need at least %d (--ctx)\n", n_tok,
                n_ctx);
        goto done;
    }
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    if ((st = lfm2moe_session_create(model, &sp, &s))) {
        cli_fail("session", st);
        goto done;
    }
    fprintf(stderr, "%zu tokens, %zu windows of %d, scoring the second half of each\n", n_tok,
            n_chunk, n_ctx);
    double nll = 0, nll2 = 0;
    long count = 0;
    const int first = n_ctx / 2;
    for (size_t c = 0; c < n_chunk; c++) {
        int32_t *win = tokens + c * (size_t)n_ctx;
        int32_t saved = win[0];
        if (vi.bos >= 0)
            win[0] = vi.bos; /* every window starts like a document */
        lfm2moe_session_reset(s);
        st = lfm2moe_decode_step(s, win, n_ctx, LFM2MOE_DECODE_ALL_LOGITS);
        win[0] = saved;
        if (st) {
            cli_fail("decode", st);
            goto done;
        }
        for (int j = first; j < n_ctx - 1; j++) {
            const float *lg;
            lfm2moe_session_logits(s, j, &lg);
            double mx = lg[0], sum = 0;
            for (int v = 1; v < vi.n_vocab; v++)
                mx = lg[v] > mx ? lg[v] : mx;
            for (int v = 0; v < vi.n_vocab; v++)
                sum += exp(lg[v] - mx);
            double l = -(lg[win[j + 1]] - mx - log(sum));
            nll += l;
            nll2 += l * l;
            count++;
        }
        printf("[%zu]%.4f,", c + 1, exp(nll / count));
        fflush(stdout);
    }
    double mean = nll / count, var = nll2 / count - mean * mean;
    double ppl = exp(mean);
    double err = count > 1 && var > 0 ? ppl * sqrt(var / (count - 1)) : 0;
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    rc = 0;
done:
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    free(tokens);
    free(text);
    return rc;
}
