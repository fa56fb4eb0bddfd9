#include "files/gguf_writer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errors.h"

void gw_raw(gguf_writer *w, const void *p, size_t n) {
    if (!w->failed && n && fwrite(p, 1, n, w->f) != n)
        w->failed = 1;
    w->pos += n;
}

void gw_skip(gguf_writer *w, uint64_t n) {
    if (!w->failed && n && fseeko(w->f, (off_t)n, SEEK_CUR) != 0)
        w->failed = 1;
    w->pos += n;
}

void gw_finish(gguf_writer *w) {
    if (!w->failed && (fflush(w->f) != 0 || ftruncate(fileno(w->f), (off_t)w->pos) != 0))
        w->failed = 1;
}

void gw_u32(gguf_writer *w, uint32_t v) { gw_raw(w, &v, 4); }
void gw_u64(gguf_writer *w, uint64_t v) { gw_raw(w, &v, 8); }

void gw_str(gguf_writer *w, const char *p, uint64_t n) {
    gw_u64(w, n);
    gw_raw(w, p, (size_t)n);
}

void gw_pad(gguf_writer *w, uint64_t align) {
    static const uint8_t zeros[256];
    uint64_t pad = (align - w->pos % align) % align;
    while (pad) {
        uint64_t k = pad < sizeof zeros ? pad : sizeof zeros;
        gw_raw(w, zeros, (size_t)k);
        pad -= k;
    }
}

void gw_header(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv) {
    gw_u32(w, 0x46554747u); /* "GGUF" */
    gw_u32(w, 3);
    gw_u64(w, n_tensors);
    gw_u64(w, n_kv);
}

void gw_kv(gguf_writer *w, const gguf_kv *kv) {
    gw_str(w, kv->key, strlen(kv->key));
    gw_u32(w, kv->type);
    if (kv->type == GGUF_TYPE_ARRAY) {
        gw_u32(w, kv->elem_type);
        gw_u64(w, kv->n);
    }
    if (kv->elem_type == GGUF_TYPE_STRING)
        for (uint64_t i = 0; i < kv->n; i++)
            gw_str(w, kv->strs[i].ptr, kv->strs[i].len);
    else
        gw_raw(w, kv->data, (size_t)(kv->n * gguf_value_size(kv->elem_type)));
}

void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v) {
    gw_str(w, key, strlen(key));
    gw_u32(w, GGUF_TYPE_UINT32);
    gw_u32(w, v);
}

void gw_kv_f32(gguf_writer *w, const char *key, float v) {
    gw_str(w, key, strlen(key));
    gw_u32(w, GGUF_TYPE_FLOAT32);
    gw_raw(w, &v, 4);
}

void gw_kv_str(gguf_writer *w, const char *key, const char *v) {
    gw_str(w, key, strlen(key));
    gw_u32(w, GGUF_TYPE_STRING);
    gw_str(w, v, strlen(v));
}

void gw_kv_i32_array(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    gw_kv_array_head(w, key, GGUF_TYPE_INT32, n);
    gw_raw(w, v, (size_t)n * 4);
}

void gw_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                    uint32_t type, uint64_t offset) {
    gw_str(w, name, strlen(name));
    gw_u32(w, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gw_u64(w, (uint64_t)ne[d]);
    gw_u32(w, type);
    gw_u64(w, offset);
}

int gw_write_file(const char *path, int (*body)(FILE *f, void *ctx), void *ctx) {
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    if (!tmp)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, tl, "%s.part", path);
    int st;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = lfm_fail(LFM2MOE_ERR_IO, "cannot create '%s'", tmp);
    } else {
        st = body(f, ctx);
        if (fclose(f) != 0 && !st)
            st = lfm_fail(LFM2MOE_ERR_IO, "cannot write '%s'", tmp);
        if (!st && rename(tmp, path) != 0)
            st = lfm_fail(LFM2MOE_ERR_IO, "cannot rename '%s' to '%s'", tmp, path);
        if (st)
            unlink(tmp);
    }
    free(tmp);
    return st;
}

void gw_kv_bool(gguf_writer *w, const char *key, int v) {
    gw_str(w, key, strlen(key));
    gw_u32(w, GGUF_TYPE_BOOL);
    uint8_t b = v != 0;
    gw_raw(w, &b, 1);
}

void gw_kv_array_head(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n) {
    gw_str(w, key, strlen(key));
    gw_u32(w, GGUF_TYPE_ARRAY);
    gw_u32(w, elem_type);
    gw_u64(w, n);
}
