/* Response bodies and server-sent events in the shapes of the OpenAI API:
 * chat.completion / chat.completion.chunk, text_completion, error objects.
 * Each event is "data: {json}\n\n"; a stream ends with "data: [DONE]\n\n". */
#ifndef LFM_SERVER_OPENAI_H
#define LFM_SERVER_OPENAI_H

#include <stddef.h>

#include "base/json.h"
#include "job.h"

typedef struct oai_ctx {
    char id[48];       /* chatcmpl-... / cmpl-... */
    long long created; /* Unix seconds */
    const char *model; /* the id /v1/models lists */
} oai_ctx;

const char *oai_finish_name(job_finish f);

/* {"error": {...}} */
void oai_error(json_buf *b, const char *message, const char *type, const char *param,
               const char *code);

/* The whole response of a finished job (j->mu need not be held: it is done). */
void oai_chat_completion(json_buf *b, const oai_ctx *c, const job *j);
void oai_completion(json_buf *b, const oai_ctx *c, const job *j);

/* Streaming events.  chat: the first chunk (role), a content (or
 * reasoning_content) delta, the tool calls of a finished job (two chunks a
 * call: id, type and name, then the arguments), the finish chunk; with
 * include_usage every chunk carries "usage": null and oai_usage_chunk
 * closes the stream. */
void oai_chat_chunk_role(json_buf *b, const oai_ctx *c, int include_usage);
void oai_chat_chunk_content(json_buf *b, const oai_ctx *c, int include_usage, int reasoning,
                            const char *text, size_t n);
void oai_chat_chunk_tool_calls(json_buf *b, const oai_ctx *c, int include_usage, const job *j);
void oai_chat_chunk_finish(json_buf *b, const oai_ctx *c, int include_usage, job_finish f);
void oai_completion_chunk(json_buf *b, const oai_ctx *c, int include_usage, const char *text,
                          size_t n, job_finish f);
void oai_usage_chunk(json_buf *b, const oai_ctx *c, int chat, const job *j);
void oai_done(json_buf *b);

#endif
