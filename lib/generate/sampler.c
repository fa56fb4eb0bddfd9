/* Token sampling with llama.cpp's semantics.
 *
 * Order of the chain (llama.cpp's common sampler: penalties, then the
 * truncation filters on the unscaled distribution, temperature last):
 *   1. penalties over the last penalty_last_n accepted tokens (all of them
 *      with -1): a token seen c >= 1 times gets
 *        logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
 *        logit -= c * frequency_penalty + presence_penalty
 *   2. logit bias (added; -inf bans a token, +inf forces it: when some logit
 *      is +inf only those tokens remain, equally likely)
 *   -- temperature <= 0 stops here: the argmax (lowest id on ties) --
 *   3. top-k: the k highest logits (ties broken by lower id)
 *   4. top-p: the smallest set of most likely tokens whose probability
 *      (softmax of the logits so far, temperature 1) reaches top_p
 *   5. min-p: tokens with p >= min_p * p_max, i.e. logit >= max + log(min_p)
 *   6. temperature: logits / temperature
 *   7. draw from the softmax with a seeded xoshiro256** generator (state
 *      seeded by splitmix64 from `seed`; a double in [0, 1) from 53 bits).
 * Every filter keeps at least one token.  All memory (O(n_vocab)) is
 * allocated at creation; sampling does not allocate.
 *
 * A grammar (lfm2moe_sampler_set_grammar) restricts the draw to the tokens
 * that keep the output a valid prefix.  The result is a draw from the
 * distribution above restricted to the valid tokens and renormalized, found
 * cheaply: draw as usual and keep the token if the grammar accepts it
 * (almost always, for a model that follows the format); otherwise check
 * the candidates that survived the filters (each one for a few, the whole
 * vocabulary's mask from the token trie for many) and draw again among the
 * valid ones, which is the same distribution.  Only when no surviving
 * candidate is valid are the invalid tokens removed (-inf) before the
 * filters, and the chain run again. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "generate/grammar/grammar.h"
#include "generate/sampler.h"
#include "lfm2moe.h"
#include "model/model.h"

struct lfm2moe_sampler {
    lfm2moe_sampling_params p; /* copy; the bias pointers point into ours */
    int32_t n_vocab;
    int32_t *bias_tok; /* [n_logit_bias] */
    float *bias_val;   /* [n_logit_bias] */
    /* penalty history: a ring of the last `window` tokens (window 0 with
     * penalty_last_n == -1: unbounded, counts only) and per-token counts */
    int32_t *ring;
    int32_t window, ring_len, ring_head;
    int32_t *count; /* [n_vocab] occurrences in the window */
    /* candidates of one sample call */
    int32_t *cid;   /* [n_vocab] */
    float *clogit;  /* [n_vocab] */
    float *work;    /* [n_vocab] penalised logits / probabilities */
    int32_t n_cand; /* candidates left by the last draw */
    uint64_t rng[4];
    const lfm2moe_model *model;
    lfm_constraint *constraint; /* attached grammar, or NULL */
    uint8_t *allowed;           /* [n_vocab] grammar mask */
};

/* Above this many surviving candidates the grammar checks them with the
 * whole-vocabulary mask rather than one by one. */
#define CHECK_ONE_BY_ONE 256

