/* Jinja values: the render arena, constructors, and the Python behaviour
 * templates observe (str(), repr(), truth, ==, <, json.dumps). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/errors.h"
#include "text/jinja/internal.h"

/* ---- errors and budgets ------------------------------------------------ */
_Noreturn void jj_fail(jctx *c, int status, uint32_t pos, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < c->src_len; i++) {
        if (c->src[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)c->src[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    c->status = lfm_fail(status, "chat template line %d column %d: %s", line, col, msg);
    longjmp(c->fail, 1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Called at every statement and expression: the wall clock is read every
 * 1024 calls. */
void jj_tick(jctx *c) {
    if (++c->ticks % 1024) return;
    if (!c->deadline_ns)
        c->deadline_ns = now_ns() + (uint64_t)c->lim.max_time_ms * 1000000u;
    else if (now_ns() > c->deadline_ns)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "rendering took longer than %u ms",
                (unsigned)c->lim.max_time_ms);
}

void jj_count_iteration(jctx *c) {
    if (++c->iterations > c->lim.max_iterations)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "more than %llu loop iterations and macro calls",
                (unsigned long long)c->lim.max_iterations);
    jj_tick(c);
}

/* ---- arena ------------------------------------------------------------- */
struct jchunk {
    jchunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define CHUNK_BYTES 65536

void *jj_alloc(jctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    jchunk *ch = c->chunks;
    if (!ch || ch->cap - ch->used < n) {
        size_t cap = n > CHUNK_BYTES / 2 ? n : CHUNK_BYTES;
        if (n > c->lim.max_memory || c->mem_used > c->lim.max_memory - n)
            jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos,
                    "the template needs more than %zu bytes of memory", c->lim.max_memory);
        jchunk *nc = malloc(sizeof *nc + cap);
        if (!nc) jj_fail(c, LFM2MOE_ERR_OUT_OF_MEMORY, c->pos, "out of memory");
        c->mem_used += cap;
        nc->used = 0;
        nc->cap = cap;
        if (ch && cap != CHUNK_BYTES) { /* a big block: keep the current chunk on top */
            nc->next = ch->next;
            ch->next = nc;
            nc->used = n;
            return nc->data;
        }
        nc->next = ch;
        c->chunks = ch = nc;
    }
    void *p = (char *)ch->data + ch->used;
    ch->used += n;
    return p;
}

void jj_arena_free(jctx *c) {
    for (jchunk *ch = c->chunks, *next; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    c->chunks = NULL;
}

/* ---- constructors ------------------------------------------------------ */
jstr *jj_str(jctx *c, const char *p, size_t n) {
    if (n > c->lim.max_memory) jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "string too long");
    jstr *s = jj_alloc(c, sizeof *s + n + 1);
    s->n = n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = '\0';
    return s;
}

jstr *jj_cstr(jctx *c, const char *p) {
    return jj_str(c, p, strlen(p));
}
jv jv_str(jstr *s) {
    return (jv){.t = JT_STR, .s = s};
}
jv jv_cstr(jctx *c, const char *p) {
    return jv_str(jj_cstr(c, p));
}
jv jv_int(int64_t i) {
    return (jv){.t = JT_INT, .i = i};
}
jv jv_float(double f) {
    return (jv){.t = JT_FLOAT, .f = f};
}
jv jv_bool(int b) {
    return (jv){.t = JT_BOOL, .b = !!b};
}
jv jv_none(void) {
    return (jv){.t = JT_NONE};
}
jv jv_undef(jstr *name) {
    return (jv){.t = JT_UNDEF, .s = name};
}

jv jv_list(jctx *c, size_t cap) {
    jlist *l = jj_alloc(c, sizeof *l);
    l->n = 0;
    l->tuple = 0;
    l->cap = cap;
    if (cap > c->lim.max_memory / sizeof(jv))
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "list too long");
    l->v = cap ? jj_alloc(c, cap * sizeof(jv)) : NULL;
    return (jv){.t = JT_LIST, .l = l};
}

jv jv_dict(jctx *c, jt t) {
    jdict *d = jj_alloc(c, sizeof *d);
    memset(d, 0, sizeof *d);
    return (jv){.t = t, .d = d};
}

void *jj_grow(jctx *c, void *old, size_t n, size_t *cap, size_t elem) {
    size_t nc = *cap ? *cap * 2 : 8;
    if (nc > c->lim.max_memory / elem)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "collection too large");
    void *p = jj_alloc(c, nc * elem);
    if (n) memcpy(p, old, n * elem);
    *cap = nc;
    return p;
}

