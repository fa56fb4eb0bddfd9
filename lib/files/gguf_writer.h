/* Writing GGUF v3 files sequentially (quantize, synth): header, metadata,
 * tensor table, then tensor data, each tensor padded to the alignment.
 * Errors are sticky: check `failed` once at the end. */
#ifndef LFM_GGUF_WRITER_H
#define LFM_GGUF_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "model/gguf.h"

typedef struct gguf_writer {
    FILE *f;
    uint64_t pos; /* bytes written */
    int failed;
} gguf_writer;

void gw_raw(gguf_writer *w, const void *p, size_t n);
void gw_u32(gguf_writer *w, uint32_t v);
void gw_u64(gguf_writer *w, uint64_t v);
void gw_str(gguf_writer *w, const char *p, uint64_t n);
/* n bytes left as a hole (read back as zeros) instead of written */
void gw_skip(gguf_writer *w, uint64_t n);
/* after the last write: a file that ends in a hole gets its full length */
void gw_finish(gguf_writer *w);
/* zeros up to the next multiple of align */
void gw_pad(gguf_writer *w, uint64_t align);
void gw_header(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv);
/* a metadata entry copied from a parsed file */
void gw_kv(gguf_writer *w, const gguf_kv *kv);
void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v);
void gw_kv_f32(gguf_writer *w, const char *key, float v);
void gw_kv_str(gguf_writer *w, const char *key, const char *v);
void gw_kv_bool(gguf_writer *w, const char *key, int v);
/* the head of an array entry; the caller writes its n elements next
 * (strings with gw_str) */
void gw_kv_array_head(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n);
void gw_kv_i32_array(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
void gw_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                    uint32_t type, uint64_t offset);

/* Write a file through `body` into "<path>.part" and rename it to `path` only
 * if everything succeeded (the partial file is removed otherwise), so a
 * failed or cancelled write never leaves a truncated model behind. */
int gw_write_file(const char *path, int (*body)(FILE *f, void *ctx), void *ctx);

#endif
