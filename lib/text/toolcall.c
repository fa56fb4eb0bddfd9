/* Tool calls in LFM2 output:
 *   <|tool_call_start|>[get_weather(city="Paris", days=3), now()]<|tool_call_end|>
 * The block holds a Python list of calls with keyword arguments whose values
 * are Python literals (strings with escapes, numbers, True/False/None, lists,
 * tuples, dicts).  Each call becomes a name and its arguments as a JSON
 * object text written like Python's json.dumps(ensure_ascii=False):
 *   {"city": "Paris", "days": 3}
 * A block may also hold JSON-style calls ([{"name": "f", "arguments": {...}}]),
 * which LFM2 emits when its system prompt asks for JSON output. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"

#define MAX_DEPTH 256

struct lfm2moe_tool_calls {
    size_t n, cap;
    char **names;
    char **args;
};

/* ---- growable string --------------------------------------------------- */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) {
    sb_put(b, s, strlen(s));
}

static void sb_putc(sbuf *b, char c) {
    sb_put(b, &c, 1);
}

/* ---- parser ------------------------------------------------------------ */
typedef struct {
    const char *s, *end; /* current position and end of the block body */
    const char *text;    /* start of the whole text, for error offsets */
    int status;          /* first error, LFM2MOE_OK if none */
} parser;

static int perr(parser *p, const char *what) {
    if (p->status == LFM2MOE_OK) {
        size_t avail = (size_t)(p->end - p->s);
        p->status = lfm_fail(LFM2MOE_ERR_PARSE, "tool call: %s at offset %zu near '%.*s'", what,
                             (size_t)(p->s - p->text), (int)(avail > 24 ? 24 : avail), p->s);
    }
    return p->status;
}

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int peek(parser *p) {
    return p->s < p->end ? (unsigned char)*p->s : -1;
}

static int is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_ident_char(int c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Identifier [A-Za-z_][A-Za-z0-9_]* (non-ASCII letters allowed, as in
 * Python); call names may also contain '.' and '-'. */
static size_t ident_len(parser *p, int call_name) {
    const char *q = p->s;
    if (q >= p->end || !is_ident_start((unsigned char)*q)) return 0;
    while (q < p->end && (is_ident_char((unsigned char)*q) ||
                          (call_name && (*q == '.' || *q == '-'))))
        q++;
    return (size_t)(q - p->s);
}

static void put_json_escaped_byte(sbuf *o, unsigned char c) {
    switch (c) {
    case '"': sb_puts(o, "\\\""); break;
    case '\\': sb_puts(o, "\\\\"); break;
    case '\n': sb_puts(o, "\\n"); break;
    case '\r': sb_puts(o, "\\r"); break;
    case '\t': sb_puts(o, "\\t"); break;
    case '\b': sb_puts(o, "\\b"); break;
    case '\f': sb_puts(o, "\\f"); break;
    default:
        if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", c);
            sb_puts(o, u);
        } else {
            sb_putc(o, (char)c);
        }
    }
}

/* A codepoint from an escape, as JSON (surrogates stay \u escapes so the
 * output remains valid UTF-8). */
