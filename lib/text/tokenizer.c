#include "text/tokenizer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "model/model.h"
#include "text/unicode_tables.h"

/* ---- GPT-2 byte <-> printable codepoint mapping ------------------------ */
/* Bytes that are printable Latin-1 stand for themselves; the other 68
 * (0x00-0x20, 0x7F-0xA0, 0xAD), in order, become U+0100..U+0143. */
static uint32_t byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33u + (uint32_t)(b - 0x7F);
    return 256u + 67u; /* 0xAD */
}

/* Inverse; -1 if cp is not one of the 256 byte characters. */
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 66) return 0x7F + (int)(cp - 256 - 33);
    if (cp == 256 + 67) return 0xAD;
    return -1;
}

/* UTF-8 of byte b's character (1 or 2 bytes, as all are < U+0800). */
static size_t byte_encode(uint8_t b, char *out) {
    uint32_t cp = byte_to_cp(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* ---- UTF-8 ------------------------------------------------------------- */
/* Decode one character at s[0..n) (n >= 1) the way llama.cpp does (lead byte
 * and continuation bytes checked; overlong forms are not rejected).  A byte
 * that does not start a complete sequence counts as one U+FFFD character. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len) {
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if ((c & 0xE0) == 0xC0) {
        need = 1;
        cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2;
        cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3;
        cp = c & 0x07u;
    } else {
        *len = 1;
        return 0xFFFD;
    }
    if (need >= n) {
        *len = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    *len = need + 1;
    return cp;
}

/* Class of a codepoint (LFM_UC_*): binary search of the range starts. */
static uint8_t uc_class(uint32_t cp) {
    if (cp >= 0x110000) return LFM_UC_OTHER;
    size_t lo = 0, hi = lfm_uc_n_ranges; /* find the last start <= cp */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lfm_uc_range_start[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return lfm_uc_range_class[lo];
}

/* ---- hashing ----------------------------------------------------------- */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ull

static size_t hash_capacity(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

int32_t lfm_vocab_find(const struct lfm_vocab *v, const char *text, size_t len) {
    size_t i = (size_t)fnv1a(FNV_SEED, text, len) & v->tok_hash_mask;
    for (;;) {
        int32_t id = v->tok_hash[i];
        if (id < 0) return -1;
        size_t tl;
        const char *t = lfm_vocab_text(v, id, &tl);
        if (tl == len && memcmp(t, text, len) == 0) return id;
        i = (i + 1) & v->tok_hash_mask;
    }
}

static uint64_t merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    return fnv1a(fnv1a(fnv1a(FNV_SEED, l, ln), " ", 1), r, rn);
}

/* Rank of merging (l, r), or -1. */
static int32_t merge_rank(const struct lfm_vocab *v, const char *l, size_t ln, const char *r,
                          size_t rn) {
    size_t i = (size_t)merge_hash(l, ln, r, rn) & v->merge_hash_mask;
    for (;;) {
        int32_t m = v->merge_hash[i];
        if (m < 0) return -1;
        const char *t = v->merge_text + v->merge_off[m];
        size_t tl = v->merge_off[m + 1] - v->merge_off[m];
        size_t sp = v->merge_split[m];
        if (sp == ln && tl == ln + 1 + rn && memcmp(t, l, ln) == 0 &&
            memcmp(t + ln + 1, r, rn) == 0)
            return m;
        i = (i + 1) & v->merge_hash_mask;
    }
}

/* ---- loading ----------------------------------------------------------- */
void lfm_vocab_free(struct lfm_vocab *v) {
    if (!v) return;
    free(v->text);
    free(v->text_off);
    free(v->piece);
    free(v->piece_off);
    free(v->type);
    free(v->attr);
    free(v->tok_hash);
    free(v->merge_text);
    free(v->merge_off);
    free(v->merge_split);
    free(v->merge_hash);
    free(v->special);
    free(v);
}

static int str_is(gguf_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* A string array kv, or NULL with *st set (NOT_FOUND if absent). */
static const gguf_kv *find_str_array(const gguf_file *g, const char *key, int *st) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) {
        *st = LFM2MOE_ERR_NOT_FOUND;
        return NULL;
    }
    if (kv->type != GGUF_TYPE_ARRAY || kv->elem_type != GGUF_TYPE_STRING || !kv->strs) {
        *st = lfm_fail(LFM2MOE_ERR_BAD_MODEL, "%s: expected an array of strings", key);
        return NULL;
    }
    *st = LFM2MOE_OK;
    return kv;
}

static int is_int_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_UINT16 ||
           t == GGUF_TYPE_INT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

/* Optional token-id key: -1 if absent or out of range (llama.cpp ignores
 * such ids too), BAD_MODEL if it has a non-integer type. */
static int get_token_id(const gguf_file *g, const char *key, int32_t n_vocab, int32_t *out) {
    int64_t id;
    int st = gguf_get_i64(g, key, &id);
    *out = -1;
    if (st == LFM2MOE_ERR_NOT_FOUND) return LFM2MOE_OK;
    if (st != LFM2MOE_OK) return st;
    if (id >= 0 && id < n_vocab) *out = (int32_t)id;
    return LFM2MOE_OK;
}

/* Pre-tokenizer names that llama.cpp maps to the llama3 regex with
 * ignore_merges (the split implemented here). */
static int pre_supported(gguf_str pre) {
    static const char *const names[] = {"lfm2",    "llama3",    "llama-v3",  "llama-bpe",
                                        "falcon3", "falcon-h1", "pixtral",   "midm-2.0"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (str_is(pre, names[i])) return 1;
    return 0;
}

static uint32_t attr_of_type(uint8_t type) {
    switch (type) {
    case LFM_TOKTYPE_NORMAL: return LFM2MOE_TOKEN_ATTR_NORMAL;
    case LFM_TOKTYPE_UNKNOWN: return LFM2MOE_TOKEN_ATTR_UNKNOWN;
    case LFM_TOKTYPE_CONTROL: return LFM2MOE_TOKEN_ATTR_CONTROL;
    case LFM_TOKTYPE_USER_DEFINED: return LFM2MOE_TOKEN_ATTR_USER_DEFINED;
    case LFM_TOKTYPE_UNUSED: return LFM2MOE_TOKEN_ATTR_UNUSED;
    case LFM_TOKTYPE_BYTE: return LFM2MOE_TOKEN_ATTR_BYTE;
    default: return 0;
    }
}

/* Decode a NORMAL token's text: each GPT-2 byte character back to its byte;
 * any other character is kept as its own UTF-8. Returns the length. */
static size_t decode_token_text(const char *t, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = utf8_decode((const unsigned char *)t + i, n - i, &l);
        int b = (l > 1 || cp < 0x80) ? cp_to_byte(cp) : -1;
        if (b >= 0) {
            out[o++] = (char)b;
        } else {
            memcpy(out + o, t + i, l);
            o += l;
        }
        i += l;
    }
    return o;
}

typedef struct {
    size_t len;
    int32_t id;
} special_key;

/* Longest text first (llama.cpp's order), then by id for determinism. */
static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static int load_tokens(const gguf_file *g, struct lfm_vocab *v) {
    int st;
    const gguf_kv *tk = find_str_array(g, "tokenizer.ggml.tokens", &st);
    if (!tk) {
        if (st == LFM2MOE_ERR_NOT_FOUND)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.tokens is missing");
        return st;
    }
    if (tk->n == 0 || tk->n > INT32_MAX)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.tokens: bad token count %llu",
                        (unsigned long long)tk->n);
    int32_t n = (int32_t)tk->n;
    v->n_vocab = n;

    const gguf_kv *tt = gguf_find(g, "tokenizer.ggml.token_type");
    if (tt && (tt->type != GGUF_TYPE_ARRAY || !is_int_type(tt->elem_type) || tt->n != tk->n))
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "tokenizer.ggml.token_type: expected %d integers", (int)n);

    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += (size_t)tk->strs[i].len;

    v->text = malloc(total ? total : 1);
    v->piece = malloc(total ? total : 1); /* decoding never grows a token */
    v->text_off = malloc(sizeof(size_t) * ((size_t)n + 1));
    v->piece_off = malloc(sizeof(size_t) * ((size_t)n + 1));
    v->type = malloc((size_t)n);
    v->attr = malloc(sizeof(uint32_t) * (size_t)n);
    size_t cap = hash_capacity((size_t)n);
    v->tok_hash = malloc(sizeof(int32_t) * cap);
    v->special = malloc(sizeof(int32_t) * (size_t)n);
    if (!v->text || !v->piece || !v->text_off || !v->piece_off || !v->type || !v->attr ||
        !v->tok_hash || !v->special)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%d tokens)", (int)n);
    memset(v->tok_hash, 0xFF, sizeof(int32_t) * cap);
    v->tok_hash_mask = cap - 1;

    size_t to = 0, po = 0;
    for (int32_t i = 0; i < n; i++) {
        const char *s = tk->strs[i].ptr;
        size_t len = (size_t)tk->strs[i].len;
        int64_t ty = tt ? gguf_kv_int(tt, (uint64_t)i) : LFM_TOKTYPE_NORMAL;
        uint8_t type = (ty >= 0 && ty <= LFM_TOKTYPE_BYTE) ? (uint8_t)ty : LFM_TOKTYPE_UNDEFINED;
        v->type[i] = type;
        v->attr[i] = attr_of_type(type);
        v->text_off[i] = to;
        memcpy(v->text + to, s, len);
        to += len;
        v->piece_off[i] = po;
        if (type == LFM_TOKTYPE_NORMAL) {
            po += decode_token_text(s, len, v->piece + po);
        } else if (type == LFM_TOKTYPE_CONTROL || type == LFM_TOKTYPE_USER_DEFINED ||
                   type == LFM_TOKTYPE_UNKNOWN) {
            memcpy(v->piece + po, s, len);
            po += len;
        } /* other types decode to nothing, as in llama.cpp */

        /* text -> id; a later duplicate wins, as in llama.cpp's map */
        size_t h = (size_t)fnv1a(FNV_SEED, s, len) & v->tok_hash_mask;
        for (;;) {
            int32_t o = v->tok_hash[h];
            if (o < 0) {
                v->tok_hash[h] = i;
                break;
            }
            size_t ol;
            const char *ot = lfm_vocab_text(v, o, &ol);
            if (ol == len && memcmp(ot, s, len) == 0) {
                v->tok_hash[h] = i;
                break;
            }
            h = (h + 1) & v->tok_hash_mask;
        }
    }
    v->text_off[n] = to;
    v->piece_off[n] = po;
    return LFM2MOE_OK;
}

