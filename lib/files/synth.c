/* Synthetic models: random weights in the published layout and type mix.
 * Writing billions of freshly quantized values would take many minutes, so
 * each (type, row length) gets a small pool of rows quantized once from
 * Gaussian-like values, and every tensor row is a random pick from its
 * pool: the bytes are valid blocks of realistic magnitude, the file is
 * written at disk speed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "files/gguf_writer.h"
#include "quant.h"
#include "files/quantize.h"
#include "files/synth_vocab.h"

/* A published shape.  Dense members (arch "lfm2") have no experts and a
 * dense FFN in every block (n_dense = n_block). */
typedef struct synth_shape {
    const char *name, *arch;
    int n_vocab, n_embd, n_block, n_head, n_head_kv, head_dim;
    int n_ff, n_expert, n_expert_used, n_ff_exp, n_dense, l_cache, n_ctx;
    int attn[16], n_attn;
} synth_shape;

/* Hidden size, blocks, heads and FFN widths as published (the dense ones
 * reproduce the parameter counts of their model cards exactly:
 * 354,483,968 / 742,489,344 / 1,170,340,608 / 2,569,272,320).  Where the
 * attention positions are not published (2.6B: 8 of 30 blocks; 24B-A2B: 10
 * of 40) they are spread like the smaller members' and the 24B-A2B's two
 * leading dense FFNs are taken as wide as the 8B-A1B's: neither changes the
 * file size or the work per token. */
static const synth_shape shapes[] = {
    {"lfm2-8b-a1b",
     "lfm2moe",
     65536,
     2048,
     24,
     32,
     8,
     64,
     7168,
     32,
     4,
     1792,
     2,
     3,
     128000,
     {2, 6, 10, 14, 18, 21},
     6},
    {"lfm2-24b-a2b",
     "lfm2moe",
     65536,
     2048,
     40,
     32,
     8,
     64,
     7168,
     64,
     4,
     1536,
     2,
     3,
     32768,
     {2, 6, 10, 14, 18, 22, 26, 30, 34, 38},
     10},
    {"lfm2-350m",
     "lfm2",
     65536,
     1024,
     16,
     16,
     8,
     64,
     4608,
     0,
     0,
     0,
     16,
     3,
     128000,
     {2, 5, 8, 10, 12, 14},
     6},
    {"lfm2-700m",
     "lfm2",
     65536,
     1536,
     16,
     24,
     8,
     64,
     6912,
     0,
     0,
     0,
     16,
     3,
     128000,
     {2, 5, 8, 10, 12, 14},
     6},
    {"lfm2-1.2b",
     "lfm2",
     65536,
     2048,
     16,
     32,
     8,
     64,
     8192,
     0,
     0,
     0,
     16,
     3,
     128000,
     {2, 5, 8, 10, 12, 14},
     6},
    {"lfm2-2.6b",
     "lfm2",
     65536,
     2048,
     30,
     32,
     8,
     64,
     10752,
     0,
     0,
     0,
     30,
     3,
     128000,
     {2, 6, 10, 14, 18, 21, 24, 27},
     8},
    {"tiny", "lfm2moe", 512, 256, 6, 4, 2, 64, 512, 8, 2, 256, 1, 3, 4096, {2, 5}, 2},
};

