#include "base/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"

#define JSON_MAX_DEPTH 512 /* nesting limit: recursion must not overflow the stack */

/* ---- parser ------------------------------------------------------------- */
typedef struct {
    const char *s, *end;
    char *err;
    size_t err_size;
    int failed;
} parser;

static int fail(parser *p, const char *fmt, ...) {
    if (!p->failed && p->err && p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_size, fmt, ap);
        va_end(ap);
    }
    p->failed = 1;
    return -1;
}

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

size_t json_utf8_encode(unsigned cp, char u[4]) {
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int put_utf8(strbuf *b, unsigned cp) {
    char u[4];
    return strbuf_append(b, u, json_utf8_encode(cp, u));
}

/* Parse a string literal at p->s (at the opening quote) into a new buffer. */
static int parse_string(parser *p, char **out, size_t *out_len) {
    strbuf b = {0};
    p->s++; /* opening quote */
    for (;;) {
        const char *run = p->s;
        while (p->s < p->end && *p->s != '"' && *p->s != '\\' && (unsigned char)*p->s >= 0x20)
            p->s++;
        if (strbuf_append(&b, run, (size_t)(p->s - run))) goto oom;
        if (p->s >= p->end) {
            fail(p, "unterminated string");
            goto bad;
        }
        char c = *p->s;
        if (c == '"') {
            p->s++;
            break;
        }
        if (c != '\\') {
            fail(p, "control character 0x%02x in string", (unsigned)(unsigned char)c);
            goto bad;
        }
        if (p->end - p->s < 2) {
            fail(p, "unterminated string");
            goto bad;
        }
        char e = p->s[1];
        p->s += 2;
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default: fail(p, "invalid escape '\\%c'", e); goto bad;
        }
        if (simple) {
            if (strbuf_append(&b, simple, 1)) goto oom;
            continue;
        }
        unsigned u;
        if (p->end - p->s < 4 || hex4(p->s, &u)) {
            fail(p, "invalid \\u escape");
            goto bad;
        }
        p->s += 4;
        if (u >= 0xD800 && u <= 0xDBFF && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u') {
            unsigned lo;
            if (!hex4(p->s + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p->s += 6;
            }
        }
        if (put_utf8(&b, u)) goto oom;
    }
    if (!b.data && strbuf_append(&b, "", 0)) goto oom;
    *out = b.data;
    *out_len = b.len;
    return 0;
oom:
    fail(p, "out of memory");
bad:
    strbuf_free(&b);
    return -1;
}

static json_value *new_value(parser *p, json_type t) {
    json_value *v = calloc(1, sizeof *v);
    if (!v)
        fail(p, "out of memory");
    else
        v->type = t;
    return v;
}

static json_value *parse_value(parser *p, int depth);

static int push_item(parser *p, json_value *c, json_value *item, char *key, size_t key_len,
                     size_t *cap) {
    if (c->type == JSON_OBJECT) {
        for (size_t i = 0; i < c->n; i++) {
            if (c->key_lens[i] == key_len && memcmp(c->keys[i], key, key_len) == 0) {
                json_free(c->items[i]); /* Python keeps the first position, last value */
                c->items[i] = item;
                free(key);
                return 0;
            }
        }
    }
    if (c->n == *cap) {
        const size_t nc = lfm_grow_cap(*cap, c->n + 1, sizeof *c->key_lens);
        json_value **items = nc ? lfm_realloc_array(c->items, nc, sizeof *items) : NULL;
        if (items) c->items = items;
        if (!items) goto oom;
        if (c->type == JSON_OBJECT) {
            char **keys = lfm_realloc_array(c->keys, nc, sizeof *keys);
            if (keys) c->keys = keys;
            size_t *lens = lfm_realloc_array(c->key_lens, nc, sizeof *lens);
            if (lens) c->key_lens = lens;
            if (!keys || !lens) goto oom;
        }
        *cap = nc;
    }
    c->items[c->n] = item;
    if (c->type == JSON_OBJECT) {
        c->keys[c->n] = key;
        c->key_lens[c->n] = key_len;
    }
    c->n++;
    return 0;
oom:
    json_free(item);
    free(key);
    return fail(p, "out of memory");
}

static json_value *parse_container(parser *p, int depth, json_type t) {
    char close = t == JSON_ARRAY ? ']' : '}';
    json_value *c = new_value(p, t);
    size_t cap = 0;
    if (!c) return NULL;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return c;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        skip_ws(p);
        if (t == JSON_OBJECT) {
            if (p->s >= p->end || *p->s != '"') {
                fail(p, "expected a string key");
                goto bad;
            }
            if (parse_string(p, &key, &key_len)) goto bad;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') {
                free(key);
                fail(p, "expected ':' after key");
                goto bad;
            }
            p->s++;
        }
        json_value *item = parse_value(p, depth + 1);
        if (!item) {
            free(key);
            goto bad;
        }
        if (push_item(p, c, item, key, key_len, &cap)) goto bad;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return c;
        }
        fail(p, "expected ',' or '%c'", close);
        goto bad;
    }
