/* The tokenizer's public functions: tokenize, token bytes and attributes,
 * lookup by text, whole-sequence detokenization, vocabulary info. */
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "model/model.h"
#include "text/tokenizer_internal.h"

int lfm_vocab_of(const lfm2moe_model *model, const char *fn, const struct lfm_vocab **v) {
    LFM_CHECK_ARG_IN(fn, model, "model is NULL");
    if (!model->vocab) return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: the model has no tokenizer", fn);
    *v = model->vocab;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_tokenize(const lfm2moe_model *model, const char *text, size_t text_len,
                                 uint32_t flags, int32_t *tokens, size_t max_tokens,
                                 size_t *n_tokens) {
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, "lfm2moe_tokenize", &v);
    if (st) return st;
    LFM_CHECK_ARG(text || !text_len, "text is NULL");
    LFM_CHECK_ARG(tokens || !max_tokens, "tokens is NULL but max_tokens is %zu", max_tokens);
    LFM_CHECK_ARG(n_tokens, "n_tokens is NULL");
    if (flags & ~(uint32_t)(LFM2MOE_TOKENIZE_ADD_BOS | LFM2MOE_TOKENIZE_PARSE_SPECIAL))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tokenize: unknown flags 0x%x",
                        (unsigned)flags);
    return lfm_vocab_tokenize(v, text ? text : "", text_len, flags, tokens, max_tokens, n_tokens);
}

/* Copy n bytes to buf with the "bytes, no NUL" buffer protocol. */
static int copy_out(const char *fn, const char *src, size_t n, char *buf, size_t buf_size,
                    size_t *len) {
    if (len) *len = n;
    if (buf_size) memcpy(buf, src, n < buf_size ? n : buf_size);
    if (buf_size < n)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed, buffer has %zu", fn, n,
                        buf_size);
    return LFM2MOE_OK;
}

int lfm_vocab_check_token(const struct lfm_vocab *v, const char *fn, int32_t token) {
    if (token < 0 || token >= v->n_vocab)
        return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE, "%s: token %d not in [0, %d)", fn,
                        (int)token, (int)v->n_vocab);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_token_to_bytes(const lfm2moe_model *model, int32_t token, char *buf,
                                       size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_token_to_bytes";
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    LFM_CHECK_ARG_IN(fn, buf || !buf_size, "buf is NULL but buf_size is %zu", buf_size);
    if ((st = lfm_vocab_check_token(v, fn, token))) return st;
    size_t n;
    const char *p = lfm_vocab_piece(v, token, &n);
    return copy_out(fn, p, n, buf, buf_size, len);
}

LFM2MOE_API int lfm2moe_detokenize(const lfm2moe_model *model, const int32_t *tokens,
                                   size_t n_tokens, char *buf, size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_detokenize";
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    LFM_CHECK_ARG_IN(fn, tokens || !n_tokens, "tokens is NULL");
    LFM_CHECK_ARG_IN(fn, buf || !buf_size, "buf is NULL but buf_size is %zu", buf_size);
    size_t total = 0;
    for (size_t i = 0; i < n_tokens; i++) {
        if (tokens[i] < 0 || tokens[i] >= v->n_vocab)
            return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE, "%s: tokens[%zu] = %d not in [0, %d)",
                            fn, i, (int)tokens[i], (int)v->n_vocab);
        size_t n;
        const char *p = lfm_vocab_piece(v, tokens[i], &n);
        if (total < buf_size) memcpy(buf + total, p, n < buf_size - total ? n : buf_size - total);
        total += n;
    }
    if (len) *len = total;
    if (buf_size < total)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed, buffer has %zu", fn,
                        total, buf_size);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_token_lookup(const lfm2moe_model *model, const char *text, size_t text_len,
                                     int32_t *token) {
    static const char fn[] = "lfm2moe_token_lookup";
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    LFM_CHECK_ARG_IN(fn, text || !text_len, "text is NULL");
    LFM_CHECK_ARG_IN(fn, token, "token is NULL");
    int32_t id = lfm_vocab_find(v, text ? text : "", text_len);
    if (id < 0) {
        *token = -1;
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: no token with text '%.*s'", fn,
                        (int)(text_len > 64 ? 64 : text_len), text ? text : "");
    }
    *token = id;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_token_attr(const lfm2moe_model *model, int32_t token, uint32_t *attr) {
    static const char fn[] = "lfm2moe_token_attr";
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    LFM_CHECK_ARG_IN(fn, attr, "attr is NULL");
    if ((st = lfm_vocab_check_token(v, fn, token))) return st;
    *attr = v->attr[token];
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_vocab_get_info(const lfm2moe_model *model, lfm2moe_vocab_info *info) {
    static const char fn[] = "lfm2moe_vocab_get_info";
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    LFM_CHECK_ARG_IN(fn, info, "info is NULL");
    if (info->struct_size < sizeof(lfm2moe_vocab_info))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: info->struct_size is %u, expected at least %zu", fn,
                        (unsigned)info->struct_size, sizeof(lfm2moe_vocab_info));
    uint32_t size = info->struct_size;
    memset(info, 0, sizeof *info);
    info->struct_size = size;
    info->n_vocab = v->n_vocab;
    info->bos = v->bos;
    info->eos = v->eos;
    info->pad = v->pad;
    info->end_of_turn = v->eot;
    info->add_bos = v->add_bos;
    return LFM2MOE_OK;
}
