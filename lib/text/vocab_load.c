/* Loading the tokenizer from GGUF metadata: the token table (texts, the
 * bytes they stand for, types), the BPE merges, the special ids, and the
 * pre-tokenizer name, which must be one this library splits text for. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "text/tokenizer_internal.h"

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

/* Pre-tokenizer names (tokenizer.ggml.pre) that llama.cpp splits with its
 * llama3 regex and ignore_merges, the split implemented here.  The LFM2
 * family's files all carry "lfm2": LFM2 and LFM2.5 dense models and
 * LFM2-8B-A1B / LFM2-24B-A2B / LFM2.5-8B-A1B alike (llama.cpp's converter
 * maps the LFM2.5-8B-A1B tokenizer's larger vocabulary to "lfm2" as well);
 * the others name the same split in other model families. */
static const char *const PRE_NAMES[] = {"lfm2",      "llama3",   "llama-v3",
                                        "llama-bpe", "falcon3",  "falcon-h1",
                                        "pixtral",   "midm-2.0", "jina-v5-nano"};

static int pre_supported(gguf_str pre) {
    for (size_t i = 0; i < sizeof PRE_NAMES / sizeof PRE_NAMES[0]; i++)
        if (str_is(pre, PRE_NAMES[i])) return 1;
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
        uint32_t cp = lfm_utf8_decode((const unsigned char *)t + i, n - i, &l);
        int b = (l > 1 || cp < 0x80) ? lfm_cp_to_byte(cp) : -1;
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
    if (tt && (tt->type != GGUF_TYPE_ARRAY || !gguf_type_is_int(tt->elem_type) || tt->n != tk->n))
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL, "tokenizer.ggml.token_type: expected %d integers",
                        (int)n);

    size_t total = 0;
    for (int32_t i = 0; i < n; i++)
        total += (size_t)tk->strs[i].len;

    v->text = malloc(total ? total : 1);
    v->piece = malloc(total ? total : 1); /* decoding never grows a token */
    v->text_off = malloc(sizeof(size_t) * ((size_t)n + 1));
    v->piece_off = malloc(sizeof(size_t) * ((size_t)n + 1));
    v->type = malloc((size_t)n);
    v->attr = malloc(sizeof(uint32_t) * (size_t)n);
    size_t cap = lfm_hash_capacity((size_t)n);
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
        size_t h = (size_t)lfm_fnv1a(LFM_FNV_SEED, s, len) & v->tok_hash_mask;
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
    for (int32_t i = 0; i < n; i++)
        total += (size_t)mk->strs[i].len;
    size_t cap = lfm_hash_capacity((size_t)n);
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
        size_t h = (size_t)lfm_merge_hash(s, ln, s + ln + 1, len - ln - 1) & v->merge_hash_mask;
        for (;;) {
            int32_t o = v->merge_hash[h];
            if (o < 0) {
                v->merge_hash[h] = i;
                break;
            }
            size_t ol = (size_t)mk->strs[o].len;
            if (v->merge_split[o] == ln && ol == len && memcmp(mk->strs[o].ptr, s, len) == 0) break;
            h = (h + 1) & v->merge_hash_mask;
        }
    }
    v->merge_off[n] = off;
    return LFM2MOE_OK;
}

int lfm_vocab_load(const gguf_file *g, struct lfm_vocab **out) {
    LFM_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    LFM_CHECK_ARG(g, "file is NULL");

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
        return lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                        "unsupported pre-tokenizer '%.*s' (tokenizer.ggml.pre): this library "
                        "splits text as llama.cpp does for 'lfm2' (the LFM2 family's) and the "
                        "types that share its split",
                        (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);

    struct lfm_vocab *v = calloc(1, sizeof *v);
    if (!v) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if ((st = load_tokens(g, v)) != LFM2MOE_OK || (st = load_merges(g, v)) != LFM2MOE_OK) goto fail;
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
             t == LFM_TOKTYPE_UNKNOWN) &&
            len > 0)
            keys[v->n_special++] = (special_key){len, i};
    }
    qsort(keys, (size_t)v->n_special, sizeof *keys, cmp_special);
    for (int32_t i = 0; i < v->n_special; i++)
        v->special[i] = keys[i].id;
    free(keys);

    *out = v;
    return LFM2MOE_OK;
fail:
    lfm_vocab_free(v);
    return st;
}

int32_t lfm_vocab_find(const struct lfm_vocab *v, const char *text, size_t len) {
    size_t i = (size_t)lfm_fnv1a(LFM_FNV_SEED, text, len) & v->tok_hash_mask;
    for (;;) {
        int32_t id = v->tok_hash[i];
        if (id < 0) return -1;
        size_t tl;
        const char *t = lfm_vocab_text(v, id, &tl);
        if (tl == len && memcmp(t, text, len) == 0) return id;
        i = (i + 1) & v->tok_hash_mask;
    }
}
