/* Concurrency and resource limits, through the public API only.
 *  - one model, 4 sessions (2 worker threads each) decoding the golden token
 *    sequence at the same time: every logit bit-identical to a run alone;
 *    sessions freed in different orders, some while others still decode;
 *  - lfm2moe_session_cancel from another thread during a long prefill:
 *    CANCELLED (position unchanged) or OK, and decoding afterwards gives
 *    the logits of a fresh session fed the same steps (also with a ring KV
 *    cache, which a cancelled step overwrites);
 *  - metadata asking for absurd sizes is refused before anything of that
 *    size is allocated (run it under ASan: an allocation of that size
 *    would abort there);
 *  - lfm2moe_session_memory_size and params.max_memory (LIMIT). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gguf_builder.h"
#include "gld.h"
#include "lfm2moe.h"
#include "model/threads.h"

#define MODEL GOLDEN_DIR "/tiny-a-f32.gguf"
#define N_SESSIONS 4

static lfm2moe_model *model;
static gld golden;
static int32_t n_vocab;

static int setup(void **state) {
    (void)state;
    char err[256];
    if (gld_read(GOLDEN_DIR "/tiny-a-f32.gld", 0, &golden, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (lfm2moe_model_load(MODEL, NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "%s\n", lfm2moe_last_error());
        return -1;
    }
    n_vocab = golden.n_vocab;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lfm2moe_model_free(model);
    gld_free(&golden);
    return 0;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int32_t session_batch; /* n_batch of new sessions, 0: the default */

static lfm2moe_session *new_session(int32_t n_ctx, int32_t threads) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_batch = session_batch;
    sp.n_threads = threads;
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(model, &sp, &s), LFM2MOE_OK);
    return s;
}

/* Golden sequence as the reference run fed it: prompt in one step, then one
 * token at a time; out gets every row of logits.  Returns a status instead
 * of asserting (cmocka asserts are not for worker threads). */
static int run_golden(lfm2moe_session *s, float *out) {
    const int32_t n = golden.n_prompt + golden.n_gen;
    for (int32_t t = 0; t < n;) {
        int32_t step = t == 0 ? golden.n_prompt : 1;
        int st = lfm2moe_decode_step(s, golden.tokens + t, step, LFM2MOE_DECODE_ALL_LOGITS);
        if (st) return st;
        for (int32_t i = 0; i < step; i++) {
            const float *row = NULL;
            if ((st = lfm2moe_session_logits(s, i, &row))) return st;
            memcpy(out + (size_t)(t + i) * (size_t)n_vocab, row, (size_t)n_vocab * sizeof(float));
        }
        t += step;
    }
    return LFM2MOE_OK;
}

typedef struct worker {
    lfm2moe_session *s;
    float *logits;
    int status;
    int free_own; /* free the session when done (at a staggered time) */
    long delay_us;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    w->status = run_golden(w->s, w->logits);
    if (w->free_own) {
        sleep_us(w->delay_us);
        lfm2moe_session_free(w->s);
        w->s = NULL;
    }
    return NULL;
}

static size_t golden_floats(void) {
    return (size_t)(golden.n_prompt + golden.n_gen) * (size_t)n_vocab;
}

/* Round 0: the main thread frees the sessions in a scrambled order after
 * joining; round 1: each thread frees its own at staggered times, while the
 * others may still be decoding. */
