/* LFM2 chat template, rendered natively.  This reproduces, byte for byte,
 * the Jinja template LFM2 models ship in tokenizer.chat_template:
 *
 *   bos_token
 *   [<|im_start|>system\n SYSTEM <|im_end|>\n]      if SYSTEM is not empty
 *   <|im_start|>ROLE\n CONTENT <|im_end|>\n          for each other message
 *   [<|im_start|>assistant\n]                        add_generation_prompt
 *
 * where SYSTEM is the content of a leading "system" message (which is then
 * not repeated), followed, when tools are given, by "\n" (only if that
 * content is not empty) and
 *   List of tools: <|tool_list_start|>[T1, T2, ...]<|tool_list_end|>
 * and a "tool" message's CONTENT is wrapped in
 * <|tool_response_start|>...<|tool_response_end|>. */
#include <string.h>

#include "base/errors.h"
#include "lfm2moe.h"
#include "model/model.h"
#include "text/tokenizer.h"

typedef struct {
    char *buf;
    size_t size;
    size_t pos; /* bytes the full output needs so far */
} writer;

static void put(writer *w, const char *s, size_t n) {
    if (w->pos < w->size) {
        size_t room = w->size - w->pos;
        memcpy(w->buf + w->pos, s, n < room ? n : room);
    }
    w->pos += n;
}

static void puts_(writer *w, const char *s) {
    put(w, s, strlen(s));
}

/* Markers only the LFM2 template has (all of them must appear). */
static int is_lfm2_template(const char *t, size_t n) {
    static const char *const markers[] = {"<|im_start|>", "<|im_end|>", "List of tools: ",
                                          "<|tool_list_start|>", "<|tool_list_end|>",
                                          "<|tool_response_start|>", "<|tool_response_end|>"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        if (!memmem(t, n, markers[i], strlen(markers[i]))) return 0;
    return 1;
}

LFM2MOE_API int lfm2moe_chat_render(const lfm2moe_model *model, const char *const *roles,
                                    const char *const *contents, size_t n_messages,
                                    const char *const *tools, size_t n_tools, uint32_t flags,
                                    char *buf, size_t buf_size, size_t *len) {
    static const char fn[] = "lfm2moe_chat_render";
    if (!model) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (n_messages && (!roles || !contents))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: roles or contents is NULL", fn);
    for (size_t i = 0; i < n_messages; i++)
        if (!roles[i] || !contents[i])
            return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: message %zu has a NULL %s", fn, i,
                            roles[i] ? "content" : "role");
    if (n_tools && !tools)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: tools is NULL", fn);
    for (size_t i = 0; i < n_tools; i++)
        if (!tools[i]) return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: tool %zu is NULL", fn, i);
    if (flags & ~(uint32_t)LFM2MOE_CHAT_ADD_GENERATION_PROMPT)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                        (unsigned)flags);
    if (!buf && buf_size)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: buf is NULL but buf_size is %zu", fn,
                        buf_size);

    /* A file without a template is taken to use its family's (LFM2) one;
     * any other template is refused rather than rendered wrongly. */
    gguf_str tmpl;
    int st = gguf_get_str(&model->gguf, "tokenizer.chat_template", &tmpl);
    if (st == LFM2MOE_OK) {
        if (!is_lfm2_template(tmpl.ptr, (size_t)tmpl.len))
            return lfm_fail(LFM2MOE_ERR_UNSUPPORTED_TEMPLATE,
                            "%s: tokenizer.chat_template is not the LFM2 template", fn);
    } else if (st != LFM2MOE_ERR_NOT_FOUND) {
        return st;
    }

    writer w = {buf, buf_size, 0};
    const struct lfm_vocab *v = model->vocab;
    if (v && v->bos >= 0) {
        size_t n;
        const char *t = lfm_vocab_text(v, v->bos, &n);
        put(&w, t, n);
    }

    size_t first = 0;
    const char *system = "";
    if (n_messages && strcmp(roles[0], "system") == 0) {
        system = contents[0];
        first = 1;
    }
    if (system[0] || n_tools) {
        puts_(&w, "<|im_start|>system\n");
        puts_(&w, system);
        if (n_tools) {
            if (system[0]) puts_(&w, "\n");
            puts_(&w, "List of tools: <|tool_list_start|>[");
            for (size_t i = 0; i < n_tools; i++) {
                if (i) puts_(&w, ", ");
                puts_(&w, tools[i]);
            }
            puts_(&w, "]<|tool_list_end|>");
        }
        puts_(&w, "<|im_end|>\n");
    }
    for (size_t i = first; i < n_messages; i++) {
        int tool = strcmp(roles[i], "tool") == 0;
        puts_(&w, "<|im_start|>");
        puts_(&w, roles[i]);
        puts_(&w, "\n");
        if (tool) puts_(&w, "<|tool_response_start|>");
        puts_(&w, contents[i]);
        if (tool) puts_(&w, "<|tool_response_end|>");
        puts_(&w, "<|im_end|>\n");
    }
    if (flags & LFM2MOE_CHAT_ADD_GENERATION_PROMPT) puts_(&w, "<|im_start|>assistant\n");

    if (len) *len = w.pos;
    if (w.pos < buf_size) {
        buf[w.pos] = '\0';
        return LFM2MOE_OK;
    }
    if (buf_size) buf[buf_size - 1] = '\0';
    return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed (with the NUL), buffer has %zu",
                    fn, w.pos + 1, buf_size);
}
