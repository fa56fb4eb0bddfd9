/* JNI: library version, models, tokens and chat templates. */
#include "jni_common.h"

#include <stdlib.h>
#include <string.h>

/* ---- version ---------------------------------------------------------- */

JNIFN(jint, version)(JNIEnv *env, jclass cls) {
    (void)env, (void)cls;
    return (jint)lfm2moe_version();
}

JNIFN(jbyteArray, versionString)(JNIEnv *env, jclass cls) {
    (void)cls;
    return cstr_new(env, lfm2moe_version_string());
}

JNIFN(jbyteArray, statusString)(JNIEnv *env, jclass cls, jint status) {
    (void)cls;
    return cstr_new(env, lfm2moe_status_string(status));
}

/* ---- model ------------------------------------------------------------ */

JNIFN(jlong, modelLoad)(JNIEnv *env, jclass cls, jbyteArray path, jint flags) {
    (void)cls;
    char *p = bytes_dup(env, path, NULL);
    if (!p) return 0;
    lfm2moe_model_params mp;
    lfm2moe_model_params_init(&mp);
    mp.flags = (uint32_t)flags;
    lfm2moe_model *m = NULL;
    int st = lfm2moe_model_load(p, &mp, &m);
    free(p);
    if (check(env, st)) return 0;
    return (jlong)(intptr_t)m;
}

JNIFN(void, modelFree)(JNIEnv *env, jclass cls, jlong h) {
    (void)env, (void)cls;
    lfm2moe_model_free((lfm2moe_model *)(intptr_t)h);
}

/* All of lfm2moe_model_info as doubles (every field is exact in a double):
 * n_vocab, n_embd, n_block, n_ctx_train, n_head, n_head_kv, head_dim, n_ff,
 * n_expert, n_expert_used, n_ff_expert, n_dense_block, conv_l_cache,
 * n_attention_block, rope_freq_base, rms_norm_eps, n_params, file_size,
 * n_tensors. */
JNIFN(jdoubleArray, modelInfo)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
    lfm2moe_model_info mi;
    memset(&mi, 0, sizeof mi);
    mi.struct_size = sizeof mi;
    if (check(env, lfm2moe_model_get_info((lfm2moe_model *)(intptr_t)h, &mi))) return NULL;
    jdouble v[] = {mi.n_vocab,
                   mi.n_embd,
                   mi.n_block,
                   mi.n_ctx_train,
                   mi.n_head,
                   mi.n_head_kv,
                   mi.head_dim,
                   mi.n_ff,
                   mi.n_expert,
                   mi.n_expert_used,
                   mi.n_ff_expert,
                   mi.n_dense_block,
                   mi.conv_l_cache,
                   mi.n_attention_block,
                   mi.rope_freq_base,
                   mi.rms_norm_eps,
                   (jdouble)mi.n_params,
                   (jdouble)mi.file_size,
                   (jdouble)mi.n_tensors};
    jsize n = (jsize)(sizeof v / sizeof v[0]);
    jdoubleArray a = (*env)->NewDoubleArray(env, n);
    if (a) (*env)->SetDoubleArrayRegion(env, a, 0, n, v);
    return a;
}

JNIFN(jbyteArray, modelArchitecture)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
    const char *name = NULL;
    if (check(env, lfm2moe_model_architecture((lfm2moe_model *)(intptr_t)h, &name))) return NULL;
    return cstr_new(env, name);
}

/* n_vocab, bos, eos, pad, end_of_turn, add_bos */
JNIFN(jintArray, vocabInfo)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
    lfm2moe_vocab_info vi;
    memset(&vi, 0, sizeof vi);
    vi.struct_size = sizeof vi;
    if (check(env, lfm2moe_vocab_get_info((lfm2moe_model *)(intptr_t)h, &vi))) return NULL;
    jint v[] = {vi.n_vocab, vi.bos, vi.eos, vi.pad, vi.end_of_turn, vi.add_bos};
    jintArray a = (*env)->NewIntArray(env, 6);
    if (a) (*env)->SetIntArrayRegion(env, a, 0, 6, v);
    return a;
}

