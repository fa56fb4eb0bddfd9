/* lfm2moe eval -m MODEL --tokens IN.gld --out OUT.gld [-t THREADS] [--one-by-one]
 * Feeds the token ids of a golden file the way the reference run did: the
 * n_prompt prompt tokens in one batched step, then the n_gen generated tokens
 * one at a time (with --one-by-one, every token alone), and writes the logits
 * after each token in the same format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gld.h"

int cmd_eval(int argc, char **argv) {
    const char *path = NULL, *in = NULL, *outp = NULL;
    int threads = 0, one_by_one = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            in = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outp = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--one-by-one"))
            one_by_one = 1;
        else {
            fprintf(stderr, "usage: lfm2moe eval -m MODEL --tokens IN.gld --out OUT.gld "
                            "[-t THREADS] [--one-by-one]\n");
            return 2;
        }
    }
    if (!in || !outp) {
        fprintf(stderr, "lfm2moe eval: --tokens and --out are required\n");
        return 2;
    }
    char err[256];
    gld g;
    if (gld_read(in, 0, &g, err, sizeof err)) {
        fprintf(stderr, "lfm2moe eval: %s\n", err);
        return 1;
    }
    lfm2moe_model *model = cli_load_model(path);
    if (!model) {
        gld_free(&g);
        return 1;
    }
    int rc = 1, st;
    lfm2moe_session *s = NULL;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_threads = threads;
    int32_t n = g.n_prompt + g.n_gen;
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    lfm2moe_model_get_info(model, &mi);
    sp.n_ctx = n;
    if (mi.n_vocab != g.n_vocab) {
        fprintf(stderr, "lfm2moe eval: %s has vocab %d, model has %d\n", in, g.n_vocab, mi.n_vocab);
        goto done;
    }
    if ((st = lfm2moe_session_create(model, &sp, &s))) {
        cli_fail("session", st);
        goto done;
    }
    g.logits = malloc((size_t)n * (size_t)g.n_vocab * sizeof(float));
    if (!g.logits) {
        fprintf(stderr, "lfm2moe eval: out of memory\n");
        goto done;
    }
    int32_t t = 0;
    while (t < n) {
        int32_t step = (!one_by_one && t == 0 && g.n_prompt > 0) ? g.n_prompt : 1;
        if ((st = lfm2moe_decode_step(s, g.tokens + t, step, LFM2MOE_DECODE_ALL_LOGITS))) {
            cli_fail("decode", st);
            goto done;
        }
        for (int32_t i = 0; i < step; i++) {
            const float *row;
            lfm2moe_session_logits(s, i, &row);
            memcpy(g.logits + (size_t)(t + i) * (size_t)g.n_vocab, row,
                   (size_t)g.n_vocab * sizeof(float));
        }
        t += step;
    }
    if (gld_write(outp, &g, err, sizeof err)) {
        fprintf(stderr, "lfm2moe eval: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    lfm2moe_session_free(s);
    lfm2moe_model_free(model);
    gld_free(&g);
    return rc;
}
