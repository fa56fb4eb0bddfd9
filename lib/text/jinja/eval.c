/* The renderer: runs the tree with Jinja2's scoping (a for loop and a macro
 * call open a scope; `set` writes the innermost one, so a loop cannot change
 * an outer variable except through a namespace), its lenient Undefined
 * (printing it gives "", testing it gives false, using its attributes or
 * doing arithmetic with it is an error), and the limits of jj_limits. */
#include <math.h>
#include <string.h>

#include "text/jinja/internal.h"

static void enter(jctx *c, uint32_t pos) {
    if (++c->depth > c->lim.max_depth)
        jj_fail(c, LFM2MOE_ERR_LIMIT, pos, "rendering nested deeper than %d", c->lim.max_depth);
    jj_tick(c);
}

/* ---- scopes ------------------------------------------------------------ */
jscope *jj_scope_new(jctx *c, jscope *parent) {
    jscope *s = jj_alloc(c, sizeof *s);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

void jj_scope_set(jctx *c, jscope *s, jstr *name, jv v) {
    jdict_set(c, &s->vars, jv_str(name), v);
}

jv jj_lookup(jscope *s, jstr *name) {
    for (; s; s = s->parent) {
        const jv *v = jdict_get(&s->vars, jv_str(name));
        if (v) return *v;
    }
    return jv_undef(name);
}

_Noreturn void jj_undefined_error(jctx *c, jv v) {
    if (v.s) jj_error(c, "'%s' is undefined", v.s->p);
    jj_error(c, "use of an undefined value");
}

/* ---- attribute and item access ---------------------------------------- */
static jv loop_attr(jctx *c, const jloop *l, const char *k) {
    size_t i = l->index0, n = l->items->n;
    if (!strcmp(k, "index")) return jv_int((int64_t)i + 1);
    if (!strcmp(k, "index0")) return jv_int((int64_t)i);
    if (!strcmp(k, "revindex")) return jv_int((int64_t)(n - i));
    if (!strcmp(k, "revindex0")) return jv_int((int64_t)(n - i - 1));
    if (!strcmp(k, "first")) return jv_bool(i == 0);
    if (!strcmp(k, "last")) return jv_bool(i + 1 == n);
    if (!strcmp(k, "length")) return jv_int((int64_t)n);
    if (!strcmp(k, "depth")) return jv_int(1);
    if (!strcmp(k, "depth0")) return jv_int(0);
    if (!strcmp(k, "previtem"))
        return i > 0 ? l->items->v[i - 1] : jv_undef(jj_cstr(c, "previtem"));
    if (!strcmp(k, "nextitem"))
        return i + 1 < n ? l->items->v[i + 1] : jv_undef(jj_cstr(c, "nextitem"));
    return jv_undef(jj_cstr(c, k));
}

jv jj_getattr(jctx *c, jv obj, jstr *name) {
    if (obj.t == JT_UNDEF) jj_undefined_error(c, obj);
    if (obj.t == JT_DICT || obj.t == JT_NS) {
        const jv *v = jdict_get(obj.d, jv_str(name));
        return v ? *v : jv_undef(name);
    }
    if (obj.t == JT_LOOP) return loop_attr(c, obj.loop, name->p);
    return jv_undef(name);
}

/* Python slice bounds for a sequence of n elements. */
static void slice_bounds(jctx *c, int64_t n, jv a, jv b, jv st, int64_t *start, int64_t *stop,
                         int64_t *step) {
    *step = 1;
    if (st.t == JT_INT)
        *step = st.i;
    else if (st.t != JT_NONE && st.t != JT_UNDEF)
        jj_error(c, "slice step must be an integer");
    if (*step == 0) jj_error(c, "slice step cannot be zero");
    if (*step == INT64_MIN) *step = -INT64_MAX;
    jv bounds[2] = {a, b};
    int64_t out[2];
    for (int k = 0; k < 2; k++) {
        jv v = bounds[k];
        if (v.t == JT_NONE || v.t == JT_UNDEF) {
            out[k] = *step > 0 ? (k ? n : 0) : (k ? -1 : n - 1);
            continue;
        }
        if (v.t != JT_INT && v.t != JT_BOOL) jj_error(c, "slice indices must be integers");
        int64_t x = v.t == JT_INT ? v.i : v.b;
        if (x < 0)
            x = x < -n ? (*step > 0 ? 0 : -1) : x + n;
        else if (x >= n)
            x = *step > 0 ? n : n - 1;
        out[k] = x;
    }
    *start = out[0];
    *stop = out[1];
}

static jv slice(jctx *c, jv obj, jv a, jv b, jv st) {
    int64_t start, stop, step;
    if (obj.t == JT_LIST) {
        slice_bounds(c, (int64_t)obj.l->n, a, b, st, &start, &stop, &step);
        jv r = jv_list(c, 0);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            jlist_push(c, r.l, obj.l->v[i]);
            if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
        }
        return r;
    }
    if (obj.t == JT_STR) {
        int ascii = jj_is_ascii(obj.s);
        int64_t n = ascii ? (int64_t)obj.s->n : (int64_t)jj_utf8_len(obj.s);
        slice_bounds(c, n, a, b, st, &start, &stop, &step);
        if (ascii && step == 1)
            return jv_str(jj_str(c, obj.s->p + start, start < stop ? (size_t)(stop - start) : 0));
        size_t *off = jj_alloc(c, ((size_t)n + 1) * sizeof *off);
        for (size_t i = 0, k = 0; i <= obj.s->n; i++)
            if (i == obj.s->n || ((unsigned char)obj.s->p[i] & 0xC0) != 0x80) off[k++] = i;
        jsb r = {0};
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            jsb_put(c, &r, obj.s->p + off[i], off[i + 1] - off[i]);
            if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
        }
        return jv_str(jsb_str(c, &r));
    }
    if (obj.t == JT_UNDEF) jj_undefined_error(c, obj);
    return jv_undef(NULL); /* as Jinja2's getitem: what cannot be sliced is undefined */
}

