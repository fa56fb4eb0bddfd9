/* Python methods templates call on values (str.startswith, dict.get,
 * list.append, ...) and the global functions (range, namespace, dict,
 * raise_exception, strftime_now). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/jinja/internal.h"

/* ---- string helpers ---------------------------------------------------- */
static int py_space(unsigned char ch) {
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

static size_t cp_len(const char *p, size_t avail) {
    size_t n = 1;
    while (n < avail && ((unsigned char)p[n] & 0xC0) == 0x80)
        n++;
    return n;
}

/* Is the code point p[0..n) one of chars' code points? */
static int cp_in(const jstr *chars, const char *p, size_t n) {
    for (size_t i = 0; i < chars->n;) {
        size_t k = cp_len(chars->p + i, chars->n - i);
        if (k == n && !memcmp(chars->p + i, p, n)) return 1;
        i += k;
    }
    return 0;
}

jstr *jj_strip(jctx *c, jstr *s, const jstr *chars, int left, int right) {
    size_t a = 0, b = s->n;
    while (left && a < b) {
        size_t k = chars ? cp_len(s->p + a, b - a) : 1;
        if (chars ? !cp_in(chars, s->p + a, k) : !py_space((unsigned char)s->p[a])) break;
        a += k;
    }
    while (right && b > a) {
        size_t st = b - 1;
        while (chars && st > a && ((unsigned char)s->p[st] & 0xC0) == 0x80)
            st--;
        if (chars ? !cp_in(chars, s->p + st, b - st) : !py_space((unsigned char)s->p[st])) break;
        b = st;
    }
    return jj_str(c, s->p + a, b - a);
}

static int is_lower(char ch) {
    return ch >= 'a' && ch <= 'z';
}
static int is_upper(char ch) {
    return ch >= 'A' && ch <= 'Z';
}

jstr *jj_case(jctx *c, jstr *s, int mode) {
    jstr *r = jj_str(c, s->p, s->n);
    int prev_cased = 0;
    for (size_t i = 0; i < r->n; i++) {
        char ch = r->p[i];
        int up;
        if (mode == 0)
            up = 0;
        else if (mode == 1)
            up = 1;
        else if (mode == 2)
            up = i == 0;
        else if (mode == 3)
            up = !prev_cased;
        else
            up = i == 0 || strchr("- \t\n\r\v\f({[<", r->p[i - 1]) != NULL;
        if (up && is_lower(ch))
            r->p[i] = (char)(ch - 'a' + 'A');
        else if (!up && is_upper(ch))
            r->p[i] = (char)(ch - 'A' + 'a');
        prev_cased = is_lower(ch) || is_upper(ch) || (unsigned char)ch >= 0x80;
    }
    return r;
}

jstr *jj_replace(jctx *c, jstr *s, jstr *old, jstr *new_, int64_t count) {
    jsb r = {0};
    size_t i = 0;
    int64_t done = 0;
    if (!old->n) { /* Python inserts `new` around every character */
        for (;;) {
            if (count < 0 || done < count) {
                jsb_put(c, &r, new_->p, new_->n);
                done++;
            }
            if (i >= s->n) break;
            size_t k = cp_len(s->p + i, s->n - i);
            jsb_put(c, &r, s->p + i, k);
            i += k;
        }
        return jsb_str(c, &r);
    }
    while (i < s->n) {
        if ((count < 0 || done < count) && s->n - i >= old->n &&
            !memcmp(s->p + i, old->p, old->n)) {
            jsb_put(c, &r, new_->p, new_->n);
            i += old->n;
            done++;
        } else {
            jsb_put(c, &r, s->p + i, 1);
            i++;
        }
    }
    return jsb_str(c, &r);
}

static jv split(jctx *c, jstr *s, jv sepv, int64_t maxsplit) {
    jv out = jv_list(c, 0);
    size_t i = 0;
    if (sepv.t == JT_NONE || jj_missing(c, sepv)) { /* runs of white space */
        for (;;) {
            while (i < s->n && py_space((unsigned char)s->p[i]))
                i++;
            if (i >= s->n) break;
            size_t st = i;
            if (maxsplit >= 0 && (int64_t)out.l->n >= maxsplit) {
                size_t e = s->n;
                while (e > st && py_space((unsigned char)s->p[e - 1]))
                    e--;
                jlist_push(c, out.l, jv_str(jj_str(c, s->p + st, e - st)));
                break;
            }
            while (i < s->n && !py_space((unsigned char)s->p[i]))
                i++;
            jlist_push(c, out.l, jv_str(jj_str(c, s->p + st, i - st)));
        }
        return out;
    }
    if (sepv.t != JT_STR) jj_error(c, "split: the separator must be a string");
    jstr *sep = sepv.s;
    if (!sep->n) jj_error(c, "split: empty separator");
    size_t st = 0;
    while (i + sep->n <= s->n && (maxsplit < 0 || (int64_t)out.l->n < maxsplit)) {
        if (!memcmp(s->p + i, sep->p, sep->n)) {
            jlist_push(c, out.l, jv_str(jj_str(c, s->p + st, i - st)));
            i += sep->n;
            st = i;
        } else {
            i++;
        }
    }
    jlist_push(c, out.l, jv_str(jj_str(c, s->p + st, s->n - st)));
    return out;
}

static int affix(jctx *c, jstr *s, jv what, int end) {
    if (what.t == JT_LIST) {
        for (size_t i = 0; i < what.l->n; i++)
            if (affix(c, s, what.l->v[i], end)) return 1;
        return 0;
    }
    if (what.t != JT_STR) jj_error(c, "%s: expected a string", end ? "endswith" : "startswith");
    if (what.s->n > s->n) return 0;
    return !memcmp(s->p + (end ? s->n - what.s->n : 0), what.s->p, what.s->n);
}

/* str.format with {} / {0} / {name} fields and !r / !s conversions */
static jv format(jctx *c, jstr *f, const jv *args, size_t n, jstr *const *kw, const jv *kwv,
                 size_t nkw) {
    jsb r = {0};
    size_t auto_i = 0;
    for (size_t i = 0; i < f->n; i++) {
        char ch = f->p[i];
        if ((ch == '{' || ch == '}') && i + 1 < f->n && f->p[i + 1] == ch) {
            jsb_put(c, &r, &ch, 1);
            i++;
            continue;
        }
        if (ch == '}') jj_error(c, "format: single '}'");
        if (ch != '{') {
            jsb_put(c, &r, &ch, 1);
            continue;
        }
        size_t e = i + 1;
        while (e < f->n && f->p[e] != '}')
            e++;
        if (e >= f->n) jj_error(c, "format: '{' not closed");
        jstr *field = jj_str(c, f->p + i + 1, e - i - 1);
        char *bang = strchr(field->p, '!');
        int repr = bang && bang[1] == 'r';
        if (bang) *bang = '\0';
        if (strchr(field->p, ':')) jj_error(c, "format: format specifications are not supported");
        jv v;
        if (!field->p[0] || (field->p[0] >= '0' && field->p[0] <= '9')) {
            size_t k = field->p[0] ? (size_t)strtoul(field->p, NULL, 10) : auto_i++;
            if (k >= n) jj_error(c, "format: no argument %zu", k);
            v = args[k];
        } else {
            size_t k = 0;
            while (k < nkw && strcmp(kw[k]->p, field->p))
                k++;
            if (k == nkw) jj_error(c, "format: no argument '%s'", field->p);
            v = kwv[k];
        }
        if (repr)
            jj_repr(c, &r, v, 0);
        else
            jj_tostr(c, &r, v);
        i = e;
    }
    return jv_str(jsb_str(c, &r));
}

#define BIND(...)                                                                                  \
    const char *const params[] = {__VA_ARGS__};                                                    \
    jv p[sizeof params / sizeof params[0]];                                                        \
    jj_bind(c, name, params, sizeof params / sizeof params[0], args, n, kw, kwv, nkw, p)
#define NO_ARGS() jj_bind(c, name, NULL, 0, args, n, kw, kwv, nkw, NULL)

static int str_method(jctx *c, jstr *s, const char *name, const jv *args, size_t n, jstr *const *kw,
                      const jv *kwv, size_t nkw, jv *out) {
    static const char *const cases[] = {"lower", "upper", "capitalize", "title"};
    for (int m = 0; m < 4; m++)
        if (!strcmp(name, cases[m])) {
            NO_ARGS();
            *out = jv_str(jj_case(c, s, m));
            return 1;
        }
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        BIND("chars");
        jstr *chars = jj_missing(c, p[0]) || p[0].t == JT_NONE ? NULL : jj_string(c, p[0]);
        *out = jv_str(jj_strip(c, s, chars, name[0] != 'r', name[0] != 'l'));
    } else if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        BIND("prefix");
        *out = jv_bool(affix(c, s, p[0], name[0] == 'e'));
    } else if (!strcmp(name, "split")) {
        BIND("sep", "maxsplit");
        int64_t m = p[1].t == JT_INT ? p[1].i : -1;
        *out = split(c, s, p[0], m);
    } else if (!strcmp(name, "replace")) {
        BIND("old", "new", "count");
        if (p[0].t != JT_STR || p[1].t != JT_STR) jj_error(c, "replace needs two strings");
        *out = jv_str(jj_replace(c, s, p[0].s, p[1].s, p[2].t == JT_INT ? p[2].i : -1));
    } else if (!strcmp(name, "format")) {
        *out = format(c, s, args, n, kw, kwv, nkw);
    } else if (!strcmp(name, "join")) {
        BIND("iterable");
        jlist *items = jj_iter_list(c, p[0]);
        jsb r = {0};
        for (size_t i = 0; i < items->n; i++) {
            if (i) jsb_put(c, &r, s->p, s->n);
            if (items->v[i].t != JT_STR) jj_error(c, "join: item %zu is not a string", i);
            jsb_put(c, &r, items->v[i].s->p, items->v[i].s->n);
        }
        *out = jv_str(jsb_str(c, &r));
    } else if (!strcmp(name, "find") || !strcmp(name, "count")) {
        BIND("sub");
        if (p[0].t != JT_STR) jj_error(c, "%s needs a string", name);
        jstr *sub = p[0].s;
        int64_t hits = 0, at = -1;
        for (size_t i = 0; i + sub->n <= s->n; i++)
            if (!memcmp(s->p + i, sub->p, sub->n)) {
                if (at < 0) at = (int64_t)jj_utf8_len(jj_str(c, s->p, i));
                hits++;
                if (sub->n) i += sub->n - 1;
            }
        *out = jv_int(name[0] == 'f' ? at : hits);
    } else {
        return 0;
    }
    return 1;
}