static void test_parallel_sessions(void **state) {
    (void)state;
    const int32_t n_ctx = golden.n_prompt + golden.n_gen;
    float *ref = malloc(golden_floats() * sizeof(float));
    assert_non_null(ref);
    lfm2moe_session *alone = new_session(n_ctx, 1);
    assert_int_equal(run_golden(alone, ref), LFM2MOE_OK);
    lfm2moe_session_free(alone);

    static const int free_order[2][N_SESSIONS] = {{2, 0, 3, 1}, {1, 3, 0, 2}};
    for (int round = 0; round < 2; round++) {
        worker w[N_SESSIONS];
        pthread_t th[N_SESSIONS];
        for (int i = 0; i < N_SESSIONS; i++) {
            w[i].s = new_session(n_ctx, 2);
            w[i].logits = malloc(golden_floats() * sizeof(float));
            assert_non_null(w[i].logits);
            w[i].status = -1;
            w[i].free_own = round == 1;
            w[i].delay_us = 2000L * free_order[round][i];
        }
        for (int i = 0; i < N_SESSIONS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
        for (int i = 0; i < N_SESSIONS; i++)
            pthread_join(th[i], NULL);
        for (int k = 0; k < N_SESSIONS; k++) {
            int i = free_order[round][k];
            assert_int_equal(w[i].status, LFM2MOE_OK);
            /* bit-identical: same kernels, same order of operations per row */
            assert_memory_equal(w[i].logits, ref, golden_floats() * sizeof(float));
            lfm2moe_session_free(w[i].s); /* NULL in round 1 */
            free(w[i].logits);
        }
    }
    free(ref);
}

typedef struct prefill {
    lfm2moe_session *s;
    const int32_t *tokens;
    int32_t n;
    atomic_int started, done;
    int status;
} prefill;

static void *prefill_main(void *arg) {
    prefill *p = arg;
    atomic_store(&p->started, 1);
    p->status = lfm2moe_decode_step(p->s, p->tokens, p->n, 0);
    atomic_store(&p->done, 1);
    return NULL;
}

/* Logits after `steps` (each a run of golden tokens) on a fresh session. */
static void fresh_logits(const int32_t *const *steps, const int32_t *lens, int n_steps,
                         int32_t n_ctx, float *out) {
    lfm2moe_session *s = new_session(n_ctx, 2);
    for (int i = 0; i < n_steps; i++)
        assert_int_equal(lfm2moe_decode_step(s, steps[i], lens[i], 0), LFM2MOE_OK);
    const float *row = NULL;
    assert_int_equal(lfm2moe_session_logits(s, -1, &row), LFM2MOE_OK);
    memcpy(out, row, (size_t)n_vocab * sizeof(float));
    lfm2moe_session_free(s);
}

/* Cancel a 700-token step after `head` tokens until `want` cancels landed,
 * the k-th first cancel sent k * delay_us into the step (so later cancels
 * land in later chunks); after each, the session must decode as a fresh one
 * fed the same steps. */
static void cancel_prefill(int32_t head, int want, long delay_us) {
    const int32_t n_ctx = 1024, n_long = 700;
    int32_t *prompt = malloc((size_t)n_long * sizeof *prompt);
    assert_non_null(prompt);
    const int32_t n_gold = golden.n_prompt + golden.n_gen;
    for (int32_t i = 0; i < n_long; i++)
        prompt[i] = golden.tokens[i % n_gold];
    const int32_t next = golden.tokens[head];
    float *expect = malloc((size_t)n_vocab * sizeof(float));
    assert_non_null(expect);

    /* a cancel while idle is forgotten by the next call */
    lfm2moe_session *s = new_session(n_ctx, 2);
    assert_int_equal(lfm2moe_session_cancel(s), LFM2MOE_OK);
    assert_int_equal(lfm2moe_decode_step(s, golden.tokens, head, 0), LFM2MOE_OK);

    int cancelled = 0, completed = 0;
    for (int attempt = 0; attempt < 10 * want && cancelled < want; attempt++) {
        int32_t pos0 = -1, pos1 = -1;
        assert_int_equal(lfm2moe_session_position(s, &pos0), LFM2MOE_OK);
        prefill p = {.s = s, .tokens = prompt, .n = n_long, .status = -1};
        atomic_init(&p.started, 0);
        atomic_init(&p.done, 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, prefill_main, &p), 0);
        while (!atomic_load(&p.started))
            sleep_us(50);
        if (delay_us) sleep_us(delay_us * cancelled);
        /* keep asking until the call returns: a request that lands before the
         * call starts is cleared by it, a later one stops it */
        while (!atomic_load(&p.done)) {
            assert_int_equal(lfm2moe_session_cancel(s), LFM2MOE_OK);
            sleep_us(200);
        }
        pthread_join(th, NULL);
        assert_true(p.status == LFM2MOE_ERR_CANCELLED || p.status == LFM2MOE_OK);
        assert_int_equal(lfm2moe_session_position(s, &pos1), LFM2MOE_OK);
        if (p.status == LFM2MOE_ERR_CANCELLED) {
            cancelled++;
            assert_int_equal(pos1, pos0);
            /* the session continues as if the cancelled call never happened */
            assert_int_equal(lfm2moe_decode_step(s, &next, 1, 0), LFM2MOE_OK);
            const float *row = NULL;
            assert_int_equal(lfm2moe_session_logits(s, -1, &row), LFM2MOE_OK);
            const int32_t *steps[] = {golden.tokens, &next};
            const int32_t lens[] = {head, 1};
            fresh_logits(steps, lens, 2, n_ctx, expect);
            assert_memory_equal(row, expect, (size_t)n_vocab * sizeof(float));
        } else {
            completed++;
            assert_int_equal(pos1, pos0 + n_long);
        }
        assert_int_equal(lfm2moe_session_reset(s), LFM2MOE_OK);
        assert_int_equal(lfm2moe_decode_step(s, golden.tokens, head, 0), LFM2MOE_OK);
    }
    print_message("cancel during a %d-token prefill: %d cancelled, %d completed\n", n_long,
                  cancelled, completed);
    /* cancels every 200 us against a prefill of hundreds of tokens: at least
     * one must land */
    assert_true(cancelled >= want);
    lfm2moe_session_free(s);
    free(expect);
    free(prompt);
}