void jlist_push(jctx *c, jlist *l, jv v) {
    if (l->n == l->cap) l->v = jj_grow(c, l->v, l->n, &l->cap, sizeof(jv));
    l->v[l->n++] = v;
}

static long dict_find(const jdict *d, jv k) {
    for (size_t i = 0; i < d->n; i++) {
        const jv *e = &d->k[i];
        if (k.t == JT_STR && e->t == JT_STR) {
            if (e->s->n == k.s->n && !memcmp(e->s->p, k.s->p, k.s->n)) return (long)i;
        } else if (k.t == JT_INT && e->t == JT_INT && e->i == k.i) {
            return (long)i;
        } else if (k.t == e->t && (k.t == JT_NONE || (k.t == JT_BOOL && k.b == e->b))) {
            return (long)i;
        }
    }
    return -1;
}

void jdict_set(jctx *c, jdict *d, jv k, jv v) {
    long i = dict_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap;
        d->k = jj_grow(c, d->k, d->n, &cap, sizeof(jv));
        d->v = jj_grow(c, d->v, d->n, &d->cap, sizeof(jv));
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

const jv *jdict_get(const jdict *d, jv k) {
    long i = dict_find(d, k);
    return i < 0 ? NULL : &d->v[i];
}

const jv *jdict_getc(const jdict *d, const char *k) {
    size_t n = strlen(k);
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JT_STR && d->k[i].s->n == n && !memcmp(d->k[i].s->p, k, n))
            return &d->v[i];
    return NULL;
}

/* ---- text builder ------------------------------------------------------ */
void jsb_put(jctx *c, jsb *b, const char *p, size_t n) {
    if (n > c->lim.max_output || b->n > c->lim.max_output - n)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "output longer than %zu bytes", c->lim.max_output);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = jj_alloc(c, cap);
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void jsb_puts(jctx *c, jsb *b, const char *p) {
    jsb_put(c, b, p, strlen(p));
}

jstr *jsb_str(jctx *c, jsb *b) {
    return jj_str(c, b->p ? b->p : "", b->n);
}

/* ---- Python str() and repr() ------------------------------------------ */
static void put_float(jctx *c, jsb *b, double f) {
    if (isnan(f)) return jsb_puts(c, b, "nan");
    if (isinf(f)) return jsb_puts(c, b, f < 0 ? "-inf" : "inf");
    strbuf t = {0};
    int rc = json_dump_double(f, &t); /* Python's float repr */
    if (rc || !t.data) {
        strbuf_free(&t);
        jj_fail(c, LFM2MOE_ERR_OUT_OF_MEMORY, c->pos, "out of memory");
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", t.data);
    strbuf_free(&t);
    jsb_puts(c, b, tmp);
}

static void put_repr_str(jctx *c, jsb *b, const jstr *s) {
    int q = memchr(s->p, '\'', s->n) && !memchr(s->p, '"', s->n) ? '"' : '\'';
    char qc = (char)q;
    jsb_put(c, b, &qc, 1);
    for (size_t i = 0; i < s->n; i++) {
        unsigned char ch = (unsigned char)s->p[i];
        char e[8];
        if (ch == '\\' || ch == q) {
            e[0] = '\\';
            e[1] = (char)ch;
            jsb_put(c, b, e, 2);
        } else if (ch == '\n')
            jsb_puts(c, b, "\\n");
        else if (ch == '\r')
            jsb_puts(c, b, "\\r");
        else if (ch == '\t')
            jsb_puts(c, b, "\\t");
        else if (ch < 0x20 || ch == 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", ch);
            jsb_puts(c, b, e);
        } else
            jsb_put(c, b, (const char *)&s->p[i], 1);
    }
    jsb_put(c, b, &qc, 1);
}

void jj_repr(jctx *c, jsb *b, jv v, int depth) {
    if (depth > c->lim.max_depth) jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "value nested too deeply");
    jj_tick(c);
    switch (v.t) {
    case JT_STR: return put_repr_str(c, b, v.s);
    case JT_LIST:
        jsb_puts(c, b, v.l->tuple ? "(" : "[");
        for (size_t i = 0; i < v.l->n; i++) {
            if (i) jsb_puts(c, b, ", ");
            jj_repr(c, b, v.l->v[i], depth + 1);
        }
        return jsb_puts(c, b, !v.l->tuple ? "]" : v.l->n == 1 ? ",)" : ")");
    case JT_DICT:
    case JT_NS:
        jsb_puts(c, b, v.t == JT_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.d->n; i++) {
            if (i) jsb_puts(c, b, ", ");
            jj_repr(c, b, v.d->k[i], depth + 1);
            jsb_puts(c, b, ": ");
            jj_repr(c, b, v.d->v[i], depth + 1);
        }
        return jsb_puts(c, b, v.t == JT_NS ? "}>" : "}");
    default: return jj_tostr(c, b, v);
    }
}

