/* GGUF v2/v3 parser.  Layout (little-endian):
 *   u32 magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { str key, u32 type, value },
 *   n_tensors x { str name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   padding to `general.alignment` (default 32), tensor data.
 * A str is u64 length + bytes (no NUL).  Every read goes through a cursor
 * that refuses to step past the end, and every count is checked against the
 * bytes left before anything is allocated for it. */
#include "model/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "lfm_types.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef struct cursor {
    const uint8_t *base;
    uint64_t size;  /* bytes available in base */
    uint64_t total; /* bytes of the whole file (>= size) */
    uint64_t pos;
    const char *what; /* what is being read, for messages */
} cursor;

static int truncated(const cursor *c, uint64_t need) {
    /* past the bytes we were given but not past the file: ask for more */
    if (c->size < c->total && need <= c->total - c->pos) return LFM2MOE_ERR_BUFFER_TOO_SMALL;
    return lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                    "GGUF truncated: %s needs %llu bytes at offset %llu, file has %llu", c->what,
                    (unsigned long long)need, (unsigned long long)c->pos,
                    (unsigned long long)c->total);
}

static int take(cursor *c, uint64_t n, const uint8_t **p) {
    if (n > c->size - c->pos) return truncated(c, n);
    *p = c->base + c->pos;
    c->pos += n;
    return LFM2MOE_OK;
}

static int read_u32(cursor *c, uint32_t *v) {
    const uint8_t *p = NULL;
    int st = take(c, 4, &p);
    if (st) return st;
    memcpy(v, p, 4);
    return LFM2MOE_OK;
}

static int read_u64(cursor *c, uint64_t *v) {
    const uint8_t *p = NULL;
    int st = take(c, 8, &p);
    if (st) return st;
    memcpy(v, p, 8);
    return LFM2MOE_OK;
}

static int read_str(cursor *c, gguf_str *s) {
    uint64_t len;
    int st = read_u64(c, &len);
    if (st) return st;
    const uint8_t *p = NULL;
    if ((st = take(c, len, &p))) return st;
    s->ptr = (const char *)p;
    s->len = len;
    return LFM2MOE_OK;
}

/* NUL-terminated copy of a string that must not contain NUL (keys, names). */
static int dup_name(const gguf_str *s, const char *what, char **out) {
    if (s->len == 0 || memchr(s->ptr, 0, s->len))
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF %s is empty or contains a NUL byte", what);
    if (s->len > 65535)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF %s is %llu bytes long", what,
                        (unsigned long long)s->len);
    char *d = malloc(s->len + 1);
    if (!d) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory copying a GGUF %s", what);
    memcpy(d, s->ptr, s->len);
    d[s->len] = 0;
    *out = d;
    return LFM2MOE_OK;
}

static uint64_t scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

uint64_t gguf_value_size(uint32_t type) {
    return scalar_size(type);
}

const char *gguf_type_name(uint32_t type) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                 "i32", "f32", "bool", "string", "array",
                                                 "u64", "i64", "f64"};
    return type < GGUF_TYPE_COUNT ? names[type] : "invalid";
}

static int read_value(cursor *c, gguf_kv *kv) {
    int st;
    uint32_t type = kv->type;
    if (type == GGUF_TYPE_ARRAY) {
        uint32_t et;
        uint64_t n;
        if ((st = read_u32(c, &et)) || (st = read_u64(c, &n))) return st;
        if (et == GGUF_TYPE_ARRAY || et >= GGUF_TYPE_COUNT)
            return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF key '%s': invalid array element type %u",
                            kv->key, et);
        kv->elem_type = et;
        kv->n = n;
        kv->data = c->base + c->pos;
        if (et == GGUF_TYPE_STRING) {
            /* each element needs at least its 8-byte length: bounds the allocation */
            if (n > (c->size - c->pos) / 8) return truncated(c, n * 8);
            kv->strs = malloc((size_t)(n ? n : 1) * sizeof(gguf_str));
            if (!kv->strs)
                return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for GGUF key '%s'",
                                kv->key);
            for (uint64_t i = 0; i < n; i++)
                if ((st = read_str(c, &kv->strs[i]))) return st;
            return LFM2MOE_OK;
        }
        uint64_t es = scalar_size(et);
        if (n > (c->size - c->pos) / es) return truncated(c, n * es);
        c->pos += n * es;
        return LFM2MOE_OK;
    }
    if (type >= GGUF_TYPE_COUNT)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF key '%s': invalid value type %u", kv->key,
                        type);
    kv->elem_type = type;
    kv->n = 1;
    kv->data = c->base + c->pos;
    if (type == GGUF_TYPE_STRING) {
        kv->strs = malloc(sizeof(gguf_str));
        if (!kv->strs)
            return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for GGUF key '%s'", kv->key);
        return read_str(c, kv->strs);
    }
    const uint8_t *p = NULL;
    return take(c, scalar_size(type), &p);
}

