/* Matmul throughput at every ISA level (one thread): a full-size-shaped
 * weight matrix (default 1792 rows x 2048 columns, LFM2-8B-A1B's expert
 * gate/up shape) times 1 activation row (decode) and 16 (prefill).
 *   bench_matmul [rows cols [types...]]      types: q4_0 q8_0 q4_k ...
 *   BENCH_NT=64 bench_matmul ...             the prefill batch (default 16)
 *   BENCH_ISA=avx512_vnni bench_matmul ...   that level only (no speedups)
 *   BENCH_R16=1 bench_matmul ...             the types with an R16 form in it (r16.h),
 *   BENCH_OFFSET=32 ...                      at that offset from a 64-byte boundary
 * `meson test --benchmark -C build` runs it with the defaults. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dispatch.h"
#include "lfm2moe.h"
#include "matmul.h"
#include "quant.h"
#include "r16.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* time on the CPU: the machine is shared */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t type_by_name(const char *s) {
    for (uint32_t t = 0; t < LFM_TYPE_COUNT; t++) {
        const lfm_type_layout *l = lfm_type_layout_get(t);
        if (l && l->name && strcasecmp(l->name, s) == 0) return t;
    }
    return UINT32_MAX;
}

int main(int argc, char **argv) {
    int64_t rows = argc > 2 ? atoll(argv[1]) : 1792, cols = argc > 2 ? atoll(argv[2]) : 2048;
    const char *defaults[] = {"q4_0", "q8_0", "q4_K", "q5_K", "q6_K", "f16"};
    const char **names = argc > 3 ? (const char **)argv + 3 : defaults;
    int n_names = argc > 3 ? argc - 3 : (int)(sizeof defaults / sizeof defaults[0]);
    int best = 0;
    lfm2moe_isa_detected(&best);
    /* the prefill batch: 16, or BENCH_NT (e.g. 64, an expert's share of a
     * 512-token chunk) */
    const char *nt_env = getenv("BENCH_NT");
    const int T = nt_env && atoi(nt_env) > 1 ? atoi(nt_env) : 16;
    const char *isa_env = getenv("BENCH_ISA");
    const int only = isa_env ? lfm_isa_parse(isa_env) : -1;
    float *x = malloc((size_t)(rows > T ? rows : T) * (size_t)cols * sizeof(float));
    float *y = malloc((size_t)T * (size_t)rows * sizeof(float));
    srand(1);
    for (int64_t i = 0; i < (rows > T ? rows : T) * cols; i++)
        x[i] = (float)rand() / RAND_MAX * 2 - 1;
    printf("%lld x %lld, 1 thread; ms per product (speedup vs scalar), GB/s of weights at n=1,\n"
           "GMAC/s at n=%d\n",
           (long long)rows, (long long)cols, T);
    for (int ni = 0; ni < n_names; ni++) {
        uint32_t t = type_by_name(names[ni]);
        if (t == UINT32_MAX || !lfm_quant_can_quantize(t) ||
            cols % lfm_type_layout_get(t)->block_size) {
            printf("%s: skipped\n", names[ni]);
            continue;
        }
        size_t rb = lfm_row_bytes(t, cols);
        uint8_t *W = malloc(rb * (size_t)rows);
        for (int64_t r = 0; r < rows; r++)
            lfm_quantize_row(t, x + r * cols, W + (size_t)r * rb, cols);
        void *xq = malloc(lfm_act_row_bytes(t, cols) * T);
        lfm_weight w = {W, "bench", t, cols, rows, 1, rb, rb * (size_t)rows, LFM_LAYOUT_ROWS};
        if (getenv("BENCH_R16") && lfm_r16_supported(t) && rows % LFM_R16_ROWS == 0) {
            /* on a 64-byte boundary + BENCH_OFFSET (a GGUF file aligns its
             * tensors to 32 bytes only) */
            const size_t off =
                getenv("BENCH_OFFSET") ? (size_t)atoi(getenv("BENCH_OFFSET")) % 64 : 0;
            uint8_t *P = aligned_alloc(64, (rb * (size_t)rows + 127) / 64 * 64);
            lfm_r16_pack(t, W, P + off, rows, cols);
            free(W);
            W = P;
            w.data = P + off;
            w.layout = LFM_LAYOUT_R16;
        }
        for (int nt = 1; nt <= T; nt += T - 1) {
            double base = 0;
            printf("%-5s n=%-2d", lfm_type_name(t), nt);
            for (int isa = 0; isa <= best; isa++) {
                int active = -1;
                if ((only >= 0 && isa != only) || lfm2moe_isa_set_max(isa) ||
                    lfm2moe_isa_active(&active) || active != isa)
                    continue;
                lfm_encode_acts(t, x, cols, nt, cols, xq);
                /* best of 7 runs of >= 40 ms: the machine is shared */
                double ms = 1e30;
                for (int run = 0; run < 7; run++) {
                    int reps = 0;
                    double t0 = now(), el;
                    do {
                        lfm_matmul_rows(&w, 0, xq, nt, y, rows, 0, rows);
                        reps++;
                    } while ((el = now() - t0) < 0.04);
                    if (1e3 * el / reps < ms) ms = 1e3 * el / reps;
                }
                if (isa == 0) base = ms;
                printf("  %s %.3f (", lfm2moe_isa_name(isa), ms);
                if (base > 0) printf("%.1fx, ", base / ms);
                if (nt == 1)
                    printf("%.1f GB/s)", (double)rb * (double)rows / (ms * 1e6));
                else
                    printf("%.1f GMAC/s)", (double)rows * (double)cols * nt / (ms * 1e6));
            }
            printf("\n");
        }
        free(W);
        free(xq);
    }
    lfm2moe_isa_set_max(best);
    free(x);
    free(y);
    return 0;
}
