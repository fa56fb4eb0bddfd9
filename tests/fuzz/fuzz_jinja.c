/* Fuzz target: the Jinja engine.  The input is a template, rendered with a
 * fixed chat request (messages with tool calls, thinking and content parts,
 * tools, variables) under tight limits.  Any status is fine; a crash, a
 * sanitizer report, a leak or a render that ignores its limits is not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "text/jinja/jinja.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Weather?\"}, {\"type\": "
    "\"image\"}]},"
    " {\"role\": \"assistant\", \"content\": \"<think>hm</think>Calling.\", \"thinking\": \"hm\","
    "  \"tool_calls\": [{\"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": "
    "\"Paris\", \"n\": 2.5}}}]},"
    " {\"role\": \"tool\", \"content\": \"{\\\"t\\\": 21}\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
    "\"parameters\": {\"type\": \"object\"}}}],"
    " \"add_generation_prompt\": true, \"preserve_thinking\": false, \"n\": -3, \"big\": "
    "9007199254740993,"
    " \"f\": 1e300, \"s\": \"h\\u00e9llo\", \"z\": null, \"l\": [3, 1, 2]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_value *vars;
    if (!vars && json_parse(context, sizeof context - 1, &vars, NULL, 0)) abort();
    jj_limits lim;
    jj_limits_default(&lim);
    lim.max_iterations = 20000; /* small bounds keep each run fast */
    lim.max_output = 1 << 20;
    lim.max_memory = 64 << 20;
    lim.max_time_ms = 500;
    jj_var extra[] = {{"bos_token", "<s>", 3}, {"eos_token", "</s>", 4}};
    strbuf out = {0};
    int st = jj_render((const char *)data, size, extra, 2, vars, &lim, &out);
    if (st == 0 && out.len > lim.max_output) abort();
    strbuf_free(&out);
    return 0;
}
