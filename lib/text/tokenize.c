/* Text to token ids: special tokens cut out first, the llama3-style
 * pre-tokenizer split of each fragment, then byte-level BPE of each
 * pre-token (tokenizer.h describes the algorithm). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "lfm2moe.h"
#include "text/tokenizer_internal.h"
#include "text/unicode_tables.h"

/* Class of a codepoint (LFM_UC_*): binary search of the range starts. */
static uint8_t uc_class(uint32_t cp) {
    if (cp >= 0x110000) return LFM_UC_OTHER;
    size_t lo = 0, hi = lfm_uc_n_ranges; /* find the last start <= cp */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lfm_uc_range_start[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lfm_uc_range_class[lo];
}

/* Rank of merging (l, r), or -1. */
static int32_t merge_rank(const struct lfm_vocab *v, const char *l, size_t ln, const char *r,
                          size_t rn) {
    size_t i = (size_t)lfm_merge_hash(l, ln, r, rn) & v->merge_hash_mask;
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
    uint32_t *cp; /* codepoint of each character of a fragment */
    uint8_t *cls; /* its class */
    size_t *off;  /* its byte offset; off[n] = fragment length */
    size_t n_chars_cap;
    char *enc; /* byte-encoded pre-token */
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

/* Room for n characters in cp, cls and off. */
static int scratch_chars(scratch *s, size_t n) {
    if (n <= s->n_chars_cap) return 1;
    const size_t c = lfm_grow_cap(s->n_chars_cap, n, sizeof(size_t));
    if (!c) return 0;
    uint32_t *cp = lfm_realloc_array(s->cp, c, sizeof *cp);
    if (cp) s->cp = cp;
    uint8_t *cls = lfm_realloc_array(s->cls, c, 1);
    if (cls) s->cls = cls;
    size_t *off = lfm_realloc_array(s->off, c, sizeof *off);
    if (off) s->off = off;
    if (!cp || !cls || !off) return 0;
    s->n_chars_cap = c;
    return 1;
}

static int pair_less(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(scratch *s, bpe_pair p) {
    if (LFM_RESERVE(s->heap, s->heap_cap, s->heap_n + 1)) return 0;
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
        lfm_utf8_decode((const unsigned char *)t + i, n - i, &l);
        id = lfm_vocab_find(v, t + i, l);
        if (id >= 0) emit(e, id);
        i += l;
    }
}

/* BPE-encode one pre-token (raw bytes w[0..n), n >= 1). */
static int bpe_word(const struct lfm_vocab *v, scratch *s, emitter *e, const char *w, size_t n) {
    if (n > SIZE_MAX / 2 || LFM_RESERVE(s->enc, s->enc_cap, 2 * n) ||
        LFM_RESERVE(s->sym, s->sym_cap, n))
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = lfm_byte_encode((uint8_t)w[i], s->enc + len);
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
        uint32_t cp = lfm_utf8_decode((const unsigned char *)text + i, len - i, &l);
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
            while (CLS(end) == LFM_UC_LETTER)
                end++;
            goto word;
        }
        /* \p{N}{1,3} */
        if (k == LFM_UC_NUMBER) {
            while (end - pos < 3 && CLS(end) == LFM_UC_NUMBER)
                end++;
            goto word;
        }
        /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        {
            uint8_t k2 = c == ' ' ? CLS(pos + 1) : k;
            if (k2 != LFM_UC_SPACE && k2 != LFM_UC_LETTER && k2 != LFM_UC_NUMBER) {
                end = pos + (c == ' ');
                while (CLS(end) == LFM_UC_OTHER)
                    end++;
                while (CP(end) == '\r' || CP(end) == '\n')
                    end++;
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
            if (last_nl)
                end = last_nl;
            else if (m > 1 && pos + m < n)
                end = pos + m - 1;
            else if (m > 0)
                end = pos + m;
        }
    word : {
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

int lfm_vocab_tokenize(const struct lfm_vocab *v, const char *text, size_t text_len, uint32_t flags,
                       int32_t *tokens, size_t max_tokens, size_t *n_tokens) {
    emitter e = {tokens, max_tokens, 0};
    scratch s;
    memset(&s, 0, sizeof s);
    fragment *frag = NULL, *next = NULL;
    size_t n_frag = 0, cap = 0, cap_next = 0;
    int st = LFM2MOE_OK;
    int parse_special = (flags & LFM2MOE_TOKENIZE_PARSE_SPECIAL) != 0;

    if ((flags & LFM2MOE_TOKENIZE_ADD_BOS) && v->bos >= 0) emit(&e, v->bos);

    if (LFM_RESERVE(frag, cap, 1)) goto oom;
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
                if (LFM_RESERVE(next, cap_next, m + 2)) goto oom;
                if (hit > p) next[m++] = (fragment){(size_t)(p - text), (size_t)(hit - p), -1};
                next[m++] = (fragment){(size_t)(hit - text), sl, id};
                p = hit + sl;
            }
            if (LFM_RESERVE(next, cap_next, m + 1)) goto oom;
            if (!p)
                next[m++] = fr;
            else if (p < endp)
                next[m++] = (fragment){(size_t)(p - text), (size_t)(endp - p), -1};
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
        if (frag[f].token >= 0)
            emit(&e, frag[f].token);
        else
            st = tokenize_fragment(v, &s, &e, text + frag[f].start, frag[f].len);
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
