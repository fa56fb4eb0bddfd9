/* Slots, queue and the scheduler thread (scheduler.h). */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

static const char tool_marker[] = "<|tool_call_start|>";

typedef struct slot {
    job *j;         /* NULL: free */
    int32_t n_eval; /* prompt tokens the session holds */
    int generating; /* the prompt is in: sample, then decode `next` */
    int32_t next;
    lfm2moe_sampler *sm;
    lfm2moe_detokenizer *dt;
    char *pend; /* text held back: it may be the start of a stop string */
    size_t n_pend, cap;
    int tool_mode;   /* a tool call started: the rest is not content */
    size_t tool_off; /* where, in job->raw */
    int thinking;    /* inside <think> ... </think>: text is reasoning */
    uint64_t last_used;
} slot;

struct scheduler {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    engine *e;
    const lfm2moe_model *model;
    sched_params p;
    metrics *m;
    slot *slots;
    job **queue; /* ring of q_cap: waiting for a slot */
    int q_head, q_len, q_cap;
    int stopping;
    double deadline; /* stopping: cancel what still runs after this */
    uint64_t tick;
    int32_t think_open, think_close; /* <think> / </think> tokens; -1: the model has none */
};

static void slot_release(scheduler *s, slot *sl) {
    lfm2moe_sampler_free(sl->sm);
    lfm2moe_detokenizer_free(sl->dt);
    free(sl->pend);
    job *j = sl->j;
    pthread_mutex_lock(&s->mu);
    memset(sl, 0, sizeof *sl);
    sl->last_used = ++s->tick;
    atomic_fetch_sub(&s->m->busy_slots, 1);
    pthread_mutex_unlock(&s->mu);
    job_release(j);
}

/* End the slot's job and free the slot. */
static void slot_finish(scheduler *s, slot *sl, job_finish f, const char *error) {
    job *j = sl->j;
    if (f == FINISH_STOP || f == FINISH_LENGTH) {
        if (sl->tool_mode) {
            /* a well-formed call ends the turn with tool_calls; otherwise the
             * held-back text was content after all */
            lfm2moe_tool_calls *calls = NULL;
            size_t n = 0;
            if (!lfm2moe_tool_calls_parse(j->raw.data + sl->tool_off, j->raw.len - sl->tool_off,
                                          &calls))
                lfm2moe_tool_calls_count(calls, &n);
            lfm2moe_tool_calls_free(calls);
            if (n) {
                f = FINISH_TOOL_CALLS;
                j->tool_off = sl->tool_off;
            } else {
                job_append(j, 0, j->raw.data + sl->tool_off, j->raw.len - sl->tool_off, NULL, 0);
            }
        }
    }
    metrics *m = s->m;
    atomic_fetch_add(&m->generations, 1);
    if (j->t_first > 0)
        atomic_fetch_add(&m->ttft_us_sum, (unsigned long long)((j->t_first - j->t_submit) * 1e6));
    atomic_fetch_add(&m->duration_us_sum,
                     (unsigned long long)((now_seconds() - j->t_submit) * 1e6));
    job_finish_with(j, f, error);
    slot_release(s, sl);
}

/* Text shown to the client (and all content, for the tool-call parser). */
static void show(slot *sl, const char *t, size_t n) {
    job *j = sl->j;
    if (sl->thinking) {
        job_append(j, 1, t, n, NULL, 0);
        return;
    }
    const char *mk =
        !sl->tool_mode && j->req.tools ? memmem(t, n, tool_marker, sizeof tool_marker - 1) : NULL;
    size_t shown = sl->tool_mode ? 0 : mk ? (size_t)(mk - t) : n;
    job_append(j, 0, t, shown, t, shown);
    if (shown == n) return;
    if (mk) { /* a tool call starts: the rest is held back */
        sl->tool_mode = 1;
        sl->tool_off = j->raw.len; /* raw is written by this thread only */
    }
    job_append(j, 0, NULL, 0, t + shown, n - shown);
}

/* max(hold, the length of the longest proper prefix of s[0..len) that ends
 * p[0..n)): text that may be the start of s. */
static size_t held(const char *p, size_t n, const char *s, size_t len, size_t hold) {
    for (size_t k = len - 1 < n ? len - 1 : n; k > hold; k--)
        if (!memcmp(p + n - k, s, k)) return k;
    return hold;
}