static int load_merges(const gguf_file *g, struct lfm_vocab *v) {
    int st;
    const gguf_kv *mk = find_str_array(g, "tokenizer.ggml.merges", &st);
    if (!mk) {
        if (st == LFM2MOE_ERR_NOT_FOUND)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.merges is missing");
        return st;
    }
    if (mk->n > INT32_MAX - 1)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.merges: too many merges");
    int32_t n = (int32_t)mk->n;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += (size_t)mk->strs[i].len;
    size_t cap = hash_capacity((size_t)n);
    v->merge_text = malloc(total ? total : 1);
    v->merge_off = malloc(sizeof(size_t) * ((size_t)n + 1));
    v->merge_split = malloc(sizeof(uint32_t) * ((size_t)n ? (size_t)n : 1));
    v->merge_hash = malloc(sizeof(int32_t) * cap);
    if (!v->merge_text || !v->merge_off || !v->merge_split || !v->merge_hash)
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%d merges)", (int)n);
    memset(v->merge_hash, 0xFF, sizeof(int32_t) * cap);
    v->merge_hash_mask = cap - 1;
    v->n_merges = n;

    size_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        const char *s = mk->strs[i].ptr;
        size_t len = (size_t)mk->strs[i].len;
        /* llama.cpp splits at the first space after the first byte */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp || len > UINT32_MAX)
            return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                            "tokenizer.ggml.merges[%d]: not of the form \"left right\"", (int)i);
        size_t ln = (size_t)(sp - s);
        v->merge_off[i] = off;
        v->merge_split[i] = (uint32_t)ln;
        memcpy(v->merge_text + off, s, len);
        off += len;
        /* the first occurrence of a pair keeps its rank */
        size_t h = (size_t)merge_hash(s, ln, s + ln + 1, len - ln - 1) & v->merge_hash_mask;
        for (;;) {
            int32_t o = v->merge_hash[h];
            if (o < 0) {
                v->merge_hash[h] = i;
                break;
            }
            size_t ol = (size_t)mk->strs[o].len;
            if (v->merge_split[o] == ln && ol == len && memcmp(mk->strs[o].ptr, s, len) == 0)
                break;
            h = (h + 1) & v->merge_hash_mask;
        }
    }
    v->merge_off[n] = off;
    return LFM2MOE_OK;
}