/* ---- random numbers ------------------------------------------------------ */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna) */
static uint64_t next_u64(uint64_t s[4]) {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void reseed(lfm2moe_sampler *sm) {
    uint64_t x = sm->p.seed;
    for (int i = 0; i < 4; i++)
        sm->rng[i] = splitmix64(&x);
}

/* ---- params -------------------------------------------------------------- */
LFM2MOE_API int lfm2moe_sampling_params_init(lfm2moe_sampling_params *p) {
    LFM_CHECK_ARG(p, "NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->temperature = 0.3f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->min_p = 0.15f;
    p->repeat_penalty = 1.05f;
    p->frequency_penalty = 0.0f;
    p->presence_penalty = 0.0f;
    p->penalty_last_n = 64;
    p->seed = 0;
    return LFM2MOE_OK;
}

static int check_params(const lfm2moe_sampling_params *p, int32_t n_vocab) {
    static const char fn[] = "sampling params";
    if (p->struct_size != sizeof *p)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: struct_size is %u, expected %zu (call lfm2moe_sampling_params_init)",
                        fn, p->struct_size, sizeof *p);
    if (isnan(p->temperature) || isinf(p->temperature))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: temperature %g is not finite", fn,
                        (double)p->temperature);
    if (!(p->top_p >= 0.0f) || isinf(p->top_p))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: top_p %g must be finite and >= 0", fn,
                        (double)p->top_p);
    if (isnan(p->min_p) || isinf(p->min_p))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: min_p %g is not finite", fn,
                        (double)p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: repeat_penalty %g must be finite and > 0", fn,
                        (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: frequency_penalty %g / presence_penalty %g must be finite", fn,
                        (double)p->frequency_penalty, (double)p->presence_penalty);
    if (p->penalty_last_n < -1)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: penalty_last_n %d (0 off, -1 all, else a window)", fn,
                        p->penalty_last_n);
    LFM_CHECK_ARG_IN(fn, !p->n_logit_bias || (p->logit_bias_tokens && p->logit_bias_values),
                     "%zu logit biases but a NULL token or value array", p->n_logit_bias);
    if (p->n_logit_bias > (size_t)INT32_MAX)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: %zu logit biases", fn, p->n_logit_bias);
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        if (p->logit_bias_tokens[i] < 0 || p->logit_bias_tokens[i] >= n_vocab)
            return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE,
                            "%s: logit bias %zu is for token %d, outside [0, %d)", fn, i,
                            p->logit_bias_tokens[i], n_vocab);
        if (isnan(p->logit_bias_values[i]))
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: logit bias %zu is NaN", fn, i);
    }
    return LFM2MOE_OK;
}

/* ---- create / free / reset ----------------------------------------------- */
LFM2MOE_API void lfm2moe_sampler_free(lfm2moe_sampler *sm) {
    if (!sm) return;
    free(sm->bias_tok);
    free(sm->bias_val);
    free(sm->ring);
    free(sm->count);
    free(sm->cid);
    free(sm->clogit);
    free(sm->work);
    lfm_constraint_free(sm->constraint);
    free(sm->allowed);
    free(sm);
}

LFM2MOE_API int lfm2moe_sampler_create(const lfm2moe_model *model,
                                       const lfm2moe_sampling_params *params,
                                       lfm2moe_sampler **out) {
    LFM_CHECK_ARG(out, "NULL output");
    *out = NULL;
    LFM_CHECK_ARG(model, "NULL model");
    lfm2moe_sampling_params defaults;
    if (!params) {
        lfm2moe_sampling_params_init(&defaults);
        params = &defaults;
    }
    const int32_t nv = model->hp.n_vocab;
    int st = check_params(params, nv);
    if (st) return st;
    lfm2moe_sampler *sm = calloc(1, sizeof *sm);
    if (!sm) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "lfm2moe_sampler_create: out of memory");
    sm->p = *params;
    sm->n_vocab = nv;
    size_t nb = params->n_logit_bias;
    sm->window = params->penalty_last_n > 0 ? params->penalty_last_n : 0;
    sm->bias_tok = malloc((nb ? nb : 1) * sizeof *sm->bias_tok);
    sm->bias_val = malloc((nb ? nb : 1) * sizeof *sm->bias_val);
    sm->ring = malloc((size_t)(sm->window ? sm->window : 1) * sizeof *sm->ring);
    sm->count = calloc((size_t)nv, sizeof *sm->count);
    sm->cid = malloc((size_t)nv * sizeof *sm->cid);
    sm->clogit = malloc((size_t)nv * sizeof *sm->clogit);
    sm->work = malloc((size_t)nv * sizeof *sm->work);
    if (!sm->bias_tok || !sm->bias_val || !sm->ring || !sm->count || !sm->cid || !sm->clogit ||
        !sm->work) {
        lfm2moe_sampler_free(sm);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY,
                        "lfm2moe_sampler_create: out of memory (vocab %d, window %d)", nv,
                        params->penalty_last_n);
    }
    if (nb) {
        memcpy(sm->bias_tok, params->logit_bias_tokens, nb * sizeof *sm->bias_tok);
        memcpy(sm->bias_val, params->logit_bias_values, nb * sizeof *sm->bias_val);
    }
    sm->p.logit_bias_tokens = sm->bias_tok;
    sm->p.logit_bias_values = sm->bias_val;
    reseed(sm);
    sm->model = model;
    if (params->grammar && (st = lfm2moe_sampler_set_grammar(sm, params->grammar))) {
        lfm2moe_sampler_free(sm);
        return st;
    }
    *out = sm;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_sampler_reset(lfm2moe_sampler *sm) {
    LFM_CHECK_ARG(sm, "NULL sampler");
    memset(sm->count, 0, (size_t)sm->n_vocab * sizeof *sm->count);
    sm->ring_len = 0;
    sm->ring_head = 0;
    reseed(sm);
    if (sm->constraint) lfm_constraint_reset(sm->constraint);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_sampler_set_grammar(lfm2moe_sampler *sm, const lfm2moe_grammar *g) {
    LFM_CHECK_ARG(sm, "NULL sampler");
    if (g && g->model != sm->model)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_sampler_set_grammar: the grammar was made for another model");
    lfm_constraint *c = NULL;
    if (g) {
        int st = lfm_constraint_create(g, &c);
        if (st) return st;
        if (!sm->allowed && !(sm->allowed = malloc((size_t)sm->n_vocab))) {
            lfm_constraint_free(c);
            return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY,
                            "lfm2moe_sampler_set_grammar: out of memory");
        }
    }
    lfm_constraint_free(sm->constraint);
    sm->constraint = c;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_sampler_accept(lfm2moe_sampler *sm, int32_t token) {
    LFM_CHECK_ARG(sm, "NULL sampler");
    if (token < 0 || token >= sm->n_vocab)
        return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE,
                        "lfm2moe_sampler_accept: token %d outside [0, %d)", token, sm->n_vocab);
    if (sm->constraint) {
        int st = lfm_constraint_accept(sm->constraint, token);
        if (st) return st;
    }
    return lfm_sampler_record(sm, token);
}

