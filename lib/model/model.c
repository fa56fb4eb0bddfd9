/* Model loading: map the file, parse GGUF, read every hyperparameter from
 * metadata, and bind each weight tensor by name after checking its shape and
 * type.  Nothing about the model size is assumed. */
#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errors.h"
#include "quant.h"
#include "r16.h"
#include "text/tokenizer.h"

#define MAX_BLOCKS 4096
#define MAX_HEAD_DIM 1024 /* rope keeps d/2 cos/sin values on the stack */
#define MAX_L_CACHE 64
#define MAX_EXPERTS 65536

/* The architectures this library runs: the same conv + GQA blocks, with an
 * FFN per block that is dense in `lfm2` and a mixture of experts after the
 * leading dense blocks in `lfm2moe`.  Every key is under "<arch>.". */
static const struct {
    const char *name;
    int has_experts;
} ARCHS[] = {{"lfm2moe", 1}, {"lfm2", 0}};

LFM2MOE_API int lfm2moe_model_params_init(lfm2moe_model_params *params) {
    LFM_CHECK_ARG(params, "NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    return LFM2MOE_OK;
}

/* ---- hyperparameters -------------------------------------------------- */

static int get_i32(const lfm2moe_model *m, const char *suffix, int required, int32_t lo, int32_t hi,
                   int32_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    int64_t v;
    int st = gguf_get_i64(&m->gguf, key, &v);
    if (st == LFM2MOE_ERR_NOT_FOUND && !required) return LFM2MOE_OK;
    if (st == LFM2MOE_ERR_NOT_FOUND)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' is missing", key);
    if (st) return st;
    if (v < lo || v > hi)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' = %lld is outside [%d, %d]", key,
                        (long long)v, lo, hi);
    *out = (int32_t)v;
    return LFM2MOE_OK;
}

static int get_f32(const lfm2moe_model *m, const char *suffix, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    int st = gguf_get_f32(&m->gguf, key, out);
    if (st == LFM2MOE_ERR_NOT_FOUND)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' is missing", key);
    if (st) return st;
    if (!(*out > 0.0f) || *out > 1e30f)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' = %g is not a positive number", key,
                        (double)*out);
    return LFM2MOE_OK;
}

/* The expert keys: required in a mixture-of-experts architecture; a dense
 * one has no experts and every block dense. */
static int read_expert_hparams(lfm2moe_model *m, int has_experts) {
    lfm_hparams *hp = &m->hp;
    if (!has_experts) {
        hp->n_dense = hp->n_block;
        return LFM2MOE_OK;
    }
    int st;
    if ((st = get_i32(m, "expert_count", 1, 1, MAX_EXPERTS, &hp->n_expert)) ||
        (st = get_i32(m, "expert_used_count", 1, 1, hp->n_expert, &hp->n_expert_used)) ||
        (st = get_i32(m, "expert_feed_forward_length", 1, 1, 1 << 24, &hp->n_ff_exp)) ||
        (st = get_i32(m, "leading_dense_block_count", 1, 0, hp->n_block, &hp->n_dense)))
        return st;
    int32_t gating = 2;
    if ((st = get_i32(m, "expert_gating_func", 0, 0, 16, &gating))) return st;
    if (gating != 2) /* llama.cpp: 1 softmax, 2 sigmoid; LFM2-MoE routes with sigmoid */
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "metadata '%s.expert_gating_func' = %d: only sigmoid (2) is supported",
                        m->arch, gating);
    return LFM2MOE_OK;
}

