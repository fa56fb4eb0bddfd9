/* What a loaded model says about itself: its shape (lfm2moe_model_get_info),
 * block kinds, architecture name, every metadata value as text, and the
 * tensor table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/errors.h"
#include "lfm_types.h"
#include "model/model.h"

/* ---- info ------------------------------------------------------------- */

LFM2MOE_API int lfm2moe_model_get_info(const lfm2moe_model *m, lfm2moe_model_info *info) {
    if (!m || !info)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_get_info: NULL argument");
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
    if (!m)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_block_kind: NULL model");
    if (block < 0 || block >= m->hp.n_block)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "block %d does not exist (the model has %d)", block,
                        m->hp.n_block);
    if (op_kind)
        *op_kind = m->blocks[block].is_attention ? LFM2MOE_BLOCK_ATTENTION : LFM2MOE_BLOCK_CONV;
    if (ffn_kind)
        *ffn_kind = m->blocks[block].is_moe ? LFM2MOE_FFN_MOE : LFM2MOE_FFN_DENSE;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_architecture(const lfm2moe_model *m, const char **name) {
    if (!m || !name)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_architecture: NULL argument");
    *name = m->arch;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_meta_count(const lfm2moe_model *m, uint64_t *count) {
    if (!m || !count)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_meta_count: NULL argument");
    *count = m->gguf.n_kv;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_meta_key(const lfm2moe_model *m, uint64_t index, const char **key) {
    if (!m || !key)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_meta_key: NULL argument");
    if (index >= m->gguf.n_kv)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "metadata index %llu out of range (%llu keys)",
                        (unsigned long long)index, (unsigned long long)m->gguf.n_kv);
    *key = m->gguf.kv[index].key;
    return LFM2MOE_OK;
}

/* Growing output for meta_string: counts the full length, writes what fits. */
typedef struct textbuf {
    char *buf;
    size_t cap; /* bytes available for text (buf_size - 1), 0 if none */
    size_t len; /* full length so far */
} textbuf;

static void tb_put(textbuf *tb, const char *s, size_t n) {
    if (tb->len < tb->cap) {
        size_t k = tb->cap - tb->len < n ? tb->cap - tb->len : n;
        memcpy(tb->buf + tb->len, s, k);
    }
    tb->len += n;
}

static void tb_json_str(textbuf *tb, const gguf_str *s) {
    tb_put(tb, "\"", 1);
    for (uint64_t i = 0; i < s->len; i++) {
        unsigned char ch = (unsigned char)s->ptr[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            tb_put(tb, esc, 2);
        } else if (ch < 0x20) {
            int n = snprintf(esc, sizeof esc, "\\u%04x", ch);
            tb_put(tb, esc, (size_t)n);
        } else {
            tb_put(tb, (const char *)&s->ptr[i], 1);
        }
    }
    tb_put(tb, "\"", 1);
}

static void tb_elem(textbuf *tb, const gguf_kv *kv, uint64_t i) {
    char num[64];
    int n;
    switch (kv->elem_type) {
    case GGUF_TYPE_STRING:
        if (kv->type == GGUF_TYPE_ARRAY)
            tb_json_str(tb, &kv->strs[i]);
        else
            tb_put(tb, kv->strs[0].ptr, kv->strs[0].len);
        return;
    case GGUF_TYPE_BOOL:
        tb_put(tb, kv->data[i] ? "true" : "false", kv->data[i] ? 4 : 5);
        return;
    case GGUF_TYPE_FLOAT32:
        n = snprintf(num, sizeof num, "%.9g", gguf_kv_num(kv, i));
        break;
    case GGUF_TYPE_FLOAT64:
        n = snprintf(num, sizeof num, "%.17g", gguf_kv_num(kv, i));
        break;
    case GGUF_TYPE_UINT64: {
        uint64_t v;
        memcpy(&v, kv->data + i * 8, 8);
        n = snprintf(num, sizeof num, "%" PRIu64, v);
        break;
    }
    default:
        n = snprintf(num, sizeof num, "%" PRId64, gguf_kv_int(kv, i));
        break;
    }
    tb_put(tb, num, (size_t)n);
}

LFM2MOE_API int lfm2moe_model_meta_string(const lfm2moe_model *m, const char *key, char *buf,
                                          size_t buf_size, size_t *needed) {
    if (!m || !key || (!buf && buf_size))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_meta_string: NULL argument");
    const gguf_kv *kv = gguf_find(&m->gguf, key);
    if (!kv)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "no metadata key '%s'", key);
    textbuf tb = {buf, buf_size ? buf_size - 1 : 0, 0};
    if (kv->type == GGUF_TYPE_ARRAY) {
        tb_put(&tb, "[", 1);
        for (uint64_t i = 0; i < kv->n; i++) {
            if (i)
                tb_put(&tb, ", ", 2);
            tb_elem(&tb, kv, i);
        }
        tb_put(&tb, "]", 1);
    } else {
        tb_elem(&tb, kv, 0);
    }
    if (buf_size)
        buf[tb.len < tb.cap ? tb.len : tb.cap] = 0;
    if (needed)
        *needed = tb.len;
    if (tb.len >= buf_size)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL,
                        "metadata '%s' needs %zu bytes plus a NUL, buffer has %zu", key, tb.len,
                        buf_size);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_tensor_info(const lfm2moe_model *m, uint64_t index,
                                          lfm2moe_tensor_info *info) {
    if (!m || !info)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_model_tensor_info: NULL argument");
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
