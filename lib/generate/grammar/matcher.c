/* The parse state of a grammar: a set of grammar stacks.
 *
 * A stack is a chain of frames (position of the next element to match, the
 * frame to return to), every frame hash-consed, so a stack is one integer
 * and equal stacks are equal integers.  The stacks of a state are expanded
 * until each one's top is a character class (or the stack is empty: the
 * language may end there); a state is the sorted set of those tops,
 * interned as a set id.  Reading a code point maps a set id to a set id and
 * the result is memoized, so the token-trie walk (token_mask.c), which
 * visits the same few states again and again, costs one hash lookup per
 * byte once warm.
 *
 * Expanding a rule reference pushes its continuation, except when the
 * reference ends its alternative (a tail call): right recursion (x*, lists)
 * then keeps stacks flat.  Left recursion is refused at compile time, so an
 * expansion always terminates; the limits of grammar.h bound its size. */
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/errors.h"
#include "generate/grammar/grammar.h"

typedef struct snode {
    uint32_t pos, parent, depth;
} snode;

struct lfm_matcher {
    const lfm_cgrammar *g;
    snode *nodes; /* node 0: the empty stack */
    uint32_t n_nodes, cap_nodes;
    uint32_t *node_hash, node_mask;
    uint32_t *set_data; /* set i: set_data[set_off[i] .. set_off[i+1]) */
    size_t n_set_data, cap_set_data;
    uint32_t *set_off;
    uint32_t n_sets, cap_sets;
    uint32_t *set_hash, set_mask;
    uint64_t *tr_key; /* memo: (set << 21 | code point) + 1, 0 empty */
    uint32_t *tr_val, tr_mask, n_tr;
    uint32_t *stamp, stamp_gen; /* per node: seen in the current expansion */
    uint32_t *work, *leaves;    /* scratch, LFM_GM_MAX_VISIT entries each */
    uint32_t n_leaves;
    uint32_t start;
    gm_state cur;
    int limit_hit;
};

static uint32_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* ---- frames -------------------------------------------------------------------- */
static int grow_nodes(lfm_matcher *m) {
    uint32_t c = m->cap_nodes ? m->cap_nodes * 2 : 1024;
    snode *n = realloc(m->nodes, (size_t)c * sizeof *n);
    if (n) m->nodes = n;
    uint32_t *st = realloc(m->stamp, (size_t)c * sizeof *st);
    if (st) m->stamp = st;
    uint32_t *h = malloc((size_t)c * 2 * sizeof *h);
    if (!n || !st || !h) {
        free(h);
        return -1;
    }
    memset(st + m->cap_nodes, 0, (size_t)(c - m->cap_nodes) * sizeof *st);
    m->cap_nodes = c;
    free(m->node_hash);
    m->node_hash = h;
    m->node_mask = c * 2 - 1;
    memset(h, 0xFF, (size_t)c * 2 * sizeof *h);
    for (uint32_t i = 1; i < m->n_nodes; i++) {
        uint32_t k = mix(((uint64_t)m->nodes[i].pos << 32) | m->nodes[i].parent) & m->node_mask;
        while (h[k] != UINT32_MAX)
            k = (k + 1) & m->node_mask;
        h[k] = i;
    }
    return 0;
}

/* The frame (pos, parent); UINT32_MAX if a limit forbids it. */
static uint32_t intern_node(lfm_matcher *m, uint32_t pos, uint32_t parent) {
    uint32_t k = mix(((uint64_t)pos << 32) | parent) & m->node_mask;
    for (uint32_t i; (i = m->node_hash[k]) != UINT32_MAX; k = (k + 1) & m->node_mask)
        if (m->nodes[i].pos == pos && m->nodes[i].parent == parent) return i;
    uint32_t depth = m->nodes[parent].depth + 1;
    if (depth > LFM_GM_MAX_DEPTH || m->n_nodes >= LFM_GM_MAX_NODES) {
        m->limit_hit = 1;
        return UINT32_MAX;
    }
    if (m->n_nodes * 2 >= m->cap_nodes) { /* keep the table half empty */
        if (grow_nodes(m)) {
            m->limit_hit = 1;
            return UINT32_MAX;
        }
        return intern_node(m, pos, parent);
    }
    uint32_t id = m->n_nodes++;
    m->nodes[id] = (snode){pos, parent, depth};
    m->stamp[id] = 0;
    m->node_hash[k] = id;
    return id;
}

