/* Perplexity over a text, computed as llama.cpp's perplexity tool does: the
 * text is tokenized once (with BOS) and cut into windows of n_ctx tokens
 * whose first token is replaced by BOS; each window is evaluated in one
 * pass, and only its second half is scored (every scored token has at
 * least n_ctx/2 tokens of context).  Used by `lfm2moe perplexity` and by
 * the tests, so both compute the same thing. */
#ifndef LFM_CLI_PERPLEXITY_H
#define LFM_CLI_PERPLEXITY_H

#include <stddef.h>

#include "lfm2moe.h"

typedef struct ppl_result {
    double ppl;      /* exp(mean negative log-likelihood) */
    double err;      /* its standard error */
    long n_scored;   /* tokens scored */
    size_t n_tokens; /* tokens of the text */
    size_t n_windows;
} ppl_result;

/* Called after each window with the running perplexity (may be NULL). */
typedef void (*ppl_progress_fn)(void *user, size_t window, double running_ppl);

/* Returns an lfm2moe status; LFM2MOE_ERR_INVALID_ARGUMENT if n_ctx < 4 or
 * the text has fewer than n_ctx tokens (lfm2moe_last_error is then not
 * set: *out->n_tokens says how many there were). */
int ppl_compute(const lfm2moe_model *model, const char *text, size_t len, int n_ctx, int n_threads,
                ppl_progress_fn progress, void *user, ppl_result *out);

#endif
