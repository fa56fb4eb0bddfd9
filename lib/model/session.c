/* Sessions: creation with all memory sized up front, decode steps that are
 * all-or-nothing (validated before any state changes, rolled back on
 * cancellation), logits access. */
#include "model/session.h"
#include "model/forward.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention.h"
#include "base/errors.h"
#include "model/cpu_topology.h"
#include "matmul.h"

_Static_assert((int)LFM2MOE_KV_F32 == (int)LFM_KV_F32 && (int)LFM2MOE_KV_F16 == (int)LFM_KV_F16 &&
                   (int)LFM2MOE_KV_Q8_0 == (int)LFM_KV_Q8_0,
               "public and kernel cache type values");
_Static_assert(sizeof(lfm2moe_session_params) == 4 * 4 + 8 + 4 * 2 + 8 * 7,
               "lfm2moe_session_params keeps its size (ABI)");

#define DEFAULT_CTX 4096
#define DEFAULT_BATCH 512
#define MAX_BATCH 65536
#define MAX_THREADS 512
#define DEFAULT_CKPT_INTERVAL 64

LFM2MOE_API int lfm2moe_session_params_init(lfm2moe_session_params *p) {
    LFM_CHECK_ARG(p, "NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    return LFM2MOE_OK;
}

/* Resolved session shape: params with defaults applied. */
typedef struct session_shape {
    int32_t n_ctx, n_batch, n_threads, kv_type;
    int32_t kv_ring; /* lfm_kv_ring_slots: 0 for a full cache */
    int32_t ckpt_interval, n_ckpt;
    size_t act_row_bytes; /* widest encoded activation row of any weight */
} session_shape;

/* Byte counts of every buffer, in one place so memory_size and create agree. */
typedef struct session_sizes {
    size_t kv, kv_saved, conv, logits, x, proj, mixed, actq, actq2, router, ids, gate, eout, attn;
    size_t expf, tiles, parts, tokens, ckpt, ckpt_valid;
    uint64_t total;
} session_sizes;

static size_t max_sz(size_t a, size_t b) {
    return a > b ? a : b;
}

static size_t widest_act_row(const lfm2moe_model *m) {
    const lfm_weight *ws[] = {&m->output};
    size_t best = lfm_act_row_bytes(ws[0]->type, ws[0]->n_cols);
    for (int32_t i = 0; i < m->hp.n_block; i++) {
        for (size_t j = 0; j < LFM_BLOCK_N_MATRICES; j++) {
            const lfm_weight *w =
                (const lfm_weight *)((const char *)&m->blocks[i] + lfm_block_matrix_offsets[j]);
            if (w->data) best = max_sz(best, lfm_act_row_bytes(w->type, w->n_cols));
        }
    }
    return best;
}

static int resolve(const lfm2moe_model *m, const lfm2moe_session_params *p, session_shape *sh) {
    lfm2moe_session_params defaults;
    if (!p) {
        lfm2moe_session_params_init(&defaults);
        p = &defaults;
    }
    if (p->struct_size != sizeof *p)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_params.struct_size is %u, expected %zu (call "
                        "lfm2moe_session_params_init)",
                        p->struct_size, sizeof *p);
    if (p->n_ctx < 0 || p->n_threads < 0 || p->n_batch < 0 || p->checkpoint_interval < 0)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "session params must not be negative (n_ctx %d, n_threads %d, n_batch %d, "
                        "checkpoint_interval %d)",
                        p->n_ctx, p->n_threads, p->n_batch, p->checkpoint_interval);
    if (p->kv_type < 0 || p->kv_type >= LFM_KV_COUNT)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "kv_type %d is not an lfm2moe_kv_type (0 F32, 1 F16, 2 Q8_0)", p->kv_type);
    if (m->n_attn_blocks > 0 && !lfm_kv_type_fits(p->kv_type, m->hp.head_dim))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "kv_type Q8_0 needs a head size that is a multiple of %d (this model: %d)",
                        LFM_KV_Q8_GROUP, m->hp.head_dim);
    sh->kv_type = p->kv_type;
    sh->n_ctx =
        p->n_ctx ? p->n_ctx : (m->hp.n_ctx_train < DEFAULT_CTX ? m->hp.n_ctx_train : DEFAULT_CTX);
    sh->n_batch = p->n_batch ? p->n_batch : DEFAULT_BATCH;
    if (sh->n_batch > MAX_BATCH)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "n_batch %d exceeds %d", sh->n_batch, MAX_BATCH);
    if (sh->n_batch > sh->n_ctx) sh->n_batch = sh->n_ctx;
    if (p->n_threads) {
        sh->n_threads = p->n_threads;
    } else {
        sh->n_threads = lfm_default_threads(); /* big cores only on big.LITTLE */
    }
    if (sh->n_threads > MAX_THREADS)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "n_threads %d exceeds %d", sh->n_threads, MAX_THREADS);
    sh->act_row_bytes = widest_act_row(m);
    sh->ckpt_interval = p->checkpoint_interval ? p->checkpoint_interval : DEFAULT_CKPT_INTERVAL;
    sh->n_ckpt = sh->n_ctx / sh->ckpt_interval;
    sh->kv_ring = lfm_kv_ring_slots(sh->n_ctx, sh->n_batch, m->hp.n_swa);
    return LFM2MOE_OK;
}

