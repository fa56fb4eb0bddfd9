/* Run a model over the tokens of a .gld file and compare logits with the
 * file's (golden_check.c). */
#ifndef GOLDEN_CHECK_H
#define GOLDEN_CHECK_H

#include "gld.h"

typedef struct golden_stats {
    double max_abs;      /* max |ours - reference| over all rows */
    double rel_rms;      /* rms(diff) / std(reference logits) */
    double argmax_agree; /* fraction of rows with the same argmax */
} golden_stats;

/* Run the model over g's tokens into logits[(n_prompt + n_gen) * n_vocab]:
 * batched, the prompt in one step (in chunks of n_batch tokens, 0: the
 * session default) then one token at a time (as the reference run did);
 * else every token alone.  kv_type: the session's lfm2moe_kv_type. */
void golden_run(const char *model_path, const gld *g, int batched, int threads, int kv_type,
                int n_batch, float *logits);
/* The same, the model loaded with lfm2moe_model_params.flags = model_flags. */
void golden_run_flags(const char *model_path, uint32_t model_flags, const gld *g, int batched,
                      int threads, int kv_type, int n_batch, float *logits);
/* Compare logits (laid out as g->logits) with g's. */
golden_stats golden_compare(const gld *g, const float *logits);

#endif
