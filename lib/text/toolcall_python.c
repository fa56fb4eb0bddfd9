/* Python literals in tool calls -> JSON text: strings (single, double,
 * triple quoted, raw, with every Python escape; adjacent ones
 * concatenated), numbers (decimal, hex/octal/binary, underscores), True /
 * False / None (and JSON's true/false/null), lists, tuples and dicts,
 * nested; and the call form name(keyword=value, ...). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "lfm2moe.h"
#include "text/toolcall.h"

void tc_put_json_escaped_byte(strbuf *o, unsigned char c) {
    switch (c) {
    case '"': strbuf_puts(o, "\\\""); break;
    case '\\': strbuf_puts(o, "\\\\"); break;
    case '\n': strbuf_puts(o, "\\n"); break;
    case '\r': strbuf_puts(o, "\\r"); break;
    case '\t': strbuf_puts(o, "\\t"); break;
    case '\b': strbuf_puts(o, "\\b"); break;
    case '\f': strbuf_puts(o, "\\f"); break;
    default:
        if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", c);
            strbuf_puts(o, u);
        } else {
            strbuf_putc(o, (char)c);
        }
    }
}

/* A codepoint from an escape, as JSON (surrogates stay \u escapes so the
 * output remains valid UTF-8). */
static void put_json_cp(strbuf *o, uint32_t cp) {
    char u[8];
    if (cp < 0x80) {
        tc_put_json_escaped_byte(o, (unsigned char)cp);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        snprintf(u, sizeof u, "\\u%04x", (unsigned)cp);
        strbuf_puts(o, u);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(o, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(o, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(o, u, 4);
    }
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Read exactly n hex digits. */
static int read_hex(parser *p, int n, uint32_t *out) {
    uint32_t v = 0;
    if (p->end - p->s < n) return tc_perr(p, "truncated escape");
    for (int i = 0; i < n; i++) {
        int h = hexval((unsigned char)p->s[i]);
        if (h < 0) return tc_perr(p, "invalid hex escape");
        v = v * 16 + (uint32_t)h;
    }
    p->s += n;
    *out = v;
    return LFM2MOE_OK;
}

/* Body of one Python string literal (p->s after the opening quote(s)),
 * appended JSON-escaped to o (without quotes). */
static int string_body(parser *p, strbuf *o, char q, int triple, int raw) {
    for (;;) {
        if (p->s >= p->end) return tc_perr(p, "unterminated string");
        char c = *p->s;
        if (c == q) {
            if (!triple) {
                p->s++;
                return LFM2MOE_OK;
            }
            if (p->end - p->s >= 3 && p->s[1] == q && p->s[2] == q) {
                p->s += 3;
                return LFM2MOE_OK;
            }
            tc_put_json_escaped_byte(o, (unsigned char)c);
            p->s++;
            continue;
        }
        if (c != '\\') {
            tc_put_json_escaped_byte(o, (unsigned char)c);
            p->s++;
            continue;
        }
        /* backslash */
        if (p->end - p->s < 2) return tc_perr(p, "unterminated string");
        char e = p->s[1];
        if (raw) { /* r"..": the backslash stays, and keeps the next char literal */
            tc_put_json_escaped_byte(o, '\\');
            tc_put_json_escaped_byte(o, (unsigned char)e);
            p->s += 2;
            continue;
        }
        p->s += 2;
        uint32_t cp = 0;
        switch (e) {
        case '\n': break; /* line continuation */
        case '\\': strbuf_puts(o, "\\\\"); break;
        case '\'': strbuf_putc(o, '\''); break;
        case '"': strbuf_puts(o, "\\\""); break;
        case 'n': strbuf_puts(o, "\\n"); break;
        case 'r': strbuf_puts(o, "\\r"); break;
        case 't': strbuf_puts(o, "\\t"); break;
        case 'b': strbuf_puts(o, "\\b"); break;
        case 'f': strbuf_puts(o, "\\f"); break;
        case 'v': strbuf_puts(o, "\\u000b"); break;
        case 'a': strbuf_puts(o, "\\u0007"); break;
        case 'x':
            if (read_hex(p, 2, &cp)) return p->status;
            put_json_cp(o, cp);
            break;
        case 'u':
            if (read_hex(p, 4, &cp)) return p->status;
            put_json_cp(o, cp);
            break;
        case 'U':
            if (read_hex(p, 8, &cp)) return p->status;
            if (cp > 0x10FFFF) return tc_perr(p, "\\U escape out of range");
            put_json_cp(o, cp);
            break;
        default:
            if (e >= '0' && e <= '7') { /* octal, up to 3 digits */
                cp = (uint32_t)(e - '0');
                for (int i = 0; i < 2 && p->s < p->end && *p->s >= '0' && *p->s <= '7'; i++)
                    cp = cp * 8 + (uint32_t)(*p->s++ - '0');
                put_json_cp(o, cp);
            } else { /* unknown escapes keep their backslash, as in Python */
                tc_put_json_escaped_byte(o, '\\');
                p->s--;
            }
        }
    }
}

/* One or more adjacent string literals (Python concatenates them). */
static int parse_string(parser *p, strbuf *o) {
    strbuf_putc(o, '"');
    for (;;) {
        int raw = 0;
        while (p->s < p->end && *p->s && strchr("rRbBuU", *p->s)) {
            if (*p->s == 'r' || *p->s == 'R') raw = 1;
            p->s++;
        }
        char q = *p->s;
        int triple = p->end - p->s >= 3 && p->s[1] == q && p->s[2] == q;
        p->s += triple ? 3 : 1;
        if (string_body(p, o, q, triple, raw)) return p->status;
        tc_skip_ws(p);
        int c = tc_peek(p);
        if (c != '"' && c != '\'') break;
    }
    strbuf_putc(o, '"');
    return LFM2MOE_OK;
}

int tc_is_string_start(parser *p) {
    const char *q = p->s;
    int n = 0;
    while (q < p->end && n < 2 && *q && strchr("rRbBuU", *q)) {
        q++;
        n++;
    }
    return q < p->end && (*q == '"' || *q == '\'');
}

/* A Python number literal, written as JSON. */
static int parse_number(parser *p, strbuf *o) {
    int neg = 0; /* written only for a non-zero value: Python's -0 is 0 */
    if (*p->s == '-' || *p->s == '+') {
        neg = *p->s == '-';
        p->s++;
        tc_skip_ws(p);
    }
    const char *st = p->s;
    if (p->end - st >= 2 && st[0] == '0' && st[1] && strchr("xXoObB", st[1])) {
        int base = (st[1] == 'x' || st[1] == 'X') ? 16 : (st[1] == 'o' || st[1] == 'O') ? 8 : 2;
        unsigned long long v = 0;
        int digits = 0;
        p->s += 2;
        for (; p->s < p->end; p->s++) {
            if (*p->s == '_') continue;
            int d = hexval((unsigned char)*p->s);
            if (d < 0 || d >= base) break;
            if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
                return tc_perr(p, "integer too large");
            v = v * (unsigned)base + (unsigned)d;
            digits++;
        }
        if (!digits) return tc_perr(p, "invalid number");
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%llu", neg && v ? "-" : "", v);
        strbuf_puts(o, tmp);
        return LFM2MOE_OK;
    }
    /* decimal: int part, fraction, exponent; underscores dropped */
    strbuf intp = {0}, frac = {0}, expo = {0};
    int has_dot = 0, has_exp = 0;
    while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '_'))
        if (*p->s++ != '_') strbuf_putc(&intp, p->s[-1]);
    if (p->s < p->end && *p->s == '.') {
        has_dot = 1;
        p->s++;
        while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '_'))
            if (*p->s++ != '_') strbuf_putc(&frac, p->s[-1]);
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        has_exp = 1;
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-')) strbuf_putc(&expo, *p->s++);
        size_t before = expo.len;
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            strbuf_putc(&expo, *p->s++);
        if (expo.len == before) goto bad;
    }
    if (!intp.len && !frac.len) goto bad;
    if (p->s < p->end && (tc_is_ident_char((unsigned char)*p->s))) goto bad; /* 1j, 12abc */
    if (intp.oom || frac.oom || expo.oom) {
        o->oom = 1;
    } else {
        const char *ip = intp.len ? intp.data : "0";
        while (ip[0] == '0' && ip[1])
            ip++; /* JSON forbids leading zeros */
        if (neg && (has_dot || has_exp || ip[0] != '0')) strbuf_putc(o, '-');
        strbuf_puts(o, ip);
        if (has_dot) {
            strbuf_putc(o, '.');
            strbuf_puts(o, frac.len ? frac.data : "0");
        }
        if (has_exp) {
            strbuf_putc(o, 'e');
            strbuf_puts(o, expo.data);
        }
    }
    free(intp.data);
    free(frac.data);
    free(expo.data);
    return LFM2MOE_OK;
