/* Session snapshots: lfm2moe_session_save / _load and their file forms.
 * The format (versions 1 and 2, little-endian) is documented in
 * docs/session-format.md; keep the two in step.  Version 2 is the layout
 * of a sliding-window KV ring that has wrapped (the whole ring, slot
 * order); everything else is written as version 1, which older libraries
 * read too.  Loading checks the whole
 * input (lengths, checksum, model fingerprint, every token and float)
 * before it changes anything, so a failed load leaves the session as it
 * was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "files/gguf_writer.h"
#include "model/model.h"
#include "model/session.h"
#include "model/snapshot.h"

typedef struct lfm2moe_session session;

#define SNAP_MAGIC "LFM2SESS"
#define SNAP_VERSION 1u      /* KV: positions 0..N-1, a prefix of each cache */
#define SNAP_VERSION_RING 2u /* KV: the whole ring of R slots (N > R) */
#define SNAP_HEADER 96u
#define SNAP_TRAILER 8u /* the checksum */
#define SNAP_ARCH 16u

/* ---- hashing ---------------------------------------------------------- */

/* A 64-bit hash over bytes, 8 at a time (fast enough for hundreds of MB). */
typedef struct hasher {
    uint64_t h;
    uint64_t n;
} hasher;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

static void hash_bytes(hasher *z, const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = z->h;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < len; j++)
        tail |= (uint64_t)p[i + j] << (8 * j);
    h = (h ^ tail ^ (uint64_t)(len - i) << 56) * 0xc2b2ae3d27d4eb4full;
    z->h = h;
    z->n += len;
}

static uint64_t hash_final(const hasher *z) {
    return mix64(z->h ^ mix64(z->n));
}

uint64_t lfm_snapshot_checksum(const void *data, size_t len) {
    hasher z = {0x5eed5e55100ull, 0};
    hash_bytes(&z, data, len);
    return hash_final(&z);
}

/* The model's fingerprint: every metadata key and value and every tensor's
 * name, type, shape and offset (not the weights: a file is identified by
 * its header). */
static uint64_t model_fingerprint(const lfm2moe_model *m) {
    const gguf_file *g = &m->gguf;
    hasher z = {0x6c666d32ull, 0};
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        hash_bytes(&z, kv->key, strlen(kv->key) + 1);
        const uint64_t shape[3] = {kv->type, kv->elem_type, kv->n};
        hash_bytes(&z, shape, sizeof shape);
        if (kv->strs) {
            for (uint64_t j = 0; j < kv->n; j++) {
                hash_bytes(&z, &kv->strs[j].len, sizeof kv->strs[j].len);
                hash_bytes(&z, kv->strs[j].ptr, (size_t)kv->strs[j].len);
            }
        } else if (kv->data) {
            hash_bytes(&z, kv->data, (size_t)(kv->n * gguf_value_size(kv->elem_type)));
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        hash_bytes(&z, t->name, strlen(t->name) + 1);
        const uint64_t desc[7] = {t->type,
                                  t->n_dims,
                                  (uint64_t)t->ne[0],
                                  (uint64_t)t->ne[1],
                                  (uint64_t)t->ne[2],
                                  (uint64_t)t->ne[3],
                                  t->offset};
        hash_bytes(&z, desc, sizeof desc);
    }
    return hash_final(&z);
}

/* ---- layout ----------------------------------------------------------- */

/* The header's fields, in file order after magic, version, header size. */
typedef struct snap_header {
    uint64_t model_hash;
    char arch[SNAP_ARCH];
    uint32_t n_vocab, n_embd, n_block, n_attn, n_conv, n_head_kv, head_dim, l_cache;
    uint32_t kv_type;
    int32_t n_tokens, ckpt_interval, n_ckpt;
    int32_t ring; /* version 2: the ring's slots, whose bytes are stored; 0: version 1 */
} snap_header;