static void test_cancel_prefill(void **state) {
    (void)state;
    cancel_prefill(5, 1, 0);
}

/* The same with a sliding window of 8 and chunks of 16 tokens: the KV
 * cache is a ring of 32 slots, which the cancelled step's later chunks
 * overwrite; the rollback must restore the window the next token sees. */
static void test_cancel_prefill_ring(void **state) {
    (void)state;
    lfm2moe_model *dense = model;
    assert_int_equal(lfm2moe_model_load(GOLDEN_DIR "/tiny-d-swa-f32.gguf", NULL, &model),
                     LFM2MOE_OK);
    session_batch = 16;
    cancel_prefill(30, 4, 3000);
    session_batch = 0;
    lfm2moe_model_free(model);
    model = dense;
}

/* ---- absurd metadata ------------------------------------------------------ */

static const int attn_blocks[] = {1};
static const test_model_shape small_shape = {.n_vocab = 32,
                                             .n_embd = 8,
                                             .n_block = 2,
                                             .n_head = 2,
                                             .n_head_kv = 1,
                                             .head_dim = 4,
                                             .n_ff = 16,
                                             .n_expert = 4,
                                             .n_expert_used = 2,
                                             .n_ff_exp = 8,
                                             .n_dense = 1,
                                             .l_cache = 3,
                                             .attn_blocks = attn_blocks,
                                             .n_attn = 1,
                                             .tied = 1,
                                             .seed = 99};

/* Position of the value of metadata key `key` (just after its u32 type). */
static size_t kv_value_at(const strbuf *b, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 8; i + n + 4 <= b->len; i++) {
        uint64_t len;
        memcpy(&len, b->data + i - 8, 8);
        if (len == n && memcmp(b->data + i, key, n) == 0) return i + n + 4;
    }
    fail_msg("key %s not found", key);
    return 0;
}

/* Position of ne[0] of tensor `name` in the tensor table (a name is
 * followed by u32 n_dims, then u64 ne[]: the same layout as a key). */
