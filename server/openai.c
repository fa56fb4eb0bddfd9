/* OpenAI response and event writers (openai.h). */
#include "openai.h"

#include <stdio.h>
#include <string.h>

#include "lfm2moe.h"

#define LIT(b, s) json_buf_append((b), (s), sizeof(s) - 1)

static void str(json_buf *b, const char *s) {
    json_dump_string(s, strlen(s), b);
}

static void num(json_buf *b, long long v) {
    char t[32];
    json_buf_append(b, t, (size_t)snprintf(t, sizeof t, "%lld", v));
}

const char *oai_finish_name(job_finish f) {
    switch (f) {
    case FINISH_LENGTH: return "length";
    case FINISH_TOOL_CALLS: return "tool_calls";
    default: return "stop";
    }
}

void oai_error(json_buf *b, const char *message, const char *type, const char *param,
               const char *code) {
    LIT(b, "{\"error\": {\"message\": ");
    str(b, message);
    LIT(b, ", \"type\": ");
    str(b, type);
    LIT(b, ", \"param\": ");
    if (param)
        str(b, param);
    else
        LIT(b, "null");
    LIT(b, ", \"code\": ");
    if (code)
        str(b, code);
    else
        LIT(b, "null");
    LIT(b, "}}");
}

/* "id", "object", "created", "model" members, up to the choices array. */
static void head(json_buf *b, const oai_ctx *c, const char *object) {
    LIT(b, "{\"id\": ");
    str(b, c->id);
    LIT(b, ", \"object\": ");
    str(b, object);
    LIT(b, ", \"created\": ");
    num(b, c->created);
    LIT(b, ", \"model\": ");
    str(b, c->model);
    LIT(b, ", \"system_fingerprint\": ");
    str(b, "lfm2moe");
    LIT(b, ", \"choices\": [");
}

static void usage(json_buf *b, const job *j) {
    LIT(b, "{\"prompt_tokens\": ");
    num(b, j->n_prompt);
    LIT(b, ", \"completion_tokens\": ");
    num(b, j->n_generated);
    LIT(b, ", \"total_tokens\": ");
    num(b, (long long)j->n_prompt + j->n_generated);
    LIT(b, ", \"prompt_tokens_details\": {\"cached_tokens\": ");
    num(b, j->n_cached);
    LIT(b, "}}");
}

/* The calls of a job that finished with tool_calls (NULL on failure;
 * *n gets their number). */
static lfm2moe_tool_calls *parse_calls(const job *j, size_t *n) {
    lfm2moe_tool_calls *calls = NULL;
    *n = 0;
    if (j->finish != FINISH_TOOL_CALLS || !j->raw.data || j->tool_off > j->raw.len ||
        lfm2moe_tool_calls_parse(j->raw.data + j->tool_off, j->raw.len - j->tool_off, &calls))
        return NULL;
    lfm2moe_tool_calls_count(calls, n);
    return calls;
}

static void call_id(json_buf *b, const job *j, size_t i) {
    char id[64];
    snprintf(id, sizeof id, "call_%llx_%zu", (unsigned long long)j->id, i);
    str(b, id);
}

/* [{"id": ..., "type": "function", "function": {...}}, ...] of the job's
 * tool calls. */
static void tool_calls(json_buf *b, const job *j) {
    size_t n;
    lfm2moe_tool_calls *calls = parse_calls(j, &n);
    LIT(b, "[");
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *args = NULL;
        lfm2moe_tool_calls_get(calls, i, &name, &args);
        if (i) LIT(b, ", ");
        LIT(b, "{\"id\": ");
        call_id(b, j, i);
        LIT(b, ", \"type\": \"function\", \"function\": {\"name\": ");
        str(b, name);
        LIT(b, ", \"arguments\": ");
        str(b, args);
        LIT(b, "}}");
    }
    LIT(b, "]");
    lfm2moe_tool_calls_free(calls);
}

