/* A generation request of the OpenAI API (POST /v1/chat/completions or
 * /v1/completions), parsed and validated from its JSON body.
 *
 * Validation is strict, as OpenAI's own API is: a malformed body, a field of
 * the wrong type or out of range, and an unknown field are all refused with a
 * message naming the field (HTTP 400).
 *
 * response_format json_object / json_schema and tool_choice become a
 * grammar compiled here (on the connection's thread, not the scheduler's):
 * a schema or tool list the library refuses is a 400 with its message. */
#ifndef LFM_SERVER_REQUEST_H
#define LFM_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "lfm2moe.h"

#define REQ_MAX_STOPS 4 /* OpenAI allows up to 4 stop sequences */

typedef enum req_kind { REQ_CHAT, REQ_COMPLETION } req_kind;

typedef struct request {
    req_kind kind;
    char *prompt; /* rendered chat prompt or the completion prompt (NUL-terminated) */
    size_t prompt_len;
    int chat_template; /* prompt holds special-token text to parse (chat) */
    int stream, include_usage;
    int32_t max_tokens; /* 0: until the context is full */
    lfm2moe_sampling_params sampling;
    int32_t *bias_tokens; /* logit_bias, owned */
    float *bias_values;
    char *stops[REQ_MAX_STOPS];
    size_t n_stops;
    int tools;                /* tools were given and tool_choice is not "none": parse tool calls */
    lfm2moe_grammar *grammar; /* the output's constraint (NULL: none), owned; attached to the
                                slot's sampler after the prompt tokens are recorded */
    int echo;                 /* completions: echo the prompt */
} request;

/* Error of a refused request: HTTP status, OpenAI error type/param/code and
 * a message. */
typedef struct req_error {
    int http_status;
    const char *param; /* static or NULL */
    const char *code;  /* static or NULL */
    char message[256];
} req_error;

/* Parse body[0..len) as a request of `kind`; the chat messages are rendered
 * with the model's chat template.  0 on success (free with request_free),
 * -1 with *err filled. */
int request_parse(const lfm2moe_model *model, req_kind kind, const char *body, size_t len,
                  request *out, req_error *err);
void request_free(request *r);

/* Fill *err (printf-style message) and return -1. */
int req_fail(req_error *err, int http_status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
