/* Writing GGUF v3 files sequentially: header, metadata, tensor table, then
 * tensor data, each tensor padded to the alignment.  The one GGUF writer of
 * the project: quantize and synth write files with it, the tests build
 * valid and deliberately broken images in memory with it.  Errors are
 * sticky: check `failed` once at the end.
 *
 * gguf_writer.c calls only libc and base/strbuf.c, so the ABI tests (which
 * link the shared library, whose internals are hidden) compile it in. */
#ifndef LFM_GGUF_WRITER_H
#define LFM_GGUF_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "base/strbuf.h"
#include "files/write_file.h"
#include "model/gguf.h" /* constants and types only */

typedef struct gguf_writer {
    FILE *f;      /* the file written, or NULL for: */
    strbuf *mem;  /* the image built in memory */
    uint64_t pos; /* bytes written */
    int failed;
} gguf_writer;

/* A writer appending to the image in *mem; it goes on working when the
 * caller empties or frees the image (a test builds one image after another). */
gguf_writer gw_memory(strbuf *mem);

void gw_raw(gguf_writer *w, const void *p, size_t n);
void gw_u32(gguf_writer *w, uint32_t v);
void gw_u64(gguf_writer *w, uint64_t v);
void gw_str(gguf_writer *w, const char *p, uint64_t n);
void gw_cstr(gguf_writer *w, const char *s);
/* n bytes left as a hole (read back as zeros) instead of written */
void gw_skip(gguf_writer *w, uint64_t n);
/* after the last write: a file that ends in a hole gets its full length */
void gw_finish(gguf_writer *w);
/* zeros up to the next multiple of align */
void gw_pad(gguf_writer *w, uint64_t align);
/* magic, version 3, the tensor and metadata counts */
void gw_header(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv);
/* the same with another version number (tests of the reader) */
void gw_header_version(gguf_writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
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

/* A tensor's table entry and the size of its data. */
typedef struct gw_tensor {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;  /* ggml type */
    uint64_t bytes; /* of its data, without padding */
} gw_tensor;

/* The tensor table of tensors whose data follow in this order, each
 * starting at a multiple of align, then the padding before the first. */
void gw_tensor_table(gguf_writer *w, const gw_tensor *t, uint64_t n, uint64_t align);

#endif
