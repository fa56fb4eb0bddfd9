/* The loaded model: hyperparameters from GGUF metadata and views of the
 * memory-mapped weight tensors.  Immutable after lfm2moe_model_load, so any
 * number of sessions may read it concurrently. */
#ifndef LFM_MODEL_H
#define LFM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"
#include "lfm2moe.h"
#include "weight.h"

struct lfm_vocab; /* tokenizer.c */

typedef struct lfm_hparams {
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_block;
    int32_t n_ctx_train;
    int32_t n_head;
    int32_t n_head_kv; /* of attention blocks (all must agree) */
    int32_t head_dim;
    int32_t n_ff;
    int32_t n_expert;
    int32_t n_expert_used;
    int32_t n_ff_exp;
    int32_t n_dense; /* leading dense-FFN blocks */
    int32_t l_cache; /* short-conv kernel length */
    int32_t n_swa;   /* sliding window of attention blocks (0: none) */
    float rope_freq_base;
    float rms_eps;
} lfm_hparams;

typedef struct lfm_block {
    int is_attention;    /* else gated short conv */
    int is_moe;          /* else dense SwiGLU */
    int attn_index;      /* index among attention blocks (KV cache slot) */
    int conv_index;      /* index among conv blocks (conv state slot) */
    lfm_weight op_norm;  /* attn_norm [n_embd] (used by both op kinds) */
    lfm_weight ffn_norm; /* [n_embd] */
    /* conv */
    lfm_weight conv_kernel; /* shortconv.conv ne {l_cache, n_embd} */
    lfm_weight in_proj;     /* ne {n_embd, 3*n_embd} */
    lfm_weight out_proj;    /* ne {n_embd, n_embd} */
    /* attention */
    lfm_weight wq, wk, wv, wo; /* q {n_embd, H*D}, k/v {n_embd, Hkv*D}, o {H*D, n_embd} */
    lfm_weight q_norm, k_norm; /* [D] */
    /* dense FFN */
    lfm_weight ffn_gate, ffn_up; /* {n_embd, n_ff} */
    lfm_weight ffn_down;         /* {n_ff, n_embd} */
    /* MoE FFN */
    lfm_weight router;             /* ffn_gate_inp {n_embd, n_expert} */
    lfm_weight exp_bias;           /* exp_probs_b [n_expert], F32 */
    lfm_weight gate_exps, up_exps; /* {n_embd, n_ff_exp, n_expert} */
    lfm_weight down_exps;          /* {n_ff_exp, n_embd, n_expert} */
} lfm_block;

/* Where in an lfm_block its weight matrices are (the ones the products
 * multiply by; absent ones have data NULL), for code that visits them all:
 * (lfm_weight *)((char *)block + lfm_block_matrix_offsets[k]). */
#define LFM_BLOCK_N_MATRICES 13
extern const size_t lfm_block_matrix_offsets[LFM_BLOCK_N_MATRICES];

struct lfm2moe_model {
    gguf_file gguf;
    void *map;       /* file mapping (NULL when loaded from memory) */
    uint8_t *header; /* metadata and tensor table, read with pread (files only) */
    size_t map_size;
    lfm_hparams hp;
    char *arch;
    lfm_weight tok_embd; /* {n_embd, n_vocab} */
    lfm_weight out_norm; /* token_embd_norm [n_embd] */
    lfm_weight output;   /* output head: `output` or tied to tok_embd */
    lfm_block *blocks;   /* n_block */
    int32_t n_attn_blocks;
    int32_t n_conv_blocks;
    uint64_t n_params;
    struct lfm_vocab *vocab; /* NULL if the file has no usable tokenizer */
    void *repacked;          /* weights rewritten at load (repack.c), or NULL */
    size_t repacked_size;
};

/* repack.c: rewrite the matrices the active kernels stream faster in
 * another layout (see LFM2MOE_MODEL_REPACK); lock them if `lock`.
 * Errors only for lack of memory. */
int lfm_model_repack(lfm2moe_model *m, int lock);
void lfm_model_repack_free(lfm2moe_model *m);

#endif