int lfm_vocab_load(const gguf_file *g, struct lfm_vocab **out) {
    if (!out) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm_vocab_load: out is NULL");
    *out = NULL;
    if (!g) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm_vocab_load: file is NULL");

    gguf_str model;
    int st = gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (st == LFM2MOE_ERR_NOT_FOUND) return LFM2MOE_OK;
    if (st != LFM2MOE_OK) return st;
    if (str_is(model, "none")) return LFM2MOE_OK;
    if (!str_is(model, "gpt2"))
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "unsupported tokenizer model '%.*s' (only byte-level BPE 'gpt2')",
                        (int)(model.len > 64 ? 64 : model.len), model.ptr);
    gguf_str pre;
    st = gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (st == LFM2MOE_ERR_NOT_FOUND)
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.pre is missing");
    if (st != LFM2MOE_OK) return st;
    if (!pre_supported(pre))
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "unsupported pre-tokenizer '%.*s'",
                        (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);

    struct lfm_vocab *v = calloc(1, sizeof *v);
    if (!v) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if ((st = load_tokens(g, v)) != LFM2MOE_OK || (st = load_merges(g, v)) != LFM2MOE_OK)
        goto fail;
    if ((st = get_token_id(g, "tokenizer.ggml.bos_token_id", v->n_vocab, &v->bos)) ||
        (st = get_token_id(g, "tokenizer.ggml.eos_token_id", v->n_vocab, &v->eos)) ||
        (st = get_token_id(g, "tokenizer.ggml.padding_token_id", v->n_vocab, &v->pad)))
        goto fail;
    v->add_bos = 1; /* llama.cpp's default for these pre-tokenizers */
    st = gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_NOT_FOUND) goto fail;
    v->add_bos = v->add_bos != 0;

    static const char im_end[] = "<|im_end|>";
    static const char endoftext[] = "<|endoftext|>";
    v->eot = lfm_vocab_find(v, im_end, sizeof im_end - 1);
    /* end of generation: EOS, end of turn, and <|endoftext|> (llama.cpp's
     * EOG set for this vocabulary) */
    int32_t eog[3] = {v->eos, v->eot, lfm_vocab_find(v, endoftext, sizeof endoftext - 1)};
    for (int i = 0; i < 3; i++)
        if (eog[i] >= 0) v->attr[eog[i]] |= LFM2MOE_TOKEN_ATTR_END_OF_GENERATION;

    /* tokens that can be cut out of text: non-empty special ones */
    special_key *keys = malloc(sizeof *keys * (size_t)v->n_vocab);
    if (!keys) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        goto fail;
    }
    v->n_special = 0;
    for (int32_t i = 0; i < v->n_vocab; i++) {
        uint8_t t = v->type[i];
        size_t len = v->text_off[i + 1] - v->text_off[i];
        if ((t == LFM_TOKTYPE_CONTROL || t == LFM_TOKTYPE_USER_DEFINED ||
             t == LFM_TOKTYPE_UNKNOWN) && len > 0)
            keys[v->n_special++] = (special_key){len, i};
    }
    qsort(keys, (size_t)v->n_special, sizeof *keys, cmp_special);
    for (int32_t i = 0; i < v->n_special; i++) v->special[i] = keys[i].id;
    free(keys);

    *out = v;
    return LFM2MOE_OK;
