#include "gguf_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm_types.h"

/* ---- random models ---------------------------------------------------- */

typedef struct tdesc {
    char name[64];
    int n_dims;
    int64_t ne[3];
    int kind; /* 0 random matrix, 1 norm (around 1), 2 bias (small), 3 conv */
} tdesc;

static uint32_t rng_next(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static float rng_unit(uint32_t *s) { /* uniform in [-1, 1) */
    return (float)((rng_next(s) >> 8) * (1.0 / 8388608.0) - 1.0);
}

static void add(tdesc *t, int *n, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                int kind) {
    tdesc *d = &t[(*n)++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->n_dims = nd;
    d->ne[0] = a;
    d->ne[1] = b;
    d->ne[2] = c;
    d->kind = kind;
}

static int is_f16(const test_model_shape *sh, const tdesc *t) {
    for (const char *const *p = sh->f16; p && *p; p++)
        if (t->kind == 0 && strstr(t->name, *p)) return 1;
    return 0;
}

void gb_build_model(strbuf *img, const test_model_shape *sh) {
    gguf_writer w = gw_memory(img);
    tdesc *t = calloc((size_t)(8 + 20 * sh->n_block), sizeof *t);
    int n = 0;
    char nm[64];
    const int64_t E = sh->n_embd, D = sh->head_dim;
    add(t, &n, "token_embd.weight", 2, E, sh->n_vocab, 1, 0);
    add(t, &n, "token_embd_norm.weight", 1, E, 1, 1, 1);
    if (!sh->tied) add(t, &n, "output.weight", 2, E, sh->n_vocab, 1, 0);
    int32_t *kvh = calloc((size_t)sh->n_block, sizeof *kvh);
    for (int i = 0; i < sh->n_attn; i++)
        kvh[sh->attn_blocks[i]] = sh->n_head_kv;
    for (int blk = 0; blk < sh->n_block; blk++) {
#define T(suffix, nd, a, bb, c, kind)                                                              \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "blk.%d.%s", blk, suffix);                                         \
        add(t, &n, nm, nd, a, bb, c, kind);                                                        \
    } while (0)
        T("attn_norm.weight", 1, E, 1, 1, 1);
        T("ffn_norm.weight", 1, E, 1, 1, 1);
        if (kvh[blk]) {
            T("attn_q.weight", 2, E, sh->n_head * D, 1, 0);
            T("attn_k.weight", 2, E, sh->n_head_kv * D, 1, 0);
            T("attn_v.weight", 2, E, sh->n_head_kv * D, 1, 0);
            T("attn_output.weight", 2, sh->n_head * D, E, 1, 0);
            T("attn_q_norm.weight", 1, D, 1, 1, 1);
            T("attn_k_norm.weight", 1, D, 1, 1, 1);
        } else {
            T("shortconv.conv.weight", 2, sh->l_cache, E, 1, 3);
            T("shortconv.in_proj.weight", 2, E, 3 * E, 1, 0);
            T("shortconv.out_proj.weight", 2, E, E, 1, 0);
        }
        if (blk < sh->n_dense) {
            T("ffn_gate.weight", 2, E, sh->n_ff, 1, 0);
            T("ffn_up.weight", 2, E, sh->n_ff, 1, 0);
            T("ffn_down.weight", 2, sh->n_ff, E, 1, 0);
        } else {
            T("ffn_gate_inp.weight", 2, E, sh->n_expert, 1, 0);
            T("exp_probs_b.bias", 1, sh->n_expert, 1, 1, 2);
            T("ffn_gate_exps.weight", 3, E, sh->n_ff_exp, sh->n_expert, 0);
            T("ffn_up_exps.weight", 3, E, sh->n_ff_exp, sh->n_expert, 0);
            T("ffn_down_exps.weight", 3, sh->n_ff_exp, E, sh->n_expert, 0);
        }
#undef T
    }
    const char *arch = sh->arch ? sh->arch : "lfm2moe";
    char key[96];
    gw_header(&w, (uint64_t)n, 17);
    gw_kv_str(&w, "general.architecture", arch);
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    gw_kv_u32(&w, K("context_length"), 4096);
    gw_kv_u32(&w, K("embedding_length"), (uint32_t)E);
    gw_kv_u32(&w, K("feed_forward_length"), (uint32_t)sh->n_ff);
    gw_kv_u32(&w, K("block_count"), (uint32_t)sh->n_block);
    gw_kv_u32(&w, K("attention.head_count"), (uint32_t)sh->n_head);
    gw_kv_i32_array(&w, K("attention.head_count_kv"), kvh, (size_t)sh->n_block);
    gw_kv_f32(&w, K("rope.freq_base"), 1e6f);
    gw_kv_f32(&w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
    gw_kv_u32(&w, K("expert_count"), (uint32_t)sh->n_expert);
    gw_kv_u32(&w, K("expert_used_count"), (uint32_t)sh->n_expert_used);
    gw_kv_u32(&w, K("expert_feed_forward_length"), (uint32_t)sh->n_ff_exp);
    gw_kv_u32(&w, K("leading_dense_block_count"), (uint32_t)sh->n_dense);
    gw_kv_u32(&w, K("expert_gating_func"), 2);
    gw_kv_u32(&w, K("vocab_size"), (uint32_t)sh->n_vocab);
    gw_kv_u32(&w, K("shortconv.l_cache"), (uint32_t)sh->l_cache);
    gw_kv_u32(&w, K("attention.key_length"), (uint32_t)D);
#undef K
    gw_tensor *table = calloc((size_t)n, sizeof *table);
    for (int i = 0; i < n; i++) {
        const int f16 = is_f16(sh, &t[i]);
        table[i] = (gw_tensor){t[i].name,
                               (uint32_t)t[i].n_dims,
                               {t[i].ne[0], t[i].ne[1], t[i].ne[2], 1},
                               f16 ? LFM_TYPE_F16 : LFM_TYPE_F32,
                               (uint64_t)(t[i].ne[0] * t[i].ne[1] * t[i].ne[2]) * (f16 ? 2 : 4)};
    }
    gw_tensor_table(&w, table, (uint64_t)n, 32);
    free(table);
    uint32_t seed = sh->seed ? sh->seed : 12345;
    float scale = sh->weight_scale > 0 ? sh->weight_scale : 1.0f;
    for (int i = 0; i < n; i++) {
        const int f16 = is_f16(sh, &t[i]);
        int64_t cnt = t[i].ne[0] * t[i].ne[1] * t[i].ne[2];
        float amp = scale / sqrtf((float)t[i].ne[0]); /* keeps activations O(1) */
        for (int64_t j = 0; j < cnt; j++) {
            float v;
            switch (t[i].kind) {
            case 1: v = 1.0f + 0.2f * rng_unit(&seed); break;
            case 2: v = 0.1f * rng_unit(&seed); break;
            case 3: v = 0.5f * rng_unit(&seed); break;
            default: v = 1.7f * amp * rng_unit(&seed); break;
            }
            if (f16) {
                const uint16_t h = lfm_f32_to_fp16(v);
                gw_raw(&w, &h, 2);
            } else {
                gw_raw(&w, &v, 4);
            }
        }
        gw_pad(&w, 32);
    }
    free(kvh);
    free(t);
}
