/* Internal to the tool-call parser: the call list and the cursor shared by
 * the Python-literal parser (toolcall_python.c) and the JSON-call parser
 * (toolcall_json.c). */
#ifndef LFM_TOOLCALL_H
#define LFM_TOOLCALL_H

#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "lfm2moe.h"

#define MAX_DEPTH 256 /* nesting of values */

struct lfm2moe_tool_calls {
    size_t n, cap;
    char **names;
    char **args;
};

typedef struct parser {
    const char *s, *end; /* current position and end of the block body */
    const char *text;    /* start of the whole text, for error offsets */
    int status;          /* first error, LFM2MOE_OK if none */
} parser;

/* Record the first error (PARSE, with the offset and the text there). */
int tc_perr(parser *p, const char *what);
void tc_skip_ws(parser *p);
int tc_peek(parser *p);
int tc_is_ident_start(int c);
int tc_is_ident_char(int c);
/* Length of the identifier at p->s (call names: '.' and '-' too), 0 if none. */
size_t tc_ident_len(parser *p, int call_name);
/* Walking "item, item, ... close" (a trailing comma allowed, as in Python):
 *   tc_list l = {.close = ']', .what = "expected ',' or ']'"};
 *   while ((r = tc_list_next(p, &l)) > 0) { read one item }
 * tc_list_next returns 1 when an item follows, 0 at the end (close eaten),
 * -1 after recording l.what where neither ',' nor close follows an item. */
typedef struct tc_list {
    char close;
    const char *what;
    size_t n;           /* items so far */
    int trailing_comma; /* the list ended in ", close" */
} tc_list;
int tc_list_next(parser *p, tc_list *l);
/* Append one call (takes args->data). */
int tc_add_call(parser *p, lfm2moe_tool_calls *calls, const char *name, size_t name_len,
                strbuf *args);

/* toolcall_python.c: Python literals as JSON text */
void tc_put_json_escaped_byte(strbuf *o, unsigned char c);
int tc_is_string_start(parser *p);
int tc_parse_value(parser *p, strbuf *o, int depth);
/* One value into a fresh buffer (caller frees .p). */
int tc_value_text(parser *p, strbuf *o, int depth);
/* name(k=v, ...) */
int tc_parse_python_call(parser *p, lfm2moe_tool_calls *calls);

/* toolcall_json.c: {"name": "f", "arguments": {...}} */
int tc_parse_json_call(parser *p, lfm2moe_tool_calls *calls);

#endif