void oai_chat_completion(json_buf *b, const oai_ctx *c, const job *j) {
    head(b, c, "chat.completion");
    LIT(b, "{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": ");
    if (j->text.len || j->finish != FINISH_TOOL_CALLS)
        json_dump_string(j->text.data ? j->text.data : "", j->text.len, b);
    else
        LIT(b, "null");
    if (j->reasoning.len) {
        LIT(b, ", \"reasoning_content\": ");
        json_dump_string(j->reasoning.data, j->reasoning.len, b);
    }
    if (j->finish == FINISH_TOOL_CALLS) {
        LIT(b, ", \"tool_calls\": ");
        tool_calls(b, j);
    }
    LIT(b, "}, \"logprobs\": null, \"finish_reason\": ");
    str(b, oai_finish_name(j->finish));
    LIT(b, "}], \"usage\": ");
    usage(b, j);
    LIT(b, "}");
}

void oai_completion(json_buf *b, const oai_ctx *c, const job *j) {
    head(b, c, "text_completion");
    LIT(b, "{\"index\": 0, \"text\": ");
    json_buf t = {0};
    if (j->req.echo) json_buf_append(&t, j->req.prompt, j->req.prompt_len);
    json_buf_append(&t, j->text.data ? j->text.data : "", j->text.len);
    json_dump_string(t.data ? t.data : "", t.len, b);
    json_buf_free(&t);
    LIT(b, ", \"logprobs\": null, \"finish_reason\": ");
    str(b, oai_finish_name(j->finish));
    LIT(b, "}], \"usage\": ");
    usage(b, j);
    LIT(b, "}");
}

/* "]" closing choices, "usage": null when asked, "}\n\n" */
static void chunk_end(json_buf *b, int include_usage) {
    LIT(b, "]");
    if (include_usage) LIT(b, ", \"usage\": null");
    LIT(b, "}\n\n");
}

static void chat_delta_open(json_buf *b, const oai_ctx *c) {
    LIT(b, "data: ");
    head(b, c, "chat.completion.chunk");
    LIT(b, "{\"index\": 0, \"delta\": {");
}

void oai_chat_chunk_role(json_buf *b, const oai_ctx *c, int include_usage) {
    chat_delta_open(b, c);
    LIT(b, "\"role\": \"assistant\", \"content\": \"\"}, \"logprobs\": null, "
           "\"finish_reason\": null}");
    chunk_end(b, include_usage);
}

void oai_chat_chunk_content(json_buf *b, const oai_ctx *c, int include_usage, int reasoning,
                            const char *text, size_t n) {
    chat_delta_open(b, c);
    if (reasoning)
        LIT(b, "\"reasoning_content\": ");
    else
        LIT(b, "\"content\": ");
    json_dump_string(text, n, b);
    LIT(b, "}, \"logprobs\": null, \"finish_reason\": null}");
    chunk_end(b, include_usage);
}

void oai_chat_chunk_tool_calls(json_buf *b, const oai_ctx *c, int include_usage, const job *j) {
    size_t n;
    lfm2moe_tool_calls *calls = parse_calls(j, &n);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *args = NULL;
        lfm2moe_tool_calls_get(calls, i, &name, &args);
        /* as OpenAI streams a call: its id, type and name with empty
         * arguments first, then the arguments */
        chat_delta_open(b, c);
        LIT(b, "\"tool_calls\": [{\"index\": ");
        num(b, (long long)i);
        LIT(b, ", \"id\": ");
        call_id(b, j, i);
        LIT(b, ", \"type\": \"function\", \"function\": {\"name\": ");
        str(b, name);
        LIT(b, ", \"arguments\": \"\"}}]}, \"logprobs\": null, \"finish_reason\": null}");
        chunk_end(b, include_usage);
        chat_delta_open(b, c);
        LIT(b, "\"tool_calls\": [{\"index\": ");
        num(b, (long long)i);
        LIT(b, ", \"function\": {\"arguments\": ");
        str(b, args);
        LIT(b, "}}]}, \"logprobs\": null, \"finish_reason\": null}");
        chunk_end(b, include_usage);
    }
    lfm2moe_tool_calls_free(calls);
}

void oai_chat_chunk_finish(json_buf *b, const oai_ctx *c, int include_usage, job_finish f) {
    chat_delta_open(b, c);
    LIT(b, "}, \"logprobs\": null, \"finish_reason\": ");
    str(b, oai_finish_name(f));
    LIT(b, "}");
    chunk_end(b, include_usage);
}

void oai_completion_chunk(json_buf *b, const oai_ctx *c, int include_usage, const char *text,
                          size_t n, job_finish f) {
    LIT(b, "data: ");
    head(b, c, "text_completion");
    LIT(b, "{\"index\": 0, \"text\": ");
    json_dump_string(text, n, b);
    LIT(b, ", \"logprobs\": null, \"finish_reason\": ");
    if (f == FINISH_NONE)
        LIT(b, "null");
    else
        str(b, oai_finish_name(f));
    LIT(b, "}");
    chunk_end(b, include_usage);
}

void oai_usage_chunk(json_buf *b, const oai_ctx *c, int chat, const job *j) {
    LIT(b, "data: ");
    head(b, c, chat ? "chat.completion.chunk" : "text_completion");
    LIT(b, "], \"usage\": ");
    usage(b, j);
    LIT(b, "}\n\n");
}

void oai_done(json_buf *b) {
    LIT(b, "data: [DONE]\n\n");
}
