/* GBNF (llama.cpp's grammar format) -> compiled grammar.
 *
 *   name ::= alternatives          one rule; rules are separated by newlines
 *   a b c                          sequence        a | b   alternatives
 *   ( ... )                        group           # ...   comment to line end
 *   "text"                         literal (escapes \n \r \t \\ \" \[ \] \- \^
 *                                  \/ \' \xHH \uHHHH \UHHHHHHHH)
 *   [a-z_]  [^"\\]                 character class, negated with ^
 *   .                              any character
 *   x?  x*  x+  x{m}  x{m,}  x{m,n}  x{,n}    repetition
 * Inside parentheses, and after "::=" and "|", a newline is white space.
 * Names are [A-Za-z0-9_-]+.  Everything matches Unicode code points.
 *
 * Groups and repetitions become synthetic rules ("name~N" in messages):
 * x* is R ::= x R | (empty); x{m,n} is m copies of x then n-m nested
 * optional rules.  After parsing, left recursion (a rule that can reach
 * itself without consuming a character, through nullable prefixes too) is
 * refused, which guarantees that expanding grammar stacks terminates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "generate/grammar/grammar.h"

typedef struct evec {
    gelem *e;
    uint32_t n;
    size_t cap;
} evec;

typedef struct gp {
    const char *src, *end, *p;
    evec *rules; /* bodies: alternatives split by GE_ALT */
    char **names;
    size_t *def_at; /* offset of the definition, SIZE_MAX if none yet */
    size_t *ref_at; /* offset of the first reference */
    uint32_t n_rules, cap_rules;
    uint32_t *hash; /* rule ids by name, UINT32_MAX empty */
    uint32_t hash_mask;
    grange *ranges;
    uint32_t n_ranges;
    size_t cap_ranges;
    uint32_t n_elems; /* over all rules, for the limit */
    int status;
} gp;

static int gp_fail(gp *g, int st, const char *at, const char *fmt, ...) LFM_PRINTF(4, 5);
static int gp_fail(gp *g, int st, const char *at, const char *fmt, ...) {
    if (g->status) return g->status;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at) {
        size_t line = 1, col = 1;
        for (const char *q = g->src; q < at && q < g->end; q++) {
            if (*q == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)*q & 0xC0) != 0x80) {
                col++;
            }
        }
        g->status = lfm_fail(st, "grammar: line %zu, column %zu: %s", line, col, msg);
    } else {
        g->status = lfm_fail(st, "grammar: %s", msg);
    }
    return g->status;
}

static int oom(gp *g) {
    return gp_fail(g, LFM2MOE_ERR_OUT_OF_MEMORY, NULL, "out of memory");
}

/* ---- rules and names ---------------------------------------------------------- */
static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int hash_insert(gp *g, uint32_t id) {
    uint32_t i = name_hash(g->names[id], strlen(g->names[id])) & g->hash_mask;
    while (g->hash[i] != UINT32_MAX)
        i = (i + 1) & g->hash_mask;
    g->hash[i] = id;
    return 0;
}

/* A new rule called name[0..n); UINT32_MAX on failure (status set). */
static uint32_t new_rule(gp *g, const char *name, size_t n) {
    if (g->n_rules >= LFM_GBNF_MAX_RULES) {
        gp_fail(g, LFM2MOE_ERR_LIMIT, g->p, "more than %u rules", LFM_GBNF_MAX_RULES);
        return UINT32_MAX;
    }
    if (g->n_rules == g->cap_rules) {
        uint32_t c = g->cap_rules ? g->cap_rules * 2 : 32;
        evec *r = realloc(g->rules, c * sizeof *r);
        if (r) g->rules = r;
        char **nm = realloc(g->names, c * sizeof *nm);
        if (nm) g->names = nm;
        size_t *d = realloc(g->def_at, c * sizeof *d);
        if (d) g->def_at = d;
        size_t *rf = realloc(g->ref_at, c * sizeof *rf);
        if (rf) g->ref_at = rf;
        uint32_t *h = malloc(2 * c * sizeof *h);
        if (!r || !nm || !d || !rf || !h) {
            free(h);
            oom(g);
            return UINT32_MAX;
        }
        g->cap_rules = c;
        free(g->hash);
        g->hash = h;
        g->hash_mask = 2 * c - 1;
        memset(h, 0xFF, 2 * c * sizeof *h);
        for (uint32_t i = 0; i < g->n_rules; i++)
            hash_insert(g, i);
    }
    char *s = malloc(n + 1);
    if (!s) {
        oom(g);
        return UINT32_MAX;
    }
    memcpy(s, name, n);
    s[n] = '\0';
    uint32_t id = g->n_rules++;
    memset(&g->rules[id], 0, sizeof g->rules[id]);
    g->names[id] = s;
    g->def_at[id] = SIZE_MAX;
    g->ref_at[id] = SIZE_MAX;
    hash_insert(g, id);
    return id;
}

