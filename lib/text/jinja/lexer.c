/* Template text -> tokens.  Text between tags becomes T_TEXT with Jinja's
 * whitespace rules already applied (as transformers configures them):
 *   - `{%-` / `{{-` / `{#-` strip all white space before the tag,
 *     `-%}` / `-}}` / `-#}` all white space after it;
 *   - trim_blocks: the first newline after a block or comment tag is
 *     removed (unless the tag ends with `+%}`);
 *   - lstrip_blocks: spaces and tabs between the start of a line and a block
 *     or comment tag are removed (unless it opens with `{%+`);
 *   - newlines are normalized to "\n" and one trailing newline of the
 *     template is dropped (keep_trailing_newline off). */
#include <stdlib.h>
#include <string.h>

#include "text/jinja/internal.h"

#define SYNTAX(c, pos, ...)                                                                        \
    jj_fail((c), LFM2MOE_ERR_UNSUPPORTED_TEMPLATE, (uint32_t)(pos), __VA_ARGS__)

static void emit(jctx *c, jtok t) {
    if (c->n_toks == c->tok_i) /* tok_i is the capacity while lexing */
        c->toks = jj_grow(c, c->toks, c->n_toks, &c->tok_i, sizeof *c->toks);
    c->toks[c->n_toks++] = t;
}

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int is_name_start(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_digit(char ch) {
    return ch >= '0' && ch <= '9';
}

static void put_utf8(jctx *c, jsb *b, unsigned long cp, size_t pos) {
    char u[4];
    if (cp > 0x10FFFF) SYNTAX(c, pos, "invalid \\U escape");
    jsb_put(c, b, u, json_utf8_encode((unsigned)cp, u));
}

/* A quoted string at s[i] (the quote); Python escapes.  Returns the index
 * after the closing quote. */
static size_t lex_string(jctx *c, size_t i, jtok *t) {
    const char *s = c->src;
    char q = s[i];
    size_t start = i++;
    jsb b = {0};
    for (;;) {
        if (i >= c->src_len) SYNTAX(c, start, "unterminated string");
        char ch = s[i];
        if (ch == q) break;
        if (ch != '\\' || i + 1 >= c->src_len) {
            jsb_put(c, &b, &s[i++], 1);
            continue;
        }
        char e = s[i + 1];
        const char *simple = NULL;
        switch (e) {
        case 'n': simple = "\n"; break;
        case 't': simple = "\t"; break;
        case 'r': simple = "\r"; break;
        case '\\': simple = "\\"; break;
        case '\'': simple = "'"; break;
        case '"': simple = "\""; break;
        case 'a': simple = "\a"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'v': simple = "\v"; break;
        case '\n': simple = ""; break;
        default: break;
        }
        if (simple) {
            jsb_puts(c, &b, simple);
            i += 2;
            continue;
        }
        int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (!digits) { /* unknown escapes stay as written */
            jsb_put(c, &b, &s[i], 2);
            i += 2;
            continue;
        }
        unsigned long cp = 0;
        for (int k = 0; k < digits; k++) {
            char h = i + 2 + (size_t)k < c->src_len ? s[i + 2 + k] : 0;
            int v = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (v < 0) SYNTAX(c, i, "invalid \\%c escape", e);
            cp = cp * 16 + (unsigned long)v;
        }
        put_utf8(c, &b, cp, i);
        i += 2 + (size_t)digits;
    }
    t->kind = T_STRING;
    t->s = jsb_str(c, &b);
    return i + 1;
}

static size_t lex_number(jctx *c, size_t i, jtok *t) {
    const char *s = c->src;
    size_t start = i;
    char buf[64];
    size_t n = 0;
    int is_float = 0;
    while (i < c->src_len &&
           (is_digit(s[i]) || s[i] == '_' ||
            (s[i] == '.' && !is_float && i + 1 < c->src_len && is_digit(s[i + 1])) ||
            ((s[i] == 'e' || s[i] == 'E') && i + 1 < c->src_len &&
             (is_digit(s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && i + 2 < c->src_len &&
                                     is_digit(s[i + 2])))))) {
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') is_float = 1;
        if (s[i] != '_') {
            if (n + 2 >= sizeof buf) SYNTAX(c, start, "number too long");
            buf[n++] = s[i];
        }
        if ((s[i] == 'e' || s[i] == 'E') && (s[i + 1] == '+' || s[i + 1] == '-')) buf[n++] = s[++i];
        i++;
    }
    buf[n] = '\0';
    if (is_float) {
        t->kind = T_FLOAT;
        t->f = strtod(buf, NULL);
    } else {
        t->kind = T_INT;
        int64_t v = 0;
        for (size_t k = 0; k < n; k++) {
            if (v > (INT64_MAX - (buf[k] - '0')) / 10)
                SYNTAX(c, start, "integer literal too large");
            v = v * 10 + (buf[k] - '0');
        }
        t->i = v;
    }
    return i;
}

/* Tokens of one tag's inside from s[i]; returns the index after the tag's
 * end; *minus / *plus report a `-` / `+` before the closing delimiter. */
static size_t lex_tag(jctx *c, size_t i, int block, size_t open, int *minus, int *plus) {
    static const char *const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                      "/",  "%",  "~",  "<",  ">",  "(",  ")", "[", "]",
                                      "{",  "}",  ",",  ".",  ":",  "|",  "="};
    const char *s = c->src;
    const char *close = block ? "%}" : "}}";
    int depth = 0;
    for (;;) {
        while (i < c->src_len && is_space(s[i]))
            i++;
        if (i >= c->src_len) SYNTAX(c, open, "tag not closed (expected '%s')", close);
        size_t rest = c->src_len - i;
        if (depth == 0) {
            int m = (s[i] == '-' || (block && s[i] == '+')) && rest >= 3 &&
                    !memcmp(s + i + 1, close, 2);
            if (m || (rest >= 2 && !memcmp(s + i, close, 2))) {
                *minus = m && s[i] == '-';
                *plus = m && s[i] == '+';
                emit(c, (jtok){.kind = block ? T_BLOCK_END : T_VAR_END, .pos = (uint32_t)i});
                return i + 2 + (size_t)m;
            }
        }
        jtok t = {.pos = (uint32_t)i};
        if (is_name_start(s[i])) {
            size_t st = i;
            while (i < c->src_len && (is_name_start(s[i]) || is_digit(s[i])))
                i++;
            t.kind = T_NAME;
            t.s = jj_str(c, s + st, i - st);
        } else if (is_digit(s[i])) {
            i = lex_number(c, i, &t);
        } else if (s[i] == '\'' || s[i] == '"') {
            i = lex_string(c, i, &t);
        } else {
            size_t k;
            for (k = 0; k < sizeof ops / sizeof ops[0]; k++) {
                size_t n = strlen(ops[k]);
                if (rest >= n && !memcmp(s + i, ops[k], n)) break;
            }
            if (k == sizeof ops / sizeof ops[0]) SYNTAX(c, i, "unexpected character '%c'", s[i]);
            char o = ops[k][0];
            if (!ops[k][1] && (o == '(' || o == '[' || o == '{')) depth++;
            if (!ops[k][1] && (o == ')' || o == ']' || o == '}') && depth > 0) depth--;
            t.kind = T_OP;
            t.s = jj_cstr(c, ops[k]);
            i += strlen(ops[k]);
        }
        emit(c, t);
    }
}

