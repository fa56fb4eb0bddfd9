/* Fuzz target: arbitrary bytes through the tokenizer of tiny-a-f32.gguf
 * (real LFM2 rules, 1024 tokens), with and without special-token parsing.
 * Byte-level BPE loses nothing, so without special parsing detokenizing must
 * give back the input exactly, and the streaming detokenizer must give the
 * same bytes as lfm2moe_detokenize. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfm2moe_model *model;

static const lfm2moe_model *get_model(void) {
    if (!model) {
        /* loaded once for the whole run (freed at exit by the OS) */
        if (lfm2moe_model_load(GOLDEN_DIR "/tiny-a-f32.gguf", NULL, &model) != LFM2MOE_OK) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", lfm2moe_last_error());
            abort();
        }
    }
    return model;
}

static void check_mode(const lfm2moe_model *m, const char *text, size_t size, uint32_t flags) {
    size_t n = 0;
    int st = lfm2moe_tokenize(m, text, size, flags, NULL, 0, &n);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) abort();
    if (size && !n) abort();
    int32_t *toks = malloc((n ? n : 1) * sizeof *toks);
    size_t n2 = 0;
    if (!toks || lfm2moe_tokenize(m, text, size, flags, toks, n, &n2) != LFM2MOE_OK || n2 != n)
        abort();
    /* a buffer one short must be refused without writing past it */
    if (n > 1) {
        size_t n3 = 0;
        if (lfm2moe_tokenize(m, text, size, flags, toks, n - 1, &n3) !=
                LFM2MOE_ERR_BUFFER_TOO_SMALL ||
            n3 != n)
            abort();
        lfm2moe_tokenize(m, text, size, flags, toks, n, &n2);
    }
    size_t len = 0;
    st = lfm2moe_detokenize(m, toks, n, NULL, 0, &len);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) abort();
    char *out = malloc(len ? len : 1);
    size_t len2 = 0;
    if (!out || lfm2moe_detokenize(m, toks, n, out, len, &len2) != LFM2MOE_OK || len2 != len)
        abort();
    if (flags == 0 && (len != size || memcmp(out, text, size) != 0))
        abort(); /* lossless round trip */

    /* streaming: pieces + flush concatenate to the same bytes */
    lfm2moe_detokenizer *d = NULL;
    if (lfm2moe_detokenizer_create(m, &d) != LFM2MOE_OK) abort();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *piece = NULL;
        size_t plen = 0;
        if (lfm2moe_detokenizer_push(d, toks[i], &piece, &plen) != LFM2MOE_OK) abort();
        if (plen > len - at || memcmp(piece, out + at, plen) != 0) abort();
        at += plen;
    }
    const char *piece = NULL;
    size_t plen = 0;
    if (lfm2moe_detokenizer_flush(d, &piece, &plen) != LFM2MOE_OK) abort();
    if (plen != len - at || memcmp(piece, out + at, plen) != 0) abort();
    lfm2moe_detokenizer_free(d);

    for (size_t i = 0; i < n; i++) {
        char b[256];
        size_t bl = 0;
        uint32_t attr = 0;
        if (lfm2moe_token_to_bytes(m, toks[i], b, sizeof b, &bl) != LFM2MOE_OK && bl <= sizeof b)
            abort();
        if (lfm2moe_token_attr(m, toks[i], &attr) != LFM2MOE_OK) abort();
    }
    free(out);
    free(toks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const lfm2moe_model *m = get_model();
    const char *text = size ? (const char *)data : "";
    check_mode(m, text, size, 0);
    check_mode(m, text, size, LFM2MOE_TOKENIZE_PARSE_SPECIAL);
    check_mode(m, text, size, LFM2MOE_TOKENIZE_ADD_BOS | LFM2MOE_TOKENIZE_PARSE_SPECIAL);
    int32_t tok = -1;
    (void)lfm2moe_token_lookup(m, text, size, &tok);
    return 0;
}
