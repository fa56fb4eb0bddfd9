/* JSON-style tool calls, {"name": "f", "arguments": {...}} (other members
 * ignored), which LFM2 writes when its system prompt asks for JSON. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "text/toolcall.h"

int tc_parse_json_call(parser *p, lfm2moe_tool_calls *calls) {
    const char *start = p->s;
    strbuf name = {0}, args = {0}, k = {0}, val = {0};
    tc_list l = {.close = '}', .what = "expected ',' or '}'"};
    int r;
    p->s++; /* '{' */
    while ((r = tc_list_next(p, &l)) > 0) {
        free(k.data);
        free(val.data);
        memset(&k, 0, sizeof k);
        memset(&val, 0, sizeof val);
        if (!tc_is_string_start(p)) {
            tc_perr(p, "expected a string key");
            goto done;
        }
        if (tc_value_text(p, &k, 2)) goto done;
        tc_skip_ws(p);
        if (tc_peek(p) != ':') {
            tc_perr(p, "expected ':' in dict");
            goto done;
        }
        p->s++;
        if (tc_value_text(p, &val, 2)) goto done;
        if (k.oom || val.oom) {
            p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
            goto done;
        }
        strbuf *dst = !strcmp(k.data, "\"name\"")        ? &name
                      : !strcmp(k.data, "\"arguments\"") ? &args
                                                         : NULL;
        if (dst) {
            free(dst->data);
            *dst = val;
            memset(&val, 0, sizeof val);
        }
    }
    if (r < 0) goto done;
    /* names are identifiers: refuse escapes rather than decode them */
    if (!name.data || name.data[0] != '"' || name.len < 3 || memchr(name.data, '\\', name.len) ||
        !args.data || args.data[0] != '{') {
        p->s = start;
        tc_perr(p, "a JSON call needs a string \"name\" and an object \"arguments\"");
        goto done;
    }
    tc_add_call(p, calls, name.data + 1, name.len - 2, &args);
done:
    free(name.data);
    free(args.data);
    free(k.data);
    free(val.data);
    return p->status;
}
