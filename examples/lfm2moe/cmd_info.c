/* lfm2moe info -m MODEL: what a GGUF file holds, as the library sees it. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: lfm2moe info -m MODEL\n");
            return 2;
        }
    }
    lfm2moe_model *model = cli_load_model(path);
    if (!model)
        return 1;
    lfm2moe_model_info in = {.struct_size = sizeof in};
    const char *arch = NULL;
    lfm2moe_model_get_info(model, &in);
    lfm2moe_model_architecture(model, &arch);
    char name[256] = "";
    lfm2moe_model_meta_string(model, "general.name", name, sizeof name, NULL);

    printf("file:          %s (%.2f MiB)\n", path, (double)in.file_size / (1024.0 * 1024.0));
    printf("name:          %s\n", name);
    printf("architecture:  %s\n", arch);
    printf("parameters:    %llu (%.2f B)\n", (unsigned long long)in.n_params,
           (double)in.n_params / 1e9);
    printf("vocab:         %d\n", in.n_vocab);
    printf("hidden:        %d\n", in.n_embd);
    printf("blocks:        %d (%d attention, %d conv; %d dense FFN, %d MoE)\n", in.n_block,
           in.n_attention_block, in.n_block - in.n_attention_block, in.n_dense_block,
           in.n_block - in.n_dense_block);
    printf("attention:     %d query heads, %d kv heads, head dim %d, rope base %g", in.n_head,
           in.n_head_kv, in.head_dim, (double)in.rope_freq_base);
    if (in.sliding_window > 0)
        printf(", sliding window %d", in.sliding_window);
    printf("\n");
    printf("conv:          kernel length %d\n", in.conv_l_cache);
    if (in.n_expert > 0)
        printf("ffn:           dense %d; %d experts of %d, %d used per token\n", in.n_ff,
               in.n_expert, in.n_ff_expert, in.n_expert_used);
    else
        printf("ffn:           dense %d in every block\n", in.n_ff);
    printf("context:       %d (trained)\n", in.n_ctx_train);
    printf("rms eps:       %g\n", (double)in.rms_norm_eps);
    printf("layers:        ");
    for (int32_t b = 0; b < in.n_block; b++) {
        int32_t op, ffn;
        lfm2moe_model_block_kind(model, b, &op, &ffn);
        printf("%s%s%s", b ? " " : "", op == LFM2MOE_BLOCK_ATTENTION ? "A" : "C",
               ffn == LFM2MOE_FFN_MOE ? "m" : "d");
    }
    printf("   (A attention, C conv; d dense, m MoE)\n");

    /* tensor count per type, in type-id order */
    unsigned long long count[64] = {0}, bytes[64] = {0};
    for (uint64_t i = 0; i < in.n_tensors; i++) {
        lfm2moe_tensor_info ti = {.struct_size = sizeof ti};
        if (lfm2moe_model_tensor_info(model, i, &ti) == LFM2MOE_OK && ti.type < 64) {
            count[ti.type]++;
            bytes[ti.type] += ti.size;
        }
    }
    printf("tensors:       %llu\n", (unsigned long long)in.n_tensors);
    for (uint64_t i = 0; i < in.n_tensors; i++) {
        lfm2moe_tensor_info ti = {.struct_size = sizeof ti};
        if (lfm2moe_model_tensor_info(model, i, &ti) || ti.type >= 64 || !count[ti.type])
            continue;
        printf("  %-8s %5llu tensors %10.2f MiB\n", ti.type_name, count[ti.type],
               (double)bytes[ti.type] / (1024.0 * 1024.0));
        count[ti.type] = 0; /* print each type once */
    }
    lfm2moe_model_free(model);
    return 0;
}