int jj_call_method(jctx *c, jv obj, const char *name, const jv *args, size_t n, jstr *const *kw,
                   const jv *kwv, size_t nkw, jv *out) {
    if (obj.t == JT_STR) return str_method(c, obj.s, name, args, n, kw, kwv, nkw, out);
    if (obj.t == JT_DICT) {
        if (!strcmp(name, "get")) {
            BIND("key", "default");
            const jv *v = jdict_get(obj.d, p[0]);
            *out = v ? *v : jj_missing(c, p[1]) ? jv_none() : p[1];
            return 1;
        }
        if (!strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values")) {
            *out = jj_filter(c, name, obj, args, n, kw, kwv, nkw);
            return 1;
        }
        return 0;
    }
    if (obj.t == JT_LOOP && !strcmp(name, "cycle")) { /* loop.cycle(a, b, ...) */
        if (!n) jj_error(c, "loop.cycle needs at least one value");
        *out = args[obj.loop->index0 % n];
        return 1;
    }
    if (obj.t == JT_LIST && !strcmp(name, "append")) {
        BIND("object");
        jlist_push(c, obj.l, p[0]);
        *out = jv_none();
        return 1;
    }
    return 0;
}

/* ---- globals ----------------------------------------------------------- */
void jj_add_globals(jctx *c, jscope *g) {
    static const char *const names[] = {"range", "namespace", "raise_exception", "strftime_now",
                                        "dict"};
    static const int fns[] = {FN_RANGE, FN_NAMESPACE, FN_RAISE, FN_STRFTIME, FN_DICT};
    for (int i = 0; i < 5; i++)
        jdict_set(c, &g->vars, jv_cstr(c, names[i]), (jv){.t = JT_FUNC, .fn = fns[i]});
}

