#include "model/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/errors.h"

/* Waiting for a step (workers) or for its last chunks (the caller): first
 * PAUSE_ROUNDS polls with a pause (steps of a decoded token are
 * microseconds apart), then polls that yield the CPU, so that on an
 * oversubscribed machine the thread we wait for (or any other) can run on
 * this CPU instead of being stalled by our spinning, then sleep. */
#define PAUSE_ROUNDS 2000
#define SPIN_ROUNDS (PAUSE_ROUNDS + 200) /* polls before sleeping */

typedef struct worker {
    lfm_pool *pool;
    int thread;
    pthread_t handle;
} worker;

struct lfm_pool {
    int n_threads;
    worker *workers; /* n_threads - 1 */
    pthread_mutex_t mutex;
    pthread_cond_t wake;    /* workers sleep on it between steps */
    pthread_cond_t done;    /* the caller sleeps on it when a step runs long */
    _Atomic uint64_t state; /* generation, chunk count, next chunk (run_chunks) */
    atomic_int done_chunks;
    atomic_int sleepers; /* workers asleep (or about to be) on `wake` */
    atomic_int caller_waiting;
    atomic_int stop;
    /* the current step, written before its generation is published.  A late
     * worker may read them while the caller writes the next step's: atomics
     * keep that defined, and run_chunks then claims nothing. */
    _Atomic(lfm_task_fn) fn;
    _Atomic(void *) ctx;
};

static inline void cpu_relax(int spins) {
    if (spins >= PAUSE_ROUNDS) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The pool's state word: generation << 32 | chunk count << 16 | next
 * unclaimed chunk.  The count travels with the generation so that a claim
 * is always checked against the count of the step it claims from: a worker
 * that read the step fields while the caller was already writing the next
 * step's (a larger count) must not claim a chunk of the finished step and
 * add it to the next step's done count. */
#define MAX_CHUNKS 0xffff
static inline uint32_t st_gen(uint64_t v) {
    return (uint32_t)(v >> 32);
}
static inline int st_count(uint64_t v) {
    return (int)((v >> 16) & 0xffff);
}
static inline int st_next(uint64_t v) {
    return (int)(v & 0xffff);
}

/* Claim and run chunks of step `gen` until none is left.  fn and ctx were
 * read after `gen` was seen: a chunk of `gen` can be claimed only while the
 * caller is still in that step, when they are that step's. */
static void run_chunks(lfm_pool *p, uint32_t gen, lfm_task_fn fn, void *ctx, int thread) {
    for (;;) {
        uint64_t v = atomic_load(&p->state);
        const int n = st_count(v), c = st_next(v);
        if (st_gen(v) != gen || c >= n) return;
        if (!atomic_compare_exchange_weak(&p->state, &v, v + 1)) continue;
        fn(ctx, c, n, thread);
        /* the last chunk wakes the caller if it went to sleep (seq_cst pairs
         * with its store of caller_waiting: one side always sees the other) */
        if (atomic_fetch_add(&p->done_chunks, 1) + 1 == n && atomic_load(&p->caller_waiting)) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mutex);
        }
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    lfm_pool *p = w->pool;
    uint32_t seen = 0; /* generation 0: the pool as created */
    for (;;) {
        uint32_t gen;
        int spins = 0;
        while ((gen = st_gen(atomic_load(&p->state))) == seen) {
            if (++spins < SPIN_ROUNDS) {
                cpu_relax(spins);
                continue;
            }
            pthread_mutex_lock(&p->mutex);
            atomic_fetch_add(&p->sleepers, 1);
            while (st_gen(atomic_load(&p->state)) == seen)
                pthread_cond_wait(&p->wake, &p->mutex);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mutex);
            spins = 0;
        }
        seen = gen;
        if (atomic_load(&p->stop)) return NULL;
        /* fn/ctx were written before `gen` was published; if the
         * caller has moved on since, run_chunks finds a newer generation and
         * claims nothing */
        run_chunks(p, gen, atomic_load_explicit(&p->fn, memory_order_relaxed),
                   atomic_load_explicit(&p->ctx, memory_order_relaxed), w->thread);
    }
}

int lfm_pool_create(int n_threads, lfm_pool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    lfm_pool *p = calloc(1, sizeof *p);
    if (!p) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    p->n_threads = n_threads;
    atomic_init(&p->state, 0);
    atomic_init(&p->done_chunks, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_waiting, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->ctx, NULL);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            lfm_pool_free(p);
            return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            worker *w = &p->workers[i];
            w->pool = p;
            w->thread = i + 1;
            if (pthread_create(&w->handle, NULL, worker_main, w) != 0) {
                p->n_threads = i + 1; /* join only the ones that started */
                lfm_pool_free(p);
                return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "cannot start worker thread %d", i + 1);
            }
        }
    }
    *out = p;
    return LFM2MOE_OK;
}

/* Publish a new generation (its step fields already written) and wake
 * sleeping workers. */
static void publish(lfm_pool *p, uint64_t state) {
    atomic_store(&p->state, state);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
}

void lfm_pool_free(lfm_pool *p) {
    if (!p) return;
    if (p->workers) {
        atomic_store(&p->stop, 1);
        uint64_t v = atomic_load(&p->state);
        pthread_mutex_lock(&p->mutex); /* no sleeper may miss the last wake-up */
        atomic_store(&p->state, ((v >> 32) + 1) << 32);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
        for (int i = 0; i < p->n_threads - 1; i++)
            pthread_join(p->workers[i].handle, NULL);
        free(p->workers);
    }
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

int lfm_pool_size(const lfm_pool *p) {
    return p->n_threads;
}

void lfm_pool_run(lfm_pool *p, lfm_task_fn fn, void *ctx, int n_chunks) {
    if (n_chunks <= 0) n_chunks = p->n_threads * 4;
    if (n_chunks > MAX_CHUNKS)
        n_chunks = MAX_CHUNKS; /* the task splits its work by the count it is given */
    if (p->n_threads == 1 || n_chunks == 1) { /* nothing to share: no wake-up */
        for (int c = 0; c < n_chunks; c++)
            fn(ctx, c, n_chunks, 0);
        return;
    }
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store(&p->done_chunks, 0);
    uint32_t gen = st_gen(atomic_load(&p->state)) + 1;
    publish(p, (uint64_t)gen << 32 | (uint64_t)n_chunks << 16);
    run_chunks(p, gen, fn, ctx, 0);
    /* wait for chunks that others are still running: spin a little, then
     * sleep rather than steal the CPU a descheduled worker needs */
    for (int spins = 0; spins < SPIN_ROUNDS; spins++) {
        if (atomic_load(&p->done_chunks) == n_chunks) return;
        cpu_relax(spins);
    }
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->caller_waiting, 1);
    while (atomic_load(&p->done_chunks) < n_chunks)
        pthread_cond_wait(&p->done, &p->mutex);
    atomic_store(&p->caller_waiting, 0);
    pthread_mutex_unlock(&p->mutex);
}