static uint32_t rule_by_name(gp *g, const char *name, size_t n) {
    uint32_t i = name_hash(name, n) & g->hash_mask;
    if (g->hash)
        for (; g->hash[i] != UINT32_MAX; i = (i + 1) & g->hash_mask) {
            const char *s = g->names[g->hash[i]];
            if (strlen(s) == n && !memcmp(s, name, n)) return g->hash[i];
        }
    return new_rule(g, name, n);
}

/* A synthetic rule for a group or repetition inside `parent`. */
static uint32_t sub_rule(gp *g, uint32_t parent) {
    char nm[96];
    snprintf(nm, sizeof nm, "%.60s~%u", g->names[parent], g->n_rules);
    uint32_t id = new_rule(g, nm, strlen(nm));
    if (id != UINT32_MAX) g->def_at[id] = (size_t)(g->p - g->src);
    return id;
}

static int push(gp *g, evec *v, gelem e) {
    if (g->n_elems >= LFM_GBNF_MAX_ELEMS)
        return gp_fail(g, LFM2MOE_ERR_LIMIT, g->p,
                       "more than %u grammar elements (repetitions "
                       "are expanded)",
                       LFM_GBNF_MAX_ELEMS);
    if (LFM_RESERVE(v->e, v->cap, (size_t)v->n + 1)) return oom(g);
    v->e[v->n++] = e;
    g->n_elems++;
    return 0;
}

static int push_range(gp *g, uint32_t lo, uint32_t hi) {
    if (g->n_ranges == g->cap_ranges) {
        if (g->n_ranges >= LFM_GBNF_MAX_ELEMS)
            return gp_fail(g, LFM2MOE_ERR_LIMIT, g->p, "more than %u character ranges",
                           LFM_GBNF_MAX_ELEMS);
        if (LFM_RESERVE(g->ranges, g->cap_ranges, (size_t)g->n_ranges + 1)) return oom(g);
    }
    g->ranges[g->n_ranges++] = (grange){lo, hi};
    return 0;
}

/* ---- lexical ------------------------------------------------------------------ */
static void skip_space(gp *g, int newline_ok) {
    while (g->p < g->end) {
        char c = *g->p;
        if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newline_ok)) {
            g->p++;
        } else if (c == '#') {
            while (g->p < g->end && *g->p != '\n')
                g->p++;
        } else {
            break;
        }
    }
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static size_t name_len(gp *g) {
    const char *q = g->p;
    while (q < g->end && is_name_char(*q))
        q++;
    return (size_t)(q - g->p);
}

static int hexdigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One UTF-8 character or escape at g->p. */
static int parse_char(gp *g, uint32_t *cp) {
    const char *at = g->p;
    if (g->p >= g->end) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "unexpected end of grammar");
    unsigned char c = (unsigned char)*g->p;
    if (c == '\\') {
        if (g->end - g->p < 2) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "unfinished escape");
        char e = g->p[1];
        g->p += 2;
        int nhex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (nhex) {
            uint32_t v = 0;
            for (int i = 0; i < nhex; i++) {
                int h = g->p < g->end ? hexdigit(*g->p) : -1;
                if (h < 0)
                    return gp_fail(g, LFM2MOE_ERR_PARSE, at, "\\%c needs %d hex digits", e, nhex);
                v = v * 16 + (uint32_t)h;
                g->p++;
            }
            if (v > 0x10FFFF)
                return gp_fail(g, LFM2MOE_ERR_PARSE, at, "code point beyond U+10FFFF");
            *cp = v;
            return 0;
        }
        switch (e) {
        case 'n': *cp = '\n'; return 0;
        case 'r': *cp = '\r'; return 0;
        case 't': *cp = '\t'; return 0;
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '^':
        case '/':
        case '\'': *cp = (unsigned char)e; return 0;
        default: return gp_fail(g, LFM2MOE_ERR_PARSE, at, "unknown escape '\\%c'", e);
        }
    }
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || g->end - g->p < n + 1) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "invalid UTF-8");
    uint32_t v = n == 0 ? c : c & (0x3Fu >> n);
    for (int i = 1; i <= n; i++) {
        unsigned char k = (unsigned char)g->p[i];
        if ((k & 0xC0) != 0x80) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "invalid UTF-8");
        v = (v << 6) | (k & 0x3F);
    }
    g->p += n + 1;
    *cp = v;
    return 0;
}

