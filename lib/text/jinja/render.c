/* Statements (text, output, if, for, set, macro, filter and generation
 * blocks, break/continue) and jj_render, the engine's entry point. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "text/jinja/internal.h"

void jj_limits_default(jj_limits *l) {
    l->max_depth = JJ_MAX_DEPTH;
    l->max_iterations = JJ_MAX_ITERATIONS;
    l->max_output = JJ_MAX_OUTPUT;
    l->max_memory = JJ_MAX_MEMORY;
    l->max_time_ms = JJ_MAX_TIME_MS;
}

/* Bind loop or set targets: one name takes the value, several unpack a
 * list of exactly that length. */
static void assign(jctx *c, jscope *s, const jnode *n, jv v) {
    if (n->n_names == 1) return jj_scope_set(c, s, n->names[0], v);
    if (v.t != JT_LIST)
        jj_error(c, "cannot unpack '%s' into %zu names", jj_type_name(v), n->n_names);
    if (v.l->n != n->n_names)
        jj_error(c, "cannot unpack %zu values into %zu names", v.l->n, n->n_names);
    for (size_t i = 0; i < n->n_names; i++)
        jj_scope_set(c, s, n->names[i], v.l->v[i]);
}

/* A fresh list: appending to the original while looping does not extend
 * the loop. */
jlist *jj_iter_list(jctx *c, jv v) {
    jv r;
    const jv *items = v.t == JT_LIST ? v.l->v : v.t == JT_DICT || v.t == JT_NS ? v.d->k : NULL;
    size_t n = v.t == JT_LIST ? v.l->n : items ? v.d->n : 0;
    switch (v.t) {
    case JT_LIST:
    case JT_DICT:
    case JT_NS: /* list items, dict keys */
        r = jv_list(c, n);
        if (n) memcpy(r.l->v, items, n * sizeof(jv));
        r.l->n = n;
        return r.l;
    case JT_STR:
        r = jv_list(c, 0);
        for (size_t i = 0; i < v.s->n;) {
            size_t e = i + 1;
            while (e < v.s->n && ((unsigned char)v.s->p[e] & 0xC0) == 0x80)
                e++;
            jlist_push(c, r.l, jv_str(jj_str(c, v.s->p + i, e - i)));
            i = e;
        }
        return r.l;
    case JT_UNDEF: return jv_list(c, 0).l;
    default: jj_error(c, "'%s' object is not iterable", jj_type_name(v));
    }
}

static void exec_for(jctx *c, jscope *s, const jnode *n) {
    jv seq = jj_eval(c, s, n->a);
    c->pos = n->pos;
    jlist *items = jj_iter_list(c, seq);
    jscope *ls = jj_scope_new(c, s);
    if (n->b) { /* for x in xs if cond: filtered before the loop counts */
        jlist *kept = jv_list(c, 0).l;
        for (size_t i = 0; i < items->n; i++) {
            jj_count_iteration(c);
            assign(c, ls, n, items->v[i]);
            if (jj_truthy(jj_eval(c, ls, n->b))) jlist_push(c, kept, items->v[i]);
        }
        items = kept;
    }
    jloop *loop = jj_alloc(c, sizeof *loop);
    loop->items = items;
    loop->index0 = 0;
    jj_scope_set(c, ls, jj_cstr(c, "loop"), (jv){.t = JT_LOOP, .loop = loop});
    for (size_t i = 0; i < items->n; i++) {
        c->pos = n->pos;
        jj_count_iteration(c);
        loop->index0 = i;
        assign(c, ls, n, items->v[i]);
        jj_exec_block(c, ls, &n->body);
        int ctl = c->loop_ctl;
        c->loop_ctl = 0;
        if (ctl == 1) break;
    }
    if (!items->n) jj_exec_block(c, s, &n->orelse);
}

static void exec_set(jctx *c, jscope *s, const jnode *n, jv v) {
    if (!n->name) return assign(c, s, n, v);
    jv ns = jj_lookup(s, n->names[0]);
    if (ns.t != JT_NS)
        jj_error(c,
                 "cannot set attribute '%s' of '%s' (only a namespace() has settable attributes)",
                 n->name->p, jj_type_name(ns));
    jdict_set(c, ns.d, jv_str(n->name), v);
}

