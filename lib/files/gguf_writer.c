#include "files/gguf_writer.h"

#include <string.h>
#include <unistd.h>

gguf_writer gw_memory(strbuf *mem) {
    return (gguf_writer){.mem = mem};
}

void gw_raw(gguf_writer *w, const void *p, size_t n) {
    if (!w->failed && n && (w->mem ? strbuf_append(w->mem, p, n) != 0 : fwrite(p, 1, n, w->f) != n))
        w->failed = 1;
    w->pos += n;
}

void gw_skip(gguf_writer *w, uint64_t n) {
    if (!w->failed && n &&
        (w->mem ? (uint64_t)(size_t)n != n || strbuf_zeros(w->mem, (size_t)n) != 0
                : fseeko(w->f, (off_t)n, SEEK_CUR) != 0))
        w->failed = 1;
    w->pos += n;
}

void gw_finish(gguf_writer *w) {
    if (!w->failed && !w->mem && (fflush(w->f) != 0 || ftruncate(fileno(w->f), (off_t)w->pos) != 0))
        w->failed = 1;
}

void gw_u32(gguf_writer *w, uint32_t v) {
    gw_raw(w, &v, 4);
}
void gw_u64(gguf_writer *w, uint64_t v) {
    gw_raw(w, &v, 8);
}

void gw_str(gguf_writer *w, const char *p, uint64_t n) {
    gw_u64(w, n);
    gw_raw(w, p, (size_t)n);
}

void gw_cstr(gguf_writer *w, const char *s) {
    gw_str(w, s, strlen(s));
}

void gw_pad(gguf_writer *w, uint64_t align) {
    static const uint8_t zeros[256];
    /* in memory, the image's length: right even after the image was emptied */
    const uint64_t pos = w->mem ? w->mem->len : w->pos;
    uint64_t pad = (align - pos % align) % align;
    while (pad) {
        uint64_t k = pad < sizeof zeros ? pad : sizeof zeros;
        gw_raw(w, zeros, (size_t)k);
        pad -= k;
    }
}

void gw_header_version(gguf_writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gw_u32(w, GGUF_MAGIC);
    gw_u32(w, version);
    gw_u64(w, n_tensors);
    gw_u64(w, n_kv);
}

void gw_header(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv) {
    gw_header_version(w, 3, n_tensors, n_kv);
}

void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v) {
    gw_cstr(w, key);
    gw_u32(w, GGUF_TYPE_UINT32);
    gw_u32(w, v);
}

void gw_kv_f32(gguf_writer *w, const char *key, float v) {
    gw_cstr(w, key);
    gw_u32(w, GGUF_TYPE_FLOAT32);
    gw_raw(w, &v, 4);
}

void gw_kv_str(gguf_writer *w, const char *key, const char *v) {
    gw_cstr(w, key);
    gw_u32(w, GGUF_TYPE_STRING);
    gw_cstr(w, v);
}

void gw_kv_i32_array(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    gw_kv_array_head(w, key, GGUF_TYPE_INT32, n);
    gw_raw(w, v, (size_t)n * 4);
}

void gw_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                    uint32_t type, uint64_t offset) {
    gw_cstr(w, name);
    gw_u32(w, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gw_u64(w, (uint64_t)ne[d]);
    gw_u32(w, type);
    gw_u64(w, offset);
}

void gw_kv_bool(gguf_writer *w, const char *key, int v) {
    gw_cstr(w, key);
    gw_u32(w, GGUF_TYPE_BOOL);
    uint8_t b = v != 0;
    gw_raw(w, &b, 1);
}

void gw_kv_array_head(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n) {
    gw_cstr(w, key);
    gw_u32(w, GGUF_TYPE_ARRAY);
    gw_u32(w, elem_type);
    gw_u64(w, n);
}

void gw_tensor_table(gguf_writer *w, const gw_tensor *t, uint64_t n, uint64_t align) {
    uint64_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        gw_tensor_info(w, t[i].name, t[i].n_dims, t[i].ne, t[i].type, off);
        off += t[i].bytes;
        off += (align - off % align) % align;
    }
    gw_pad(w, align);
}