void jj_tostr(jctx *c, jsb *b, jv v) {
    char tmp[64];
    switch (v.t) {
    case JT_UNDEF: return;
    case JT_NONE: return jsb_puts(c, b, "None");
    case JT_BOOL: return jsb_puts(c, b, v.b ? "True" : "False");
    case JT_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.i); return jsb_puts(c, b, tmp);
    case JT_FLOAT: return put_float(c, b, v.f);
    case JT_STR: return jsb_put(c, b, v.s->p, v.s->n);
    case JT_LIST:
    case JT_DICT:
    case JT_NS: return jj_repr(c, b, v, 0);
    case JT_MACRO: return jsb_puts(c, b, "<Macro>");
    case JT_LOOP:
        snprintf(tmp, sizeof tmp, "<LoopContext %zu/%zu>", v.loop->index0 + 1, v.loop->items->n);
        return jsb_puts(c, b, tmp);
    case JT_FUNC: return jsb_puts(c, b, "<function>");
    }
}

jstr *jj_string(jctx *c, jv v) {
    if (v.t == JT_STR) return v.s;
    jsb b = {0};
    jj_tostr(c, &b, v);
    return jsb_str(c, &b);
}

const char *jj_type_name(jv v) {
    static const char *const names[] = {"undefined", "NoneType", "bool",        "int",
                                        "float",     "str",      "list",        "dict",
                                        "Namespace", "Macro",    "LoopContext", "function"};
    return names[v.t];
}

/* ---- truth, equality, order ------------------------------------------- */
int jj_truthy(jv v) {
    switch (v.t) {
    case JT_UNDEF:
    case JT_NONE: return 0;
    case JT_BOOL: return v.b;
    case JT_INT: return v.i != 0;
    case JT_FLOAT: return v.f != 0;
    case JT_STR: return v.s->n != 0;
    case JT_LIST: return v.l->n != 0;
    case JT_DICT: return v.d->n != 0;
    default: return 1;
    }
}

static int is_num(jv v) {
    return v.t == JT_BOOL || v.t == JT_INT || v.t == JT_FLOAT;
}
static double num(jv v) {
    return v.t == JT_FLOAT ? v.f : v.t == JT_INT ? (double)v.i : v.b;
}

int jj_equal(jctx *c, jv a, jv b, int depth) {
    if (depth > c->lim.max_depth) jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "value nested too deeply");
    if (is_num(a) && is_num(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT)
            return (a.t == JT_INT ? a.i : a.b) == (b.t == JT_INT ? b.i : b.b);
        return num(a) == num(b);
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JT_UNDEF:
    case JT_NONE: return 1;
    case JT_STR: return a.s->n == b.s->n && !memcmp(a.s->p, b.s->p, a.s->n);
    case JT_LIST:
        if (a.l->n != b.l->n) return 0;
        for (size_t i = 0; i < a.l->n; i++)
            if (!jj_equal(c, a.l->v[i], b.l->v[i], depth + 1)) return 0;
        return 1;
    case JT_DICT:
        if (a.d->n != b.d->n) return 0;
        for (size_t i = 0; i < a.d->n; i++) {
            const jv *o = jdict_get(b.d, a.d->k[i]);
            if (!o || !jj_equal(c, a.d->v[i], *o, depth + 1)) return 0;
        }
        return 1;
    case JT_NS: return a.d == b.d;
    case JT_MACRO: return a.m == b.m;
    case JT_LOOP: return a.loop == b.loop;
    case JT_FUNC: return a.fn == b.fn;
    default: return 0;
    }
}

