/* The generation loop with and without a grammar, for the constrained-
 * decoding overhead. */
#include "bench_grammar.h"

#include <time.h>

#include "cli.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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

int bench_grammar(lfm2moe_session *s, const lfm2moe_model *m, const lfm2moe_grammar *g, int n,
                  int reps, double *plain, double *with) {
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double a = 0, b = 0;
        if (gen_loop(s, m, NULL, n, (uint64_t)(r + 2), &a) ||
            gen_loop(s, m, g, n, (uint64_t)(r + 2), &b))
            return 1;
        if (r >= 0) plain[r] = a, with[r] = b;
    }
    return 0;
}
