/* Slots over liblfm2moe sessions (engine.h). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot_state {
    lfm2moe_session *session;
    int32_t *tokens; /* what the session holds, in order */
    int32_t n;
} slot_state;

struct engine {
    int n_slots;
    int32_t n_ctx;
    slot_state *slots;
    int max_items; /* arguments of lfm2moe_decode_batch, one per slot */
    lfm2moe_session **batch_sessions;
    const int32_t **batch_tokens;
    int32_t *batch_n;
};

int engine_open(const lfm2moe_model *model, int n_slots, int n_ctx, int n_threads, engine **out) {
    *out = NULL;
    engine *e = calloc(1, sizeof *e);
    if (!e || !(e->slots = calloc((size_t)n_slots, sizeof *e->slots)) ||
        !(e->batch_sessions = calloc((size_t)n_slots, sizeof *e->batch_sessions)) ||
        !(e->batch_tokens = calloc((size_t)n_slots, sizeof *e->batch_tokens)) ||
        !(e->batch_n = calloc((size_t)n_slots, sizeof *e->batch_n))) {
        engine_close(e);
        return LFM2MOE_ERR_OUT_OF_MEMORY;
    }
    e->max_items = n_slots;
    e->n_slots = n_slots;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    for (int i = 0; i < n_slots; i++) {
        int st = lfm2moe_session_create(model, &sp, &e->slots[i].session);
        if (!st && i == 0) lfm2moe_session_context_length(e->slots[0].session, &e->n_ctx);
        /* the history holds a full context */
        if (!st && !(e->slots[i].tokens = malloc(sizeof(int32_t) * (size_t)e->n_ctx)))
            st = LFM2MOE_ERR_OUT_OF_MEMORY;
        if (st) {
            engine_close(e);
            return st;
        }
    }
    *out = e;
    return LFM2MOE_OK;
}

void engine_close(engine *e) {
    if (!e) return;
    for (int i = 0; i < e->n_slots && e->slots; i++) {
        lfm2moe_session_free(e->slots[i].session);
        free(e->slots[i].tokens);
    }
    free(e->slots);
    free(e->batch_sessions);
    free(e->batch_tokens);
    free(e->batch_n);
    free(e);
}

int32_t engine_n_ctx(const engine *e) {
    return e->n_ctx;
}

int32_t engine_reusable(const engine *e, int slot, const int32_t *prompt, int32_t n) {
    const slot_state *s = &e->slots[slot];
    int32_t k = 0;
    while (k < s->n && k < n && s->tokens[k] == prompt[k])
        k++;
    /* one prompt token must remain to be evaluated, for the next logits */
    return k < n ? k : n - 1;
}

int engine_prepare(engine *e, int slot, const int32_t *prompt, int32_t n, int32_t *n_keep) {
    slot_state *s = &e->slots[slot];
    int32_t k = engine_reusable(e, slot, prompt, n);
    if (k < s->n) { /* keep the common prefix, drop the rest */
        int st = k ? lfm2moe_session_rewind(s->session, k) : lfm2moe_session_reset(s->session);
        if (st) return st;
        s->n = k;
    }
    *n_keep = k;
    return LFM2MOE_OK;
}

void engine_step(engine *e, const engine_item *items, int n_items, int *status) {
    if (n_items > e->max_items) return; /* not reached: the scheduler passes <= n_slots */
    for (int i = 0; i < n_items; i++) {
        e->batch_sessions[i] = e->slots[items[i].slot].session;
        e->batch_tokens[i] = items[i].tokens;
        e->batch_n[i] = items[i].n_tokens;
    }
    /* one pass for all; it is all-or-nothing, so after a failure (a context
     * full, a cancelled slot) each slot runs alone to learn its own outcome */
    int st = n_items ? lfm2moe_decode_batch(e->batch_sessions, e->batch_tokens, e->batch_n, n_items)
                     : LFM2MOE_OK;
    for (int i = 0; i < n_items; i++) {
        slot_state *s = &e->slots[items[i].slot];
        status[i] = st == LFM2MOE_OK
                        ? LFM2MOE_OK
                        : lfm2moe_decode_step(s->session, items[i].tokens, items[i].n_tokens, 0);
        if (status[i] == LFM2MOE_OK) {
            memcpy(s->tokens + s->n, items[i].tokens, sizeof(int32_t) * (size_t)items[i].n_tokens);
            s->n += items[i].n_tokens;
        }
    }
}

const float *engine_logits(const engine *e, int slot) {
    const float *l = NULL;
    return lfm2moe_session_logits(e->slots[slot].session, -1, &l) ? NULL : l;
}

int32_t engine_position(const engine *e, int slot) {
    return e->slots[slot].n;
}

void engine_cancel(engine *e, int slot) {
    lfm2moe_session_cancel(e->slots[slot].session);
}