int jj_compare(jctx *c, jv a, jv b) {
    jj_tick(c);
    if (is_num(a) && is_num(b)) {
        if (a.t == JT_INT && b.t == JT_INT) return (a.i > b.i) - (a.i < b.i);
        double x = num(a), y = num(b);
        return (x > y) - (x < y);
    }
    if (a.t == JT_STR && b.t == JT_STR) {
        size_t n = a.s->n < b.s->n ? a.s->n : b.s->n;
        int r = memcmp(a.s->p, b.s->p, n);
        if (r) return r < 0 ? -1 : 1;
        return (a.s->n > b.s->n) - (a.s->n < b.s->n);
    }
    if (a.t == JT_LIST && b.t == JT_LIST) {
        for (size_t i = 0; i < a.l->n && i < b.l->n; i++) {
            if (jj_equal(c, a.l->v[i], b.l->v[i], 0)) continue;
            return jj_compare(c, a.l->v[i], b.l->v[i]);
        }
        return (a.l->n > b.l->n) - (a.l->n < b.l->n);
    }
    jj_error(c, "cannot order '%s' and '%s'", jj_type_name(a), jj_type_name(b));
}

/* ---- UTF-8 ------------------------------------------------------------- */
int jj_is_ascii(const jstr *s) {
    for (size_t i = 0; i < s->n; i++)
        if ((unsigned char)s->p[i] >= 0x80) return 0;
    return 1;
}

size_t jj_utf8_len(const jstr *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += ((unsigned char)s->p[i] & 0xC0) != 0x80;
    return n;
}

size_t jj_utf8_offset(const jstr *s, size_t i) {
    size_t k = 0, at = 0;
    while (at < s->n) {
        if (((unsigned char)s->p[at] & 0xC0) != 0x80) {
            if (k == i) return at;
            k++;
        }
        at++;
    }
    return s->n;
}

/* ---- JSON -------------------------------------------------------------- */
jv jj_from_json(jctx *c, const json_value *j, int depth) {
    if (depth > 600) jj_fail(c, LFM2MOE_ERR_LIMIT, 0, "variables nested too deeply");
    switch (j->type) {
    case JSON_NULL: return jv_none();
    case JSON_BOOL: return jv_bool(j->boolean);
    case JSON_NUMBER:
        if (j->is_integer && fabs(j->number) < 9.2e18) return jv_int(strtoll(j->str, NULL, 10));
        return jv_float(j->number);
    case JSON_STRING: return jv_str(jj_str(c, j->str, j->len));
    case JSON_ARRAY: {
        jv l = jv_list(c, j->n);
        for (size_t i = 0; i < j->n; i++)
            l.l->v[l.l->n++] = jj_from_json(c, j->items[i], depth + 1);
        return l;
    }
    case JSON_OBJECT: {
        jv d = jv_dict(c, JT_DICT);
        for (size_t i = 0; i < j->n; i++)
            jdict_set(c, d.d, jv_str(jj_str(c, j->keys[i], j->key_lens[i])),
                      jj_from_json(c, j->items[i], depth + 1));
        return d;
    }
    }
    return jv_none();
}

/* Build a json_value (malloc) for json_dump_ex; budget bounds the node
 * output size (nodes, string bytes, indentation) so a value shared many
 * times over cannot blow up.  Returns NULL with
 * *why set on failure (never unwinds: the tree would leak). */