fail:
    lfm_vocab_free(v);
    return st;
}

/* ---- tokenization ------------------------------------------------------ */
typedef struct {
    int32_t *tokens;
    size_t max;
    size_t n;
} emitter;

static void emit(emitter *e, int32_t id) {
    if (e->n < e->max) e->tokens[e->n] = id;
    e->n++;
}

typedef struct {
    size_t start, n;   /* bytes of the encoded word */
    size_t prev, next; /* NONE at the ends */
} bpe_symbol;

typedef struct {
    int32_t rank;
    size_t left, right;
    size_t ln, rn; /* symbol lengths when queued: stale if they changed */
} bpe_pair;

#define NONE SIZE_MAX

/* Per-call working memory (the vocabulary itself is shared and read-only). */
typedef struct {
    uint32_t *cp;     /* codepoint of each character of a fragment */
    uint8_t *cls;     /* its class */
    size_t *off;      /* its byte offset; off[n] = fragment length */
    size_t n_chars_cap;
    char *enc;        /* byte-encoded pre-token */
    size_t enc_cap;
    bpe_symbol *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
} scratch;

static void scratch_free(scratch *s) {
    free(s->cp);
    free(s->cls);
    free(s->off);
    free(s->enc);
    free(s->sym);
    free(s->heap);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem) return 0;
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

