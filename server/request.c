/* Parsing and validation of chat / completion request bodies (request.h). */
#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "chat_prompt.h"

int req_fail(req_error *err, int http_status, const char *param, const char *fmt, ...) {
    err->http_status = http_status;
    err->param = param;
    err->code = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Fields each endpoint accepts (OpenAI's names plus top_k, min_p and
 * repeat_penalty, which llama-server and vLLM accept too).  Anything else
 * is refused, as the OpenAI API does. */
static const char *const chat_fields[] = {"model",
                                          "messages",
                                          "stream",
                                          "stream_options",
                                          "temperature",
                                          "top_p",
                                          "top_k",
                                          "min_p",
                                          "repeat_penalty",
                                          "seed",
                                          "max_tokens",
                                          "max_completion_tokens",
                                          "stop",
                                          "n",
                                          "presence_penalty",
                                          "frequency_penalty",
                                          "logit_bias",
                                          "user",
                                          "tools",
                                          "tool_choice",
                                          "parallel_tool_calls",
                                          "response_format",
                                          "logprobs",
                                          "top_logprobs",
                                          NULL};
static const char *const completion_fields[] = {
    "model",      "prompt", "stream", "stream_options",   "temperature",
    "top_p",      "top_k",  "min_p",  "repeat_penalty",   "seed",
    "max_tokens", "stop",   "n",      "presence_penalty", "frequency_penalty",
    "logit_bias", "user",   "echo",   "suffix",           "best_of",
    "logprobs",   NULL};

static int known(const char *const *list, const char *key) {
    for (; *list; list++)
        if (!strcmp(*list, key)) return 1;
    return 0;
}

/* Member `key`, NULL when absent or JSON null (OpenAI treats both alike). */
static const json_value *field(const json_value *o, const char *key) {
    const json_value *v = json_get(o, key);
    return v && v->type != JSON_NULL ? v : NULL;
}

static int get_number(const json_value *o, const char *key, double lo, double hi, double *out,
                      req_error *err) {
    const json_value *v = field(o, key);
    if (!v) return 0;
    if (v->type != JSON_NUMBER) return req_fail(err, 400, key, "'%s' must be a number", key);
    if (!(v->number >= lo && v->number <= hi))
        return req_fail(err, 400, key, "'%s' must be between %g and %g", key, lo, hi);
    *out = v->number;
    return 1;
}

static int get_int(const json_value *o, const char *key, double lo, double hi, double *out,
                   req_error *err) {
    const json_value *v = field(o, key);
    if (v && (v->type != JSON_NUMBER || v->number != floor(v->number)))
        return req_fail(err, 400, key, "'%s' must be an integer", key);
    return get_number(o, key, lo, hi, out, err);
}

static int get_bool(const json_value *o, const char *key, int *out, req_error *err) {
    const json_value *v = field(o, key);
    if (!v) return 0;
    if (v->type != JSON_BOOL) return req_fail(err, 400, key, "'%s' must be a boolean", key);
    *out = v->boolean;
    return 1;
}

static int parse_stop(const json_value *o, request *r, req_error *err) {
    const json_value *v = field(o, "stop");
    if (!v) return 0;
    const json_value *const *items = &v;
    size_t n = 1;
    if (v->type == JSON_ARRAY) {
        items = (const json_value *const *)v->items;
        n = v->n;
    }
    if (n > REQ_MAX_STOPS)
        return req_fail(err, 400, "stop", "'stop' holds at most %d strings", REQ_MAX_STOPS);
    for (size_t i = 0; i < n; i++) {
        if (items[i]->type != JSON_STRING)
            return req_fail(err, 400, "stop", "'stop' must be a string or an array of strings");
        if (!items[i]->len || memchr(items[i]->str, 0, items[i]->len)) continue;
        if (!(r->stops[r->n_stops++] = strdup(items[i]->str)))
            return req_fail(err, 500, NULL, "out of memory");
    }
    return 0;
}

static int parse_logit_bias(const lfm2moe_model *model, const json_value *o, request *r,
                            req_error *err) {
    const json_value *v = field(o, "logit_bias");
    if (!v) return 0;
    if (v->type != JSON_OBJECT)
        return req_fail(err, 400, "logit_bias", "'logit_bias' must be an object");
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    lfm2moe_vocab_get_info(model, &vi);
    r->bias_tokens = calloc(v->n + 1, sizeof *r->bias_tokens);
    r->bias_values = calloc(v->n + 1, sizeof *r->bias_values);
    if (!r->bias_tokens || !r->bias_values) return req_fail(err, 500, NULL, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        char *end;
        long t = strtol(v->keys[i], &end, 10);
        if (end == v->keys[i] || *end || t < 0 || t >= vi.n_vocab)
            return req_fail(err, 400, "logit_bias", "logit_bias key '%.40s' is not a token id",
                            v->keys[i]);
        const json_value *b = v->items[i];
        if (b->type != JSON_NUMBER || !(b->number >= -100 && b->number <= 100))
            return req_fail(err, 400, "logit_bias", "logit_bias values must be in [-100, 100]");
        r->bias_tokens[i] = (int32_t)t;
        r->bias_values[i] = (float)b->number;
    }
    r->sampling.logit_bias_tokens = r->bias_tokens;
    r->sampling.logit_bias_values = r->bias_values;
    r->sampling.n_logit_bias = v->n;
    return 0;
}

/* Fields both endpoints share: sampling, stop, stream, n. */
static int parse_common(const lfm2moe_model *model, const json_value *o, request *r,
                        req_error *err) {
    double x;
    lfm2moe_sampling_params *sp = &r->sampling;
    lfm2moe_sampling_params_init(sp);
    sp->seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    const json_value *m = json_get(o, "model");
    if (m && m->type != JSON_STRING) return req_fail(err, 400, "model", "'model' must be a string");
    const json_value *u = field(o, "user");
    if (u && u->type != JSON_STRING) return req_fail(err, 400, "user", "'user' must be a string");
    if (get_number(o, "temperature", 0, 2, &x, err) < 0) return -1;
    if (field(o, "temperature")) sp->temperature = (float)x;
    if (get_number(o, "top_p", 0, 1, &x, err) < 0) return -1;
    if (field(o, "top_p")) sp->top_p = (float)x;
    if (get_int(o, "top_k", 0, 1e9, &x, err) < 0) return -1;
    if (field(o, "top_k")) sp->top_k = (int32_t)x;
    if (get_number(o, "min_p", 0, 1, &x, err) < 0) return -1;
    if (field(o, "min_p")) sp->min_p = (float)x;
    if (get_number(o, "repeat_penalty", 0.01, 100, &x, err) < 0) return -1;
    if (field(o, "repeat_penalty")) sp->repeat_penalty = (float)x;
    if (get_number(o, "presence_penalty", -2, 2, &x, err) < 0) return -1;
    if (field(o, "presence_penalty")) sp->presence_penalty = (float)x;
    if (get_number(o, "frequency_penalty", -2, 2, &x, err) < 0) return -1;
    if (field(o, "frequency_penalty")) sp->frequency_penalty = (float)x;
    if (get_int(o, "seed", -9.2e18, 1.8e19, &x, err) < 0) return -1;
    if (field(o, "seed")) sp->seed = x < 0 ? (uint64_t)(int64_t)x : (uint64_t)x;
    if (get_int(o, "n", 1, 1, &x, err) < 0) return -1;
    if (get_bool(o, "stream", &r->stream, err) < 0) return -1;
    const json_value *so = field(o, "stream_options");
    if (so) {
        if (so->type != JSON_OBJECT)
            return req_fail(err, 400, "stream_options", "'stream_options' must be an object");
        if (!r->stream)
            return req_fail(err, 400, "stream_options",
                            "'stream_options' is only allowed when 'stream' is true");
        for (size_t i = 0; i < so->n; i++)
            if (strcmp(so->keys[i], "include_usage"))
                return req_fail(err, 400, "stream_options", "unknown field 'stream_options.%.40s'",
                                so->keys[i]);
        if (get_bool(so, "include_usage", &r->include_usage, err) < 0) return -1;
    }
    if (parse_stop(o, r, err) < 0) return -1;
    return parse_logit_bias(model, o, r, err);
}

static int parse_max_tokens(const json_value *o, const char *key, request *r, req_error *err) {
    double x;
    int got = get_int(o, key, 1, 1e9, &x, err);
    if (got > 0) r->max_tokens = (int32_t)x;
    return got;
}

/* A library call that compiles a grammar failed: the request is at fault
 * (400 with the library's message) unless memory ran out. */
static int grammar_refused(req_error *err, const char *param, int st) {
    if (st == LFM2MOE_ERR_OUT_OF_MEMORY) return req_fail(err, 500, NULL, "out of memory");
    return req_fail(err, 400, param, "%s", lfm2moe_last_error());
}

/* Only `allowed` members in object v (named `what` in messages). */
static int only_members(const json_value *v, const char *const *allowed, const char *what,
                        const char *param, req_error *err) {
    for (size_t i = 0; i < v->n; i++)
        if (!known(allowed, v->keys[i]))
            return req_fail(err, 400, param, "unknown field '%s.%.40s'", what, v->keys[i]);
    return 0;
}

/* response_format: {"type": "text"}, {"type": "json_object"}, or
 * {"type": "json_schema", "json_schema": {"name", "description", "schema",
 * "strict"}}.  *json_out: the output must be JSON; *schema: the schema
 * (NULL: any JSON object). */
static int parse_response_format(const json_value *o, int *json_out, const json_value **schema,
                                 req_error *err) {
    static const char *const text_fields[] = {"type", NULL};
    static const char *const schema_fields[] = {"type", "json_schema", NULL};
    static const char *const js_fields[] = {"name", "description", "schema", "strict", NULL};
    const char *P = "response_format";
    const json_value *rf = field(o, P);
    if (!rf) return 0;
    const json_value *t = rf->type == JSON_OBJECT ? json_get(rf, "type") : NULL;
    if (!t || t->type != JSON_STRING)
        return req_fail(err, 400, P, "'response_format' must be an object with a string 'type'");
    if (!strcmp(t->str, "text") || !strcmp(t->str, "json_object")) {
        *json_out = t->str[0] == 'j';
        return only_members(rf, text_fields, P, P, err);
    }
    if (strcmp(t->str, "json_schema"))
        return req_fail(err, 400, P,
                        "unknown response_format type '%.40s' (text, json_object, "
                        "json_schema)",
                        t->str);
    if (only_members(rf, schema_fields, P, P, err)) return -1;
    const json_value *js = json_get(rf, "json_schema");
    if (!js || js->type != JSON_OBJECT)
        return req_fail(err, 400, P, "response_format json_schema needs a 'json_schema' object");
    if (only_members(js, js_fields, "response_format.json_schema", P, err)) return -1;
    const json_value *name = json_get(js, "name"), *d = field(js, "description"),
                     *strict = field(js, "strict");
    int name_ok = name && name->type == JSON_STRING && name->len >= 1 && name->len <= 64;
    for (size_t i = 0; name_ok && i < name->len; i++) {
        char c = name->str[i];
        name_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
    }
    if (!name_ok)
        return req_fail(err, 400, P,
                        "json_schema.name must be 1 to 64 letters, digits, '_' "
                        "or '-'");
    if (d && d->type != JSON_STRING)
        return req_fail(err, 400, P, "json_schema.description must be a string");
    if (strict && strict->type != JSON_BOOL)
        return req_fail(err, 400, P, "json_schema.strict must be a boolean");
    *schema = field(js, "schema");
    if (*schema && (*schema)->type != JSON_OBJECT)
        return req_fail(err, 400, P, "json_schema.schema must be a JSON Schema object");
    *json_out = 1;
    return 0;
}

/* The grammar of a JSON answer: the schema's, or any JSON object. */
static int json_grammar(const lfm2moe_model *model, const json_value *schema, request *r,
                        req_error *err) {
    static const char any_object[] = "{\"type\": \"object\", \"additionalProperties\": true}";
    json_buf b = {0};
    if (schema && json_dump(schema, &b)) {
        json_buf_free(&b);
        return req_fail(err, 500, NULL, "out of memory");
    }
    int st = schema ? lfm2moe_grammar_from_json_schema(model, b.data, b.len, &r->grammar)
                    : lfm2moe_grammar_from_json_schema(model, any_object, sizeof any_object - 1,
                                                       &r->grammar);
    json_buf_free(&b);
    return st ? grammar_refused(err, "response_format", st) : 0;
}

/* The name of tool t (NULL if it has none). */
static const char *tool_name(const json_value *t) {
    const json_value *f = t->type == JSON_OBJECT ? json_get(t, "function") : NULL;
    const json_value *n = f && f->type == JSON_OBJECT ? json_get(f, "name") : NULL;
    return n && n->type == JSON_STRING ? n->str : NULL;
}

/* tool_choice: "none", "auto", "required" or {"type": "function",
 * "function": {"name": ...}} (required, restricted to that tool). */
static int parse_tool_choice(const json_value *o, const json_value *tools, int *choice,
                             const json_value **named, req_error *err) {
    static const char *const obj_fields[] = {"type", "function", NULL};
    static const char *const fn_fields[] = {"name", NULL};
    const char *P = "tool_choice";
    const json_value *tc = field(o, P);
    if (!tc) return 0;
    if (tc->type == JSON_STRING && !strcmp(tc->str, "none")) {
        *choice = LFM2MOE_TOOL_CHOICE_NONE;
        return 0;
    }
    if (tc->type == JSON_STRING && !strcmp(tc->str, "auto")) return 0;
    if (tc->type == JSON_STRING && !strcmp(tc->str, "required")) {
        *choice = LFM2MOE_TOOL_CHOICE_REQUIRED;
    } else if (tc->type == JSON_OBJECT) {
        const json_value *t = json_get(tc, "type"), *f = json_get(tc, "function");
        const json_value *n = f && f->type == JSON_OBJECT ? json_get(f, "name") : NULL;
        if (only_members(tc, obj_fields, P, P, err) ||
            (f && f->type == JSON_OBJECT &&
             only_members(f, fn_fields, "tool_choice.function", P, err)))
            return -1;
        if (!t || t->type != JSON_STRING || strcmp(t->str, "function") || !n ||
            n->type != JSON_STRING)
            return req_fail(err, 400, P,
                            "a 'tool_choice' object must be {\"type\": \"function\", "
                            "\"function\": {\"name\": ...}}");
        *choice = LFM2MOE_TOOL_CHOICE_REQUIRED;
        *named = n;
    } else {
        return req_fail(err, 400, P,
                        "'tool_choice' must be \"none\", \"auto\", \"required\" or an object");
    }
    if (!tools || !tools->n)
        return req_fail(err, 400, P,
                        "'tool_choice' \"required\" or a named function needs 'tools'");
    return 0;
}

/* The grammar of the tool calls: "required" (all tools, or only `named`)
 * makes the answer one block of calls; "none" keeps the call marker out;
 * "auto" constrains a call once the model starts one.  Tools whose schemas
 * the library cannot turn into a grammar are refused when a call is forced;
 * with "auto" the calls are then left unconstrained (parsed from the text). */
static int tools_grammar(const lfm2moe_model *model, const json_value *tools,
                         const json_value *named, int choice, request *r, req_error *err) {
    char **texts = calloc(tools->n, sizeof *texts);
    if (!texts) return req_fail(err, 500, NULL, "out of memory");
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < tools->n && !rc; i++) {
        const char *name = tool_name(tools->items[i]);
        if (named && (!name || strcmp(name, named->str))) continue;
        json_buf b = {0};
        if (json_dump(tools->items[i], &b) || json_buf_append(&b, "", 0) || b.oom) {
            json_buf_free(&b);
            rc = req_fail(err, 500, NULL, "out of memory");
        } else {
            texts[n++] = b.data;
        }
    }
    if (!rc && named && !n)
        rc = req_fail(err, 400, "tool_choice",
                      "'tool_choice' names the function '%.60s', which "
                      "is not among the tools",
                      named->str);
    if (!rc) {
        int st =
            lfm2moe_grammar_from_tools(model, (const char *const *)texts, n, choice, &r->grammar);
        if (st == LFM2MOE_ERR_OUT_OF_MEMORY || (st && choice == LFM2MOE_TOOL_CHOICE_REQUIRED))
            rc = grammar_refused(err, "tools", st);
    }
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

static int parse_chat(const lfm2moe_model *model, const json_value *o, request *r, req_error *err) {
    double x;
    r->kind = REQ_CHAT;
    r->chat_template = 1;
    r->max_tokens = 0; /* OpenAI: until the model stops or the context is full */
    if (parse_max_tokens(o, "max_tokens", r, err) < 0 ||
        parse_max_tokens(o, "max_completion_tokens", r, err) < 0)
        return -1;
    int lp = 0;
    if (get_bool(o, "logprobs", &lp, err) < 0) return -1;
    if (lp || field(o, "top_logprobs"))
        return req_fail(err, 400, "logprobs", "'logprobs' is not supported by this server");
    int ptc = 1;
    if (get_bool(o, "parallel_tool_calls", &ptc, err) < 0) return -1;
    (void)x;

    const json_value *schema = NULL;
    int json_out = 0;
    if (parse_response_format(o, &json_out, &schema, err) < 0) return -1;
    const json_value *tools = field(o, "tools");
    if (tools && tools->type != JSON_ARRAY)
        return req_fail(err, 400, "tools", "'tools' must be an array");
    const json_value *named = NULL;
    int choice = tools && tools->n ? LFM2MOE_TOOL_CHOICE_AUTO : LFM2MOE_TOOL_CHOICE_NONE;
    if (parse_tool_choice(o, tools, &choice, &named, err) < 0) return -1;
    r->tools = tools && tools->n && choice != LFM2MOE_TOOL_CHOICE_NONE;
    /* one grammar per generation: JSON output leaves no room for calls */
    if (json_out && r->tools)
        return req_fail(err, 400, "response_format",
                        "'response_format' json_object / json_schema cannot be combined with "
                        "tools unless 'tool_choice' is \"none\"");
    const json_value *msgs = json_get(o, "messages");
    if (!msgs) return req_fail(err, 400, "messages", "'messages' is required");
    if (chat_prompt_render(model, msgs, tools, &r->prompt, &r->prompt_len, err)) return -1;
    if (json_out) return json_grammar(model, schema, r, err);
    if (tools && tools->n) return tools_grammar(model, tools, named, choice, r, err);
    return 0;
}

static int parse_completion(const json_value *o, request *r, req_error *err) {
    r->kind = REQ_COMPLETION;
    r->max_tokens = 16; /* OpenAI's default for /v1/completions */
    if (parse_max_tokens(o, "max_tokens", r, err) < 0) return -1;
    if (get_bool(o, "echo", &r->echo, err) < 0) return -1;
    double x;
    if (get_int(o, "best_of", 1, 1, &x, err) < 0) return -1;
    if (field(o, "suffix"))
        return req_fail(err, 400, "suffix", "'suffix' is not supported by this server");
    if (field(o, "logprobs"))
        return req_fail(err, 400, "logprobs", "'logprobs' is not supported by this server");
    const json_value *p = json_get(o, "prompt");
    if (p && p->type == JSON_ARRAY && p->n == 1) p = p->items[0];
    if (!p || p->type != JSON_STRING)
        return req_fail(err, 400, "prompt", "'prompt' must be a string (or an array of one)");
    if (!(r->prompt = malloc(p->len + 1))) return req_fail(err, 500, NULL, "out of memory");
    memcpy(r->prompt, p->str, p->len + 1);
    r->prompt_len = p->len;
    return 0;
}

int request_parse(const lfm2moe_model *model, req_kind kind, const char *body, size_t len,
                  request *r, req_error *err) {
    memset(r, 0, sizeof *r);
    json_value *o = NULL;
    char msg[160];
    if (json_parse(body, len, &o, msg, sizeof msg))
        return req_fail(err, 400, NULL, "the body is not valid JSON: %s", msg);
    int rc = -1;
    if (o->type != JSON_OBJECT) {
        req_fail(err, 400, NULL, "the body must be a JSON object");
        goto out;
    }
    const char *const *fields = kind == REQ_CHAT ? chat_fields : completion_fields;
    for (size_t i = 0; i < o->n; i++)
        if (!known(fields, o->keys[i])) {
            req_fail(err, 400, NULL, "unknown field '%.60s'", o->keys[i]);
            goto out;
        }
    if (parse_common(model, o, r, err) < 0) goto out;
    rc = kind == REQ_CHAT ? parse_chat(model, o, r, err) : parse_completion(o, r, err);
out:
    json_free(o);
    if (rc) request_free(r);
    return rc;
}

void request_free(request *r) {
    if (!r) return;
    free(r->prompt);
    free(r->bias_tokens);
    free(r->bias_values);
    lfm2moe_grammar_free(r->grammar);
    for (size_t i = 0; i < r->n_stops; i++)
        free(r->stops[i]);
    memset(r, 0, sizeof *r);
}