/* ---- expansion --------------------------------------------------------------------- */
/* Expand frames work[0..n) (already stamped) until every stack's top is a
 * character class; the tops go to m->leaves.  Returns -1 on a limit. */
static int expand(lfm_matcher *m, uint32_t n) {
    const lfm_cgrammar *g = m->g;
    uint32_t visited = n;
    while (n) {
        uint32_t x = m->work[--n];
        if (x == 0) { /* empty stack: the language may end */
            m->leaves[m->n_leaves++] = 0;
            continue;
        }
        const snode nd = m->nodes[x];
        const gelem *e = &g->elem[nd.pos];
        uint32_t next[2], n_next = 0;
        if (e->kind == GE_CHARS) {
            if (m->n_leaves >= LFM_GM_MAX_STACKS) {
                m->limit_hit = 1;
                return -1;
            }
            m->leaves[m->n_leaves++] = x;
            continue;
        }
        if (e->kind == GE_END) {
            next[n_next++] = nd.parent; /* return; the parent frame is a continuation */
        } else {                        /* GE_RULE */
            uint32_t cont = e[1].kind == GE_END ? nd.parent : intern_node(m, nd.pos + 1, nd.parent);
            if (cont == UINT32_MAX) continue; /* too deep: this stack is dropped */
            for (uint32_t a = g->rule_alt[e->a]; a < g->rule_alt[e->a + 1]; a++) {
                uint32_t y = intern_node(m, g->alts[a], cont);
                if (y == UINT32_MAX || m->stamp[y] == m->stamp_gen) continue;
                m->stamp[y] = m->stamp_gen;
                if (++visited > LFM_GM_MAX_VISIT) {
                    m->limit_hit = 1;
                    return -1;
                }
                m->work[n++] = y;
            }
            continue;
        }
        for (uint32_t i = 0; i < n_next; i++) {
            uint32_t y = next[i];
            if (m->stamp[y] == m->stamp_gen) continue;
            m->stamp[y] = m->stamp_gen;
            if (++visited > LFM_GM_MAX_VISIT) {
                m->limit_hit = 1;
                return -1;
            }
            m->work[n++] = y;
        }
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Intern m->leaves[0..n_leaves) as a set; GM_DEAD when empty or on failure. */
static uint32_t intern_set(lfm_matcher *m) {
    uint32_t n = m->n_leaves;
    if (!n) return GM_DEAD;
    qsort(m->leaves, n, sizeof *m->leaves, cmp_u32);
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = h * 0x9E3779B97F4A7C15ull + m->leaves[i];
    if (m->n_sets + 2 >= m->cap_sets) {
        uint32_t c = m->cap_sets ? m->cap_sets * 2 : 256;
        uint32_t *off = realloc(m->set_off, (size_t)(c + 1) * sizeof *off);
        if (off) m->set_off = off;
        uint32_t *sh = malloc((size_t)c * 4 * sizeof *sh);
        if (!off || !sh) {
            free(sh);
            m->limit_hit = 1;
            return GM_DEAD;
        }
        m->cap_sets = c;
        free(m->set_hash);
        m->set_hash = sh;
        m->set_mask = c * 4 - 1;
        memset(sh, 0xFF, (size_t)c * 4 * sizeof *sh);
        for (uint32_t s = 0; s < m->n_sets; s++) {
            uint64_t hh = m->set_off[s + 1] - m->set_off[s];
            for (uint32_t i = m->set_off[s]; i < m->set_off[s + 1]; i++)
                hh = hh * 0x9E3779B97F4A7C15ull + m->set_data[i];
            uint32_t kk = mix(hh) & m->set_mask;
            while (sh[kk] != UINT32_MAX)
                kk = (kk + 1) & m->set_mask;
            sh[kk] = s;
        }
    }
    uint32_t k = mix(h) & m->set_mask;
    for (uint32_t s; (s = m->set_hash[k]) != UINT32_MAX; k = (k + 1) & m->set_mask) {
        uint32_t len = m->set_off[s + 1] - m->set_off[s];
        if (len == n && !memcmp(m->set_data + m->set_off[s], m->leaves, n * sizeof *m->leaves))
            return s;
    }
    if (LFM_RESERVE(m->set_data, m->cap_set_data, m->n_set_data + n)) {
        m->limit_hit = 1;
        return GM_DEAD;
    }
    uint32_t s = m->n_sets++;
    memcpy(m->set_data + m->n_set_data, m->leaves, n * sizeof *m->leaves);
    m->n_set_data += n;
    m->set_off[s + 1] = (uint32_t)m->n_set_data;
    m->set_hash[k] = s;
    return s;
}

/* The set after code point cp (memoized). */
static uint32_t advance(lfm_matcher *m, uint32_t set, uint32_t cp) {
    uint64_t key = (((uint64_t)set << 21) | cp) + 1;
    uint32_t k = mix(key) & m->tr_mask;
    for (; m->tr_key[k]; k = (k + 1) & m->tr_mask)
        if (m->tr_key[k] == key) return m->tr_val[k];
    const lfm_cgrammar *g = m->g;
    if (++m->stamp_gen == 0) { /* wrapped: clear the stamps */
        memset(m->stamp, 0, (size_t)m->cap_nodes * sizeof *m->stamp);
        m->stamp_gen = 1;
    }
    m->n_leaves = 0;
    uint32_t n = 0, result = GM_DEAD;
    int failed = 0;
    for (uint32_t i = m->set_off[set]; i < m->set_off[set + 1] && !failed; i++) {
        uint32_t x = m->set_data[i];
        if (x == 0) continue;
        const snode nd = m->nodes[x];
        if (!lfm_chars_match(g, &g->elem[nd.pos], cp)) continue;
        uint32_t y = intern_node(m, nd.pos + 1, nd.parent);
        if (y == UINT32_MAX || m->stamp[y] == m->stamp_gen) continue;
        m->stamp[y] = m->stamp_gen;
        m->work[n++] = y;
        if (n >= LFM_GM_MAX_STACKS) failed = 1, m->limit_hit = 1;
        /* expand per popped frame so the work list stays bounded */
        if (expand(m, n)) failed = 1;
        n = 0;
    }
    if (!failed) result = intern_set(m);
    /* memoize (failures too: the limits do not change) */
    if ((m->n_tr + 1) * 2 > m->tr_mask) {
        uint32_t c = (m->tr_mask + 1) * 2;
        uint64_t *nk = calloc(c, sizeof *nk);
        uint32_t *nv = malloc((size_t)c * sizeof *nv);
        if (!nk || !nv) {
            free(nk), free(nv);
            return result;
        }
        for (uint32_t i = 0; i <= m->tr_mask; i++) {
            if (!m->tr_key[i]) continue;
            uint32_t j = mix(m->tr_key[i]) & (c - 1);
            while (nk[j])
                j = (j + 1) & (c - 1);
            nk[j] = m->tr_key[i];
            nv[j] = m->tr_val[i];
        }
        free(m->tr_key), free(m->tr_val);
        m->tr_key = nk, m->tr_val = nv, m->tr_mask = c - 1;
        k = mix(key) & m->tr_mask;
        while (m->tr_key[k])
            k = (k + 1) & m->tr_mask;
    }
    m->tr_key[k] = key;
    m->tr_val[k] = result;
    m->n_tr++;
    return result;
}

/* ---- public to the grammar code ------------------------------------------------------ */
static int init_tables(lfm_matcher *m) {
    free(m->nodes), free(m->stamp), free(m->node_hash);
    free(m->set_data), free(m->set_off), free(m->set_hash), free(m->tr_key), free(m->tr_val);
    m->nodes = NULL, m->stamp = NULL, m->node_hash = NULL, m->set_data = NULL;
    m->set_off = NULL, m->set_hash = NULL;
    m->n_nodes = m->cap_nodes = 0;
    m->n_set_data = m->cap_set_data = 0;
    m->n_sets = m->cap_sets = 0;
    m->set_mask = 0;
    m->n_tr = 0;
    m->tr_mask = 1023;
    m->tr_key = calloc(m->tr_mask + 1, sizeof *m->tr_key);
    m->tr_val = malloc((m->tr_mask + 1) * sizeof *m->tr_val);
    m->set_off = calloc(1, sizeof *m->set_off);
    if (!m->tr_key || !m->tr_val || !m->set_off || grow_nodes(m)) return -1;
    m->nodes[0] = (snode){UINT32_MAX, 0, 0};
    m->n_nodes = 1;
    m->stamp_gen = 1;
    return 0;
}

/* The start set: the root rule's alternatives expanded. */
static int compute_start(lfm_matcher *m) {
    const lfm_cgrammar *g = m->g;
    m->n_leaves = 0;
    m->stamp_gen++;
    uint32_t n = 0;
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++) {
        uint32_t y = intern_node(m, g->alts[a], 0);
        if (y == UINT32_MAX || m->stamp[y] == m->stamp_gen) continue;
        m->stamp[y] = m->stamp_gen;
        m->work[n++] = y;
        if (expand(m, n))
            return lfm_fail(LFM2MOE_ERR_LIMIT,
                            "grammar: the start rule expands to more than %u "
                            "stacks or %u steps",
                            LFM_GM_MAX_STACKS, LFM_GM_MAX_VISIT);
        n = 0;
    }
    m->start = intern_set(m);
    if (m->start == GM_DEAD)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "grammar: the start rule matches nothing");
    return 0;
}

