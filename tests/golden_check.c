/* Golden-logits helpers of the cmocka tests (golden_check.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gld.h"
#include "golden_check.h"
#include "lfm2moe.h"

void golden_run(const char *model_path, const gld *g, int batched, int threads, int kv_type,
                int n_batch, float *logits) {
    golden_run_flags(model_path, 0, g, batched, threads, kv_type, n_batch, logits);
}

void golden_run_flags(const char *model_path, uint32_t model_flags, const gld *g, int batched,
                      int threads, int kv_type, int n_batch, float *logits) {
    lfm2moe_model *m = NULL;
    lfm2moe_model_params mp;
    lfm2moe_model_params_init(&mp);
    mp.flags = model_flags;
    int st = lfm2moe_model_load(model_path, &mp, &m);
    if (st) fail_msg("load %s: %s", model_path, lfm2moe_last_error());
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = g->n_prompt + g->n_gen;
    sp.n_threads = threads;
    sp.kv_type = kv_type;
    sp.n_batch = n_batch;
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_OK);
    int32_t n = g->n_prompt + g->n_gen, t = 0;
    while (t < n) {
        int32_t step = (batched && t == 0) ? g->n_prompt : 1;
        assert_int_equal(lfm2moe_decode_step(s, g->tokens + t, step, LFM2MOE_DECODE_ALL_LOGITS),
                         LFM2MOE_OK);
        for (int32_t i = 0; i < step; i++) {
            const float *row;
            assert_int_equal(lfm2moe_session_logits(s, i, &row), LFM2MOE_OK);
            memcpy(logits + (size_t)(t + i) * (size_t)g->n_vocab, row,
                   (size_t)g->n_vocab * sizeof(float));
        }
        t += step;
    }
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
}

golden_stats golden_compare(const gld *g, const float *logits) {
    golden_stats r = {0};
    int32_t n = g->n_prompt + g->n_gen, V = g->n_vocab;
    double sum = 0, sum2 = 0, d2 = 0;
    int agree = 0;
    for (int32_t t = 0; t < n; t++) {
        const float *a = logits + (size_t)t * V, *b = g->logits + (size_t)t * V;
        int32_t ia = 0, ib = 0;
        for (int32_t v = 0; v < V; v++) {
            double d = fabs((double)a[v] - b[v]);
            if (d > r.max_abs) r.max_abs = d;
            d2 += d * d;
            sum += b[v];
            sum2 += (double)b[v] * b[v];
            if (a[v] > a[ia]) ia = v;
            if (b[v] > b[ib]) ib = v;
        }
        agree += ia == ib;
    }
    double cnt = (double)n * V, mean = sum / cnt;
    r.rel_rms = sqrt(d2 / cnt) / sqrt(sum2 / cnt - mean * mean);
    r.argmax_agree = (double)agree / n;
    return r;
}
