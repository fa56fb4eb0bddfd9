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
static const char *const chat_fields[] = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k", "min_p",
    "repeat_penalty", "seed", "max_tokens", "max_completion_tokens", "stop", "n",
    "presence_penalty", "frequency_penalty", "logit_bias", "user", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "logprobs", "top_logprobs", NULL};
static const char *const completion_fields[] = {
    "model", "prompt", "stream", "stream_options", "temperature", "top_p", "top_k", "min_p",
    "repeat_penalty", "seed", "max_tokens", "stop", "n", "presence_penalty",
    "frequency_penalty", "logit_bias", "user", "echo", "suffix", "best_of", "logprobs", NULL};

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
    if (v->type != JSON_NUMBER)
        return req_fail(err, 400, key, "'%s' must be a number", key);
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
                return req_fail(err, 400, "stream_options",
                                "unknown field 'stream_options.%.40s'", so->keys[i]);
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

static int parse_chat(const lfm2moe_model *model, const json_value *o, request *r,
                      req_error *err) {
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

    const json_value *rf = field(o, "response_format");
    if (rf) {
        const json_value *t = rf->type == JSON_OBJECT ? json_get(rf, "type") : NULL;
        if (!t || t->type != JSON_STRING)
            return req_fail(err, 400, "response_format",
                            "'response_format' must be an object with a string 'type'");
        if (!strcmp(t->str, "json_object") || !strcmp(t->str, "json_schema"))
            return req_fail(err, 400, "response_format",
                            "response_format '%s' is not supported by this build (needs the "
                            "library's grammar support)",
                            t->str);
        if (strcmp(t->str, "text"))
            return req_fail(err, 400, "response_format", "unknown response_format type '%.40s'",
                            t->str);
    }
    const json_value *tools = field(o, "tools");
    if (tools && tools->type != JSON_ARRAY)
        return req_fail(err, 400, "tools", "'tools' must be an array");
    int tools_on = tools && tools->n > 0;
    const json_value *tc = field(o, "tool_choice");
    if (tc) {
        if (tc->type == JSON_STRING && !strcmp(tc->str, "none"))
            tools_on = 0;
        else if (tc->type == JSON_STRING && !strcmp(tc->str, "auto"))
            ;
        else if ((tc->type == JSON_STRING && !strcmp(tc->str, "required")) ||
                 tc->type == JSON_OBJECT)
            return req_fail(err, 400, "tool_choice",
                            "a forced tool_choice is not supported by this build (needs the "
                            "library's grammar support)");
        else
            return req_fail(err, 400, "tool_choice",
                            "'tool_choice' must be \"none\", \"auto\", \"required\" or an object");
    }
    r->tools = tools_on;
    const json_value *msgs = json_get(o, "messages");
    if (!msgs) return req_fail(err, 400, "messages", "'messages' is required");
    return chat_prompt_render(model, msgs, tools, &r->prompt, &r->prompt_len, err);
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
    for (size_t i = 0; i < r->n_stops; i++) free(r->stops[i]);
    memset(r, 0, sizeof *r);
}