LFM2MOE_API int lfm2moe_synth_params_init(lfm2moe_synth_params *p) {
    LFM_CHECK_ARG(p, "NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->ftype = LFM2MOE_FTYPE_Q4_0;
    p->shape = "lfm2-8b-a1b";
    p->seed = 1;
    return LFM2MOE_OK;
}

typedef struct tensor_plan {
    char name[64];
    uint32_t n_dims;
    int64_t ne[3];
    uint32_t type;
    int kind; /* 0 matrix, 1 norm, 2 zero bias, 3 conv kernel */
} tensor_plan;

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_gauss(uint64_t *s) { /* sum of 4 uniforms: mean 0, variance 1/3 */
    float v = 0;
    for (int i = 0; i < 4; i++)
        v += (float)((rng_next(s) >> 40) * (1.0 / 16777216.0)) - 0.5f;
    return v * 1.7320508f;
}

static void add(tensor_plan *t, int *n, int kind, uint32_t nd, int64_t a, int64_t b, int64_t c,
                const char *fmt, int blk) {
    tensor_plan *p = &t[(*n)++];
    snprintf(p->name, sizeof p->name, fmt, blk);
    p->n_dims = nd;
    p->ne[0] = a;
    p->ne[1] = b;
    p->ne[2] = c;
    p->kind = kind;
}

static int plan_tensors(const synth_shape *sh, tensor_plan *t) {
    int n = 0;
    const int64_t E = sh->n_embd, D = sh->head_dim;
    add(t, &n, 0, 2, E, sh->n_vocab, 1, "token_embd.weight", 0);
    add(t, &n, 1, 1, E, 1, 1, "token_embd_norm.weight", 0);
    for (int b = 0; b < sh->n_block; b++) {
        int attn = 0;
        for (int i = 0; i < sh->n_attn; i++)
            attn |= sh->attn[i] == b;
        add(t, &n, 1, 1, E, 1, 1, "blk.%d.attn_norm.weight", b);
        add(t, &n, 1, 1, E, 1, 1, "blk.%d.ffn_norm.weight", b);
        if (attn) {
            add(t, &n, 0, 2, E, sh->n_head * D, 1, "blk.%d.attn_q.weight", b);
            add(t, &n, 0, 2, E, sh->n_head_kv * D, 1, "blk.%d.attn_k.weight", b);
            add(t, &n, 0, 2, E, sh->n_head_kv * D, 1, "blk.%d.attn_v.weight", b);
            add(t, &n, 0, 2, sh->n_head * D, E, 1, "blk.%d.attn_output.weight", b);
            add(t, &n, 1, 1, D, 1, 1, "blk.%d.attn_q_norm.weight", b);
            add(t, &n, 1, 1, D, 1, 1, "blk.%d.attn_k_norm.weight", b);
        } else {
            add(t, &n, 3, 2, sh->l_cache, E, 1, "blk.%d.shortconv.conv.weight", b);
            add(t, &n, 0, 2, E, 3 * E, 1, "blk.%d.shortconv.in_proj.weight", b);
            add(t, &n, 0, 2, E, E, 1, "blk.%d.shortconv.out_proj.weight", b);
        }
        if (b < sh->n_dense) {
            add(t, &n, 0, 2, E, sh->n_ff, 1, "blk.%d.ffn_gate.weight", b);
            add(t, &n, 0, 2, E, sh->n_ff, 1, "blk.%d.ffn_up.weight", b);
            add(t, &n, 0, 2, sh->n_ff, E, 1, "blk.%d.ffn_down.weight", b);
        } else {
            add(t, &n, 0, 2, E, sh->n_expert, 1, "blk.%d.ffn_gate_inp.weight", b);
            add(t, &n, 2, 1, sh->n_expert, 1, 1, "blk.%d.exp_probs_b.bias", b);
            add(t, &n, 0, 3, E, sh->n_ff_exp, sh->n_expert, "blk.%d.ffn_gate_exps.weight", b);
            add(t, &n, 0, 3, E, sh->n_ff_exp, sh->n_expert, "blk.%d.ffn_up_exps.weight", b);
            add(t, &n, 0, 3, sh->n_ff_exp, E, sh->n_expert, "blk.%d.ffn_down_exps.weight", b);
        }
    }
    return n;
}

#define POOL_ROWS 16

/* Key "<arch>.<suffix>" of the shape's architecture. */
static const char *arch_key(char *buf, size_t cap, const synth_shape *sh, const char *suffix) {
    snprintf(buf, cap, "%s.%s", sh->arch, suffix);
    return buf;
}

/* sparse: the tensor data is left as holes (zeros: valid blocks of every
 * type) instead of written, so a test can load the full-size header and
 * tensor table of any shape without writing gigabytes. */
static int write_model(FILE *f, const synth_shape *sh, const lfm2moe_synth_params *p, int sparse) {
    tensor_plan *t = calloc((size_t)(2 + 16 * sh->n_block), sizeof *t);
    if (!t) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    int n = plan_tensors(sh, t), n_attn_v = sh->n_attn, st;
    lfm_mix mix;
    if ((st = lfm_mix_init(&mix, p->ftype, 1, n_attn_v, sh->n_block))) {
        free(t);
        return st;
    }
    for (int i = 0; i < n; i++)
        t[i].type = lfm_mix_choose(&mix, t[i].name, t[i].n_dims, t[i].ne[0]);

    gguf_writer w = {.f = f};
    int32_t *kvh = calloc((size_t)sh->n_block, sizeof *kvh);
    gw_tensor *table = malloc((size_t)n * sizeof *table);
    if (!kvh || !table) {
        free(kvh);
        free(table);
        free(t);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < sh->n_attn; i++)
        kvh[sh->attn[i]] = sh->n_head_kv;
    char name[96];
    snprintf(name, sizeof name, "synthetic %s %s (random weights)", sh->name,
             lfm2moe_ftype_name(p->ftype));
    const int moe = sh->n_expert > 0;
    const int vocab = synth_vocab_fits(sh->n_vocab);
    char key[96];
#define K(suffix) arch_key(key, sizeof key, sh, suffix)
    gw_header(&w, (uint64_t)n, 14 + (moe ? 5 : 0) + (vocab ? SYNTH_VOCAB_KVS : 0));
    gw_kv_str(&w, "general.architecture", sh->arch);
    gw_kv_str(&w, "general.name", name);
    gw_kv_u32(&w, "general.file_type", (uint32_t)p->ftype);
    gw_kv_u32(&w, "general.quantization_version", 2);
    gw_kv_u32(&w, "general.alignment", 32);
    gw_kv_u32(&w, K("context_length"), (uint32_t)sh->n_ctx);
    gw_kv_u32(&w, K("embedding_length"), (uint32_t)sh->n_embd);
    gw_kv_u32(&w, K("feed_forward_length"), (uint32_t)sh->n_ff);
    gw_kv_u32(&w, K("block_count"), (uint32_t)sh->n_block);
    gw_kv_u32(&w, K("attention.head_count"), (uint32_t)sh->n_head);
    gw_kv_i32_array(&w, K("attention.head_count_kv"), kvh, (uint64_t)sh->n_block);
    gw_kv_f32(&w, K("rope.freq_base"), 1e6f);
    gw_kv_f32(&w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (moe) {
        gw_kv_u32(&w, K("expert_count"), (uint32_t)sh->n_expert);
        gw_kv_u32(&w, K("expert_used_count"), (uint32_t)sh->n_expert_used);
        gw_kv_u32(&w, K("expert_feed_forward_length"), (uint32_t)sh->n_ff_exp);
        gw_kv_u32(&w, K("leading_dense_block_count"), (uint32_t)sh->n_dense);
        gw_kv_u32(&w, K("expert_gating_func"), 2);
    }
    gw_kv_u32(&w, K("shortconv.l_cache"), (uint32_t)sh->l_cache);
#undef K
    free(kvh);
    if (vocab) synth_write_vocab(&w, sh->n_vocab);

    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const uint64_t rows = (uint64_t)(t[i].ne[1] * t[i].ne[2]);
        table[i] = (gw_tensor){t[i].name,
                               t[i].n_dims,
                               {t[i].ne[0], t[i].ne[1], t[i].ne[2], 1},
                               t[i].type,
                               lfm_row_bytes(t[i].type, t[i].ne[0]) * rows};
        total += table[i].bytes;
    }
    gw_tensor_table(&w, table, (uint64_t)n, 32);
    free(table);

    uint64_t seed = p->seed, done = 0;
    int64_t max_cols = 0;
    for (int i = 0; i < n; i++)
        max_cols = t[i].ne[0] > max_cols ? t[i].ne[0] : max_cols;
    float *vals = malloc((size_t)max_cols * sizeof(float));
    uint8_t *pool = malloc((size_t)POOL_ROWS * lfm_row_bytes(LFM_TYPE_F32, max_cols));
    if (!vals || !pool) st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n && !st && !w.failed; i++) {
        const int64_t cols = t[i].ne[0], rows = t[i].ne[1] * t[i].ne[2];
        const size_t rb = lfm_row_bytes(t[i].type, cols);
        if (sparse) {
            gw_skip(&w, rb * (uint64_t)rows);
            gw_pad(&w, 32);
            continue;
        }
        /* weights ~ N(0, 1/cols) keep activations O(1) through the blocks */
        const float scale = t[i].kind == 0 ? 1.0f / sqrtf((float)cols) : 0.1f;
        for (int r = 0; r < POOL_ROWS; r++) {
            for (int64_t j = 0; j < cols; j++) {
                float g = rng_gauss(&seed) * scale;
                vals[j] = t[i].kind == 1 ? 1.0f + g : t[i].kind == 2 ? 0.0f : g;
            }
            lfm_quantize_row(t[i].type, vals, pool + (size_t)r * rb, cols);
        }
        for (int64_t r = 0; r < rows; r++)
            gw_raw(&w, pool + (size_t)(rng_next(&seed) % POOL_ROWS) * rb, rb);
        gw_pad(&w, 32);
        done += rb * (uint64_t)rows;
        if (p->progress && p->progress(p->user_data, done, total))
            st = lfm_fail(LFM2MOE_ERR_CANCELLED, "synthesis cancelled");
    }
    free(vals);
    free(pool);
    free(t);
    gw_finish(&w);
    if (!st && w.failed) st = lfm_fail(LFM2MOE_ERR_IO, "write error");
    return st;
}

