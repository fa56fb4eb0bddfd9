/* JSON Schema -> GBNF.
 *
 * Each subschema becomes a rule; shared pieces (strings, numbers, white
 * space, any value) are written once.  Objects list their properties in the
 * schema's order, required ones always, optional ones possibly left out
 * (rules first_i / tail_i: the members from property i on, before or after
 * a first member was written, so commas fall right).  Without
 * additionalProperties, or with false, no other member is allowed (our
 * documented default); with true or a schema, further members follow.
 * White space between tokens is "", " " or a newline and up to 20 spaces
 * or tabs; numbers have at most 16 integer and 16 fraction digits.
 *
 * The "python" dialect writes booleans and null as True/False/None (LFM2's
 * tool-call arguments); "kwargs" writes the top object as name=value, ...
 * without braces. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/json.h"
#include "generate/grammar/grammar.h"
#include "generate/grammar/schema_internal.h"

#define MAX_SCHEMA_DEPTH 64
#define MAX_SCHEMA_RULES 20000

int sc_fail(sc *c, int st, const char *fmt, ...) {
    if (c->status) return c->status;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return c->status = lfm_fail(st, "json schema: %s", msg);
}

int sc_oom(sc *c) {
    return sc_fail(c, LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
}

void sc_put(sc *c, const char *s) {
    if (strbuf_append(c->out, s, strlen(s))) sc_oom(c);
}

void sc_putf(sc *c, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) strbuf_append(c->out, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t k = s[0] < 0x80                    ? 1
               : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    if (!k || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    return k;
}

/* 1 if s[0..n) is valid UTF-8 */
static int utf8_valid(const char *s, size_t n) {
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_len((const unsigned char *)s + i, n - i))) return 0;
    return 1;
}

/* s[0..n) as a GBNF literal "..." (grammars match code points: text that
 * is not UTF-8 cannot be matched, and is refused) */
void sc_literal(sc *c, const char *s, size_t n) {
    if (!utf8_valid(s, n)) {
        sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "a name or value is not valid UTF-8");
        return;
    }
    sc_put(c, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char e[3] = {'\\', (char)ch, 0};
            sc_put(c, e);
        } else if (ch < 0x20 || ch == 0x7F) {
            sc_putf(c, "\\x%02X", ch);
        } else {
            char e[2] = {(char)ch, 0};
            sc_put(c, e);
        }
    }
    sc_put(c, "\"");
}

/* A fresh rule name "<prefix>-<n>" into name[64]. */
int sc_new_rule(sc *c, char *name) {
    if (++c->n_rules > MAX_SCHEMA_RULES)
        return sc_fail(c, LFM2MOE_ERR_LIMIT, "more than %d rules", MAX_SCHEMA_RULES);
    snprintf(name, 64, "%.40s-%d", c->prefix, c->n_rules);
    return 0;
}

/* The shared rules, written once at the end. */
static const char *const shared_rules[SC_N_SHARED] = {
    [SC_WS] = "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
    [SC_CHAR] =
        "json-char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n",
    [SC_PYCHAR] =
        "py-char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4})\n",
    [SC_INT] = "json-int ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n",
    [SC_NUM] = "json-num ::= json-int (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n",
    [SC_DATE] = "json-date ::= [0-9]{4} \"-\" ((\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | "
                "[12] [0-9] | \"3\" [01]) | (\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] "
                "| \"30\") | \"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]))\n",
    [SC_TIME] = "json-time ::= ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] "
                "(\".\" [0-9]{1,6})? (\"Z\" | [-+] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])\n",
    [SC_UUID] = "json-uuid ::= [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" "
                "[0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}\n",
    [SC_STRING] = "json-string ::= \"\\\"\" json-char* \"\\\"\"\n",
    [SC_PYSTRING] = "py-string ::= \"\\\"\" py-char* \"\\\"\"\n",
    [SC_VALUE] = "json-value ::= json-object | json-array | json-string | json-num | \"true\" | "
                 "\"false\" | \"null\"\n"
                 "json-object ::= \"{\" ws (json-string ws \":\" ws json-value ws (\",\" ws "
                 "json-string ws \":\" ws json-value ws)*)? \"}\"\n"
                 "json-array ::= \"[\" ws (json-value ws (\",\" ws json-value ws)*)? \"]\"\n",
    [SC_PYVALUE] = "py-value ::= py-object | py-array | py-string | json-num | \"True\" | "
                   "\"False\" | \"None\"\n"
                   "py-object ::= \"{\" ws (py-string ws \":\" ws py-value ws (\",\" ws py-string "
                   "ws \":\" ws py-value ws)*)? \"}\"\n"
                   "py-array ::= \"[\" ws (py-value ws (\",\" ws py-value ws)*)? \"]\"\n",
};

