/* The made-up vocabulary of synthesized models (synth_vocab.c). */
#ifndef LFM_SYNTH_VOCAB_H
#define LFM_SYNTH_VOCAB_H

#include <stdint.h>

#include "files/gguf_writer.h"

/* Number of metadata entries lfm_synth_vocab_write adds. */
#define LFM_SYNTH_VOCAB_KV 8

/* Write the tokenizer.* metadata of an n_vocab-token vocabulary. */
int lfm_synth_vocab_write(gguf_writer *w, int32_t n_vocab, uint64_t seed);

#endif