static int parse_uint(gp *g, uint32_t *v) {
    const char *at = g->p;
    uint64_t x = 0;
    if (g->p >= g->end || *g->p < '0' || *g->p > '9')
        return gp_fail(g, LFM2MOE_ERR_PARSE, at, "expected a number");
    while (g->p < g->end && *g->p >= '0' && *g->p <= '9') {
        x = x * 10 + (uint64_t)(*g->p++ - '0');
        if (x > LFM_GBNF_MAX_REPEAT)
            return gp_fail(g, LFM2MOE_ERR_LIMIT, at, "repetition count above %u",
                           LFM_GBNF_MAX_REPEAT);
    }
    *v = (uint32_t)x;
    return 0;
}

/* ---- syntax ------------------------------------------------------------------- */
static int parse_alternatives(gp *g, uint32_t rule, int nested);

/* Replace out->e[start..] (one item) by its repetition {min,max}
 * (max UINT32_MAX: unbounded). */
static int repeat(gp *g, uint32_t rule, uint32_t vec_rule, uint32_t start, uint32_t min,
                  uint32_t max) {
    evec *out = &g->rules[vec_rule];
    uint32_t n = out->n - start;
    if (n == 0) return 0; /* repeating nothing is nothing */
    gelem *item = malloc(n * sizeof *item);
    if (!item) return oom(g);
    memcpy(item, out->e + start, n * sizeof *item);
    out->n = start;
    g->n_elems -= n;
    int st = 0;
    for (uint32_t k = 0; k < min && !st; k++)
        for (uint32_t i = 0; i < n && !st; i++)
            st = push(g, &g->rules[vec_rule], item[i]);
    if (!st && max == UINT32_MAX) { /* R ::= item R | (empty) */
        uint32_t r = sub_rule(g, rule);
        if (r == UINT32_MAX) st = g->status;
        for (uint32_t i = 0; i < n && !st; i++)
            st = push(g, &g->rules[r], item[i]);
        if (!st) st = push(g, &g->rules[r], (gelem){GE_RULE, 0, r, 0});
        if (!st) st = push(g, &g->rules[r], (gelem){GE_ALT, 0, 0, 0});
        if (!st) st = push(g, &g->rules[vec_rule], (gelem){GE_RULE, 0, r, 0});
    } else if (!st && max > min) { /* R_k ::= item R_{k-1} | (empty), from the inside out */
        uint32_t inner = UINT32_MAX;
        for (uint32_t k = 0; k < max - min && !st; k++) {
            uint32_t r = sub_rule(g, rule);
            if (r == UINT32_MAX) {
                st = g->status;
                break;
            }
            for (uint32_t i = 0; i < n && !st; i++)
                st = push(g, &g->rules[r], item[i]);
            if (!st && inner != UINT32_MAX)
                st = push(g, &g->rules[r], (gelem){GE_RULE, 0, inner, 0});
            if (!st) st = push(g, &g->rules[r], (gelem){GE_ALT, 0, 0, 0});
            inner = r;
        }
        if (!st) st = push(g, &g->rules[vec_rule], (gelem){GE_RULE, 0, inner, 0});
    }
    free(item);
    return st;
}

/* [...] at g->p, appended to rule vec_rule. */
static int parse_class(gp *g, uint32_t vec_rule) {
    const char *at = g->p;
    g->p++; /* '[' */
    uint8_t negate = 0;
    if (g->p < g->end && *g->p == '^') {
        negate = 1;
        g->p++;
    }
    uint32_t first = g->n_ranges;
    for (;;) {
        if (g->p >= g->end)
            return gp_fail(g, LFM2MOE_ERR_PARSE, at, "unterminated character class");
        if (*g->p == ']') {
            g->p++;
            break;
        }
        uint32_t lo, hi;
        if (parse_char(g, &lo)) return g->status;
        hi = lo;
        if (g->end - g->p >= 2 && g->p[0] == '-' && g->p[1] != ']') {
            g->p++;
            const char *rat = g->p;
            if (parse_char(g, &hi)) return g->status;
            if (hi < lo) return gp_fail(g, LFM2MOE_ERR_PARSE, rat, "range end below its start");
        }
        if (push_range(g, lo, hi)) return g->status;
    }
    return push(g, &g->rules[vec_rule], (gelem){GE_CHARS, negate, first, g->n_ranges - first});
}