bad:
    free(intp.data);
    free(frac.data);
    free(expo.data);
    p->s = st;
    return tc_perr(p, "invalid number");
}

int tc_parse_value(parser *p, strbuf *o, int depth);

/* [a, b], (a, b) -> JSON array; (x) alone is just x, as in Python. */
static int parse_sequence(parser *p, strbuf *o, int depth, char close) {
    int tuple = close == ')';
    size_t mark = o->len;
    tc_list l = {.close = close, .what = tuple ? "expected ',' or ')'" : "expected ',' or ']'"};
    int r;
    p->s++;
    strbuf_putc(o, '[');
    while ((r = tc_list_next(p, &l)) > 0) {
        if (l.n > 1) strbuf_puts(o, ", ");
        if (tc_parse_value(p, o, depth + 1)) return p->status;
    }
    if (r < 0) return p->status;
    if (o->oom) return LFM2MOE_OK;                /* reported by the caller */
    if (tuple && l.n == 1 && !l.trailing_comma) { /* a parenthesized value */
        memmove(o->data + mark, o->data + mark + 1, o->len - mark - 1);
        o->len--;
        o->data[o->len] = '\0';
        return LFM2MOE_OK;
    }
    strbuf_putc(o, ']');
    return LFM2MOE_OK;
}