/* Add generated text; returns 1 when a stop string matched (the text before
 * it is shown, the rest dropped).  `final`: hold nothing back.  Text that
 * may start a stop string, or the tool-call marker (which a vocabulary
 * without the marker token spells in several pieces), waits for the next. */
static int feed(slot *sl, const char *t, size_t n, int final) {
    if (!n && !sl->n_pend) return 0; /* nothing to show (pend may not exist yet) */
    if (sl->n_pend + n > sl->cap) {
        size_t c = sl->cap ? sl->cap * 2 : 256;
        while (c < sl->n_pend + n)
            c *= 2;
        char *p = realloc(sl->pend, c);
        if (!p) return -1;
        sl->pend = p;
        sl->cap = c;
    }
    if (n) memcpy(sl->pend + sl->n_pend, t, n);
    sl->n_pend += n;
    const request *r = &sl->j->req;
    size_t match = SIZE_MAX, hold = 0;
    for (size_t i = 0; i < r->n_stops; i++) {
        const char *hit = memmem(sl->pend, sl->n_pend, r->stops[i], strlen(r->stops[i]));
        if (hit && (size_t)(hit - sl->pend) < match) match = (size_t)(hit - sl->pend);
    }
    if (match != SIZE_MAX) {
        show(sl, sl->pend, match);
        sl->n_pend = 0;
        return 1;
    }
    for (size_t i = 0; i < r->n_stops && !final; i++)
        hold = held(sl->pend, sl->n_pend, r->stops[i], strlen(r->stops[i]), hold);
    if (r->tools && !sl->tool_mode && !final)
        hold = held(sl->pend, sl->n_pend, tool_marker, sizeof tool_marker - 1, hold);
    size_t cut = sl->n_pend - hold;
    while (cut > 0 && cut < sl->n_pend && ((unsigned char)sl->pend[cut] & 0xC0) == 0x80)
        cut--;
    show(sl, sl->pend, cut);
    memmove(sl->pend, sl->pend + cut, sl->n_pend - cut);
    sl->n_pend -= cut;
    return 0;
}

/* The end of a generation that was not cut by a stop string: flush what the
 * detokenizer and the stop-string filter held back. */
static void finish_flushed(scheduler *s, slot *sl, job_finish f) {
    const char *piece = NULL;
    size_t len = 0;
    lfm2moe_detokenizer_flush(sl->dt, &piece, &len);
    feed(sl, piece, len, 1);
    slot_finish(s, sl, f, NULL);
}

/* A <think> / </think> token of a chat answer: it switches between
 * reasoning and content and is not shown itself. */
static int think_tag(const scheduler *s, const slot *sl, int32_t tok) {
    return sl->j->req.kind == REQ_CHAT && s->think_open >= 0 && s->think_close >= 0 &&
           (tok == s->think_open || tok == s->think_close);
}

/* After a step: sample the slot's next token and route its text. */
static void sample_next(scheduler *s, slot *sl) {
    job *j = sl->j;
    const float *logits = engine_logits(s->e, (int)(sl - s->slots));
    int32_t tok = -1;
    int st = logits ? lfm2moe_sampler_sample(sl->sm, logits, &tok) : LFM2MOE_ERR_INTERNAL;
    if (st) {
        slot_finish(s, sl, FINISH_ERROR, lfm2moe_last_error());
        return;
    }
    if (!j->t_first) j->t_first = now_seconds();
    j->n_generated++;
    atomic_fetch_add(&s->m->generated_tokens, 1);
    uint32_t attr = 0;
    lfm2moe_token_attr(s->model, tok, &attr);
    if (attr & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) {
        finish_flushed(s, sl, FINISH_STOP);
        return;
    }
    /* with a grammar attached, this also advances it */
    if (lfm2moe_sampler_accept(sl->sm, tok)) {
        slot_finish(s, sl, FINISH_ERROR, lfm2moe_last_error());
        return;
    }
    const char *piece = NULL;
    size_t len = 0;
    int m;
    if (think_tag(s, sl, tok)) { /* what came before goes to the channel it belongs to */
        lfm2moe_detokenizer_flush(sl->dt, &piece, &len);
        m = feed(sl, piece, len, 1);
        sl->thinking = tok == s->think_open;
    } else {
        lfm2moe_detokenizer_push(sl->dt, tok, &piece, &len);
        m = feed(sl, piece, len, 0);
    }
    if (m) {
        slot_finish(s, sl, m > 0 ? FINISH_STOP : FINISH_ERROR, m > 0 ? NULL : "out of memory");
        return;
    }
    if ((j->req.max_tokens > 0 && j->n_generated >= j->req.max_tokens) ||
        engine_position(s->e, (int)(sl - s->slots)) >= engine_n_ctx(s->e)) {
        finish_flushed(s, sl, FINISH_LENGTH);
        return;
    }
    sl->next = tok;
}

