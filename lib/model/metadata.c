/* The model's GGUF metadata through the public API: keys by index, and any
 * value as text (strings as they are, numbers and booleans as JSON, arrays
 * as JSON arrays). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/errors.h"
#include "base/json.h"
#include "base/output.h"
#include "model/model.h"

LFM2MOE_API int lfm2moe_model_meta_count(const lfm2moe_model *m, uint64_t *count) {
    LFM_CHECK_ARGS(m && count);
    *count = m->gguf.n_kv;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_model_meta_key(const lfm2moe_model *m, uint64_t index, const char **key) {
    LFM_CHECK_ARGS(m && key);
    if (index >= m->gguf.n_kv)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "metadata index %llu out of range (%llu keys)",
                        (unsigned long long)index, (unsigned long long)m->gguf.n_kv);
    *key = m->gguf.kv[index].key;
    return LFM2MOE_OK;
}

/* Element i of kv: a string array's elements as JSON strings, a scalar
 * string as it is; floats with the digits that round-trip their type. */
static void put_elem(strbuf *b, const gguf_kv *kv, uint64_t i) {
    char num[64];
    int n;
    switch (kv->elem_type) {
    case GGUF_TYPE_STRING:
        if (kv->type == GGUF_TYPE_ARRAY)
            json_dump_string(kv->strs[i].ptr, (size_t)kv->strs[i].len, b);
        else
            strbuf_append(b, kv->strs[0].ptr, (size_t)kv->strs[0].len);
        return;
    case GGUF_TYPE_BOOL:
        strbuf_append(b, kv->data[i] ? "true" : "false", kv->data[i] ? 4 : 5);
        return;
    case GGUF_TYPE_FLOAT32: n = snprintf(num, sizeof num, "%.9g", gguf_kv_num(kv, i)); break;
    case GGUF_TYPE_FLOAT64: n = snprintf(num, sizeof num, "%.17g", gguf_kv_num(kv, i)); break;
    case GGUF_TYPE_UINT64: {
        uint64_t v;
        memcpy(&v, kv->data + i * 8, 8);
        n = snprintf(num, sizeof num, "%" PRIu64, v);
        break;
    }
    default: n = snprintf(num, sizeof num, "%" PRId64, gguf_kv_int(kv, i)); break;
    }
    strbuf_append(b, num, (size_t)n);
}

LFM2MOE_API int lfm2moe_model_meta_string(const lfm2moe_model *m, const char *key, char *buf,
                                          size_t buf_size, size_t *needed) {
    LFM_CHECK_ARGS(m && key && (buf || !buf_size));
    const gguf_kv *kv = gguf_find(&m->gguf, key);
    if (!kv) return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "no metadata key '%s'", key);
    strbuf b = {0};
    if (kv->type == GGUF_TYPE_ARRAY) {
        strbuf_append(&b, "[", 1);
        for (uint64_t i = 0; i < kv->n; i++) {
            if (i) strbuf_append(&b, ", ", 2);
            put_elem(&b, kv, i);
        }
        strbuf_append(&b, "]", 1);
    } else {
        put_elem(&b, kv, 0);
    }
    size_t len = 0;
    int st = lfm_output_text(&b, buf, buf_size, &len);
    strbuf_free(&b);
    if (needed) *needed = len;
    if (st == LFM2MOE_ERR_BUFFER_TOO_SMALL)
        return lfm_fail(st, "metadata '%s' needs %zu bytes plus a NUL, buffer has %zu", key, len,
                        buf_size);
    return st;
}