static void header_of(const session *s, snap_header *h) {
    const lfm2moe_model *m = s->model;
    memset(h, 0, sizeof *h);
    h->model_hash = model_fingerprint(m);
    strncpy(h->arch, m->arch ? m->arch : "", SNAP_ARCH - 1);
    h->n_vocab = (uint32_t)m->hp.n_vocab;
    h->n_embd = (uint32_t)m->hp.n_embd;
    h->n_block = (uint32_t)m->hp.n_block;
    h->n_attn = (uint32_t)m->n_attn_blocks;
    h->n_conv = (uint32_t)m->n_conv_blocks;
    h->n_head_kv = (uint32_t)m->hp.n_head_kv;
    h->head_dim = (uint32_t)m->hp.head_dim;
    h->l_cache = (uint32_t)m->hp.l_cache;
    h->kv_type = (uint32_t)s->kv_type;
}

/* Positions whose KV bytes a snapshot of n tokens stores: n (a prefix of
 * each cache), or a wrapped ring's slots (ring > 0). */
static int32_t kv_stored(int32_t n, int32_t ring) {
    return ring ? ring : n;
}

/* Bytes of a snapshot holding n tokens, n_ckpt checkpoints and the KV of
 * kv_pos positions (kv_stored), for a session of this model (0 on
 * overflow: no buffer is that large). */
static uint64_t snap_size(const session *s, uint64_t n, uint64_t n_ckpt, int32_t kv_pos) {
    const lfm2moe_model *m = s->model;
    const uint64_t conv = (uint64_t)s->conv_floats * sizeof(float);
    if (n > (uint64_t)INT32_MAX) return 0;
    /* per kv head: the K and V bytes of kv_pos positions (keys in whole blocks) */
    const uint64_t head = lfm_kv_prefix(s->kv_type, LFM_KV_K, kv_pos, m->hp.head_dim) +
                          lfm_kv_prefix(s->kv_type, LFM_KV_V, kv_pos, m->hp.head_dim);
    uint64_t total = SNAP_HEADER + SNAP_TRAILER + conv, part;
    if (__builtin_mul_overflow(n, 4, &part) || __builtin_add_overflow(total, part, &total) ||
        __builtin_mul_overflow((uint64_t)m->n_attn_blocks * (uint64_t)m->hp.n_head_kv, head,
                               &part) ||
        __builtin_add_overflow(total, part, &total) ||
        __builtin_mul_overflow(n_ckpt, 4 + conv, &part) ||
        __builtin_add_overflow(total, part, &total))
        return 0;
    return total;
}

/* Checkpoints a save writes: the valid ones at positions <= pos. */
static int32_t ckpts_to_save(const session *s) {
    int32_t n = 0, top = s->pos / s->ckpt_interval;
    if (top > s->n_ckpt) top = s->n_ckpt;
    for (int32_t i = 0; i < top; i++)
        n += s->ckpt_valid[i];
    return n;
}

typedef struct writer {
    unsigned char *p;
} writer;

static void put(writer *w, const void *data, size_t len) {
    memcpy(w->p, data, len);
    w->p += len;
}

static void put_u32(writer *w, uint32_t v) {
    put(w, &v, 4);
}

/* ---- save ------------------------------------------------------------- */

