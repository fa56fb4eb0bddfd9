/* Shared by the golden-logits tests. */
#ifndef GOLDEN_CHECK_H
#define GOLDEN_CHECK_H

#include "gld.h"

typedef struct golden_stats {
    double max_abs;      /* max |ours - reference| over all rows */
    double rel_rms;      /* rms(diff) / std(reference logits) */
    double argmax_agree; /* fraction of rows with the same argmax */
} golden_stats;

void golden_run(const char *model_path, const gld *g, int batched, int threads, int n_batch,
                float *logits);
golden_stats golden_compare(const gld *g, const float *logits);

#endif