void gguf_free(gguf_file *f) {
    if (!f) return;
    if (f->kv) {
        for (uint64_t i = 0; i < f->n_kv; i++) {
            free(f->kv[i].key);
            free(f->kv[i].strs);
        }
        free(f->kv);
    }
    if (f->tensors) {
        for (uint64_t i = 0; i < f->n_tensors; i++)
            free(f->tensors[i].name);
        free(f->tensors);
    }
    memset(f, 0, sizeof *f);
}

static int parse_tensor_info(cursor *c, gguf_file *f, gguf_tensor *t) {
    gguf_str name;
    int st;
    c->what = "tensor info";
    if ((st = read_str(c, &name)) || (st = dup_name(&name, "tensor name", &t->name))) return st;
    if ((st = read_u32(c, &t->n_dims))) return st;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF tensor '%s' has %u dimensions", t->name,
                        t->n_dims);
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if ((st = read_u64(c, &ne))) return st;
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF tensor '%s': dimension %u is %llu",
                            t->name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
    }
    uint64_t off;
    if ((st = read_u32(c, &t->type)) || (st = read_u64(c, &off))) return st;
    const lfm_type_layout *lay = lfm_type_layout_get(t->type);
    if (!lay)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF tensor '%s' has unknown type id %u", t->name,
                        t->type);
    if (t->ne[0] % lay->block_size)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                        "GGUF tensor '%s': row of %lld elements is not a multiple of the %s "
                        "block size %d",
                        t->name, (long long)t->ne[0], lay->name, lay->block_size);
    /* size = ne0/bs*ts * ne1 * ne2 * ne3, refusing overflow and anything past the file */
    uint64_t bytes = (uint64_t)(t->ne[0] / lay->block_size);
    int overflow = __builtin_mul_overflow(bytes, (uint64_t)lay->type_size, &bytes);
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        overflow |= __builtin_mul_overflow(bytes, (uint64_t)t->ne[d], &bytes);
    if (overflow || bytes > f->size)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                        "GGUF tensor '%s' [%lld, %lld, %lld, %lld] is larger than the file",
                        t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3]);
    t->offset = off; /* relative for now; made absolute once data_offset is known */
    t->nbytes = bytes;
    return LFM2MOE_OK;
}

/* Duplicate detection for keys and tensor names: an open-addressing set of
 * indices (linear in the number of entries, whatever a hostile file holds). */
typedef struct name_set {
    uint32_t *slots; /* index + 1, 0 empty */
    uint64_t mask;
} name_set;

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int set_init(name_set *set, uint64_t n) {
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    set->mask = cap - 1;
    set->slots = calloc((size_t)cap, sizeof *set->slots);
    return set->slots ? LFM2MOE_OK
                      : lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for GGUF names");
}

/* Insert names[idx] (names is an array of `char *` at stride bytes); 1 if
 * an equal name is already in the set. */
static int set_insert(name_set *set, const void *names, size_t stride, uint32_t idx) {
    const char *name = *(char *const *)((const uint8_t *)names + (size_t)idx * stride);
    for (uint64_t h = name_hash(name) & set->mask;; h = (h + 1) & set->mask) {
        uint32_t v = set->slots[h];
        if (!v) {
            set->slots[h] = idx + 1;
            return 0;
        }
        if (!strcmp(*(char *const *)((const uint8_t *)names + (size_t)(v - 1) * stride), name))
            return 1;
    }
}

#define GGUF_MAX_ENTRIES (1u << 24) /* keys or tensors: far beyond any model */