bad:
    json_free(c);
    return NULL;
}

static json_value *parse_number(parser *p) {
    const char *st = p->s, *s = p->s;
    int integer = 1;
    if (s < p->end && *s == '-') s++;
    if (s < p->end && *s == '0')
        s++;
    else if (s < p->end && *s >= '1' && *s <= '9')
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    else
        goto bad;
    if (s < p->end && *s == '.') {
        integer = 0;
        s++;
        if (s >= p->end || *s < '0' || *s > '9') goto bad;
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        integer = 0;
        s++;
        if (s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') goto bad;
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    json_value *v = new_value(p, JSON_NUMBER);
    if (!v) return NULL;
    v->len = (size_t)(s - st);
    v->str = malloc(v->len + 1);
    if (!v->str) {
        free(v);
        fail(p, "out of memory");
        return NULL;
    }
    memcpy(v->str, st, v->len);
    v->str[v->len] = '\0';
    v->number = strtod(v->str, NULL);
    v->is_integer = integer;
    p->s = s;
    return v;
bad:
    fail(p, "invalid number");
    return NULL;
}

static int match_word(parser *p, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) >= n && memcmp(p->s, w, n) == 0) {
        p->s += n;
        return 1;
    }
    return 0;
}

static json_value *parse_value(parser *p, int depth) {
    if (depth > JSON_MAX_DEPTH) {
        fail(p, "nesting deeper than %d", JSON_MAX_DEPTH);
        return NULL;
    }
    skip_ws(p);
    if (p->s >= p->end) {
        fail(p, "unexpected end of input");
        return NULL;
    }
    char c = *p->s;
    json_value *v;
    if (c == '{') return parse_container(p, depth, JSON_OBJECT);
    if (c == '[') return parse_container(p, depth, JSON_ARRAY);
    if (c == '"') {
        char *s;
        size_t n;
        if (parse_string(p, &s, &n)) return NULL;
        if (!(v = new_value(p, JSON_STRING))) {
            free(s);
            return NULL;
        }
        v->str = s;
        v->len = n;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
    int truth = match_word(p, "true");
    if (truth || match_word(p, "false")) {
        if ((v = new_value(p, JSON_BOOL))) v->boolean = truth;
        return v;
    }
    if (match_word(p, "null")) return new_value(p, JSON_NULL);
    fail(p, "unexpected character '%c'", c);
    return NULL;
}

int json_parse(const char *text, size_t len, json_value **out, char *err, size_t err_size) {
    parser p = {text, text + len, err, err_size, 0};
    *out = NULL;
    if (err && err_size) err[0] = '\0';
    if (!text && len) return fail(&p, "NULL text");
    if (!text) p.s = p.end = "";
    json_value *v = parse_value(&p, 0);
    if (!v) {
        if (!p.failed) fail(&p, "invalid JSON");
        return -1;
    }
    skip_ws(&p);
    if (p.s != p.end) {
        json_free(v);
        fail(&p, "trailing characters after the JSON value");
        return -1;
    }
    *out = v;
    return 0;
}

void json_free(json_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v->str);
    free(v);
}

const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0) return obj->items[i];
    return NULL;
}

/* ---- serializer --------------------------------------------------------- */
int json_dump_string(const char *s, size_t n, strbuf *b) {
    if (strbuf_append(b, "\"", 1)) return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        }
        if (!esc) continue;
        if (strbuf_append(b, s + run, i - run) || strbuf_puts(b, esc)) return -1;
        run = i + 1;
    }
    if (strbuf_append(b, s + run, n - run)) return -1;
    return strbuf_append(b, "\"", 1);
}

