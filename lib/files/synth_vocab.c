#include "files/synth_vocab.h"

#include <string.h>

#include "text/tokenizer_internal.h" /* GPT-2's byte characters */

/* The LFM2 special tokens at the ids of the published vocabulary. */
static const char *const specials[] = {
    "<|pad|>",
    "<|startoftext|>",
    "<|endoftext|>",
    "<|fim_pre|>",
    "<|fim_mid|>",
    "<|fim_suf|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|tool_list_start|>",
    "<|tool_list_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "<|tool_response_start|>",
    "<|tool_response_end|>",
    "<|reserved_0|>",
    "<|reserved_1|>",
};
enum { N_SPECIAL = sizeof specials / sizeof specials[0], BOS = 1, EOS = 7, PAD = 0 };

int synth_vocab_fits(int64_t n_vocab) {
    return n_vocab >= N_SPECIAL + 256 && n_vocab <= N_SPECIAL + 256 + 256 * 256;
}

/* Bytes by how early their pairs merge: space and lower-case letters by
 * English frequency, then capitals, digits, punctuation, the rest. */
static void byte_order(int order[256]) {
    static const char common[] = " etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ"
                                 "0123456789.,'\"-\n:;()!?/_=<>[]{}*#@&%+$|\\^`~\t";
    int seen[256] = {0}, n = 0;
    for (const char *c = common; *c; c++) {
        order[n++] = (unsigned char)*c;
        seen[(unsigned char)*c] = 1;
    }
    for (int b = 0; b < 256; b++)
        if (!seen[b]) order[n++] = b;
}

/* The k-th pair of byte ranks (i, j): pairs are taken in growing
 * max(i, j), so common symbols merge first. */
static void pair_at(int k, int *i, int *j) {
    int m = 0;
    while ((m + 1) * (m + 1) <= k)
        m++;
    int r = k - m * m; /* 0 .. 2m within layer m */
    if (r < m) {
        *i = r;
        *j = m;
    } else if (r < 2 * m) {
        *i = m;
        *j = r - m;
    } else {
        *i = m;
        *j = m;
    }
}

void synth_write_vocab(gguf_writer *w, int n_vocab) {
    int order[256];
    byte_order(order);
    const int n_pairs = n_vocab - N_SPECIAL - 256;
    char a[2], b[2], buf[5];

    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", "lfm2");
    gw_kv_array_head(w, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, (uint64_t)n_vocab);
    for (int t = 0; t < N_SPECIAL; t++)
        gw_str(w, specials[t], strlen(specials[t]));
    for (int t = 0; t < 256; t++)
        gw_str(w, a, (uint64_t)lfm_byte_encode((uint8_t)t, a));
    for (int k = 0; k < n_pairs; k++) {
        int i, j;
        pair_at(k, &i, &j);
        const int la = (int)lfm_byte_encode((uint8_t)order[i], a);
        const int lb = (int)lfm_byte_encode((uint8_t)order[j], b);
        memcpy(buf, a, (size_t)la);
        memcpy(buf + la, b, (size_t)lb);
        gw_str(w, buf, (uint64_t)(la + lb));
    }
    gw_kv_array_head(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, (uint64_t)n_vocab);
    for (int t = 0; t < n_vocab; t++) {
        int32_t type = t < N_SPECIAL ? 3 : 1; /* control, normal */
        gw_raw(w, &type, 4);
    }
    gw_kv_array_head(w, "tokenizer.ggml.merges", GGUF_TYPE_STRING, (uint64_t)n_pairs);
    for (int k = 0; k < n_pairs; k++) {
        int i, j;
        pair_at(k, &i, &j);
        const int la = (int)lfm_byte_encode((uint8_t)order[i], a);
        const int lb = (int)lfm_byte_encode((uint8_t)order[j], b);
        memcpy(buf, a, (size_t)la);
        buf[la] = ' ';
        memcpy(buf + la + 1, b, (size_t)lb);
        gw_str(w, buf, (uint64_t)(la + 1 + lb));
    }
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", BOS);
    gw_kv_u32(w, "tokenizer.ggml.eos_token_id", EOS);
    gw_kv_u32(w, "tokenizer.ggml.padding_token_id", PAD);
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", 1);
}