/* Room for n characters in cp, cls and off. */
static int scratch_chars(scratch *s, size_t n) {
    if (n <= s->n_chars_cap) return 1;
    size_t c = s->n_chars_cap ? s->n_chars_cap : 64;
    while (c < n) {
        if (c > SIZE_MAX / 2 / sizeof(size_t)) return 0;
        c *= 2;
    }
    uint32_t *cp = realloc(s->cp, c * sizeof *cp);
    if (cp) s->cp = cp;
    uint8_t *cls = realloc(s->cls, c);
    if (cls) s->cls = cls;
    size_t *off = realloc(s->off, c * sizeof *off);
    if (off) s->off = off;
    if (!cp || !cls || !off) return 0;
    s->n_chars_cap = c;
    return 1;
}

static int pair_less(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(scratch *s, bpe_pair p) {
    if (!grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(bpe_pair))) return 0;
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_less(&p, &s->heap[up])) break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = p;
    return 1;
}

static bpe_pair heap_pop(scratch *s) {
    bpe_pair top = s->heap[0];
    bpe_pair last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!pair_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static int queue_pair(const struct lfm_vocab *v, scratch *s, size_t l, size_t r) {
    if (l == NONE || r == NONE) return 1;
    const bpe_symbol *a = &s->sym[l], *b = &s->sym[r];
    int32_t rank = merge_rank(v, s->enc + a->start, a->n, s->enc + b->start, b->n);
    if (rank < 0) return 1;
    bpe_pair p = {rank, l, r, a->n, b->n};
    return heap_push(s, p);
}

/* Emit the token of encoded text, or (not in the vocabulary: only possible
 * with an inconsistent vocab/merge list) the tokens of its characters;
 * characters without a token are dropped, as llama.cpp does. */
static void emit_text(const struct lfm_vocab *v, emitter *e, const char *t, size_t n) {
    int32_t id = lfm_vocab_find(v, t, n);
    if (id >= 0) {
        emit(e, id);
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t l;
        utf8_decode((const unsigned char *)t + i, n - i, &l);
        id = lfm_vocab_find(v, t + i, l);
        if (id >= 0) emit(e, id);
        i += l;
    }
}

/* BPE-encode one pre-token (raw bytes w[0..n), n >= 1). */
static int bpe_word(const struct lfm_vocab *v, scratch *s, emitter *e, const char *w, size_t n) {
    if (n > SIZE_MAX / 2 || !grow((void **)&s->enc, &s->enc_cap, 2 * n, 1) ||
        !grow((void **)&s->sym, &s->sym_cap, n, sizeof(bpe_symbol)))
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = byte_encode((uint8_t)w[i], s->enc + len);
        s->sym[i].start = len;
        s->sym[i].n = k;
        s->sym[i].prev = i ? i - 1 : NONE;
        s->sym[i].next = i + 1 < n ? i + 1 : NONE;
        len += k;
    }
    /* a pre-token that is a token is taken whole (ignore_merges) */
    int32_t whole = lfm_vocab_find(v, s->enc, len);
    if (whole >= 0) {
        emit(e, whole);
        return LFM2MOE_OK;
    }
    s->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (!queue_pair(v, s, i, i + 1)) goto oom;
    /* merge the lowest-rank pair (leftmost on ties) until none applies */
    while (s->heap_n) {
        bpe_pair p = heap_pop(s);
        bpe_symbol *a = &s->sym[p.left], *b = &s->sym[p.right];
        if (a->n != p.ln || b->n != p.rn || a->next != p.right) continue; /* stale */
        a->n += b->n;
        b->n = 0;
        a->next = b->next;
        if (b->next != NONE) s->sym[b->next].prev = p.left;
        if (!queue_pair(v, s, a->prev, p.left) || !queue_pair(v, s, p.left, a->next)) goto oom;
    }
    for (size_t i = 0; i != NONE; i = s->sym[i].next)
        emit_text(v, e, s->enc + s->sym[i].start, s->sym[i].n);
    return LFM2MOE_OK;
oom:
    return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
}

