/* GGUF reader: parses and validates the header, metadata and tensor table of
 * a GGUF v2/v3 image in memory (usually a read-only file mapping).  Nothing
 * is copied except keys and tensor names; every count, length, offset,
 * dimension and type is checked against the image before use, so a hostile
 * file yields LFM2MOE_ERR_BAD_FORMAT (message via lfm2moe_last_error), never
 * a read outside the image or an allocation larger than the image. */
#ifndef LFM_GGUF_H
#define LFM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" */

enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

/* A string inside the image: NOT NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    char *key;           /* NUL-terminated copy */
    uint32_t type;       /* gguf_value_type */
    uint32_t elem_type;  /* arrays: type of the elements; else == type */
    uint64_t n;          /* arrays: element count; scalars: 1 */
    const uint8_t *data; /* scalar value / first array element, in the image */
    gguf_str *strs;      /* STRING and string arrays: n entries */
} gguf_kv;

typedef struct gguf_tensor {
    char *name;      /* NUL-terminated copy */
    uint32_t type;   /* ggml type id (lfm_types.h); layout known */
    uint32_t n_dims; /* 1..4 */
    int64_t ne[4];   /* unused dims are 1 */
    uint64_t offset; /* from the start of the image */
    uint64_t nbytes;
    const void *data; /* base + offset */
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *base;
    uint64_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset; /* start of the tensor data section */
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
} gguf_file;

/* Parse image [data, data+size).  On success fills *out (free with
 * gguf_free); on failure returns a status, sets the thread's error message
 * and leaves *out empty (gguf_free on it is harmless). */
int gguf_parse(const void *data, uint64_t size, gguf_file *out);
/* The same from the first `size` bytes of a file of `total` bytes (the
 * header read with pread, so parsing never touches a mapping that a
 * concurrent truncation could invalidate).  Returns BUFFER_TOO_SMALL,
 * without a message, if the header continues past `size`: call again with
 * more.  Tensor `data` pointers are left NULL unless size == total; offsets
 * and sizes are checked against `total`. */
int gguf_parse_prefix(const void *data, uint64_t size, uint64_t total, gguf_file *out);
void gguf_free(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters.  Integers convert between any integer types when the value
 * fits; floats accept FLOAT32/FLOAT64.  Return LFM2MOE_OK, ERR_NOT_FOUND if
 * the key is absent (recording no message: the caller decides whether that
 * is an error), ERR_BAD_MODEL (with a message naming the key) if it has
 * the wrong type or does not fit. */
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out); /* tests only, so far */
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);

/* 1 if values of GGUF type t are integers (not BOOL, which is stored as one). */
int gguf_type_is_int(uint32_t t);

/* Element i (< kv->n) of a scalar or array kv holding integers, as int64. */
int64_t gguf_kv_int(const gguf_kv *kv, uint64_t i);
/* Element i of an integer or float kv, as double. */
double gguf_kv_num(const gguf_kv *kv, uint64_t i);

const char *gguf_type_name(uint32_t type);
/* Bytes of one scalar of a numeric/bool value type (0 for STRING/ARRAY). */
uint64_t gguf_value_size(uint32_t type);

#endif
