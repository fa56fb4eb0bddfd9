/* A persistent pool of worker threads owned by a session.  The forward pass
 * runs each parallel step as fn(ctx, ith, nth) on all nth threads (the
 * caller is thread 0) and continues when every thread has returned.  Workers
 * spin briefly between steps (per-token steps are microseconds apart) and
 * then sleep on a condition variable. */
#ifndef LFM_THREADS_H
#define LFM_THREADS_H

typedef struct lfm_pool lfm_pool;
typedef void (*lfm_task_fn)(void *ctx, int ith, int nth);

/* n_threads >= 1 (1 = no worker threads). */
int lfm_pool_create(int n_threads, lfm_pool **out);
/* Stops and joins the workers.  NULL is a no-op. */
void lfm_pool_free(lfm_pool *pool);
int lfm_pool_size(const lfm_pool *pool);
/* Run fn on every thread and wait for all of them. */
void lfm_pool_run(lfm_pool *pool, lfm_task_fn fn, void *ctx);

/* Split [0, n) into nth nearly equal parts; part ith is [*begin, *end). */
static inline void lfm_split(long n, int ith, int nth, long *begin, long *end) {
    long per = n / nth, extra = n % nth;
    *begin = ith * per + (ith < extra ? ith : extra);
    *end = *begin + per + (ith < extra ? 1 : 0);
}

#endif
