/* lfm2moe template -m MODEL
 * Reads {"messages": [{"role": ..., "content": ...}, ...], "tools": [...],
 * "add_generation_prompt": true} from stdin and prints the prompt the
 * model's chat template renders, exactly (no newline added).  A tool (or a
 * content) that is not a JSON string is written as Python's
 * json.dumps(obj, ensure_ascii=False) would, as the template's tojson does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/json.h"

/* Text of a string value, or the JSON serialization of anything else; the
 * result is owned by the caller.  NULL if memory runs out. */
static char *as_text(const json_value *v) {
    json_buf b = {0};
    if (v->type == JSON_STRING) json_buf_append(&b, v->str, v->len);
    else json_dump(v, &b);
    if (!b.oom && !b.data) json_buf_append(&b, "", 0);
    if (b.oom) {
        json_buf_free(&b);
        return NULL;
    }
    return b.data;
}

int cmd_template(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: lfm2moe template -m MODEL < CONVERSATION.json\n");
            return 2;
        }
    }
    /* read and check the conversation before loading the model */
    json_buf in = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (json_buf_append(&in, chunk, got)) break;
    if (in.oom) {
        fprintf(stderr, "lfm2moe: out of memory reading stdin\n");
        json_buf_free(&in);
        return 1;
    }
    json_value *conv = NULL;
    char err[256];
    if (json_parse(in.data, in.len, &conv, err, sizeof err)) {
        fprintf(stderr, "lfm2moe: template: invalid JSON on stdin: %s\n", err);
        json_buf_free(&in);
        return 1;
    }
    json_buf_free(&in);

    int rc = 1;
    lfm2moe_model *model = NULL;
    const char **roles = NULL, **contents = NULL, **tools = NULL;
    char *out = NULL;
    size_t n_msg = 0, n_tools = 0;
    const json_value *msgs = json_get(conv, "messages");
    const json_value *tl = json_get(conv, "tools");
    const json_value *agp = json_get(conv, "add_generation_prompt");
    if (conv->type != JSON_OBJECT || !msgs || msgs->type != JSON_ARRAY) {
        fprintf(stderr, "lfm2moe: template: expected an object with a \"messages\" array\n");
        goto done;
    }
    if (tl && tl->type != JSON_ARRAY && tl->type != JSON_NULL) {
        fprintf(stderr, "lfm2moe: template: \"tools\" must be an array\n");
        goto done;
    }
    n_msg = msgs->n;
    n_tools = tl && tl->type == JSON_ARRAY ? tl->n : 0;
    roles = calloc(n_msg + 1, sizeof *roles);
    contents = calloc(n_msg + 1, sizeof *contents);
    tools = calloc(n_tools + 1, sizeof *tools);
    if (!roles || !contents || !tools) goto oom;
    for (size_t i = 0; i < n_msg; i++) {
        const json_value *m = msgs->items[i];
        const json_value *role = json_get(m, "role"), *content = json_get(m, "content");
        if (!role || role->type != JSON_STRING || !content) {
            fprintf(stderr, "lfm2moe: template: message %zu needs a string \"role\" and a \"content\"\n", i);
            goto done;
        }
        roles[i] = role->str;
        if (!(contents[i] = as_text(content))) goto oom;
    }
    for (size_t i = 0; i < n_tools; i++)
        if (!(tools[i] = as_text(tl->items[i]))) goto oom;
    uint32_t flags = agp && agp->type == JSON_BOOL && agp->boolean ? LFM2MOE_CHAT_ADD_GENERATION_PROMPT : 0;

    if (!(model = cli_load_model(path))) goto done;
    size_t len = 0;
    int st = lfm2moe_chat_render(model, roles, contents, n_msg, tools, n_tools, flags, NULL, 0, &len);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
        rc = cli_fail("template", st);
        goto done;
    }
    if (!(out = malloc(len + 1))) goto oom;
    if ((st = lfm2moe_chat_render(model, roles, contents, n_msg, tools, n_tools, flags, out,
                                  len + 1, &len))) {
        rc = cli_fail("template", st);
        goto done;
    }
    fwrite(out, 1, len, stdout);
    rc = fflush(stdout) ? 1 : 0;
    goto done;
oom:
    fprintf(stderr, "lfm2moe: out of memory\n");
done:
    for (size_t i = 0; contents && i < n_msg; i++) free((char *)contents[i]);
    for (size_t i = 0; tools && i < n_tools; i++) free((char *)tools[i]);
    free(roles);
    free(contents);
    free(tools);
    free(out);
    json_free(conv);
    lfm2moe_model_free(model);
    return rc;
}
