/* JSON Schema "pattern" (a regular-expression subset) -> a GBNF rule for
 * the JSON string literal whose value matches it.
 *
 * Supported: literal characters, escapes of punctuation (\. \- \\ ...),
 * \d \w \s \D \W \S, \n \r \t, "." (any character but a newline),
 * [classes] with ranges, negation and the escapes above, groups ( ) and
 * (?: ), alternation |, quantifiers ? * + {m} {m,} {m,n}, and ^ / $ only
 * at the very start / end.  Without ^ (or $) anything may come before (or
 * after) the match, as JSON Schema searches rather than matches.
 * Characters that JSON must escape are written escaped; negated classes,
 * "." and \D \W \S produce no control characters (a subset of what they
 * match, so every output still matches). */
#include <stdio.h>
#include <string.h>

#include "generate/grammar/grammar.h"
#include "generate/grammar/schema_internal.h"

#define MAX_GROUP_DEPTH 64
#define MAX_CLASS_RANGES 256

/* A JSON-safe character of any kind except control characters. */
#define PLAIN_CHAR "([^\"\\\\\\x00-\\x1F] | \"\\\\\\\"\" | \"\\\\\\\\\")"

typedef struct rx {
    sc *c;
    const char *start, *p, *end;
} rx;

static int rx_fail(rx *r, const char *what) {
    return sc_fail(r->c, LFM2MOE_ERR_INVALID_ARGUMENT, "pattern: %s at offset %zu", what,
                   (size_t)(r->p - r->start));
}

/* One code point as it appears inside a JSON string, as a GBNF literal. */
static void put_json_char(sc *c, uint32_t cp) {
    if (cp == '"')
        sc_put(c, "\"\\\\\\\"\"");
    else if (cp == '\\')
        sc_put(c, "\"\\\\\\\\\"");
    else if (cp == '\n')
        sc_put(c, "\"\\\\n\"");
    else if (cp == '\r')
        sc_put(c, "\"\\\\r\"");
    else if (cp == '\t')
        sc_put(c, "\"\\\\t\"");
    else if (cp < 0x20)
        sc_putf(c, "\"\\\\u%04x\"", (unsigned)cp);
    else
        sc_putf(c, "\"\\U%08X\"", (unsigned)cp);
}

/* Decode one UTF-8 code point at r->p (invalid bytes are taken as is). */
static uint32_t next_cp(rx *r) {
    unsigned char ch = (unsigned char)*r->p++;
    int n = ch < 0x80 ? 0 : (ch >> 5) == 6 ? 1 : (ch >> 4) == 14 ? 2 : (ch >> 3) == 30 ? 3 : 0;
    uint32_t v = n ? ch & (0x3Fu >> n) : ch;
    for (int i = 0; i < n && r->p < r->end && ((unsigned char)*r->p & 0xC0) == 0x80; i++)
        v = (v << 6) | ((unsigned char)*r->p++ & 0x3F);
    return v;
}

typedef struct cls {
    grange r[MAX_CLASS_RANGES];
    int n;
} cls;

static int add_range(rx *x, cls *k, uint32_t lo, uint32_t hi) {
    if (k->n == MAX_CLASS_RANGES) return rx_fail(x, "character class too large");
    k->r[k->n++] = (grange){lo, hi};
    return 0;
}

/* \d \w \s as ranges */
static int add_shorthand(rx *x, cls *k, char e) {
    switch (e) {
    case 'd': return add_range(x, k, '0', '9');
    case 'w':
        return add_range(x, k, '0', '9') || add_range(x, k, 'A', 'Z') ||
               add_range(x, k, 'a', 'z') || add_range(x, k, '_', '_');
    case 's':
        return add_range(x, k, ' ', ' ') || add_range(x, k, '\t', '\n') ||
               add_range(x, k, '\r', '\r');
    default: return -1;
    }
}

/* The class written for a JSON string: raw characters minus the ones JSON
 * escapes, then the escaped forms of those the class includes. */
