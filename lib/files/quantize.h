/* Per-tensor type choice of a file type (shared by quantize and synth). */
#ifndef LFM_QUANTIZE_H
#define LFM_QUANTIZE_H

#include <stdint.h>

typedef struct lfm_mix {
    int ftype;     /* lfm2moe_ftype */
    uint32_t base; /* type of ordinary weight matrices */
    int tied;      /* token_embd is also the output head */
    int n_attn_v, i_attn_v;
    int n_block;
} lfm_mix;

/* LFM2MOE_OK, or INVALID_ARGUMENT for an unknown ftype.  Call
 * lfm_mix_choose for the tensors in file order (attn_v tensors are
 * counted as they come: n_attn_v is their total). */
int lfm_mix_init(lfm_mix *mix, int ftype, int tied, int n_attn_v, int n_block);
uint32_t lfm_mix_choose(lfm_mix *mix, const char *name, uint32_t n_dims, int64_t ne0);

#endif
