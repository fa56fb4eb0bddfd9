/* Sampler through the public API, on crafted logits over the vocabulary of
 * tiny-a-f32.gguf (1024 tokens): each filter alone, penalties and biases
 * (observed through greedy choices), seeding, parameter validation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lfm2moe.h"

#define MODEL_A GOLDEN_DIR "/tiny-a-f32.gguf"
#define NV 1024

static lfm2moe_model *model;

static int setup(void **state) {
    (void)state;
    if (lfm2moe_model_load(MODEL_A, NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "load %s: %s\n", MODEL_A, lfm2moe_last_error());
        return -1;
    }
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    if (lfm2moe_model_get_info(model, &mi) || mi.n_vocab != NV) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lfm2moe_model_free(model);
    return 0;
}

/* Params with every filter and penalty off, temperature 1. */
static lfm2moe_sampling_params plain(void) {
    lfm2moe_sampling_params p;
    lfm2moe_sampling_params_init(&p);
    p.temperature = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    return p;
}

static lfm2moe_sampler *make(const lfm2moe_sampling_params *p) {
    lfm2moe_sampler *s = NULL;
    int st = lfm2moe_sampler_create(model, p, &s);
    if (st) fprintf(stderr, "sampler_create: %s\n", lfm2moe_last_error());
    assert_int_equal(st, LFM2MOE_OK);
    assert_non_null(s);
    return s;
}

static int32_t sample1(lfm2moe_sampler *s, const float *logits) {
    int32_t t = -1;
    assert_int_equal(lfm2moe_sampler_sample(s, logits, &t), LFM2MOE_OK);
    assert_true(t >= 0 && t < NV);
    return t;
}

