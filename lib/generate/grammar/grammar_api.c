/* The public lfm2moe_grammar_* functions: compile GBNF (given, or written
 * from a JSON Schema or a tool list), build the vocabulary's token trie,
 * and check that the start state exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/json.h"
#include "generate/grammar/grammar.h"
#include "generate/grammar/schema_internal.h"
#include "model/model.h"
#include "text/tokenizer.h"

/* Takes ownership of gbnf (malloc'd, NUL-terminated).  `source`: the
 * GBNF was written from a schema or tools, whose self-references can be
 * left recursive: that is the caller's error (INVALID_ARGUMENT). */
static int make(const lfm2moe_model *model, char *gbnf, size_t len, const char *root,
                const char *source, lfm2moe_grammar **out) {
    lfm2moe_grammar *g = calloc(1, sizeof *g);
    if (!g) {
        free(gbnf);
        return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    g->model = model;
    g->gbnf = gbnf;
    g->gbnf_len = len;
    g->trigger = -1;
    int st = lfm_gbnf_parse(gbnf, len, root, &g->cg);
    if (st == LFM2MOE_ERR_PARSE && source) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lfm2moe_last_error());
        st = lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: %s", source, msg);
    }
    if (!st) st = lfm_token_trie_build(model->vocab, &g->trie);
    if (!st) { /* the start state must exist within the limits */
        lfm_matcher *m = NULL;
        st = lfm_matcher_create(g->cg, &m);
        lfm_matcher_free(m);
    }
    if (st) {
        lfm2moe_grammar_free(g);
        return st;
    }
    *out = g;
    return 0;
}

static int check_common(const char *fn, const lfm2moe_model *model, const void *text, size_t len,
                        lfm2moe_grammar **out) {
    LFM_CHECK_ARG_IN(fn, out, "NULL output");
    *out = NULL;
    LFM_CHECK_ARG_IN(fn, model, "NULL model");
    LFM_CHECK_ARG_IN(fn, text || !len, "NULL text");
    if (!model->vocab) return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: the model has no tokenizer", fn);
    return 0;
}

LFM2MOE_API int lfm2moe_grammar_create(const lfm2moe_model *model, const char *gbnf, size_t len,
                                       const char *root_rule, lfm2moe_grammar **out) {
    int st = check_common("lfm2moe_grammar_create", model, gbnf, len, out);
    if (st) return st;
    if (len > LFM_GBNF_MAX_TEXT)
        return lfm_fail(LFM2MOE_ERR_LIMIT, "grammar: %zu bytes, more than the %u allowed", len,
                        LFM_GBNF_MAX_TEXT);
    char *copy = malloc(len + 1);
    if (!copy) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    if (len) memcpy(copy, gbnf, len);
    copy[len] = '\0';
    return make(model, copy, len, root_rule, NULL, out);
}

static int parse_json(const char *what, const char *text, size_t len, json_value **v) {
    char err[160];
    if (json_parse(text, len, v, err, sizeof err))
        return lfm_fail(LFM2MOE_ERR_PARSE, "%s: invalid JSON: %s", what, err);
    return 0;
}

LFM2MOE_API int lfm2moe_grammar_from_json_schema(const lfm2moe_model *model,
                                                 const char *schema_json, size_t len,
                                                 lfm2moe_grammar **out) {
    int st = check_common("lfm2moe_grammar_from_json_schema", model, schema_json, len, out);
    if (st) return st;
    json_value *schema = NULL;
    if ((st = parse_json("json schema", schema_json ? schema_json : "", len, &schema))) return st;
    strbuf b = {0};
    st = lfm_schema_to_gbnf(schema, "root", 0, &b);
    json_free(schema);
    if (st) {
        strbuf_free(&b);
        return st;
    }
    return make(model, b.data, b.len, "root", "json schema", out);
}

LFM2MOE_API int lfm2moe_grammar_from_tools(const lfm2moe_model *model, const char *const *tools,
                                           size_t n_tools, int tool_choice, lfm2moe_grammar **out) {
    static const char fn[] = "lfm2moe_grammar_from_tools";
    int st = check_common(fn, model, tools, n_tools, out);
    if (st) return st;
    if (tool_choice < LFM2MOE_TOOL_CHOICE_AUTO || tool_choice > LFM2MOE_TOOL_CHOICE_NONE)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "%s: tool_choice %d (0 auto, 1 required, 2 none)", fn, tool_choice);
    static const char start[] = "<|tool_call_start|>";
    int32_t trigger = lfm_vocab_find(model->vocab, start, sizeof start - 1);
    if (trigger < 0 && tool_choice != LFM2MOE_TOOL_CHOICE_REQUIRED)
        return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "%s: the vocabulary has no %s token", fn, start);
    json_value **parsed = calloc(n_tools + 1, sizeof *parsed);
    if (!parsed) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    strbuf b = {0};
    for (size_t i = 0; i < n_tools && !st; i++) {
        if (!tools[i])
            st = lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: tool %zu is NULL", fn, i);
        else if (!(st = parse_json("tools", tools[i], strlen(tools[i]), &parsed[i])) &&
                 parsed[i]->type != JSON_OBJECT)
            st = lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "%s: tool %zu is not a JSON object", fn, i);
    }
    if (!st) {
        if (tool_choice == LFM2MOE_TOOL_CHOICE_NONE)
            st = strbuf_append(&b, "root ::= \"\"\n", 12)
                     ? lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "%s: out of memory", fn)
                     : 0;
        else
            st = lfm_tools_to_gbnf((const json_value *const *)parsed, n_tools,
                                   tool_choice == LFM2MOE_TOOL_CHOICE_REQUIRED, &b);
    }
    for (size_t i = 0; i < n_tools; i++)
        json_free(parsed[i]);
    free(parsed);
    if (st) {
        strbuf_free(&b);
        return st;
    }
    if ((st = make(model, b.data, b.len, "root", "tools", out))) return st;
    (*out)->trigger = trigger;
    (*out)->lazy = tool_choice != LFM2MOE_TOOL_CHOICE_REQUIRED;
    (*out)->ban_trigger = tool_choice == LFM2MOE_TOOL_CHOICE_NONE;
    return 0;
}

LFM2MOE_API int lfm2moe_grammar_gbnf(const lfm2moe_grammar *g, char *buf, size_t buf_size,
                                     size_t *needed) {
    LFM_CHECK_ARGS(g && (buf || !buf_size));
    if (needed) *needed = g->gbnf_len;
    if (buf_size) {
        size_t n = g->gbnf_len < buf_size - 1 ? g->gbnf_len : buf_size - 1;
        memcpy(buf, g->gbnf, n);
        buf[n] = '\0';
    }
    if (buf_size <= g->gbnf_len)
        return lfm_fail(LFM2MOE_ERR_BUFFER_TOO_SMALL, "lfm2moe_grammar_gbnf: %zu bytes needed",
                        g->gbnf_len + 1);
    return 0;
}

LFM2MOE_API void lfm2moe_grammar_free(lfm2moe_grammar *g) {
    if (!g) return;
    lfm_cgrammar_free(g->cg);
    lfm_token_trie_free(g->trie);
    free(g->gbnf);
    free(g);
}
