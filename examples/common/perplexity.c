#include "perplexity.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* -log softmax(logits)[token], in double. */
static double nll_of(const float *lg, int32_t n_vocab, int32_t token) {
    double mx = lg[0], sum = 0;
    for (int32_t v = 1; v < n_vocab; v++)
        mx = lg[v] > mx ? lg[v] : mx;
    for (int32_t v = 0; v < n_vocab; v++)
        sum += exp(lg[v] - mx);
    return -(lg[token] - mx - log(sum));
}

int ppl_compute(const lfm2moe_model *model, const char *text, size_t len, int n_ctx, int n_threads,
                ppl_progress_fn progress, void *user, ppl_result *out) {
    *out = (ppl_result){0};
    if (n_ctx < 4) return LFM2MOE_ERR_INVALID_ARGUMENT;
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    int st = lfm2moe_vocab_get_info(model, &vi);
    if (st) return st;
    size_t n_tok = 0;
    st = lfm2moe_tokenize(model, text, len, LFM2MOE_TOKENIZE_ADD_BOS, NULL, 0, &n_tok);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) return st;
    out->n_tokens = n_tok;
    out->n_windows = n_tok / (size_t)n_ctx;
    if (out->n_windows == 0) return LFM2MOE_ERR_INVALID_ARGUMENT;
    int32_t *tokens = malloc(n_tok * sizeof *tokens);
    if (!tokens) return LFM2MOE_ERR_OUT_OF_MEMORY;
    lfm2moe_session *s = NULL;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    st = lfm2moe_tokenize(model, text, len, LFM2MOE_TOKENIZE_ADD_BOS, tokens, n_tok, &n_tok);
    if (!st) st = lfm2moe_session_create(model, &sp, &s);
    double nll = 0, nll2 = 0;
    for (size_t c = 0; !st && c < out->n_windows; c++) {
        int32_t *win = tokens + c * (size_t)n_ctx;
        const int32_t saved = win[0];
        if (vi.bos >= 0) win[0] = vi.bos; /* every window starts like a document */
        lfm2moe_session_reset(s);
        st = lfm2moe_decode_step(s, win, n_ctx, LFM2MOE_DECODE_ALL_LOGITS);
        win[0] = saved;
        for (int j = n_ctx / 2; !st && j < n_ctx - 1; j++) {
            const float *lg;
            st = lfm2moe_session_logits(s, j, &lg);
            if (st) break;
            const double l = nll_of(lg, vi.n_vocab, win[j + 1]);
            nll += l;
            nll2 += l * l;
            out->n_scored++;
        }
        if (!st && progress) progress(user, c, exp(nll / (double)out->n_scored));
    }
    if (!st) {
        const double cnt = (double)out->n_scored, mean = nll / cnt, var = nll2 / cnt - mean * mean;
        out->ppl = exp(mean);
        out->err = cnt > 1 && var > 0 ? out->ppl * sqrt(var / (cnt - 1)) : 0;
    }
    lfm2moe_session_free(s);
    free(tokens);
    return st;
}
