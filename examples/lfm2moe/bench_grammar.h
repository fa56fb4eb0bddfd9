/* lfm2moe bench --grammar / --json-schema / --tools (bench_grammar.c). */
#ifndef LFM2MOE_BENCH_GRAMMAR_H
#define LFM2MOE_BENCH_GRAMMAR_H

#include "lfm2moe.h"

/* Tokens/s of n steps of the generation loop (sample with the default
 * sampling params, accept, decode) from a fresh session, without the
 * grammar into plain[r] and with it into with[r], for reps repetitions
 * after one warm-up, the two interleaved so both see the same machine.
 * The grammar restarts whenever it completes.  Returns 0 or 1 (printed). */
int bench_grammar(lfm2moe_session *s, const lfm2moe_model *m, const lfm2moe_grammar *g, int n,
                  int reps, double *plain, double *with);

#endif