/* Parse one value into a fresh buffer (caller frees .data). */
int tc_value_text(parser *p, strbuf *o, int depth) {
    memset(o, 0, sizeof *o);
    return tc_parse_value(p, o, depth);
}

/* {k: v, ...} -> JSON object; non-string keys become strings as
 * json.dumps writes them (1 -> "1", True -> "true", None -> "null"). */
static int parse_dict(parser *p, strbuf *o, int depth) {
    tc_list l = {.close = '}', .what = "expected ',' or '}'"};
    int r;
    p->s++;
    strbuf_putc(o, '{');
    while ((r = tc_list_next(p, &l)) > 0) {
        if (l.n > 1) strbuf_puts(o, ", ");
        strbuf k;
        if (tc_value_text(p, &k, depth + 1)) {
            free(k.data);
            return p->status;
        }
        if (k.oom) {
            free(k.data);
            o->oom = 1;
            return LFM2MOE_OK;
        }
        if (k.data[0] == '"') {
            strbuf_append(o, k.data, k.len);
        } else if (k.data[0] == '[' || k.data[0] == '{') {
            free(k.data);
            return tc_perr(p, "unhashable dict key");
        } else {
            strbuf_putc(o, '"');
            strbuf_append(o, k.data, k.len);
            strbuf_putc(o, '"');
        }
        free(k.data);
        tc_skip_ws(p);
        if (tc_peek(p) != ':') return tc_perr(p, "expected ':' in dict");
        p->s++;
        strbuf_puts(o, ": ");
        if (tc_parse_value(p, o, depth + 1)) return p->status;
    }
    if (r < 0) return p->status;
    strbuf_putc(o, '}');
    return LFM2MOE_OK;
}

