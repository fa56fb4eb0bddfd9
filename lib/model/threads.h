/* A persistent pool of worker threads owned by a session.
 *
 * Each parallel step is cut into n_chunks independent chunks; the caller
 * and the workers claim chunks from one atomic counter until none is left,
 * then the caller waits for the chunks still running.  Because the caller
 * works too and nobody owns a fixed share, a worker that the OS has not
 * scheduled yet (an oversubscribed machine, a phone's little cores) delays
 * nothing: its chunks are simply taken by whoever is running.  Workers spin
 * briefly between steps (per-token steps are microseconds apart), then
 * poll yielding the CPU, then sleep on a condition variable. */
#ifndef LFM_THREADS_H
#define LFM_THREADS_H

/* fn(ctx, chunk, n_chunks, thread): chunk in [0, n_chunks); thread in
 * [0, n_threads) identifies the executing thread (for per-thread scratch). */
typedef void (*lfm_task_fn)(void *ctx, int chunk, int n_chunks, int thread);

typedef struct lfm_pool lfm_pool;

/* n_threads >= 1 (1 = no worker threads). */
int lfm_pool_create(int n_threads, lfm_pool **out);
/* Stops and joins the workers.  NULL is a no-op. */
void lfm_pool_free(lfm_pool *pool);
int lfm_pool_size(const lfm_pool *pool);
/* Run all chunks of a step and wait for them.  n_chunks <= 0 means four per
 * thread (balance without much claiming overhead); 1 runs on the caller
 * alone without waking anyone (for steps too small to be worth sharing). */
void lfm_pool_run(lfm_pool *pool, lfm_task_fn fn, void *ctx, int n_chunks);

/* Split [0, n) into nth nearly equal parts; part ith is [*begin, *end). */
static inline void lfm_split(long n, int ith, int nth, long *begin, long *end) {
    long per = n / nth, extra = n % nth;
    *begin = ith * per + (ith < extra ? ith : extra);
    *end = *begin + per + (ith < extra ? 1 : 0);
}

/* [begin, end) of chunk ith of n_chunks over n items for `threads`
 * threads claiming chunks in order: shrinking chunks (weights
 * ceil((n_chunks - i) / threads): 3,3,2,2,1,1 for 6 chunks, 2 threads), so
 * the first chunks stream long ranges and the last ones, small, even out
 * whichever thread started late or ran slow. */
static inline void lfm_split_shrinking(long n, int ith, int n_chunks, int threads, long *begin,
                                       long *end) {
    long before = 0, mine = 0, total = 0;
    for (int c = 0; c < n_chunks; c++) {
        const long w = (n_chunks - c + threads - 1) / threads;
        if (c < ith) before += w;
        if (c == ith) mine = w;
        total += w;
    }
    *begin = n * before / total;
    *end = n * (before + mine) / total;
}

#endif