/* A step's outcome for one slot. */
static void after_step(scheduler *s, slot *sl, int32_t n_fed, int st) {
    job *j = sl->j;
    if (st == LFM2MOE_ERR_CANCELLED || atomic_load(&j->cancel)) {
        slot_finish(s, sl, FINISH_CANCELLED, NULL);
        return;
    }
    if (st == LFM2MOE_ERR_CONTEXT_FULL) {
        finish_flushed(s, sl, FINISH_LENGTH);
        return;
    }
    if (st) {
        slot_finish(s, sl, FINISH_ERROR, lfm2moe_last_error());
        return;
    }
    if (!sl->generating) {
        sl->n_eval += n_fed;
        atomic_fetch_add(&s->m->prompt_tokens, (unsigned long long)n_fed);
        if (sl->n_eval < j->n_prompt) return;
        sl->generating = 1;
    }
    sample_next(s, sl);
}

/* Start job j on a free slot (called with mu held). */
static void admit(scheduler *s, job *j) {
    slot *best = NULL;
    int32_t best_keep = -1;
    for (int i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->j) continue;
        int32_t k = engine_reusable(s->e, i, j->prompt, j->n_prompt);
        if (k > best_keep || (k == best_keep && sl->last_used < best->last_used)) {
            best = sl;
            best_keep = k;
        }
    }
    int32_t keep = 0;
    int st = engine_prepare(s->e, (int)(best - s->slots), j->prompt, j->n_prompt, &keep);
    if (!st) st = lfm2moe_sampler_create(s->model, &j->req.sampling, &best->sm);
    /* the prompt enters the penalty history before the grammar is attached
     * (which would refuse the prompt's tokens) */
    for (int32_t i = 0; !st && i < j->n_prompt; i++)
        st = lfm2moe_sampler_accept(best->sm, j->prompt[i]);
    if (!st && j->req.grammar) st = lfm2moe_sampler_set_grammar(best->sm, j->req.grammar);
    if (!st) st = lfm2moe_detokenizer_create(s->model, &best->dt);
    best->j = j;
    atomic_fetch_add(&s->m->busy_slots, 1);
    if (st) {
        pthread_mutex_unlock(&s->mu);
        slot_finish(s, best, FINISH_ERROR, lfm2moe_last_error());
        pthread_mutex_lock(&s->mu);
        return;
    }
    best->n_eval = keep;
    j->n_cached = keep;
    atomic_fetch_add(&s->m->cached_tokens, (unsigned long long)keep);
    pthread_mutex_lock(&j->mu);
    j->state = JOB_RUNNING;
    j->t_start = now_seconds();
    pthread_mutex_unlock(&j->mu);
}

static void *run(void *arg) {
    scheduler *s = arg;
    const int ns = s->p.n_slots;
    engine_item *items = calloc((size_t)ns, sizeof *items);
    int *status = calloc((size_t)ns, sizeof *status);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->q_len) {
            int free_slot = 0;
            for (int i = 0; i < ns; i++)
                free_slot |= !s->slots[i].j;
            if (!free_slot) break;
            job *j = s->queue[s->q_head];
            s->q_head = (s->q_head + 1) % s->q_cap;
            s->q_len--;
            atomic_fetch_sub(&s->m->queued, 1);
            admit(s, j);
        }
        int n = 0, budget = s->p.prefill_chunk;
        int late = s->stopping && now_seconds() > s->deadline;
        for (int i = 0; i < ns; i++) {
            slot *sl = &s->slots[i];
            if (!sl->j) continue;
            if (late) atomic_store(&sl->j->cancel, 1);
            if (atomic_load(&sl->j->cancel)) {
                items[n++] = (engine_item){i, NULL, 0}; /* ended after the step */
                continue;
            }
            if (sl->generating) {
                items[n++] = (engine_item){i, &sl->next, 1};
            } else if (budget > 0) {
                int32_t chunk = sl->j->n_prompt - sl->n_eval;
                if (chunk > budget) chunk = budget;
                budget -= chunk;
                items[n++] = (engine_item){i, sl->j->prompt + sl->n_eval, chunk};
            }
        }
        if (!n) {
            if (s->stopping && !s->q_len) break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        /* cancelled slots are not run: move them past the others */
        int run_n = 0;
        for (int i = 0; i < n; i++)
            if (items[i].n_tokens) {
                engine_item t = items[run_n];
                items[run_n++] = items[i];
                items[i] = t;
            }
        engine_step(s->e, items, run_n, status);
        for (int i = 0; i < n; i++)
            after_step(s, &s->slots[items[i].slot], items[i].n_tokens,
                       i < run_n ? status[i] : LFM2MOE_ERR_CANCELLED);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    free(items);
    free(status);
    return NULL;
}

