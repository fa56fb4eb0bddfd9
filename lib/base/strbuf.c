#include "base/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL. */
static int reserve(strbuf *b, size_t n) {
    if (b->oom) return -1;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return -1;
    }
    const size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t c = b->cap ? b->cap : 64;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : 2 * c;
    char *d = realloc(b->data, c);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = c;
    return 0;
}

int strbuf_append(strbuf *b, const char *s, size_t n) {
    if (reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int strbuf_puts(strbuf *b, const char *s) {
    return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(strbuf *b, char c) {
    return strbuf_append(b, &c, 1);
}

int strbuf_zeros(strbuf *b, size_t n) {
    if (reserve(b, n)) return -1;
    memset(b->data + b->len, 0, n + 1);
    b->len += n;
    return 0;
}

void strbuf_clear(strbuf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->data) b->data[0] = '\0';
}

char *strbuf_take(strbuf *b) {
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void strbuf_free(strbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
