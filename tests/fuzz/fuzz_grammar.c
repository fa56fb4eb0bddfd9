/* Fuzz target: GBNF grammars.  The input is the grammar text; compiling
 * must succeed or fail with PARSE / LIMIT / NOT_FOUND (no root rule) and a
 * message, and a compiled grammar is driven for a few sampled tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_grammar_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const lfm2moe_model *m = fuzz_get_model();
    lfm2moe_grammar *g = NULL;
    int st = lfm2moe_grammar_create(m, (const char *)data, size, NULL, &g);
    if (st) {
        if (g ||
            (st != LFM2MOE_ERR_PARSE && st != LFM2MOE_ERR_LIMIT && st != LFM2MOE_ERR_NOT_FOUND &&
             st != LFM2MOE_ERR_OUT_OF_MEMORY) ||
            !lfm2moe_last_error()[0])
            abort();
        return 0;
    }
    fuzz_drive(m, g, size);
    lfm2moe_grammar_free(g);
    return 0;
}
