/* A grammar attached to a sampler: which tokens may come next, and the
 * state after each accepted one.
 *
 * End-of-generation tokens (EOS, <|im_end|>) are allowed only where the
 * language may end.  A lazy grammar (tool calls in "auto" mode) lets every
 * token through until its trigger token (<|tool_call_start|>) is accepted,
 * then constrains the output until the language is complete (the block's
 * end marker), then lets everything through again; with ban_trigger
 * ("none") the trigger itself is refused and the rest is free. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "generate/grammar/grammar.h"
#include "model/model.h"
#include "text/tokenizer.h"

struct lfm_constraint {
    const struct lfm2moe_grammar *g;
    const struct lfm_vocab *v;
    lfm_matcher *m;
    gm_state *scratch;
    int active; /* the grammar applies (always, unless lazy) */
};

int lfm_constraint_create(const struct lfm2moe_grammar *g, lfm_constraint **out) {
    *out = NULL;
    lfm_constraint *c = calloc(1, sizeof *c);
    if (!c) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    c->g = g;
    c->v = g->model->vocab;
    c->scratch = malloc(((size_t)lfm_token_trie_max_depth(g->trie) + 1) * sizeof *c->scratch);
    int st = c->scratch ? lfm_matcher_create(g->cg, &c->m)
                        : lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    if (st) {
        lfm_constraint_free(c);
        return st;
    }
    c->active = !g->lazy;
    *out = c;
    return 0;
}

void lfm_constraint_free(lfm_constraint *c) {
    if (!c) return;
    lfm_matcher_free(c->m);
    free(c->scratch);
    free(c);
}

void lfm_constraint_reset(lfm_constraint *c) {
    lfm_matcher_reset(c->m);
    c->active = !c->g->lazy;
}

/* The state after `token`, GM_DEAD if not allowed (active grammar only). */
static gm_state after(lfm_constraint *c, int32_t token) {
    gm_state s = lfm_matcher_state(c->m);
    if (c->v->attr[token] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) {
        if (!lfm_matcher_can_end(c->m, s)) s.set = GM_DEAD;
        return s;
    }
    size_t len;
    const char *p = lfm_vocab_piece(c->v, token, &len);
    return lfm_token_advance(c->m, s, p, len);
}

int lfm_constraint_token_ok(lfm_constraint *c, int32_t token) {
    if (!c->active) return !(c->g->ban_trigger && token == c->g->trigger);
    return after(c, token).set != GM_DEAD;
}

int32_t lfm_constraint_mask(lfm_constraint *c, uint8_t *allowed) {
    const int32_t nv = c->v->n_vocab;
    int32_t n = 0;
    if (!c->active) {
        memset(allowed, 1, (size_t)nv);
        if (c->g->ban_trigger && c->g->trigger >= 0) allowed[c->g->trigger] = 0;
        return nv - (c->g->ban_trigger && c->g->trigger >= 0);
    }
    memset(allowed, 0, (size_t)nv);
    gm_state s = lfm_matcher_state(c->m);
    lfm_token_mask(c->g->trie, c->m, s, allowed, c->scratch);
    int end_ok = lfm_matcher_can_end(c->m, s);
    for (int32_t t = 0; t < nv; t++) {
        if (c->v->attr[t] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) allowed[t] = (uint8_t)end_ok;
        n += allowed[t];
    }
    return n;
}

int lfm_constraint_accept(lfm_constraint *c, int32_t token) {
    if (!c->active) {
        if (c->g->ban_trigger && token == c->g->trigger)
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                            "grammar: token %d (the tool-call start) is not allowed (tool "
                            "choice none)",
                            token);
        if (c->g->lazy && token == c->g->trigger) {
            lfm_matcher_reset(c->m);
            c->active = 1;
        }
        return 0;
    }
    gm_state s = after(c, token);
    if (s.set == GM_DEAD)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "grammar: token %d does not continue the output validly%s", token,
                        lfm_matcher_limit_hit(c->m) ? " (a grammar limit was reached)" : "");
    if (c->v->attr[token] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) return 0;
    lfm_matcher_set_state(c->m, s);
    if (c->g->lazy && lfm_matcher_only_end(c->m, s)) c->active = 0; /* block complete */
    return lfm_matcher_maintain(c->m);
}