static size_t tensor_dims_at(const strbuf *b, const char *name) {
    return kv_value_at(b, name);
}

static void patch_u32(strbuf *b, size_t at, uint32_t v) {
    memcpy(b->data + at, &v, 4);
}

static void patch_u64(strbuf *b, size_t at, uint64_t v) {
    memcpy(b->data + at, &v, 8);
}

static int load_bytes(const strbuf *b) {
    lfm2moe_model *m = (lfm2moe_model *)1;
    int st = lfm2moe_model_load_from_memory(b->data, b->len, NULL, &m);
    assert_null(m);
    return st;
}

static void build(strbuf *b) {
    memset(b, 0, sizeof *b);
    gb_build_model(b, &small_shape);
}

/* Replace the u32 metadata value of `key` by a u64 (the image grows by 4
 * bytes; the tensor data is moved to stay aligned). */
static void widen_to_u64(strbuf *b, const char *key, uint64_t v) {
    size_t at = kv_value_at(b, key);
    /* end of the tensor table: after the last tensor's info (3 dims) */
    size_t last = kv_value_at(b, "blk.1.ffn_down_exps.weight") - 4; /* its n_dims */
    size_t table_end = last + 4 + 3 * 8 + 4 + 8;
    size_t data_old = (table_end + 31) / 32 * 32, data_new = (table_end + 4 + 31) / 32 * 32;
    size_t tail = b->len - data_old;
    char *nb = calloc(1, data_new + tail + 1); /* + the strbuf's NUL */
    assert_non_null(nb);
    uint32_t t64 = 10; /* GGUF u64 */
    memcpy(nb, b->data, at - 4);
    memcpy(nb + at - 4, &t64, 4);
    memcpy(nb + at, &v, 8);
    memcpy(nb + at + 8, b->data + at + 4, table_end - (at + 4));
    memcpy(nb + data_new, b->data + data_old, tail);
    free(b->data);
    b->data = nb;
    b->len = data_new + tail;
    b->cap = b->len + 1;
}

static void test_absurd_metadata(void **state) {
    (void)state;
    strbuf b;
    build(&b);
    lfm2moe_model *m = NULL;
    assert_int_equal(lfm2moe_model_load_from_memory(b.data, b.len, NULL, &m), LFM2MOE_OK);
    lfm2moe_model_free(m);

    struct {
        const char *key;
        uint32_t value;
    } u32s[] = {
        {"lfm2moe.expert_count", 1u << 31},
        {"lfm2moe.expert_count", 65537},
        {"lfm2moe.block_count", 1000000000},
        {"lfm2moe.embedding_length", 1u << 30},
        {"lfm2moe.feed_forward_length", 1u << 30},
        {"lfm2moe.expert_feed_forward_length", 1u << 30},
        {"lfm2moe.attention.head_count", 1u << 31},
        {"lfm2moe.expert_used_count", 1u << 20},
        {"lfm2moe.shortconv.l_cache", 1u << 31},
        {"lfm2moe.attention.key_length", 1u << 30},
        {"lfm2moe.context_length", 0},
    };
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        strbuf c;
        build(&c);
        patch_u32(&c, kv_value_at(&c, u32s[i].key), u32s[i].value);
        int st = load_bytes(&c);
        if (st != LFM2MOE_ERR_BAD_MODEL && st != LFM2MOE_ERR_BAD_FORMAT && st != LFM2MOE_ERR_LIMIT)
            fail_msg("%s = %u: status %d (%s)", u32s[i].key, u32s[i].value, st,
                     lfm2moe_last_error());
        strbuf_free(&c);
    }

    /* context_length 2^40 as a u64 */
    strbuf c;
    build(&c);
    widen_to_u64(&c, "lfm2moe.context_length", 4096);
    assert_int_equal(lfm2moe_model_load_from_memory(c.data, c.len, NULL, &m), LFM2MOE_OK);
    lfm2moe_model_free(m); /* the splice itself is sound */
    strbuf_free(&c);
    build(&c);
    widen_to_u64(&c, "lfm2moe.context_length", 1ull << 40);
    assert_int_equal(load_bytes(&c), LFM2MOE_ERR_BAD_MODEL);
    strbuf_free(&c);

    /* tensors of 1e12 elements, and dimensions whose product overflows */
    static const uint64_t dims[][2] = {
        {8, 125000000000ull}, {1ull << 40, 1ull << 40}, {(1ull << 63) - 1, 2}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        build(&c);
        size_t at = tensor_dims_at(&c, "token_embd.weight");
        patch_u64(&c, at, dims[i][0]);
        patch_u64(&c, at + 8, dims[i][1]);
        assert_int_equal(load_bytes(&c), LFM2MOE_ERR_BAD_FORMAT);
        strbuf_free(&c);
    }
    /* a head_count_kv array claiming 2^40 entries; a tensor table claiming 2^40 tensors */
    build(&c);
    patch_u64(&c, kv_value_at(&c, "lfm2moe.attention.head_count_kv") + 4, 1ull << 40);
    assert_int_equal(load_bytes(&c), LFM2MOE_ERR_BAD_FORMAT);
    strbuf_free(&c);
    build(&c);
    patch_u64(&c, 8, 1ull << 40);
    assert_int_equal(load_bytes(&c), LFM2MOE_ERR_BAD_FORMAT);
    strbuf_free(&c);
    strbuf_free(&b);
}

