/* lfm2moe_generate: prompt prefill, then sample / stream / decode one token
 * at a time until a stop condition.
 *
 * Per generated token t:  sample -> (end-of-generation token: stop, t is not
 * decoded) -> accept into the penalty history -> detokenize (whole UTF-8
 * characters) -> stop-string check and streaming (t completing a stop
 * string is not decoded) -> decode t -> callback asked to stop?
 * So the session holds every streamed token except the one that ended the
 * generation by EOS or a stop string (or whose decode was cancelled), and
 * n_prompt = 0 continues exactly where a MAX_TOKENS / CALLBACK /
 * CONTEXT_FULL generation left off.
 *
 * Stop strings: streamed text is kept in `pend` while its end could be the
 * start of a stop string; a match cuts the text there (the stop string and
 * anything after it are dropped).
 *
 * Reasoning: with <think> and </think> in the vocabulary, `part` follows
 * them; a tag token flushes everything held (so every piece has one part),
 * its own text goes to `callback` only, and the reasoning budget forces
 * </think> instead of sampling. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "model/model.h"
#include "model/session.h"
#include "generate/sampler.h"
#include "text/tokenizer.h"

/* The layout of the struct before reasoning_budget and part_callback took
 * its reserved space: the size and every old field's offset must stay. */
typedef struct generate_params_v1 {
    uint32_t struct_size;
    int32_t max_tokens;
    lfm2moe_sampling_params sampling;
    const char *const *stop_strings;
    size_t n_stop_strings;
    lfm2moe_stream_fn callback;
    void *user_data;
    uint32_t flags;
    uint32_t reserved_u32;
    uint64_t reserved[7];
} generate_params_v1;
_Static_assert(sizeof(lfm2moe_generate_params) == sizeof(generate_params_v1) &&
                   offsetof(lfm2moe_generate_params, flags) ==
                       offsetof(generate_params_v1, flags) &&
                   offsetof(lfm2moe_generate_params, reasoning_budget) ==
                       offsetof(generate_params_v1, reserved_u32) &&
                   offsetof(lfm2moe_generate_params, part_callback) ==
                       offsetof(generate_params_v1, reserved),
               "lfm2moe_generate_params keeps its layout (ABI)");
_Static_assert(sizeof(lfm2moe_generate_result) == 4 * 4 + 8 * 2 + 4 * 2 + 8 * 3 &&
                   offsetof(lfm2moe_generate_result, n_reasoning) == 4 * 4 + 8 * 2 + 4,
               "lfm2moe_generate_result keeps its layout (ABI)");

