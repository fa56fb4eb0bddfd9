/* Grammar-constrained sampling, internal interfaces.
 *
 *   gbnf_parse.c    GBNF text -> compiled grammar (rules of flat element
 *                   arrays), with left-recursion detection
 *   matcher.c       the parse state: hash-consed grammar stacks, sets of
 *                   stacks and a memo of their transitions per code point
 *   token_mask.c    the vocabulary as a byte trie, walked against a state
 *                   to find every token that keeps the output a valid prefix
 *   json_schema.c   JSON Schema -> GBNF text
 *   tool_grammar.c  tool list -> GBNF text of LFM2's tool-call syntax
 *   grammar_api.c   the public lfm2moe_grammar_* functions
 *
 * Limits (hostile grammars and schemas; exceeding one gives
 * LFM2MOE_ERR_LIMIT with a message):
 *   GBNF text 1 MiB; 65,536 rules; 1,048,576 elements after repetitions are
 *   expanded; {m,n} counts up to 10,000; grammar stacks 1,024 frames deep;
 *   256 stacks alive at once after one character; 16,384 (position, stack)
 *   pairs visited per character; 4,194,304 interned stack frames per
 *   sampler (the memo is rebuilt from the live state when it grows past a
 *   quarter of that). */
#ifndef LFM_GRAMMAR_H
#define LFM_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "lfm2moe.h"

#define LFM_GBNF_MAX_TEXT (1u << 20)
#define LFM_GBNF_MAX_RULES 65536u
#define LFM_GBNF_MAX_ELEMS (1u << 20)
#define LFM_GBNF_MAX_REPEAT 10000u
#define LFM_GM_MAX_DEPTH 1024u
#define LFM_GM_MAX_STACKS 256u
#define LFM_GM_MAX_VISIT 16384u
#define LFM_GM_MAX_NODES (1u << 22)

/* ---- compiled grammar ----------------------------------------------------- */
enum { GE_END = 0, GE_CHARS = 1, GE_RULE = 2, GE_ALT = 3 /* parse time only */ };

typedef struct gelem {
    uint8_t kind;
    uint8_t negate; /* GE_CHARS: matches code points NOT in the ranges */
    uint32_t a, b;  /* GE_CHARS: ranges[a .. a+b); GE_RULE: rule a */
} gelem;

typedef struct grange {
    uint32_t lo, hi; /* inclusive */
} grange;

typedef struct lfm_cgrammar {
    gelem *elem; /* every alternative of every rule, each ending in GE_END */
    uint32_t n_elem;
    grange *ranges;
    uint32_t n_ranges;
    uint32_t *alts;     /* start positions of the alternatives ... */
    uint32_t *rule_alt; /* ... of rule r: alts[rule_alt[r] .. rule_alt[r+1]) */
    uint32_t n_rules;
    char **rule_names;
    uint32_t root;
} lfm_cgrammar;

/* Parse GBNF text; `root` names the start rule (NULL: "root").  Errors:
 * PARSE (with line and column), LIMIT, OUT_OF_MEMORY; message set. */
int lfm_gbnf_parse(const char *text, size_t len, const char *root, lfm_cgrammar **out);
void lfm_cgrammar_free(lfm_cgrammar *g);
/* Refuse left recursion (PARSE naming the cycle of rules); OUT_OF_MEMORY. */
int lfm_cgrammar_check(const lfm_cgrammar *cg);

/* Does element e (GE_CHARS) match code point cp? */
static inline int lfm_chars_match(const lfm_cgrammar *g, const gelem *e, uint32_t cp) {
    if (!e->b) return e->negate; /* "." has no ranges (and ranges may be NULL) */
    const grange *r = g->ranges + e->a;
    for (uint32_t i = 0; i < e->b; i++)
        if (cp >= r[i].lo && cp <= r[i].hi) return !e->negate;
    return e->negate;
}

/* ---- matcher ----------------------------------------------------------------- */
/* A parse state: the set of grammar stacks (an interned set id) and a
 * partly read UTF-8 character. */
typedef struct gm_state {
    uint32_t set; /* GM_DEAD: no way on */
    uint32_t cp;  /* bits of the pending character so far */
    uint8_t need; /* continuation bytes still expected */
    uint8_t len;  /* length of the pending character's encoding */
} gm_state;

#define GM_DEAD UINT32_MAX

