/* Tool calls in LFM2 output:
 *   <|tool_call_start|>[get_weather(city="Paris", days=3), now()]<|tool_call_end|>
 * The block holds a Python list of calls with keyword arguments whose values
 * are Python literals (strings with escapes, numbers, True/False/None, lists,
 * tuples, dicts).  Each call becomes a name and its arguments as a JSON
 * object text written like Python's json.dumps(ensure_ascii=False):
 *   {"city": "Paris", "days": 3}
 * A block may also hold JSON-style calls ([{"name": "f", "arguments": {...}}]),
 * which LFM2 emits when its system prompt asks for JSON output.
 *
 * This file finds the blocks and holds the call list; the values are read
 * by toolcall_python.c (Python literals, converted to JSON) and
 * toolcall_json.c (JSON-style calls). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "lfm2moe.h"
#include "text/toolcall.h"

/* ---- parser ------------------------------------------------------------ */
int tc_perr(parser *p, const char *what) {
    if (p->status == LFM2MOE_OK) {
        size_t avail = (size_t)(p->end - p->s);
        p->status = lfm_fail(LFM2MOE_ERR_PARSE, "tool call: %s at offset %zu near '%.*s'", what,
                             (size_t)(p->s - p->text), (int)(avail > 24 ? 24 : avail), p->s);
    }
    return p->status;
}

void tc_skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

int tc_peek(parser *p) {
    return p->s < p->end ? (unsigned char)*p->s : -1;
}

int tc_is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

int tc_is_ident_char(int c) {
    return tc_is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Identifier [A-Za-z_][A-Za-z0-9_]* (non-ASCII letters allowed, as in
 * Python); call names may also contain '.' and '-'. */
size_t tc_ident_len(parser *p, int call_name) {
    const char *q = p->s;
    if (q >= p->end || !tc_is_ident_start((unsigned char)*q)) return 0;
    while (q < p->end &&
           (tc_is_ident_char((unsigned char)*q) || (call_name && (*q == '.' || *q == '-'))))
        q++;
    return (size_t)(q - p->s);
}

int tc_add_call(parser *p, lfm2moe_tool_calls *calls, const char *name, size_t name_len,
                strbuf *args) {
    if (args->oom)
        return p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
    if (calls->n == calls->cap) {
        const size_t c = lfm_grow_cap(calls->cap, calls->n + 1, sizeof(char *));
        char **nn = c ? lfm_realloc_array(calls->names, c, sizeof *nn) : NULL;
        if (nn) calls->names = nn;
        char **na = c ? lfm_realloc_array(calls->args, c, sizeof *na) : NULL;
        if (na) calls->args = na;
        if (!nn || !na)
            return p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
        calls->cap = c;
    }
    char *nm = malloc(name_len + 1);
    if (!nm) return p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
    calls->names[calls->n] = nm;
    calls->args[calls->n] = args->data;
    calls->n++;
    args->data = NULL;
    return LFM2MOE_OK;
}

int tc_list_next(parser *p, tc_list *l) {
    tc_skip_ws(p);
    l->trailing_comma = 0;
    if (l->n) { /* after an item */
        if (tc_peek(p) == ',') {
            p->s++;
            tc_skip_ws(p);
            l->trailing_comma = 1;
        } else if (tc_peek(p) != l->close) {
            tc_perr(p, l->what);
            return -1;
        }
    }
    if (tc_peek(p) == l->close) {
        p->s++;
        return 0;
    }
    l->n++;
    return 1;
}

/* name(k=v, ...) */
static int parse_call(parser *p, lfm2moe_tool_calls *calls) {
    tc_skip_ws(p);
    if (tc_peek(p) == '{') return tc_parse_json_call(p, calls);
    if (tc_ident_len(p, 1)) return tc_parse_python_call(p, calls);
    return tc_perr(p, "expected a function call");
}

/* Body between the markers: "[call, call, ...]" or one bare call. */
static int parse_block(parser *p, lfm2moe_tool_calls *calls) {
    tc_skip_ws(p);
    if (tc_peek(p) == '[') {
        p->s++;
        tc_list l = {.close = ']', .what = "expected ',' or ']' between calls"};
        int r;
        while ((r = tc_list_next(p, &l)) > 0)
            if (parse_call(p, calls)) return p->status;
        if (r < 0) return p->status;
    } else if (parse_call(p, calls)) {
        return p->status;
    }
    tc_skip_ws(p);
    if (p->s != p->end) return tc_perr(p, "unexpected text after the calls");
    return LFM2MOE_OK;
}

LFM2MOE_API void lfm2moe_tool_calls_free(lfm2moe_tool_calls *calls) {
    if (!calls) return;
    for (size_t i = 0; i < calls->n; i++) {
        free(calls->names[i]);
        free(calls->args[i]);
    }
    free(calls->names);
    free(calls->args);
    free(calls);
}

LFM2MOE_API int lfm2moe_tool_calls_parse(const char *text, size_t text_len,
                                         lfm2moe_tool_calls **out) {
    static const char start_tag[] = "<|tool_call_start|>", end_tag[] = "<|tool_call_end|>";
    LFM_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    LFM_CHECK_ARG(text || !text_len, "text is NULL");
    if (!text) text = "";
    lfm2moe_tool_calls *calls = calloc(1, sizeof *calls);
    if (!calls) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
    const char *s = text, *end = text + text_len;
    for (;;) {
        const char *a = memmem(s, (size_t)(end - s), start_tag, sizeof start_tag - 1);
        if (!a) break;
        const char *body = a + sizeof start_tag - 1;
        const char *b = memmem(body, (size_t)(end - body), end_tag, sizeof end_tag - 1);
        parser p = {body, b ? b : end, text, LFM2MOE_OK};
        if (!b) {
            p.s = a;
            tc_perr(&p, "<|tool_call_start|> without <|tool_call_end|>");
        } else {
            parse_block(&p, calls);
        }
        if (p.status != LFM2MOE_OK) {
            lfm2moe_tool_calls_free(calls);
            return p.status;
        }
        s = b + sizeof end_tag - 1;
    }
    *out = calls;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_tool_calls_count(const lfm2moe_tool_calls *calls, size_t *count) {
    LFM_CHECK_ARGS(calls && count);
    *count = calls->n;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_tool_calls_get(const lfm2moe_tool_calls *calls, size_t index,
                                       const char **name, const char **arguments_json) {
    LFM_CHECK_ARGS(calls && name && arguments_json);
    if (index >= calls->n)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "lfm2moe_tool_calls_get: index %zu, only %zu calls",
                        index, calls->n);
    *name = calls->names[index];
    *arguments_json = calls->args[index];
    return LFM2MOE_OK;
}