/* Hyperparameters of a kind of block the model does not have (no tensor
 * checks them) must not size the session: huge values are either refused at
 * load or cost nothing. */
static void test_unused_hparams(void **state) {
    (void)state;
    static const struct {
        int n_attn, n_dense;
        const char *key;
        uint32_t value;
    } cases[] = {
        {0, 1, "lfm2moe.attention.head_count", 65536}, /* no attention block */
        {0, 1, "lfm2moe.attention.key_length", 1024},
        {1, 0, "lfm2moe.feed_forward_length", 1u << 24},        /* no dense block */
        {1, 2, "lfm2moe.expert_feed_forward_length", 1u << 24}, /* no MoE block */
        {1, 2, "lfm2moe.expert_count", 65536},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_model_shape sh = small_shape;
        sh.n_attn = cases[i].n_attn;
        sh.n_dense = cases[i].n_dense;
        strbuf c;
        memset(&c, 0, sizeof c);
        gb_build_model(&c, &sh);
        patch_u32(&c, kv_value_at(&c, cases[i].key), cases[i].value);
        if (strcmp(cases[i].key, "lfm2moe.expert_count") == 0) /* keep used <= count */
            patch_u32(&c, kv_value_at(&c, "lfm2moe.expert_used_count"), 1);
        lfm2moe_model *m = NULL;
        int st = lfm2moe_model_load_from_memory(c.data, c.len, NULL, &m);
        if (st == LFM2MOE_OK) {
            lfm2moe_session_params sp;
            lfm2moe_session_params_init(&sp);
            sp.n_ctx = 64;
            sp.n_threads = 1;
            uint64_t bytes = 0;
            assert_int_equal(lfm2moe_session_memory_size(m, &sp, &bytes), LFM2MOE_OK);
            if (bytes > (16u << 20))
                fail_msg("%s = %u (unused): a 64-token session needs %llu bytes", cases[i].key,
                         cases[i].value, (unsigned long long)bytes);
            lfm2moe_session *s = NULL;
            assert_int_equal(lfm2moe_session_create(m, &sp, &s), LFM2MOE_OK);
            int32_t toks[3] = {1, 2, 3};
            assert_int_equal(lfm2moe_decode_step(s, toks, 3, 0), LFM2MOE_OK);
            lfm2moe_session_free(s);
            lfm2moe_model_free(m);
        } else {
            assert_true(st == LFM2MOE_ERR_BAD_MODEL);
        }
        strbuf_free(&c);
    }
}