typedef struct lfm_matcher lfm_matcher;

/* A matcher over g (which must outlive it), at the start of the language. */
int lfm_matcher_create(const lfm_cgrammar *g, lfm_matcher **out);
void lfm_matcher_free(lfm_matcher *m);
/* Back to the start state. */
int lfm_matcher_reset(lfm_matcher *m);
gm_state lfm_matcher_state(const lfm_matcher *m);
void lfm_matcher_set_state(lfm_matcher *m, gm_state s);
/* The state after one more byte (s.set == GM_DEAD when impossible). */
gm_state lfm_matcher_step(lfm_matcher *m, gm_state s, uint8_t byte);
/* May the output end in state s (the language is complete there)? */
int lfm_matcher_can_end(const lfm_matcher *m, gm_state s);
/* May a token end in state s: the set is alive and a pending partial
 * character can still be completed by some stack. */
int lfm_matcher_token_end_ok(const lfm_matcher *m, gm_state s);
/* Does state s accept nothing but the end? */
int lfm_matcher_only_end(const lfm_matcher *m, gm_state s);
/* Drop memoized transitions when they grew large (call between tokens). */
int lfm_matcher_maintain(lfm_matcher *m);
/* Non-zero once a limit dropped stacks (the message says which). */
int lfm_matcher_limit_hit(const lfm_matcher *m);

/* ---- token trie and masks ---------------------------------------------------- */
struct lfm_vocab;
typedef struct lfm_token_trie lfm_token_trie;

/* The pieces of every token that can be text (not end-of-generation, not
 * empty) as a byte trie. */
int lfm_token_trie_build(const struct lfm_vocab *v, lfm_token_trie **out);
void lfm_token_trie_free(lfm_token_trie *t);

/* allowed[t] = 1 for every text token whose bytes lead from state s to a
 * live state, 0 otherwise (end-of-generation tokens are left 0; the caller
 * decides them).  allowed has n_vocab entries.  The trie is shared by
 * threads: the per-depth states go to the caller's scratch. */
void lfm_token_mask(const lfm_token_trie *t, lfm_matcher *m, gm_state s, uint8_t *allowed,
                    gm_state *scratch);
/* Length of the longest piece: scratch needs one more entry than that. */
uint32_t lfm_token_trie_max_depth(const lfm_token_trie *t);
/* The state after the bytes of one token (set GM_DEAD if not allowed). */
gm_state lfm_token_advance(lfm_matcher *m, gm_state s, const char *bytes, size_t len);

/* ---- grammar object (public handle) ------------------------------------------ */
struct lfm2moe_grammar {
    const struct lfm2moe_model *model;
    lfm_cgrammar *cg;
    lfm_token_trie *trie;
    char *gbnf; /* source text (generated for schemas and tools) */
    size_t gbnf_len;
    /* tool calls, auto/none: the grammar applies only after `trigger` is
     * sampled (lazy) and ends with the call block; none bans the trigger */
    int lazy, ban_trigger;
    int32_t trigger; /* token id, -1 if none */
};

/* ---- a grammar attached to a sampler ----------------------------------------- */
typedef struct lfm_constraint lfm_constraint;
int lfm_constraint_create(const struct lfm2moe_grammar *g, lfm_constraint **out);
void lfm_constraint_free(lfm_constraint *c);
void lfm_constraint_reset(lfm_constraint *c);
/* May `token` come next? */
int lfm_constraint_token_ok(lfm_constraint *c, int32_t token);
/* allowed[t] for every token (n_vocab entries); returns the count allowed. */
int32_t lfm_constraint_mask(lfm_constraint *c, uint8_t *allowed);
/* Advance over `token`; INVALID_ARGUMENT if the grammar does not allow it
 * (the state is then unchanged). */
int lfm_constraint_accept(lfm_constraint *c, int32_t token);

/* ---- text generators (GBNF written into a growable buffer) ------------------- */
struct json_value;
/* Rules for a JSON value matching `schema`, with `name` as the rule name
 * of its top.  python: booleans/null as True/False/None and no "\/"
 * escape (LFM2's tool-call argument syntax).  Errors: INVALID_ARGUMENT
 * naming the unsupported keyword or bad value, LIMIT, OUT_OF_MEMORY. */
int lfm_schema_to_gbnf(const struct json_value *schema, const char *name, int python, strbuf *out);

#endif