jv jj_getitem(jctx *c, jv obj, jv key) {
    if (obj.t == JT_UNDEF) jj_undefined_error(c, obj);
    if (obj.t == JT_DICT || obj.t == JT_NS) {
        const jv *v = jdict_get(obj.d, key);
        return v ? *v : jv_undef(key.t == JT_STR ? key.s : NULL);
    }
    if ((obj.t == JT_LIST || obj.t == JT_STR) && (key.t == JT_INT || key.t == JT_BOOL)) {
        int64_t i = key.t == JT_INT ? key.i : key.b;
        int64_t n = obj.t == JT_LIST ? (int64_t)obj.l->n : (int64_t)jj_utf8_len(obj.s);
        if (i < 0) i += n;
        if (i < 0 || i >= n) return jv_undef(NULL);
        if (obj.t == JT_LIST) return obj.l->v[i];
        size_t o = jj_utf8_offset(obj.s, (size_t)i), e = jj_utf8_offset(obj.s, (size_t)i + 1);
        return jv_str(jj_str(c, obj.s->p + o, e - o));
    }
    if (key.t == JT_STR) return jj_getattr(c, obj, key.s);
    return jv_undef(NULL);
}

/* ---- operators --------------------------------------------------------- */
static int is_num(jv v) {
    return v.t == JT_INT || v.t == JT_FLOAT || v.t == JT_BOOL;
}
static double as_f(jv v) {
    return v.t == JT_FLOAT ? v.f : v.t == JT_INT ? (double)v.i : v.b;
}
static int64_t as_i(jv v) {
    return v.t == JT_INT ? v.i : v.b;
}

static jv repeat(jctx *c, jv seq, int64_t k) {
    if (k < 0) k = 0;
    size_t unit = seq.t == JT_STR ? seq.s->n : seq.l->n * sizeof(jv);
    if (unit && (uint64_t)k > c->lim.max_memory / unit)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "repetition larger than the memory limit");
    if (seq.t == JT_STR) {
        jsb b = {0};
        for (int64_t i = 0; i < k; i++)
            jsb_put(c, &b, seq.s->p, seq.s->n);
        return jv_str(jsb_str(c, &b));
    }
    jv r = jv_list(c, 0);
    for (int64_t i = 0; i < k; i++)
        for (size_t j = 0; j < seq.l->n; j++)
            jlist_push(c, r.l, seq.l->v[j]);
    return r;
}