/* ---- session memory ------------------------------------------------------- */

static void test_session_memory(void **state) {
    (void)state;
    lfm2moe_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(lfm2moe_model_get_info(model, &info), LFM2MOE_OK);

    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = 2;
    sp.n_ctx = 1024;
    uint64_t small = 0, big = 0;
    assert_int_equal(lfm2moe_session_memory_size(model, &sp, &small), LFM2MOE_OK);
    sp.n_ctx = 2048;
    assert_int_equal(lfm2moe_session_memory_size(model, &sp, &big), LFM2MOE_OK);
    /* 1024 more positions need at least their K and V rows in every attention block */
    uint64_t kv_row = (uint64_t)info.n_head_kv * (uint64_t)info.head_dim * sizeof(float);
    assert_true(big - small >= 1024u * 2u * (uint64_t)info.n_attention_block * kv_row);
    print_message("session memory: %llu bytes at n_ctx 1024, %llu at 2048\n",
                  (unsigned long long)small, (unsigned long long)big);

    /* the cap: exactly enough is accepted, one byte less is LIMIT */
    sp.n_ctx = 1024;
    sp.max_memory = small;
    lfm2moe_session *s = NULL;
    assert_int_equal(lfm2moe_session_create(model, &sp, &s), LFM2MOE_OK);
    assert_int_equal(lfm2moe_decode_step(s, golden.tokens, 3, 0), LFM2MOE_OK);
    lfm2moe_session_free(s);
    sp.max_memory = small - 1;
    s = (lfm2moe_session *)1;
    assert_int_equal(lfm2moe_session_create(model, &sp, &s), LFM2MOE_ERR_LIMIT);
    assert_null(s);

    /* an absurd context is reported, not allocated, and refused by a cap */
    sp.n_ctx = INT32_MAX;
    sp.max_memory = 1u << 30;
    uint64_t huge = 0;
    assert_int_equal(lfm2moe_session_memory_size(model, &sp, &huge), LFM2MOE_OK);
    assert_true(huge > (uint64_t)INT32_MAX * 2u * (uint64_t)info.n_attention_block * kv_row);
    assert_int_equal(lfm2moe_session_create(model, &sp, &s), LFM2MOE_ERR_LIMIT);
    assert_null(s);
}

/* The products' chunks (lfm_split_shrinking): one after the other over
 * [0, n), each no larger than the one before (up to rounding), the first
 * `threads` of them together half (up to rounding) for 3 chunks per thread. */
static void test_split_shrinking(void **state) {
    (void)state;
    const long ns[] = {0, 1, 7, 100, 3584, 114688};
    const int counts[] = {1, 2, 3, 6, 8, 12}, threads[] = {1, 2, 4};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof counts / sizeof counts[0]; b++)
            for (size_t c = 0; c < sizeof threads / sizeof threads[0]; c++) {
                long prev_end = 0, prev_size = ns[a] + 1, first = 0;
                for (int i = 0; i < counts[b]; i++) {
                    long lo, hi;
                    lfm_split_shrinking(ns[a], i, counts[b], threads[c], &lo, &hi);
                    assert_int_equal(lo, prev_end);
                    assert_true(hi >= lo);
                    assert_true(hi - lo <= prev_size + 1);
                    if (i < threads[c]) first += hi - lo;
                    prev_end = hi;
                    prev_size = hi - lo;
                }
                assert_int_equal(prev_end, ns[a]);
                if (counts[b] == 3 * threads[c]) assert_true(2 * first + threads[c] >= ns[a]);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_sessions),   cmocka_unit_test(test_cancel_prefill),
        cmocka_unit_test(test_cancel_prefill_ring), cmocka_unit_test(test_absurd_metadata),
        cmocka_unit_test(test_unused_hparams),      cmocka_unit_test(test_session_memory),
        cmocka_unit_test(test_split_shrinking),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
