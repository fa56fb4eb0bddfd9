/* lfm2moe synth -o FILE [--type q4_0|q4_k_m|q8_0|q6_k|f16|...] [--shape NAME]
 * Writes a random-weight model in the published layout and type mix, for
 * benchmarks and tests without downloading weights (--sparse: tensor data
 * left as a hole, to check a shape's header and file size in no time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static int progress(void *user, uint64_t done, uint64_t total) {
    int *last = user, pct = total ? (int)(100 * done / total) : 100;
    if (pct != *last) fprintf(stderr, "\rwriting: %3d%% (%.2f GiB)", pct, (double)done / (1 << 30));
    *last = pct;
    return 0;
}

int cmd_synth(int argc, char **argv) {
    lfm2moe_synth_params sp;
    lfm2moe_synth_params_init(&sp);
    const char *out = NULL;
    int st;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            if ((st = lfm2moe_ftype_from_name(argv[++i], &sp.ftype))) return cli_fail("--type", st);
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            sp.shape = argv[++i];
        } else if (!strcmp(argv[i], "--sparse")) {
            sp.flags |= LFM2MOE_SYNTH_SPARSE;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            sp.seed = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: lfm2moe synth -o FILE [--type TYPE] [--shape SHAPE] [--seed N] "
                            "[--sparse]\n"
                            "shapes: lfm2-8b-a1b (default), lfm2-24b-a2b, lfm2-350m, lfm2-700m, "
                            "lfm2-1.2b, lfm2-2.6b, tiny\n");
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "lfm2moe synth: -o FILE is required\n");
        return 2;
    }
    int last = -1;
    sp.progress = progress;
    sp.user_data = &last;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = lfm2moe_model_synthesize(out, &sp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "\n");
    if (st) return cli_fail(out, st);
    struct stat sb;
    const double gib = stat(out, &sb) == 0 ? (double)sb.st_size / (1 << 30) : 0.0;
    fprintf(stderr, "wrote %s (%s, %s, %.2f GiB%s) in %.1f s\n", out, sp.shape,
            lfm2moe_ftype_name(sp.ftype), gib, sp.flags & LFM2MOE_SYNTH_SPARSE ? ", sparse" : "",
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}