static jv arith(jctx *c, int op, jv a, jv b) {
    static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
    if (a.t == JT_UNDEF) jj_undefined_error(c, a);
    if (b.t == JT_UNDEF) jj_undefined_error(c, b);
    if (is_num(a) && is_num(b)) {
        int ints = a.t != JT_FLOAT && b.t != JT_FLOAT;
        int64_t x = as_i(a), y = as_i(b), r;
        double fx = as_f(a), fy = as_f(b);
        switch (op) {
        case OP_ADD:
            if (!ints) return jv_float(fx + fy);
            if (__builtin_add_overflow(x, y, &r)) break;
            return jv_int(r);
        case OP_SUB:
            if (!ints) return jv_float(fx - fy);
            if (__builtin_sub_overflow(x, y, &r)) break;
            return jv_int(r);
        case OP_MUL:
            if (!ints) return jv_float(fx * fy);
            if (__builtin_mul_overflow(x, y, &r)) break;
            return jv_int(r);
        case OP_DIV:
            if (fy == 0) jj_error(c, "division by zero");
            return jv_float(fx / fy);
        case OP_FLOORDIV:
        case OP_MOD:
            if (ints ? y == 0 : fy == 0) jj_error(c, "division by zero");
            if (ints) {
                if (x == INT64_MIN && y == -1) break;
                int64_t q = x / y, m = x % y;
                if (m && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                return jv_int(op == OP_MOD ? m : q);
            } else {
                double m = fmod(fx, fy);
                if (m && ((m < 0) != (fy < 0))) m += fy;
                return jv_float(op == OP_MOD ? m : floor((fx - m) / fy + 0.5));
            }
        case OP_POW:
            if (ints &&
                y >= 0) { /* by squaring; overflow of a needed square is overflow of the result */
                int64_t p = 1, base = x;
                for (int64_t e = y; e; e >>= 1) {
                    if ((e & 1) && __builtin_mul_overflow(p, base, &p))
                        jj_error(c, "integer overflow");
                    if ((e >> 1) && __builtin_mul_overflow(base, base, &base))
                        jj_error(c, "integer overflow");
                }
                return jv_int(p);
            }
            return jv_float(pow(fx, fy));
        }
        jj_error(c, "integer overflow");
    }
    if (op == OP_ADD && a.t == JT_STR && b.t == JT_STR) {
        jsb r = {0};
        jsb_put(c, &r, a.s->p, a.s->n);
        jsb_put(c, &r, b.s->p, b.s->n);
        return jv_str(jsb_str(c, &r));
    }
    if (op == OP_ADD && a.t == JT_LIST && b.t == JT_LIST) {
        jv r = jv_list(c, a.l->n + b.l->n);
        if (a.l->n) memcpy(r.l->v, a.l->v, a.l->n * sizeof(jv));
        if (b.l->n) memcpy(r.l->v + a.l->n, b.l->v, b.l->n * sizeof(jv));
        r.l->n = a.l->n + b.l->n;
        return r;
    }
    if (op == OP_MUL && (a.t == JT_STR || a.t == JT_LIST) && (b.t == JT_INT || b.t == JT_BOOL))
        return repeat(c, a, as_i(b));
    if (op == OP_MUL && (b.t == JT_STR || b.t == JT_LIST) && (a.t == JT_INT || a.t == JT_BOOL))
        return repeat(c, b, as_i(a));
    jj_error(c, "unsupported operand types for %s: '%s' and '%s'", sym[op], jj_type_name(a),
             jj_type_name(b));
}

int jj_contains(jctx *c, jv hay, jv needle) {
    switch (hay.t) {
    case JT_STR:
        if (needle.t != JT_STR)
            jj_error(c, "'in <string>' requires a string, not '%s'", jj_type_name(needle));
        if (!needle.s->n) return 1;
        if (needle.s->n > hay.s->n) return 0;
        for (size_t i = 0; i + needle.s->n <= hay.s->n; i++)
            if (!memcmp(hay.s->p + i, needle.s->p, needle.s->n)) return 1;
        return 0;
    case JT_LIST:
        for (size_t i = 0; i < hay.l->n; i++)
            if (jj_equal(c, hay.l->v[i], needle, 0)) return 1;
        return 0;
    case JT_DICT:
    case JT_NS: return jdict_get(hay.d, needle) != NULL;
    case JT_UNDEF: return 0;
    default: jj_error(c, "argument of type '%s' is not iterable", jj_type_name(hay));
    }
}

static jv compare(jctx *c, int op, jv a, jv b) {
    switch (op) {
    case OP_EQ: return jv_bool(jj_equal(c, a, b, 0));
    case OP_NE: return jv_bool(!jj_equal(c, a, b, 0));
    case OP_IN: return jv_bool(jj_contains(c, b, a));
    case OP_NOTIN: return jv_bool(!jj_contains(c, b, a));
    default: break;
    }
    if (a.t == JT_UNDEF) jj_undefined_error(c, a);
    if (b.t == JT_UNDEF) jj_undefined_error(c, b);
    int r = jj_compare(c, a, b);
    return jv_bool(op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0);
}

/* ---- calls ------------------------------------------------------------- */
typedef struct call_args {
    jv *args, *kwv;
    jstr *const *kw;
    size_t n, nkw;
} call_args;

static call_args eval_args(jctx *c, jscope *s, const jnode *n) {
    call_args a = {NULL, NULL, n->names, n->args.n, n->kwargs.n};
    if (a.n) a.args = jj_alloc(c, a.n * sizeof(jv));
    if (a.nkw) a.kwv = jj_alloc(c, a.nkw * sizeof(jv));
    for (size_t i = 0; i < a.n; i++)
        a.args[i] = jj_eval(c, s, n->args.v[i]);
    for (size_t i = 0; i < a.nkw; i++)
        a.kwv[i] = jj_eval(c, s, n->kwargs.v[i]);
    return a;
}

static jv call(jctx *c, jscope *s, const jnode *n) {
    call_args a = eval_args(c, s, n);
    jv fn;
    if (n->a->kind == E_ATTR) {
        jv obj = jj_eval(c, s, n->a->a);
        jv out;
        c->pos = n->pos;
        if (obj.t != JT_UNDEF &&
            jj_call_method(c, obj, n->a->name->p, a.args, a.n, a.kw, a.kwv, a.nkw, &out))
            return out;
        fn = jj_getattr(c, obj, n->a->name);
    } else {
        fn = jj_eval(c, s, n->a);
    }
    c->pos = n->pos;
    if (fn.t == JT_MACRO) return jj_call_macro(c, fn, a.args, a.n, a.kw, a.kwv, a.nkw);
    if (fn.t == JT_FUNC) return jj_call_global(c, fn.fn, a.args, a.n, a.kw, a.kwv, a.nkw);
    if (fn.t == JT_UNDEF) jj_undefined_error(c, fn);
    jj_error(c, "'%s' object is not callable", jj_type_name(fn));
}

void jj_exec_capture(jctx *c, jscope *s, const jblock *b, jsb *into) {
    jsb *saved = c->out;
    c->out = into;
    jj_exec_block(c, s, b);
    c->out = saved;
}

jv jj_call_macro(jctx *c, jv m, const jv *args, size_t n, jstr *const *kw, const jv *kwv,
                 size_t nkw) {
    const jnode *def = m.m->def;
    uint32_t pos = c->pos;
    jj_count_iteration(c);
    enter(c, pos);
    if (n > def->n_names)
        jj_error(c, "macro '%s' takes not more than %zu argument(s)", def->name->p, def->n_names);
    jscope *sc = jj_scope_new(c, m.m->scope);
    int *given = jj_alloc(c, (def->n_names + 1) * sizeof *given);
    memset(given, 0, (def->n_names + 1) * sizeof *given);
    for (size_t i = 0; i < n; i++) {
        jj_scope_set(c, sc, def->names[i], args[i]);
        given[i] = 1;
    }
    for (size_t k = 0; k < nkw; k++) {
        size_t i = 0;
        while (i < def->n_names && strcmp(def->names[i]->p, kw[k]->p))
            i++;
        if (i == def->n_names)
            jj_error(c, "macro '%s' has no argument '%s'", def->name->p, kw[k]->p);
        if (given[i]) jj_error(c, "macro '%s' got argument '%s' twice", def->name->p, kw[k]->p);
        jj_scope_set(c, sc, def->names[i], kwv[k]);
        given[i] = 1;
    }
    for (size_t i = 0; i < def->n_names; i++)
        if (!given[i])
            jj_scope_set(c, sc, def->names[i],
                         def->args.v[i] ? jj_eval(c, sc, def->args.v[i]) : jv_undef(def->names[i]));
    jsb out = {0};
    jj_exec_capture(c, sc, &def->body, &out);
    c->loop_ctl = 0;
    c->depth--;
    c->pos = pos;
    return jv_str(jsb_str(c, &out));
}

/* ---- expressions ------------------------------------------------------ */
static jv eval_node(jctx *c, jscope *s, const jnode *n) {
    switch (n->kind) {
    case E_LIT: return n->lit;
    case E_NAME: return jj_lookup(s, n->name);
    case E_ATTR: {
        jv obj = jj_eval(c, s, n->a);
        c->pos = n->pos;
        return jj_getattr(c, obj, n->name);
    }
    case E_ITEM: {
        jv obj = jj_eval(c, s, n->a), key = jj_eval(c, s, n->b);
        c->pos = n->pos;
        return jj_getitem(c, obj, key);
    }
    case E_SLICE: {
        jv obj = jj_eval(c, s, n->a);
        jv a = n->b ? jj_eval(c, s, n->b) : jv_none(), b = n->c ? jj_eval(c, s, n->c) : jv_none();
        jv st = n->d ? jj_eval(c, s, n->d) : jv_none();
        c->pos = n->pos;
        return slice(c, obj, a, b, st);
    }
    case E_CALL: return call(c, s, n);
    case E_FILTER: {
        jv in = jj_eval(c, s, n->a);
        call_args a = eval_args(c, s, n);
        c->pos = n->pos;
        return jj_filter(c, n->name->p, in, a.args, a.n, a.kw, a.kwv, a.nkw);
    }
    case E_TEST: {
        jv v = jj_eval(c, s, n->a);
        call_args a = eval_args(c, s, n);
        c->pos = n->pos;
        int r = jj_test(c, n->name->p, v, a.args, a.n);
        return jv_bool(n->op ? !r : r);
    }
    case E_BIN: {
        jv a = jj_eval(c, s, n->a), b = jj_eval(c, s, n->b);
        c->pos = n->pos;
        if (n->op == OP_CONCAT) {
            jsb r = {0};
            jj_tostr(c, &r, a);
            jj_tostr(c, &r, b);
            return jv_str(jsb_str(c, &r));
        }
        return arith(c, n->op, a, b);
    }
    case E_CMP: {
        jv a = jj_eval(c, s, n->a), b = jj_eval(c, s, n->b);
        c->pos = n->pos;
        return compare(c, n->op, a, b);
    }
    case E_NEG:
    case E_POS: {
        jv a = jj_eval(c, s, n->a);
        c->pos = n->pos;
        if (a.t == JT_BOOL) a = jv_int(a.b);
        if (n->kind == E_POS && (a.t == JT_INT || a.t == JT_FLOAT)) return a;
        if (a.t == JT_INT && a.i != INT64_MIN) return jv_int(-a.i);
        if (a.t == JT_FLOAT) return jv_float(-a.f);
        if (a.t == JT_UNDEF) jj_undefined_error(c, a);
        jj_error(c, "bad operand type for unary %c: '%s'", n->kind == E_NEG ? '-' : '+',
                 jj_type_name(a));
    }
    case E_NOT: return jv_bool(!jj_truthy(jj_eval(c, s, n->a)));
    case E_AND: {
        jv a = jj_eval(c, s, n->a);
        return jj_truthy(a) ? jj_eval(c, s, n->b) : a;
    }
    case E_OR: {
        jv a = jj_eval(c, s, n->a);
        return jj_truthy(a) ? a : jj_eval(c, s, n->b);
    }
    case E_COND:
        if (jj_truthy(jj_eval(c, s, n->a))) return jj_eval(c, s, n->b);
        return n->c ? jj_eval(c, s, n->c) : jv_undef(NULL);
    case E_LIST: {
        jv l = jv_list(c, n->args.n);
        l.l->tuple = n->op;
        for (size_t i = 0; i < n->args.n; i++)
            l.l->v[l.l->n++] = jj_eval(c, s, n->args.v[i]);
        return l;
    }
    case E_DICT: {
        jv d = jv_dict(c, JT_DICT);
        for (size_t i = 0; i + 1 < n->args.n; i += 2) {
            jv k = jj_eval(c, s, n->args.v[i]);
            jdict_set(c, d.d, k, jj_eval(c, s, n->args.v[i + 1]));
        }
        return d;
    }
    default: jj_fail(c, LFM2MOE_ERR_INTERNAL, n->pos, "statement evaluated as an expression");
    }
}

jv jj_eval(jctx *c, jscope *s, const jnode *n) {
    enter(c, n->pos);
    jv v = eval_node(c, s, n);
    c->depth--;
    return v;
}
