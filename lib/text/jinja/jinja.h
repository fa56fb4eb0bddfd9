/* A sandboxed Jinja template engine for chat templates.
 *
 * It interprets the subset of Jinja2 that Hugging Face chat templates use,
 * with the environment transformers' apply_chat_template builds:
 * trim_blocks and lstrip_blocks on, keep_trailing_newline off, the default
 * (lenient) Undefined, a `tojson` filter that is Python's json.dumps with
 * ensure_ascii=False, `{% generation %}` rendered as its body, the
 * loopcontrols extension (`break`, `continue`), and the globals
 * raise_exception(msg), strftime_now(fmt), namespace(...), range(...).
 * Values print as Python's str() does (True, None, 1.0, ['a']).
 *
 * A template is untrusted input: nothing it does can crash, hang or exhaust
 * the process.  Every render is bounded by the limits below; going past one
 * stops the render with LFM2MOE_ERR_LIMIT.  A construct the engine does not
 * know (a tag, filter or test name, bad syntax) is LFM2MOE_ERR_UNSUPPORTED_TEMPLATE;
 * a failure while rendering (undefined attribute use, a type error,
 * raise_exception) means the template refuses these variables:
 * LFM2MOE_ERR_INVALID_ARGUMENT.  Either way the message
 * (lfm2moe_last_error) names the line and column in the template.
 *
 * Known differences from Jinja2: upper/lower/title/capitalize change ASCII
 * letters only; integers are 64-bit (overflow is an error, not a bigint);
 * {% call %}, {% include %}, {% extends %}, {% import %}, {% raw %} and
 * recursive loops are not supported (UNSUPPORTED_TEMPLATE). */
#ifndef LFM_JINJA_H
#define LFM_JINJA_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"
#include "lfm2moe.h"

typedef struct jj_limits {
    int max_depth;           /* nesting of expressions, statements and macro calls */
    uint64_t max_iterations; /* loop iterations + macro calls, all loops together */
    size_t max_output;       /* bytes of rendered text (the result and any captured block) */
    size_t max_memory;       /* bytes the render may allocate for its values */
    uint32_t max_time_ms;    /* wall time of one render */
} jj_limits;

/* The defaults: generous for any real chat template (the longest conversation
 * renders in milliseconds), small enough to stop a hostile one quickly. */
#define JJ_MAX_DEPTH 128
#define JJ_MAX_ITERATIONS 1000000u
#define JJ_MAX_OUTPUT (64u << 20)
#define JJ_MAX_MEMORY (256u << 20)
#define JJ_MAX_TIME_MS 5000u

void jj_limits_default(jj_limits *l);

/* A string variable set before the JSON ones (bos_token, eos_token). */
typedef struct jj_var {
    const char *name;
    const char *value;
    size_t len;
} jj_var;

/* Render template[0..len) with the variables of `vars` (a JSON object, or
 * NULL) on top of extra[0..n_extra).  Appends the text to *out (which the
 * caller frees) and returns LFM2MOE_OK, or a status with the message set
 * through lfm_fail.  lim NULL = the defaults. */
int jj_render(const char *template_text, size_t len, const jj_var *extra, size_t n_extra,
              const json_value *vars, const jj_limits *lim, strbuf *out);

#endif