static void exec_stmt(jctx *c, jscope *s, const jnode *n) {
    c->pos = n->pos;
    switch (n->kind) {
    case S_TEXT: return jsb_put(c, c->out, n->name->p, n->name->n);
    case S_OUT: {
        jv v = jj_eval(c, s, n->a);
        c->pos = n->pos;
        return jj_tostr(c, c->out, v);
    }
    case S_IF: return jj_exec_block(c, s, jj_truthy(jj_eval(c, s, n->a)) ? &n->body : &n->orelse);
    case S_FOR: return exec_for(c, s, n);
    case S_SET: return exec_set(c, s, n, jj_eval(c, s, n->a));
    case S_SETBLOCK: {
        jsb b = {0};
        jj_exec_capture(c, s, &n->body, &b);
        return exec_set(c, s, n, jv_str(jsb_str(c, &b)));
    }
    case S_MACRO: {
        jmacro *m = jj_alloc(c, sizeof *m);
        m->def = n;
        m->scope = s;
        return jj_scope_set(c, s, n->name, (jv){.t = JT_MACRO, .m = m});
    }
    case S_BLOCK: {
        if (!n->a) return jj_exec_block(c, s, &n->body);
        jsb b = {0}; /* {% filter f %}...{% endfilter %} */
        jj_exec_capture(c, s, &n->body, &b);
        jv in = jv_str(jsb_str(c, &b));
        jv *args = n->a->args.n ? jj_alloc(c, n->a->args.n * sizeof(jv)) : NULL;
        jv *kwv = n->a->kwargs.n ? jj_alloc(c, n->a->kwargs.n * sizeof(jv)) : NULL;
        for (size_t i = 0; i < n->a->args.n; i++)
            args[i] = jj_eval(c, s, n->a->args.v[i]);
        for (size_t i = 0; i < n->a->kwargs.n; i++)
            kwv[i] = jj_eval(c, s, n->a->kwargs.v[i]);
        c->pos = n->a->pos;
        jv r =
            jj_filter(c, n->a->name->p, in, args, n->a->args.n, n->a->names, kwv, n->a->kwargs.n);
        return jj_tostr(c, c->out, r);
    }
    case S_BREAK: c->loop_ctl = 1; return;
    case S_CONTINUE: c->loop_ctl = 2; return;
    default: jj_fail(c, LFM2MOE_ERR_INTERNAL, n->pos, "expression executed as a statement");
    }
}

void jj_exec_block(jctx *c, jscope *s, const jblock *b) {
    if (++c->depth > c->lim.max_depth)
        jj_fail(c, LFM2MOE_ERR_LIMIT, c->pos, "rendering nested deeper than %d", c->lim.max_depth);
    for (size_t i = 0; i < b->n && !c->loop_ctl; i++) {
        jj_tick(c);
        exec_stmt(c, s, b->v[i]);
    }
    c->depth--;
}

int jj_render(const char *template_text, size_t len, const jj_var *extra, size_t n_extra,
              const json_value *vars, const jj_limits *lim, strbuf *out) {
    jctx *c = calloc(1, sizeof *c);
    if (!c) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "chat template: out of memory");
    if (lim)
        c->lim = *lim;
    else
        jj_limits_default(&c->lim);
    c->src = "";
    int status = LFM2MOE_OK;
    if (setjmp(c->fail)) {
        status = c->status;
        goto done;
    }
    c->missing = jj_cstr(c, "(missing argument)");
    jj_lex_source(c, template_text ? template_text : "", template_text ? len : 0);
    jblock program = jj_parse(c);
    c->depth = 0;
    jscope *globals = jj_scope_new(c, NULL);
    jj_add_globals(c, globals);
    for (size_t i = 0; i < n_extra; i++)
        jj_scope_set(c, globals, jj_cstr(c, extra[i].name),
                     jv_str(jj_str(c, extra[i].value, extra[i].len)));
    if (vars && vars->type == JSON_OBJECT)
        for (size_t i = 0; i < vars->n; i++)
            jj_scope_set(c, globals, jj_str(c, vars->keys[i], vars->key_lens[i]),
                         jj_from_json(c, vars->items[i], 0));
    jsb text = {0};
    c->out = &text;
    jj_exec_block(c, jj_scope_new(c, globals), &program);
    if (strbuf_append(out, text.p ? text.p : "", text.n))
        status = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "chat template: out of memory");
done:
    jj_arena_free(c);
    strbuf_free(&c->scratch);
    free(c);
    return status;
}
