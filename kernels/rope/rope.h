/* Rotary position embedding, NEOX layout: dimension i is rotated together
 * with dimension i + d/2 (not with i+1). */
#ifndef LFM_ROPE_H
#define LFM_ROPE_H

#include <stdint.h>

/* Rotate each of n_heads vectors x[h][d] (contiguous) for position pos:
 *   theta_i = pos * base^(-2i/d),  i < d/2
 *   (x[i], x[i+d/2]) <- (x[i] cos - x[i+d/2] sin, x[i] sin + x[i+d/2] cos) */
void lfm_rope_neox(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base);

#endif