static json_value *to_json(jctx *c, jv v, int depth, size_t indent, size_t *budget,
                           const char **why) {
    /* a node costs its text and about 16 times that in json_value memory */
    size_t cost = 8 + indent * (size_t)depth + (v.t == JT_STR ? v.s->n : 0);
    if (depth > c->lim.max_depth || cost > *budget) {
        *why = "value too large or nested too deeply for tojson";
        *budget = 0;
        return NULL;
    }
    *budget -= cost;
    json_value *j = calloc(1, sizeof *j);
    if (!j) {
        *why = "out of memory";
        return NULL;
    }
    char tmp[32];
    const char *text = NULL;
    switch (v.t) {
    case JT_NONE: j->type = JSON_NULL; return j;
    case JT_BOOL:
        j->type = JSON_BOOL;
        j->boolean = v.b;
        return j;
    case JT_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.i);
        j->type = JSON_NUMBER;
        j->is_integer = 1;
        j->number = (double)v.i;
        text = tmp;
        break;
    case JT_FLOAT:
        j->type = JSON_NUMBER;
        j->number = v.f;
        return j;
    case JT_STR:
        j->type = JSON_STRING;
        j->len = v.s->n;
        text = v.s->p;
        break;
    case JT_LIST:
    case JT_DICT: {
        int obj = v.t == JT_DICT;
        size_t n = obj ? v.d->n : v.l->n;
        j->type = obj ? JSON_OBJECT : JSON_ARRAY;
        j->items = calloc(n + 1, sizeof *j->items);
        if (obj) {
            j->keys = calloc(n + 1, sizeof *j->keys);
            j->key_lens = calloc(n + 1, sizeof *j->key_lens);
        }
        if (!j->items || (obj && (!j->keys || !j->key_lens))) {
            *why = "out of memory";
            json_free(j);
            return NULL;
        }
        for (size_t i = 0; i < n; i++, j->n++) {
            if (obj) {
                jv k = v.d->k[i];
                if (k.t != JT_STR) {
                    *why = "tojson: dictionary keys must be strings";
                    json_free(j);
                    return NULL;
                }
                if (!(j->keys[i] = malloc(k.s->n + 1))) {
                    *why = "out of memory";
                    json_free(j);
                    return NULL;
                }
                memcpy(j->keys[i], k.s->p, k.s->n + 1);
                j->key_lens[i] = k.s->n;
            }
            if (!(j->items[i] =
                      to_json(c, obj ? v.d->v[i] : v.l->v[i], depth + 1, indent, budget, why))) {
                if (obj) j->n++; /* free the key too */
                json_free(j);
                return NULL;
            }
        }
        return j;
    }
    default:
        *why = v.t == JT_UNDEF ? "tojson: the value is undefined"
                               : "tojson: value is not JSON serializable";
        free(j);
        return NULL;
    }
    size_t n = strlen(text);
    if (j->type == JSON_STRING) n = v.s->n;
    j->str = malloc(n + 1);
    if (!j->str) {
        *why = "out of memory";
        free(j);
        return NULL;
    }
    memcpy(j->str, text, n);
    j->str[n] = '\0';
    j->len = n;
    return j;
}

void jj_tojson(jctx *c, jsb *b, jv v, const json_dump_opts *o) {
    const char *why = NULL;
    size_t budget =
        c->lim.max_output < c->lim.max_memory / 16 ? c->lim.max_output : c->lim.max_memory / 16;
    size_t indent = o && o->indent ? strlen(o->indent) : 0;
    json_value *j = to_json(c, v, 0, indent, &budget, &why);
    if (!j)
        jj_fail(c, budget ? LFM2MOE_ERR_INVALID_ARGUMENT : LFM2MOE_ERR_LIMIT, c->pos, "%s", why);
    strbuf_free(&c->scratch); /* owned by the context: freed even if we unwind */
    int rc = json_dump_ex(j, &c->scratch, o);
    json_free(j);
    if (rc) jj_fail(c, LFM2MOE_ERR_OUT_OF_MEMORY, c->pos, "out of memory in tojson");
    jsb_put(c, b, c->scratch.data ? c->scratch.data : "", c->scratch.len);
    strbuf_free(&c->scratch);
}