static int read_hparams(lfm2moe_model *m, int has_experts) {
    lfm_hparams *hp = &m->hp;
    int st;
    /* every block needs several tensors: bounds n_block by the file itself */
    int32_t max_blocks = m->gguf.n_tensors < MAX_BLOCKS ? (int32_t)m->gguf.n_tensors : MAX_BLOCKS;
    if ((st = get_i32(m, "block_count", 1, 1, max_blocks, &hp->n_block)) ||
        (st = get_i32(m, "embedding_length", 1, 1, 1 << 20, &hp->n_embd)) ||
        (st = get_i32(m, "feed_forward_length", 1, 1, 1 << 24, &hp->n_ff)) ||
        (st = get_i32(m, "attention.head_count", 1, 1, 1 << 16, &hp->n_head)) ||
        (st = read_expert_hparams(m, has_experts)) ||
        (st = get_i32(m, "shortconv.l_cache", 1, 1, MAX_L_CACHE, &hp->l_cache)) ||
        (st = get_i32(m, "context_length", 1, 1, INT32_MAX, &hp->n_ctx_train)) ||
        (st = get_f32(m, "rope.freq_base", &hp->rope_freq_base)) ||
        (st = get_f32(m, "attention.layer_norm_rms_epsilon", &hp->rms_eps)))
        return st;
    /* sliding-window attention: absent or 0 means every attention block sees
     * the whole context (llama.cpp's reading of the key) */
    hp->n_swa = 0;
    if ((st = get_i32(m, "attention.sliding_window", 0, 0, INT32_MAX, &hp->n_swa))) return st;

    hp->head_dim = hp->n_embd / hp->n_head;
    if ((st = get_i32(m, "attention.key_length", 0, 1, MAX_HEAD_DIM, &hp->head_dim))) return st;
    if (hp->head_dim <= 0 || hp->head_dim % 2 || hp->head_dim > MAX_HEAD_DIM)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "head dimension %d must be even and at most %d",
                        hp->head_dim, MAX_HEAD_DIM);

    /* head_count_kv: one entry per block, 0 for a conv block */
    char key[128];
    snprintf(key, sizeof key, "%s.attention.head_count_kv", m->arch);
    const gguf_kv *kv = gguf_find(&m->gguf, key);
    if (!kv) return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' is missing", key);
    if (kv->type != GGUF_TYPE_ARRAY || kv->n != (uint64_t)hp->n_block ||
        kv->elem_type == GGUF_TYPE_STRING || kv->elem_type == GGUF_TYPE_FLOAT32 ||
        kv->elem_type == GGUF_TYPE_FLOAT64)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "metadata '%s' must be an integer array with one entry per block (%d)", key,
                        hp->n_block);
    m->blocks = calloc((size_t)hp->n_block, sizeof *m->blocks);
    if (!m->blocks)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for %d blocks", hp->n_block);
    hp->n_head_kv = 0;
    for (int32_t b = 0; b < hp->n_block; b++) {
        int64_t h = gguf_kv_int(kv, (uint64_t)b);
        lfm_block *blk = &m->blocks[b];
        blk->is_moe = b >= hp->n_dense;
        if (h == 0) {
            blk->conv_index = m->n_conv_blocks++;
            continue;
        }
        if (h < 0 || h > hp->n_head || hp->n_head % h)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                            "block %d: %lld kv heads do not divide %d query heads", b, (long long)h,
                            hp->n_head);
        if (hp->n_head_kv && h != hp->n_head_kv)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                            "attention blocks have different kv head counts (%d and %lld)",
                            hp->n_head_kv, (long long)h);
        hp->n_head_kv = (int32_t)h;
        blk->is_attention = 1;
        blk->attn_index = m->n_attn_blocks++;
    }
    return LFM2MOE_OK;
}

/* ---- tensors ---------------------------------------------------------- */

const size_t lfm_block_matrix_offsets[LFM_BLOCK_N_MATRICES] = {
    offsetof(lfm_block, in_proj),  offsetof(lfm_block, out_proj),  offsetof(lfm_block, wq),
    offsetof(lfm_block, wk),       offsetof(lfm_block, wv),        offsetof(lfm_block, wo),
    offsetof(lfm_block, ffn_gate), offsetof(lfm_block, ffn_up),    offsetof(lfm_block, ffn_down),
    offsetof(lfm_block, router),   offsetof(lfm_block, gate_exps), offsetof(lfm_block, up_exps),
    offsetof(lfm_block, down_exps)};

