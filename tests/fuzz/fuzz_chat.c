/* Fuzz target: chat rendering.  The input is split at NUL bytes into
 * fields; byte 0 gives the flags and how many trailing fields are tools, the
 * remaining fields alternate role, content.  The rendering must report the
 * same length whatever the buffer, never write past it, always
 * NUL-terminate, and tokenize.  (With no message at all LFM2's template
 * fails on messages[0], as Jinja2 does.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfm2moe_model *model;

static const lfm2moe_model *get_model(void) {
    if (!model) {
        if (lfm2moe_model_load(GOLDEN_DIR "/tiny-a-f32.gguf", NULL, &model) != LFM2MOE_OK) {
            fprintf(stderr, "fuzz_chat: %s\n", lfm2moe_last_error());
            abort();
        }
    }
    return model;
}

#define MAX_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const lfm2moe_model *m = get_model();
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    /* NUL-terminated copy of the rest, so every field is a C string */
    char *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    const char *fields[MAX_FIELDS];
    size_t n_fields = 0;
    for (char *p = copy; p <= copy + size - 1 && n_fields < MAX_FIELDS;) {
        fields[n_fields++] = p;
        p += strlen(p) + 1;
    }
    size_t n_tools = (ctl >> 1) & 7;
    if (n_tools > n_fields) n_tools = n_fields;
    size_t n_msg = (n_fields - n_tools) / 2;
    const char *roles[MAX_FIELDS], *contents[MAX_FIELDS];
    for (size_t i = 0; i < n_msg; i++) {
        roles[i] = fields[2 * i];
        contents[i] = fields[2 * i + 1];
    }
    /* small role vocabulary so the special cases (system first, tool) are hit */
    static const char *const known[] = {"system", "user", "assistant", "tool"};
    if (ctl & 0x10)
        for (size_t i = 0; i < n_msg; i++)
            if (roles[i][0] >= '0' && roles[i][0] <= '3' && !roles[i][1])
                roles[i] = known[roles[i][0] - '0'];
    const char *const *tools = fields + (n_fields - n_tools);
    uint32_t flags = ctl & 1;

    size_t len = 0;
    int st = lfm2moe_chat_render(m, roles, contents, n_msg, n_tools ? tools : NULL, n_tools, flags,
                                 NULL, 0, &len);
    if (n_msg == 0 && st == LFM2MOE_ERR_INVALID_ARGUMENT) { /* the template reads messages[0] */
        free(copy);
        return 0;
    }
    if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL) abort();
    char *out = malloc(len + 1);
    size_t len2 = 0;
    if (!out ||
        lfm2moe_chat_render(m, roles, contents, n_msg, n_tools ? tools : NULL, n_tools, flags, out,
                            len + 1, &len2) != LFM2MOE_OK ||
        len2 != len || out[len] != 0)
        abort();
    /* truncated: exact-size buffer of half the length */
    size_t half = len / 2 + 1;
    char *small = malloc(half);
    size_t len3 = 0;
    if (!small ||
        lfm2moe_chat_render(m, roles, contents, n_msg, n_tools ? tools : NULL, n_tools, flags,
                            small, half, &len3) != LFM2MOE_ERR_BUFFER_TOO_SMALL ||
        len3 != len || small[half - 1] != 0 || memcmp(small, out, half - 1) != 0)
        abort();
    size_t n_tok = 0;
    st = lfm2moe_tokenize(m, out, len, LFM2MOE_TOKENIZE_PARSE_SPECIAL, NULL, 0, &n_tok);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) abort();
    free(small);
    free(out);
    free(copy);
    return 0;
}
