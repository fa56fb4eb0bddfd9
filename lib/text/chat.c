/* Chat templates: every render call interprets a Jinja chat template (the
 * model's tokenizer.chat_template, or one the caller passes) with the
 * sandboxed engine of text/jinja, the way transformers' apply_chat_template
 * does.  The request is a JSON object: "messages", "tools" and every other
 * member become template variables; bos_token / eos_token come from the
 * vocabulary unless the request sets them. */
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/json.h"
#include "lfm2moe.h"
#include "model/model.h"
#include "text/jinja/jinja.h"
#include "text/tokenizer.h"

/* A file without a template is taken to use its family's: LFM2's own,
 * exactly as LFM2-8B-A1B ships it. */
static const char lfm2_template[] =
    "{{- bos_token -}}\n"
    "{%- set system_prompt = \"\" -%}\n"
    "{%- set ns = namespace(system_prompt=\"\") -%}\n"
    "{%- if messages[0][\"role\"] == \"system\" -%}\n"
    "\t{%- set ns.system_prompt = messages[0][\"content\"] -%}\n"
    "\t{%- set messages = messages[1:] -%}\n"
    "{%- endif -%}\n"
    "{%- if tools -%}\n"
    "\t{%- set ns.system_prompt = ns.system_prompt + (\"\\n\" if ns.system_prompt else \"\") + "
    "\"List of tools: <|tool_list_start|>[\" -%}\n"
    "\t{%- for tool in tools -%}\n"
    "\t\t{%- if tool is not string -%}\n"
    "\t\t\t{%- set tool = tool | tojson -%}\n"
    "\t\t{%- endif -%}\n"
    "\t\t{%- set ns.system_prompt = ns.system_prompt + tool -%}\n"
    "\t\t{%- if not loop.last -%}\n"
    "\t\t\t{%- set ns.system_prompt = ns.system_prompt + \", \" -%}\n"
    "\t\t{%- endif -%}\n"
    "\t{%- endfor -%}\n"
    "\t{%- set ns.system_prompt = ns.system_prompt + \"]<|tool_list_end|>\" -%}\n"
    "{%- endif -%}\n"
    "{%- if ns.system_prompt -%}\n"
    "\t{{- \"<|im_start|>system\\n\" + ns.system_prompt + \"<|im_end|>\\n\" -}}\n"
    "{%- endif -%}\n"
    "{%- for message in messages -%}\n"
    "\t{{- \"<|im_start|>\" + message[\"role\"] + \"\\n\" -}}\n"
    "\t{%- set content = message[\"content\"] -%}\n"
    "\t{%- if content is not string -%}\n"
    "\t\t{%- set content = content | tojson -%}\n"
    "\t{%- endif -%}\n"
    "\t{%- if message[\"role\"] == \"tool\" -%}\n"
    "\t\t{%- set content = \"<|tool_response_start|>\" + content + \"<|tool_response_end|>\" -%}\n"
    "\t{%- endif -%}\n"
    "\t{{- content + \"<|im_end|>\\n\" -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "\t{{- \"<|im_start|>assistant\\n\" -}}\n"
    "{%- endif -%}";

static int model_template(const char *fn, const lfm2moe_model *model, const char **t, size_t *n) {
    gguf_str s;
    int st = gguf_get_str(&model->gguf, "tokenizer.chat_template", &s);
    if (st == LFM2MOE_ERR_NOT_FOUND) {
        *t = lfm2_template;
        *n = sizeof lfm2_template - 1;
        return LFM2MOE_OK;
    }
    if (st) return lfm_fail(st, "%s: cannot read tokenizer.chat_template", fn);
    *t = s.ptr;
    *n = (size_t)s.len;
    return LFM2MOE_OK;
}

/* Append a member (null, or a bool) to a parsed object. */
static int object_add(json_value *obj, const char *key, json_type type, int value) {
    json_value *v = calloc(1, sizeof *v);
    char *k = strdup(key);
    json_value **items = realloc(obj->items, (obj->n + 1) * sizeof *items);
    if (items) obj->items = items;
    char **keys = realloc(obj->keys, (obj->n + 1) * sizeof *keys);
    if (keys) obj->keys = keys;
    size_t *lens = realloc(obj->key_lens, (obj->n + 1) * sizeof *lens);
    if (lens) obj->key_lens = lens;
    if (!v || !k || !items || !keys || !lens) {
        free(v);
        free(k);
        return -1;
    }
    v->type = type;
    v->boolean = value;
    obj->items[obj->n] = v;
    obj->keys[obj->n] = k;
    obj->key_lens[obj->n] = strlen(k);
    obj->n++;
    return 0;
}

static int copy_out(const char *fn, const strbuf *text, char *buf, size_t buf_size, size_t *len) {
    size_t n = text->len;
    if (len) *len = n;
    if (n < buf_size) {
        if (n) memcpy(buf, text->data, n);
        buf[n] = '\0';
        return LFM2MOE_OK;
    }
    if (buf_size) {
        memcpy(buf, text->data, buf_size - 1);
        buf[buf_size - 1] = '\0';
    }
    return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL,
                    "%s: %zu bytes needed (with the NUL), buffer has %zu", fn, n + 1, buf_size);
}

static int render(const char *fn, const lfm2moe_model *model, const char *tmpl, size_t tmpl_len,
                  const char *request, size_t request_len, uint32_t flags, char *buf,
                  size_t buf_size, size_t *len) {
    LFM_CHECK_ARG_IN(fn, request || !request_len, "request_json is NULL");
    if (flags & ~(uint32_t)LFM2MOE_CHAT_ADD_GENERATION_PROMPT)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                        (unsigned)flags);
    LFM_CHECK_ARG_IN(fn, buf || !buf_size, "buf is NULL but buf_size is %zu", buf_size);
    json_value *req = NULL;
    char err[160];
    if (json_parse(request, request_len, &req, err, sizeof err))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: request is not valid JSON: %s", fn, err);
    int st = LFM2MOE_OK;
    const json_value *msgs = json_get(req, "messages");
    if (req->type != JSON_OBJECT || (msgs && msgs->type != JSON_ARRAY)) {
        st = lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                      "%s: the request must be an object whose \"messages\" is an array", fn);
        goto done;
    }
    /* as transformers calls render(): tools and documents are None when not
     * given (`tools is none` holds), add_generation_prompt always set */
    if ((!json_get(req, "add_generation_prompt") &&
         object_add(req, "add_generation_prompt", JSON_BOOL,
                    !!(flags & LFM2MOE_CHAT_ADD_GENERATION_PROMPT))) ||
        (!json_get(req, "tools") && object_add(req, "tools", JSON_NULL, 0)) ||
        (!json_get(req, "documents") && object_add(req, "documents", JSON_NULL, 0))) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        goto done;
    }
    jj_var extra[2];
    size_t n_extra = 0;
    const struct lfm_vocab *v = model ? model->vocab : NULL;
    if (v && v->bos >= 0) {
        extra[n_extra].name = "bos_token";
        extra[n_extra].value = lfm_vocab_text(v, v->bos, &extra[n_extra].len);
        n_extra++;
    }
    if (v && v->eos >= 0) {
        extra[n_extra].name = "eos_token";
        extra[n_extra].value = lfm_vocab_text(v, v->eos, &extra[n_extra].len);
        n_extra++;
    }
    strbuf text = {0};
    st = jj_render(tmpl, tmpl_len, extra, n_extra, req, NULL, &text);
    if (st == LFM2MOE_OK) st = copy_out(fn, &text, buf, buf_size, len);
    strbuf_free(&text);
