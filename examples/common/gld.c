#include "gld.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gld_read(const char *path, int want_logits, gld *out, char *err, int err_size) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, (size_t)err_size, "cannot open %s", path);
        return -1;
    }
    int32_t hdr[4];
    if (fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] != GLD_MAGIC || hdr[1] < 0 || hdr[2] < 0 ||
        hdr[3] <= 0 || hdr[1] > (1 << 24) || hdr[2] > (1 << 24) || hdr[3] > (1 << 24) ||
        hdr[1] + hdr[2] == 0) {
        snprintf(err, (size_t)err_size, "%s is not a golden logits file", path);
        fclose(f);
        return -1;
    }
    out->n_prompt = hdr[1];
    out->n_gen = hdr[2];
    out->n_vocab = hdr[3];
    size_t n = (size_t)hdr[1] + (size_t)hdr[2];
    out->tokens = malloc(n * sizeof(int32_t));
    if (!out->tokens || fread(out->tokens, sizeof(int32_t), n, f) != n) goto short_read;
    if (want_logits) {
        out->logits = malloc(n * (size_t)out->n_vocab * sizeof(float));
        if (!out->logits || fread(out->logits, sizeof(float), n * (size_t)out->n_vocab, f) !=
                                n * (size_t)out->n_vocab)
            goto short_read;
    }
    fclose(f);
    return 0;
short_read:
    snprintf(err, (size_t)err_size, "%s is truncated", path);
    fclose(f);
    gld_free(out);
    return -1;
}

int gld_write(const char *path, const gld *g, char *err, int err_size) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, (size_t)err_size, "cannot create %s", path);
        return -1;
    }
    size_t n = (size_t)g->n_prompt + (size_t)g->n_gen;
    int32_t hdr[4] = {GLD_MAGIC, g->n_prompt, g->n_gen, g->n_vocab};
    int ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(g->tokens, sizeof(int32_t), n, f) == n &&
             fwrite(g->logits, sizeof(float), n * (size_t)g->n_vocab, f) == n * (size_t)g->n_vocab;
    ok &= fclose(f) == 0;
    if (!ok) snprintf(err, (size_t)err_size, "cannot write %s", path);
    return ok ? 0 : -1;
}

void gld_free(gld *g) {
    free(g->tokens);
    free(g->logits);
    memset(g, 0, sizeof *g);
}
