/* --grammar FILE | --json-schema FILE | --tools FILE [--tool-choice ...] */
#include "gen_structured.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli.h"

const char gen_structured_usage[] =
    "  --grammar FILE      constrain the output to a GBNF grammar\n"
    "  --json-schema FILE  constrain the output to JSON valid under a JSON Schema\n"
    "  --tools FILE        a JSON list of tools: given to the chat template (--chat), the\n"
    "                      calls constrained to them and printed as JSON after the text\n"
    "  --tool-choice C     auto (default: text or calls), required, none\n";

int gen_structured_opt(gen_structured *s, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char **dst = !strcmp(a, "--grammar")       ? &s->grammar_file
                       : !strcmp(a, "--json-schema") ? &s->schema_file
                       : !strcmp(a, "--tools")       ? &s->tools_file
                                                     : NULL;
    if (!dst && strcmp(a, "--tool-choice")) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "lfm2moe: %s needs a value\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    if (dst) {
        *dst = v;
        return 1;
    }
    if (!strcmp(v, "auto"))
        s->tool_choice = LFM2MOE_TOOL_CHOICE_AUTO;
    else if (!strcmp(v, "required"))
        s->tool_choice = LFM2MOE_TOOL_CHOICE_REQUIRED;
    else if (!strcmp(v, "none"))
        s->tool_choice = LFM2MOE_TOOL_CHOICE_NONE;
    else {
        fprintf(stderr, "lfm2moe: --tool-choice: auto, required or none, not '%s'\n", v);
        return -1;
    }
    return 1;
}

int gen_read_file(const char *path, json_buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (json_buf_append(b, chunk, n)) break;
    int bad = ferror(f) || b->oom;
    fclose(f);
    if (!bad && !b->data) json_buf_append(b, "", 0);
    if (bad || b->oom) {
        fprintf(stderr, "lfm2moe: cannot read %s\n", path);
        return 1;
    }
    return 0;
}

/* The tools file: a JSON list of tool objects (or one object). */
static int read_tools(gen_structured *s) {
    json_buf b = {0};
    if (gen_read_file(s->tools_file, &b)) return 1;
    json_value *v = NULL;
    char err[128];
    int rc = 1;
    if (json_parse(b.data, b.len, &v, err, sizeof err)) {
        fprintf(stderr, "lfm2moe: %s: %s\n", s->tools_file, err);
        goto out;
    }
    size_t n = v->type == JSON_ARRAY ? v->n : 1;
    s->tools = calloc(n ? n : 1, sizeof *s->tools);
    if (!s->tools) goto out;
    for (size_t i = 0; i < n; i++) {
        json_buf t = {0};
        if (json_dump(v->type == JSON_ARRAY ? v->items[i] : v, &t)) {
            json_buf_free(&t);
            goto out;
        }
        s->tools[s->n_tools++] = t.data;
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "lfm2moe: cannot use the tools of %s\n", s->tools_file);
    json_free(v);
    json_buf_free(&b);
    return rc;
}

int gen_structured_open(gen_structured *s, const lfm2moe_model *m, lfm2moe_grammar **g) {
    *g = NULL;
    int given = !!s->grammar_file + !!s->schema_file + !!s->tools_file;
    if (given > 1) {
        fprintf(stderr, "lfm2moe: give one of --grammar, --json-schema, --tools\n");
        return 1;
    }
    if (s->tools_file) {
        if (read_tools(s)) return 1;
        int st = lfm2moe_grammar_from_tools(m, (const char *const *)s->tools, s->n_tools,
                                            s->tool_choice, g);
        return st ? cli_fail("tools", st) : 0;
    }
    const char *path = s->grammar_file ? s->grammar_file : s->schema_file;
    if (!path) return 0;
    json_buf b = {0};
    if (gen_read_file(path, &b)) return 1;
    int st = s->grammar_file ? lfm2moe_grammar_create(m, b.data, b.len, NULL, g)
                             : lfm2moe_grammar_from_json_schema(m, b.data, b.len, g);
    json_buf_free(&b);
    return st ? cli_fail(path, st) : 0;
}

void gen_structured_close(gen_structured *s) {
    for (size_t i = 0; i < s->n_tools; i++)
        free(s->tools[i]);
    free(s->tools);
    s->tools = NULL;
    s->n_tools = 0;
}

int gen_print_tool_calls(const char *text, size_t len) {
    lfm2moe_tool_calls *calls = NULL;
    int st = lfm2moe_tool_calls_parse(text, len, &calls);
    if (st) return cli_fail("tool calls", st);
    size_t n = 0;
    lfm2moe_tool_calls_count(calls, &n);
    json_buf out = {0};
    json_buf_append(&out, "[", 1);
    for (size_t i = 0; i < n; i++) {
        const char *name, *args;
        lfm2moe_tool_calls_get(calls, i, &name, &args);
        if (i) json_buf_append(&out, ", ", 2);
        json_buf_append(&out, "{\"name\": ", 9);
        json_dump_string(name, strlen(name), &out);
        json_buf_append(&out, ", \"arguments\": ", 15);
        json_buf_append(&out, args, strlen(args));
        json_buf_append(&out, "}", 1);
    }
    json_buf_append(&out, "]", 1);
    if (out.data) printf("%s\n", out.data);
    json_buf_free(&out);
    lfm2moe_tool_calls_free(calls);
    return 0;
}