static void put_json_cp(sbuf *o, uint32_t cp) {
    char u[8];
    if (cp < 0x80) {
        put_json_escaped_byte(o, (unsigned char)cp);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        snprintf(u, sizeof u, "\\u%04x", (unsigned)cp);
        sb_puts(o, u);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        sb_put(o, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        sb_put(o, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        sb_put(o, u, 4);
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
    if (p->end - p->s < n) return perr(p, "truncated escape");
    for (int i = 0; i < n; i++) {
        int h = hexval((unsigned char)p->s[i]);
        if (h < 0) return perr(p, "invalid hex escape");
        v = v * 16 + (uint32_t)h;
    }
    p->s += n;
    *out = v;
    return LFM2MOE_OK;
}

/* Body of one Python string literal (p->s after the opening quote(s)),
 * appended JSON-escaped to o (without quotes). */
static int string_body(parser *p, sbuf *o, char q, int triple, int raw) {
    for (;;) {
        if (p->s >= p->end) return perr(p, "unterminated string");
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
            put_json_escaped_byte(o, (unsigned char)c);
            p->s++;
            continue;
        }
        if (c != '\\') {
            put_json_escaped_byte(o, (unsigned char)c);
            p->s++;
            continue;
        }
        /* backslash */
        if (p->end - p->s < 2) return perr(p, "unterminated string");
        char e = p->s[1];
        if (raw) { /* r"..": the backslash stays, and keeps the next char literal */
            put_json_escaped_byte(o, '\\');
            put_json_escaped_byte(o, (unsigned char)e);
            p->s += 2;
            continue;
        }
        p->s += 2;
        uint32_t cp = 0;
        switch (e) {
        case '\n': break; /* line continuation */
        case '\\': sb_puts(o, "\\\\"); break;
        case '\'': sb_putc(o, '\''); break;
        case '"': sb_puts(o, "\\\""); break;
        case 'n': sb_puts(o, "\\n"); break;
        case 'r': sb_puts(o, "\\r"); break;
        case 't': sb_puts(o, "\\t"); break;
        case 'b': sb_puts(o, "\\b"); break;
        case 'f': sb_puts(o, "\\f"); break;
        case 'v': sb_puts(o, "\\u000b"); break;
        case 'a': sb_puts(o, "\\u0007"); break;
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
            if (cp > 0x10FFFF) return perr(p, "\\U escape out of range");
            put_json_cp(o, cp);
            break;
        default:
            if (e >= '0' && e <= '7') { /* octal, up to 3 digits */
                cp = (uint32_t)(e - '0');
                for (int i = 0; i < 2 && p->s < p->end && *p->s >= '0' && *p->s <= '7'; i++)
                    cp = cp * 8 + (uint32_t)(*p->s++ - '0');
                put_json_cp(o, cp);
            } else { /* unknown escapes keep their backslash, as in Python */
                put_json_escaped_byte(o, '\\');
                p->s--;
            }
        }
    }
}

/* One or more adjacent string literals (Python concatenates them). */
static int parse_string(parser *p, sbuf *o) {
    sb_putc(o, '"');
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
        skip_ws(p);
        int c = peek(p);
        if (c != '"' && c != '\'') break;
    }
    sb_putc(o, '"');
    return LFM2MOE_OK;
}

static int is_string_start(parser *p) {
    const char *q = p->s;
    int n = 0;
    while (q < p->end && n < 2 && *q && strchr("rRbBuU", *q)) {
        q++;
        n++;
    }
    return q < p->end && (*q == '"' || *q == '\'');
}

/* A Python number literal, written as JSON. */
static int parse_number(parser *p, sbuf *o) {
    int neg = 0; /* written only for a non-zero value: Python's -0 is 0 */
    if (*p->s == '-' || *p->s == '+') {
        neg = *p->s == '-';
        p->s++;
        skip_ws(p);
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
            if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) return perr(p, "integer too large");
            v = v * (unsigned)base + (unsigned)d;
            digits++;
        }
        if (!digits) return perr(p, "invalid number");
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%llu", neg && v ? "-" : "", v);
        sb_puts(o, tmp);
        return LFM2MOE_OK;
    }
    /* decimal: int part, fraction, exponent; underscores dropped */
    sbuf intp = {0}, frac = {0}, expo = {0};
    int has_dot = 0, has_exp = 0;
    while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '_'))
        if (*p->s++ != '_') sb_putc(&intp, p->s[-1]);
    if (p->s < p->end && *p->s == '.') {
        has_dot = 1;
        p->s++;
        while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '_'))
            if (*p->s++ != '_') sb_putc(&frac, p->s[-1]);
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        has_exp = 1;
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-')) sb_putc(&expo, *p->s++);
        size_t before = expo.n;
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') sb_putc(&expo, *p->s++);
        if (expo.n == before) goto bad;
    }
    if (!intp.n && !frac.n) goto bad;
    if (p->s < p->end && (is_ident_char((unsigned char)*p->s))) goto bad; /* 1j, 12abc */
    if (intp.oom || frac.oom || expo.oom) {
        o->oom = 1;
    } else {
        const char *ip = intp.n ? intp.p : "0";
        while (ip[0] == '0' && ip[1]) ip++; /* JSON forbids leading zeros */
        if (neg && (has_dot || has_exp || ip[0] != '0')) sb_putc(o, '-');
        sb_puts(o, ip);
        if (has_dot) {
            sb_putc(o, '.');
            sb_puts(o, frac.n ? frac.p : "0");
        }
        if (has_exp) {
            sb_putc(o, 'e');
            sb_puts(o, expo.p);
        }
    }
    free(intp.p);
    free(frac.p);
    free(expo.p);
    return LFM2MOE_OK;