typedef struct synth_job {
    const synth_shape *shape;
    const lfm2moe_synth_params *params;
    int sparse;
} synth_job;

static int synth_body(FILE *f, void *ctx) {
    const synth_job *job = ctx;
    return write_model(f, job->shape, job->params, job->sparse);
}

LFM2MOE_API int lfm2moe_model_synthesize(const char *path, const lfm2moe_synth_params *p) {
    lfm2moe_synth_params defaults;
    LFM_CHECK_ARG(path, "NULL path");
    if (!p) {
        lfm2moe_synth_params_init(&defaults);
        p = &defaults;
    }
    if (p->struct_size != sizeof *p)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_synth_params.struct_size is %u, expected %zu", p->struct_size,
                        sizeof *p);
    if (p->flags & ~LFM2MOE_SYNTH_SPARSE)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown synth flags 0x%x", p->flags);
    const int sparse = (p->flags & LFM2MOE_SYNTH_SPARSE) != 0;
    const synth_shape *sh = NULL;
    const char *want = p->shape ? p->shape : "lfm2-8b-a1b";
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, want)) sh = &shapes[i];
    if (!sh) {
        char names[256] = "";
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     shapes[i].name);
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "unknown shape '%.64s' (%s)", want, names);
    }
    if (!lfm2moe_ftype_name(p->ftype))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown file type %d", p->ftype);
    synth_job job = {sh, p, sparse};
    return gw_write_file(path, synth_body, &job);
}