static const char *use(sc *c, int which) {
    static const char *const names[SC_N_SHARED] = {
        "ws",        "json-char", "py-char",     "json-int",  "json-num",   "json-date",
        "json-time", "json-uuid", "json-string", "py-string", "json-value", "py-value"};
    c->used[which] = 1;
    /* dependencies */
    if (which == SC_NUM) c->used[SC_INT] = 1;
    if (which == SC_STRING) c->used[SC_CHAR] = 1;
    if (which == SC_PYSTRING) c->used[SC_PYCHAR] = 1;
    if (which == SC_VALUE)
        c->used[SC_STRING] = c->used[SC_CHAR] = c->used[SC_NUM] = c->used[SC_INT] = c->used[SC_WS] =
            1;
    if (which == SC_PYVALUE)
        c->used[SC_PYSTRING] = c->used[SC_PYCHAR] = c->used[SC_NUM] = c->used[SC_INT] =
            c->used[SC_WS] = 1;
    return names[which];
}

const char *sc_shared(sc *c, int which) {
    return use(c, which);
}

void sc_write_shared(sc *c) {
    for (int i = 0; i < SC_N_SHARED; i++)
        if (c->used[i]) sc_put(c, shared_rules[i]);
}

/* ---- keywords -------------------------------------------------------------------- */
static const char *const known_keywords[] = {
    "type",        "properties",  "required",  "additionalProperties",
    "enum",        "const",       "items",     "minItems",
    "maxItems",    "minLength",   "maxLength", "pattern",
    "anyOf",       "oneOf",       "allOf",     "$ref",
    "$defs",       "definitions", "format",    "title",
    "description", "default",     "examples",  "$schema",
    "$id",         "$comment",    NULL};

static int check_keywords(sc *c, const json_value *s) {
    for (size_t i = 0; i < s->n; i++) {
        int ok = 0;
        for (const char *const *k = known_keywords; *k && !ok; k++)
            ok = !strcmp(s->keys[i], *k);
        if (!ok)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "unsupported keyword '%.80s'",
                           s->keys[i]);
    }
    return 0;
}

static int get_count(sc *c, const json_value *s, const char *key, long *out, long dflt) {
    const json_value *v = json_get(s, key);
    *out = dflt;
    if (!v) return 0;
    if (v->type != JSON_NUMBER || !v->is_integer || v->number < 0 ||
        v->number > LFM_GBNF_MAX_REPEAT)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be an integer from 0 to 10000",
                       key);
    *out = (long)v->number;
    return 0;
}

/* A JSON value as its literal text (python: top-level booleans/null in
 * Python spelling). */
static void value_literal(sc *c, const json_value *v) {
    strbuf b = {0};
    if (c->python && v->type == JSON_BOOL) {
        strbuf_append(&b, v->boolean ? "True" : "False", v->boolean ? 4 : 5);
    } else if (c->python && v->type == JSON_NULL) {
        strbuf_append(&b, "None", 4);
    } else if (json_dump(v, &b)) {
        b.oom = 1;
    }
    if (b.oom)
        sc_oom(c);
    else
        sc_literal(c, b.data, b.len);
    strbuf_free(&b);
}

/* ---- objects ---------------------------------------------------------------------- */
/* Members of object schema s (properties in order; extra members per
 * additionalProperties) as the body of rule `name`.  kwargs: name=value. */
