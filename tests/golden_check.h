/* Run a model over the tokens of a .gld file and compare with its logits
 * (defined in test_golden.c, the one user so far). */
#ifndef GOLDEN_CHECK_H
#define GOLDEN_CHECK_H

#include "gld.h"

typedef struct golden_stats {
    double max_abs;      /* max |ours - reference| over all rows */
    double rel_rms;      /* rms(diff) / std(reference logits) */
    double argmax_agree; /* fraction of rows with the same argmax */
} golden_stats;

void golden_run(const char *model_path, const gld *g, int batched, int threads, float *logits);
golden_stats golden_compare(const gld *g, const float *logits);

#endif
