/* Tokens -> tree.  Recursive descent with Jinja2's precedence, loosest
 * first: `x if c else y`, or, and, not, comparisons and `in`, + -, ~,
 * * / // %, **, unary - +, then postfix (.attr, [item], [a:b:c], (call))
 * and filters / tests (`|f(...)`, `is [not] t`).  Every unknown tag,
 * filter or test, and every syntax error, stops here with
 * UNSUPPORTED_TEMPLATE at its position. */
#include <string.h>

#include "text/jinja/internal.h"

#define SYNTAX(c, pos, ...)                                                                        \
    jj_fail((c), LFM2MOE_ERR_UNSUPPORTED_TEMPLATE, (uint32_t)(pos), __VA_ARGS__)

static jtok *cur(jctx *c) {
    return &c->toks[c->tok_i];
}
static jtok *peek(jctx *c) {
    return c->toks[c->tok_i].kind == T_EOF ? &c->toks[c->tok_i] : &c->toks[c->tok_i + 1];
}
static void advance(jctx *c) {
    if (cur(c)->kind != T_EOF) c->tok_i++;
}

static int is_op(const jtok *t, const char *op) {
    return t->kind == T_OP && !strcmp(t->s->p, op);
}
static int is_name(const jtok *t, const char *n) {
    return t->kind == T_NAME && !strcmp(t->s->p, n);
}

static int accept_op(jctx *c, const char *op) {
    if (!is_op(cur(c), op)) return 0;
    advance(c);
    return 1;
}

static const char *describe(const jtok *t) {
    switch (t->kind) {
    case T_EOF: return "end of template";
    case T_TEXT: return "text";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_BLOCK_END: return "'%}'";
    case T_VAR_BEGIN: return "'{{'";
    case T_VAR_END: return "'}}'";
    case T_STRING: return "a string";
    case T_INT:
    case T_FLOAT: return "a number";
    default: return t->s->p;
    }
}

static void expect_op(jctx *c, const char *op) {
    if (!accept_op(c, op)) SYNTAX(c, cur(c)->pos, "expected '%s', found %s", op, describe(cur(c)));
}

static void expect(jctx *c, jtok_kind k, const char *what) {
    if (cur(c)->kind != k) SYNTAX(c, cur(c)->pos, "expected %s, found %s", what, describe(cur(c)));
    advance(c);
}

static jstr *expect_name(jctx *c) {
    if (cur(c)->kind != T_NAME)
        SYNTAX(c, cur(c)->pos, "expected a name, found %s", describe(cur(c)));
    jstr *s = cur(c)->s;
    advance(c);
    return s;
}

