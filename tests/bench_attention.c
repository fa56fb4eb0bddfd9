/* Attention tile speed at every ISA level (one thread): one attention
 * block of LFM2-8B-A1B's shape (H=32 query heads, Hkv=8 kv heads, D=64),
 * a 512-token prefill from an empty cache and one decode step at position
 * 4095, one tile per kv head, for each KV cache type.
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
static double time_block(lfm_attn_fn f, int H, int Hkv, int D, int64_t pos0, int n, const float *q,
                         const uint8_t *kc, const uint8_t *vc, int64_t head, float *out,
                         float *scratch) {
    const int G = H / Hkv;
    double best = 1e30;
    for (int run = 0; run < 7; run++) {
        int reps = 0;
        double t0 = now(), el;
        do {
            for (int g = 0; g < Hkv; g++) {
                lfm_attn_tile a = {.out = out + g * G * D,
                                   .q = q + g * G * D,
                                   .out_stride = (int64_t)H * D,
                                   .q_stride = (int64_t)H * D,
                                   .k = kc + g * head,
                                   .v = vc + g * head,
                                   .pos0 = pos0,
                                   .n = n,
                                   .G = G,
                                   .D = D,
                                   .scale = 1.0f / sqrtf((float)D),
                                   .scratch = scratch};
                f(&a);
            }
            reps++;
        } while ((el = now() - t0) < 0.04);
        if (1e3 * el / reps < best) best = 1e3 * el / reps;
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
    float *q = malloc(sizeof(float) * (size_t)T * H * D);
    float *out = malloc(sizeof(float) * (size_t)T * H * D);
    float *key = malloc(sizeof(float) * (size_t)D), *val = malloc(sizeof(float) * (size_t)D);
    float *scratch = malloc(sizeof(float) * lfm_attn_scratch_floats(ctx, D));
    if (!q || !out || !key || !val || !scratch) return 1;
    srand(1);
    for (int64_t i = 0; i < (int64_t)T * H * D; i++)
        q[i] = (float)rand() / RAND_MAX * 4 - 2;
    static const char *const kv_names[] = {"f32", "f16", "q8_0"};
    for (int kvt = 0; kvt < LFM_KV_COUNT; kvt++) {
        if (!lfm_kv_type_fits(kvt, D)) continue;
        const int64_t head = lfm_kv_head_bytes(kvt, ctx, D);
        uint8_t *kc = malloc((size_t)(Hkv * head)), *vc = malloc((size_t)(Hkv * head));
        if (!kc || !vc) return 1;
        for (int g = 0; g < Hkv; g++)
            for (int64_t p = 0; p < ctx; p++) {
                for (int i = 0; i < D; i++) {
                    key[i] = (float)rand() / RAND_MAX * 4 - 2;
                    val[i] = (float)rand() / RAND_MAX * 2 - 1;
                }
                lfm_kv_store(kvt, kc + g * head, vc + g * head, p, key, val, D);
            }
        printf("attention H=%d Hkv=%d D=%d, KV cache %s, 1 thread; ms per block (speedup vs "
               "scalar)\n",
               H, Hkv, D, kv_names[kvt]);
        double base[2] = {0, 0};
        lfm_attn_fn prev = NULL;
        for (int isa = 0; isa < 16; isa++) {
            const lfm_kernels *k = lfm_kernels_at(isa);
            if (!k || (isa > 0 && k->attn[kvt] == prev))
                continue; /* levels sharing one tile kernel: timed once */
            prev = k->attn[kvt];
            const double pre =
                time_block(k->attn[kvt], H, Hkv, D, 0, T, q, kc, vc, head, out, scratch);
            const double dec =
                time_block(k->attn[kvt], H, Hkv, D, dpos, 1, q, kc, vc, head, out, scratch);
            if (isa == 0) base[0] = pre, base[1] = dec;
            printf("%-12s prefill %d: %8.3f (%.1fx)   decode at %lld: %7.3f (%.1fx)\n",
                   lfm_isa_name(isa), T, pre, base[0] / pre, (long long)dpos, dec, base[1] / dec);
        }
        free(kc);
        free(vc);
    }
    free(q);
    free(out);
    free(key);
    free(val);
    free(scratch);
    return 0;
}
