/* Golden logits files (tests/golden/README.md):
 *   int32 magic "GLD1", n_prompt, n_gen, n_vocab
 *   int32 tokens[n_prompt + n_gen]
 *   float logits[(n_prompt + n_gen) * n_vocab]   (row t: after tokens[0..t])
 * little-endian.  Used by `lfm2moe eval` and by the tests. */
#ifndef LFM2MOE_GLD_H
#define LFM2MOE_GLD_H

#include <stdint.h>

#define GLD_MAGIC 0x31444c47

typedef struct gld {
    int32_t n_prompt, n_gen, n_vocab;
    int32_t *tokens; /* n_prompt + n_gen */
    float *logits;   /* (n_prompt + n_gen) * n_vocab, or NULL */
} gld;

/* Read a file; with want_logits 0 only the tokens are read.  Returns 0 or
 * -1 with a message in err. */
int gld_read(const char *path, int want_logits, gld *out, char *err, int err_size);
int gld_write(const char *path, const gld *g, char *err, int err_size);
void gld_free(gld *g);

#endif