jv jj_call_global(jctx *c, int fn, const jv *args, size_t n, jstr *const *kw, const jv *kwv,
                  size_t nkw) {
    const char *name = fn == FN_RANGE   ? "range"
                       : fn == FN_RAISE ? "raise_exception"
                                        : "strftime_now";
    if (fn == FN_NAMESPACE || fn == FN_DICT) {
        jv d = jv_dict(c, fn == FN_NAMESPACE ? JT_NS : JT_DICT);
        for (size_t i = 0; i < n; i++) { /* namespace(mapping, k=v) */
            if (args[i].t != JT_DICT && args[i].t != JT_NS)
                jj_error(c, "namespace() takes mappings and name=value");
            for (size_t k = 0; k < args[i].d->n; k++)
                jdict_set(c, d.d, args[i].d->k[k], args[i].d->v[k]);
        }
        for (size_t i = 0; i < nkw; i++)
            jdict_set(c, d.d, jv_str(kw[i]), kwv[i]);
        return d;
    }
    if (fn == FN_RAISE) {
        BIND("message");
        jj_error(c, "the template raised an error: %s", jj_string(c, p[0])->p);
    }
    if (fn == FN_STRFTIME) {
        BIND("format");
        if (p[0].t != JT_STR) jj_error(c, "strftime_now needs a format string");
        time_t t = time(NULL);
        struct tm tm;
        char buf[512];
        size_t len = 0;
        if (localtime_r(&t, &tm)) len = strftime(buf, sizeof buf, p[0].s->p, &tm);
        return jv_str(jj_str(c, buf, len));
    }
    BIND("start", "stop", "step");
    int64_t a = 0, b, st = 1;
    for (int i = 0; i < 3; i++)
        if (!jj_missing(c, p[i]) && p[i].t != JT_INT) jj_error(c, "range() needs integers");
    if (jj_missing(c, p[1])) {
        if (jj_missing(c, p[0])) jj_error(c, "range() needs an argument");
        b = p[0].i;
    } else {
        a = p[0].i;
        b = p[1].i;
        if (!jj_missing(c, p[2])) st = p[2].i;
    }
    if (st == 0) jj_error(c, "range() step must not be zero");
    jv out = jv_list(c, 0);
    for (int64_t i = a; st > 0 ? i < b : i > b;) {
        if (out.l->n >= c->lim.max_iterations)
            jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "range() longer than the iteration limit");
        jlist_push(c, out.l, jv_int(i));
        if (__builtin_add_overflow(i, st, &i)) break;
    }
    return out;
}
