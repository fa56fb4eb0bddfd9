/* Rotary position embedding, NEOX layout: dimension i is rotated together
 * with dimension i + d/2 (not with i+1). */
#ifndef LFM_ROPE_H
#define LFM_ROPE_H

#include <stdint.h>

/* Rotate each of n_heads vectors x[h][d] (contiguous) for position pos:
 *   theta_i = pos * base^(-2i/d),  i < d/2
 *   (x[i], x[i+d/2]) <- (x[i] cos - x[i+d/2] sin, x[i] sin + x[i+d/2] cos) */
void lfm_rope_neox(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base);
/* The scalar reference (the SCALAR table's entry); lfm_rope_neox runs the
 * active ISA level's version. */
void lfm_rope_neox_ref(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base);

/* d/2 <= LFM_ROPE_MAX_HALF: checked at model load. */
#define LFM_ROPE_MAX_HALF 512
/* cs[i] = cos(theta_i), sn[i] = sin(theta_i), i < d/2, theta_i as above
 * (shared by every version, so they rotate by the same values). */
void lfm_rope_table(float *cs, float *sn, int32_t d, int64_t pos, float freq_base);

#endif