/* One sequence of items into rule `rule`'s body. */
static int parse_sequence(gp *g, uint32_t rule, int nested) {
    uint32_t last = UINT32_MAX; /* where the last item starts */
    for (;;) {
        if (g->p >= g->end) break;
        const char *at = g->p;
        char c = *g->p;
        uint32_t here = g->rules[rule].n;
        if (c == '"') {
            g->p++;
            last = here;
            for (;;) {
                if (g->p >= g->end) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "unterminated string");
                if (*g->p == '"') {
                    g->p++;
                    break;
                }
                uint32_t cp;
                if (parse_char(g, &cp) || push_range(g, cp, cp) ||
                    push(g, &g->rules[rule], (gelem){GE_CHARS, 0, g->n_ranges - 1, 1}))
                    return g->status;
            }
        } else if (c == '[') {
            last = here;
            if (parse_class(g, rule)) return g->status;
        } else if (c == '.') {
            g->p++;
            last = here;
            if (push(g, &g->rules[rule], (gelem){GE_CHARS, 1, 0, 0})) return g->status;
        } else if (c == '(') {
            g->p++;
            skip_space(g, 1);
            uint32_t sub = sub_rule(g, rule);
            if (sub == UINT32_MAX || parse_alternatives(g, sub, 1)) return g->status;
            if (g->p >= g->end || *g->p != ')')
                return gp_fail(g, LFM2MOE_ERR_PARSE, at, "'(' without a matching ')'");
            g->p++;
            last = here;
            if (push(g, &g->rules[rule], (gelem){GE_RULE, 0, sub, 0})) return g->status;
        } else if (is_name_char(c)) {
            size_t n = name_len(g);
            const char *q = g->p + n;
            while (q < g->end && (*q == ' ' || *q == '\t'))
                q++;
            if (g->end - q >= 3 && !memcmp(q, "::=", 3))
                return gp_fail(g, LFM2MOE_ERR_PARSE, at, "a new rule must start on its own line");
            uint32_t r = rule_by_name(g, g->p, n);
            if (r == UINT32_MAX) return g->status;
            if (g->ref_at[r] == SIZE_MAX) g->ref_at[r] = (size_t)(at - g->src);
            g->p += n;
            last = here;
            if (push(g, &g->rules[rule], (gelem){GE_RULE, 0, r, 0})) return g->status;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (last == UINT32_MAX)
                return gp_fail(g, LFM2MOE_ERR_PARSE, at, "'%c' with nothing to repeat", c);
            uint32_t min = 0, max = UINT32_MAX;
            g->p++;
            if (c == '+')
                min = 1;
            else if (c == '?')
                max = 1;
            else if (c == '{') {
                skip_space(g, nested);
                if (g->p < g->end && *g->p == ',') {
                    min = 0;
                } else if (parse_uint(g, &min)) {
                    return g->status;
                }
                skip_space(g, nested);
                if (g->p < g->end && *g->p == ',') {
                    g->p++;
                    skip_space(g, nested);
                    if (g->p < g->end && *g->p != '}' && parse_uint(g, &max)) return g->status;
                } else {
                    max = min;
                }
                skip_space(g, nested);
                if (g->p >= g->end || *g->p != '}')
                    return gp_fail(g, LFM2MOE_ERR_PARSE, g->p, "expected '}'");
                g->p++;
                if (max < min)
                    return gp_fail(g, LFM2MOE_ERR_PARSE, at, "{%u,%u}: maximum below minimum", min,
                                   max);
            }
            if (repeat(g, rule, rule, last, min, max)) return g->status;
        } else {
            break;
        }
        skip_space(g, nested);
    }
    return 0;
}

static int parse_alternatives(gp *g, uint32_t rule, int nested) {
    if (parse_sequence(g, rule, nested)) return g->status;
    while (g->p < g->end && *g->p == '|') {
        g->p++;
        skip_space(g, 1);
        if (push(g, &g->rules[rule], (gelem){GE_ALT, 0, 0, 0}) || parse_sequence(g, rule, nested))
            return g->status;
    }
    return 0;
}

static int parse_rule(gp *g) {
    const char *at = g->p;
    size_t n = name_len(g);
    if (!n) return gp_fail(g, LFM2MOE_ERR_PARSE, at, "expected a rule name");
    uint32_t r = rule_by_name(g, g->p, n);
    if (r == UINT32_MAX) return g->status;
    if (g->def_at[r] != SIZE_MAX)
        return gp_fail(g, LFM2MOE_ERR_PARSE, at, "rule '%s' defined twice", g->names[r]);
    g->def_at[r] = (size_t)(at - g->src);
    g->p += n;
    skip_space(g, 0);
    if (g->end - g->p < 3 || memcmp(g->p, "::=", 3))
        return gp_fail(g, LFM2MOE_ERR_PARSE, g->p, "expected '::=' after '%s'", g->names[r]);
    g->p += 3;
    skip_space(g, 1);
    if (parse_alternatives(g, r, 0)) return g->status;
    if (g->p < g->end && *g->p != '\n' && *g->p != '\r')
        return gp_fail(g, LFM2MOE_ERR_PARSE, g->p, "unexpected '%c'", *g->p);
    return 0;
}