/* a*b*c*... in 64 bits, saturating: the caps below catch absurd values. */
static uint64_t mul_sat(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static void compute_sizes(const lfm2moe_model *m, const session_shape *sh, session_sizes *z) {
    const lfm_hparams *hp = &m->hp;
    const uint64_t T = (uint64_t)sh->n_batch, E = (uint64_t)hp->n_embd, D = (uint64_t)hp->head_dim;
    /* widths of a block kind the model lacks are unchecked metadata (no
     * tensor has their shape): they must not size anything */
    int32_t n_moe = 0;
    for (int32_t i = 0; i < hp->n_block; i++)
        n_moe += m->blocks[i].is_moe;
    const int has_attn = m->n_attn_blocks > 0, has_moe = n_moe > 0, has_dense = n_moe < hp->n_block;
    const uint64_t H = has_attn ? (uint64_t)hp->n_head : 0, Hkv = (uint64_t)hp->n_head_kv;
    const uint64_t K = has_moe ? (uint64_t)hp->n_expert_used : 0;
    const uint64_t F = has_moe ? (uint64_t)hp->n_ff_exp : 0;
    const uint64_t X = has_moe ? (uint64_t)hp->n_expert : 0;
    const uint64_t FF = has_dense ? (uint64_t)hp->n_ff : 0;
    const uint64_t f = sizeof(float);
    /* K and V of each attention block, positions (or ring slots) rounded up
     * to whole key blocks (attention.h) */
    uint64_t kv = mul_sat(
        (uint64_t)m->n_attn_blocks * 2 * Hkv,
        (uint64_t)lfm_kv_head_size(sh->kv_type, sh->kv_ring ? sh->kv_ring : sh->n_ctx, (int64_t)D));
    const int64_t span = lfm_attn_score_span(sh->n_ctx, hp->n_swa);
    uint64_t big_w = max_sz(3 * E, (H + 2 * Hkv) * D);
    uint64_t ff_w = max_sz(K * F, FF);
    uint64_t parts[] = {
        kv, (uint64_t)m->n_conv_blocks * (uint64_t)(hp->l_cache - 1) * E * f, /* conv (x2 below) */
        (uint64_t)hp->n_vocab * f,                                            /* one logits row  */
        T * E * f,                                                            /* x, xn, out      */
        T * big_w * f, T * max_sz(E, H * D) * f, T * sh->act_row_bytes, T * K * sh->act_row_bytes,
        T * X * f, T * K * 4, /* ids, w, slot_tok, tok_slot */
        T * ff_w * f,         /* gate (and up) */
        T * K * E * f,
        /* attention tile scratch per thread */
        mul_sat(mul_sat((uint64_t)sh->n_threads,
                        has_attn ? lfm_attn_scratch_floats(span, (int64_t)D) : 1),
                f),
        (X + 1) * 4, T * sizeof(lfm_attn_span), T * sizeof(lfm_fwd_part),
        (uint64_t)sh->n_ctx * 4, /* token history */
        mul_sat((uint64_t)sh->n_ckpt,
                (uint64_t)m->n_conv_blocks * (uint64_t)(hp->l_cache - 1) * E * f), /* checkpoints */
        (uint64_t)sh->n_ckpt, sh->kv_ring ? kv : 0, /* the ring's rollback copy */
    };
    z->kv = parts[0];
    z->conv = parts[1];
    z->logits = parts[2];
    z->x = parts[3];
    z->proj = parts[4];
    z->mixed = parts[5];
    z->actq = parts[6];
    z->actq2 = parts[7];
    z->router = parts[8];
    z->ids = parts[9];
    z->gate = parts[10];
    z->eout = parts[11];
    z->attn = parts[12];
    z->expf = parts[13];
    z->tiles = parts[14];
    z->parts = parts[15];
    z->tokens = parts[16];
    z->ckpt = parts[17];
    z->ckpt_valid = parts[18];
    z->kv_saved = parts[19];
    uint64_t total = 0;
    uint64_t mult[] = {1, 2, 2, 3, 1, 1, 1, 1, 1, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t v = mul_sat(parts[i], mult[i]);
        total = total + v < total ? UINT64_MAX : total + v;
    }
    z->total = total;
}

/* What lfm2moe_session_memory_size reports and lfm2moe_session_create
 * allocates, from the same numbers: the resolved shape and each part's bytes. */
static int plan(const lfm2moe_model *m, const lfm2moe_session_params *p, session_shape *sh,
                session_sizes *z) {
    int st = resolve(m, p, sh);
    if (!st) compute_sizes(m, sh, z);
    return st;
}

LFM2MOE_API int lfm2moe_session_memory_size(const lfm2moe_model *m, const lfm2moe_session_params *p,
                                            uint64_t *bytes) {
    LFM_CHECK_ARGS(m && bytes);
    session_shape sh;
    session_sizes z;
    int st = plan(m, p, &sh, &z);
    if (st) return st;
    *bytes = z.total;
    return LFM2MOE_OK;
}

LFM2MOE_API void lfm2moe_session_free(lfm2moe_session *s) {
    if (!s) return;
    lfm_pool_free(s->pool);
    free(s->kv);
    free(s->kv_saved);
    free(s->conv);
    free(s->conv_saved);
    free(s->tokens);
    free(s->ckpt);
    free(s->ckpt_valid);
    free(s->logits);
    free(s->logits_next);
    lfm_scratch *c = &s->s;
    void *bufs[] = {c->x,        c->xn,       c->out,       c->proj,    c->mixed,
                    c->actq,     c->actq2,    c->router,    c->exp_ids, c->exp_w,
                    c->slot_tok, c->tok_slot, c->exp_first, c->gate,    c->up,
                    c->eout,     c->attn,     c->tiles,     c->parts};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(s);
}

LFM2MOE_API int lfm2moe_session_create(const lfm2moe_model *m, const lfm2moe_session_params *p,
                                       lfm2moe_session **out) {
    LFM_CHECK_ARG(out, "NULL output");
    *out = NULL;
    LFM_CHECK_ARG(m, "NULL model");
    session_shape sh;
    session_sizes z;
    int st = plan(m, p, &sh, &z);
    if (st) return st;
    uint64_t cap = p ? p->max_memory : 0;
    if ((cap && z.total > cap) || z.total > (uint64_t)SIZE_MAX / 2)
        return lfm_fail(LFM2MOE_ERR_LIMIT,
                        "session needs %llu bytes (n_ctx %d, n_batch %d), over the %llu byte cap",
                        (unsigned long long)z.total, sh.n_ctx, sh.n_batch,
                        (unsigned long long)(cap ? cap : (uint64_t)SIZE_MAX / 2));

    lfm2moe_session *s = calloc(1, sizeof *s);
    if (!s) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    s->model = m;
    s->n_ctx = sh.n_ctx;
    s->n_batch = sh.n_batch;
    s->n_threads = sh.n_threads;
    s->kv_type = sh.kv_type;
    s->kv_ring = sh.kv_ring;
    s->conv_floats = z.conv / sizeof(float);
    s->actq_row_bytes = sh.act_row_bytes;
    s->logits_cap_rows = 1;
    s->logits_first = -1;
    s->mem_bytes = z.total;
    s->max_memory = cap;
    atomic_init(&s->cancel, 0);
    lfm_scratch *c = &s->s;
    /* calloc: the KV cache and conv state start as zeros (empty history) */
    s->kv = calloc(1, z.kv ? z.kv : 1);
    s->kv_saved = z.kv_saved ? malloc(z.kv_saved) : NULL;
    s->conv = calloc(1, z.conv ? z.conv : 1);
    s->conv_saved = calloc(1, z.conv ? z.conv : 1);
    s->tokens = malloc(z.tokens ? z.tokens : 1);
    s->ckpt = malloc(z.ckpt ? z.ckpt : 1);
    s->ckpt_valid = calloc(1, z.ckpt_valid ? z.ckpt_valid : 1);
    s->ckpt_interval = sh.ckpt_interval;
    s->n_ckpt = sh.n_ckpt;
    s->logits = malloc(z.logits);
    s->logits_next = malloc(z.logits);
    c->x = malloc(z.x);
    c->xn = malloc(z.x);
    c->out = malloc(z.x);
    c->proj = malloc(z.proj);
    c->mixed = malloc(z.mixed);
    c->actq = malloc(z.actq);
    c->actq2 = malloc(z.actq2);
    c->router = malloc(z.router);
    c->exp_ids = malloc(z.ids);
    c->exp_w = malloc(z.ids);
    c->slot_tok = malloc(z.ids);
    c->tok_slot = malloc(z.ids);
    c->exp_first = malloc(z.expf);
    c->gate = malloc(z.gate);
    c->up = malloc(z.gate);
    c->eout = malloc(z.eout);
    c->attn = malloc(z.attn);
    c->tiles = malloc(z.tiles);
    c->parts = malloc(z.parts);
    if (!s->kv || (z.kv_saved && !s->kv_saved) || !s->conv || !s->conv_saved || !s->tokens ||
        !s->ckpt || !s->ckpt_valid || !s->logits || !s->logits_next || !c->x || !c->xn || !c->out ||
        !c->proj || !c->mixed || !c->actq || !c->actq2 || !c->router || !c->exp_ids || !c->exp_w ||
        !c->slot_tok || !c->tok_slot || !c->exp_first || !c->gate || !c->up || !c->eout ||
        !c->attn || !c->tiles || !c->parts) {
        lfm2moe_session_free(s);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for a session of %llu bytes",
                        (unsigned long long)z.total);
    }
    if ((st = lfm_pool_create(sh.n_threads, &s->pool))) {
        lfm2moe_session_free(s);
        return st;
    }
    *out = s;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_reset(lfm2moe_session *s) {
    LFM_CHECK_ARG(s, "NULL session");
    s->pos = 0;
    s->n_logits = 0;
    s->logits_first = -1;
    s->last_step_tokens = 0;
    /* KV rows beyond pos are never read; the conv state must restart at 0 */
    memset(s->conv, 0, s->conv_floats * sizeof(float));
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_position(const lfm2moe_session *s, int32_t *pos) {
    LFM_CHECK_ARGS(s && pos);
    *pos = s->pos;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_context_length(const lfm2moe_session *s, int32_t *n_ctx) {
    LFM_CHECK_ARGS(s && n_ctx);
    *n_ctx = s->n_ctx;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_model(const lfm2moe_session *s, const lfm2moe_model **model) {
    LFM_CHECK_ARGS(s && model);
    *model = s->model;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_cancel(lfm2moe_session *s) {
    LFM_CHECK_ARG(s, "NULL session");
    atomic_store(&s->cancel, 1);
    return LFM2MOE_OK;
}

/* Make room for `rows` logits rows in both buffers (before any state changes). */
int lfm_session_reserve_logits(lfm2moe_session *s, int32_t rows) {
    if (rows <= s->logits_cap_rows) return LFM2MOE_OK;
    size_t bytes = (size_t)rows * (size_t)s->model->hp.n_vocab * sizeof(float);
    /* two buffers (current and next step) of the new size replace two of
     * the old: the growth counts against the creation cap */
    const uint64_t grown = s->mem_bytes + 2 * (uint64_t)(rows - s->logits_cap_rows) *
                                              (uint64_t)s->model->hp.n_vocab * sizeof(float);
    if (s->max_memory && grown > s->max_memory)
        return lfm_fail(LFM2MOE_ERR_LIMIT,
                        "%d rows of logits would bring the session to %llu bytes, over its "
                        "max_memory of %llu",
                        rows, (unsigned long long)grown, (unsigned long long)s->max_memory);
    float *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a);
        free(b);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for %d rows of logits", rows);
    }
    /* keep the previous step's logits readable */
    memcpy(a, s->logits, (size_t)s->n_logits * (size_t)s->model->hp.n_vocab * sizeof(float));
    free(s->logits);
    free(s->logits_next);
    s->logits = a;
    s->logits_next = b;
    s->logits_cap_rows = rows;
    s->mem_bytes = grown;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_decode_step(lfm2moe_session *s, const int32_t *tokens, int32_t n,
                                    uint32_t flags) {
    if (s) atomic_store(&s->cancel, 0); /* a new call clears an earlier request */
    return lfm_session_decode(s, tokens, n, flags);
}

int lfm_session_decode(lfm2moe_session *s, const int32_t *tokens, int32_t n, uint32_t flags) {
    LFM_CHECK_ARG_IN("lfm2moe_decode_step", s && tokens, "NULL argument");
    if (n < 1)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_decode_step: n_tokens is %d", n);
    if (flags & ~(uint32_t)LFM2MOE_DECODE_ALL_LOGITS)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_decode_step: unknown flags 0x%x",
                        flags);
    const int32_t n_vocab = s->model->hp.n_vocab;
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE,
                            "token %d (at index %d) is outside the vocabulary [0, %d)", tokens[i],
                            i, n_vocab);
    if (n > s->n_ctx - s->pos)
        return lfm_fail(LFM2MOE_ERR_CONTEXT_FULL,
                        "%d tokens do not fit: position %d of a %d-token context", n, s->pos,
                        s->n_ctx);
    const int all = (flags & LFM2MOE_DECODE_ALL_LOGITS) != 0;
    int st = lfm_session_reserve_logits(s, all ? n : 1);
    if (st) return st;

    memcpy(s->conv_saved, s->conv, s->conv_floats * sizeof(float));
    memcpy(s->tokens + s->pos, tokens, (size_t)n * sizeof *tokens); /* ignored unless we succeed */
    /* a ring holds the window before pos plus one chunk: a second chunk
     * overwrites positions a retry of this step would need */
    const int save_ring = s->kv_saved && n > s->n_batch;
    const size_t kv_bytes = lfm_session_kv_bytes(s);
    if (save_ring) memcpy(s->kv_saved, s->kv, kv_bytes);
    for (int32_t c = 0; c < n; c += s->n_batch) {
        int32_t cn = n - c < s->n_batch ? n - c : s->n_batch;
        int last = c + cn == n;
        int32_t first = all ? 0 : (last ? cn - 1 : cn);
        float *out = s->logits_next + (all ? (size_t)c * (size_t)n_vocab : 0);
        lfm_fwd_part part = {.seq = s,
                             .tokens = tokens + c,
                             .row0 = 0,
                             .n = cn,
                             .pos0 = s->pos + c,
                             .first_logit = first};
        st = lfm_forward_chunk(s, &part, 1, cn, out);
        if (st) {
            /* roll back: KV rows past pos are ignored, the conv state (and a
             * ring that a later chunk overwrote) restored */
            memcpy(s->conv, s->conv_saved, s->conv_floats * sizeof(float));
            if (save_ring) memcpy(s->kv, s->kv_saved, kv_bytes);
            return st;
        }
    }
    lfm_session_mark_checkpoints(s, s->pos, n);
    float *tmp = s->logits;
    s->logits = s->logits_next;
    s->logits_next = tmp;
    s->pos += n;
    s->n_logits = all ? n : 1;
    s->logits_first = all ? 0 : n - 1;
    s->last_step_tokens = n;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_logits(const lfm2moe_session *s, int32_t index,
                                       const float **logits) {
    LFM_CHECK_ARGS(s && logits);
    if (s->logits_first < 0)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "no logits: nothing decoded since the last reset");
    if (index == -1) index = s->last_step_tokens - 1;
    int32_t row = index - s->logits_first;
    if (index < 0 || row < 0 || row >= s->n_logits)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND,
                        "no logits for token %d of the last step (%d tokens; use "
                        "LFM2MOE_DECODE_ALL_LOGITS for all)",
                        index, s->last_step_tokens);
    *logits = s->logits + (size_t)row * (size_t)s->model->hp.n_vocab;
    return LFM2MOE_OK;
}
