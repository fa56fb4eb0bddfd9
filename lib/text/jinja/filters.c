/* Filters (`x | name(args)`) and tests (`x is name(args)`), with Jinja2's
 * argument names and defaults; `tojson` is transformers' (json.dumps with
 * ensure_ascii=False, no HTML escaping). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja/internal.h"

static const char *const filter_names[] = {
    "tojson",     "join",       "length",  "count",   "trim",   "upper",  "lower",  "capitalize",
    "title",      "replace",    "default", "d",       "string", "int",    "float",  "list",
    "first",      "last",       "items",   "keys",    "values", "map",    "select", "reject",
    "selectattr", "rejectattr", "unique",  "reverse", "sort",   "indent", "safe",   "abs"};
static const char *const test_names[] = {
    "defined", "undefined", "none",     "string", "number",   "integer", "float", "boolean",
    "mapping", "sequence",  "iterable", "true",   "false",    "odd",     "even",  "divisibleby",
    "eq",      "equalto",   "ne",       "lt",     "lessthan", "le",      "gt",    "greaterthan",
    "ge",      "in",        "callable", "sameas", "lower",    "upper"};

static int find(const char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return (int)i;
    return -1;
}
#define FIND(table, name) find(table, sizeof table / sizeof table[0], name)

int jj_filter_known(const char *name) {
    return FIND(filter_names, name) >= 0;
}
int jj_test_known(const char *name) {
    return FIND(test_names, name) >= 0;
}

int jj_missing(jctx *c, jv v) {
    return v.t == JT_UNDEF && v.s == c->missing;
}

void jj_bind(jctx *c, const char *what, const char *const *params, size_t np, const jv *args,
             size_t n, jstr *const *kw, const jv *kwv, size_t nkw, jv *out) {
    for (size_t i = 0; i < np; i++)
        out[i] = jv_undef(c->missing);
    if (n > np) jj_error(c, "%s takes at most %zu argument(s), %zu given", what, np, n);
    for (size_t i = 0; i < n; i++)
        out[i] = args[i];
    for (size_t k = 0; k < nkw; k++) {
        size_t i = 0;
        while (i < np && strcmp(params[i], kw[k]->p))
            i++;
        if (i == np) jj_error(c, "%s got an unexpected argument '%s'", what, kw[k]->p);
        out[i] = kwv[k];
    }
}

static int64_t want_int(jctx *c, jv v, int64_t dflt, const char *what) {
    if (jj_missing(c, v) || v.t == JT_NONE) return dflt;
    if (v.t == JT_INT) return v.i;
    if (v.t == JT_BOOL) return v.b;
    jj_error(c, "%s must be an integer, not '%s'", what, jj_type_name(v));
}

static jstr *want_str(jctx *c, jv v, const char *what) {
    if (v.t != JT_STR) jj_error(c, "%s must be a string, not '%s'", what, jj_type_name(v));
    return v.s;
}

/* attribute="a.b.0": a dotted path of keys / indices */
static jv attr_path(jctx *c, jv item, jstr *path) {
    size_t st = 0;
    for (size_t i = 0; i <= path->n; i++) {
        if (i < path->n && path->p[i] != '.') continue;
        jstr *part = jj_str(c, path->p + st, i - st);
        char *end;
        long long k = strtoll(part->p, &end, 10);
        jv key = part->n && *end == '\0' ? jv_int(k) : jv_str(part);
        item = jj_getitem(c, item, key);
        st = i + 1;
    }
    return item;
}