LFM2MOE_API int lfm2moe_generate_params_init(lfm2moe_generate_params *p) {
    LFM_CHECK_ARG(p, "NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->max_tokens = 256;
    p->reasoning_budget = -1;
    return lfm2moe_sampling_params_init(&p->sampling);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct gen_text {
    const lfm2moe_generate_params *gp;
    size_t *stop_len; /* [n_stops] */
    char *pend;       /* text not streamed yet */
    size_t n_pend, cap;
    int part;       /* lfm2moe_part of the text in pend */
    int cb_stopped; /* a callback returned non-zero: call them no more */
} gen_text;

/* Stream pend[0..n) and drop it from pend. */
static void emit(gen_text *g, size_t n, int32_t token) {
    if (!n) return;
    const lfm2moe_generate_params *gp = g->gp;
    if (!g->cb_stopped) {
        int stop = gp->callback && gp->callback(gp->user_data, g->pend, n, token) != 0;
        if (gp->part_callback && gp->part_callback(gp->user_data, g->part, g->pend, n, token) != 0)
            stop = 1;
        g->cb_stopped = stop;
    }
    memmove(g->pend, g->pend + n, g->n_pend - n);
    g->n_pend -= n;
}

/* Add text of `token`.  Returns 1 when a stop string matched (the text
 * before it is streamed, the rest dropped), 0 otherwise, or an error status.
 * `final`: no more text will come, hold nothing back. */
static int feed(gen_text *g, const char *s, size_t len, int32_t token, int final) {
    if (g->n_pend + len > g->cap) {
        size_t c = g->cap ? g->cap : 256;
        while (c < g->n_pend + len)
            c *= 2;
        char *b = realloc(g->pend, c);
        if (!b) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "lfm2moe_generate: out of memory");
        g->pend = b;
        g->cap = c;
    }
    if (len) memcpy(g->pend + g->n_pend, s, len);
    g->n_pend += len;

    const size_t n_stops = g->gp->n_stop_strings;
    size_t match = SIZE_MAX; /* earliest match */
    for (size_t i = 0; i < n_stops; i++) {
        const size_t sl = g->stop_len[i];
        if (!sl || sl > g->n_pend) continue;
        const char *hit = memmem(g->pend, g->n_pend, g->gp->stop_strings[i], sl);
        if (hit && (size_t)(hit - g->pend) < match) match = (size_t)(hit - g->pend);
    }
    if (match != SIZE_MAX) {
        g->n_pend = match;
        emit(g, match, token);
        return 1;
    }
    /* hold back the longest tail that is a proper prefix of a stop string */
    size_t hold = 0;
    for (size_t i = 0; i < n_stops && !final; i++) {
        const char *st = g->gp->stop_strings[i];
        size_t k = g->stop_len[i] ? g->stop_len[i] - 1 : 0;
        if (k > g->n_pend) k = g->n_pend;
        for (; k > hold; k--)
            if (!memcmp(g->pend + g->n_pend - k, st, k)) {
                hold = k;
                break;
            }
    }
    size_t cut = g->n_pend - hold;
    /* never split a UTF-8 character (a stop string starting mid-character) */
    while (cut > 0 && cut < g->n_pend && ((unsigned char)g->pend[cut] & 0xC0) == 0x80)
        cut--;
    emit(g, cut, token);
    return 0;
}

/* The part the session's current turn is in: reasoning if, after its last
 * <|im_start|> or end-of-generation token, a <think> is open. */
static int current_part(const lfm2moe_session *s, const struct lfm_vocab *v, int32_t open,
                        int32_t close) {
    const int32_t im_start = lfm_vocab_find(v, "<|im_start|>", 12);
    for (int32_t i = s->pos - 1; i >= 0; i--) {
        const int32_t t = s->tokens[i];
        if (t == open) return LFM2MOE_PART_REASONING;
        if (t == close || t == im_start || (v->attr[t] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION))
            break;
    }
    return LFM2MOE_PART_ANSWER;
}

LFM2MOE_API int lfm2moe_generate(lfm2moe_session *s, const int32_t *prompt, size_t n_prompt,
                                 const lfm2moe_generate_params *params,
                                 lfm2moe_generate_result *result) {
    static const char fn[] = "lfm2moe_generate";
    LFM_CHECK_ARG(s, "NULL session");
    LFM_CHECK_ARG(prompt || !n_prompt, "NULL prompt with n_prompt %zu", n_prompt);
    if (n_prompt > (size_t)INT32_MAX)
        return lfm_fail(LFM2MOE_ERR_CONTEXT_FULL, "%s: prompt of %zu tokens", fn, n_prompt);
    if (result && result->struct_size != sizeof *result)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: result struct_size is %u, expected %zu",
                        fn, result->struct_size, sizeof *result);
    lfm2moe_generate_params defaults;
    if (!params) {
        lfm2moe_generate_params_init(&defaults);
        params = &defaults;
    }
    if (params->struct_size != sizeof *params)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: params struct_size is %u, expected %zu (call "
                        "lfm2moe_generate_params_init)",
                        fn, params->struct_size, sizeof *params);
    LFM_CHECK_ARG(params->stop_strings || !params->n_stop_strings,
                  "%zu stop strings but a NULL array", params->n_stop_strings);
    for (size_t i = 0; i < params->n_stop_strings; i++)
        LFM_CHECK_ARG(params->stop_strings[i], "stop string %zu is NULL", i);
    const struct lfm_vocab *v = s->model->vocab;
    if (!v) return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: the model has no tokenizer", fn);
    if (params->flags & ~(uint32_t)LFM2MOE_GENERATE_REUSE_PREFIX)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, params->flags);
    const int reuse = (params->flags & LFM2MOE_GENERATE_REUSE_PREFIX) != 0;
    if (!n_prompt && s->logits_first < 0)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: no prompt and no logits to continue from (empty session)", fn);

    /* "the request is cleared when the next call starts"; from here on a
     * cancel is seen by the next decode or the loop check */
    atomic_store(&s->cancel, 0);

    lfm2moe_sampler *sm = NULL;
    lfm2moe_detokenizer *dt = NULL;
    gen_text g = {.gp = params};
    int st = lfm2moe_sampler_create(s->model, &params->sampling, &sm);
    if (st) return st;
    if ((st = lfm2moe_detokenizer_create(s->model, &dt))) goto out;
    g.stop_len = malloc((params->n_stop_strings ? params->n_stop_strings : 1) * sizeof(size_t));
    if (!g.stop_len) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        goto out;
    }
    for (size_t i = 0; i < params->n_stop_strings; i++)
        g.stop_len[i] = strlen(params->stop_strings[i]);

    int32_t reason = LFM2MOE_STOP_NONE, n_gen = 0, n_eval = 0, last = -1, kept = 0;
    int32_t n_reason = 0;
    const int32_t think_open = lfm_vocab_find(v, "<think>", 7);
    const int32_t think_close = lfm_vocab_find(v, "</think>", 8);
    const int think = think_open >= 0 && think_close >= 0;
    const double t0 = now_seconds();
    double t1 = t0;
    if (n_prompt && reuse) {
        /* keep the common prefix, but evaluate at least the last prompt
         * token: its logits start the generation */
        int32_t common = 0;
        while (common < s->pos && (size_t)common < n_prompt - 1 &&
               s->tokens[common] == prompt[common])
            common++;
        if ((st = lfm2moe_session_rewind(s, common))) goto out;
        kept = common;
        for (int32_t i = 0; i < kept; i++)
            lfm_sampler_record(sm, prompt[i]);
    }
    if (n_prompt) {
        st = lfm_session_decode(s, prompt + kept, (int32_t)n_prompt - kept, 0);
        if (st == LFM2MOE_ERR_CANCELLED) {
            st = LFM2MOE_OK;
            reason = LFM2MOE_STOP_CANCELLED;
        } else if (st) {
            goto out;
        } else {
            n_eval = (int32_t)n_prompt - kept;
            for (size_t i = (size_t)kept; i < n_prompt; i++)
                lfm_sampler_record(sm, prompt[i]);
        }
        t1 = now_seconds();
    }
    if (think) g.part = current_part(s, v, think_open, think_close);

    while (reason == LFM2MOE_STOP_NONE) {
        if (atomic_load(&s->cancel)) {
            reason = LFM2MOE_STOP_CANCELLED;
            break;
        }
        if (params->max_tokens > 0 && n_gen >= params->max_tokens) {
            reason = LFM2MOE_STOP_MAX_TOKENS;
            break;
        }
        if (s->pos >= s->n_ctx) {
            reason = LFM2MOE_STOP_CONTEXT_FULL;
            break;
        }
        const float *logits = NULL;
        int32_t tok = -1;
        if (think && g.part == LFM2MOE_PART_REASONING && params->reasoning_budget >= 0 &&
            n_reason >= params->reasoning_budget) {
            tok = think_close; /* the budget is spent */
        } else if ((st = lfm2moe_session_logits(s, -1, &logits)) ||
                   (st = lfm2moe_sampler_sample(sm, logits, &tok))) {
            goto out;
        }
        n_gen++;
        if (v->attr[tok] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) {
            reason = LFM2MOE_STOP_EOS;
            break;
        }
        if ((st = lfm2moe_sampler_accept(sm, tok))) goto out;
        const int tag = think && (tok == think_open || tok == think_close);
        const char *piece = NULL;
        size_t len = 0;
        int m = 0;
        if (tag) {
            /* release everything of the old part, then the tag's own text
             * to `callback` alone */
            if ((st = lfm2moe_detokenizer_flush(dt, &piece, &len))) goto out;
            m = feed(&g, piece, len, last, 1);
            if ((st = lfm2moe_detokenizer_push(dt, tok, &piece, &len))) goto out;
            if (m == 0 && len && params->callback && !g.cb_stopped &&
                params->callback(params->user_data, piece, len, tok) != 0)
                g.cb_stopped = 1;
            g.part = tok == think_open ? LFM2MOE_PART_REASONING : LFM2MOE_PART_ANSWER;
        } else {
            if ((st = lfm2moe_detokenizer_push(dt, tok, &piece, &len))) goto out;
            n_reason += g.part == LFM2MOE_PART_REASONING;
            m = feed(&g, piece, len, tok, 0);
        }
        last = tok; /* the last token whose text went in */
        if (m < 0) {
            st = m;
            goto out;
        }
        if (m) {
            reason = LFM2MOE_STOP_STRING;
            break;
        }
        st = lfm_session_decode(s, &tok, 1, 0);
        if (st == LFM2MOE_ERR_CANCELLED) {
            st = LFM2MOE_OK;
            reason = LFM2MOE_STOP_CANCELLED;
            break;
        }
        if (st) goto out;
        if (g.cb_stopped) reason = LFM2MOE_STOP_CALLBACK;
    }
    /* the end: stream what was held back (incomplete UTF-8, a possible
     * stop-string start), unless a stop string or the callback ended it */
    if (reason != LFM2MOE_STOP_STRING && !g.cb_stopped) {
        const char *piece = NULL;
        size_t len = 0;
        if ((st = lfm2moe_detokenizer_flush(dt, &piece, &len))) goto out;
        int m = feed(&g, piece, len, last, 1);
        if (m < 0) {
            st = m;
            goto out;
        }
    }
    st = LFM2MOE_OK;
    if (result) {
        result->stop_reason = reason;
        result->n_prompt_tokens = n_eval;
        result->n_prompt_reused = kept;
        result->n_reasoning = n_reason;
        result->n_generated = n_gen;
        result->prompt_seconds = t1 - t0;
        result->generate_seconds = now_seconds() - t1;
    }
out:
    free(g.stop_len);
    free(g.pend);
    lfm2moe_detokenizer_free(dt);
    lfm2moe_sampler_free(sm);
    return st;
}