static jnode *node(jctx *c, jk kind, uint32_t pos) {
    jnode *n = jj_alloc(c, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = pos;
    return n;
}

static void push(jctx *c, jblock *b, size_t *cap, jnode *n) {
    if (b->n == *cap) b->v = jj_grow(c, b->v, b->n, cap, sizeof *b->v);
    b->v[b->n++] = n;
}

static void push_name(jctx *c, jnode *n, size_t *cap, jstr *s) {
    if (n->n_names == *cap) n->names = jj_grow(c, n->names, n->n_names, cap, sizeof *n->names);
    n->names[n->n_names++] = s;
}

static void enter(jctx *c) {
    if (++c->depth > c->lim.max_depth)
        jj_fail(c, LFM2MOE_ERR_LIMIT, cur(c)->pos, "template nested deeper than %d",
                c->lim.max_depth);
}

static jnode *parse_expr(jctx *c);
static jnode *parse_or(jctx *c);
static jnode *parse_unary(jctx *c, int with_filter);

/* (args) of a call, filter or test: positional and name=value */
static void parse_args(jctx *c, jnode *n) {
    size_t cap = 0, kcap = 0, ncap = 0;
    expect_op(c, "(");
    while (!is_op(cur(c), ")")) {
        if (is_op(cur(c), "*") || is_op(cur(c), "**"))
            SYNTAX(c, cur(c)->pos, "*args and **kwargs are not supported");
        if (cur(c)->kind == T_NAME && is_op(peek(c), "=")) {
            push_name(c, n, &ncap, cur(c)->s);
            advance(c);
            advance(c);
            push(c, &n->kwargs, &kcap, parse_expr(c));
        } else {
            if (n->kwargs.n) SYNTAX(c, cur(c)->pos, "positional argument after a keyword argument");
            push(c, &n->args, &cap, parse_expr(c));
        }
        if (!accept_op(c, ",")) break;
    }
    expect_op(c, ")");
}

static jnode *parse_primary(jctx *c) {
    jtok *t = cur(c);
    jnode *n = node(c, E_LIT, t->pos);
    switch (t->kind) {
    case T_NAME: {
        static const char *const lits[] = {"true", "True", "false", "False", "none", "None"};
        advance(c);
        for (int k = 0; k < 6; k++)
            if (!strcmp(t->s->p, lits[k])) {
                n->lit = k < 4 ? jv_bool(k < 2) : jv_none();
                return n;
            }
        n->kind = E_NAME;
        n->name = t->s;
        return n;
    }
    case T_STRING: {
        jsb b = {0};
        while (cur(c)->kind == T_STRING) { /* "a" "b" is "ab" */
            jsb_put(c, &b, cur(c)->s->p, cur(c)->s->n);
            advance(c);
        }
        n->lit = jv_str(jsb_str(c, &b));
        return n;
    }
    case T_INT:
        advance(c);
        n->lit = jv_int(t->i);
        return n;
    case T_FLOAT:
        advance(c);
        n->lit = jv_float(t->f);
        return n;
    default: break;
    }
    size_t cap = 0;
    if (accept_op(c, "(")) {
        n->kind = E_LIST;
        n->op = 1;
        if (accept_op(c, ")")) return n;
        jnode *e = parse_expr(c);
        if (!is_op(cur(c), ",")) {
            expect_op(c, ")");
            return e;
        }
        push(c, &n->args, &cap, e); /* a tuple */
        while (accept_op(c, ",") && !is_op(cur(c), ")"))
            push(c, &n->args, &cap, parse_expr(c));
        expect_op(c, ")");
        return n;
    }
    if (accept_op(c, "[")) {
        n->kind = E_LIST;
        while (!is_op(cur(c), "]")) {
            push(c, &n->args, &cap, parse_expr(c));
            if (!accept_op(c, ",")) break;
        }
        expect_op(c, "]");
        return n;
    }
    if (accept_op(c, "{")) {
        n->kind = E_DICT;
        while (!is_op(cur(c), "}")) {
            push(c, &n->args, &cap, parse_expr(c));
            expect_op(c, ":");
            push(c, &n->args, &cap, parse_expr(c));
            if (!accept_op(c, ",")) break;
        }
        expect_op(c, "}");
        return n;
    }
    SYNTAX(c, t->pos, "unexpected %s", describe(t));
}

static jnode *parse_postfix(jctx *c, jnode *n) {
    for (;;) {
        jtok *t = cur(c);
        if (accept_op(c, ".")) {
            jnode *a = node(c, E_ATTR, t->pos);
            a->a = n;
            if (cur(c)->kind == T_INT) { /* foo.0 is foo[0] */
                a->kind = E_ITEM;
                a->b = node(c, E_LIT, cur(c)->pos);
                a->b->lit = jv_int(cur(c)->i);
                advance(c);
            } else {
                a->name = expect_name(c);
            }
            n = a;
        } else if (accept_op(c, "[")) {
            jnode *a = node(c, E_ITEM, t->pos);
            a->a = n;
            if (!is_op(cur(c), ":")) a->b = parse_expr(c);
            if (accept_op(c, ":")) {
                a->kind = E_SLICE;
                if (!is_op(cur(c), "]") && !is_op(cur(c), ":")) a->c = parse_expr(c);
                if (accept_op(c, ":") && !is_op(cur(c), "]")) a->d = parse_expr(c);
            }
            expect_op(c, "]");
            n = a;
        } else if (is_op(t, "(")) {
            jnode *a = node(c, E_CALL, n->pos);
            a->a = n;
            parse_args(c, a);
            n = a;
        } else {
            return n;
        }
    }
}

static jnode *parse_filter_expr(jctx *c, jnode *n) {
    for (;;) {
        jtok *t = cur(c);
        if (accept_op(c, "|")) {
            jnode *f = node(c, E_FILTER, cur(c)->pos);
            f->a = n;
            f->name = expect_name(c);
            if (!jj_filter_known(f->name->p)) SYNTAX(c, f->pos, "unknown filter '%s'", f->name->p);
            if (is_op(cur(c), "(")) parse_args(c, f);
            n = f;
        } else if (is_name(t, "is")) {
            advance(c);
            jnode *f = node(c, E_TEST, t->pos);
            f->a = n;
            if (is_name(cur(c), "not")) {
                advance(c);
                f->op = 1;
            }
            f->pos = cur(c)->pos;
            f->name = expect_name(c);
            if (!jj_test_known(f->name->p)) SYNTAX(c, f->pos, "unknown test '%s'", f->name->p);
            jtok *a = cur(c);
            if (is_op(a, "(")) {
                parse_args(c, f);
            } else if ((a->kind == T_NAME || a->kind == T_STRING || a->kind == T_INT ||
                        a->kind == T_FLOAT || is_op(a, "[") || is_op(a, "{")) &&
                       !is_name(a, "else") && !is_name(a, "or") && !is_name(a, "and")) {
                size_t cap = 0; /* `x is divisibleby 3`: one argument without parentheses */
                push(c, &f->args, &cap, parse_postfix(c, parse_primary(c)));
            }
            n = f;
        } else if (is_op(t, "(")) {
            n = parse_postfix(c, n);
        } else {
            return n;
        }
    }
}

static jnode *parse_unary(jctx *c, int with_filter) {
    enter(c);
    jtok *t = cur(c);
    jnode *n;
    if (is_op(t, "-") || is_op(t, "+")) {
        advance(c);
        n = node(c, is_op(t, "-") ? E_NEG : E_POS, t->pos);
        n->a = parse_unary(c, 0);
    } else {
        n = parse_primary(c);
    }
    n = parse_postfix(c, n);
    if (with_filter) n = parse_filter_expr(c, n);
    c->depth--;
    return n;
}

static jnode *binary(jctx *c, jk kind, int op, uint32_t pos, jnode *a, jnode *b) {
    jnode *n = node(c, kind, pos);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

/* Levels 0-3 of left-associative binary operators (+ -, ~, * / // %, **). */
static jnode *parse_level(jctx *c, int level) {
    static const char *const ops[][4] = {{"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
    static const int codes[][4] = {
        {OP_ADD, OP_SUB}, {OP_CONCAT}, {OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD}, {OP_POW}};
    if (level == 4) return parse_unary(c, 1);
    enter(c);
    jnode *n = parse_level(c, level + 1);
    for (;;) {
        int k = -1;
        for (int i = 0; i < 4 && ops[level][i]; i++)
            if (is_op(cur(c), ops[level][i])) k = i;
        if (k < 0) break;
        uint32_t pos = cur(c)->pos;
        advance(c);
        n = binary(c, E_BIN, codes[level][k], pos, n, parse_level(c, level + 1));
    }
    c->depth--;
    return n;
}

static jnode *parse_compare(jctx *c) {
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    static const int codes[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    jnode *n = parse_level(c, 0);
    for (;;) {
        jtok *t = cur(c);
        int op = -1;
        for (int i = 0; i < 6; i++)
            if (is_op(t, ops[i])) op = codes[i];
        if (op >= 0) {
            advance(c);
        } else if (is_name(t, "in")) {
            advance(c);
            op = OP_IN;
        } else if (is_name(t, "not") && is_name(peek(c), "in")) {
            advance(c);
            advance(c);
            op = OP_NOTIN;
        } else {
            return n;
        }
        n = binary(c, E_CMP, op, t->pos, n, parse_level(c, 0));
    }
}

static jnode *parse_not(jctx *c) {
    jtok *t = cur(c);
    if (!is_name(t, "not")) return parse_compare(c);
    advance(c);
    enter(c);
    jnode *n = node(c, E_NOT, t->pos);
    n->a = parse_not(c);
    c->depth--;
    return n;
}

static jnode *parse_and(jctx *c) {
    jnode *n = parse_not(c);
    while (is_name(cur(c), "and")) {
        uint32_t pos = cur(c)->pos;
        advance(c);
        n = binary(c, E_AND, 0, pos, n, parse_not(c));
    }
    return n;
}

static jnode *parse_or(jctx *c) {
    enter(c);
    jnode *n = parse_and(c);
    while (is_name(cur(c), "or")) {
        uint32_t pos = cur(c)->pos;
        advance(c);
        n = binary(c, E_OR, 0, pos, n, parse_and(c));
    }
    c->depth--;
    return n;
}

static jnode *parse_expr(jctx *c) {
    enter(c);
    jnode *n = parse_or(c);
    while (is_name(cur(c), "if")) {
        jnode *e = node(c, E_COND, cur(c)->pos);
        advance(c);
        e->b = n;
        e->a = parse_or(c);
        if (is_name(cur(c), "else")) {
            advance(c);
            e->c = parse_expr(c);
        }
        n = e;
    }
    c->depth--;
    return n;
}

/* ---- statements ------------------------------------------------------- */
static jblock parse_body(jctx *c, const char *const *ends, jstr **which);

static void end_tag(jctx *c) {
    expect(c, T_BLOCK_END, "'%}'");
}

/* The body of a block tag up to `end` (and that tag's '%}'). */
static jblock block_until(jctx *c, const char *end) {
    const char *ends[] = {end, NULL};
    jstr *which;
    jblock b = parse_body(c, ends, &which);
    end_tag(c);
    return b;
}

static jnode *parse_if(jctx *c, uint32_t pos) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    jnode *n = node(c, S_IF, pos);
    jstr *which;
    n->a = parse_expr(c);
    end_tag(c);
    n->body = parse_body(c, ends, &which);
    if (!strcmp(which->p, "elif")) {
        size_t cap = 0;
        enter(c);
        push(c, &n->orelse, &cap, parse_if(c, c->toks[c->tok_i - 1].pos));
        c->depth--;
    } else if (!strcmp(which->p, "else")) {
        end_tag(c);
        n->orelse = block_until(c, "endif");
    } else {
        end_tag(c);
    }
    return n;
}

static jnode *parse_for(jctx *c, uint32_t pos) {
    static const char *const ends[] = {"else", "endfor", NULL};
    jnode *n = node(c, S_FOR, pos);
    size_t ncap = 0;
    int paren = accept_op(c, "(");
    do
        push_name(c, n, &ncap, expect_name(c));
    while (accept_op(c, ","));
    if (paren) expect_op(c, ")");
    if (!is_name(cur(c), "in")) SYNTAX(c, cur(c)->pos, "expected 'in', found %s", describe(cur(c)));
    advance(c);
    n->a = parse_or(c); /* no `x if c else y` here: `if` filters the loop */
    if (is_name(cur(c), "if")) {
        advance(c);
        n->b = parse_expr(c);
    }
    if (is_name(cur(c), "recursive")) SYNTAX(c, cur(c)->pos, "recursive loops are not supported");
    end_tag(c);
    jstr *which;
    c->loop_depth++;
    n->body = parse_body(c, ends, &which);
    c->loop_depth--;
    end_tag(c);
    if (!strcmp(which->p, "else")) n->orelse = block_until(c, "endfor");
    return n;
}

static jnode *parse_set(jctx *c, uint32_t pos) {
    jnode *n = node(c, S_SET, pos);
    size_t ncap = 0;
    push_name(c, n, &ncap, expect_name(c));
    if (accept_op(c, "."))
        n->name = expect_name(c); /* namespace attribute */
    else
        while (accept_op(c, ","))
            push_name(c, n, &ncap, expect_name(c));
    if (accept_op(c, "=")) {
        n->a = parse_expr(c);
        if (is_op(cur(c), ",")) { /* set a, b = 1, 2 */
            jnode *l = node(c, E_LIST, n->a->pos);
            size_t cap = 0;
            push(c, &l->args, &cap, n->a);
            while (accept_op(c, ","))
                push(c, &l->args, &cap, parse_expr(c));
            n->a = l;
        }
        end_tag(c);
        return n;
    }
    if (n->n_names > 1) SYNTAX(c, cur(c)->pos, "expected '='");
    end_tag(c);
    n->kind = S_SETBLOCK;
    n->body = block_until(c, "endset");
    return n;
}

static jnode *parse_macro(jctx *c, uint32_t pos) {
    jnode *n = node(c, S_MACRO, pos);
    size_t ncap = 0, dcap = 0;
    n->name = expect_name(c);
    expect_op(c, "(");
    while (!is_op(cur(c), ")")) {
        push_name(c, n, &ncap, expect_name(c));
        push(c, &n->args, &dcap, accept_op(c, "=") ? parse_expr(c) : NULL);
        if (!accept_op(c, ",")) break;
    }
    expect_op(c, ")");
    end_tag(c);
    int loops = c->loop_depth;
    c->loop_depth = 0; /* break in a macro cannot end the caller's loop */
    n->body = block_until(c, "endmacro");
    c->loop_depth = loops;
    return n;
}

static jnode *parse_stmt(jctx *c) {
    jtok *t = cur(c);
    const char *tag = t->s->p;
    advance(c);
    if (!strcmp(tag, "if")) return parse_if(c, t->pos);
    if (!strcmp(tag, "for")) return parse_for(c, t->pos);
    if (!strcmp(tag, "set")) return parse_set(c, t->pos);
    if (!strcmp(tag, "macro")) return parse_macro(c, t->pos);
    jnode *n = node(c, S_BLOCK, t->pos);
    if (!strcmp(tag, "generation")) { /* transformers' marker of assistant text */
        end_tag(c);
        n->body = block_until(c, "endgeneration");
        return n;
    }
    if (!strcmp(tag, "filter")) {
        n->a = node(c, E_FILTER, cur(c)->pos);
        n->a->name = expect_name(c);
        if (!jj_filter_known(n->a->name->p))
            SYNTAX(c, n->a->pos, "unknown filter '%s'", n->a->name->p);
        if (is_op(cur(c), "(")) parse_args(c, n->a);
        end_tag(c);
        n->body = block_until(c, "endfilter");
        return n;
    }
    if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        if (!c->loop_depth) SYNTAX(c, t->pos, "'%s' outside a loop", tag);
        n->kind = tag[0] == 'b' ? S_BREAK : S_CONTINUE;
        end_tag(c);
        return n;
    }
    if (!strncmp(tag, "end", 3) || !strcmp(tag, "else") || !strcmp(tag, "elif"))
        SYNTAX(c, t->pos, "unexpected '%s'", tag);
    SYNTAX(c, t->pos, "unknown tag '%s'", tag);
}

static jblock parse_body(jctx *c, const char *const *ends, jstr **which) {
    jblock b = {0};
    size_t cap = 0;
    enter(c);
    for (;;) {
        jtok *t = cur(c);
        if (t->kind == T_EOF) {
            if (ends) {
                int k = 0;
                while (ends[k + 1])
                    k++;
                SYNTAX(c, t->pos, "unexpected end of template: expected '%s'", ends[k]);
            }
            break;
        }
        advance(c);
        if (t->kind == T_TEXT) {
            jnode *n = node(c, S_TEXT, t->pos);
            n->name = t->s;
            push(c, &b, &cap, n);
        } else if (t->kind == T_VAR_BEGIN) {
            jnode *n = node(c, S_OUT, t->pos);
            n->a = parse_expr(c);
            expect(c, T_VAR_END, "'}}'");
            push(c, &b, &cap, n);
        } else if (t->kind == T_BLOCK_BEGIN) {
            jtok *tag = cur(c);
            if (tag->kind != T_NAME)
                SYNTAX(c, tag->pos, "expected a tag name, found %s", describe(tag));
            for (int k = 0; ends && ends[k]; k++)
                if (!strcmp(tag->s->p, ends[k])) {
                    advance(c);
                    *which = tag->s;
                    c->depth--;
                    return b;
                }
            push(c, &b, &cap, parse_stmt(c));
        } else {
            SYNTAX(c, t->pos, "unexpected %s", describe(t));
        }
    }
    c->depth--;
    return b;
}

jblock jj_parse(jctx *c) {
    c->tok_i = 0;
    c->depth = 0;
    c->loop_depth = 0;
    return parse_body(c, NULL, NULL);
}
