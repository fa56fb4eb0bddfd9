/* Gated short convolution of LFM2's conv blocks (after in_proj, before
 * out_proj). */
#ifndef LFM_SHORTCONV_H
#define LFM_SHORTCONV_H

#include <stdint.h>

/* For each of n tokens t (in order), with channels c < C and kernel length L:
 *   bcx[t] = [B | Cg | X]          (3*C floats: in_proj output, in that order)
 *   u[t][c] = B[c] * X[c]
 *   y[t][c] = Cg[c] * sum_{k<L} w[c][k] * u[t-(L-1)+k][c]
 * w is stored ne {L, C}: w[c*L + k], k = L-1 multiplies the current token.
 * state[(L-1)][C] holds u of the L-1 previous tokens, oldest first (zeros
 * at the start of a sequence); it is updated to end at token n-1.
 * y has n rows of C floats; bcx rows have stride 3*C. */
void lfm_shortconv(float *y, const float *bcx, float *state, const float *w, int64_t n, int64_t C,
                   int32_t L);
/* The scalar reference (the SCALAR table's entry); lfm_shortconv runs the
 * active ISA level's version. */
void lfm_shortconv_ref(float *y, const float *bcx, float *state, const float *w, int64_t n,
                       int64_t C, int32_t L);

#endif