struct meta_ctx {
    const lfm2moe_model *m;
    const char *key;
};
static int meta_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    const struct meta_ctx *c = ctx;
    return lfm2moe_model_meta_string(c->m, c->key, buf, size, len);
}

JNIFN(jbyteArray, metaString)(JNIEnv *env, jclass cls, jlong h, jbyteArray key) {
    (void)cls;
    if (closed(env, h)) return NULL;
    char *k = bytes_dup(env, key, NULL);
    if (!k) return NULL;
    struct meta_ctx c = {(const lfm2moe_model *)(intptr_t)h, k};
    jbyteArray r = fill_bytes(env, meta_fill, &c, 256);
    free(k);
    return r;
}

/* ---- tokens ------------------------------------------------------------ */

JNIFN(jintArray, tokenize)(JNIEnv *env, jclass cls, jlong h, jbyteArray text, jint flags) {
    (void)cls;
    if (closed(env, h)) return NULL;
    size_t len;
    char *t = bytes_dup(env, text, &len);
    if (!t) return NULL;
    const lfm2moe_model *m = (const lfm2moe_model *)(intptr_t)h;
    /* Byte-level BPE: at most one token per byte, plus BOS. */
    size_t cap = len + 2, n = 0;
    int32_t *ids = NULL;
    int st;
    for (int attempt = 0;; attempt++) {
        ids = malloc(cap * sizeof *ids);
        if (!ids) {
            free(t);
            (*env)->ThrowNew(env, g_oom_cls, "lfm2moe_jni");
            return NULL;
        }
        st = lfm2moe_tokenize(m, t, len, (uint32_t)flags, ids, cap, &n);
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL || attempt == 1) break;
        free(ids);
        cap = n;
    }
    free(t);
    jintArray a = NULL;
    if (!check(env, st) && n <= INT32_MAX) {
        a = (*env)->NewIntArray(env, (jsize)n);
        if (a) (*env)->SetIntArrayRegion(env, a, 0, (jsize)n, (const jint *)ids);
    }
    free(ids);
    return a;
}

struct detok_ctx {
    const lfm2moe_model *m;
    const int32_t *ids;
    size_t n;
};
static int detok_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    const struct detok_ctx *c = ctx;
    return lfm2moe_detokenize(c->m, c->ids, c->n, buf, size, len);
}

JNIFN(jbyteArray, detokenize)(JNIEnv *env, jclass cls, jlong h, jintArray ids) {
    (void)cls;
    if (closed(env, h)) return NULL;
    jsize n = (*env)->GetArrayLength(env, ids);
    jint *v = (*env)->GetIntArrayElements(env, ids, NULL);
    if (!v) return NULL;
    struct detok_ctx c = {(const lfm2moe_model *)(intptr_t)h, (const int32_t *)v, (size_t)n};
    jbyteArray r = fill_bytes(env, detok_fill, &c, 8 * (size_t)n + 16);
    (*env)->ReleaseIntArrayElements(env, ids, v, JNI_ABORT);
    return r;
}

struct tok_ctx {
    const lfm2moe_model *m;
    int32_t token;
};
static int tok_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    const struct tok_ctx *c = ctx;
    return lfm2moe_token_to_bytes(c->m, c->token, buf, size, len);
}

JNIFN(jbyteArray, tokenToBytes)(JNIEnv *env, jclass cls, jlong h, jint token) {
    (void)cls;
    if (closed(env, h)) return NULL;
    struct tok_ctx c = {(const lfm2moe_model *)(intptr_t)h, token};
    return fill_bytes(env, tok_fill, &c, 64);
}

