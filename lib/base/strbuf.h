/* The one growable string of the project.  Appends never fail loudly: the
 * first allocation failure sets `oom` and later appends do nothing, so a
 * builder checks once at the end.  `data` is NUL-terminated whenever it is
 * non-NULL (binary contents are fine: `len` is the length). */
#ifndef LFM_STRBUF_H
#define LFM_STRBUF_H

#include <stddef.h>

/* The tag keeps the builder's older name, json_buf, which
 * examples/lfm2moe/gen_structured.h still forward-declares. */
typedef struct json_buf {
    char *data;
    size_t len, cap;
    int oom; /* an append failed; contents are incomplete */
} strbuf;

/* Append s[0..n).  Returns 0, or -1 if memory ran out (now or before). */
int strbuf_append(strbuf *b, const char *s, size_t n);
int strbuf_puts(strbuf *b, const char *s);
int strbuf_putc(strbuf *b, char c);
/* n zero bytes */
int strbuf_zeros(strbuf *b, size_t n);
/* Empty the buffer and forget a past failure, keeping the memory. */
void strbuf_clear(strbuf *b);
/* Hand the text over to the caller (to free) and leave b empty. */
char *strbuf_take(strbuf *b);
void strbuf_free(strbuf *b);

#endif