enum { KIND_VECTOR, KIND_MATRIX }; /* vectors must be F32; matrices any computable type */

/* Bind tensor `name` (printf format with the block index) of shape
 * {ne0, ne1, ne2} (trailing 1s for fewer dims).  Optional tensors that are
 * absent leave w->data NULL. */
static int bind(lfm2moe_model *m, lfm_weight *w, int kind, int optional, int64_t ne0, int64_t ne1,
                int64_t ne2, const char *fmt, int block) {
    char name[96];
    snprintf(name, sizeof name, fmt, block);
    const gguf_tensor *t = gguf_find_tensor(&m->gguf, name);
    memset(w, 0, sizeof *w);
    if (!t) {
        if (optional) return LFM2MOE_OK;
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tensor '%s' is missing", name);
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, "
                        "%lld]",
                        name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)ne0, (long long)ne1, (long long)ne2);
    uint32_t type = t->type, layout = LFM_LAYOUT_ROWS;
    if (lfm_type_is_r16(type)) { /* written by lfm2moe_model_quantize --repack */
        if (kind != KIND_MATRIX || ne1 % LFM_R16_ROWS)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                            "tensor '%s' has type %s, which only matrices of a multiple of %d "
                            "rows can have",
                            name, lfm_type_name(type), LFM_R16_ROWS);
        int64_t version = 1; /* files of before the key */
        int st = gguf_get_i64(&m->gguf, LFM_R16_LAYOUT_KEY, &version);
        if (st && st != LFM2MOE_ERR_NOT_FOUND) return st;
        if (version > LFM_R16_LAYOUT || version < 1 || (version == 1 && type == LFM_TYPE_Q6_K_R16))
            return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_TYPE,
                            "tensor '%s' is %s in R16 layout %lld, which this build does not read "
                            "(it reads layout %d): repack the original file with this build's "
                            "quantize --repack",
                            name, lfm_type_name(type), (long long)version, LFM_R16_LAYOUT);
        type &= ~(uint32_t)LFM_TYPE_R16_FLAG;
        layout = LFM_LAYOUT_R16;
    }
    if (kind == KIND_VECTOR && t->type != LFM_TYPE_F32)
        return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_TYPE, "tensor '%s' has type %s, expected F32", name,
                        lfm_type_name(t->type));
    if (kind == KIND_MATRIX && !lfm_quant_supported(type))
        return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_TYPE, "tensor '%s' has unsupported type %s", name,
                        lfm_type_name(t->type));
    if (((uintptr_t)t->data) % 4)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "tensor '%s' data is not 4-byte aligned", name);
    w->data = t->data;
    w->name = t->name;
    w->type = type;
    w->layout = layout;
    w->n_cols = ne0;
    w->n_rows = ne1;
    w->n_mat = ne2;
    w->row_bytes = lfm_row_bytes(type, ne0);
    w->mat_bytes = w->row_bytes * (size_t)ne1;
    return LFM2MOE_OK;
}

