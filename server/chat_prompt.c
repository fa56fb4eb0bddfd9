/* OpenAI chat messages -> prompt text (chat_prompt.h). */
#include "chat_prompt.h"

#include <stdlib.h>
#include <string.h>

static const char *const roles_known[] = {"system", "developer", "user", "assistant", "tool"};
static const char *const message_fields[] = {
    "role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content", "refusal"};

/* A JSON value as a Python literal (LFM2 writes call arguments that way). */
static int put_python(const json_value *v, json_buf *b) {
    switch (v->type) {
    case JSON_NULL: return json_buf_append(b, "None", 4);
    case JSON_BOOL:
        return v->boolean ? json_buf_append(b, "True", 4) : json_buf_append(b, "False", 5);
    case JSON_NUMBER: return json_buf_append(b, v->str, v->len);
    case JSON_STRING: return json_dump_string(v->str, v->len, b);
    case JSON_ARRAY:
    case JSON_OBJECT: {
        int obj = v->type == JSON_OBJECT, rc = json_buf_append(b, obj ? "{" : "[", 1);
        for (size_t i = 0; i < v->n && !rc; i++) {
            if (i) rc |= json_buf_append(b, ", ", 2);
            if (obj) {
                rc |= json_dump_string(v->keys[i], v->key_lens[i], b);
                rc |= json_buf_append(b, ": ", 2);
            }
            rc |= put_python(v->items[i], b);
        }
        return rc | json_buf_append(b, obj ? "}" : "]", 1);
    }
    }
    return -1;
}

/* tool_calls of an assistant message -> "<|tool_call_start|>[f(a=1)]<|tool_call_end|>". */
static int put_tool_calls(const json_value *calls, json_buf *b, req_error *err) {
    if (calls->type != JSON_ARRAY)
        return req_fail(err, 400, "messages", "'tool_calls' must be an array");
    if (!calls->n) return 0;
    json_buf_append(b, "<|tool_call_start|>[", 20);
    for (size_t i = 0; i < calls->n; i++) {
        const json_value *f =
            calls->items[i]->type == JSON_OBJECT ? json_get(calls->items[i], "function") : NULL;
        const json_value *name = f && f->type == JSON_OBJECT ? json_get(f, "name") : NULL;
        const json_value *args = f && f->type == JSON_OBJECT ? json_get(f, "arguments") : NULL;
        if (!name || name->type != JSON_STRING || !args || args->type != JSON_STRING)
            return req_fail(err, 400, "messages",
                            "each tool call needs function.name and function.arguments strings");
        json_value *a = NULL;
        if (json_parse(args->str, args->len, &a, NULL, 0) || a->type != JSON_OBJECT) {
            json_free(a);
            return req_fail(err, 400, "messages", "tool call arguments must be a JSON object text");
        }
        if (i) json_buf_append(b, ", ", 2);
        json_buf_append(b, name->str, name->len);
        json_buf_append(b, "(", 1);
        for (size_t k = 0; k < a->n; k++) {
            if (k) json_buf_append(b, ", ", 2);
            json_buf_append(b, a->keys[k], a->key_lens[k]);
            json_buf_append(b, "=", 1);
            put_python(a->items[k], b);
        }
        json_buf_append(b, ")", 1);
        json_free(a);
    }
    return json_buf_append(b, "]<|tool_call_end|>", 18);
}

/* The content of a message as text: a string, text parts joined, or null. */
static int put_content(const json_value *c, json_buf *b, req_error *err) {
    if (!c || c->type == JSON_NULL) return 0;
    if (c->type == JSON_STRING) return json_buf_append(b, c->str, c->len);
    if (c->type != JSON_ARRAY)
        return req_fail(err, 400, "messages", "'content' must be a string or an array of parts");
    for (size_t i = 0; i < c->n; i++) {
        const json_value *p = c->items[i];
        const json_value *t = p->type == JSON_OBJECT ? json_get(p, "type") : NULL;
        const json_value *x = p->type == JSON_OBJECT ? json_get(p, "text") : NULL;
        if (!t || t->type != JSON_STRING || strcmp(t->str, "text") || !x || x->type != JSON_STRING)
            return req_fail(err, 400, "messages", "only text content parts are supported");
        json_buf_append(b, x->str, x->len);
    }
    return 0;
}

