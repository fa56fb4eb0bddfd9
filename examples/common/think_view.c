#include "think_view.h"

#include <string.h>

void think_view_init(think_view *v, FILE *out, int show, int dim) {
    memset(v, 0, sizeof *v);
    v->out = out;
    v->show = show;
    v->dim = dim;
}

static void emit(think_view *v, const char *s, size_t n) {
    if (v->inside && !v->show) return;
    if (!v->inside && v->after_think) {
        while (n && (*s == '\n' || *s == ' ')) {
            s++;
            n--;
        }
        if (!n) return;
        v->after_think = 0;
    }
    fwrite(s, 1, n, v->out);
}

static void enter(think_view *v, int inside) {
    v->inside = inside;
    if (v->show && v->dim) fputs(inside ? "\x1b[2m" : "\x1b[0m", v->out);
    if (!inside) {
        if (v->show) fputc('\n', v->out); /* the answer starts on its own line */
        v->after_think = 1;
    }
}

void think_view_part(think_view *v, int reasoning, const char *text, size_t len) {
    if (!reasoning != !v->inside) enter(v, reasoning != 0);
    emit(v, text, len);
    fflush(v->out);
}

void think_view_end(think_view *v) {
    if (v->inside && v->show && v->dim) fputs("\x1b[0m", v->out);
    v->inside = 0;
    v->after_think = 0;
    fflush(v->out);
}
