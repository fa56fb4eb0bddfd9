/* Fuzz target: tool-call parsing of generated text.  Parsing must succeed
 * or fail with PARSE; every call found has a non-empty name and arguments
 * that are a valid JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "lfm2moe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lfm2moe_tool_calls *calls = NULL;
    int st = lfm2moe_tool_calls_parse(size ? (const char *)data : NULL, size, &calls);
    if (st != LFM2MOE_OK) {
        if (calls || (st != LFM2MOE_ERR_PARSE && st != LFM2MOE_ERR_OUT_OF_MEMORY)) abort();
        return 0;
    }
    size_t n = 0;
    if (lfm2moe_tool_calls_count(calls, &n) != LFM2MOE_OK) abort();
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *args = NULL;
        if (lfm2moe_tool_calls_get(calls, i, &name, &args) != LFM2MOE_OK || !name || !args ||
            !name[0])
            abort();
        json_value *v = NULL;
        if (json_parse(args, strlen(args), &v, NULL, 0) != 0 || v->type != JSON_OBJECT) abort();
        json_free(v);
    }
    const char *name = NULL, *args = NULL;
    if (lfm2moe_tool_calls_get(calls, n, &name, &args) != LFM2MOE_ERR_NOT_FOUND) abort();
    lfm2moe_tool_calls_free(calls);
    return 0;
}
