/* The tokenizer of synthetic models: a byte-level BPE vocabulary of the
 * model's size with the LFM2 special tokens, so that other engines
 * (llama.cpp refuses a GGUF without a tokenizer) load synthesized files
 * for side-by-side benchmarks, and text round-trips through it. */
#ifndef LFM_SYNTH_VOCAB_H
#define LFM_SYNTH_VOCAB_H

#include <stdint.h>

#include "files/gguf_writer.h"

/* metadata entries synth_write_vocab writes */
#define SYNTH_VOCAB_KVS 9

/* Whether n_vocab tokens can be spelled this way: at least the special
 * tokens and the 256 bytes, at most one pair token per pair of bytes. */
int synth_vocab_fits(int64_t n_vocab);

/* Writes the SYNTH_VOCAB_KVS tokenizer.ggml.* entries for n_vocab tokens
 * (synth_vocab_fits(n_vocab)): the special tokens, the 256 byte tokens in
 * GPT-2's byte-to-unicode spelling, then tokens of two byte symbols, each
 * made by one merge, common letters first. */
void synth_write_vocab(gguf_writer *w, int n_vocab);

#endif