static void emit_text(jctx *c, size_t start, size_t end) {
    if (end > start)
        emit(c, (jtok){.kind = T_TEXT,
                       .pos = (uint32_t)start,
                       .s = jj_str(c, c->src + start, end - start)});
}

/* Copy the template with newlines normalized and one trailing "\n" dropped. */
static void normalize(jctx *c, const char *t, size_t n) {
    char *d = jj_alloc(c, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\r') {
            d[o++] = '\n';
            if (i + 1 < n && t[i + 1] == '\n') i++;
        } else {
            d[o++] = t[i];
        }
    }
    if (o && d[o - 1] == '\n') o--;
    d[o] = '\0';
    c->src = d;
    c->src_len = o;
}

static void lex(jctx *c) {
    const char *s = c->src;
    size_t n = c->src_len, i = 0;
    int strip_next = 0;
    c->n_toks = c->tok_i = 0;
    while (i <= n) {
        size_t start = i, q = i;
        while (q + 1 < n &&
               !(s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' || s[q + 1] == '#')))
            q++;
        if (q + 1 >= n) q = n;
        if (strip_next)
            while (start < q && is_space(s[start]))
                start++;
        size_t end = q;
        if (q == n) {
            emit_text(c, start, end);
            break;
        }
        char kind = s[q + 1];
        char mod = q + 2 < n ? s[q + 2] : 0;
        if (mod == '-') {
            while (end > start && is_space(s[end - 1]))
                end--;
        } else if (kind != '{' && mod != '+') { /* lstrip_blocks */
            size_t l = end;
            while (l > start && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                l--;
            if (l == 0 || s[l - 1] == '\n') end = l;
        }
        emit_text(c, start, end);
        size_t body = q + 2 + (mod == '-' || (mod == '+' && kind != '{'));
        int minus = 0, plus = 0;
        if (kind == '#') {
            const char *e = NULL;
            for (size_t k = body; k + 1 < n; k++)
                if (s[k] == '#' && s[k + 1] == '}') {
                    e = s + k;
                    break;
                }
            if (!e) SYNTAX(c, q, "comment not closed (expected '#}')");
            size_t at = (size_t)(e - s);
            minus = at > body && s[at - 1] == '-';
            plus = at > body && s[at - 1] == '+';
            i = at + 2;
        } else {
            emit(c, (jtok){.kind = kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, .pos = (uint32_t)q});
            i = lex_tag(c, body, kind == '%', q, &minus, &plus);
        }
        strip_next = minus;
        if (kind != '{' && !minus && !plus && i < n && s[i] == '\n') i++; /* trim_blocks */
        if (i == n) break;
    }
    emit(c, (jtok){.kind = T_EOF, .pos = (uint32_t)n});
    c->tok_i = 0;
}

void jj_lex_source(jctx *c, const char *t, size_t n) {
    if (n >= UINT32_MAX) jj_fail(c, LFM2MOE_ERR_LIMIT, 0, "template longer than 4 GiB");
    normalize(c, t, n);
    lex(c);
}