static int check_message(const json_value *m, size_t i, const char **role, req_error *err) {
    if (m->type != JSON_OBJECT)
        return req_fail(err, 400, "messages", "messages[%zu] must be an object", i);
    for (size_t k = 0; k < m->n; k++) {
        size_t f = 0, nf = sizeof message_fields / sizeof *message_fields;
        while (f < nf && strcmp(message_fields[f], m->keys[k]))
            f++;
        if (f == nf)
            return req_fail(err, 400, "messages", "unknown field '%.40s' in messages[%zu]",
                            m->keys[k], i);
    }
    const json_value *r = json_get(m, "role");
    if (!r || r->type != JSON_STRING)
        return req_fail(err, 400, "messages", "messages[%zu].role must be a string", i);
    for (size_t k = 0; k < sizeof roles_known / sizeof *roles_known; k++)
        if (!strcmp(r->str, roles_known[k])) {
            /* the template knows "system"; "developer" is OpenAI's new name for it */
            *role = k == 1 ? "system" : roles_known[k];
            const json_value *tc = json_get(m, "tool_calls");
            if (tc && tc->type != JSON_NULL && k != 3)
                return req_fail(err, 400, "messages",
                                "messages[%zu]: only assistant messages have tool_calls", i);
            return 0;
        }
    return req_fail(err, 400, "messages",
                    "messages[%zu].role '%.40s' is not one of system, "
                    "developer, user, assistant, tool",
                    i, r->str);
}

int chat_prompt_render(const lfm2moe_model *model, const json_value *messages,
                       const json_value *tools, char **out, size_t *out_len, req_error *err) {
    if (messages->type != JSON_ARRAY || !messages->n)
        return req_fail(err, 400, "messages", "'messages' must be a non-empty array");
    size_t n = messages->n, nt = tools ? tools->n : 0;
    const char **roles = calloc(n, sizeof *roles);
    char **contents = calloc(n, sizeof *contents);
    char **tool_texts = calloc(nt + 1, sizeof *tool_texts);
    int rc = -1;
    if (!roles || !contents || !tool_texts) {
        req_fail(err, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_value *m = messages->items[i];
        if (check_message(m, i, &roles[i], err)) goto out;
        json_buf b = {0};
        const json_value *tc = json_get(m, "tool_calls");
        if ((tc && tc->type != JSON_NULL && put_tool_calls(tc, &b, err) < 0) ||
            put_content(json_get(m, "content"), &b, err) < 0) {
            json_buf_free(&b);
            goto out;
        }
        if (json_buf_append(&b, "", 0) || b.oom) {
            json_buf_free(&b);
            req_fail(err, 500, NULL, "out of memory");
            goto out;
        }
        if (strlen(b.data) != b.len) {
            json_buf_free(&b);
            req_fail(err, 400, "messages", "messages[%zu] holds a NUL character", i);
            goto out;
        }
        contents[i] = b.data;
    }
    for (size_t i = 0; i < nt; i++) {
        const json_value *t = tools->items[i];
        const json_value *f = t->type == JSON_OBJECT ? json_get(t, "function") : NULL;
        const json_value *name = f && f->type == JSON_OBJECT ? json_get(f, "name") : NULL;
        if (!name || name->type != JSON_STRING) {
            req_fail(err, 400, "tools",
                     "tools[%zu] must be {\"type\": \"function\", "
                     "\"function\": {\"name\": ...}}",
                     i);
            goto out;
        }
        json_buf b = {0};
        if (json_dump(t, &b) || json_buf_append(&b, "", 0)) {
            json_buf_free(&b);
            req_fail(err, 500, NULL, "out of memory");
            goto out;
        }
        tool_texts[i] = b.data;
    }
    size_t len = 0;
    int st = lfm2moe_chat_render(model, roles, (const char *const *)contents, n,
                                 (const char *const *)tool_texts, nt,
                                 LFM2MOE_CHAT_ADD_GENERATION_PROMPT, NULL, 0, &len);
    if (st == LFM2MOE_ERR_BUFFER_TOO_SMALL && (*out = malloc(len + 1)))
        st = lfm2moe_chat_render(model, roles, (const char *const *)contents, n,
                                 (const char *const *)tool_texts, nt,
                                 LFM2MOE_CHAT_ADD_GENERATION_PROMPT, *out, len + 1, &len);
    if (st) {
        req_fail(err, st == LFM2MOE_ERR_UNSUPPORTED_TEMPLATE ? 400 : 500, NULL,
                 "cannot render the chat: %s", lfm2moe_last_error());
        goto out;
    }
    *out_len = len;
    rc = 0;
out:
    if (rc && out) {
        free(*out);
        *out = NULL;
    }
    for (size_t i = 0; i < n && contents; i++)
        free(contents[i]);
    for (size_t i = 0; i < nt && tool_texts; i++)
        free(tool_texts[i]);
    free(roles);
    free(contents);
    free(tool_texts);
    return rc;
}