int lfm_sampler_record(lfm2moe_sampler *sm, int32_t token) {
    if (sm->p.penalty_last_n == 0) return LFM2MOE_OK;
    if (sm->p.penalty_last_n == -1) {
        if (sm->count[token] < INT32_MAX) sm->count[token]++;
        return LFM2MOE_OK;
    }
    if (sm->ring_len == sm->window) { /* full: the oldest token leaves the window */
        sm->count[sm->ring[sm->ring_head]]--;
        sm->ring[sm->ring_head] = token;
        sm->ring_head = (sm->ring_head + 1) % sm->window;
    } else {
        sm->ring[(sm->ring_head + sm->ring_len) % sm->window] = token;
        sm->ring_len++;
    }
    sm->count[token]++;
    return LFM2MOE_OK;
}

/* ---- the chain ----------------------------------------------------------- */
/* Order: higher logit first, then lower id (so results never depend on the
 * sort algorithm). */
static int cand_before(float la, int32_t ia, float lb, int32_t ib) {
    return la > lb || (la == lb && ia < ib);
}

static void swap_cand(int32_t *id, float *lg, int32_t a, int32_t b) {
    int32_t ti = id[a];
    id[a] = id[b];
    id[b] = ti;
    float tl = lg[a];
    lg[a] = lg[b];
    lg[b] = tl;
}

/* Hoare partition of [lo, hi) (hi - lo > 16) around the median of three;
 * returns j with every candidate of [lo, j] ordered before every one of
 * [j+1, hi), both parts non-empty (ids are unique, so the order is strict). */
static int32_t partition(int32_t *id, float *lg, int32_t lo, int32_t hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (cand_before(lg[mid], id[mid], lg[lo], id[lo])) swap_cand(id, lg, mid, lo);
    if (cand_before(lg[hi - 1], id[hi - 1], lg[lo], id[lo])) swap_cand(id, lg, hi - 1, lo);
    if (cand_before(lg[hi - 1], id[hi - 1], lg[mid], id[mid])) swap_cand(id, lg, hi - 1, mid);
    const float pl = lg[mid];
    const int32_t pi = id[mid];
    int32_t i = lo, j = hi - 1;
    for (;;) {
        while (cand_before(lg[i], id[i], pl, pi))
            i++;
        while (cand_before(pl, pi, lg[j], id[j]))
            j--;
        if (i >= j) return j;
        swap_cand(id, lg, i, j);
        i++;
        j--;
    }
}

/* Sort candidates [lo, hi) by cand_before: quicksort with insertion sort
 * for short ranges; recursion on the smaller side only. */
