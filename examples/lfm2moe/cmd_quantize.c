/* lfm2moe quantize IN.gguf OUT.gguf TYPE
 * lfm2moe quantize --repack IN.gguf OUT.gguf
 * Re-encodes a model with the type mix of TYPE (Q8_0, Q4_0, Q4_K_M, ...),
 * copying all metadata; or, with --repack, keeps every type and rewrites the
 * Q4_0/Q8_0 matrices in the layout the AVX512_VNNI kernels stream fastest
 * (LFM2MOE_QUANTIZE_REPACK).  See lfm2moe_model_quantize. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int show_progress(void *user, uint64_t done, uint64_t total) {
    int *last = user, pct = total ? (int)(100 * done / total) : 100;
    if (pct != *last) fprintf(stderr, "\rquantizing: %3d%%", pct);
    *last = pct;
    return 0;
}

int cmd_quantize(int argc, char **argv) {
    const int repack = argc == 4 && !strcmp(argv[1], "--repack");
    if (argc != 4) {
        fprintf(stderr, "usage: lfm2moe quantize IN.gguf OUT.gguf TYPE\n"
                        "       lfm2moe quantize --repack IN.gguf OUT.gguf\n"
                        "types: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_S Q4_K_M "
                        "Q5_K_S Q5_K_M Q6_K\n");
        return 2;
    }
    lfm2moe_quantize_params qp;
    lfm2moe_quantize_params_init(&qp);
    int st = LFM2MOE_OK;
    if (repack) {
        qp.flags |= LFM2MOE_QUANTIZE_REPACK;
        argv++; /* IN OUT in argv[1], argv[2] */
    } else if ((st = lfm2moe_ftype_from_name(argv[3], &qp.ftype)))
        return cli_fail("quantize", st);
    int last_pct = -1;
    qp.progress = show_progress;
    qp.user_data = &last_pct;
    st = lfm2moe_model_quantize(argv[1], argv[2], &qp);
    fprintf(stderr, "\n");
    if (st) return cli_fail(argv[1], st);
    fprintf(stderr, "wrote %s (%s)\n", argv[2],
            repack ? "repacked for AVX512_VNNI" : lfm2moe_ftype_name(qp.ftype));
    return 0;
}