static int bind_tensors(lfm2moe_model *m) {
    const lfm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, D = hp->head_dim;
    int st;
    if ((st = bind(m, &m->tok_embd, KIND_MATRIX, 0, E, hp->n_vocab, 1, "token_embd.weight", 0)) ||
        (st = bind(m, &m->out_norm, KIND_VECTOR, 0, E, 1, 1, "token_embd_norm.weight", 0)) ||
        (st = bind(m, &m->output, KIND_MATRIX, 1, E, hp->n_vocab, 1, "output.weight", 0)))
        return st;
    if (!m->output.data) m->output = m->tok_embd; /* tied output head */

    for (int b = 0; b < hp->n_block; b++) {
        lfm_block *k = &m->blocks[b];
        if ((st = bind(m, &k->op_norm, KIND_VECTOR, 0, E, 1, 1, "blk.%d.attn_norm.weight", b)) ||
            (st = bind(m, &k->ffn_norm, KIND_VECTOR, 0, E, 1, 1, "blk.%d.ffn_norm.weight", b)))
            return st;
        if (k->is_attention) {
            const int64_t q = (int64_t)hp->n_head * D, kvd = (int64_t)hp->n_head_kv * D;
            if ((st = bind(m, &k->wq, KIND_MATRIX, 0, E, q, 1, "blk.%d.attn_q.weight", b)) ||
                (st = bind(m, &k->wk, KIND_MATRIX, 0, E, kvd, 1, "blk.%d.attn_k.weight", b)) ||
                (st = bind(m, &k->wv, KIND_MATRIX, 0, E, kvd, 1, "blk.%d.attn_v.weight", b)) ||
                (st = bind(m, &k->wo, KIND_MATRIX, 0, q, E, 1, "blk.%d.attn_output.weight", b)) ||
                (st = bind(m, &k->q_norm, KIND_VECTOR, 0, D, 1, 1, "blk.%d.attn_q_norm.weight",
                           b)) ||
                (st = bind(m, &k->k_norm, KIND_VECTOR, 0, D, 1, 1, "blk.%d.attn_k_norm.weight", b)))
                return st;
        } else {
            if ((st = bind(m, &k->conv_kernel, KIND_VECTOR, 0, hp->l_cache, E, 1,
                           "blk.%d.shortconv.conv.weight", b)) ||
                (st = bind(m, &k->in_proj, KIND_MATRIX, 0, E, 3 * E, 1,
                           "blk.%d.shortconv.in_proj.weight", b)) ||
                (st = bind(m, &k->out_proj, KIND_MATRIX, 0, E, E, 1,
                           "blk.%d.shortconv.out_proj.weight", b)))
                return st;
        }
        if (!k->is_moe) {
            if ((st = bind(m, &k->ffn_gate, KIND_MATRIX, 0, E, hp->n_ff, 1,
                           "blk.%d.ffn_gate.weight", b)) ||
                (st = bind(m, &k->ffn_up, KIND_MATRIX, 0, E, hp->n_ff, 1, "blk.%d.ffn_up.weight",
                           b)) ||
                (st = bind(m, &k->ffn_down, KIND_MATRIX, 0, hp->n_ff, E, 1,
                           "blk.%d.ffn_down.weight", b)))
                return st;
        } else {
            const int64_t X = hp->n_expert, F = hp->n_ff_exp;
            if ((st = bind(m, &k->router, KIND_MATRIX, 0, E, X, 1, "blk.%d.ffn_gate_inp.weight",
                           b)) ||
                (st = bind(m, &k->exp_bias, KIND_VECTOR, 1, X, 1, 1, "blk.%d.exp_probs_b.bias",
                           b)) ||
                (st = bind(m, &k->gate_exps, KIND_MATRIX, 0, E, F, X, "blk.%d.ffn_gate_exps.weight",
                           b)) ||
                (st = bind(m, &k->up_exps, KIND_MATRIX, 0, E, F, X, "blk.%d.ffn_up_exps.weight",
                           b)) ||
                (st = bind(m, &k->down_exps, KIND_MATRIX, 0, F, E, X, "blk.%d.ffn_down_exps.weight",
                           b)))
                return st;
        }
    }
    return LFM2MOE_OK;
}

/* ---- load ------------------------------------------------------------- */