/* ---- tests ------------------------------------------------------------- */
int jj_test(jctx *c, const char *name, jv v, const jv *args, size_t n) {
    int k = FIND(test_names, name);
    jv a = n ? args[0] : jv_undef(c->missing);
    static const int need_arg[] = {[15] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, [27] = 1};
    if (k >= 0 && k < (int)(sizeof need_arg / sizeof need_arg[0]) && need_arg[k] && !n)
        jj_error(c, "test '%s' needs an argument", name);
    switch (k) {
    case 0: return v.t != JT_UNDEF;
    case 1: return v.t == JT_UNDEF;
    case 2: return v.t == JT_NONE;
    case 3: return v.t == JT_STR;
    case 4: return v.t == JT_INT || v.t == JT_FLOAT || v.t == JT_BOOL;
    case 5: return v.t == JT_INT;
    case 6: return v.t == JT_FLOAT;
    case 7: return v.t == JT_BOOL;
    case 8: return v.t == JT_DICT;
    case 9:
    case 10: return v.t == JT_STR || v.t == JT_LIST || v.t == JT_DICT || v.t == JT_UNDEF;
    case 11: return v.t == JT_BOOL && v.b;
    case 12: return v.t == JT_BOOL && !v.b;
    case 13:
    case 14: {
        int odd;
        if (v.t == JT_INT || v.t == JT_BOOL)
            odd = (v.t == JT_INT ? v.i : v.b) % 2 != 0;
        else if (v.t == JT_FLOAT)
            odd = fmod(v.f, 2.0) != 0;
        else
            jj_error(c, "test '%s' needs a number, not '%s'", name, jj_type_name(v));
        return k == 13 ? odd : !odd;
    }
    case 15: {
        int64_t d = want_int(c, a, 1, "divisibleby's argument");
        if (d == 0) jj_error(c, "division by zero");
        if (v.t != JT_INT) jj_error(c, "test 'divisibleby' needs an integer");
        return d == -1 || v.i % d == 0;
    }
    case 16:
    case 17: return jj_equal(c, v, a, 0);
    case 18: return !jj_equal(c, v, a, 0);
    case 19:
    case 20: return jj_compare(c, v, a) < 0;
    case 21: return jj_compare(c, v, a) <= 0;
    case 22:
    case 23: return jj_compare(c, v, a) > 0;
    case 24: return jj_compare(c, v, a) >= 0;
    case 25: return jj_contains(c, a, v);
    case 26: return v.t == JT_MACRO || v.t == JT_FUNC;
    case 27:
        if (v.t != a.t) return 0;
        if (v.t == JT_STR || v.t == JT_LIST || v.t == JT_DICT || v.t == JT_NS) return v.s == a.s;
        return jj_equal(c, v, a, 0);
    case 28:
    case 29: {
        if (v.t != JT_STR) return 0;
        int cased = 0; /* str.islower(): no letter of the other case, at least one letter */
        for (size_t i = 0; i < v.s->n; i++) {
            char ch = v.s->p[i];
            int lower = ch >= 'a' && ch <= 'z', upper = ch >= 'A' && ch <= 'Z';
            if (k == 28 ? upper : lower) return 0;
            cased |= lower || upper;
        }
        return cased;
    }
    default: jj_error(c, "unknown test '%s'", name);
    }
}

/* ---- helpers for list filters ----------------------------------------- */
/* select/reject/selectattr/rejectattr: args after the attribute name are
 * the test name and its arguments */
static jv select_items(jctx *c, jv in, int by_attr, int keep, const jv *args, size_t n) {
    jlist *items = jj_iter_list(c, in);
    size_t k = 0;
    jstr *attr = NULL;
    if (by_attr) {
        if (!n) jj_error(c, "selectattr/rejectattr need an attribute name");
        attr = want_str(c, args[k++], "the attribute");
    }
    const char *test = NULL;
    if (k < n) test = want_str(c, args[k++], "the test name")->p;
    if (test && !jj_test_known(test)) jj_error(c, "unknown test '%s'", test);
    jv out = jv_list(c, 0);
    for (size_t i = 0; i < items->n; i++) {
        jv v = attr ? attr_path(c, items->v[i], attr) : items->v[i];
        int r = test ? jj_test(c, test, v, args + k, n - k) : jj_truthy(v);
        if (r == keep) jlist_push(c, out.l, items->v[i]);
    }
    return out;
}

/* sort and unique compare strings case-insensitively unless asked */
static jv sort_key(jctx *c, jv v, jstr *attr, int case_sensitive) {
    if (attr) v = attr_path(c, v, attr);
    if (!case_sensitive && v.t == JT_STR) v = jv_str(jj_case(c, v.s, 0));
    return v;
}

static void merge_sort(jctx *c, jv *v, jv *keys, jv *tv, jv *tk, size_t n, int rev) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(c, v, keys, tv, tk, h, rev);
    merge_sort(c, v + h, keys + h, tv, tk, n - h, rev);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        int r = jj_compare(c, keys[j], keys[i]);
        if (rev ? r > 0 : r < 0) {
            tv[o] = v[j];
            tk[o++] = keys[j++];
        } else {
            tv[o] = v[i];
            tk[o++] = keys[i++];
        }
    }
    while (i < h) {
        tv[o] = v[i];
        tk[o++] = keys[i++];
    }
    while (j < n) {
        tv[o] = v[j];
        tk[o++] = keys[j++];
    }
    memcpy(v, tv, n * sizeof *v);
    memcpy(keys, tk, n * sizeof *keys);
}