static void put_class(sc *c, const cls *k, int negate) {
    static const uint32_t special[] = {'"', '\\', '\n', '\r', '\t'};
    sc_put(c, "(");
    if (negate) {
        sc_put(c, "[^\\x00-\\x1F\"\\\\");
        for (int i = 0; i < k->n; i++)
            sc_putf(c, "\\U%08X-\\U%08X", (unsigned)k->r[i].lo, (unsigned)k->r[i].hi);
        sc_put(c, "]");
        for (int s = 0; s < 2; s++) { /* '"' and '\\' unless excluded */
            int in = 0;
            for (int i = 0; i < k->n; i++)
                in |= special[s] >= k->r[i].lo && special[s] <= k->r[i].hi;
            if (!in) {
                sc_put(c, " | ");
                put_json_char(c, special[s]);
            }
        }
    } else {
        int first = 1;
        for (int i = 0; i < k->n; i++) { /* clip out 0x00-0x1F, '"', '\\' */
            uint32_t lo = k->r[i].lo < 0x20 ? 0x20 : k->r[i].lo, hi = k->r[i].hi;
            uint32_t cuts[3] = {'"', '\\', 0x110000};
            for (int j = 0; j < 3 && lo <= hi; j++) {
                uint32_t top = cuts[j] - 1 < hi ? cuts[j] - 1 : hi;
                if (lo <= top) {
                    sc_putf(c, "%s[\\U%08X-\\U%08X]", first ? "" : " | ", (unsigned)lo,
                            (unsigned)top);
                    first = 0;
                }
                if (lo < cuts[j] + 1) lo = cuts[j] + 1;
            }
        }
        for (int s = 0; s < 5; s++) {
            int in = 0;
            for (int i = 0; i < k->n; i++)
                in |= special[s] >= k->r[i].lo && special[s] <= k->r[i].hi;
            if (in) {
                sc_put(c, first ? "" : " | ");
                put_json_char(c, special[s]);
                first = 0;
            }
        }
        if (first) sc_put(c, "[^\\x00-\\U0010FFFF]"); /* empty class: matches nothing */
    }
    sc_put(c, ")");
}

static int parse_class(rx *x) {
    cls k = {.n = 0};
    int negate = 0;
    x->p++; /* '[' */
    if (x->p < x->end && *x->p == '^') negate = 1, x->p++;
    for (int n = 0;; n++) {
        if (x->p >= x->end) return rx_fail(x, "unterminated character class");
        if (*x->p == ']' && n > 0) {
            x->p++;
            break;
        }
        uint32_t lo;
        if (*x->p == '\\') {
            if (x->end - x->p < 2) return rx_fail(x, "unfinished escape");
            char e = x->p[1];
            x->p += 2;
            if (e == 'd' || e == 'w' || e == 's') {
                if (add_shorthand(x, &k, e)) return x->c->status;
                continue;
            }
            lo = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : (uint32_t)(unsigned char)e;
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
                if (e != 'n' && e != 't' && e != 'r')
                    return rx_fail(x, "unsupported escape in a class");
        } else {
            lo = next_cp(x);
        }
        uint32_t hi = lo;
        if (x->end - x->p >= 2 && x->p[0] == '-' && x->p[1] != ']') {
            x->p++;
            if (*x->p == '\\') {
                if (x->end - x->p < 2) return rx_fail(x, "unfinished escape");
                hi = (unsigned char)x->p[1];
                x->p += 2;
            } else {
                hi = next_cp(x);
            }
            if (hi < lo) return rx_fail(x, "range end below its start");
        }
        if (add_range(x, &k, lo, hi)) return x->c->status;
    }
    put_class(x->c, &k, negate);
    return 0;
}

static int parse_alt(rx *x, int depth);

