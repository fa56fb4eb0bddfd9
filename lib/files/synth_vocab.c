/* A made-up byte-level BPE vocabulary for synthesized models, so that
 * tokenization, generation and grammar-constrained sampling run on them
 * (benchmarks of the whole loop).  n_vocab tokens: the 256 bytes, LFM2's
 * special tokens, then word pieces drawn from a seeded generator with the
 * rough shape of an English BPE vocabulary (mostly 2-9 letter words, most
 * with a leading space, some capitalized, numbers, punctuation runs and
 * white-space runs).  No merges: text is tokenized by whole-word lookup,
 * else byte by byte.  Vocabulary texts use GPT-2's byte-to-character map. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "files/gguf_writer.h"
#include "files/synth_vocab.h"

static const char *const specials[] = {
    "<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|tool_call_start|>", "<|tool_call_end|>", "<|tool_list_start|>", "<|tool_list_end|>",
    "<|tool_response_start|>", "<|tool_response_end|>", "<think>", "</think>"};
#define N_SPECIAL (int)(sizeof specials / sizeof specials[0])

/* GPT-2's printable stand-in for byte b, as UTF-8 into out; returns the length. */
static int byte_text(uint8_t b, char *out) {
    uint32_t cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        uint32_t k = 0;
        for (uint32_t x = 0; x < b; x++)
            k += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* One made-up piece (raw bytes) into buf; returns its length. */
static int make_piece(uint64_t *s, char *buf) {
    static const char punct[] = ".,;:!?\"'()[]{}-_/*+=<>#@%&";
    int n = 0, kind = (int)(next(s) % 100);
    if (kind < 80) { /* a word */
        if (next(s) % 100 < 65) buf[n++] = ' ';
        int len = 2 + (int)(next(s) % 8), cap = next(s) % 100 < 15;
        for (int i = 0; i < len; i++) buf[n++] = (char)((cap && !i ? 'A' : 'a') + next(s) % 26);
    } else if (kind < 88) { /* digits */
        int len = 1 + (int)(next(s) % 3);
        if (next(s) % 2) buf[n++] = ' ';
        for (int i = 0; i < len; i++) buf[n++] = (char)('0' + next(s) % 10);
    } else if (kind < 96) { /* punctuation */
        int len = 1 + (int)(next(s) % 3);
        if (next(s) % 3 == 0) buf[n++] = ' ';
        for (int i = 0; i < len; i++) buf[n++] = punct[next(s) % (sizeof punct - 1)];
        if (next(s) % 4 == 0) buf[n++] = '\n';
    } else { /* white space */
        int len = 1 + (int)(next(s) % 16);
        char c = next(s) % 3 == 0 ? '\t' : ' ';
        if (next(s) % 2) buf[n++] = '\n';
        for (int i = 0; i < len; i++) buf[n++] = c;
    }
    return n;
}

static uint64_t hash(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

int lfm_synth_vocab_write(gguf_writer *w, int32_t n_vocab, uint64_t seed) {
    if (n_vocab < 256 + N_SPECIAL)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "synth: vocabulary of %d tokens is too small", n_vocab);
    char **text = calloc((size_t)n_vocab, sizeof *text);
    int32_t *type = malloc((size_t)n_vocab * sizeof *type);
    size_t cap = (size_t)n_vocab * 4;
    uint64_t *seen = calloc(cap, sizeof *seen);
    int st = 0;
    if (!text || !type || !seen) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "synth: out of memory");
        goto out;
    }
    uint64_t s = seed ^ 0x5EEDu;
    for (int32_t id = 0; id < n_vocab && !st; id++) {
        char raw[32], mapped[72];
        int n = 0;
        type[id] = 1;
        if (id < 256) {
            raw[n++] = (char)id;
        } else if (id < 256 + N_SPECIAL) {
            type[id] = 3;
            text[id] = strdup(specials[id - 256]);
            if (!text[id]) st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "synth: out of memory");
            continue;
        }
        for (;;) {
            if (id >= 256) n = make_piece(&s, raw);
            uint64_t h = hash(raw, (size_t)n) | 1;
            size_t k = h % cap;
            while (seen[k] && seen[k] != h) k = (k + 1) % cap;
            if (!seen[k]) {
                seen[k] = h;
                break;
            }
        }
        int m = 0;
        for (int i = 0; i < n; i++) m += byte_text((uint8_t)raw[i], mapped + m);
        text[id] = malloc((size_t)m + 1);
        if (!text[id]) {
            st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "synth: out of memory");
            break;
        }
        memcpy(text[id], mapped, (size_t)m);
        text[id][m] = '\0';
    }
    if (!st) {
        gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
        gw_kv_str(w, "tokenizer.ggml.pre", "lfm2");
        gw_str(w, "tokenizer.ggml.tokens", strlen("tokenizer.ggml.tokens"));
        gw_u32(w, GGUF_TYPE_ARRAY);
        gw_u32(w, GGUF_TYPE_STRING);
        gw_u64(w, (uint64_t)n_vocab);
        for (int32_t id = 0; id < n_vocab; id++) gw_str(w, text[id], strlen(text[id]));
        gw_kv_i32_array(w, "tokenizer.ggml.token_type", type, (uint64_t)n_vocab);
        gw_str(w, "tokenizer.ggml.merges", strlen("tokenizer.ggml.merges"));
        gw_u32(w, GGUF_TYPE_ARRAY);
        gw_u32(w, GGUF_TYPE_STRING);
        gw_u64(w, 0);
        gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 257);
        gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 260);
        gw_kv_u32(w, "tokenizer.ggml.padding_token_id", 256);
    }
out:
    if (text)
        for (int32_t id = 0; id < n_vocab; id++) free(text[id]);
    free(text), free(type), free(seen);
    return st;
}
