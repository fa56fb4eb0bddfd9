#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "errors.h"

#define SPIN_ROUNDS 20000 /* polls before a worker sleeps */

typedef struct worker {
    lfm_pool *pool;
    int ith;
    pthread_t thread;
} worker;

struct lfm_pool {
    int n_threads;
    worker *workers; /* n_threads - 1 */
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation; /* bumped for every step (and for shutdown) */
    atomic_int pending;     /* workers still running the current step */
    atomic_int stop;
    lfm_task_fn fn;         /* published before generation is bumped */
    void *ctx;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *worker_main(void *arg) {
    worker *w = arg;
    lfm_pool *p = w->pool;
    /* generation is 0 when the pool is created: a step published before this
     * thread got here is still seen as new */
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ROUNDS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mutex);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen)
                pthread_cond_wait(&p->wake, &p->mutex);
            pthread_mutex_unlock(&p->mutex);
        }
        seen = gen;
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            return NULL;
        p->fn(p->ctx, w->ith, p->n_threads);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

int lfm_pool_create(int n_threads, lfm_pool **out) {
    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    lfm_pool *p = calloc(1, sizeof *p);
    if (!p)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    p->n_threads = n_threads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            lfm_pool_free(p);
            return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            worker *w = &p->workers[i];
            w->pool = p;
            w->ith = i + 1;
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                p->n_threads = i + 1; /* join only the ones that started */
                lfm_pool_free(p);
                return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "cannot start worker thread %d",
                                i + 1);
            }
        }
    }
    *out = p;
    return LFM2MOE_OK;
}

void lfm_pool_free(lfm_pool *p) {
    if (!p)
        return;
    if (p->workers) {
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        pthread_mutex_lock(&p->mutex);
        atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
        for (int i = 0; i < p->n_threads - 1; i++)
            pthread_join(p->workers[i].thread, NULL);
        free(p->workers);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

int lfm_pool_size(const lfm_pool *p) {
    return p->n_threads;
}

void lfm_pool_run(lfm_pool *p, lfm_task_fn fn, void *ctx) {
    if (p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_release);
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    fn(ctx, 0, p->n_threads);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield();
    }
}
