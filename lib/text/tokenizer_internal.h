/* What the tokenizer's files share (vocab_load.c, tokenize.c,
 * tokenizer_api.c, detokenize.c): GPT-2's byte characters, llama.cpp's
 * UTF-8 decoding, the hashes of the token and merge tables, and the
 * vocabulary lookup of the public functions. */
#ifndef LFM_TOKENIZER_INTERNAL_H
#define LFM_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lfm2moe.h"
#include "text/tokenizer.h"

/* ---- GPT-2 byte <-> printable codepoint mapping ------------------------ */
/* Bytes that are printable Latin-1 stand for themselves; the other 68
 * (0x00-0x20, 0x7F-0xA0, 0xAD), in order, become U+0100..U+0143. */
static inline uint32_t lfm_byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33u + (uint32_t)(b - 0x7F);
    return 256u + 67u; /* 0xAD */
}

/* Inverse; -1 if cp is not one of the 256 byte characters. */
static inline int lfm_cp_to_byte(uint32_t cp) {
    if (cp < 256) return lfm_byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 66) return 0x7F + (int)(cp - 256 - 33);
    if (cp == 256 + 67) return 0xAD;
    return -1;
}

/* UTF-8 of byte b's character (1 or 2 bytes, as all are < U+0800). */
static inline size_t lfm_byte_encode(uint8_t b, char *out) {
    uint32_t cp = lfm_byte_to_cp(b);
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
static inline uint32_t lfm_utf8_decode(const unsigned char *s, size_t n, size_t *len) {
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

/* ---- hashing ----------------------------------------------------------- */
static inline uint64_t lfm_fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define LFM_FNV_SEED 0xcbf29ce484222325ull

static inline size_t lfm_hash_capacity(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

static inline uint64_t lfm_merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    return lfm_fnv1a(lfm_fnv1a(lfm_fnv1a(LFM_FNV_SEED, l, ln), " ", 1), r, rn);
}

/* The model's vocabulary for public function fn: INVALID_ARGUMENT for a
 * NULL model, NOT_FOUND if it has no tokenizer (tokenizer_api.c). */
int lfm_vocab_of(const lfm2moe_model *model, const char *fn, const struct lfm_vocab **v);

/* TOKEN_OUT_OF_RANGE unless 0 <= token < n_vocab (tokenizer_api.c). */
int lfm_vocab_check_token(const struct lfm_vocab *v, const char *fn, int32_t token);

#endif