static uint32_t ascii_lower(uint32_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

#define CLS_NONE 0xFF /* past the end of the fragment */

/* Split a fragment into pre-tokens and BPE-encode each. */
static int tokenize_fragment(const struct lfm_vocab *v, scratch *s, emitter *e, const char *text,
                             size_t len) {
    if (!scratch_chars(s, len + 1)) goto oom;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        uint32_t cp = utf8_decode((const unsigned char *)text + i, len - i, &l);
        s->cp[n] = cp;
        s->cls[n] = uc_class(cp);
        s->off[n] = i;
        n++;
        i += l;
    }
    s->off[n] = len;

#define CLS(i) ((i) < n ? s->cls[i] : CLS_NONE)
#define CP(i) ((i) < n ? s->cp[i] : UINT32_MAX)
    size_t pos = 0;
    while (pos < n) {
        uint32_t c = s->cp[pos];
        uint8_t k = s->cls[pos];
        size_t end = pos + 1;

        if (c == '\'' && pos + 1 < n) { /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
            uint32_t c1 = ascii_lower(s->cp[pos + 1]);
            uint32_t c2 = ascii_lower(CP(pos + 2));
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                end = pos + 2;
                goto word;
            }
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                end = pos + 3;
                goto word;
            }
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (c != '\r' && c != '\n' && k != LFM_UC_NUMBER &&
            (k == LFM_UC_LETTER || CLS(pos + 1) == LFM_UC_LETTER)) {
            while (CLS(end) == LFM_UC_LETTER) end++;
            goto word;
        }
        /* \p{N}{1,3} */
        if (k == LFM_UC_NUMBER) {
            while (end - pos < 3 && CLS(end) == LFM_UC_NUMBER) end++;
            goto word;
        }
        /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        {
            uint8_t k2 = c == ' ' ? CLS(pos + 1) : k;
            if (k2 != LFM_UC_SPACE && k2 != LFM_UC_LETTER && k2 != LFM_UC_NUMBER) {
                end = pos + (c == ' ');
                while (CLS(end) == LFM_UC_OTHER) end++;
                while (CP(end) == '\r' || CP(end) == '\n') end++;
                goto word;
            }
        }
        /* \s*[\r\n]+ | \s+(?!\S) | \s+ */
        {
            size_t m = 0, last_nl = 0;
            while (CLS(pos + m) == LFM_UC_SPACE) {
                if (s->cp[pos + m] == '\r' || s->cp[pos + m] == '\n') last_nl = pos + m + 1;
                m++;
            }
            if (last_nl) end = last_nl;
            else if (m > 1 && pos + m < n) end = pos + m - 1;
            else if (m > 0) end = pos + m;
        }
    word: {
        int st = bpe_word(v, s, e, text + s->off[pos], s->off[end] - s->off[pos]);
        if (st != LFM2MOE_OK) return st;
        pos = end;
    }
    }
#undef CLS
#undef CP
    return LFM2MOE_OK;
oom:
    return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
}

typedef struct {
    size_t start, len;
    int32_t token; /* -1: raw text */
} fragment;

