/* Structured output for `lfm2moe generate` (and `bench --grammar`): the
 * --grammar / --json-schema / --tools / --tool-choice options, the grammar
 * they make, and the parsed tool calls printed as JSON. */
#ifndef LFM2MOE_CLI_GEN_STRUCTURED_H
#define LFM2MOE_CLI_GEN_STRUCTURED_H

#include <stddef.h>

#include "lfm2moe.h"

typedef struct gen_structured {
    const char *grammar_file, *schema_file, *tools_file;
    int tool_choice; /* lfm2moe_tool_choice */
    char **tools;    /* tool JSON texts read from tools_file */
    size_t n_tools;
} gen_structured;

/* Try the option at argv[*i]: 1 consumed, 0 not ours, -1 bad (printed). */
int gen_structured_opt(gen_structured *s, int argc, char **argv, int *i);

extern const char gen_structured_usage[];

/* Read the files and make the grammar (*g NULL when no option was given).
 * 0 on success, 1 on failure (message printed). */
int gen_structured_open(gen_structured *s, const lfm2moe_model *m, lfm2moe_grammar **g);
void gen_structured_close(gen_structured *s);

/* Print the tool calls in text[0..len) as one JSON line:
 * [{"name": "f", "arguments": {...}}, ...].  0, or 1 if they do not parse. */
int gen_print_tool_calls(const char *text, size_t len);

/* Read a whole file into b (NUL-terminated).  0, or 1 (printed). */
struct json_buf;
int gen_read_file(const char *path, struct json_buf *b);

#endif