static int parse_seq(rx *x, int depth) {
    sc *c = x->c;
    while (x->p < x->end && !c->status) {
        char ch = *x->p;
        if (ch == '|' || ch == ')') break;
        if (ch == '$' && x->p + 1 == x->end) break;
        if (ch == '^' || ch == '$') return rx_fail(x, "anchors only at the start and end");
        if (ch == '(') {
            if (depth >= MAX_GROUP_DEPTH) return rx_fail(x, "groups nested too deep");
            x->p++;
            if (x->end - x->p >= 2 && x->p[0] == '?' && x->p[1] == ':')
                x->p += 2;
            else if (x->p < x->end && *x->p == '?')
                return rx_fail(x, "unsupported group kind");
            sc_put(c, " (");
            if (parse_alt(x, depth + 1)) return c->status;
            if (x->p >= x->end || *x->p != ')') return rx_fail(x, "missing ')'");
            x->p++;
            sc_put(c, ")");
        } else if (ch == '[') {
            sc_put(c, " ");
            if (parse_class(x)) return c->status;
        } else if (ch == '.') {
            x->p++;
            sc_put(c, " " PLAIN_CHAR);
        } else if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            return rx_fail(x, "a quantifier with nothing to repeat");
        } else if (ch == '\\') {
            if (x->end - x->p < 2) return rx_fail(x, "unfinished escape");
            char e = x->p[1];
            x->p += 2;
            cls k = {.n = 0};
            sc_put(c, " ");
            if (e == 'd' || e == 'w' || e == 's') {
                add_shorthand(x, &k, e);
                put_class(c, &k, 0);
            } else if (e == 'D' || e == 'W' || e == 'S') {
                add_shorthand(x, &k, (char)(e + 32));
                put_class(c, &k, 1);
            } else if (e == 'n' || e == 't' || e == 'r') {
                put_json_char(c, e == 'n' ? '\n' : e == 't' ? '\t' : '\r');
            } else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                return rx_fail(x, "unsupported escape");
            } else {
                put_json_char(c, (unsigned char)e);
            }
        } else {
            sc_put(c, " ");
            put_json_char(c, next_cp(x));
        }
        /* quantifier */
        if (x->p < x->end && (*x->p == '*' || *x->p == '+' || *x->p == '?')) {
            char q[2] = {*x->p++, 0};
            sc_put(c, q);
        } else if (x->p < x->end && *x->p == '{') {
            const char *q = x->p + 1;
            while (q < x->end && ((*q >= '0' && *q <= '9') || *q == ','))
                q++;
            if (q >= x->end || *q != '}' || q == x->p + 1) return rx_fail(x, "bad {m,n}");
            sc_putf(c, "%.*s", (int)(q + 1 - x->p), x->p);
            x->p = q + 1;
        }
        if (x->p < x->end && (*x->p == '?' || *x->p == '+' || *x->p == '*' || *x->p == '{'))
            return rx_fail(x, "lazy, possessive or repeated quantifiers are not supported");
    }
    return c->status;
}

static int parse_alt(rx *x, int depth) {
    if (parse_seq(x, depth)) return x->c->status;
    while (x->p < x->end && *x->p == '|') {
        x->p++;
        sc_put(x->c, " |");
        if (parse_seq(x, depth)) return x->c->status;
    }
    return x->c->status;
}

int sc_pattern(sc *c, const char *re, size_t len, const char *name) {
    rx x = {c, re, re, re + len};
    int anchored_start = len && re[0] == '^';
    int anchored_end = len && re[len - 1] == '$' && !(len >= 2 && re[len - 2] == '\\');
    if (anchored_start) x.p++;
    sc_putf(c, "%s ::= \"\\\"\"%s (", name, anchored_start ? "" : " " PLAIN_CHAR "*");
    if (parse_alt(&x, 0)) return c->status;
    if (x.p < x.end && *x.p == ')') return rx_fail(&x, "unbalanced ')'");
    if (anchored_end) x.p++;
    if (x.p != x.end) return rx_fail(&x, "unexpected text");
    sc_putf(c, " )%s \"\\\"\"\n", anchored_end ? "" : " " PLAIN_CHAR "*");
    return c->status;
}