int lfm_vocab_tokenize(const struct lfm_vocab *v, const char *text, size_t text_len,
                       uint32_t flags, int32_t *tokens, size_t max_tokens, size_t *n_tokens) {
    emitter e = {tokens, max_tokens, 0};
    scratch s;
    memset(&s, 0, sizeof s);
    fragment *frag = NULL, *next = NULL;
    size_t n_frag = 0, cap = 0, cap_next = 0;
    int st = LFM2MOE_OK;
    int parse_special = (flags & LFM2MOE_TOKENIZE_PARSE_SPECIAL) != 0;

    if ((flags & LFM2MOE_TOKENIZE_ADD_BOS) && v->bos >= 0) emit(&e, v->bos);

    if (!grow((void **)&frag, &cap, 1, sizeof(fragment))) goto oom;
    frag[0].start = 0;
    frag[0].len = text_len;
    frag[0].token = -1;
    n_frag = text_len ? 1 : 0;

    /* Cut special tokens out of the raw fragments, longest token first, each
     * at all its non-overlapping occurrences from the left (llama.cpp's
     * partition).  Without PARSE_SPECIAL only USER_DEFINED tokens are cut,
     * as llama.cpp (and Hugging Face tokenizers) do. */
    for (int32_t si = 0; si < v->n_special && n_frag; si++) {
        int32_t id = v->special[si];
        if (!parse_special && v->type[id] != LFM_TOKTYPE_USER_DEFINED) continue;
        size_t sl;
        const char *st_text = lfm_vocab_text(v, id, &sl);
        size_t m = 0;
        for (size_t f = 0; f < n_frag; f++) {
            fragment fr = frag[f];
            const char *p = fr.token < 0 && fr.len >= sl ? text + fr.start : NULL;
            const char *endp = text + fr.start + fr.len;
            const char *hit;
            while (p && (hit = memmem(p, (size_t)(endp - p), st_text, sl)) != NULL) {
                if (!grow((void **)&next, &cap_next, m + 2, sizeof(fragment))) goto oom;
                if (hit > p) next[m++] = (fragment){(size_t)(p - text), (size_t)(hit - p), -1};
                next[m++] = (fragment){(size_t)(hit - text), sl, id};
                p = hit + sl;
            }
            if (!grow((void **)&next, &cap_next, m + 1, sizeof(fragment))) goto oom;
            if (!p) next[m++] = fr;
            else if (p < endp) next[m++] = (fragment){(size_t)(p - text), (size_t)(endp - p), -1};
        }
        fragment *t = frag;
        frag = next;
        next = t;
        size_t tc = cap;
        cap = cap_next;
        cap_next = tc;
        n_frag = m;
    }

    for (size_t f = 0; f < n_frag && st == LFM2MOE_OK; f++) {
        if (frag[f].token >= 0) emit(&e, frag[f].token);
        else st = tokenize_fragment(v, &s, &e, text + frag[f].start, frag[f].len);
    }
    goto done;
oom:
    st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
done:
    free(frag);
    free(next);
    scratch_free(&s);
    if (st != LFM2MOE_OK) return st;
    if (n_tokens) *n_tokens = e.n;
    if (e.n > max_tokens)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "tokenize: %zu tokens needed, room for %zu",
                        e.n, max_tokens);
    return LFM2MOE_OK;
}

/* ---- public API -------------------------------------------------------- */
static int get_vocab(const lfm2moe_model *model, const char *fn, const struct lfm_vocab **v) {
    if (!model) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (!model->vocab) return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: the model has no tokenizer", fn);
    *v = model->vocab;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_tokenize(const lfm2moe_model *model, const char *text, size_t text_len,
                                 uint32_t flags, int32_t *tokens, size_t max_tokens,
                                 size_t *n_tokens) {
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, "lfm2moe_tokenize", &v);
    if (st) return st;
    if (!text && text_len)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tokenize: text is NULL");
    if (!tokens && max_tokens)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_tokenize: tokens is NULL but max_tokens is %zu", max_tokens);
    if (!n_tokens)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tokenize: n_tokens is NULL");
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
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed, buffer has %zu", fn,
                        n, buf_size);
    return LFM2MOE_OK;
}

static int check_token(const struct lfm_vocab *v, const char *fn, int32_t token) {
    if (token < 0 || token >= v->n_vocab)
        return lfm_fail(LFM2MOE_ERR_TOKEN_OUT_OF_RANGE, "%s: token %d not in [0, %d)", fn,
                        (int)token, (int)v->n_vocab);
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_token_to_bytes(const lfm2moe_model *model, int32_t token, char *buf,
                                       size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_token_to_bytes";
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    if (!buf && buf_size)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: buf is NULL but buf_size is %zu", fn,
                        buf_size);
    if ((st = check_token(v, fn, token))) return st;
    size_t n;
    const char *p = lfm_vocab_piece(v, token, &n);
    return copy_out(fn, p, n, buf, buf_size, len);
}

