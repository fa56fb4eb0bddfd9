/* OpenAI chat messages -> the model's prompt text.
 *
 * Through lfm2moe_chat_render (the model's own Jinja chat template, roles +
 * contents + tool JSON texts): content given as text parts is joined, and
 * an assistant message's tool_calls are written in LFM2's call syntax
 * (<|tool_call_start|>[name(arg="v", n=3)]<|tool_call_end|>) before its
 * content, so a conversation that carries tool calls and tool results
 * renders as LFM2 models write them, whether or not the template reads
 * structured tool_calls itself. */
#ifndef LFM_SERVER_CHAT_PROMPT_H
#define LFM_SERVER_CHAT_PROMPT_H

#include <stddef.h>

#include "base/json.h"
#include "lfm2moe.h"
#include "request.h"

/* Render `messages` (and `tools`, may be NULL) with the generation prompt;
 * *out is malloc'ed.  0, or -1 with *err filled (400 for bad messages). */
int chat_prompt_render(const lfm2moe_model *model, const json_value *messages,
                       const json_value *tools, char **out, size_t *out_len, req_error *err);

#endif
