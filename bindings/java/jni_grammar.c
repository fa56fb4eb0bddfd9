/* JNI: grammars (GBNF, JSON Schema, tools) and the tool-call parser. */
#include "jni_common.h"

#include <stdlib.h>
#include <string.h>

/* kind 0: GBNF text (root rule `root`, NULL: "root"); 1: a JSON Schema.
 * Returns the grammar handle. */
JNIFN(jlong, grammarCreate)
(JNIEnv *env, jclass cls, jlong model, jbyteArray text, jbyteArray root, jint kind) {
    (void)cls;
    if (closed(env, model)) return 0;
    size_t len = 0;
    char *t = bytes_dup(env, text, &len), *r = NULL;
    if (!t || (root && !(r = bytes_dup(env, root, NULL)))) {
        free(t);
        return 0;
    }
    const lfm2moe_model *m = (const lfm2moe_model *)(intptr_t)model;
    lfm2moe_grammar *g = NULL;
    int st = kind == 1 ? lfm2moe_grammar_from_json_schema(m, t, len, &g)
                       : lfm2moe_grammar_create(m, t, len, r, &g);
    free(t);
    free(r);
    return check(env, st) ? 0 : (jlong)(intptr_t)g;
}

JNIFN(jlong, grammarFromTools)
(JNIEnv *env, jclass cls, jlong model, jobjectArray tools, jint tool_choice) {
    (void)cls;
    if (closed(env, model)) return 0;
    size_t n = 0;
    char **v = strings_dup(env, tools, &n);
    if (!v) return 0;
    lfm2moe_grammar *g = NULL;
    int st = lfm2moe_grammar_from_tools((const lfm2moe_model *)(intptr_t)model,
                                        (const char *const *)v, n, tool_choice, &g);
    strings_free(v, n);
    return check(env, st) ? 0 : (jlong)(intptr_t)g;
}

static int gbnf_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    return lfm2moe_grammar_gbnf(ctx, buf, size, len);
}

JNIFN(jbyteArray, grammarGbnf)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
    return fill_bytes(env, gbnf_fill, (const lfm2moe_grammar *)(intptr_t)h, 4096);
}

JNIFN(void, grammarFree)(JNIEnv *env, jclass cls, jlong h) {
    (void)env, (void)cls;
    lfm2moe_grammar_free((lfm2moe_grammar *)(intptr_t)h);
}

/* The calls in text as {name0, arguments0, name1, arguments1, ...}
 * (arguments: JSON object texts). */
JNIFN(jobjectArray, toolCallsParse)(JNIEnv *env, jclass cls, jbyteArray text) {
    (void)cls;
    size_t len = 0;
    char *t = bytes_dup(env, text, &len);
    if (!t) return NULL;
    lfm2moe_tool_calls *calls = NULL;
    int st = lfm2moe_tool_calls_parse(t, len, &calls);
    free(t);
    size_t n = 0;
    if (check(env, st) || check(env, lfm2moe_tool_calls_count(calls, &n)) || n > INT32_MAX / 2) {
        lfm2moe_tool_calls_free(calls);
        return NULL;
    }
    jclass bytes_cls = (*env)->FindClass(env, "[B");
    jobjectArray out =
        bytes_cls ? (*env)->NewObjectArray(env, (jsize)(2 * n), bytes_cls, NULL) : NULL;
    for (size_t i = 0; out && i < n; i++) {
        const char *name = NULL, *args = NULL;
        if (check(env, lfm2moe_tool_calls_get(calls, i, &name, &args))) {
            out = NULL;
            break;
        }
        const char *parts[2] = {name, args};
        for (int k = 0; k < 2 && out; k++) {
            jbyteArray b = cstr_new(env, parts[k]);
            if (!b) {
                out = NULL;
                break;
            }
            (*env)->SetObjectArrayElement(env, out, (jsize)(2 * i + (size_t)k), b);
            (*env)->DeleteLocalRef(env, b);
        }
    }
    lfm2moe_tool_calls_free(calls);
    return out;
}