int lfm_matcher_create(const lfm_cgrammar *g, lfm_matcher **out) {
    *out = NULL;
    lfm_matcher *m = calloc(1, sizeof *m);
    if (!m) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    m->g = g;
    m->work = malloc((LFM_GM_MAX_VISIT + 2) * sizeof *m->work);
    m->leaves = malloc((LFM_GM_MAX_VISIT + 2) * sizeof *m->leaves);
    if (!m->work || !m->leaves || init_tables(m)) {
        lfm_matcher_free(m);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    int st = compute_start(m);
    if (st) {
        lfm_matcher_free(m);
        return st;
    }
    m->cur = (gm_state){m->start, 0, 0, 0};
    *out = m;
    return 0;
}

void lfm_matcher_free(lfm_matcher *m) {
    if (!m) return;
    free(m->nodes), free(m->stamp), free(m->node_hash), free(m->set_data), free(m->set_off);
    free(m->set_hash), free(m->tr_key), free(m->tr_val), free(m->work), free(m->leaves);
    free(m);
}

int lfm_matcher_reset(lfm_matcher *m) {
    m->cur = (gm_state){m->start, 0, 0, 0};
    return 0;
}

gm_state lfm_matcher_state(const lfm_matcher *m) {
    return m->cur;
}

void lfm_matcher_set_state(lfm_matcher *m, gm_state s) {
    m->cur = s;
}

int lfm_matcher_limit_hit(const lfm_matcher *m) {
    return m->limit_hit;
}

/* Can some stack of `set` match a code point in [lo, hi]? */
static int set_may_match(const lfm_matcher *m, uint32_t set, uint32_t lo, uint32_t hi) {
    const lfm_cgrammar *g = m->g;
    for (uint32_t i = m->set_off[set]; i < m->set_off[set + 1]; i++) {
        uint32_t x = m->set_data[i];
        if (x == 0) continue;
        const gelem *e = &g->elem[m->nodes[x].pos];
        if (!e->b) {
            if (e->negate) return 1;
            continue;
        }
        const grange *r = g->ranges + e->a;
        int covered = 0;
        for (uint32_t j = 0; j < e->b; j++) {
            if (r[j].lo <= hi && r[j].hi >= lo) {
                if (!e->negate) return 1;
                if (r[j].lo <= lo && r[j].hi >= hi) covered = 1;
            }
        }
        if (e->negate && !covered) return 1;
    }
    return 0;
}

/* UTF-8 is decoded strictly: overlong forms, surrogates and code points
 * past U+10FFFF are dead ends, so byte tokens cannot spell a character the
 * grammar would refuse in its proper encoding. */
gm_state lfm_matcher_step(lfm_matcher *m, gm_state s, uint8_t b) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    gm_state dead = {GM_DEAD, 0, 0, 0};
    if (s.set == GM_DEAD) return dead;
    if (s.need == 0) {
        if (b < 0x80) {
            s.set = advance(m, s.set, b);
            return s;
        }
        int need = b >= 0xC2 && b <= 0xDF   ? 1
                   : b >= 0xE0 && b <= 0xEF ? 2
                   : b >= 0xF0 && b <= 0xF4 ? 3
                                            : 0;
        if (!need) return dead;
        s.cp = b & (0x3Fu >> need);
        s.need = (uint8_t)need;
        s.len = (uint8_t)(need + 1);
    } else {
        if ((b & 0xC0) != 0x80) return dead;
        s.cp = (s.cp << 6) | (b & 0x3F);
        s.need--;
        if (s.need == 0) {
            if (s.cp < min_cp[s.len] || s.cp > 0x10FFFF || (s.cp >= 0xD800 && s.cp <= 0xDFFF))
                return dead;
            s.set = advance(m, s.set, s.cp);
            s.cp = 0;
            s.len = 0;
            return s;
        }
    }
    /* a partial character: only go on if it can still become a valid one
     * that some stack takes */
    uint32_t lo = s.cp << (6 * s.need), hi = lo | ((1u << (6 * s.need)) - 1);
    if (lo < min_cp[s.len]) lo = min_cp[s.len];
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return dead;
    return set_may_match(m, s.set, lo, hi) ? s : dead;
}

