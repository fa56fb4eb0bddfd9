/* Checks of a compiled grammar: which rules can match the empty string,
 * and left recursion (a rule that can reach itself without consuming a
 * character, directly or through nullable prefixes), which is refused: it
 * would make the expansion of grammar stacks loop forever. */
#include <stdio.h>
#include <stdlib.h>

#include "base/errors.h"
#include "generate/grammar/grammar.h"

/* nullable[r]: rule r can match the empty string (a worklist: each
 * alternative counts its rule references still not known nullable). */
static int find_nullable(const lfm_cgrammar *cg, uint8_t *nullable) {
    const uint32_t nr = cg->n_rules, na = cg->rule_alt[nr];
    uint32_t *cnt = calloc(na + 1, sizeof *cnt), *alt_rule = malloc((na + 1) * sizeof *alt_rule);
    uint32_t *occ_start = calloc(nr + 1, sizeof *occ_start),
             *queue = malloc((nr + 1) * sizeof *queue);
    uint32_t *occ = NULL;
    int st = -1;
    if (!cnt || !alt_rule || !occ_start || !queue) goto out;
    uint64_t n_occ = 0;
    for (uint32_t r = 0; r < nr; r++)
        for (uint32_t a = cg->rule_alt[r]; a < cg->rule_alt[r + 1]; a++) {
            alt_rule[a] = r;
            const gelem *e = cg->elem + cg->alts[a];
            uint32_t k = 0;
            for (; e->kind == GE_RULE; e++)
                k++;
            cnt[a] = e->kind == GE_END ? k : UINT32_MAX; /* characters: never empty */
            if (cnt[a] != UINT32_MAX) {
                for (e = cg->elem + cg->alts[a]; e->kind == GE_RULE; e++)
                    occ_start[e->a + 1]++;
                n_occ += k;
            }
        }
    for (uint32_t r = 0; r < nr; r++)
        occ_start[r + 1] += occ_start[r];
    occ = malloc((size_t)(n_occ + 1) * sizeof *occ);
    uint32_t *fill = calloc(nr + 1, sizeof *fill);
    if (!occ || !fill) {
        free(fill);
        goto out;
    }
    for (uint32_t a = 0; a < na; a++)
        if (cnt[a] != UINT32_MAX)
            for (const gelem *e = cg->elem + cg->alts[a]; e->kind == GE_RULE; e++)
                occ[occ_start[e->a] + fill[e->a]++] = a;
    free(fill);
    uint32_t qh = 0, qt = 0;
    for (uint32_t a = 0; a < na; a++)
        if (cnt[a] == 0 && !nullable[alt_rule[a]])
            nullable[alt_rule[a]] = 1, queue[qt++] = alt_rule[a];
    while (qh < qt) {
        uint32_t r = queue[qh++];
        for (uint32_t i = occ_start[r]; i < occ_start[r + 1]; i++) {
            uint32_t a = occ[i];
            if (--cnt[a] == 0 && !nullable[alt_rule[a]])
                nullable[alt_rule[a]] = 1, queue[qt++] = alt_rule[a];
        }
    }
    st = 0;
out:
    free(cnt), free(alt_rule), free(occ_start), free(queue), free(occ);
    return st;
}

/* Refuse rules that can reach themselves without consuming a character:
 * a cycle in the graph of "r may start with s" edges. */
int lfm_cgrammar_check(const lfm_cgrammar *cg) {
    const uint32_t nr = cg->n_rules;
    uint8_t *nullable = calloc(nr, 1), *color = calloc(nr, 1); /* 0 new, 1 on path, 2 done */
    uint32_t *edge_start = calloc(nr + 1, sizeof *edge_start);
    uint32_t *path = malloc(nr * sizeof *path), *path_edge = malloc(nr * sizeof *path_edge);
    uint32_t *edges = NULL;
    int st = 0;
    if (!nullable || !color || !edge_start || !path || !path_edge || find_nullable(cg, nullable)) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
        uint32_t n = 0;
        for (uint32_t r = 0; r < nr; r++) {
            if (pass) edge_start[r] = n;
            for (uint32_t a = cg->rule_alt[r]; a < cg->rule_alt[r + 1]; a++)
                for (const gelem *e = cg->elem + cg->alts[a]; e->kind == GE_RULE; e++) {
                    if (pass) edges[n] = e->a;
                    n++;
                    if (!nullable[e->a]) break;
                }
        }
        if (pass) {
            edge_start[nr] = n;
        } else if (!(edges = malloc(((size_t)n + 1) * sizeof *edges))) {
            st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
            goto out;
        }
    }
    for (uint32_t start = 0; start < nr && !st; start++) {
        if (color[start]) continue;
        uint32_t depth = 0;
        path[0] = start;
        path_edge[0] = edge_start[start];
        color[start] = 1;
        for (;;) {
            uint32_t r = path[depth];
            if (path_edge[depth] == edge_start[r + 1]) {
                color[r] = 2;
                if (depth-- == 0) break;
                continue;
            }
            uint32_t s = edges[path_edge[depth]++];
            if (color[s] == 1) {
                char msg[400];
                size_t off = 0;
                uint32_t from = depth;
                while (path[from] != s)
                    from--;
                for (uint32_t d = from; d <= depth && off < 300; d++)
                    off += (size_t)snprintf(msg + off, sizeof msg - off, "%.60s -> ",
                                            cg->rule_names[path[d]]);
                snprintf(msg + off, sizeof msg - off, "%.60s", cg->rule_names[s]);
                st = lfm_fail(
                    LFM2MOE_ERR_PARSE,
                    "grammar: left recursion, refused (a rule reaches itself without consuming "
                    "input: %s)",
                    msg);
                break;
            }
            if (color[s] == 0) {
                color[s] = 1;
                path[++depth] = s;
                path_edge[depth] = edge_start[s];
            }
        }
    }
out:
    free(nullable), free(color), free(edge_start), free(path), free(path_edge), free(edges);
    return st;
}
