/* lfm2moe info -m MODEL [--ctx N[,N...] [-t THREADS]]: what a GGUF file
 * holds, as the library sees it; with --ctx, the memory of a session of
 * each context length for each KV cache type (lfm2moe_session_memory_size). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* KV bytes per token of each cache type, and lfm2moe_session_memory_size
 * for each context of the comma-separated list. */
static int print_session_memory(const lfm2moe_model *model, const lfm2moe_model_info *in,
                                const char *ctx_list, int threads) {
    const long long elems = 2LL * in->n_attention_block * in->n_head_kv * in->head_dim;
    printf("KV cache per token (%d attention blocks x K,V x %d kv heads x %d): %lld elements: "
           "f32 %lld B, f16 %lld B, q8_0 %lld B\n",
           in->n_attention_block, in->n_head_kv, in->head_dim, elems, elems * 4, elems * 2,
           elems * 34 / 32);
    printf("session memory (lfm2moe_session_memory_size: KV cache, conv state, scratch for the "
           "default n_batch, %d threads):\n",
           threads);
    printf("  %8s %12s %12s %12s\n", "n_ctx", "f32 MiB", "f16 MiB", "q8_0 MiB");
    for (const char *c = ctx_list; *c;) {
        char *end;
        long n_ctx = strtol(c, &end, 10);
        if (end == c || n_ctx < 1 || n_ctx > 0x7fffffffL || (*end && *end != ',')) {
            fprintf(stderr, "lfm2moe info: bad --ctx list '%s'\n", ctx_list);
            return 2;
        }
        printf("  %8ld", n_ctx);
        for (int t = 0; t < 3; t++) {
            lfm2moe_session_params sp;
            lfm2moe_session_params_init(&sp);
            sp.n_ctx = (int32_t)n_ctx;
            sp.n_threads = threads;
            sp.kv_type = t;
            uint64_t bytes = 0;
            int st = lfm2moe_session_memory_size(model, &sp, &bytes);
            if (st)
                printf(" %12s", lfm2moe_status_string(st));
            else
                printf(" %12.1f", (double)bytes / (1024.0 * 1024.0));
        }
        printf("\n");
        c = *end ? end + 1 : end;
    }
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL, *ctx_list = NULL;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--ctx") && i + 1 < argc)
            ctx_list = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: lfm2moe info -m MODEL [--ctx N[,N...] [-t THREADS]]\n");
            return 2;
        }
    }
    lfm2moe_model *model = cli_load_model(path);
    if (!model) return 1;
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
    if (in.sliding_window > 0) printf(", sliding window %d", in.sliding_window);
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

    /* tensor count per type, in order of first appearance */
    struct type_count {
        uint32_t type;
        const char *name;
        unsigned long long count, bytes;
    } per[64];
    int n_per = 0;
    for (uint64_t i = 0; i < in.n_tensors; i++) {
        lfm2moe_tensor_info ti = {.struct_size = sizeof ti};
        if (lfm2moe_model_tensor_info(model, i, &ti) != LFM2MOE_OK) continue;
        int k = 0;
        while (k < n_per && per[k].type != ti.type)
            k++;
        if (k == n_per && n_per < 64)
            per[n_per++] = (struct type_count){ti.type, ti.type_name, 0, 0};
        if (k < n_per) {
            per[k].count++;
            per[k].bytes += ti.size;
        }
    }
    printf("tensors:       %llu\n", (unsigned long long)in.n_tensors);
    for (int k = 0; k < n_per; k++)
        printf("  %-8s %5llu tensors %10.2f MiB\n", per[k].name, per[k].count,
               (double)per[k].bytes / (1024.0 * 1024.0));
    int rc = ctx_list ? print_session_memory(model, &in, ctx_list, threads) : 0;
    lfm2moe_model_free(model);
    return rc;
}
