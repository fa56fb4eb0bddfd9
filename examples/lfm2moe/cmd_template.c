/* lfm2moe template -m MODEL [--template FILE]
 * Reads a chat request from stdin:
 *   {"messages": [...], "tools": [...], "add_generation_prompt": true, ...}
 * (messages may carry tool_calls, thinking, content-part lists; any other
 * member is a template variable) and prints the prompt the model's chat
 * template renders, exactly (no newline added).  --template FILE renders
 * that Jinja template instead of the file's; with it, -m may be omitted
 * (then bos_token / eos_token are whatever the request sets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/json.h"

static int read_all(FILE *f, json_buf *b) {
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (json_buf_append(b, chunk, got)) break;
    if (!b->data) json_buf_append(b, "", 0);
    return b->oom || ferror(f) ? -1 : 0;
}

int cmd_template(int argc, char **argv) {
    const char *path = NULL, *tmpl_path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--template") && i + 1 < argc)
            tmpl_path = argv[++i];
        else {
            fprintf(stderr,
                    "usage: lfm2moe template [-m MODEL] [--template FILE] < REQUEST.json\n");
            return 2;
        }
    }
    if (!path && !tmpl_path) {
        fprintf(stderr, "lfm2moe: template: give -m MODEL, --template FILE, or both\n");
        return 2;
    }
    int rc = 1;
    json_buf in = {0}, tmpl = {0};
    lfm2moe_model *model = NULL;
    char *out = NULL;
    if (read_all(stdin, &in)) {
        fprintf(stderr, "lfm2moe: template: cannot read stdin\n");
        goto done;
    }
    if (tmpl_path) {
        FILE *f = fopen(tmpl_path, "rb");
        int bad = !f || read_all(f, &tmpl);
        if (f) fclose(f);
        if (bad) {
            fprintf(stderr, "lfm2moe: template: cannot read %s\n", tmpl_path);
            goto done;
        }
    }
    /* check the request before loading the model */
    json_value *req = NULL;
    char err[256];
    if (json_parse(in.data, in.len, &req, err, sizeof err)) {
        fprintf(stderr, "lfm2moe: template: invalid JSON on stdin: %s\n", err);
        goto done;
    }
    json_free(req);
    if (path && !(model = cli_load_model(path))) goto done;

    size_t len = 0, cap = 0;
    int st;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (tmpl_path)
            st = lfm2moe_chat_render_template(model, tmpl.data, tmpl.len, in.data, in.len, 0, out,
                                              cap, &len);
        else
            st = lfm2moe_chat_render_json(model, in.data, in.len, 0, out, cap, &len);
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL) break;
        free(out);
        cap = len + 1;
        if (!(out = malloc(cap))) {
            fprintf(stderr, "lfm2moe: out of memory\n");
            goto done;
        }
    }
    if (st) {
        rc = cli_fail("template", st);
        goto done;
    }
    fwrite(out ? out : "", 1, len, stdout);
    rc = fflush(stdout) ? 1 : 0;
done:
    free(out);
    json_buf_free(&in);
    json_buf_free(&tmpl);
    lfm2moe_model_free(model);
    return rc;
}