bad:
    free(intp.p);
    free(frac.p);
    free(expo.p);
    p->s = st;
    return perr(p, "invalid number");
}

static int parse_value(parser *p, sbuf *o, int depth);

/* [a, b], (a, b) -> JSON array; (x) alone is just x, as in Python. */
static int parse_sequence(parser *p, sbuf *o, int depth, char close) {
    int tuple = close == ')';
    size_t mark = o->n;
    int n = 0, trailing_comma = 0;
    p->s++;
    sb_putc(o, '[');
    for (;;) {
        skip_ws(p);
        if (peek(p) == close) {
            p->s++;
            break;
        }
        if (n) sb_puts(o, ", ");
        if (parse_value(p, o, depth + 1)) return p->status;
        n++;
        trailing_comma = 0;
        skip_ws(p);
        if (peek(p) == ',') {
            p->s++;
            trailing_comma = 1;
            continue;
        }
        if (peek(p) == close) {
            p->s++;
            break;
        }
        return perr(p, tuple ? "expected ',' or ')'" : "expected ',' or ']'");
    }
    if (tuple && n == 1 && !trailing_comma) { /* a parenthesized value */
        memmove(o->p + mark, o->p + mark + 1, o->n - mark - 1);
        o->n--;
        o->p[o->n] = '\0';
        return LFM2MOE_OK;
    }
    sb_putc(o, ']');
    return LFM2MOE_OK;
}

/* Parse one value into a fresh buffer (caller frees .p). */
static int value_text(parser *p, sbuf *o, int depth) {
    memset(o, 0, sizeof *o);
    return parse_value(p, o, depth);
}

/* {k: v, ...} -> JSON object; non-string keys become strings as
 * json.dumps writes them (1 -> "1", True -> "true", None -> "null"). */
static int parse_dict(parser *p, sbuf *o, int depth) {
    int n = 0;
    p->s++;
    sb_putc(o, '{');
    for (;;) {
        skip_ws(p);
        if (peek(p) == '}') {
            p->s++;
            break;
        }
        if (n) sb_puts(o, ", ");
        sbuf k;
        if (value_text(p, &k, depth + 1)) {
            free(k.p);
            return p->status;
        }
        if (k.oom) {
            free(k.p);
            o->oom = 1;
            return LFM2MOE_OK;
        }
        if (k.p[0] == '"') {
            sb_put(o, k.p, k.n);
        } else if (k.p[0] == '[' || k.p[0] == '{') {
            free(k.p);
            return perr(p, "unhashable dict key");
        } else {
            sb_putc(o, '"');
            sb_put(o, k.p, k.n);
            sb_putc(o, '"');
        }
        free(k.p);
        skip_ws(p);
        if (peek(p) != ':') return perr(p, "expected ':' in dict");
        p->s++;
        sb_puts(o, ": ");
        if (parse_value(p, o, depth + 1)) return p->status;
        n++;
        skip_ws(p);
        if (peek(p) == ',') {
            p->s++;
            continue;
        }
        if (peek(p) == '}') {
            p->s++;
            break;
        }
        return perr(p, "expected ',' or '}'");
    }
    sb_putc(o, '}');
    return LFM2MOE_OK;
}