JNIFN(jint, tokenLookup)(JNIEnv *env, jclass cls, jlong h, jbyteArray text) {
    (void)cls;
    if (closed(env, h)) return -1;
    size_t len;
    char *t = bytes_dup(env, text, &len);
    if (!t) return -1;
    int32_t tok = -1;
    int st = lfm2moe_token_lookup((const lfm2moe_model *)(intptr_t)h, t, len, &tok);
    free(t);
    return check(env, st) ? -1 : tok;
}

JNIFN(jint, tokenAttr)(JNIEnv *env, jclass cls, jlong h, jint token) {
    (void)cls;
    if (closed(env, h)) return 0;
    uint32_t attr = 0;
    if (check(env, lfm2moe_token_attr((const lfm2moe_model *)(intptr_t)h, token, &attr))) return 0;
    return (jint)attr;
}

/* ---- chat template ---------------------------------------------------- */

struct chat_ctx {
    const lfm2moe_model *m;
    char **roles, **contents, **tools;
    size_t n_messages, n_tools;
    uint32_t flags;
};
static int chat_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    const struct chat_ctx *c = ctx;
    return lfm2moe_chat_render(c->m, (const char *const *)c->roles,
                               (const char *const *)c->contents, c->n_messages,
                               (const char *const *)c->tools, c->n_tools, c->flags, buf, size, len);
}

JNIFN(jbyteArray, chatRender)
(JNIEnv *env, jclass cls, jlong h, jobjectArray roles, jobjectArray contents, jobjectArray tools,
 jint flags) {
    (void)cls;
    if (closed(env, h)) return NULL;
    struct chat_ctx c = {
        (const lfm2moe_model *)(intptr_t)h, NULL, NULL, NULL, 0, 0, (uint32_t)flags};
    size_t n_contents = 0;
    jbyteArray r = NULL;
    c.roles = strings_dup(env, roles, &c.n_messages);
    if (c.roles) c.contents = strings_dup(env, contents, &n_contents);
    if (c.contents) c.tools = strings_dup(env, tools, &c.n_tools);
    if (c.tools) {
        if (n_contents != c.n_messages) {
            (*env)->ThrowNew(env, g_ise_cls, "roles and contents differ in length");
        } else {
            size_t guess = 256;
            for (size_t i = 0; i < c.n_messages; i++)
                guess += strlen(c.contents[i]) + 64;
            for (size_t i = 0; i < c.n_tools; i++)
                guess += strlen(c.tools[i]) + 8;
            r = fill_bytes(env, chat_fill, &c, guess);
        }
    }
    strings_free(c.roles, c.n_messages);
    strings_free(c.contents, n_contents);
    strings_free(c.tools, c.n_tools);
    return r;
}

struct chat_json_ctx {
    const lfm2moe_model *m;
    const char *request, *tmpl; /* tmpl NULL: the model's template */
    size_t request_len, tmpl_len;
    uint32_t flags;
};
static int chat_json_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    const struct chat_json_ctx *c = ctx;
    if (c->tmpl)
        return lfm2moe_chat_render_template(c->m, c->tmpl, c->tmpl_len, c->request, c->request_len,
                                            c->flags, buf, size, len);
    return lfm2moe_chat_render_json(c->m, c->request, c->request_len, c->flags, buf, size, len);
}

JNIFN(jbyteArray, chatRenderJson)
(JNIEnv *env, jclass cls, jlong h, jbyteArray request, jbyteArray tmpl, jint flags) {
    (void)cls;
    if (closed(env, h)) return NULL;
    struct chat_json_ctx c = {
        (const lfm2moe_model *)(intptr_t)h, NULL, NULL, 0, 0, (uint32_t)flags};
    char *req = bytes_dup(env, request, &c.request_len), *t = NULL;
    jbyteArray r = NULL;
    if (req && (!tmpl || (t = bytes_dup(env, tmpl, &c.tmpl_len)))) {
        c.request = req;
        c.tmpl = t;
        r = fill_bytes(env, chat_json_fill, &c, c.request_len + 256);
    }
    free(req);
    free(t);
    return r;
}