static int object_body(sc *c, const json_value *s, const char *name, int kwargs, int depth) {
    const json_value *props = json_get(s, "properties"), *req = json_get(s, "required");
    const json_value *add = json_get(s, "additionalProperties");
    if (props && props->type != JSON_OBJECT)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be an object", "properties");
    if (req && req->type != JSON_ARRAY)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be an array", "required");
    size_t np = props ? props->n : 0;
    if (req)
        for (size_t j = 0; j < req->n; j++) {
            int found = req->items[j]->type != JSON_STRING;
            for (size_t i = 0; i < np && !found; i++)
                found = !strcmp(props->keys[i], req->items[j]->str);
            if (!found)
                return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT,
                               "required property '%.80s' is not in properties",
                               req->items[j]->type == JSON_STRING ? req->items[j]->str : "?");
        }
    /* the extra member rule, if any */
    char extra[64] = "";
    if (add && !(add->type == JSON_BOOL && !add->boolean)) {
        if (kwargs)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "tool parameters cannot have %s",
                           "additionalProperties");
        char val[64];
        if (add->type == JSON_BOOL) {
            snprintf(val, sizeof val, "%s", use(c, c->python ? SC_PYVALUE : SC_VALUE));
        } else if (sc_visit(c, add, val, depth + 1)) {
            return c->status;
        }
        if (sc_new_rule(c, extra)) return c->status;
        sc_putf(c, "%s ::= %s ws \":\" ws %s ws\n", extra,
                use(c, c->python ? SC_PYSTRING : SC_STRING), val);
    }
    use(c, SC_WS);
    /* member rules, then first_i / tail_i from the back */
    char(*kv)[64] = calloc(np + 1, sizeof *kv);
    if (!kv) return sc_oom(c);
    for (size_t i = 0; i < np && !c->status; i++) {
        char val[64];
        if (sc_visit(c, props->items[i], val, depth + 1)) break;
        if (sc_new_rule(c, kv[i])) break;
        sc_putf(c, "%s ::= ", kv[i]);
        if (kwargs) {
            const char *k = props->keys[i];
            int ident = (k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_';
            for (const char *q = k; *q && ident; q++)
                ident = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' ||
                        (*q >= '0' && *q <= '9');
            if (!ident) {
                sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT,
                        "tool parameter '%.80s' is not a Python identifier", k);
                break;
            }
            sc_literal(c, k, strlen(k));
            sc_putf(c, " \"=\" %s\n", val);
        } else {
            strbuf kb = {0};
            if (json_dump_string(props->keys[i], props->key_lens[i], &kb)) {
                strbuf_free(&kb);
                sc_oom(c);
                break;
            }
            sc_literal(c, kb.data, kb.len);
            strbuf_free(&kb);
            sc_putf(c, " ws \":\" ws %s ws\n", val);
        }
    }
    if (c->status) {
        free(kv);
        return c->status;
    }
    const char *sep = kwargs ? "\", \"" : "\",\" ws";
    /* tail_np / first_np: extras only */
    char tail_next[64], first_next[64];
    if (sc_new_rule(c, tail_next) || sc_new_rule(c, first_next)) {
        free(kv);
        return c->status;
    }
    if (extra[0]) {
        sc_putf(c, "%s ::= (%s %s)*\n", tail_next, sep, extra);
        sc_putf(c, "%s ::= | %s %s\n", first_next, extra, tail_next);
    } else {
        sc_putf(c, "%s ::= \"\"\n%s ::= \"\"\n", tail_next, first_next);
    }
    for (size_t i = np; i-- > 0 && !c->status;) {
        int required = 0;
        for (size_t j = 0; req && j < req->n && !required; j++)
            required =
                req->items[j]->type == JSON_STRING && !strcmp(req->items[j]->str, props->keys[i]);
        char tail[64], first[64];
        if (sc_new_rule(c, tail) || sc_new_rule(c, first)) break;
        sc_putf(c, "%s ::= %s %s %s", tail, sep, kv[i], tail_next);
        sc_putf(c, required ? "\n" : " | %s\n", tail_next);
        sc_putf(c, "%s ::= %s %s", first, kv[i], tail_next);
        sc_putf(c, required ? "\n" : " | %s\n", first_next);
        memcpy(tail_next, tail, sizeof tail);
        memcpy(first_next, first, sizeof first);
    }
    free(kv);
    if (c->status) return c->status;
    if (kwargs)
        sc_putf(c, "%s ::= %s\n", name, first_next);
    else
        sc_putf(c, "%s ::= \"{\" ws %s \"}\"\n", name, first_next);
    return c->status;
}