static void sort_cands(int32_t *id, float *lg, int32_t lo, int32_t hi) {
    while (hi - lo > 16) {
        int32_t j = partition(id, lg, lo, hi);
        if (j + 1 - lo < hi - (j + 1)) {
            sort_cands(id, lg, lo, j + 1);
            lo = j + 1;
        } else {
            sort_cands(id, lg, j + 1, hi);
            hi = j + 1;
        }
    }
    for (int32_t i = lo + 1; i < hi; i++) {
        int32_t ci = id[i];
        float cl = lg[i];
        int32_t j = i;
        while (j > lo && cand_before(cl, ci, lg[j - 1], id[j - 1])) {
            id[j] = id[j - 1];
            lg[j] = lg[j - 1];
            j--;
        }
        id[j] = ci;
        lg[j] = cl;
    }
}

/* Move the k best of candidates [0, n) to the front (in no particular
 * order): quickselect, O(n) on average. */
static void select_top(int32_t *id, float *lg, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n;
    while (hi - lo > 16) {
        if (k <= 0 || k >= hi - lo) return;
        int32_t j = partition(id, lg, lo, hi);
        int32_t left = j + 1 - lo;
        if (k <= left) {
            hi = j + 1;
        } else {
            k -= left;
            lo = j + 1;
        }
    }
    if (k > 0 && k < hi - lo) sort_cands(id, lg, lo, hi);
}

/* 6. temperature, 7. draw among id/lg[0..n) (greedy: the best). */
static int32_t pick_among(lfm2moe_sampler *sm, const int32_t *id, const float *lg, int32_t n) {
    const lfm2moe_sampling_params *p = &sm->p;
    if (p->temperature <= 0.0f) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (cand_before(lg[i], id[i], lg[best], id[best])) best = i;
        return id[best];
    }
    float mx = lg[0];
    for (int32_t i = 1; i < n; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double sum = 0.0;
    float *prob = sm->work; /* the penalised logits are no longer needed */
    for (int32_t i = 0; i < n; i++) {
        prob[i] = (float)exp((double)((lg[i] - mx) / p->temperature));
        sum += prob[i];
    }
    const double u = (double)(next_u64(sm->rng) >> 11) * 0x1.0p-53 * sum;
    double cum = 0.0;
    int32_t pick = n - 1;
    for (int32_t i = 0; i < n; i++) {
        cum += prob[i];
        if (u < cum) {
            pick = i;
            break;
        }
    }
    return id[pick];
}

/* Penalties and biases: sm->work = the adjusted logits. */
static void prepare(lfm2moe_sampler *sm, const float *logits) {
    const int32_t nv = sm->n_vocab;
    const lfm2moe_sampling_params *p = &sm->p;
    float *w = sm->work;
    memcpy(w, logits, (size_t)nv * sizeof *w);

    /* 1. penalties (only tokens in the window have a non-zero count) */
    if (p->penalty_last_n != 0 && (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f ||
                                   p->presence_penalty != 0.0f)) {
        for (int32_t t = 0; t < nv; t++) {
            int32_t c = sm->count[t];
            if (!c) continue;
            w[t] = w[t] > 0.0f ? w[t] / p->repeat_penalty : w[t] * p->repeat_penalty;
            w[t] -= (float)c * p->frequency_penalty + p->presence_penalty;
        }
    }
    /* 2. logit bias */
    for (size_t i = 0; i < p->n_logit_bias; i++)
        w[sm->bias_tok[i]] += sm->bias_val[i];
}

