/* Builds GGUF images in memory, byte by byte, for tests: valid ones (random
 * LFM2-MoE models of any shape) and deliberately broken ones. */
#ifndef GGUF_BUILDER_H
#define GGUF_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gb {
    uint8_t *buf;
    size_t len, cap;
} gb;

void gb_free(gb *b);
void gb_raw(gb *b, const void *p, size_t n);
void gb_u32(gb *b, uint32_t v);
void gb_u64(gb *b, uint64_t v);
void gb_str(gb *b, const char *s);
void gb_pad(gb *b, size_t align);
/* header: magic, version, n_tensors, n_kv */
void gb_header(gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
void gb_kv_u32(gb *b, const char *key, uint32_t v);
void gb_kv_f32(gb *b, const char *key, float v);
void gb_kv_str(gb *b, const char *key, const char *v);
void gb_kv_i32_array(gb *b, const char *key, const int32_t *v, size_t n);
/* tensor info entry: name, dims, ggml type, data offset */
void gb_tensor_info(gb *b, const char *name, int n_dims, const int64_t *ne, uint32_t type,
                    uint64_t offset);

/* Shape of a random test model (F32, or F16 for the matrices named in f16). */
typedef struct test_model_shape {
    int n_vocab, n_embd, n_block, n_head, n_head_kv, head_dim;
    int n_ff, n_expert, n_expert_used, n_ff_exp, n_dense, l_cache;
    const int *attn_blocks; /* indices of attention blocks */
    int n_attn;
    int tied;               /* no output.weight */
    const char *arch;       /* "lfm2moe" normally */
    uint32_t seed;
    float weight_scale;
    /* matrices whose name contains one of these are stored as F16, the
     * rest F32 (NULL-terminated; NULL: all F32) */
    const char *const *f16;
} test_model_shape;

/* A complete model image (metadata without a tokenizer). */
void gb_build_model(gb *b, const test_model_shape *sh);

#endif
