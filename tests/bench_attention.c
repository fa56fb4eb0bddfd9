/* Attention tile speed at every ISA level (one thread): one attention
 * block of LFM2-8B-A1B's shape (H=32 query heads, Hkv=8 kv heads, D=64),
 * a 512-token prefill from an empty cache and one decode step at position
 * 4095, one tile per kv head.
 *   bench_attention [H Hkv D prefill_tokens decode_pos]
 * `meson test --benchmark -C build` runs it with the defaults. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "attention.h"
#include "dispatch.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* time on the CPU: the machine is shared */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ms for all kv heads' tiles of n tokens at pos0 with kernel f: best of 7
 * runs of >= 40 ms */
static double time_block(lfm_attn_fn f, int H, int Hkv, int D, int64_t pos0, int n,
                         const float *q, const float *kc, const float *vc, float *out,
                         float *scratch) {
    const int G = H / Hkv;
    const int64_t pa = lfm_attn_ctx_alloc(pos0 + n);
    double best = 1e30;
    for (int run = 0; run < 7; run++) {
        int reps = 0;
        double t0 = now(), el;
        do {
            for (int g = 0; g < Hkv; g++) {
                lfm_attn_tile a = {.out = out + g * G * D, .q = q + g * G * D,
                                   .out_stride = (int64_t)H * D, .q_stride = (int64_t)H * D,
                                   .k = kc + g * pa * D, .v = vc + g * pa * D, .pos0 = pos0,
                                   .n = n, .G = G, .D = D, .scale = 1.0f / sqrtf((float)D),
                                   .scratch = scratch};
                f(&a);
            }
            reps++;
        } while ((el = now() - t0) < 0.04);
        if (1e3 * el / reps < best)
            best = 1e3 * el / reps;
    }
    return best;
}

int main(int argc, char **argv) {
    const int H = argc > 5 ? atoi(argv[1]) : 32, Hkv = argc > 5 ? atoi(argv[2]) : 8;
    const int D = argc > 5 ? atoi(argv[3]) : 64, T = argc > 5 ? atoi(argv[4]) : 512;
    const int64_t dpos = argc > 5 ? atoll(argv[5]) : 4095;
    if (H <= 0 || Hkv <= 0 || H % Hkv || D <= 0 || T <= 0 || dpos < 0) {
        fprintf(stderr, "usage: bench_attention [H Hkv D prefill_tokens decode_pos]\n");
        return 1;
    }
    const int64_t ctx = dpos + 1 > T ? dpos + 1 : T;
    const int64_t pa = lfm_attn_ctx_alloc(ctx);
    float *q = malloc(sizeof(float) * (size_t)T * H * D);
    float *out = malloc(sizeof(float) * (size_t)T * H * D);
    float *kc = malloc(sizeof(float) * (size_t)(Hkv * pa * D));
    float *vc = malloc(sizeof(float) * (size_t)(Hkv * pa * D));
    float *scratch = malloc(sizeof(float) * lfm_attn_scratch_floats(ctx, D));
    if (!q || !out || !kc || !vc || !scratch)
        return 1;
    srand(1);
    for (int64_t i = 0; i < (int64_t)T * H * D; i++)
        q[i] = (float)rand() / RAND_MAX * 4 - 2;
    for (int64_t i = 0; i < Hkv * pa * D; i++) {
        kc[i] = (float)rand() / RAND_MAX * 4 - 2;
        vc[i] = (float)rand() / RAND_MAX * 2 - 1;
    }
    printf("attention H=%d Hkv=%d D=%d, 1 thread; ms per block (speedup vs scalar)\n", H, Hkv,
           D);
    double base[2] = {0, 0};
    lfm_attn_fn prev = NULL;
    for (int isa = 0; isa < 16; isa++) {
        const lfm_kernels *k = lfm_kernels_at(isa);
        if (!k || (isa > 0 && k->attn[LFM_KV_F32] == prev))
            continue; /* levels sharing one tile kernel: timed once */
        prev = k->attn[LFM_KV_F32];
        const double pre = time_block(k->attn[LFM_KV_F32], H, Hkv, D, 0, T, q, kc, vc, out, scratch);
        const double dec = time_block(k->attn[LFM_KV_F32], H, Hkv, D, dpos, 1, q, kc, vc, out, scratch);
        if (isa == 0)
            base[0] = pre, base[1] = dec;
        printf("%-12s prefill %d: %8.3f (%.1fx)   decode at %lld: %7.3f (%.1fx)\n",
               lfm_isa_name(isa), T, pre, base[0] / pre, (long long)dpos, dec, base[1] / dec);
    }
    free(q);
    free(out);
    free(kc);
    free(vc);
    free(scratch);
    return 0;
}