/* ---- the rest ---------------------------------------------------------------------- */
static int array_body(sc *c, const json_value *s, const char *name, int depth) {
    const json_value *items = json_get(s, "items");
    long lo, hi;
    if (get_count(c, s, "minItems", &lo, 0) || get_count(c, s, "maxItems", &hi, -1))
        return c->status;
    if (hi >= 0 && hi < lo)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s below minItems", "maxItems");
    char item[64];
    if (items && items->type == JSON_BOOL && !items->boolean) hi = 0;
    if (!items || items->type == JSON_BOOL) {
        snprintf(item, sizeof item, "%s", use(c, c->python ? SC_PYVALUE : SC_VALUE));
    } else if (sc_visit(c, items, item, depth + 1)) {
        return c->status;
    }
    use(c, SC_WS);
    if (hi == 0) {
        sc_putf(c, "%s ::= \"[\" ws \"]\"\n", name);
        return c->status;
    }
    sc_putf(c, "%s ::= \"[\" ws %s%s ws (\",\" ws %s ws)", name, lo == 0 ? "(" : "", item, item);
    long rlo = lo > 0 ? lo - 1 : 0;
    if (hi < 0)
        sc_putf(c, "{%ld,}", rlo);
    else
        sc_putf(c, "{%ld,%ld}", rlo, hi - 1);
    sc_putf(c, "%s \"]\"\n", lo == 0 ? ")?" : "");
    return c->status;
}

static int string_body(sc *c, const json_value *s, const char *name) {
    const json_value *fmt = json_get(s, "format"), *pat = json_get(s, "pattern");
    long lo, hi;
    if (get_count(c, s, "minLength", &lo, 0) || get_count(c, s, "maxLength", &hi, -1))
        return c->status;
    if (hi >= 0 && hi < lo)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s below minLength", "maxLength");
    if (fmt) {
        if (fmt->type != JSON_STRING)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be a string", "format");
        int which = !strcmp(fmt->str, "date")        ? SC_DATE
                    : !strcmp(fmt->str, "time")      ? SC_TIME
                    : !strcmp(fmt->str, "uuid")      ? SC_UUID
                    : !strcmp(fmt->str, "date-time") ? -2
                                                     : -1;
        if (which == -1)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "unsupported format '%.80s'", fmt->str);
        if (pat || lo > 0 || hi >= 0)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT,
                           "format '%.80s' with pattern or length limits", fmt->str);
        if (which == -2)
            sc_putf(c, "%s ::= \"\\\"\" %s \"T\" %s \"\\\"\"\n", name, use(c, SC_DATE),
                    use(c, SC_TIME));
        else
            sc_putf(c, "%s ::= \"\\\"\" %s \"\\\"\"\n", name, use(c, which));
        return c->status;
    }
    if (pat) {
        if (pat->type != JSON_STRING)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be a string", "pattern");
        if (lo > 0 || hi >= 0)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s with minLength/maxLength",
                           "pattern");
        if (!utf8_valid(pat->str, pat->len)) /* as for literals: code points only */
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "a pattern is not valid UTF-8");
        return sc_pattern(c, pat->str, pat->len, name);
    }
    const char *ch = use(c, c->python ? SC_PYCHAR : SC_CHAR);
    sc_putf(c, "%s ::= \"\\\"\" %s", name, ch);
    if (hi < 0)
        sc_putf(c, "{%ld,}", lo);
    else
        sc_putf(c, "{%ld,%ld}", lo, hi);
    sc_put(c, " \"\\\"\"\n");
    return c->status;
}