/* Steps 3-7 on sm->work; the surviving candidates stay in cid/clogit[0..n_cand). */
static int draw(lfm2moe_sampler *sm, int32_t *token) {
    const int32_t nv = sm->n_vocab;
    const lfm2moe_sampling_params *p = &sm->p;
    float *w = sm->work;
    /* candidates: every token with a usable logit (NaN and -inf are out) */
    int32_t *id = sm->cid;
    float *lg = sm->clogit;
    int32_t n = 0;
    int any_pos_inf = 0;
    for (int32_t t = 0; t < nv; t++) {
        float v = w[t];
        if (v != v || v == -INFINITY) continue;
        if (v == INFINITY) any_pos_inf = 1;
        id[n] = t;
        lg[n] = v;
        n++;
    }
    if (n == 0)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_sampler_sample: every logit is -inf or NaN after penalties "
                        "and biases");
    if (any_pos_inf) { /* forced tokens: only they remain, equally likely */
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (lg[i] == INFINITY) {
                id[m] = id[i];
                lg[m] = 0.0f;
                m++;
            }
        n = m;
    }

    if (p->temperature <= 0.0f) { /* greedy */
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (cand_before(lg[i], id[i], lg[best], id[best])) best = i;
        *token = id[best];
        sm->n_cand = n;
        return LFM2MOE_OK;
    }

    int sorted = 0;
    /* 3. top-k */
    if (p->top_k > 0 && p->top_k < n) {
        select_top(id, lg, n, p->top_k);
        n = p->top_k;
    }
    /* 4. top-p over the softmax of the current logits.  The kept set is
     * usually small: sort only the best 64, 256, ... candidates until their
     * mass reaches top_p (the sorted prefix is the same as a full sort's). */
    if (p->top_p < 1.0f && n > 1) {
        float mx = lg[0];
        for (int32_t i = 1; i < n; i++)
            mx = lg[i] > mx ? lg[i] : mx;
        double sum = 0.0;
        for (int32_t i = 0; i < n; i++)
            sum += exp((double)(lg[i] - mx));
        int32_t keep = n;
        for (int32_t k = 64;; k *= 4) {
            if (k >= n) k = n;
            select_top(id, lg, n, k);
            sort_cands(id, lg, 0, k);
            double cum = 0.0;
            int32_t i = 0;
            for (; i < k; i++) {
                cum += exp((double)(lg[i] - mx)) / sum;
                if (cum >= (double)p->top_p) break;
            }
            if (i < k) {
                keep = i + 1;
                break;
            }
            if (k == n) break; /* rounding: the whole mass fell short of top_p */
        }
        n = keep;
        sorted = 1;
    }
    /* 5. min-p relative to the most likely token (which always stays, even
     * with min_p > 1) */
    if (p->min_p > 0.0f && n > 1) {
        int32_t best = 0;
        if (!sorted)
            for (int32_t i = 1; i < n; i++)
                if (cand_before(lg[i], id[i], lg[best], id[best])) best = i;
        const float thr = lg[best] + logf(p->min_p);
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (lg[i] >= thr || i == best) {
                id[m] = id[i];
                lg[m] = lg[i];
                m++;
            }
        n = m;
    }
    sm->n_cand = n;
    *token = pick_among(sm, id, lg, n);
    return LFM2MOE_OK;
}

/* The grammar's share of a sample: see the header comment. */
static int constrained(lfm2moe_sampler *sm, const float *logits, int32_t *token) {
    lfm_constraint *c = sm->constraint;
    if (lfm_constraint_token_ok(c, *token)) return LFM2MOE_OK;
    int32_t *id = sm->cid, n = sm->n_cand, m = 0;
    float *lg = sm->clogit;
    int masked = 0;
    if (n <= CHECK_ONE_BY_ONE) {
        for (int32_t i = 0; i < n; i++)
            if (lfm_constraint_token_ok(c, id[i])) id[m] = id[i], lg[m] = lg[i], m++;
    } else {
        if (lfm_constraint_mask(c, sm->allowed) == 0) goto none;
        masked = 1;
        for (int32_t i = 0; i < n; i++)
            if (sm->allowed[id[i]]) id[m] = id[i], lg[m] = lg[i], m++;
    }
    if (m > 0) {
        *token = pick_among(sm, id, lg, m);
        return LFM2MOE_OK;
    }
    if (!masked && lfm_constraint_mask(c, sm->allowed) == 0) goto none;
    prepare(sm, logits);
    for (int32_t t = 0; t < sm->n_vocab; t++)
        if (!sm->allowed[t]) sm->work[t] = -INFINITY;
    int st = draw(sm, token);
    if (st == LFM2MOE_ERR_INVALID_ARGUMENT)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_sampler_sample: every token the grammar allows has a -inf or "
                        "NaN logit");
    return st;
none:
    return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                    "lfm2moe_sampler_sample: no token of the vocabulary continues the grammar "
                    "here");
}

LFM2MOE_API int lfm2moe_sampler_sample(lfm2moe_sampler *sm, const float *logits, int32_t *token) {
    LFM_CHECK_ARGS(sm && logits && token);
    prepare(sm, logits);
    int st = draw(sm, token);
    if (st || !sm->constraint) return st;
    return constrained(sm, logits, token);
}
