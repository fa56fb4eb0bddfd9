/* The streaming detokenizer: token pieces out as text, with an incomplete
 * UTF-8 sequence at a piece's end held back until the next one completes
 * it. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/strbuf.h"
#include "lfm2moe.h"
#include "text/tokenizer_internal.h"

struct lfm2moe_detokenizer {
    const struct lfm_vocab *v;
    strbuf out;   /* the last piece, then the held-back bytes after it */
    char held[4]; /* incomplete UTF-8 sequence carried to the next push */
    size_t n_held;
};

LFM2MOE_API int lfm2moe_detokenizer_create(const lfm2moe_model *model, lfm2moe_detokenizer **out) {
    static const char fn[] = "lfm2moe_detokenizer_create";
    LFM_CHECK_ARG_IN(fn, out, "out is NULL");
    *out = NULL;
    const struct lfm_vocab *v = NULL;
    int st = lfm_vocab_of(model, fn, &v);
    if (st) return st;
    lfm2moe_detokenizer *d = calloc(1, sizeof *d);
    if (!d) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    d->v = v;
    *out = d;
    return LFM2MOE_OK;
}

LFM2MOE_API void lfm2moe_detokenizer_free(lfm2moe_detokenizer *detok) {
    if (!detok) return;
    strbuf_free(&detok->out);
    free(detok);
}

/* Length of the UTF-8 sequence a lead byte announces; 0 for a byte that
 * cannot start one (continuation or invalid byte). */
static size_t utf8_seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}

/* Number of trailing bytes of s[0..n) that form an incomplete (but so far
 * well-formed) UTF-8 sequence, to be held back. */
static size_t incomplete_tail(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t need = utf8_seq_len(c);
        return need > back ? back : 0;
    }
    return 0;
}

LFM2MOE_API int lfm2moe_detokenizer_push(lfm2moe_detokenizer *detok, int32_t token,
                                         const char **piece, size_t *len) {
    static const char fn[] = "lfm2moe_detokenizer_push";
    LFM_CHECK_ARG_IN(fn, detok && piece && len, "NULL argument");
    int st = lfm_vocab_check_token(detok->v, fn, token);
    if (st) return st;
    size_t n;
    const char *p = lfm_vocab_piece(detok->v, token, &n);
    strbuf *o = &detok->out;
    strbuf_clear(o);
    /* allocates even for an empty piece: *piece is never NULL */
    strbuf_append(o, detok->held, detok->n_held);
    strbuf_append(o, p, n);
    if (o->oom) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    const size_t total = o->len;
    size_t keep = incomplete_tail(o->data, total);
    memcpy(detok->held, o->data + total - keep, keep);
    detok->n_held = keep;
    *piece = o->data;
    *len = total - keep;
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_detokenizer_flush(lfm2moe_detokenizer *detok, const char **piece,
                                          size_t *len) {
    static const char fn[] = "lfm2moe_detokenizer_flush";
    LFM_CHECK_ARG_IN(fn, detok && piece && len, "NULL argument");
    strbuf *o = &detok->out;
    strbuf_clear(o);
    if (strbuf_append(o, detok->held, detok->n_held))
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    *piece = o->data;
    *len = detok->n_held;
    detok->n_held = 0;
    return LFM2MOE_OK;
}