/* Everything after parsing: m->gguf is filled, tensor data pointers set. */
static int load_image(lfm2moe_model *m) {
    int st;
    gguf_str arch;
    st = gguf_get_str(&m->gguf, "general.architecture", &arch);
    if (st == LFM2MOE_ERR_NOT_FOUND)
        return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_ARCH,
                        "metadata 'general.architecture' is missing (expected 'lfm2moe' or "
                        "'lfm2')");
    if (st) return st;
    m->arch = malloc(arch.len + 1);
    if (!m->arch) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(m->arch, arch.ptr, arch.len);
    m->arch[arch.len] = 0;
    int known = -1;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (strcmp(m->arch, ARCHS[i].name) == 0 && strlen(m->arch) == arch.len) known = (int)i;
    if (known < 0)
        return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_ARCH,
                        "model architecture is '%.64s', this library runs 'lfm2moe' and 'lfm2'",
                        m->arch);
    if ((st = read_hparams(m, ARCHS[known].has_experts))) return st;

    /* vocabulary size: metadata if present, else the embedding's row count */
    const gguf_tensor *emb = gguf_find_tensor(&m->gguf, "token_embd.weight");
    if (!emb) return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tensor 'token_embd.weight' is missing");
    if (emb->ne[1] > INT32_MAX)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "token_embd.weight has too many rows");
    m->hp.n_vocab = (int32_t)emb->ne[1];
    int32_t nv = m->hp.n_vocab;
    if ((st = get_i32(m, "vocab_size", 0, 1, INT32_MAX, &nv))) return st;
    if (nv != m->hp.n_vocab)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "metadata vocab_size %d does not match token_embd.weight (%d rows)", nv,
                        m->hp.n_vocab);

    if ((st = bind_tensors(m))) return st;
    for (uint64_t i = 0; i < m->gguf.n_tensors; i++) {
        const gguf_tensor *t = &m->gguf.tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    if ((st = lfm_vocab_load(&m->gguf, &m->vocab))) return st;
    /* a token id indexes the embedding, the logits and the vocabulary tables
     * alike: they must agree (generation reads attributes of sampled ids) */
    if (m->vocab && m->vocab->n_vocab != m->hp.n_vocab)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "the tokenizer has %d tokens but token_embd.weight has %d rows",
                        m->vocab->n_vocab, m->hp.n_vocab);
    return LFM2MOE_OK;
}

LFM2MOE_API void lfm2moe_model_free(lfm2moe_model *m) {
    if (!m) return;
    lfm_vocab_free(m->vocab);
    gguf_free(&m->gguf);
    free(m->blocks);
    free(m->arch);
    free(m->header);
    if (m->map) munmap(m->map, m->map_size);
    lfm_model_repack_free(m);
    free(m);
}

static int check_params(const lfm2moe_model_params *params, lfm2moe_model **out) {
    LFM_CHECK_ARG_IN("model load", out, "NULL output pointer");
    *out = NULL;
    if (params && params->struct_size != sizeof *params)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_model_params.struct_size is %u, expected %zu (call "
                        "lfm2moe_model_params_init)",
                        params->struct_size, sizeof *params);
    if (params && (params->flags & ~(uint32_t)(LFM2MOE_MODEL_PREFETCH | LFM2MOE_MODEL_MLOCK |
                                               LFM2MOE_MODEL_REPACK)))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown model flags 0x%x", params->flags);
    return LFM2MOE_OK;
}

static int finish_load(lfm2moe_model *m, const lfm2moe_model_params *params, lfm2moe_model **out) {
    int st = load_image(m);
    if (!st && params && (params->flags & LFM2MOE_MODEL_REPACK))
        st = lfm_model_repack(m, params && (params->flags & LFM2MOE_MODEL_MLOCK));
    if (st) {
        lfm2moe_model_free(m);
        return st;
    }
    *out = m;
    return LFM2MOE_OK;
}

/* The whole file, read-only, at an address aligned to 2 MiB and advised
 * MADV_HUGEPAGE.  Decode streams gigabytes of weights per second: in 4 KiB
 * pages every page crossing costs a TLB walk and stops the hardware
 * prefetchers, and the kernel maps a file's page cache with 2 MiB entries
 * only where the address and the file offset agree modulo 2 MiB.  Pages
 * the advice makes the kernel read in as 2 MiB folios (Linux 6.x, ext4,
 * xfs; pages already cached stay as they are): Q4_K_M R16 decode on 2
 * threads measured 20-21 tok/s in 4 KiB pages against 26 in 2 MiB pages.
 * Both steps are best effort: without them, a plain mapping. */
