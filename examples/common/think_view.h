/* Display of reasoning models' answers (LFM2.5: "<think>...</think>answer"):
 * the thinking is shown dimmed or not at all, the answer after it on its
 * own line.  Fed with lfm2moe_generate's split (part_callback), so the tags
 * never reach it. */
#ifndef LFM2MOE_CLI_THINK_VIEW_H
#define LFM2MOE_CLI_THINK_VIEW_H

#include <stddef.h>
#include <stdio.h>

typedef struct think_view {
    FILE *out;
    int show;        /* 1: print the thinking (dimmed if `dim`), 0: drop it */
    int dim;         /* wrap the thinking in ANSI faint / reset */
    int inside;      /* in the thinking */
    int after_think; /* drop the white space that follows </think> */
} think_view;

void think_view_init(think_view *v, FILE *out, int show, int dim);
/* Write text of one part (reasoning != 0: the thinking). */
void think_view_part(think_view *v, int reasoning, const char *text, size_t len);
/* End of an answer: leave the dim mode. */
void think_view_end(think_view *v);

#endif