int gguf_parse_prefix(const void *data, uint64_t size, uint64_t total, gguf_file *f) {
    int st;
    LFM_CHECK_ARG_IN("gguf_parse", f, "NULL output");
    memset(f, 0, sizeof *f);
    LFM_CHECK_ARG_IN("gguf_parse", data, "NULL data");
    if (size > total)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "gguf_parse: %llu bytes of a %llu-byte file",
                        (unsigned long long)size, (unsigned long long)total);
    f->base = data;
    f->size = total;
    cursor c = {data, size, total, 0, "header"};
    name_set keys = {0}, names = {0};
    /* the tables grow with what was actually parsed, so memory stays
     * proportional to the bytes read, not to the counts a header claims */
    size_t kv_cap = 0, t_cap = 0;
    uint32_t magic;
    uint64_t n_tensors, n_kv;
    if ((st = read_u32(&c, &magic))) goto fail;
    if (magic != GGUF_MAGIC) {
        st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "not a GGUF file (magic 0x%08x)", magic);
        goto fail;
    }
    if ((st = read_u32(&c, &f->version))) goto fail;
    if (f->version != 2 && f->version != 3) {
        st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "unsupported GGUF version %u (2 and 3 are read)",
                      f->version);
        goto fail;
    }
    if ((st = read_u64(&c, &n_tensors)) || (st = read_u64(&c, &n_kv))) goto fail;
    /* a kv needs >= 8+1+4+1 bytes, a tensor info >= 8+1+4+8+4+8: bound the arrays */
    if (n_kv > (total - c.pos) / 14 || n_tensors > (total - c.pos) / 33 ||
        n_kv > GGUF_MAX_ENTRIES || n_tensors > GGUF_MAX_ENTRIES) {
        st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                      "GGUF header claims %llu keys and %llu tensors, more than the file holds",
                      (unsigned long long)n_kv, (unsigned long long)n_tensors);
        goto fail;
    }
    if ((st = set_init(&keys, n_kv < 4096 ? n_kv : 4096))) goto fail;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (LFM_RESERVE(f->kv, kv_cap, (size_t)i + 1)) {
            st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the GGUF tables");
            goto fail;
        }
        memset(&f->kv[i], 0, sizeof f->kv[i]);
        gguf_kv *kv = &f->kv[i];
        gguf_str key;
        c.what = "metadata key";
        if ((st = read_str(&c, &key)) || (st = dup_name(&key, "metadata key", &kv->key))) goto fail;
        f->n_kv = i + 1;                   /* so gguf_free releases what was read */
        if (i + 1 > (keys.mask + 1) / 2) { /* keep the set at most half full */
            free(keys.slots);
            if ((st = set_init(&keys, 2 * (i + 1)))) goto fail;
            for (uint64_t j = 0; j < i; j++)
                set_insert(&keys, &f->kv[0].key, sizeof(gguf_kv), (uint32_t)j);
        }
        if (set_insert(&keys, &f->kv[0].key, sizeof(gguf_kv), (uint32_t)i)) {
            st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF key '%s' appears twice", kv->key);
            goto fail;
        }
        c.what = "metadata value";
        if ((st = read_u32(&c, &kv->type)) || (st = read_value(&c, kv))) goto fail;
        if (strcmp(kv->key, "general.alignment") == 0) {
            int64_t a;
            if (kv->type != GGUF_TYPE_UINT32 && kv->type != GGUF_TYPE_UINT64 &&
                kv->type != GGUF_TYPE_INT32) {
                st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "general.alignment has type %s",
                              gguf_type_name(kv->type));
                goto fail;
            }
            a = gguf_kv_int(kv, 0);
            if (a <= 0 || a > (1 << 20) || (a & (a - 1))) {
                st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                              "general.alignment %lld is not a power of two up to 1 MiB",
                              (long long)a);
                goto fail;
            }
            f->alignment = (uint64_t)a;
        }
    }
    if ((st = set_init(&names, n_tensors < 4096 ? n_tensors : 4096))) goto fail;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (LFM_RESERVE(f->tensors, t_cap, (size_t)i + 1)) {
            st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for the GGUF tables");
            goto fail;
        }
        memset(&f->tensors[i], 0, sizeof f->tensors[i]);
        f->n_tensors = i + 1;
        if ((st = parse_tensor_info(&c, f, &f->tensors[i]))) goto fail;
        if (i + 1 > (names.mask + 1) / 2) {
            free(names.slots);
            if ((st = set_init(&names, 2 * (i + 1)))) goto fail;
            for (uint64_t j = 0; j < i; j++)
                set_insert(&names, &f->tensors[0].name, sizeof(gguf_tensor), (uint32_t)j);
        }
        if (set_insert(&names, &f->tensors[0].name, sizeof(gguf_tensor), (uint32_t)i)) {
            st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF tensor '%s' appears twice",
                          f->tensors[i].name);
            goto fail;
        }
    }
    /* tensor data starts at the next multiple of the alignment */
    uint64_t data_off = c.pos + (f->alignment - c.pos % f->alignment) % f->alignment;
    if (n_tensors && data_off > total) {
        st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF truncated before the tensor data");
        goto fail;
    }
    f->data_offset = data_off;
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment) {
            st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "GGUF tensor '%s' offset %llu is not aligned",
                          t->name, (unsigned long long)t->offset);
            goto fail;
        }
        if (t->offset > total - data_off || t->nbytes > total - data_off - t->offset) {
            st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                          "GGUF tensor '%s' (%llu bytes at data offset %llu) lies past the end "
                          "of the file (%llu bytes)",
                          t->name, (unsigned long long)t->nbytes, (unsigned long long)t->offset,
                          (unsigned long long)total);
            goto fail;
        }
        t->offset += data_off;
        /* the data is in the image only when we were given all of it */
        t->data = size == total ? f->base + t->offset : NULL;
    }
    free(keys.slots);
    free(names.slots);
    return LFM2MOE_OK;