static void *map_file(int fd, size_t size, int flags) {
#if defined(MADV_HUGEPAGE) && defined(MAP_FIXED)
    const size_t huge = (size_t)2 << 20;
    if (size >= huge && size <= SIZE_MAX - huge) {
        uint8_t *res = mmap(NULL, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (res != MAP_FAILED) {
            uint8_t *at = (uint8_t *)(((uintptr_t)res + huge - 1) & ~(uintptr_t)(huge - 1));
            void *map = mmap(at, size, PROT_READ, flags | MAP_FIXED, fd, 0);
            if (map == MAP_FAILED) {
                munmap(res, size + huge);
            } else { /* the reservation's ends */
                if (at > res) munmap(res, (size_t)(at - res));
                munmap(at + size, (size_t)(res + huge - at)); /* at < res + huge: never empty */
                (void)madvise(map, size, MADV_HUGEPAGE);
                return map;
            }
        }
    }
#endif
    return mmap(NULL, size, PROT_READ, flags, fd, 0);
}

LFM2MOE_API int lfm2moe_model_load(const char *path, const lfm2moe_model_params *params,
                                   lfm2moe_model **out) {
    int st = check_params(params, out);
    if (st) return st;
    LFM_CHECK_ARG(path, "NULL path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lfm_fail(LFM2MOE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lfm_fail(LFM2MOE_ERR_IO, "'%s' is not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "'%s' is too small to be a GGUF file (%lld bytes)",
                        path, (long long)sb.st_size);
    }
    lfm2moe_model *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    /* The metadata and tensor table are read with pread, not through the
     * mapping: a file truncated while it loads then gives an error here
     * instead of SIGBUS.  The prefix grows until the header fits. */
    const uint64_t total = (uint64_t)sb.st_size;
    uint64_t want = total < (1u << 20) ? total : (1u << 20);
    for (;;) {
        uint8_t *hdr = realloc(m->header, (size_t)want);
        if (!hdr) {
            st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the header of '%s'", path);
            break;
        }
        m->header = hdr;
        uint64_t got = 0;
        while (got < want) {
            ssize_t r = pread(fd, hdr + got, (size_t)(want - got), (off_t)got);
            if (r <= 0 && !(r < 0 && errno == EINTR)) break;
            got += r > 0 ? (uint64_t)r : 0;
        }
        if (got < want) {
            st = lfm_fail(LFM2MOE_ERR_IO,
                          "'%s' became shorter while loading (read %llu of %llu "
                          "bytes)",
                          path, (unsigned long long)got, (unsigned long long)want);
            break;
        }
        st = gguf_parse_prefix(hdr, want, total, &m->gguf);
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL || want == total) break;
        want = total / 4 < want ? total : want * 4;
    }
    if (st) {
        close(fd);
        lfm2moe_model_free(m);
        return st;
    }
    int mflags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    if (params && (params->flags & LFM2MOE_MODEL_PREFETCH)) mflags |= MAP_POPULATE;
#endif
    void *map = map_file(fd, (size_t)total, mflags);
    struct stat after;
    int changed = fstat(fd, &after) != 0 || after.st_size != sb.st_size;
    close(fd);
    if (map == MAP_FAILED) {
        lfm2moe_model_free(m);
        return lfm_fail(LFM2MOE_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    }
    m->map = map;
    m->map_size = (size_t)total;
    if (changed) {
        lfm2moe_model_free(m);
        return lfm_fail(LFM2MOE_ERR_IO, "'%s' changed size while loading", path);
    }
    if (params && (params->flags & LFM2MOE_MODEL_MLOCK))
        (void)mlock(map, (size_t)total); /* best effort, documented as such */
    for (uint64_t i = 0; i < m->gguf.n_tensors; i++)
        m->gguf.tensors[i].data = (const uint8_t *)map + m->gguf.tensors[i].offset;
    return finish_load(m, params, out);
}