int lfm_matcher_token_end_ok(const lfm_matcher *m, gm_state s) {
    (void)m;
    return s.set != GM_DEAD; /* partial characters were checked by step */
}

int lfm_matcher_can_end(const lfm_matcher *m, gm_state s) {
    return s.set != GM_DEAD && s.need == 0 && m->set_off[s.set + 1] > m->set_off[s.set] &&
           m->set_data[m->set_off[s.set]] == 0; /* node 0 sorts first */
}

int lfm_matcher_only_end(const lfm_matcher *m, gm_state s) {
    return lfm_matcher_can_end(m, s) && m->set_off[s.set + 1] - m->set_off[s.set] == 1;
}

/* Rebuild the tables around the current state when they grew large. */
int lfm_matcher_maintain(lfm_matcher *m) {
    if (m->n_nodes < LFM_GM_MAX_NODES / 4 && m->n_tr < (1u << 22)) return 0;
    /* the current stacks as frame position lists, root first */
    uint32_t set = m->cur.set, total = 0;
    if (set == GM_DEAD) return lfm_matcher_reset(m);
    uint32_t n = m->set_off[set + 1] - m->set_off[set];
    uint32_t *lens = malloc((n + 1) * sizeof *lens);
    uint32_t *pos = malloc(((size_t)n * (LFM_GM_MAX_DEPTH + 1) + 1) * sizeof *pos);
    if (!lens || !pos) {
        free(lens), free(pos);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = m->set_data[m->set_off[set] + i], d = 0;
        for (; x; x = m->nodes[x].parent)
            pos[total + d++] = m->nodes[x].pos;
        lens[i] = d;
        total += d;
    }
    gm_state keep = m->cur;
    int st = 0;
    if (init_tables(m) || compute_start(m)) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    } else {
        m->n_leaves = 0;
        for (uint32_t i = 0, off = 0; i < n; off += lens[i], i++) {
            uint32_t x = 0;
            for (uint32_t d = lens[i]; d-- > 0;)
                x = intern_node(m, pos[off + d], x);
            if (x != UINT32_MAX) m->leaves[m->n_leaves++] = x;
        }
        keep.set = intern_set(m);
        m->cur = keep;
    }
    free(lens), free(pos);
    return st;
}