LFM2MOE_API int lfm2moe_session_save(const session *s, void *buf, size_t cap, size_t *len) {
    LFM_CHECK_ARGS(s && len && (!cap || buf));
    /* a wrapped ring no longer holds a prefix of positions: store it whole */
    const int32_t ring = s->kv_ring && s->pos > s->kv_ring ? s->kv_ring : 0;
    const int32_t kv_pos = kv_stored(s->pos, ring);
    const int32_t n_ckpt = ckpts_to_save(s);
    const uint64_t size = snap_size(s, (uint64_t)s->pos, (uint64_t)n_ckpt, kv_pos);
    if (!size || size > SIZE_MAX)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "lfm2moe_session_save: snapshot too large");
    *len = (size_t)size;
    if (!buf) return LFM2MOE_OK;
    if (cap < size)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL,
                        "lfm2moe_session_save: %llu bytes needed, buffer of %zu",
                        (unsigned long long)size, cap);
    snap_header h;
    header_of(s, &h);
    writer w = {buf};
    put(&w, SNAP_MAGIC, 8);
    put_u32(&w, ring ? SNAP_VERSION_RING : SNAP_VERSION);
    put_u32(&w, SNAP_HEADER);
    put(&w, &h.model_hash, 8);
    put(&w, h.arch, SNAP_ARCH);
    const uint32_t fields[] = {h.n_vocab,
                               h.n_embd,
                               h.n_block,
                               h.n_attn,
                               h.n_conv,
                               h.n_head_kv,
                               h.head_dim,
                               h.l_cache,
                               h.kv_type,
                               (uint32_t)s->pos,
                               (uint32_t)s->ckpt_interval,
                               (uint32_t)n_ckpt};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        put_u32(&w, fields[i]);
    put_u32(&w, (uint32_t)ring);
    put_u32(&w, 0);
    put(&w, s->tokens, (size_t)s->pos * sizeof(int32_t));
    put(&w, s->conv, s->conv_floats * sizeof(float));
    const int32_t top =
        s->pos / s->ckpt_interval < s->n_ckpt ? s->pos / s->ckpt_interval : s->n_ckpt;
    for (int32_t i = 0; i < top; i++)
        if (s->ckpt_valid[i]) {
            put_u32(&w, (uint32_t)i);
            put(&w, s->ckpt + (size_t)i * s->conv_floats, s->conv_floats * sizeof(float));
        }
    for (int32_t a = 0; a < s->model->n_attn_blocks; a++)
        for (int32_t g = 0; g < s->model->hp.n_head_kv; g++)
            for (int kind = LFM_KV_K; kind <= LFM_KV_V; kind++)
                put(&w, lfm_kv_head_ptr(s, a, g, kind),
                    lfm_kv_prefix(s->kv_type, kind, kv_pos, s->model->hp.head_dim));
    const uint64_t sum = lfm_snapshot_checksum(buf, (size_t)size - SNAP_TRAILER);
    put(&w, &sum, 8);
    return LFM2MOE_OK;
}

