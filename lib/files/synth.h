/* Synthetic models (synth.c) beyond the public lfm2moe_model_synthesize. */
#ifndef LFM_SYNTH_H
#define LFM_SYNTH_H

#include "lfm2moe.h"

/* lfm2moe_model_synthesize; with sparse set the tensor data is not written
 * but left as a hole of zeros (a sparse file of the full size), so tests can
 * load every published shape's header and tensor table in milliseconds. */
int lfm_synth_write(const char *path, const lfm2moe_synth_params *params, int sparse);

#endif