/* Deterministic pseudo-random logits in [-4, 4). */
static void random_logits(float *l, unsigned seed) {
    uint32_t x = seed * 2654435761u + 12345u;
    for (int i = 0; i < NV; i++) {
        x = x * 1664525u + 1013904223u;
        l[i] = (float)(x >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
    }
}

/* Histogram of `n` samples. */
static void histogram(lfm2moe_sampler *s, const float *logits, int n, int *hist) {
    memset(hist, 0, NV * sizeof *hist);
    for (int i = 0; i < n; i++)
        hist[sample1(s, logits)]++;
}

static void test_defaults(void **state) {
    (void)state;
    lfm2moe_sampling_params p;
    assert_int_equal(lfm2moe_sampling_params_init(&p), LFM2MOE_OK);
    assert_int_equal(p.struct_size, sizeof p);
    assert_true(p.temperature == 0.3f && p.top_k == 0 && p.top_p == 1.0f && p.min_p == 0.15f);
    assert_true(p.repeat_penalty == 1.05f && p.penalty_last_n == 64);
    assert_true(p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f);
    assert_int_equal(p.n_logit_bias, 0);
    lfm2moe_sampler *s = NULL;
    assert_int_equal(lfm2moe_sampler_create(model, NULL, &s), LFM2MOE_OK); /* NULL = defaults */
    lfm2moe_sampler_free(s);
    lfm2moe_sampler_free(NULL);
}

static void expect_invalid(lfm2moe_sampling_params p, int status) {
    lfm2moe_sampler *s = (lfm2moe_sampler *)&p; /* must be reset to NULL */
    assert_int_equal(lfm2moe_sampler_create(model, &p, &s), status);
    assert_null(s);
    assert_true(strlen(lfm2moe_last_error()) > 0);
}

static void test_invalid_params(void **state) {
    (void)state;
    lfm2moe_sampling_params p = plain();
    p.temperature = NAN;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.top_p = -0.1f;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.top_p = NAN;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.min_p = NAN;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.repeat_penalty = 0.0f;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.repeat_penalty = -1.0f;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.frequency_penalty = INFINITY;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.presence_penalty = NAN;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.penalty_last_n = -2;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.struct_size = 8;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    p = plain();
    p.n_logit_bias = 1; /* NULL arrays */
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    int32_t bt[] = {NV};
    float bv[] = {1.0f};
    p = plain();
    p.logit_bias_tokens = bt;
    p.logit_bias_values = bv;
    p.n_logit_bias = 1;
    expect_invalid(p, LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    bt[0] = 3;
    bv[0] = NAN;
    expect_invalid(p, LFM2MOE_ERR_INVALID_ARGUMENT);
    /* negative temperature, top_k and min_p mean "off", not an error */
    p = plain();
    p.temperature = -1.0f;
    p.top_k = -5;
    p.min_p = -0.5f;
    lfm2moe_sampler *s = make(&p);
    lfm2moe_sampler_free(s);

    /* NULL arguments and bad tokens */
    s = make(NULL);
    float l[NV] = {0};
    int32_t t;
    assert_int_equal(lfm2moe_sampler_sample(s, NULL, &t), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_sampler_sample(s, l, NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_sampler_sample(NULL, l, &t), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_sampler_accept(s, -1), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_sampler_accept(s, NV), LFM2MOE_ERR_TOKEN_OUT_OF_RANGE);
    assert_int_equal(lfm2moe_sampler_accept(NULL, 1), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(lfm2moe_sampler_reset(NULL), LFM2MOE_ERR_INVALID_ARGUMENT);
    lfm2moe_sampler_free(s);
    assert_int_equal(lfm2moe_sampler_create(NULL, NULL, &s), LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_null(s);
    /* every token banned: an error, not a made-up token */
    s = make(NULL);
    for (int i = 0; i < NV; i++)
        l[i] = -INFINITY;
    assert_int_equal(lfm2moe_sampler_sample(s, l, &t), LFM2MOE_ERR_INVALID_ARGUMENT);
    l[17] = NAN;
    assert_int_equal(lfm2moe_sampler_sample(s, l, &t), LFM2MOE_ERR_INVALID_ARGUMENT);
    l[18] = -100.0f; /* the only usable logit */
    assert_int_equal(lfm2moe_sampler_sample(s, l, &t), LFM2MOE_OK);
    assert_int_equal(t, 18);
    lfm2moe_sampler_free(s);
}

static int argmax(const float *l) {
    int b = 0;
    for (int i = 1; i < NV; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void test_greedy_is_argmax(void **state) {
    (void)state;
    lfm2moe_sampling_params p = plain();
    p.temperature = 0.0f;
    p.top_k = 3; /* filters do not matter to greedy */
    p.min_p = 0.5f;
    lfm2moe_sampler *s = make(&p);
    float l[NV];
    for (unsigned k = 0; k < 50; k++) {
        random_logits(l, k);
        assert_int_equal(sample1(s, l), argmax(l));
    }
    /* ties: the lowest id */
    for (int i = 0; i < NV; i++)
        l[i] = 0.0f;
    l[700] = 1.0f;
    l[300] = 1.0f;
    assert_int_equal(sample1(s, l), 300);
    lfm2moe_sampler_free(s);
    /* a very low temperature is greedy in effect too */
    p = plain();
    p.temperature = 1e-4f;
    s = make(&p);
    random_logits(l, 99);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sample1(s, l), argmax(l));
    lfm2moe_sampler_free(s);
}

/* Logits sorted descending over ids 100.. with gaps small enough that every
 * kept token gets sampled in 4000 draws. */
static void ladder(float *l, int n) {
    for (int i = 0; i < NV; i++)
        l[i] = -30.0f;
    for (int i = 0; i < n; i++)
        l[100 + i] = -0.05f * (float)i;
}

static void test_top_k(void **state) {
    (void)state;
    float l[NV];
    int hist[NV];
    ladder(l, 20);
    const int ks[] = {1, 2, 5, 13};
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        lfm2moe_sampling_params p = plain();
        p.top_k = ks[j];
        p.seed = 7 + j;
        lfm2moe_sampler *s = make(&p);
        histogram(s, l, 4000, hist);
        int distinct = 0;
        for (int i = 0; i < NV; i++) {
            if (hist[i]) distinct++;
            if (i >= 100 && i < 100 + ks[j])
                assert_true(hist[i] > 0); /* kept */
            else
                assert_int_equal(hist[i], 0); /* dropped */
        }
        assert_int_equal(distinct, ks[j]);
        lfm2moe_sampler_free(s);
    }
    /* top_k on random logits over the whole vocabulary (quickselect path) */
    random_logits(l, 5);
    lfm2moe_sampling_params p = plain();
    p.top_k = 40;
    p.temperature = 100.0f; /* nearly uniform among the kept */
    lfm2moe_sampler *s = make(&p);
    histogram(s, l, 20000, hist);
    float sorted[NV];
    memcpy(sorted, l, sizeof sorted);
    /* the 40th largest logit */
    for (int a = 0; a < 40; a++)
        for (int b = a + 1; b < NV; b++)
            if (sorted[b] > sorted[a]) {
                float t = sorted[a];
                sorted[a] = sorted[b];
                sorted[b] = t;
            }
    int distinct = 0;
    for (int i = 0; i < NV; i++) {
        if (hist[i]) distinct++;
        assert_true(hist[i] == 0 || l[i] >= sorted[39]);
    }
    assert_int_equal(distinct, 40);
    lfm2moe_sampler_free(s);
}

/* Four tokens with probabilities 0.5, 0.3, 0.15, 0.05, the rest -inf. */
static void four(float *l) {
    for (int i = 0; i < NV; i++)
        l[i] = -INFINITY;
    l[10] = logf(0.5f);
    l[11] = logf(0.3f);
    l[12] = logf(0.15f);
    l[13] = logf(0.05f);
}

static int kept_set(const lfm2moe_sampling_params *p, const float *l) {
    lfm2moe_sampler *s = make(p);
    int hist[NV];
    histogram(s, l, 4000, hist);
    int mask = 0;
    for (int i = 0; i < NV; i++)
        if (hist[i]) {
            assert_true(i >= 10 && i <= 13);
            mask |= 1 << (i - 10);
        }
    lfm2moe_sampler_free(s);
    return mask;
}

static void test_top_p(void **state) {
    (void)state;
    float l[NV];
    four(l);
    lfm2moe_sampling_params p = plain();
    p.top_p = 0.45f;
    assert_int_equal(kept_set(&p, l), 0x1);
    p.top_p = 0.75f;
    assert_int_equal(kept_set(&p, l), 0x3);
    p.top_p = 0.9f;
    assert_int_equal(kept_set(&p, l), 0x7);
    p.top_p = 0.99f;
    assert_int_equal(kept_set(&p, l), 0xF);
    p.top_p = 0.0f; /* keeps at least one token */
    assert_int_equal(kept_set(&p, l), 0x1);
    p.top_p = 1.0f; /* off */
    assert_int_equal(kept_set(&p, l), 0xF);
    /* top-p uses the unscaled distribution: temperature does not change the set */
    p.top_p = 0.75f;
    p.temperature = 5.0f;
    assert_int_equal(kept_set(&p, l), 0x3);
}

/* top-p on 1024 random logits where the kept set has more than 64 tokens
 * (the sampler widens its partial sort), against a reference computed here. */
static void test_top_p_wide(void **state) {
    (void)state;
    float l[NV];
    random_logits(l, 77);
    int order[NV];
    for (int i = 0; i < NV; i++)
        order[i] = i;
    for (int i = 1; i < NV; i++) { /* insertion sort, logits descending */
        int v = order[i], j = i;
        while (j > 0 && l[order[j - 1]] < l[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    double sum = 0.0;
    for (int i = 0; i < NV; i++)
        sum += exp((double)l[i] - (double)l[order[0]]);
    const float tp = 0.6f;
    double cum = 0.0;
    int keep = 0;
    while (keep < NV) {
        cum += exp((double)l[order[keep]] - (double)l[order[0]]) / sum;
        keep++;
        if (cum >= tp) break;
    }
    assert_true(keep > 64 && keep < 400);
    lfm2moe_sampling_params p = plain();
    p.top_p = tp;
    p.temperature = 1000.0f; /* after top-p: near uniform over the kept set */
    lfm2moe_sampler *s = make(&p);
    static int hist[NV];
    histogram(s, l, 40000, hist);
    for (int r = 0; r < NV; r++) {
        if (r < keep)
            assert_true(hist[order[r]] > 0);
        else
            assert_int_equal(hist[order[r]], 0);
    }
    lfm2moe_sampler_free(s);
}

static void test_min_p(void **state) {
    (void)state;
    float l[NV];
    four(l); /* relative to the max: 1, 0.6, 0.3, 0.1 */
    lfm2moe_sampling_params p = plain();
    p.min_p = 0.2f;
    assert_int_equal(kept_set(&p, l), 0x7);
    p.min_p = 0.5f;
    assert_int_equal(kept_set(&p, l), 0x3);
    p.min_p = 0.05f;
    assert_int_equal(kept_set(&p, l), 0xF);
    p.min_p = 0.7f;
    assert_int_equal(kept_set(&p, l), 0x1);
    p.min_p = 2.0f; /* above the max: the best token stays */
    assert_int_equal(kept_set(&p, l), 0x1);
    /* relative to the max, not absolute: shift every logit */
    for (int i = 10; i <= 13; i++)
        l[i] += 50.0f;
    p.min_p = 0.2f;
    assert_int_equal(kept_set(&p, l), 0x7);
}

static void test_temperature_distribution(void **state) {
    (void)state;
    /* two tokens, logits 0 and -ln 3: p = 3/4, 1/4 at T=1; at T=0.5: 9/10 */
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = -INFINITY;
    l[1] = 0.0f;
    l[2] = -logf(3.0f);
    int hist[NV];
    lfm2moe_sampling_params p = plain();
    lfm2moe_sampler *s = make(&p);
    histogram(s, l, 20000, hist);
    assert_true(fabs(hist[1] / 20000.0 - 0.75) < 0.02);
    lfm2moe_sampler_free(s);
    p.temperature = 0.5f;
    s = make(&p);
    histogram(s, l, 20000, hist);
    assert_true(fabs(hist[1] / 20000.0 - 0.9) < 0.015);
    lfm2moe_sampler_free(s);
}

/* Greedy choice among 5: 2.0, 6: 1.9, 7: 1.8 (others -10) after accepting `hist`. */
static int32_t greedy_after(lfm2moe_sampling_params p, const int32_t *hist, int n, float base) {
    p.temperature = 0.0f;
    lfm2moe_sampler *s = make(&p);
    for (int i = 0; i < n; i++)
        assert_int_equal(lfm2moe_sampler_accept(s, hist[i]), 0);
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = -10.0f;
    l[5] = base;
    l[6] = base - 0.1f;
    l[7] = base - 0.2f;
    int32_t t = sample1(s, l);
    lfm2moe_sampler_free(s);
    return t;
}

static void test_penalties(void **state) {
    (void)state;
    const int32_t five[] = {5}, five2[] = {5, 5}, other[] = {100, 200, 7};
    lfm2moe_sampling_params p = plain();
    /* repeat penalty, positive logit: 2.0 / 1.1 = 1.82 < 1.9; / 1.04 = 1.92 */
    p.repeat_penalty = 1.1f;
    assert_int_equal(greedy_after(p, five, 1, 2.0f), 6);
    p.repeat_penalty = 1.04f;
    assert_int_equal(greedy_after(p, five, 1, 2.0f), 5);
    /* negative logit multiplied: -1.0 * 1.2 = -1.2 < -1.1 (divided it would win) */
    p.repeat_penalty = 1.2f;
    assert_int_equal(greedy_after(p, five, 1, -1.0f), 6);
    p.repeat_penalty = 1.04f;
    assert_int_equal(greedy_after(p, five, 1, -1.0f), 5);
    /* the repeat penalty ignores counts; other tokens are untouched (6 still
     * beats 7; penalising 7 changes nothing) */
    p.repeat_penalty = 1.1f;
    assert_int_equal(greedy_after(p, five2, 2, 2.0f), 6);
    assert_int_equal(greedy_after(p, other, 3, 2.0f), 5);
    /* frequency: count times the penalty: 2.0 - 2 * 0.06 = 1.88 < 1.9 */
    p = plain();
    p.frequency_penalty = 0.06f;
    assert_int_equal(greedy_after(p, five2, 2, 2.0f), 6);
    assert_int_equal(greedy_after(p, five, 1, 2.0f), 5);
    p.frequency_penalty = -1.0f; /* negative encourages */
    assert_int_equal(greedy_after(p, (const int32_t[]){7}, 1, 2.0f), 7);
    /* presence: once, whatever the count */
    p = plain();
    p.presence_penalty = 0.11f;
    assert_int_equal(greedy_after(p, five, 1, 2.0f), 6);
    p.presence_penalty = 0.09f;
    assert_int_equal(greedy_after(p, five2, 2, 2.0f), 5);
    /* window: 5 left the last-2 window */
    p = plain();
    p.repeat_penalty = 1.5f;
    p.penalty_last_n = 2;
    assert_int_equal(greedy_after(p, (const int32_t[]){5, 100, 200}, 3, 2.0f), 5);
    assert_int_equal(greedy_after(p, (const int32_t[]){100, 5, 200}, 3, 2.0f), 6);
    /* ring wrap-around with counts: 5 twice then out, in again */
    assert_int_equal(greedy_after(p, (const int32_t[]){5, 5, 1, 2, 3, 5}, 6, 2.0f), 6);
    assert_int_equal(greedy_after(p, (const int32_t[]){5, 5, 1, 2, 3, 4}, 6, 2.0f), 5);
    p.penalty_last_n = 0; /* off */
    assert_int_equal(greedy_after(p, five, 1, 2.0f), 5);
    p.penalty_last_n = -1; /* all */
    int32_t longh[300];
    for (int i = 0; i < 300; i++)
        longh[i] = i == 0 ? 5 : 100;
    assert_int_equal(greedy_after(p, longh, 300, 2.0f), 6);
    p.penalty_last_n = 64;
    assert_int_equal(greedy_after(p, longh, 300, 2.0f), 5);
    /* reset clears the history */
    p = plain();
    p.repeat_penalty = 1.5f;
    p.temperature = 0.0f;
    lfm2moe_sampler *s = make(&p);
    lfm2moe_sampler_accept(s, 5);
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = -10.0f;
    l[5] = 2.0f;
    l[6] = 1.9f;
    assert_int_equal(sample1(s, l), 6);
    assert_int_equal(lfm2moe_sampler_reset(s), LFM2MOE_OK);
    assert_int_equal(sample1(s, l), 5);
    lfm2moe_sampler_free(s);
}

static void test_logit_bias(void **state) {
    (void)state;
    int32_t bt[2] = {6, 5};
    float bv[2] = {0.25f, 0.0f};
    lfm2moe_sampling_params p = plain();
    p.logit_bias_tokens = bt;
    p.logit_bias_values = bv;
    p.n_logit_bias = 1;
    assert_int_equal(greedy_after(p, NULL, 0, 2.0f), 6); /* 1.9 + 0.25 > 2.0 */
    bv[0] = -INFINITY;                                   /* ban */
    assert_int_equal(greedy_after(p, NULL, 0, 2.0f), 5);
    bt[0] = 5;
    assert_int_equal(greedy_after(p, NULL, 0, 2.0f), 6);
    /* the arrays are copied at create */
    p.temperature = 0.0f;
    lfm2moe_sampler *s = make(&p);
    bt[0] = 6;
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = -10.0f;
    l[5] = 2.0f;
    l[6] = 1.9f;
    assert_int_equal(sample1(s, l), 6);
    lfm2moe_sampler_free(s);
    /* +inf forces a token even at temperature; two forced tokens share */
    bt[0] = 900;
    bt[1] = 901;
    bv[0] = INFINITY;
    bv[1] = INFINITY;
    p = plain();
    p.logit_bias_tokens = bt;
    p.logit_bias_values = bv;
    p.n_logit_bias = 1;
    s = make(&p);
    int hist[NV];
    random_logits(l, 3);
    histogram(s, l, 500, hist);
    assert_int_equal(hist[900], 500);
    lfm2moe_sampler_free(s);
    p.n_logit_bias = 2;
    s = make(&p);
    histogram(s, l, 2000, hist);
    assert_int_equal(hist[900] + hist[901], 2000);
    assert_true(hist[900] > 800 && hist[901] > 800);
    lfm2moe_sampler_free(s);
    /* bias applies after the penalties: a penalised token can be rescued */
    bt[0] = 5;
    bv[0] = 1.6f;
    p = plain();
    p.repeat_penalty = 2.0f;
    p.logit_bias_tokens = bt;
    p.logit_bias_values = bv;
    p.n_logit_bias = 1;
    /* 2/2 + 1.6 = 2.6 > 1.9 (bias first would give (2 + 1.6)/2 = 1.8) */
    assert_int_equal(greedy_after(p, (const int32_t[]){5}, 1, 2.0f), 5);
}

static void sequence(uint64_t seed, int32_t *out, int n, int reset_half) {
    lfm2moe_sampling_params p;
    lfm2moe_sampling_params_init(&p); /* defaults: min-p and penalties on */
    p.temperature = 1.5f;
    p.min_p = 0.02f;
    p.seed = seed;
    lfm2moe_sampler *s = make(&p);
    float l[NV];
    for (int i = 0; i < n; i++) {
        if (reset_half && i == n / 2) lfm2moe_sampler_reset(s);
        random_logits(l, reset_half && i >= n / 2 ? (unsigned)(i - n / 2) : (unsigned)i);
        out[i] = sample1(s, l);
        lfm2moe_sampler_accept(s, out[i]);
    }
    lfm2moe_sampler_free(s);
}

static void test_seeds(void **state) {
    (void)state;
    enum { N = 200 };
    int32_t a[N], b[N], c[N], d[N];
    sequence(1234, a, N, 0);
    sequence(1234, b, N, 0);
    sequence(1235, c, N, 0);
    assert_memory_equal(a, b, sizeof a);
    int diff = 0;
    for (int i = 0; i < N; i++)
        diff += a[i] != c[i];
    assert_true(diff > N / 4);
    /* reset reseeds: the second half repeats the first */
    sequence(99, d, N, 1);
    assert_memory_equal(d, d + N / 2, sizeof(int32_t) * (N / 2));
    /* seed 0 is an ordinary seed */
    sequence(0, a, N, 0);
    sequence(0, b, N, 0);
    assert_memory_equal(a, b, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_top_p_wide),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_temperature_distribution),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_seeds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