/* ---- load ------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
} reader;

static void get(reader *r, void *out, size_t len) {
    memcpy(out, r->p, len);
    r->p += len;
}

static uint32_t get_u32(reader *r) {
    uint32_t v;
    get(r, &v, 4);
    return v;
}

static int bad(const char *what) {
    return lfm_fail(LFM2MOE_ERR_BAD_FORMAT, "session snapshot: %s", what);
}

/* Check everything; fill *h.  Nothing in the session changes. */
static int validate(const session *s, const unsigned char *d, size_t len, snap_header *h) {
    if (len < SNAP_HEADER + SNAP_TRAILER)
        return bad(len < 8 ? "too short to be a snapshot" : "truncated header");
    if (memcmp(d, SNAP_MAGIC, 8)) return bad("not a session snapshot (bad magic)");
    reader r = {d + 8};
    const uint32_t version = get_u32(&r), header = get_u32(&r);
    if (version != SNAP_VERSION && version != SNAP_VERSION_RING)
        return lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                        "session snapshot: format version %u, this library reads %u and %u",
                        version, SNAP_VERSION, SNAP_VERSION_RING);
    if (header != SNAP_HEADER) return bad("unexpected header size");
    uint64_t stored;
    memcpy(&stored, d + len - SNAP_TRAILER, 8);
    if (stored != lfm_snapshot_checksum(d, len - SNAP_TRAILER))
        return bad("checksum mismatch (truncated or corrupted)");

    get(&r, &h->model_hash, 8);
    get(&r, h->arch, SNAP_ARCH);
    uint32_t *u[] = {&h->n_vocab,   &h->n_embd,   &h->n_block, &h->n_attn, &h->n_conv,
                     &h->n_head_kv, &h->head_dim, &h->l_cache, &h->kv_type};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        *u[i] = get_u32(&r);
    h->n_tokens = (int32_t)get_u32(&r);
    h->ckpt_interval = (int32_t)get_u32(&r);
    h->n_ckpt = (int32_t)get_u32(&r);
    const uint32_t ring = get_u32(&r), zero = get_u32(&r);
    if (zero || (version == SNAP_VERSION) != (ring == 0))
        return bad("bad ring field for its format version");
    if (ring > (uint32_t)INT32_MAX || ring % LFM_ATTN_KBLK)
        return bad("ring size not a whole number of key blocks");
    h->ring = (int32_t)ring;

    snap_header mine;
    header_of(s, &mine);
    if (memcmp(h->arch, mine.arch, SNAP_ARCH) || h->n_vocab != mine.n_vocab ||
        h->n_embd != mine.n_embd || h->n_block != mine.n_block || h->n_attn != mine.n_attn ||
        h->n_conv != mine.n_conv || h->n_head_kv != mine.n_head_kv ||
        h->head_dim != mine.head_dim || h->l_cache != mine.l_cache)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "session snapshot: made with another model (architecture '%.16s', %u "
                        "blocks of %u)",
                        h->arch, h->n_block, h->n_embd);
    if (h->model_hash != mine.model_hash)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "session snapshot: made with another model file (same shapes, "
                        "different metadata or tensor types)");
    if (h->kv_type != mine.kv_type)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "session snapshot: KV cache type %u, the session's is %u", h->kv_type,
                        mine.kv_type);
    if (h->n_tokens < 0 || h->ckpt_interval < 1 || h->n_ckpt < 0 ||
        h->n_ckpt > h->n_tokens / h->ckpt_interval)
        return bad("bad token or checkpoint count");
    if (h->ring && h->n_tokens <= h->ring)
        return bad("a ring snapshot of a ring that has not wrapped");
    if (h->n_tokens > s->n_ctx)
        return lfm_fail(LFM2MOE_ERR_CONTEXT_FULL,
                        "session snapshot holds %d tokens, the session's context is %d",
                        h->n_tokens, s->n_ctx);
    const int32_t kv_pos = kv_stored(h->n_tokens, h->ring);
    if (snap_size(s, (uint64_t)h->n_tokens, (uint64_t)h->n_ckpt, kv_pos) != len)
        return bad("size does not match its token and checkpoint counts");

    r.p = d + SNAP_HEADER;
    for (int32_t i = 0; i < h->n_tokens; i++) {
        int32_t t;
        get(&r, &t, 4);
        if (t < 0 || t >= s->model->hp.n_vocab) return bad("token outside the vocabulary");
    }
    const size_t conv = s->conv_floats * sizeof(float);
    if (!lfm_floats_finite(r.p, s->conv_floats)) return bad("non-finite conv state");
    r.p += conv;
    int64_t prev = -1;
    for (int32_t i = 0; i < h->n_ckpt; i++) {
        const int64_t index = get_u32(&r);
        if (index <= prev || index >= h->n_tokens / h->ckpt_interval)
            return bad("checkpoint index out of order or range");
        prev = index;
        if (!lfm_floats_finite(r.p, s->conv_floats)) return bad("non-finite checkpoint");
        r.p += conv;
    }
    /* the KV bytes, each head's K then V, copied aligned for the checks */
    const int32_t heads = s->model->n_attn_blocks * s->model->hp.n_head_kv,
                  D = s->model->hp.head_dim;
    const size_t kb = lfm_kv_prefix(s->kv_type, LFM_KV_K, kv_pos, D);
    const size_t vb = lfm_kv_prefix(s->kv_type, LFM_KV_V, kv_pos, D);
    void *tmp = heads && (kb || vb) ? malloc(kb > vb ? kb : vb) : NULL;
    if (heads && (kb || vb) && !tmp)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "session snapshot: out of memory");
    int ok = 1;
    for (int32_t i = 0; i < heads && ok; i++)
        for (int kind = LFM_KV_K; kind <= LFM_KV_V && ok; kind++) {
            const size_t bytes = kind == LFM_KV_K ? kb : vb;
            if (bytes) {
                memcpy(tmp, r.p, bytes);
                ok = lfm_kv_prefix_finite(s->kv_type, kind, tmp, kv_pos, D);
            }
            r.p += bytes;
        }
    free(tmp);
    if (!ok) return bad("non-finite KV cache entry");
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_load(session *s, const void *data, size_t len) {
    LFM_CHECK_ARGS(s && (data || !len));
    snap_header h;
    int st = validate(s, data, data ? len : 0, &h);
    if (st) return st;
    /* a wrapped ring goes back into a ring of the same size (slot = position
     * % ring); positions 0..N-1 into a full cache or a ring they fit */
    if (h.ring && h.ring != s->kv_ring)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_load: a snapshot of a sliding-window KV ring of %d slots "
                        "holding %d tokens; this session's ring has %d (give it the n_ctx and "
                        "n_batch of the saving session)",
                        (int)h.ring, (int)h.n_tokens, s->kv_ring);
    if (!h.ring && s->kv_ring && (int32_t)h.n_tokens > s->kv_ring)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_session_load: %d tokens do not fit the sliding-window KV ring "
                        "of %d slots",
                        (int)h.n_tokens, s->kv_ring);
    /* apply: nothing below can fail */
    const unsigned char *d = data;
    reader r = {d + SNAP_HEADER};
    const int32_t n = h.n_tokens;
    get(&r, s->tokens, (size_t)n * sizeof(int32_t));
    get(&r, s->conv, s->conv_floats * sizeof(float));
    memset(s->ckpt_valid, 0, (size_t)s->n_ckpt);
    for (int32_t i = 0; i < h.n_ckpt; i++) {
        const uint32_t index = get_u32(&r);
        /* usable only if this session checkpoints at the same positions */
        if (h.ckpt_interval == s->ckpt_interval && (int32_t)index < s->n_ckpt) {
            get(&r, s->ckpt + (size_t)index * s->conv_floats, s->conv_floats * sizeof(float));
            s->ckpt_valid[index] = 1;
        } else {
            r.p += s->conv_floats * sizeof(float);
        }
    }
    for (int32_t a = 0; a < s->model->n_attn_blocks; a++)
        for (int32_t g = 0; g < s->model->hp.n_head_kv; g++)
            for (int kind = LFM_KV_K; kind <= LFM_KV_V; kind++) {
                const size_t bytes =
                    lfm_kv_prefix(s->kv_type, kind, kv_stored(n, h.ring), s->model->hp.head_dim);
                memcpy(lfm_kv_head_ptr(s, a, g, kind), r.p, bytes);
                r.p += bytes;
            }
    s->pos = n;
    s->n_logits = 0;
    s->logits_first = -1;
    s->last_step_tokens = 0;
    return LFM2MOE_OK;
}

