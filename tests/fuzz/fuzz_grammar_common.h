/* Shared by fuzz_grammar and fuzz_json_schema: drive a compiled grammar
 * against the tiny-a vocabulary for a few tokens (masks, token checks and
 * accepts must agree), so the matcher and the trie walk see what the
 * parser lets through. */
#ifndef FUZZ_GRAMMAR_COMMON_H
#define FUZZ_GRAMMAR_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "lfm2moe.h"

static lfm2moe_model *fuzz_model;

static const lfm2moe_model *fuzz_get_model(void) {
    if (!fuzz_model && lfm2moe_model_load(GOLDEN_DIR "/tiny-a-f32.gguf", NULL, &fuzz_model)) {
        fprintf(stderr, "fuzz: %s\n", lfm2moe_last_error());
        abort();
    }
    return fuzz_model;
}

/* Sample up to 12 tokens under the grammar from flat logits (seeded by the
 * input); every sampled token must be accepted. */
static void fuzz_drive(const lfm2moe_model *m, const lfm2moe_grammar *g, uint64_t seed) {
    lfm2moe_sampling_params sp;
    lfm2moe_sampling_params_init(&sp);
    sp.seed = seed;
    sp.temperature = 1.0f;
    sp.min_p = 0.0f;
    sp.grammar = g;
    lfm2moe_sampler *sm = NULL;
    int st = lfm2moe_sampler_create(m, &sp, &sm);
    if (st) {
        if (st != LFM2MOE_ERR_LIMIT && st != LFM2MOE_ERR_OUT_OF_MEMORY) abort();
        return;
    }
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    lfm2moe_vocab_get_info(m, &vi);
    float *logits = calloc((size_t)vi.n_vocab, sizeof *logits);
    for (int i = 0; logits && i < 12; i++) {
        int32_t tok = -1;
        if (lfm2moe_sampler_sample(sm, logits, &tok)) break; /* dead end: reported, fine */
        uint32_t attr = 0;
        lfm2moe_token_attr(m, tok, &attr);
        if (lfm2moe_sampler_accept(sm, tok)) abort(); /* sample and accept disagree */
        if (attr & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION) break;
    }
    free(logits);
    lfm2moe_sampler_free(sm);
}

#endif