int tc_parse_value(parser *p, strbuf *o, int depth) {
    if (depth > MAX_DEPTH) return tc_perr(p, "nesting too deep");
    tc_skip_ws(p);
    int c = tc_peek(p);
    if (c < 0) return tc_perr(p, "expected a value");
    if (tc_is_string_start(p)) return parse_string(p, o);
    if (c == '[') return parse_sequence(p, o, depth, ']');
    if (c == '(') return parse_sequence(p, o, depth, ')');
    if (c == '{') return parse_dict(p, o, depth);
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return parse_number(p, o);
    size_t n = tc_ident_len(p, 0);
    static const struct {
        const char *word, *json;
    } words[] = {{"True", "true"}, {"False", "false"}, {"None", "null"},
                 {"true", "true"}, {"false", "false"}, {"null", "null"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (n == strlen(words[i].word) && memcmp(p->s, words[i].word, n) == 0) {
            p->s += n;
            strbuf_puts(o, words[i].json);
            return LFM2MOE_OK;
        }
    }
    return tc_perr(p,
                   n ? "unsupported expression (only literals are allowed)" : "expected a value");
}

/* ---- calls ------------------------------------------------------------- */
int tc_parse_python_call(parser *p, lfm2moe_tool_calls *calls) {
    size_t nl = tc_ident_len(p, 1);
    const char *name = p->s;
    p->s += nl;
    tc_skip_ws(p);
    if (tc_peek(p) != '(') return tc_perr(p, "expected '(' after the function name");
    p->s++;
    strbuf args = {0};
    /* keyword names seen so far, to refuse repeats as Python does */
    const char **kw = NULL;
    size_t *kwl = NULL, n_kw = 0, kw_cap = 0, kwl_cap = 0;
    tc_list l = {.close = ')', .what = "expected ',' or ')' in the argument list"};
    int r;
    strbuf_putc(&args, '{');
    while ((r = tc_list_next(p, &l)) > 0) {
        size_t kl = tc_ident_len(p, 0);
        const char *k = p->s;
        const char *save = p->s;
        p->s += kl;
        tc_skip_ws(p);
        if (!kl || tc_peek(p) != '=') {
            p->s = save;
            tc_perr(p, "expected name=value (positional arguments are not supported)");
            goto fail;
        }
        for (size_t i = 0; i < n_kw; i++) {
            if (kwl[i] == kl && memcmp(kw[i], k, kl) == 0) {
                p->s = save;
                tc_perr(p, "keyword argument repeated");
                goto fail;
            }
        }
        if (LFM_RESERVE(kw, kw_cap, n_kw + 1) || LFM_RESERVE(kwl, kwl_cap, n_kw + 1)) {
            p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
            goto fail;
        }
        kw[n_kw] = k;
        kwl[n_kw++] = kl;
        p->s++; /* '=' */
        if (n_kw > 1) strbuf_puts(&args, ", ");
        strbuf_putc(&args, '"');
        for (size_t i = 0; i < kl; i++)
            tc_put_json_escaped_byte(&args, (unsigned char)k[i]);
        strbuf_puts(&args, "\": ");
        if (tc_parse_value(p, &args, 1)) goto fail;
    }
    if (r < 0) goto fail;
    strbuf_putc(&args, '}');
    free(kw);
    free(kwl);
    tc_add_call(p, calls, name, nl, &args);
    free(args.data);
    return p->status;
fail:
    free(kw);
    free(kwl);
    free(args.data);
    return p->status;
}

/* {"name": "f", "arguments": {...}} (other members ignored) */
