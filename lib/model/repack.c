/* Weights rewritten at load into the layout the active kernels stream
 * fastest (kernels/quant/r16.h; see LFM2MOE_MODEL_REPACK).
 *
 * Decode reads every weight a token uses once, so its speed is the rate at
 * which a kernel can consume a weight stream.  For Q4_0 and Q8_0 the row
 * layout of the file costs the AVX-512 VNNI kernels about as much work to
 * decode as to read; the R16 layout does not.  The rewrite runs on every
 * CPU in parallel, one matrix (expert) at a time, into one anonymous
 * mapping, and releases the file's pages of each matrix once copied so the
 * resident memory never holds both. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/errors.h"
#include "dispatch.h"
#include "model/model.h"
#include "r16.h"

#define MAX_THREADS 8

typedef struct job {
    lfm_weight *w; /* the weight to rewrite (data still the file's) */
    uint8_t *dst;  /* its place in the new mapping */
} job;

typedef struct work {
    job *jobs;
    int n_jobs;
    int64_t n_items;  /* matrices over all jobs */
    atomic_long next; /* next item to take */
    int release;      /* the source is a file mapping: drop its pages */
    size_t page;
} work;

/* Pages wholly inside [p, p + n): no other tensor has bytes there. */
static void release_pages(const work *wk, const void *p, size_t n) {
    uintptr_t a = ((uintptr_t)p + wk->page - 1) & ~(uintptr_t)(wk->page - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(wk->page - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED); /* best effort */
}

static void *worker(void *arg) {
    work *wk = arg;
    for (;;) {
        long item = atomic_fetch_add(&wk->next, 1);
        if (item >= wk->n_items) return NULL;
        int j = 0;
        while (item >= wk->jobs[j].w->n_mat)
            item -= wk->jobs[j++].w->n_mat;
        const lfm_weight *w = wk->jobs[j].w;
        const uint8_t *src = (const uint8_t *)w->data + (size_t)item * w->mat_bytes;
        lfm_r16_pack(w->type, src, wk->jobs[j].dst + (size_t)item * w->mat_bytes, w->n_rows,
                     w->n_cols);
        if (wk->release) release_pages(wk, src, w->mat_bytes);
    }
}

/* Every matrix the forward pass reads only through lfm_matmul_rows. */
static int matrices(lfm2moe_model *m, lfm_weight **out) {
    int n = 0;
    out[n++] = &m->output; /* tied or not: the lookup reads R16 rows too */
    for (int32_t i = 0; i < m->hp.n_block; i++) {
        for (size_t k = 0; k < LFM_BLOCK_N_MATRICES; k++)
            out[n++] = (lfm_weight *)((char *)&m->blocks[i] + lfm_block_matrix_offsets[k]);
    }
    return n;
}

int lfm_model_repack(lfm2moe_model *m, int lock) {
    if (!m->map) /* loaded from the caller's memory: zero-copy as promised */
        return LFM2MOE_OK;
    const lfm_kernels *k = lfm_kernels_active();
    lfm_weight **all = malloc(sizeof *all * (1 + LFM_BLOCK_N_MATRICES * (size_t)m->hp.n_block));
    job *jobs = malloc(sizeof *jobs * (1 + LFM_BLOCK_N_MATRICES * (size_t)m->hp.n_block));
    if (!all || !jobs) {
        free(all);
        free(jobs);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    const int n = matrices(m, all);
    const int tied = m->output.data == m->tok_embd.data; /* m->output a copy of m->tok_embd */
    int n_jobs = 0;
    size_t total = 0;
    int64_t n_items = 0;
    for (int i = 0; i < n; i++) {
        lfm_weight *w = all[i];
        if (!w->data || w->layout != LFM_LAYOUT_ROWS || !lfm_r16_supported(w->type) ||
            !lfm_kernels_prefer_r16(k, w->type) || w->n_rows % LFM_R16_ROWS)
            continue;
        jobs[n_jobs++] = (job){w, (uint8_t *)(uintptr_t)total};
        total += (w->mat_bytes * (size_t)w->n_mat + 63) & ~(size_t)63;
        n_items += w->n_mat;
    }
    free(all);
    if (!n_jobs) {
        free(jobs);
        return LFM2MOE_OK;
    }
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free(jobs);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY,
                        "cannot allocate %zu bytes for the rewritten weights "
                        "(loading without LFM2MOE_MODEL_REPACK needs none)",
                        total);
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(mem, total, MADV_HUGEPAGE); /* fewer page faults; best effort */
#endif
    for (int j = 0; j < n_jobs; j++)
        jobs[j].dst = (uint8_t *)mem + (uintptr_t)jobs[j].dst;
    work wk = {jobs, n_jobs, n_items, 0, 1, (size_t)sysconf(_SC_PAGESIZE)};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu;
    pthread_t tid[MAX_THREADS];
    int started = 0;
    while (started < n_threads - 1 && pthread_create(&tid[started], NULL, worker, &wk) == 0)
        started++;
    worker(&wk); /* and the caller; if no thread could start, alone */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    for (int j = 0; j < n_jobs; j++) {
        jobs[j].w->data = jobs[j].dst;
        jobs[j].w->layout = LFM_LAYOUT_R16;
    }
    if (tied) {
        m->tok_embd.data = m->output.data;
        m->tok_embd.layout = m->output.layout;
    }
    free(jobs);
    (void)mprotect(mem, total, PROT_READ); /* weights are read-only from here on */
    if (lock) (void)mlock(mem, total);     /* best effort, as for the file */
    m->repacked = mem;
    m->repacked_size = total;
    return LFM2MOE_OK;
}

void lfm_model_repack_free(lfm2moe_model *m) {
    if (m->repacked) munmap(m->repacked, m->repacked_size);
    m->repacked = NULL;
}
