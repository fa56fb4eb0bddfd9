/* Byte-level BPE tokenizer of LFM2 models (GGUF tokenizer.ggml.model "gpt2",
 * pre-tokenizer "lfm2"), reproducing llama.cpp's tokenization:
 *  - special tokens (CONTROL, and UNKNOWN with PARSE_SPECIAL; USER_DEFINED
 *    always, as llama.cpp does) are cut out of the text first, longest first;
 *  - each remaining fragment is split with the llama3-style pre-tokenizer
 *    regex  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *  - each pre-token is mapped byte by byte to GPT-2's printable characters;
 *    if that string is itself a token it is taken whole (llama.cpp's
 *    ignore_merges for lfm2), otherwise BPE merges are applied by rank.
 * Invalid UTF-8 is kept byte for byte (each stray byte splits like a symbol).
 * The vocabulary is immutable after loading and owns copies of all strings. */
#ifndef LFM_TOKENIZER_H
#define LFM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

/* tokenizer.ggml.token_type values */
enum {
    LFM_TOKTYPE_UNDEFINED = 0,
    LFM_TOKTYPE_NORMAL = 1,
    LFM_TOKTYPE_UNKNOWN = 2,
    LFM_TOKTYPE_CONTROL = 3,
    LFM_TOKTYPE_USER_DEFINED = 4,
    LFM_TOKTYPE_UNUSED = 5,
    LFM_TOKTYPE_BYTE = 6
};

struct lfm_vocab {
    int32_t n_vocab;
    /* token i's vocabulary text is text[text_off[i] .. text_off[i+1]) */
    char *text;
    size_t *text_off;
    /* the bytes it stands for (GPT-2 byte mapping undone; special tokens:
     * their text; unused/undefined types: empty, as llama.cpp) */
    char *piece;
    size_t *piece_off;
    uint8_t *type;     /* LFM_TOKTYPE_* */
    uint32_t *attr;    /* LFM2MOE_TOKEN_ATTR_* */
    int32_t *tok_hash; /* open addressing: token ids by text, -1 empty */
    size_t tok_hash_mask;

    int32_t n_merges;
    char *merge_text; /* "left right", split at merge_split[i] */
    size_t *merge_off;
    uint32_t *merge_split; /* length of the left part */
    int32_t *merge_hash;   /* merge ranks by (left, right), -1 empty */
    size_t merge_hash_mask;

    int32_t *special; /* ids matched inside text, longest text first */
    int32_t n_special;

    int32_t bos, eos, pad, eot; /* -1 if none */
    int add_bos;
};

/* Read the tokenizer from GGUF metadata.  *out = NULL (and LFM2MOE_OK) when
 * the file has no tokenizer (no tokenizer.ggml.model, or "none").
 * BAD_MODEL for a malformed or unsupported one, OUT_OF_MEMORY. */
int lfm_vocab_load(const gguf_file *g, struct lfm_vocab **out);
void lfm_vocab_free(struct lfm_vocab *v);

/* Tokenize with the public lfm2moe_tokenize protocol (flags
 * LFM2MOE_TOKENIZE_*; writes min(needed, max_tokens) ids; BUFFER_TOO_SMALL
 * if max_tokens < *n_tokens). */
int lfm_vocab_tokenize(const struct lfm_vocab *v, const char *text, size_t text_len, uint32_t flags,
                       int32_t *tokens, size_t max_tokens, size_t *n_tokens);

/* Token id with exactly this vocabulary text, or -1. */
int32_t lfm_vocab_find(const struct lfm_vocab *v, const char *text, size_t len);

/* Bytes of token id (0 <= id < n_vocab, not checked). */
static inline const char *lfm_vocab_piece(const struct lfm_vocab *v, int32_t id, size_t *len) {
    *len = v->piece_off[id + 1] - v->piece_off[id];
    return v->piece + v->piece_off[id];
}

/* Vocabulary text of token id (0 <= id < n_vocab, not checked). */
static inline const char *lfm_vocab_text(const struct lfm_vocab *v, int32_t id, size_t *len) {
    *len = v->text_off[id + 1] - v->text_off[id];
    return v->text + v->text_off[id];
}

#endif