static int parse_value(parser *p, sbuf *o, int depth) {
    if (depth > MAX_DEPTH) return perr(p, "nesting too deep");
    skip_ws(p);
    int c = peek(p);
    if (c < 0) return perr(p, "expected a value");
    if (is_string_start(p)) return parse_string(p, o);
    if (c == '[') return parse_sequence(p, o, depth, ']');
    if (c == '(') return parse_sequence(p, o, depth, ')');
    if (c == '{') return parse_dict(p, o, depth);
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return parse_number(p, o);
    size_t n = ident_len(p, 0);
    static const struct {
        const char *word, *json;
    } words[] = {{"True", "true"},   {"False", "false"}, {"None", "null"},
                 {"true", "true"},   {"false", "false"}, {"null", "null"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (n == strlen(words[i].word) && memcmp(p->s, words[i].word, n) == 0) {
            p->s += n;
            sb_puts(o, words[i].json);
            return LFM2MOE_OK;
        }
    }
    return perr(p, n ? "unsupported expression (only literals are allowed)" : "expected a value");
}

/* ---- calls ------------------------------------------------------------- */
static int add_call(parser *p, lfm2moe_tool_calls *calls, const char *name, size_t name_len,
                    sbuf *args) {
    if (args->oom) return p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
    if (calls->n == calls->cap) {
        size_t c = calls->cap ? calls->cap * 2 : 4;
        char **nn = realloc(calls->names, c * sizeof *nn);
        if (nn) calls->names = nn;
        char **na = realloc(calls->args, c * sizeof *na);
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
    calls->args[calls->n] = args->p;
    calls->n++;
    args->p = NULL;
    return LFM2MOE_OK;
}

/* name(k=v, ...) */
static int parse_python_call(parser *p, lfm2moe_tool_calls *calls) {
    size_t nl = ident_len(p, 1);
    const char *name = p->s;
    p->s += nl;
    skip_ws(p);
    if (peek(p) != '(') return perr(p, "expected '(' after the function name");
    p->s++;
    sbuf args = {0};
    /* keyword names seen so far, to refuse repeats as Python does */
    const char **kw = NULL;
    size_t *kwl = NULL, n_kw = 0;
    sb_putc(&args, '{');
    for (;;) {
        skip_ws(p);
        if (peek(p) == ')') {
            p->s++;
            break;
        }
        size_t kl = ident_len(p, 0);
        const char *k = p->s;
        const char *save = p->s;
        p->s += kl;
        skip_ws(p);
        if (!kl || peek(p) != '=') {
            p->s = save;
            perr(p, "expected name=value (positional arguments are not supported)");
            goto fail;
        }
        for (size_t i = 0; i < n_kw; i++) {
            if (kwl[i] == kl && memcmp(kw[i], k, kl) == 0) {
                p->s = save;
                perr(p, "keyword argument repeated");
                goto fail;
            }
        }
        const char **nkw = realloc(kw, (n_kw + 1) * sizeof *kw);
        if (nkw) kw = nkw;
        size_t *nkwl = realloc(kwl, (n_kw + 1) * sizeof *kwl);
        if (nkwl) kwl = nkwl;
        if (!nkw || !nkwl) {
            p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
            goto fail;
        }
        kw[n_kw] = k;
        kwl[n_kw++] = kl;
        p->s++; /* '=' */
        if (n_kw > 1) sb_puts(&args, ", ");
        sb_putc(&args, '"');
        for (size_t i = 0; i < kl; i++) put_json_escaped_byte(&args, (unsigned char)k[i]);
        sb_puts(&args, "\": ");
        if (parse_value(p, &args, 1)) goto fail;
        skip_ws(p);
        if (peek(p) == ',') {
            p->s++;
            continue;
        }
        if (peek(p) == ')') {
            p->s++;
            break;
        }
        perr(p, "expected ',' or ')' in the argument list");
        goto fail;
    }
    sb_putc(&args, '}');
    free(kw);
    free(kwl);
    add_call(p, calls, name, nl, &args);
    free(args.p);
    return p->status;
fail:
    free(kw);
    free(kwl);
    free(args.p);
    return p->status;
}

/* {"name": "f", "arguments": {...}} (other members ignored) */
static int parse_json_call(parser *p, lfm2moe_tool_calls *calls) {
    const char *start = p->s;
    sbuf name = {0}, args = {0}, k = {0}, val = {0};
    p->s++; /* '{' */
    for (;;) {
        skip_ws(p);
        if (peek(p) == '}') {
            p->s++;
            break;
        }
        free(k.p);
        free(val.p);
        memset(&k, 0, sizeof k);
        memset(&val, 0, sizeof val);
        if (!is_string_start(p)) {
            perr(p, "expected a string key");
            goto done;
        }
        if (value_text(p, &k, 2)) goto done;
        skip_ws(p);
        if (peek(p) != ':') {
            perr(p, "expected ':' in dict");
            goto done;
        }
        p->s++;
        if (value_text(p, &val, 2)) goto done;
        if (k.oom || val.oom) {
            p->status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "tool call: out of memory");
            goto done;
        }
        sbuf *dst = !strcmp(k.p, "\"name\"") ? &name : !strcmp(k.p, "\"arguments\"") ? &args : NULL;
        if (dst) {
            free(dst->p);
            *dst = val;
            memset(&val, 0, sizeof val);
        }
        skip_ws(p);
        if (peek(p) == ',') {
            p->s++;
            continue;
        }
        if (peek(p) == '}') {
            p->s++;
            break;
        }
        perr(p, "expected ',' or '}'");
        goto done;
    }
    /* names are identifiers: refuse escapes rather than decode them */
    if (!name.p || name.p[0] != '"' || name.n < 3 || memchr(name.p, '\\', name.n) ||
        !args.p || args.p[0] != '{') {
        p->s = start;
        perr(p, "a JSON call needs a string \"name\" and an object \"arguments\"");
        goto done;
    }
    add_call(p, calls, name.p + 1, name.n - 2, &args);
done:
    free(name.p);
    free(args.p);
    free(k.p);
    free(val.p);
    return p->status;
}

static int parse_call(parser *p, lfm2moe_tool_calls *calls) {
    skip_ws(p);
    if (peek(p) == '{') return parse_json_call(p, calls);
    if (ident_len(p, 1)) return parse_python_call(p, calls);
    return perr(p, "expected a function call");
}

/* Body between the markers: "[call, call, ...]" or one bare call. */
static int parse_block(parser *p, lfm2moe_tool_calls *calls) {
    skip_ws(p);
    if (peek(p) == '[') {
        p->s++;
        for (int n = 0;; n++) {
            skip_ws(p);
            if (peek(p) == ']') {
                p->s++;
                break;
            }
            if (parse_call(p, calls)) return p->status;
            skip_ws(p);
            if (peek(p) == ',') {
                p->s++;
                continue;
            }
            if (peek(p) == ']') {
                p->s++;
                break;
            }
            return perr(p, "expected ',' or ']' between calls");
        }
    } else if (parse_call(p, calls)) {
        return p->status;
    }
    skip_ws(p);
    if (p->s != p->end) return perr(p, "unexpected text after the calls");
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
    if (!out) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tool_calls_parse: out is NULL");
    *out = NULL;
    if (!text && text_len)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tool_calls_parse: text is NULL");
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
            perr(&p, "<|tool_call_start|> without <|tool_call_end|>");
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
    if (!calls || !count)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tool_calls_count: NULL argument");
    *count = calls->n;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_tool_calls_get(const lfm2moe_tool_calls *calls, size_t index,
                                       const char **name, const char **arguments_json) {
    if (!calls || !name || !arguments_json)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "lfm2moe_tool_calls_get: NULL argument");
    if (index >= calls->n)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "lfm2moe_tool_calls_get: index %zu, only %zu calls",
                        index, calls->n);
    *name = calls->names[index];
    *arguments_json = calls->args[index];
    return LFM2MOE_OK;
}
