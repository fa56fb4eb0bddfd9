/* Display of reasoning models' answers (LFM2.5: "<think>...</think>answer"):
 * the text between the tags is the model's thinking, shown dimmed or not at
 * all, the rest is the answer.  think_view_put finds the tags in streamed
 * pieces, whatever way they are split across them; think_view_part takes
 * the library's own split. */
#ifndef LFM2MOE_CLI_THINK_VIEW_H
#define LFM2MOE_CLI_THINK_VIEW_H

#include <stddef.h>
#include <stdio.h>

typedef struct think_view {
    FILE *out;
    int show;        /* 1: print the thinking (dimmed if `dim`), 0: drop it */
    int dim;         /* wrap the thinking in ANSI faint / reset */
    int inside;      /* between <think> and </think> */
    int after_think; /* drop the white space that follows </think> */
    char held[16];   /* a possible tag, not yet decided */
    size_t n_held;
} think_view;

void think_view_init(think_view *v, FILE *out, int show, int dim);
/* Feed generated text; writes what can be shown now. */
void think_view_put(think_view *v, const char *text, size_t len);
/* Feed text whose part is already known (lfm2moe_generate's part_callback:
 * reasoning != 0 for the thinking), no tags in it. */
void think_view_part(think_view *v, int reasoning, const char *text, size_t len);
/* End of an answer: write anything held back, leave the dim mode. */
void think_view_end(think_view *v);

#endif