static jv do_indent(jctx *c, jstr *s, jv width, int first, int blank) {
    jstr *pad;
    if (width.t == JT_STR)
        pad = width.s;
    else {
        int64_t w = want_int(c, width, 4, "indent width");
        if (w < 0) w = 0;
        if ((uint64_t)w > c->lim.max_output)
            jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "indent too wide");
        jsb p = {0};
        for (int64_t i = 0; i < w; i++)
            jsb_put(c, &p, " ", 1);
        pad = jsb_str(c, &p);
    }
    jsb r = {0};
    if (first) jsb_put(c, &r, pad->p, pad->n);
    for (size_t i = 0; i < s->n; i++) {
        jsb_put(c, &r, &s->p[i], 1);
        if (s->p[i] != '\n') continue;
        int empty = i + 1 == s->n || s->p[i + 1] == '\n';
        if (blank || !empty) jsb_put(c, &r, pad->p, pad->n);
    }
    return jv_str(jsb_str(c, &r));
}

static jv to_number(jctx *c, jv v, jv dflt, int want_float) {
    if (v.t == JT_INT || v.t == JT_BOOL)
        return want_float ? jv_float(v.t == JT_INT ? (double)v.i : v.b)
                          : jv_int(v.t == JT_INT ? v.i : v.b);
    if (v.t == JT_FLOAT) {
        if (want_float) return v;
        if (isfinite(v.f) && fabs(v.f) < 9.2e18) return jv_int((int64_t)v.f);
    }
    if (v.t == JT_STR) {
        char *end;
        const char *p = v.s->p;
        if (!want_float) {
            long long i = strtoll(p, &end, 10);
            while (*end == ' ' || *end == '\t' || *end == '\n')
                end++;
            if (end != p && !*end && end == v.s->p + v.s->n) return jv_int(i);
        }
        double f = strtod(p, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n')
            end++;
        if (end != p && !*end && end == v.s->p + v.s->n) {
            if (want_float) return jv_float(f);
            if (isfinite(f) && fabs(f) < 9.2e18) return jv_int((int64_t)f);
        }
    }
    if (!jj_missing(c, dflt)) return dflt;
    return want_float ? jv_float(0) : jv_int(0);
}

static jv first_last(jctx *c, jv in, int last) {
    if (in.t == JT_UNDEF) return in;
    jlist *l = jj_iter_list(c, in);
    if (!l->n) return jv_undef(NULL);
    return l->v[last ? l->n - 1 : 0];
}

/* ---- the filters ------------------------------------------------------ */
#define BIND(...)                                                                                  \
    const char *const params[] = {__VA_ARGS__};                                                    \
    jv p[sizeof params / sizeof params[0]];                                                        \
    jj_bind(c, name, params, sizeof params / sizeof params[0], args, n, kw, kwv, nkw, p)
#define NO_ARGS() jj_bind(c, name, NULL, 0, args, n, kw, kwv, nkw, NULL)

static jv list_filter(jctx *c, const char *name, int k, jv in, const jv *args, size_t n,
                      jstr *const *kw, const jv *kwv, size_t nkw) {
    switch (k) {
    case 15: NO_ARGS(); return (jv){.t = JT_LIST, .l = jj_iter_list(c, in)}; /* list */
    case 16:
    case 17: NO_ARGS(); return first_last(c, in, k == 17);
    case 18:   /* items */
    case 19:   /* keys */
    case 20: { /* values */
        NO_ARGS();
        if (in.t == JT_UNDEF) return jv_list(c, 0);
        if (in.t != JT_DICT && in.t != JT_NS)
            jj_error(c, "%s: expected a mapping, not '%s'", name, jj_type_name(in));
        jv out = jv_list(c, in.d->n);
        for (size_t i = 0; i < in.d->n; i++) {
            jv e = in.d->k[i];
            if (k == 18) {
                e = jv_list(c, 2);
                e.l->v[0] = in.d->k[i];
                e.l->v[1] = in.d->v[i];
                e.l->n = 2;
                e.l->tuple = 1;
            } else if (k == 20) {
                e = in.d->v[i];
            }
            out.l->v[out.l->n++] = e;
        }
        return out;
    }
    case 21: { /* map(attribute=..., default=...) or map('filter', args...) */
        jlist *items = jj_iter_list(c, in);
        jv out = jv_list(c, items->n);
        if (!items->n) return out; /* Jinja2 looks at the arguments per item */
        jstr *attr = NULL;
        jv dflt = jv_undef(c->missing);
        for (size_t i = 0; i < nkw; i++) {
            if (!strcmp(kw[i]->p, "attribute"))
                attr = want_str(c, kwv[i], "map's attribute");
            else if (!strcmp(kw[i]->p, "default"))
                dflt = kwv[i];
            else if (attr || n)
                jj_error(c, "map got an unexpected argument '%s'", kw[i]->p);
        }
        if (!attr && !n) jj_error(c, "map needs a filter name or attribute=");
        const char *f = attr ? NULL : want_str(c, args[0], "map's filter name")->p;
        if (f && !jj_filter_known(f)) jj_error(c, "unknown filter '%s'", f);
        for (size_t i = 0; i < items->n; i++) {
            jv v;
            if (attr) {
                v = attr_path(c, items->v[i], attr);
                if (v.t == JT_UNDEF && !jj_missing(c, dflt)) v = dflt;
            } else {
                v = jj_filter(c, f, items->v[i], args + 1, n - 1, kw, kwv, nkw);
            }
            out.l->v[out.l->n++] = v;
        }
        return out;
    }
    case 22: return select_items(c, in, 0, 1, args, n);
    case 23: return select_items(c, in, 0, 0, args, n);
    case 24: return select_items(c, in, 1, 1, args, n);
    case 25: return select_items(c, in, 1, 0, args, n);
    case 26: { /* unique */
        BIND("case_sensitive", "attribute");
        jlist *items = jj_iter_list(c, in);
        jstr *attr =
            jj_missing(c, p[1]) || p[1].t == JT_NONE ? NULL : want_str(c, p[1], "attribute");
        int cs = jj_truthy(p[0]);
        jv out = jv_list(c, 0), seen = jv_list(c, 0);
        for (size_t i = 0; i < items->n; i++) {
            jv key = sort_key(c, items->v[i], attr, cs);
            if (jj_contains(c, seen, key)) continue;
            jlist_push(c, seen.l, key);
            jlist_push(c, out.l, items->v[i]);
        }
        return out;
    }
    case 27: { /* reverse */
        NO_ARGS();
        jlist *items = jj_iter_list(c, in);
        for (size_t i = 0; i < items->n / 2; i++) {
            jv t = items->v[i];
            items->v[i] = items->v[items->n - 1 - i];
            items->v[items->n - 1 - i] = t;
        }
        if (in.t != JT_STR) return (jv){.t = JT_LIST, .l = items};
        jsb r = {0};
        for (size_t i = 0; i < items->n; i++)
            jsb_put(c, &r, items->v[i].s->p, items->v[i].s->n);
        return jv_str(jsb_str(c, &r));
    }
    case 28: { /* sort */
        BIND("reverse", "case_sensitive", "attribute");
        jlist *items = jj_iter_list(c, in);
        jstr *attr =
            jj_missing(c, p[2]) || p[2].t == JT_NONE ? NULL : want_str(c, p[2], "attribute");
        jv *keys = jj_alloc(c, (items->n + 1) * sizeof *keys);
        jv *tv = jj_alloc(c, (items->n + 1) * sizeof *tv),
           *tk = jj_alloc(c, (items->n + 1) * sizeof *tk);
        for (size_t i = 0; i < items->n; i++)
            keys[i] = sort_key(c, items->v[i], attr, jj_truthy(p[1]));
        merge_sort(c, items->v, keys, tv, tk, items->n, jj_truthy(p[0]));
        return (jv){.t = JT_LIST, .l = items};
    }
    default: jj_error(c, "unknown filter '%s'", name);
    }
}

jv jj_filter(jctx *c, const char *name, jv in, const jv *args, size_t n, jstr *const *kw,
             const jv *kwv, size_t nkw) {
    int k = FIND(filter_names, name);
    jj_tick(c);
    if (k >= 15 && k <= 28) return list_filter(c, name, k, in, args, n, kw, kwv, nkw);
    switch (k) {
    case 0: { /* tojson */
        BIND("indent", "sort_keys", "separators", "ensure_ascii");
        json_dump_opts o = {NULL, NULL, NULL, jj_truthy(p[1])};
        if (p[0].t == JT_STR)
            o.indent = p[0].s->p;
        else if (!jj_missing(c, p[0]) && p[0].t != JT_NONE) {
            int64_t w = want_int(c, p[0], 0, "indent");
            if (w > 64) jj_error(c, "tojson indent wider than 64");
            o.indent = jj_str(c, "                                                                ",
                              w < 0 ? 0 : (size_t)w)
                           ->p;
        }
        if (p[2].t == JT_LIST && p[2].l->n == 2) {
            o.item_sep = want_str(c, p[2].l->v[0], "separator")->p;
            o.key_sep = want_str(c, p[2].l->v[1], "separator")->p;
        } else if (!jj_missing(c, p[2]) && p[2].t != JT_NONE) {
            jj_error(c, "tojson separators must be a pair of strings");
        }
        jsb r = {0};
        jj_tojson(c, &r, in, &o);
        return jv_str(jsb_str(c, &r));
    }
    case 1: { /* join */
        BIND("d", "attribute");
        jlist *items = jj_iter_list(c, in);
        jstr *sep = jj_missing(c, p[0]) ? NULL : jj_string(c, p[0]);
        jstr *attr =
            jj_missing(c, p[1]) || p[1].t == JT_NONE ? NULL : want_str(c, p[1], "attribute");
        jsb r = {0};
        for (size_t i = 0; i < items->n; i++) {
            if (i && sep) jsb_put(c, &r, sep->p, sep->n);
            jj_tostr(c, &r, attr ? attr_path(c, items->v[i], attr) : items->v[i]);
        }
        return jv_str(jsb_str(c, &r));
    }
    case 2:
    case 3: /* length, count */
        NO_ARGS();
        switch (in.t) {
        case JT_STR: return jv_int((int64_t)jj_utf8_len(in.s));
        case JT_LIST: return jv_int((int64_t)in.l->n);
        case JT_DICT:
        case JT_NS: return jv_int((int64_t)in.d->n);
        case JT_UNDEF: return jv_int(0);
        default: jj_error(c, "object of type '%s' has no len()", jj_type_name(in));
        }
    case 4: { /* trim */
        BIND("chars");
        jstr *chars = jj_missing(c, p[0]) || p[0].t == JT_NONE ? NULL : want_str(c, p[0], "chars");
        return jv_str(jj_strip(c, jj_string(c, in), chars, 1, 1));
    }
    case 5: NO_ARGS(); return jv_str(jj_case(c, jj_string(c, in), 1));
    case 6: NO_ARGS(); return jv_str(jj_case(c, jj_string(c, in), 0));
    case 7: NO_ARGS(); return jv_str(jj_case(c, jj_string(c, in), 2));
    case 8: NO_ARGS(); return jv_str(jj_case(c, jj_string(c, in), 4));
    case 9: { /* replace */
        BIND("old", "new", "count");
        if (jj_missing(c, p[0]) || jj_missing(c, p[1])) jj_error(c, "replace needs old and new");
        return jv_str(jj_replace(c, jj_string(c, in), jj_string(c, p[0]), jj_string(c, p[1]),
                                 want_int(c, p[2], -1, "count")));
    }
    case 10:
    case 11: { /* default, d */
        BIND("default_value", "boolean");
        jv d = jj_missing(c, p[0]) ? jv_str(jj_str(c, "", 0)) : p[0];
        if (in.t == JT_UNDEF || (jj_truthy(p[1]) && !jj_truthy(in))) return d;
        return in;
    }
    case 12: NO_ARGS(); return jv_str(jj_string(c, in));
    case 13: {
        BIND("default", "base");
        return to_number(c, in, p[0], 0);
    }
    case 14: {
        BIND("default");
        return to_number(c, in, p[0], 1);
    }
    case 29: { /* indent */
        BIND("width", "first", "blank");
        return do_indent(c, jj_string(c, in), p[0], jj_truthy(p[1]), jj_truthy(p[2]));
    }
    case 30: NO_ARGS(); return in; /* safe: no autoescaping here */
    case 31:
        NO_ARGS();
        if (in.t == JT_INT && in.i != INT64_MIN) return jv_int(in.i < 0 ? -in.i : in.i);
        if (in.t == JT_FLOAT) return jv_float(fabs(in.f));
        if (in.t == JT_BOOL) return jv_int(in.b);
        jj_error(c, "bad operand type for abs(): '%s'", jj_type_name(in));
    default: jj_error(c, "unknown filter '%s'", name);
    }
}
