/* Internals of the Jinja engine shared by its files:
 *   value.c    arena, values, Python str()/repr(), equality, order, JSON
 *   lexer.c    template text -> tokens (whitespace control applied)
 *   parser.c   tokens -> tree of statements and expressions
 *   eval.c     the renderer: statements, expressions, scopes, limits
 *   filters.c  filters and tests
 *   methods.c  str/dict/list methods and global functions
 *
 * Everything a render allocates (tree, values, captured text) lives in one
 * arena freed at the end, so errors unwind with longjmp from any depth
 * without leaking, and reference cycles a template builds cost nothing. */
#ifndef LFM_JINJA_INTERNAL_H
#define LFM_JINJA_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "text/jinja/jinja.h"

/* ---- values ------------------------------------------------------------ */
typedef enum jt {
    JT_UNDEF, /* s: the name that was looked up (may be NULL) */
    JT_NONE,
    JT_BOOL,
    JT_INT,
    JT_FLOAT,
    JT_STR,
    JT_LIST,
    JT_DICT,
    JT_NS, /* namespace(): a dict whose attributes can be set */
    JT_MACRO,
    JT_LOOP, /* the `loop` variable of a for */
    JT_FUNC  /* a global function: fn */
} jt;

typedef struct jstr {
    size_t n;
    char p[]; /* n bytes + NUL */
} jstr;

typedef struct jv jv;
typedef struct jlist {
    size_t n, cap;
    jv *v;
    int tuple; /* written (a, b): prints as a tuple, otherwise a list */
} jlist;
typedef struct jdict {
    size_t n, cap;
    jv *k, *v;
} jdict;
typedef struct jmacro jmacro;
typedef struct jloop jloop;

struct jv {
    jt t;
    union {
        int b;
        int64_t i;
        double f;
        jstr *s;
        jlist *l;
        jdict *d;
        jmacro *m;
        jloop *loop;
        int fn;
    };
};

struct jloop {
    jlist *items;
    size_t index0;
};

/* ---- tree -------------------------------------------------------------- */
typedef enum jk {
    /* statements */
    S_TEXT,
    S_OUT,
    S_IF,
    S_FOR,
    S_SET,
    S_SETBLOCK,
    S_MACRO,
    S_BLOCK,
    S_BREAK,
    S_CONTINUE,
    /* expressions */
    E_LIT,
    E_NAME,
    E_ATTR,
    E_ITEM,
    E_SLICE,
    E_CALL,
    E_FILTER,
    E_TEST,
    E_BIN,
    E_NEG,
    E_POS,
    E_NOT,
    E_AND,
    E_OR,
    E_COND,
    E_LIST,
    E_DICT,
    E_CMP
} jk;

typedef enum jop {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_FLOORDIV,
    OP_MOD,
    OP_POW,
    OP_CONCAT,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_NOTIN
} jop;

typedef struct jnode jnode;
typedef struct jblock {
    jnode **v;
    size_t n;
} jblock;

struct jnode {
    jk kind;
    int op;       /* E_BIN/E_CMP: jop; E_TEST: negated; E_LIST: a tuple */
    uint32_t pos; /* byte offset in the template, for messages */
    jv lit;       /* E_LIT */
    jstr *name;   /* E_NAME, E_ATTR, E_FILTER, E_TEST, S_TEXT (the text), S_MACRO, S_SET attr */
    jnode *a, *b, *c, *d;
    jblock args;   /* call/filter/test positional args, list/dict items, macro defaults */
    jblock kwargs; /* keyword argument values */
    jstr **names;  /* keyword names; for/set targets; macro parameters */
    size_t n_names;
    jblock body, orelse;
};

/* ---- tokens ------------------------------------------------------------ */
typedef enum jtok_kind {
    T_EOF,
    T_TEXT,
    T_BLOCK_BEGIN,
    T_BLOCK_END,
    T_VAR_BEGIN,
    T_VAR_END,
    T_NAME,
    T_STRING,
    T_INT,
    T_FLOAT,
    T_OP
} jtok_kind;

typedef struct jtok {
    jtok_kind kind;
    uint32_t pos;
    jstr *s; /* TEXT, NAME, STRING, OP text */
    int64_t i;
    double f;
} jtok;

/* ---- render state ------------------------------------------------------ */
typedef struct jscope jscope;
struct jscope {
    jscope *parent;
    jdict vars;
};

struct jmacro {
    const jnode *def;
    jscope *scope;
};

typedef struct jchunk jchunk;

/* Text being built (in the arena). */
typedef struct jsb {
    char *p;
    size_t n, cap;
} jsb;

typedef struct jctx {
    jmp_buf fail;
    int status;
    const char *src; /* normalized template text */
    size_t src_len;
    uint32_t pos; /* where the current error would be reported */
    jchunk *chunks;
    size_t mem_used;
    jj_limits lim;
    int depth;
    uint64_t iterations;
    uint64_t ticks;
    uint64_t deadline_ns;
    jtok *toks;
    size_t n_toks, tok_i;
    jscope *globals;
    jsb *out;       /* where output goes now */
    int loop_ctl;   /* 1 = break, 2 = continue pending */
    int loop_depth; /* while parsing: for loops around the current tag */
    strbuf scratch; /* tojson text (malloc: freed by jj_render) */
    jstr *missing;  /* name of an argument not given (see jj_bind) */
} jctx;

