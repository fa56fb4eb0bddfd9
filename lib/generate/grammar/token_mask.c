/* The vocabulary as a byte trie, and the mask of the tokens a grammar
 * state allows.
 *
 * The trie is stored in preorder (each node: its byte, its depth and the
 * index just past its subtree), so the walk is one forward scan that jumps
 * over a whole subtree as soon as its prefix leads the grammar to a dead
 * state: tokens sharing a prefix share the work, and the cost is the number
 * of live prefixes, not the vocabulary size.  The state after each prefix
 * is kept per depth. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "generate/grammar/grammar.h"
#include "text/tokenizer.h"

struct lfm_token_trie {
    uint32_t n_nodes, max_depth;
    uint8_t *byte;
    uint32_t *depth;     /* 1 for children of the (implicit) root */
    uint32_t *end;       /* index just past the subtree */
    uint32_t *tok_start; /* tokens ending at node i: toks[tok_start[i] .. tok_start[i+1]) */
    int32_t *toks;
    uint32_t n_toks;
};

typedef struct piece_ref {
    const char *p;
    size_t len;
    int32_t id;
} piece_ref;

static int cmp_piece(const void *a, const void *b) {
    const piece_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void lfm_token_trie_free(lfm_token_trie *t) {
    if (!t) return;
    free(t->byte), free(t->depth), free(t->end), free(t->tok_start), free(t->toks);
    free(t);
}

int lfm_token_trie_build(const struct lfm_vocab *v, lfm_token_trie **out) {
    *out = NULL;
    const int32_t nv = v->n_vocab;
    lfm_token_trie *t = calloc(1, sizeof *t);
    piece_ref *refs = malloc(((size_t)nv + 1) * sizeof *refs);
    uint32_t *tok_node = malloc(((size_t)nv + 1) * sizeof *tok_node);
    uint32_t *open = NULL;
    if (!t || !refs || !tok_node) goto oom;
    uint32_t n = 0;
    size_t total = 0;
    for (int32_t id = 0; id < nv; id++) {
        size_t len;
        const char *p = lfm_vocab_piece(v, id, &len);
        if (!len || (v->attr[id] & LFM2MOE_TOKEN_ATTR_END_OF_GENERATION)) continue;
        refs[n++] = (piece_ref){p, len, id};
        total += len;
    }
    qsort(refs, n, sizeof *refs, cmp_piece);
    /* at most one node per byte of all pieces */
    size_t cap = total + 1;
    t->byte = malloc(cap);
    t->depth = malloc(cap * sizeof *t->depth);
    t->end = malloc(cap * sizeof *t->end);
    t->toks = malloc(((size_t)n + 1) * sizeof *t->toks);
    open = malloc(cap * sizeof *open);
    if (!t->byte || !t->depth || !t->end || !t->toks || !open) goto oom;
    uint32_t n_nodes = 0, n_open = 0, max_depth = 0;
    uint32_t *path = open; /* path[d-1]: node at depth d on the current path */
    size_t prev_len = 0;
    const char *prev = NULL;
    for (uint32_t k = 0; k < n; k++) {
        const piece_ref *r = &refs[k];
        size_t lcp = 0;
        while (prev && lcp < prev_len && lcp < r->len && prev[lcp] == r->p[lcp])
            lcp++;
        /* close the nodes deeper than the common prefix */
        while (n_open > lcp)
            t->end[path[--n_open]] = n_nodes;
        for (size_t d = lcp; d < r->len; d++) {
            t->byte[n_nodes] = (uint8_t)r->p[d];
            t->depth[n_nodes] = (uint32_t)d + 1;
            path[n_open++] = n_nodes++;
        }
        if (r->len > max_depth) max_depth = (uint32_t)r->len;
        tok_node[k] = path[r->len - 1];
        t->toks[k] = r->id;
        prev = r->p;
        prev_len = r->len;
    }
    while (n_open)
        t->end[path[--n_open]] = n_nodes;
    t->tok_start = malloc(((size_t)n_nodes + 1) * sizeof *t->tok_start);
    if (!t->tok_start) goto oom;
    for (uint32_t i = 0, k = 0; i <= n_nodes; i++) {
        while (k < n && tok_node[k] < i)
            k++;
        t->tok_start[i] = k;
    }
    t->n_nodes = n_nodes;
    t->n_toks = n;
    t->max_depth = max_depth;
    free(refs), free(tok_node), free(open);
    *out = t;
    return 0;
oom:
    free(refs), free(tok_node), free(open);
    lfm_token_trie_free(t);
    return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory building the token trie");
}

uint32_t lfm_token_trie_max_depth(const lfm_token_trie *t) {
    return t->max_depth;
}

void lfm_token_mask(const lfm_token_trie *t, lfm_matcher *m, gm_state s, uint8_t *allowed,
                    gm_state *st) {
    st[0] = s;
    const uint32_t n = t->n_nodes;
    for (uint32_t i = 0; i < n;) {
        const uint32_t d = t->depth[i];
        gm_state ns = lfm_matcher_step(m, st[d - 1], t->byte[i]);
        if (ns.set == GM_DEAD) {
            i = t->end[i];
            continue;
        }
        st[d] = ns;
        for (uint32_t k = t->tok_start[i]; k < t->tok_start[i + 1]; k++)
            allowed[t->toks[k]] = 1;
        i++;
    }
}

gm_state lfm_token_advance(lfm_matcher *m, gm_state s, const char *bytes, size_t len) {
    for (size_t i = 0; i < len && s.set != GM_DEAD; i++)
        s = lfm_matcher_step(m, s, (uint8_t)bytes[i]);
    if (!len) s.set = GM_DEAD; /* empty tokens produce nothing: never chosen */
    return s;
}