int scheduler_start(const lfm2moe_model *model, const sched_params *p, metrics *m,
                    scheduler **out) {
    *out = NULL;
    scheduler *s = calloc(1, sizeof *s);
    if (!s) return LFM2MOE_ERR_OUT_OF_MEMORY;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->p = *p;
    s->m = m;
    s->model = model;
    if (lfm2moe_token_lookup(model, "<think>", 7, &s->think_open)) s->think_open = -1;
    if (lfm2moe_token_lookup(model, "</think>", 8, &s->think_close)) s->think_close = -1;
    s->slots = calloc((size_t)p->n_slots, sizeof *s->slots);
    /* free slots may be taken by queued jobs the thread has not admitted yet */
    s->q_cap = p->n_slots + p->queue_max;
    s->queue = calloc((size_t)s->q_cap, sizeof *s->queue);
    if (!s->slots || !s->queue) {
        scheduler_free(s);
        return LFM2MOE_ERR_OUT_OF_MEMORY;
    }
    int st = engine_open(model, p->n_slots, p->n_ctx, p->n_threads, &s->e);
    if (st) {
        scheduler_free(s);
        return st;
    }
    atomic_store(&m->n_slots, p->n_slots);
    if (pthread_create(&s->thread, NULL, run, s)) {
        scheduler_free(s);
        return LFM2MOE_ERR_OUT_OF_MEMORY;
    }
    *out = s;
    return LFM2MOE_OK;
}

int32_t scheduler_n_ctx(const scheduler *s) {
    return engine_n_ctx(s->e);
}

int scheduler_submit(scheduler *s, job *j) {
    pthread_mutex_lock(&s->mu);
    int busy = 0;
    for (int i = 0; i < s->p.n_slots; i++)
        busy += s->slots[i].j != NULL;
    int rc = s->stopping ? -2 : s->q_len + busy >= s->p.n_slots + s->p.queue_max ? -1 : 0;
    if (!rc) {
        job_retain(j);
        s->queue[(s->q_head + s->q_len) % s->q_cap] = j;
        s->q_len++;
        atomic_fetch_add(&s->m->queued, 1);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void scheduler_cancel(scheduler *s, job *j) {
    atomic_store(&j->cancel, 1);
    pthread_mutex_lock(&s->mu);
    /* a queued job leaves the queue at once */
    for (int k = 0; k < s->q_len; k++) {
        int at = (s->q_head + k) % s->q_cap;
        if (s->queue[at] != j) continue;
        for (int m = k; m + 1 < s->q_len; m++)
            s->queue[(s->q_head + m) % s->q_cap] = s->queue[(s->q_head + m + 1) % s->q_cap];
        s->q_len--;
        atomic_fetch_sub(&s->m->queued, 1);
        pthread_mutex_unlock(&s->mu);
        job_finish_with(j, FINISH_CANCELLED, NULL);
        job_release(j);
        return;
    }
    for (int i = 0; i < s->p.n_slots; i++)
        if (s->slots[i].j == j) engine_cancel(s->e, i);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void scheduler_stop(scheduler *s, double grace_seconds) {
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    s->deadline = now_seconds() + grace_seconds;
    while (s->q_len) {
        job *j = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        atomic_fetch_sub(&s->m->queued, 1);
        job_finish_with(j, FINISH_CANCELLED, "the server is shutting down");
        job_release(j);
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
}

void scheduler_free(scheduler *s) {
    if (!s) return;
    engine_close(s->e);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->slots);
    free(s->queue);
    free(s);
}