/* Failures: record the status and message (with line and column of pos)
 * and unwind to jj_render. */
_Noreturn void jj_fail(jctx *c, int status, uint32_t pos, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define jj_error(c, ...) jj_fail((c), LFM2MOE_ERR_INVALID_ARGUMENT, (c)->pos, __VA_ARGS__)

/* value.c */
void *jj_alloc(jctx *c, size_t n);
void jj_arena_free(jctx *c);
/* A copy of old[0..n) with twice the capacity (*cap updated). */
void *jj_grow(jctx *c, void *old, size_t n, size_t *cap, size_t elem);
jstr *jj_str(jctx *c, const char *p, size_t n);
jstr *jj_cstr(jctx *c, const char *p);
jv jv_str(jstr *s);
jv jv_cstr(jctx *c, const char *p);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_bool(int b);
jv jv_none(void);
jv jv_undef(jstr *name);
jv jv_list(jctx *c, size_t cap);
jv jv_dict(jctx *c, jt t);
void jlist_push(jctx *c, jlist *l, jv v);
void jdict_set(jctx *c, jdict *d, jv k, jv v);
const jv *jdict_get(const jdict *d, jv k);
const jv *jdict_getc(const jdict *d, const char *k);
void jsb_put(jctx *c, jsb *b, const char *p, size_t n);
void jsb_puts(jctx *c, jsb *b, const char *p);
jstr *jsb_str(jctx *c, jsb *b);
void jj_tostr(jctx *c, jsb *b, jv v);           /* Python str() */
void jj_repr(jctx *c, jsb *b, jv v, int depth); /* Python repr() */
jstr *jj_string(jctx *c, jv v);
int jj_truthy(jv v);
int jj_equal(jctx *c, jv a, jv b, int depth);
int jj_compare(jctx *c, jv a, jv b); /* <0, 0, >0; error if unordered */
const char *jj_type_name(jv v);
jv jj_from_json(jctx *c, const json_value *j, int depth);
void jj_tojson(jctx *c, jsb *b, jv v, const json_dump_opts *o);
int jj_is_ascii(const jstr *s);
size_t jj_utf8_len(const jstr *s);
/* byte offset of code point i (i <= length) */
size_t jj_utf8_offset(const jstr *s, size_t i);
void jj_tick(jctx *c);
void jj_count_iteration(jctx *c);

/* lexer.c, parser.c */
/* Normalize t[0..n) into c->src and split it into c->toks. */
void jj_lex_source(jctx *c, const char *t, size_t n);
jblock jj_parse(jctx *c);

/* eval.c: expressions */
jscope *jj_scope_new(jctx *c, jscope *parent);
void jj_scope_set(jctx *c, jscope *s, jstr *name, jv v);
jv jj_lookup(jscope *s, jstr *name);
_Noreturn void jj_undefined_error(jctx *c, jv v);
/* render.c: statements */
void jj_exec_block(jctx *c, jscope *s, const jblock *b);
/* eval.c: run b with its output collected in *into */
void jj_exec_capture(jctx *c, jscope *s, const jblock *b, jsb *into);
jv jj_eval(jctx *c, jscope *s, const jnode *n);
jv jj_call_macro(jctx *c, jv m, const jv *args, size_t n_args, jstr *const *kw, const jv *kwv,
                 size_t n_kw);
jv jj_getattr(jctx *c, jv obj, jstr *name);
jv jj_getitem(jctx *c, jv obj, jv key);

/* filters.c: filter and test names are checked when parsing */
int jj_filter_known(const char *name);
int jj_test_known(const char *name);
jv jj_filter(jctx *c, const char *name, jv in, const jv *args, size_t n, jstr *const *kw,
             const jv *kwv, size_t nkw);
int jj_test(jctx *c, const char *name, jv v, const jv *args, size_t n);
/* Bind positional and keyword arguments to params[0..np) (missing ones:
 * JT_UNDEF with no name); errors name `what`. */
void jj_bind(jctx *c, const char *what, const char *const *params, size_t np, const jv *args,
             size_t n, jstr *const *kw, const jv *kwv, size_t nkw, jv *out);
int jj_missing(jctx *c, jv v);
/* The list a for loop (or a filter) walks: list items, dict keys, string
 * characters; undefined gives none.  A fresh list. */
jlist *jj_iter_list(jctx *c, jv v);
int jj_contains(jctx *c, jv hay, jv needle);

/* methods.c */
enum { FN_RANGE = 1, FN_NAMESPACE, FN_RAISE, FN_STRFTIME, FN_DICT };
void jj_add_globals(jctx *c, jscope *g);
int jj_call_method(jctx *c, jv obj, const char *name, const jv *args, size_t n, jstr *const *kw,
                   const jv *kwv, size_t nkw, jv *out);
jv jj_call_global(jctx *c, int fn, const jv *args, size_t n, jstr *const *kw, const jv *kwv,
                  size_t nkw);
jstr *jj_strip(jctx *c, jstr *s, const jstr *chars, int left, int right);
/* 0 lower, 1 upper, 2 capitalize, 3 str.title, 4 Jinja's title filter */
jstr *jj_case(jctx *c, jstr *s, int mode);
jstr *jj_replace(jctx *c, jstr *s, jstr *old, jstr *new_, int64_t count);

#endif