static int typed_body(sc *c, const json_value *s, const char *type, const char *name, int depth) {
    if (!strcmp(type, "object")) return object_body(c, s, name, 0, depth);
    if (!strcmp(type, "array")) return array_body(c, s, name, depth);
    if (!strcmp(type, "string")) return string_body(c, s, name);
    if (!strcmp(type, "number"))
        sc_putf(c, "%s ::= %s\n", name, use(c, SC_NUM));
    else if (!strcmp(type, "integer"))
        sc_putf(c, "%s ::= %s\n", name, use(c, SC_INT));
    else if (!strcmp(type, "boolean"))
        sc_putf(c, "%s ::= %s\n", name,
                c->python ? "\"True\" | \"False\"" : "\"true\" | \"false\"");
    else if (!strcmp(type, "null"))
        sc_putf(c, "%s ::= %s\n", name, c->python ? "\"None\"" : "\"null\"");
    else
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "unknown type '%.80s'", type);
    return c->status;
}

/* $ref: "#/$defs/x" or "#/definitions/x" (or "#"), memoized so recursive
 * schemas become recursive rules. */
static int visit_ref(sc *c, const json_value *ref, char *name, int depth) {
    if (ref->type != JSON_STRING)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be a string", "$ref");
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref->str)) {
            memcpy(name, c->refs[i].rule, 64);
            return 0;
        }
    const json_value *target = NULL;
    if (!strcmp(ref->str, "#")) {
        target = c->root;
    } else {
        const char *defs = !strncmp(ref->str, "#/$defs/", 8)          ? "$defs"
                           : !strncmp(ref->str, "#/definitions/", 14) ? "definitions"
                                                                      : NULL;
        const json_value *d = defs ? json_get(c->root, defs) : NULL;
        if (d && d->type == JSON_OBJECT) target = json_get(d, ref->str + (defs[0] == '$' ? 8 : 14));
    }
    if (!target)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT,
                       "$ref '%.80s' not found (only #/$defs/... and #/definitions/...)", ref->str);
    if (c->n_refs == SC_MAX_REFS)
        return sc_fail(c, LFM2MOE_ERR_LIMIT, "more than %d distinct $refs", SC_MAX_REFS);
    sc_ref *r = &c->refs[c->n_refs++];
    snprintf(r->ref, sizeof r->ref, "%.200s", ref->str);
    if (sc_new_rule(c, r->rule)) return c->status;
    memcpy(name, r->rule, 64);
    char inner[64];
    if (sc_visit(c, target, inner, depth + 1)) return c->status;
    sc_putf(c, "%s ::= %s\n", name, inner);
    return c->status;
}

