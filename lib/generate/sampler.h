/* Internal sampler entry points used by the generation loop. */
#ifndef LFM_SAMPLER_H
#define LFM_SAMPLER_H

#include <stdint.h>

#include "lfm2moe.h"

/* Record a token in the penalty history only (prompt tokens: the grammar
 * constrains what is generated, not the prompt).  token must be in range. */
int lfm_sampler_record(lfm2moe_sampler *sm, int32_t token);

#endif
