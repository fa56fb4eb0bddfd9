/* think_model IN.gguf OUT.gguf: a reasoning-capable copy of a golden model
 * for the tests.  tiny-t25's vocabulary (tiny-a's) has no <think> /
 * </think>, which LFM2.5's has as special tokens: the copy renames the last
 * NORMAL tokens of 7 and 8 bytes to "<think>" and "</think>" and types them
 * CONTROL, in place (same sizes and offsets, weights untouched). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *buf;
static size_t len;

static int fail(const char *msg) {
    fprintf(stderr, "think_model: %s\n", msg);
    return 1;
}

/* Little-endian reads at offset `at`, bounds-checked (0 past the end). */
static uint64_t rd(size_t at, size_t n) {
    uint64_t v = 0;
    if (at > len || n > len - at) return 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | buf[at + i];
    return v;
}

/* Bytes of a GGUF value of type t at `at` (SIZE_MAX if malformed). */
static size_t value_size(size_t at, uint32_t t) {
    static const size_t scalar[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t == 8) return 8 + (size_t)rd(at, 8);
    if (t == 9) {
        const uint32_t et = (uint32_t)rd(at, 4);
        const uint64_t n = rd(at + 4, 8);
        size_t off = 12;
        for (uint64_t i = 0; i < n && off < len; i++)
            off += value_size(at + off, et);
        return off;
    }
    return t < 13 ? scalar[t] : SIZE_MAX;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: think_model IN.gguf OUT.gguf");
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fail("cannot open the input");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len);
    if (!buf || fread(buf, 1, len, f) != len) return fail("cannot read the input");
    fclose(f);
    const uint64_t n_kv = rd(16, 8);
    size_t off = 24, tokens = 0, types = 0;
    for (uint64_t k = 0; k < n_kv && off < len; k++) {
        const size_t klen = (size_t)rd(off, 8);
        const char *key = (const char *)buf + off + 8;
        off += 8 + klen;
        const uint32_t t = (uint32_t)rd(off, 4);
        off += 4;
        if (klen == 21 && !memcmp(key, "tokenizer.ggml.tokens", 21)) tokens = off;
        if (klen == 25 && !memcmp(key, "tokenizer.ggml.token_type", 25)) types = off;
        const size_t vs = value_size(off, t);
        if (vs == SIZE_MAX) return fail("malformed metadata");
        off += vs;
    }
    if (!tokens || !types || rd(types, 4) != 5) return fail("no tokenizer token list");
    const uint64_t n = rd(tokens + 4, 8);
    size_t at[2] = {0, 0}, p = tokens + 12;
    int64_t id[2] = {-1, -1};
    for (uint64_t i = 0; i < n && p < len; i++) {
        const uint64_t l = rd(p, 8);
        if ((l == 7 || l == 8) && rd(types + 12 + 4 * i, 4) == 1) {
            at[l - 7] = p + 8;
            id[l - 7] = (int64_t)i;
        }
        p += 8 + l;
    }
    if (id[0] < 0 || id[1] < 0 || p > len) return fail("no tokens of 7 and 8 bytes");
    memcpy(buf + at[0], "<think>", 7);
    memcpy(buf + at[1], "</think>", 8);
    for (int i = 0; i < 2; i++)
        buf[types + 12 + 4 * (size_t)id[i]] = 3; /* CONTROL */
    if (!(f = fopen(argv[2], "wb")) || fwrite(buf, 1, len, f) != len || fclose(f))
        return fail("cannot write the output");
    free(buf);
    return 0;
}