fail:
    free(keys.slots);
    free(names.slots);
    gguf_free(f);
    return st;
}

int gguf_parse(const void *data, uint64_t size, gguf_file *f) {
    return gguf_parse_prefix(data, size, size, f);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

int gguf_type_is_int(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_UINT16 ||
           t == GGUF_TYPE_INT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

int64_t gguf_kv_int(const gguf_kv *kv, uint64_t i) {
    const uint8_t *p = kv->data + i * scalar_size(kv->elem_type);
    switch (kv->elem_type) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_BOOL: return *p;
    case GGUF_TYPE_INT8: return (int8_t)*p;
    case GGUF_TYPE_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case GGUF_TYPE_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case GGUF_TYPE_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case GGUF_TYPE_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case GGUF_TYPE_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    case GGUF_TYPE_INT64: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    default: return 0;
    }
}

double gguf_kv_num(const gguf_kv *kv, uint64_t i) {
    if (kv->elem_type == GGUF_TYPE_FLOAT32) {
        float v;
        memcpy(&v, kv->data + i * 4, 4);
        return v;
    }
    if (kv->elem_type == GGUF_TYPE_FLOAT64) {
        double v;
        memcpy(&v, kv->data + i * 8, 8);
        return v;
    }
    return (double)gguf_kv_int(kv, i);
}

static int wrong_type(const gguf_kv *kv, const char *want) {
    return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' has type %s, expected %s", kv->key,
                    gguf_type_name(kv->type), want);
}

/* Absence records no message: most keys are optional, and a caller that
 * needs one says why (a successful load must not leave an error behind). */
static int find_or_fail(const gguf_file *f, const char *key, const gguf_kv **kv) {
    *kv = gguf_find(f, key);
    return *kv ? LFM2MOE_OK : LFM2MOE_ERR_NOT_FOUND;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv;
    int st = find_or_fail(f, key, &kv);
    if (st) return st;
    if (!gguf_type_is_int(kv->type)) return wrong_type(kv, "an integer");
    if (kv->type == GGUF_TYPE_UINT64) {
        uint64_t v;
        memcpy(&v, kv->data, 8);
        if (v > (uint64_t)INT64_MAX)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' = %llu is out of range", key,
                            (unsigned long long)v);
    }
    *out = gguf_kv_int(kv, 0);
    return LFM2MOE_OK;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    int64_t v;
    int st = gguf_get_i64(f, key, &v);
    if (st) return st;
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "metadata '%s' = %lld is out of range", key,
                        (long long)v);
    *out = (uint32_t)v;
    return LFM2MOE_OK;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv;
    int st = find_or_fail(f, key, &kv);
    if (st) return st;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64)
        return wrong_type(kv, "a float");
    *out = (float)gguf_kv_num(kv, 0);
    return LFM2MOE_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv;
    int st = find_or_fail(f, key, &kv);
    if (st) return st;
    if (kv->type != GGUF_TYPE_BOOL) return wrong_type(kv, "a bool");
    *out = kv->data[0] != 0;
    return LFM2MOE_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv;
    int st = find_or_fail(f, key, &kv);
    if (st) return st;
    if (kv->type != GGUF_TYPE_STRING) return wrong_type(kv, "a string");
    *out = kv->strs[0];
    return LFM2MOE_OK;
}
