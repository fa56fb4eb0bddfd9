/* Random LFM2-MoE models of any shape as GGUF images in memory, for tests,
 * written with the library's own writer (lib/files/gguf_writer.h, which the
 * tests also use byte by byte for deliberately broken images). */
#ifndef GGUF_BUILDER_H
#define GGUF_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "files/gguf_writer.h"

/* Shape of a random test model (F32, or F16 for the matrices named in f16). */
typedef struct test_model_shape {
    int n_vocab, n_embd, n_block, n_head, n_head_kv, head_dim;
    int n_ff, n_expert, n_expert_used, n_ff_exp, n_dense, l_cache;
    const int *attn_blocks; /* indices of attention blocks */
    int n_attn;
    int tied;         /* no output.weight */
    const char *arch; /* "lfm2moe" normally */
    uint32_t seed;
    float weight_scale;
    /* matrices whose name contains one of these are stored as F16, the
     * rest F32 (NULL-terminated; NULL: all F32) */
    const char *const *f16;
} test_model_shape;

/* A complete model image (metadata without a tokenizer), appended to *img. */
void gb_build_model(strbuf *img, const test_model_shape *sh);

#endif