LFM2MOE_API int lfm2moe_model_load_from_memory(const void *data, size_t size,
                                               const lfm2moe_model_params *params,
                                               lfm2moe_model **out) {
    int st = check_params(params, out);
    if (st) return st;
    LFM_CHECK_ARG(data, "NULL data");
    lfm2moe_model *m = calloc(1, sizeof *m);
    if (!m) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = gguf_parse(data, size, &m->gguf))) {
        lfm2moe_model_free(m);
        return st;
    }
    return finish_load(m, params, out);
}

/* ---- info ------------------------------------------------------------- */

LFM2MOE_API int lfm2moe_model_get_info(const lfm2moe_model *m, lfm2moe_model_info *info) {
    LFM_CHECK_ARGS(m && info);
    if (info->struct_size != sizeof *info)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_model_info.struct_size is %u, expected %zu", info->struct_size,
                        sizeof *info);
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    const lfm_hparams *hp = &m->hp;
    info->n_vocab = hp->n_vocab;
    info->n_embd = hp->n_embd;
    info->n_block = hp->n_block;
    info->n_ctx_train = hp->n_ctx_train;
    info->n_head = hp->n_head;
    info->n_head_kv = hp->n_head_kv;
    info->head_dim = hp->head_dim;
    info->n_ff = hp->n_ff;
    info->n_expert = hp->n_expert;
    info->n_expert_used = hp->n_expert_used;
    info->n_ff_expert = hp->n_ff_exp;
    info->n_dense_block = hp->n_dense;
    info->conv_l_cache = hp->l_cache;
    info->n_attention_block = m->n_attn_blocks;
    info->rope_freq_base = hp->rope_freq_base;
    info->rms_norm_eps = hp->rms_eps;
    info->n_params = m->n_params;
    info->file_size = m->gguf.size;
    info->n_tensors = m->gguf.n_tensors;
    info->sliding_window = hp->n_swa;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_block_kind(const lfm2moe_model *m, int32_t block, int32_t *op_kind,
                                         int32_t *ffn_kind) {
    LFM_CHECK_ARG(m, "NULL model");
    if (block < 0 || block >= m->hp.n_block)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "block %d does not exist (the model has %d)", block,
                        m->hp.n_block);
    if (op_kind)
        *op_kind = m->blocks[block].is_attention ? LFM2MOE_BLOCK_ATTENTION : LFM2MOE_BLOCK_CONV;
    if (ffn_kind) *ffn_kind = m->blocks[block].is_moe ? LFM2MOE_FFN_MOE : LFM2MOE_FFN_DENSE;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_architecture(const lfm2moe_model *m, const char **name) {
    LFM_CHECK_ARGS(m && name);
    *name = m->arch;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_tensor_info(const lfm2moe_model *m, uint64_t index,
                                          lfm2moe_tensor_info *info) {
    LFM_CHECK_ARGS(m && info);
    if (info->struct_size != sizeof *info)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_tensor_info.struct_size is %u, expected %zu", info->struct_size,
                        sizeof *info);
    if (index >= m->gguf.n_tensors)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "tensor index %llu out of range (%llu tensors)",
                        (unsigned long long)index, (unsigned long long)m->gguf.n_tensors);
    const gguf_tensor *t = &m->gguf.tensors[index];
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->type = t->type;
    info->name = t->name;
    info->type_name = lfm_type_name(t->type);
    info->n_dims = (int32_t)t->n_dims;
    for (int d = 0; d < 4; d++)
        info->ne[d] = t->ne[d];
    info->offset = t->offset;
    info->size = t->nbytes;
    return LFM2MOE_OK;
}