/* Rules for schema s; its top rule's name goes to name[64]. */
int sc_visit(sc *c, const json_value *s, char *name, int depth) {
    if (c->status) return c->status;
    if (depth > MAX_SCHEMA_DEPTH)
        return sc_fail(c, LFM2MOE_ERR_LIMIT, "nested deeper than %d levels", MAX_SCHEMA_DEPTH);
    if (s->type == JSON_BOOL) {
        if (!s->boolean)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s matches nothing", "false");
        snprintf(name, 64, "%s", use(c, c->python ? SC_PYVALUE : SC_VALUE));
        return 0;
    }
    if (s->type != JSON_OBJECT)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "a schema must be an object or a boolean");
    if (check_keywords(c, s)) return c->status;
    const json_value *ref = json_get(s, "$ref");
    if (ref) return visit_ref(c, ref, name, depth);
    if (sc_new_rule(c, name)) return c->status;
    const json_value *v;
    if ((v = json_get(s, "const"))) {
        sc_putf(c, "%s ::= ", name);
        value_literal(c, v);
        sc_put(c, "\n");
        return c->status;
    }
    if ((v = json_get(s, "enum"))) {
        if (v->type != JSON_ARRAY || !v->n)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be a non-empty array",
                           "enum");
        sc_putf(c, "%s ::= ", name);
        for (size_t i = 0; i < v->n; i++) {
            if (i) sc_put(c, " | ");
            value_literal(c, v->items[i]);
        }
        sc_put(c, "\n");
        return c->status;
    }
    /* oneOf is compiled as anyOf (documented in lfm2moe.h: a grammar cannot
     * say "exactly one"); two combinators in one schema would need their
     * intersection, so they are refused rather than one silently dropped */
    const json_value *alts = json_get(s, "anyOf");
    if (alts && json_get(s, "oneOf"))
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' together with '%s'", "anyOf",
                       "oneOf");
    if (!alts) alts = json_get(s, "oneOf");
    if (alts && json_get(s, "allOf"))
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' together with '%s'", "allOf",
                       json_get(s, "anyOf") ? "anyOf" : "oneOf");
    if (!alts && (v = json_get(s, "allOf"))) {
        if (v->type != JSON_ARRAY || v->n != 1)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s of more than one schema", "allOf");
        alts = v;
    }
    if (alts) {
        if (alts->type != JSON_ARRAY || !alts->n)
            return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "%s must be a non-empty array",
                           "anyOf/oneOf");
        char(*sub)[64] = calloc(alts->n, sizeof *sub);
        if (!sub) return sc_oom(c);
        for (size_t i = 0; i < alts->n && !c->status; i++)
            sc_visit(c, alts->items[i], sub[i], depth + 1);
        if (!c->status) {
            sc_putf(c, "%s ::= ", name);
            for (size_t i = 0; i < alts->n; i++)
                sc_putf(c, "%s%s", i ? " | " : "", sub[i]);
            sc_put(c, "\n");
        }
        free(sub);
        return c->status;
    }
    const json_value *type = json_get(s, "type");
    if (!type) {
        if (json_get(s, "properties")) return object_body(c, s, name, 0, depth);
        if (json_get(s, "items")) return array_body(c, s, name, depth);
        sc_putf(c, "%s ::= %s\n", name, use(c, c->python ? SC_PYVALUE : SC_VALUE));
        return c->status;
    }
    if (type->type == JSON_STRING) return typed_body(c, s, type->str, name, depth);
    if (type->type != JSON_ARRAY || !type->n)
        return sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' must be a string or a list", "type");
    char(*sub)[64] = calloc(type->n, sizeof *sub);
    if (!sub) return sc_oom(c);
    for (size_t i = 0; i < type->n && !c->status; i++) {
        if (type->items[i]->type != JSON_STRING) {
            sc_fail(c, LFM2MOE_ERR_INVALID_ARGUMENT, "'%s' lists a non-string", "type");
            break;
        }
        if (!sc_new_rule(c, sub[i])) typed_body(c, s, type->items[i]->str, sub[i], depth);
    }
    if (!c->status) {
        sc_putf(c, "%s ::= ", name);
        for (size_t i = 0; i < type->n; i++)
            sc_putf(c, "%s%s", i ? " | " : "", sub[i]);
        sc_put(c, "\n");
    }
    free(sub);
    return c->status;
}

int lfm_schema_rules(const json_value *schema, const char *prefix, int python, int kwargs,
                     char *top, strbuf *out, unsigned char *used) {
    sc c = {.out = out, .root = schema, .python = python};
    snprintf(c.prefix, sizeof c.prefix, "%s", prefix);
    if (used) memcpy(c.used, used, sizeof c.used);
    if (kwargs) {
        if (schema->type != JSON_OBJECT)
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                            "json schema: tool parameters must be an object schema");
        if (!check_keywords(&c, schema) && !sc_new_rule(&c, top))
            object_body(&c, schema, top, 1, 0);
    } else {
        sc_visit(&c, schema, top, 0);
    }
    if (used) memcpy(used, c.used, sizeof c.used);
    if (!c.status && out->oom) sc_oom(&c);
    return c.status;
}

int lfm_schema_to_gbnf(const json_value *schema, const char *name, int python, strbuf *out) {
    unsigned char used[SC_N_SHARED] = {0};
    char top[64];
    int st = lfm_schema_rules(schema, "s", python, 0, top, out, used);
    if (st) return st;
    sc c = {.out = out};
    memcpy(c.used, used, sizeof used);
    sc_putf(&c, "%s ::= %s\n", name, top);
    sc_write_shared(&c);
    return out->oom ? lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "json schema: out of memory") : 0;
}
