/* Expert routing of LFM2-MoE blocks. */
#ifndef LFM_ROUTER_H
#define LFM_ROUTER_H

#include <stdint.h>

/* From router logits[n_expert] (W_router . x) pick k experts:
 *   s[e]      = sigmoid(logits[e])
 *   chosen    = the k largest s[e] + bias[e]   (bias may be NULL; ties go to
 *               the lower index)
 *   weight[j] = s[ids[j]] / sum_j s[ids[j]]    (plain scores, normalised)
 * ids/weights get k entries, in decreasing order of s + bias. */
void lfm_moe_route(const float *logits, const float *bias, int32_t n_expert, int32_t k,
                   int32_t *ids, float *weights);

#endif
