/* Fuzz target: JSON Schema -> grammar.  The input is the schema text; the
 * conversion must succeed or fail with PARSE (bad JSON), INVALID_ARGUMENT
 * (unsupported or malformed schema) or LIMIT, and the GBNF it writes must
 * always compile (a converter bug otherwise); the grammar is then driven
 * for a few sampled tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_grammar_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const lfm2moe_model *m = fuzz_get_model();
    lfm2moe_grammar *g = NULL;
    int st = lfm2moe_grammar_from_json_schema(m, (const char *)data, size, &g);
    if (st) {
        const char *msg = lfm2moe_last_error();
        if (g || !msg[0]) abort();
        /* the written GBNF failing to compile is a converter bug (left
         * recursion from self-referencing schemas is the schema's fault) */
        if (!strncmp(msg, "json schema: grammar: line", 26)) abort();
        if (st != LFM2MOE_ERR_PARSE && st != LFM2MOE_ERR_INVALID_ARGUMENT &&
            st != LFM2MOE_ERR_LIMIT && st != LFM2MOE_ERR_OUT_OF_MEMORY)
            abort();
        return 0;
    }
    fuzz_drive(m, g, size);
    lfm2moe_grammar_free(g);
    return 0;
}