/* ---- files ------------------------------------------------------------ */

typedef struct file_body {
    const void *data;
    size_t len;
    const char *path;
} file_body;

static int write_body(FILE *f, void *ctx) {
    const file_body *b = ctx;
    if (fwrite(b->data, 1, b->len, f) != b->len)
        return lfm_fail(LFM2MOE_ERR_IO, "cannot write the session snapshot '%s'", b->path);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_session_save_file(const session *s, const char *path) {
    LFM_CHECK_ARGS(s && path);
    size_t len = 0;
    int st = lfm2moe_session_save(s, NULL, 0, &len);
    if (st) return st;
    void *buf = malloc(len);
    if (!buf)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte snapshot", len);
    if (!(st = lfm2moe_session_save(s, buf, len, &len))) {
        file_body b = {buf, len, path};
        st = gw_write_file(path, write_body, &b);
    }
    free(buf);
    return st;
}

LFM2MOE_API int lfm2moe_session_load_file(session *s, const char *path) {
    LFM_CHECK_ARGS(s && path);
    FILE *f = fopen(path, "rb");
    if (!f) return lfm_fail(LFM2MOE_ERR_IO, "cannot open the session snapshot '%s'", path);
    int st = LFM2MOE_OK;
    void *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    /* the largest snapshot this session could hold bounds what is read */
    const uint64_t most = snap_size(s, (uint64_t)s->n_ctx, (uint64_t)s->n_ctx, s->n_ctx);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = lfm_fail(LFM2MOE_ERR_IO, "cannot read the session snapshot '%s'", path);
    } else if (most && (uint64_t)size > most) {
        st = lfm_fail(LFM2MOE_ERR_BAD_FORMAT,
                      "'%s' (%ld bytes) is larger than any snapshot this session can hold", path,
                      size);
    } else if (!(buf = malloc(size ? (size_t)size : 1))) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for '%s'", path);
    } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        st = lfm_fail(LFM2MOE_ERR_IO, "cannot read the session snapshot '%s'", path);
    }
    fclose(f);
    if (!st) st = lfm2moe_session_load(s, buf, (size_t)size);
    free(buf);
    return st;
}