LFM2MOE_API int lfm2moe_detokenize(const lfm2moe_model *model, const int32_t *tokens,
                                   size_t n_tokens, char *buf, size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_detokenize";
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    if (!tokens && n_tokens)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: tokens is NULL", fn);
    if (!buf && buf_size)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: buf is NULL but buf_size is %zu", fn,
                        buf_size);
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

LFM2MOE_API int lfm2moe_token_lookup(const lfm2moe_model *model, const char *text,
                                     size_t text_len, int32_t *token) {
    static const char fn[] = "lfm2moe_token_lookup";
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    if (!text && text_len) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: text is NULL", fn);
    if (!token) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: token is NULL", fn);
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
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    if (!attr) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: attr is NULL", fn);
    if ((st = check_token(v, fn, token))) return st;
    *attr = v->attr[token];
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_vocab_get_info(const lfm2moe_model *model, lfm2moe_vocab_info *info) {
    static const char fn[] = "lfm2moe_vocab_get_info";
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    if (!info) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: info is NULL", fn);
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

/* ---- streaming detokenizer --------------------------------------------- */
struct lfm2moe_detokenizer {
    const struct lfm_vocab *v;
    char *buf;      /* the last piece, then the held-back bytes after it */
    size_t cap;
    char held[4];   /* incomplete UTF-8 sequence carried to the next push */
    size_t n_held;
};

LFM2MOE_API int lfm2moe_detokenizer_create(const lfm2moe_model *model,
                                           lfm2moe_detokenizer **out) {
    static const char fn[] = "lfm2moe_detokenizer_create";
    if (!out) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    const struct lfm_vocab *v = NULL;
    int st = get_vocab(model, fn, &v);
    if (st) return st;
    lfm2moe_detokenizer *d = calloc(1, sizeof *d);
    if (!d) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    d->v = v;
    *out = d;
    return LFM2MOE_OK;
}

LFM2MOE_API void lfm2moe_detokenizer_free(lfm2moe_detokenizer *detok) {
    if (!detok) return;
    free(detok->buf);
    free(detok);
}

/* Length of the UTF-8 sequence a lead byte announces; 0 for a byte that
 * cannot start one (continuation or invalid byte). */
static size_t utf8_seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}

/* Number of trailing bytes of s[0..n) that form an incomplete (but so far
 * well-formed) UTF-8 sequence, to be held back. */
static size_t incomplete_tail(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t need = utf8_seq_len(c);
        return need > back ? back : 0;
    }
    return 0;
}

LFM2MOE_API int lfm2moe_detokenizer_push(lfm2moe_detokenizer *detok, int32_t token,
                                         const char **piece, size_t *len) {
    static const char fn[] = "lfm2moe_detokenizer_push";
    if (!detok || !piece || !len)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    int st = check_token(detok->v, fn, token);
    if (st) return st;
    size_t n;
    const char *p = lfm_vocab_piece(detok->v, token, &n);
    size_t total = detok->n_held + n;
    /* allocate on the first push even for an empty piece: *piece is never NULL */
    if (total > detok->cap || !detok->buf) {
        size_t c = detok->cap ? detok->cap : 64;
        while (c < total) c *= 2;
        char *b = realloc(detok->buf, c);
        if (!b) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        detok->buf = b;
        detok->cap = c;
    }
    memcpy(detok->buf, detok->held, detok->n_held);
    memcpy(detok->buf + detok->n_held, p, n);
    size_t keep = incomplete_tail(detok->buf, total);
    memcpy(detok->held, detok->buf + total - keep, keep);
    detok->n_held = keep;
    *piece = detok->buf;
    *len = total - keep;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_detokenizer_flush(lfm2moe_detokenizer *detok, const char **piece,
                                          size_t *len) {
    static const char fn[] = "lfm2moe_detokenizer_flush";
    if (!detok || !piece || !len)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (detok->cap < 4) {
        char *b = realloc(detok->buf, 64);
        if (!b) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        detok->buf = b;
        detok->cap = 64;
    }
    memcpy(detok->buf, detok->held, detok->n_held);
    *piece = detok->buf;
    *len = detok->n_held;
    detok->n_held = 0;
    return LFM2MOE_OK;
}