/* Python's repr(float): the shortest digits that read back to x, in fixed
 * notation when the decimal exponent is in [-4, 16), else d.ddde+XX. */
int json_dump_double(double x, strbuf *b) {
    if (isnan(x)) return strbuf_puts(b, "NaN");
    if (isinf(x)) return strbuf_puts(b, x < 0 ? "-Infinity" : "Infinity");
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp: [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *q = tmp;
    int neg = *q == '-';
    if (neg) q++;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';

    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++)
                    out[o++] = digits[i];
            else
                out[o++] = '0';
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp - 1; i++)
                out[o++] = '0';
            for (size_t i = 0; i < nd; i++)
                out[o++] = digits[i];
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    return strbuf_puts(b, out);
}

static int dump_number(const json_value *v, strbuf *b) {
    if (!v->is_integer || !v->str) return json_dump_double(v->number, b);
    /* Python ints are exact: keep the digits, but "-0" is just 0 */
    const char *s = v->str;
    if (s[0] == '-' && s[1] == '0' && s[2] == '\0') s = "0";
    return strbuf_puts(b, s);
}

int json_dump(const json_value *v, strbuf *b) {
    switch (v->type) {
    case JSON_NULL: return strbuf_puts(b, "null");
    case JSON_BOOL: return strbuf_puts(b, v->boolean ? "true" : "false");
    case JSON_NUMBER: return dump_number(v, b);
    case JSON_STRING: return json_dump_string(v->str, v->len, b);
    case JSON_ARRAY:
    case JSON_OBJECT: {
        int obj = v->type == JSON_OBJECT;
        if (strbuf_append(b, obj ? "{" : "[", 1)) return -1;
        for (size_t i = 0; i < v->n; i++) {
            if (i && strbuf_append(b, ", ", 2)) return -1;
            if (obj &&
                (json_dump_string(v->keys[i], v->key_lens[i], b) || strbuf_append(b, ": ", 2)))
                return -1;
            if (json_dump(v->items[i], b)) return -1;
        }
        return strbuf_append(b, obj ? "}" : "]", 1);
    }
    }
    return -1;
}

typedef struct sorted_member {
    const char *key;
    size_t len;
    size_t index;
} sorted_member;

static int member_order(const void *pa, const void *pb) {
    const sorted_member *a = pa, *b = pb;
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int newline_indent(const json_dump_opts *o, int level, strbuf *b) {
    if (strbuf_append(b, "\n", 1)) return -1;
    for (int i = 0; i < level; i++)
        if (strbuf_puts(b, o->indent)) return -1;
    return 0;
}

static int dump_opts(const json_value *v, strbuf *b, const json_dump_opts *o, int level) {
    if (level > JSON_MAX_DEPTH) return -1;
    if (v->type != JSON_ARRAY && v->type != JSON_OBJECT) return json_dump(v, b);
    int obj = v->type == JSON_OBJECT;
    if (!v->n) return strbuf_puts(b, obj ? "{}" : "[]");
    const char *item_sep = o->item_sep ? o->item_sep : o->indent ? "," : ", ";
    const char *key_sep = o->key_sep ? o->key_sep : ": ";
    sorted_member *order = NULL;
    if (obj && o->sort_keys) {
        if (!(order = malloc(v->n * sizeof *order))) return -1;
        for (size_t i = 0; i < v->n; i++)
            order[i] = (sorted_member){v->keys[i], v->key_lens[i], i};
        qsort(order, v->n, sizeof *order, member_order);
    }
    int rc = -1;
    if (strbuf_append(b, obj ? "{" : "[", 1)) goto done;
    for (size_t k = 0; k < v->n; k++) {
        size_t i = order ? order[k].index : k;
        if (k && strbuf_puts(b, item_sep)) goto done;
        if (o->indent && newline_indent(o, level + 1, b)) goto done;
        if (obj && (json_dump_string(v->keys[i], v->key_lens[i], b) || strbuf_puts(b, key_sep)))
            goto done;
        if (dump_opts(v->items[i], b, o, level + 1)) goto done;
    }
    if (o->indent && newline_indent(o, level, b)) goto done;
    rc = strbuf_append(b, obj ? "}" : "]", 1);
done:
    free(order);
    return rc;
}

int json_dump_ex(const json_value *v, strbuf *b, const json_dump_opts *o) {
    if (!o) return json_dump(v, b);
    return dump_opts(v, b, o, 0);
}
