/* The tool list -> GBNF for LFM2's tool-call block
 *   <|tool_call_start|>[name(arg=value, ...), ...]<|tool_call_end|>
 * Names are the listed tools'; each call's keyword arguments follow its
 * "parameters" schema (json_schema.c in the Python dialect, kwargs form).
 * A block holds 1 to 8 calls. */
#include <stdio.h>
#include <string.h>

#include "base/errors.h"
#include "base/json.h"
#include "generate/grammar/grammar.h"
#include "generate/grammar/schema_internal.h"

#define MAX_CALLS_PER_BLOCK 8

/* The function object of a tool: {"type": "function", "function": {...}}
 * or the object itself. */
static const json_value *tool_function(const json_value *t) {
    const json_value *f = json_get(t, "function");
    return f && f->type == JSON_OBJECT ? f : t;
}

static int valid_name(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        if (!letter && !(i && ((c >= '0' && c <= '9') || c == '.' || c == '-'))) return 0;
    }
    return 1;
}

int lfm_tools_to_gbnf(const json_value *const *tools, size_t n_tools, int with_start, strbuf *out) {
    unsigned char used[SC_N_SHARED] = {0};
    sc c = {.out = out};
    if (!n_tools) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "tools: the tool list is empty");
    for (size_t i = 0; i < n_tools; i++) {
        const json_value *f = tool_function(tools[i]);
        const json_value *name = json_get(f, "name"), *params = json_get(f, "parameters");
        if (f->type != JSON_OBJECT || !name || name->type != JSON_STRING ||
            !valid_name(name->str, name->len))
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                            "tools: tool %zu needs a \"name\" made of letters, digits, _ . -", i);
        char top[64] = "", prefix[32];
        snprintf(prefix, sizeof prefix, "t%zu", i);
        const json_value *props = params ? json_get(params, "properties") : NULL;
        if (props && props->n) {
            int st = lfm_schema_rules(params, prefix, 1, 1, top, out, used);
            if (st) return st;
        }
        sc_putf(&c, "call-%zu ::= ", i);
        sc_literal(&c, name->str, name->len);
        sc_putf(&c, " \"(\" %s \")\"\n", top);
        if (c.status) return c.status;
    }
    sc_put(&c, "call ::= ");
    for (size_t i = 0; i < n_tools; i++)
        sc_putf(&c, "%scall-%zu", i ? " | " : "", i);
    sc_putf(&c, "\ncalls ::= \"[\" call (\",\" \" \"? call){0,%d} \"]\"\n",
            MAX_CALLS_PER_BLOCK - 1);
    sc_putf(&c, "root ::= %scalls \"<|tool_call_end|>\"\n",
            with_start ? "\"<|tool_call_start|>\" " : "");
    memcpy(c.used, used, sizeof used);
    sc_write_shared(&c);
    return out->oom ? lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tools: out of memory") : 0;
}
