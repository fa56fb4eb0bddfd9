/* Shared by the JSON Schema converter (json_schema.c), its regex subset
 * (json_pattern.c) and the tool-call grammar (tool_grammar.c). */
#ifndef LFM_SCHEMA_INTERNAL_H
#define LFM_SCHEMA_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "base/errors.h"
#include "base/json.h"

/* rules written once, at the end, when used */
enum {
    SC_WS,
    SC_CHAR,
    SC_PYCHAR,
    SC_INT,
    SC_NUM,
    SC_DATE,
    SC_TIME,
    SC_UUID,
    SC_STRING,
    SC_PYSTRING,
    SC_VALUE,
    SC_PYVALUE,
    SC_N_SHARED
};

#define SC_MAX_REFS 256

typedef struct sc_ref {
    char ref[208];
    char rule[64];
} sc_ref;

typedef struct sc {
    strbuf *out;
    const json_value *root; /* for $ref */
    int python;
    char prefix[32]; /* of generated rule names */
    int n_rules;
    unsigned char used[SC_N_SHARED];
    sc_ref refs[SC_MAX_REFS];
    size_t n_refs;
    int status;
} sc;

int sc_visit(sc *c, const json_value *s, char *name, int depth);
int sc_pattern(sc *c, const char *re, size_t len, const char *name);
int sc_new_rule(sc *c, char *name);
int sc_oom(sc *c);
int sc_fail(sc *c, int st, const char *fmt, ...) LFM_PRINTF(3, 4);
void sc_put(sc *c, const char *s);
void sc_putf(sc *c, const char *fmt, ...) LFM_PRINTF(2, 3);
void sc_literal(sc *c, const char *s, size_t n);
const char *sc_shared(sc *c, int which);
void sc_write_shared(sc *c);

/* Rules for `schema` (names "<prefix>-N"); the top rule's name goes to
 * top[64].  kwargs: an object schema written as name=value, ... (tool
 * arguments).  used[SC_N_SHARED] accumulates the shared rules needed
 * (write them once with sc_write_shared).  Status, message set. */
int lfm_schema_rules(const json_value *schema, const char *prefix, int python, int kwargs,
                     char *top, strbuf *out, unsigned char *used);

/* GBNF for a tool-call block over tools[0..n) (parsed tool JSON objects),
 * rule "root"; with_start: the block's start marker included. */
int lfm_tools_to_gbnf(const json_value *const *tools, size_t n_tools, int with_start, strbuf *out);

#endif
