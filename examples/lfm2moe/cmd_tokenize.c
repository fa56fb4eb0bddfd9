/* lfm2moe tokenize -m MODEL [--no-bos] [--parse-special]
 * Reads text from stdin and prints its token ids as a JSON array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/json.h"

/* All of stdin (any bytes).  NULL if memory runs out. */
static char *read_stdin(size_t *len) {
    json_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (json_buf_append(&b, chunk, n)) break;
    if (!b.oom && !b.data) json_buf_append(&b, "", 0);
    if (b.oom) {
        json_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    int bos = 1, special = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--no-bos"))
            bos = 0;
        else if (!strcmp(argv[i], "--parse-special"))
            special = 1;
        else {
            fprintf(stderr,
                    "usage: lfm2moe tokenize -m MODEL [--no-bos] [--parse-special] < TEXT\n");
            return 2;
        }
    }
    lfm2moe_model *model = cli_load_model(path);
    if (!model) return 1;
    int rc = 1;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    char *text = read_stdin(&len);
    if (!text) {
        fprintf(stderr, "lfm2moe: out of memory reading stdin\n");
        goto out;
    }
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    int st = lfm2moe_vocab_get_info(model, &vi);
    if (st) {
        rc = cli_fail("tokenize", st);
        goto out;
    }
    /* BOS as the model asks for it (tokenizer.ggml.add_bos_token) */
    uint32_t flags = (bos && vi.add_bos ? LFM2MOE_TOKENIZE_ADD_BOS : 0) |
                     (special ? LFM2MOE_TOKENIZE_PARSE_SPECIAL : 0);
    st = lfm2moe_tokenize(model, text, len, flags, NULL, 0, &n); /* size query */
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        rc = cli_fail("tokenize", st);
        goto out;
    }
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "lfm2moe: out of memory\n");
        goto out;
    }
    if ((st = lfm2moe_tokenize(model, text, len, flags, ids, n, &n))) {
        rc = cli_fail("tokenize", st);
        goto out;
    }
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf(i ? ", %d" : "%d", (int)ids[i]);
    printf("]\n");
    rc = 0;
out:
    free(ids);
    free(text);
    lfm2moe_model_free(model);
    return rc;
}