/* Flatten the rule bodies into one element array. */
static int compile(gp *g, lfm_cgrammar *cg) {
    uint32_t n_alts = 0, n_elem = 0;
    for (uint32_t r = 0; r < g->n_rules; r++) {
        n_alts++;
        for (uint32_t i = 0; i < g->rules[r].n; i++)
            n_alts += g->rules[r].e[i].kind == GE_ALT;
        n_elem += g->rules[r].n + 1;
    }
    cg->n_rules = g->n_rules;
    cg->elem = malloc((size_t)n_elem * sizeof *cg->elem);
    cg->alts = malloc((size_t)n_alts * sizeof *cg->alts);
    cg->rule_alt = malloc(((size_t)g->n_rules + 1) * sizeof *cg->rule_alt);
    if (!cg->elem || !cg->alts || !cg->rule_alt) return oom(g);
    uint32_t e = 0, a = 0;
    for (uint32_t r = 0; r < g->n_rules; r++) {
        cg->rule_alt[r] = a;
        cg->alts[a++] = e;
        for (uint32_t i = 0; i < g->rules[r].n; i++) {
            gelem x = g->rules[r].e[i];
            if (x.kind == GE_ALT) {
                cg->elem[e++] = (gelem){GE_END, 0, r, 0};
                cg->alts[a++] = e;
            } else {
                cg->elem[e++] = x;
            }
        }
        cg->elem[e++] = (gelem){GE_END, 0, r, 0};
    }
    cg->rule_alt[g->n_rules] = a;
    cg->n_elem = e;
    cg->ranges = g->ranges;
    cg->n_ranges = g->n_ranges;
    g->ranges = NULL;
    cg->rule_names = g->names;
    g->names = NULL;
    return 0;
}

void lfm_cgrammar_free(lfm_cgrammar *cg) {
    if (!cg) return;
    if (cg->rule_names)
        for (uint32_t r = 0; r < cg->n_rules; r++)
            free(cg->rule_names[r]);
    free(cg->rule_names);
    free(cg->elem);
    free(cg->ranges);
    free(cg->alts);
    free(cg->rule_alt);
    free(cg);
}

int lfm_gbnf_parse(const char *text, size_t len, const char *root, lfm_cgrammar **out) {
    *out = NULL;
    if (len > LFM_GBNF_MAX_TEXT)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "grammar: %zu bytes, more than the %u allowed", len,
                        LFM_GBNF_MAX_TEXT);
    gp g = {.src = text, .end = text + len, .p = text};
    lfm_cgrammar *cg = calloc(1, sizeof *cg);
    if (!cg) return oom(&g);
    for (;;) {
        skip_space(&g, 1);
        if (g.p >= g.end) break;
        if (parse_rule(&g)) break;
    }
    if (!g.status && !g.n_rules) gp_fail(&g, LFM2MOE_ERR_PARSE, NULL, "no rules");
    for (uint32_t r = 0; r < g.n_rules && !g.status; r++)
        if (g.def_at[r] == SIZE_MAX)
            gp_fail(&g, LFM2MOE_ERR_PARSE, g.src + g.ref_at[r], "undefined rule '%s'", g.names[r]);
    if (!g.status) {
        const char *rn = root ? root : "root";
        uint32_t r = 0;
        while (r < g.n_rules && strcmp(g.names[r], rn))
            r++;
        if (r == g.n_rules)
            gp_fail(&g, LFM2MOE_ERR_NOT_FOUND, NULL, "no rule named '%.80s' (the start rule)", rn);
        cg->root = r;
    }
    if (!g.status) compile(&g, cg);
    if (!g.status) g.status = lfm_cgrammar_check(cg);
    int st = g.status;
    if (g.names)
        for (uint32_t r = 0; r < g.n_rules; r++)
            free(g.names[r]);
    for (uint32_t r = 0; r < g.n_rules; r++)
        free(g.rules[r].e);
    free(g.rules), free(g.names), free(g.def_at), free(g.ref_at), free(g.hash), free(g.ranges);
    if (st) {
        lfm_cgrammar_free(cg);
        return st;
    }
    *out = cg;
    return 0;
}