done:
    json_free(req);
    return st;
}

LFM2MOE_API int lfm2moe_chat_render_json(const lfm2moe_model *model, const char *request_json,
                                         size_t request_len, uint32_t flags, char *buf,
                                         size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_chat_render_json";
    LFM_CHECK_ARG_IN(fn, model, "model is NULL");
    const char *t = NULL;
    size_t n = 0;
    int st = model_template(fn, model, &t, &n);
    if (st) return st;
    return render(fn, model, t, n, request_json, request_len, flags, buf, buf_size, len);
}

LFM2MOE_API int lfm2moe_chat_render_template(const lfm2moe_model *model, const char *template_text,
                                             size_t template_len, const char *request_json,
                                             size_t request_len, uint32_t flags, char *buf,
                                             size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_chat_render_template";
    LFM_CHECK_ARG_IN(fn, template_text || !template_len, "template is NULL");
    return render(fn, model, template_text ? template_text : "", template_len, request_json,
                  request_len, flags, buf, buf_size, len);
}

/* The role/content call builds the equivalent JSON request: contents as
 * strings, tools as strings (the template inserts a string tool as is). */
LFM2MOE_API int lfm2moe_chat_render(const lfm2moe_model *model, const char *const *roles,
                                    const char *const *contents, size_t n_messages,
                                    const char *const *tools, size_t n_tools, uint32_t flags,
                                    char *buf, size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_chat_render";
    LFM_CHECK_ARG_IN(fn, model, "model is NULL");
    LFM_CHECK_ARG_IN(fn, !n_messages || (roles && contents), "roles or contents is NULL");
    for (size_t i = 0; i < n_messages; i++)
        LFM_CHECK_ARG_IN(fn, roles[i] && contents[i], "message %zu has a NULL %s", i,
                         roles[i] ? "content" : "role");
    LFM_CHECK_ARG_IN(fn, tools || !n_tools, "tools is NULL");
    for (size_t i = 0; i < n_tools; i++)
        LFM_CHECK_ARG_IN(fn, tools[i], "tool %zu is NULL", i);
    strbuf req = {0};
    strbuf_append(&req, "{\"messages\": [", 14);
    for (size_t i = 0; i < n_messages; i++) {
        strbuf_append(&req, i ? ", {\"role\": " : "{\"role\": ", i ? 11 : 9);
        json_dump_string(roles[i], strlen(roles[i]), &req);
        strbuf_append(&req, ", \"content\": ", 13);
        json_dump_string(contents[i], strlen(contents[i]), &req);
        strbuf_append(&req, "}", 1);
    }
    strbuf_append(&req, "], \"tools\": [", 13);
    for (size_t i = 0; i < n_tools; i++) {
        if (i) strbuf_append(&req, ", ", 2);
        json_dump_string(tools[i], strlen(tools[i]), &req);
    }
    strbuf_append(&req, "]}", 2);
    int st;
    if (req.oom) {
        st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    } else {
        const char *t = NULL;
        size_t n = 0;
        st = model_template(fn, model, &t, &n);
        if (!st) st = render(fn, model, t, n, req.data, req.len, flags, buf, buf_size, len);
    }
    strbuf_free(&req);
    return st;
}
