/* lfm2moe_decode_batch: one forward pass over the tokens of several
 * sessions of one model, their rows stacked so each weight is read once for
 * all of them (forward.c runs attention and the conv per session).
 *
 * Where the work happens: on the "driver", the session with the largest
 * context (the first such).  Its scratch holds the stacked rows (in chunks
 * of its n_batch rows, a session's tokens possibly spread over two chunks,
 * which run in order), its per-thread attention scratch is large enough
 * for every session's positions because its n_ctx is the largest, and its
 * pool runs the pass.  Its logits buffer receives one row per session (the
 * output layer runs once over all the last tokens); the rows are then
 * copied to the other sessions.  No batch object: a caller (e.g. a server
 * doing continuous batching) can change the set of sessions at every call. */
#include <string.h>

#include "base/errors.h"
#include "model/forward.h"
#include "model/session.h"

typedef struct lfm2moe_session session;

/* The checks of lfm2moe_decode_step for every session, plus those of the
 * batch; nothing changes before they pass. */
static int check_batch(session *const *ss, const int32_t *const *tokens, const int32_t *n_tokens,
                       int32_t n_sessions) {
    LFM_CHECK_ARG_IN("lfm2moe_decode_batch", ss && tokens && n_tokens, "NULL argument");
    if (n_sessions < 1)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_decode_batch: n_sessions is %d",
                        n_sessions);
    for (int32_t i = 0; i < n_sessions; i++) {
        const session *s = ss[i];
        LFM_CHECK_ARG_IN("lfm2moe_decode_batch", s && tokens[i],
                         "NULL session or tokens at index %d", i);
        if (s->model != ss[0]->model)
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                            "lfm2moe_decode_batch: session %d runs another model than session 0",
                            i);
        for (int32_t j = 0; j < i; j++)
            if (ss[j] == s)
                return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                                "lfm2moe_decode_batch: sessions %d and %d are the same", j, i);
        const int32_t n = n_tokens[i];
        if (n < 1)
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                            "lfm2moe_decode_batch: n_tokens[%d] is %d", i, n);
        const int32_t n_vocab = s->model->hp.n_vocab;
        for (int32_t t = 0; t < n; t++)
            if (tokens[i][t] < 0 || tokens[i][t] >= n_vocab)
                return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE,
                                "session %d: token %d (at index %d) is outside the vocabulary "
                                "[0, %d)",
                                i, tokens[i][t], t, n_vocab);
        if (n > s->n_ctx - s->pos)
            return lfm_fail(LFM2MOE_ERR_CONTEXT_FULL,
                            "session %d: %d tokens do not fit: position %d of a %d-token context",
                            i, n, s->pos, s->n_ctx);
    }
    return LFM2MOE_OK;
}

/* The stacked rows in chunks of at most the driver's n_batch rows, in
 * session order; the logits row of session i goes to row i of the driver's
 * logits_next. */
static int run_chunks(session *drv, session *const *ss, const int32_t *const *tokens,
                      const int32_t *n_tokens, int32_t n_sessions) {
    const int64_t V = drv->model->hp.n_vocab;
    int32_t i = 0, done = 0; /* session, tokens of it already in a chunk */
    int32_t logits_row = 0;  /* sessions whose logits are computed */
    while (i < n_sessions) {
        int32_t rows = 0, n_parts = 0, ending = 0;
        while (i < n_sessions && rows < drv->n_batch) {
            const int32_t take =
                n_tokens[i] - done < drv->n_batch - rows ? n_tokens[i] - done : drv->n_batch - rows;
            const int last = done + take == n_tokens[i];
            drv->s.parts[n_parts++] = (lfm_fwd_part){.seq = ss[i],
                                                     .tokens = tokens[i] + done,
                                                     .row0 = rows,
                                                     .n = take,
                                                     .pos0 = ss[i]->pos + done,
                                                     .first_logit = last ? take - 1 : take};
            rows += take;
            ending += last;
            done += take;
            if (last) {
                i++;
                done = 0;
            }
        }
        int st = lfm_forward_chunk(drv, drv->s.parts, n_parts, rows,
                                   drv->logits_next + (size_t)logits_row * (size_t)V);
        if (st) return st;
        logits_row += ending;
    }
    return LFM2MOE_OK;
}

/* Success: every session takes its logits row, its tokens (history and
 * conv checkpoints) and its new position. */
static void commit(session *drv, int32_t drv_index, session *const *ss,
                   const int32_t *const *tokens, const int32_t *n_tokens, int32_t n_sessions) {
    const size_t row = (size_t)drv->model->hp.n_vocab * sizeof(float);
    for (int32_t i = 0; i < n_sessions; i++) {
        session *s = ss[i];
        if (s != drv)
            memcpy(s->logits_next, (const uint8_t *)drv->logits_next + (size_t)i * row, row);
    }
    /* last: the driver's row may move onto row 0, another session's */
    memmove(drv->logits_next, (const uint8_t *)drv->logits_next + (size_t)drv_index * row, row);
    for (int32_t i = 0; i < n_sessions; i++) {
        session *s = ss[i];
        float *tmp = s->logits;
        s->logits = s->logits_next;
        s->logits_next = tmp;
        memcpy(s->tokens + s->pos, tokens[i], (size_t)n_tokens[i] * sizeof(int32_t));
        lfm_session_mark_checkpoints(s, s->pos, n_tokens[i]);
        s->pos += n_tokens[i];
        s->n_logits = 1;
        s->logits_first = n_tokens[i] - 1;
        s->last_step_tokens = n_tokens[i];
    }
}

LFM2MOE_API int lfm2moe_decode_batch(lfm2moe_session *const *sessions, const int32_t *const *tokens,
                                     const int32_t *n_tokens, int32_t n_sessions) {
    int st = check_batch(sessions, tokens, n_tokens, n_sessions);
    if (st) return st;
    int32_t d = 0;
    for (int32_t i = 1; i < n_sessions; i++)
        if (sessions[i]->n_ctx > sessions[d]->n_ctx) d = i;
    session *drv = sessions[d];
    if ((st = lfm_session_reserve_logits(drv, n_sessions))) return st;
    for (int32_t i = 0; i < n_sessions; i++) {
        atomic_store(&sessions[i]->cancel, 0); /* a new call clears earlier requests */
        memcpy(sessions[i]->conv_saved, sessions[i]->conv,
               sessions[i]->conv_floats * sizeof(float));
        /* a sliding-window ring may be overwritten by a later chunk */
        if (sessions[i]->kv_saved && n_tokens[i] > sessions[i]->n_batch)
            memcpy(sessions[i]->kv_saved, sessions[i]->kv, lfm_session_kv_bytes(sessions[i]));
    }
    st = run_chunks(drv, sessions, tokens, n_tokens, n_sessions);
    if (st) {
        /* roll back: KV rows past each pos are ignored, conv states (and
         * overwritten rings) restored */
        for (int32_t i = 0; i < n_sessions; i++) {
            memcpy(sessions[i]->conv, sessions[i]->conv_saved,
                   sessions[i]->conv_floats * sizeof(float));
            if (sessions[i]->kv_saved && n_tokens[i] > sessions[i]->n_batch)
                memcpy(sessions[i]->kv, sessions[i]->kv_saved, lfm_session_kv_bytes(sessions[i]));
        }
        return st;
    }
    commit(drv, d, sessions, tokens, n_tokens, n_sessions);
    return LFM2MOE_OK;
}
