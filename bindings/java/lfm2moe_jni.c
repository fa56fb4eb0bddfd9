/* JNI glue between ai.lfm2moe.Native (Java) and liblfm2moe.so.
 *
 * Text crosses as byte[] holding UTF-8 and is converted in Java with
 * StandardCharsets.UTF_8 (NewStringUTF expects "modified UTF-8" and would
 * mangle NULs and characters outside the BMP).  Handles are jlong; the
 * Java classes check for closed (zero) handles before calling in, and every
 * native function here re-checks so a bug cannot become a crash.  A failing
 * library call throws ai.lfm2moe.Lfm2MoeException(status, name, detail).
 * Classes and method ids are cached once in JNI_OnLoad. */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"

#define JNIFN(ret, name) JNIEXPORT ret JNICALL Java_ai_lfm2moe_Native_##name

static JavaVM *g_vm;
static jclass g_exc_cls;        /* ai.lfm2moe.Lfm2MoeException */
static jmethodID g_exc_ctor;    /* (int status, byte[] name, byte[] message) */
static jclass g_ise_cls;        /* java.lang.IllegalStateException */
static jclass g_oom_cls;        /* java.lang.OutOfMemoryError */
static jclass g_sink_cls;       /* ai.lfm2moe.Session$Sink */
static jmethodID g_sink_piece;  /* boolean piece(byte[] utf8, int token) */

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (!local)
        return NULL;
    jclass g = (*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK)
        return JNI_ERR;
    g_vm = vm;
    g_exc_cls = global_class(env, "ai/lfm2moe/Lfm2MoeException");
    g_ise_cls = global_class(env, "java/lang/IllegalStateException");
    g_oom_cls = global_class(env, "java/lang/OutOfMemoryError");
    g_sink_cls = global_class(env, "ai/lfm2moe/Session$Sink");
    if (!g_exc_cls || !g_ise_cls || !g_oom_cls || !g_sink_cls)
        return JNI_ERR;
    g_exc_ctor = (*env)->GetMethodID(env, g_exc_cls, "<init>", "(I[B[B)V");
    g_sink_piece = (*env)->GetMethodID(env, g_sink_cls, "piece", "([BI)Z");
    if (!g_exc_ctor || !g_sink_piece)
        return JNI_ERR;
    return JNI_VERSION_1_8;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK)
        return;
    (*env)->DeleteGlobalRef(env, g_exc_cls);
    (*env)->DeleteGlobalRef(env, g_ise_cls);
    (*env)->DeleteGlobalRef(env, g_oom_cls);
    (*env)->DeleteGlobalRef(env, g_sink_cls);
}

/* ---- helpers ---------------------------------------------------------- */

static jbyteArray bytes_new(JNIEnv *env, const char *p, size_t n) {
    if (n > INT32_MAX) {
        (*env)->ThrowNew(env, g_oom_cls, "text longer than a Java array");
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
    if (a && n)
        (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)p);
    return a;
}

static jbyteArray cstr_new(JNIEnv *env, const char *s) {
    return bytes_new(env, s ? s : "", s ? strlen(s) : 0);
}

/* Throw Lfm2MoeException for a non-OK status (unless an exception is already
 * pending).  Reads lfm2moe_last_error() right away, on the failing thread. */
static void throw_status(JNIEnv *env, int st) {
    if ((*env)->ExceptionCheck(env))
        return;
    jbyteArray msg = cstr_new(env, lfm2moe_last_error());
    jbyteArray name = cstr_new(env, lfm2moe_status_string(st));
    if (!msg || !name)
        return;
    jobject e = (*env)->NewObject(env, g_exc_cls, g_exc_ctor, (jint)st, name, msg);
    if (e)
        (*env)->Throw(env, (jthrowable)e);
}

static int check(JNIEnv *env, int st) {
    if (st != LFM2MOE_OK)
        throw_status(env, st);
    return st;
}

/* A zero handle means the Java object was closed. */
static int closed(JNIEnv *env, jlong h) {
    if (h)
        return 0;
    (*env)->ThrowNew(env, g_ise_cls, "handle is closed");
    return 1;
}

/* Copy a byte[] into a NUL-terminated malloc'd buffer (the C API wants
 * NUL-terminated strings in places).  NULL with an exception on failure. */
static char *bytes_dup(JNIEnv *env, jbyteArray a, size_t *len) {
    if (!a) {
        (*env)->ThrowNew(env, g_ise_cls, "null text");
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, a);
    char *s = malloc((size_t)n + 1);
    if (!s) {
        (*env)->ThrowNew(env, g_oom_cls, "lfm2moe_jni");
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n] = 0;
    if (len)
        *len = (size_t)n;
    return s;
}

/* byte[][] -> char*[] of NUL-terminated copies.  Freed by strings_free. */
static char **strings_dup(JNIEnv *env, jobjectArray arr, size_t *count) {
    *count = 0;
    if (!arr)
        return calloc(1, sizeof(char *));
    jsize n = (*env)->GetArrayLength(env, arr);
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) {
        (*env)->ThrowNew(env, g_oom_cls, "lfm2moe_jni");
        return NULL;
    }
    for (jsize i = 0; i < n; i++) {
        jbyteArray b = (jbyteArray)(*env)->GetObjectArrayElement(env, arr, i);
        v[i] = bytes_dup(env, b, NULL);
        (*env)->DeleteLocalRef(env, b);
        if (!v[i]) {
            for (jsize j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return NULL;
        }
    }
    *count = (size_t)n;
    return v;
}

static void strings_free(char **v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The library's size protocol: try a buffer, on BUFFER_TOO_SMALL retry with
 * the stored size.  `call` fills buf; returns a byte[] of `*len` bytes. */
typedef int (*fill_fn)(const void *ctx, char *buf, size_t size, size_t *len);

static jbyteArray fill_bytes(JNIEnv *env, fill_fn call, const void *ctx, size_t guess) {
    size_t size = guess ? guess : 64;
    for (int attempt = 0; attempt < 3; attempt++) {
        char *buf = malloc(size);
        if (!buf) {
            (*env)->ThrowNew(env, g_oom_cls, "lfm2moe_jni");
            return NULL;
        }
        size_t len = 0;
        int st = call(ctx, buf, size, &len);
        if (st == LFM2MOE_OK) {
            jbyteArray a = bytes_new(env, buf, len);
            free(buf);
            return a;
        }
        free(buf);
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL) {
            throw_status(env, st);
            return NULL;
        }
        size = len + 1; /* room for the NUL of the string-returning calls */
    }
    (*env)->ThrowNew(env, g_ise_cls, "buffer size kept changing");
    return NULL;
}

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
    if (!p)
        return 0;
    lfm2moe_model_params mp;
    lfm2moe_model_params_init(&mp);
    mp.flags = (uint32_t)flags;
    lfm2moe_model *m = NULL;
    int st = lfm2moe_model_load(p, &mp, &m);
    free(p);
    if (check(env, st))
        return 0;
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
    if (closed(env, h))
        return NULL;
    lfm2moe_model_info mi;
    memset(&mi, 0, sizeof mi);
    mi.struct_size = sizeof mi;
    if (check(env, lfm2moe_model_get_info((lfm2moe_model *)(intptr_t)h, &mi)))
        return NULL;
    jdouble v[] = {mi.n_vocab, mi.n_embd, mi.n_block, mi.n_ctx_train, mi.n_head,
                   mi.n_head_kv, mi.head_dim, mi.n_ff, mi.n_expert, mi.n_expert_used,
                   mi.n_ff_expert, mi.n_dense_block, mi.conv_l_cache, mi.n_attention_block,
                   mi.rope_freq_base, mi.rms_norm_eps, (jdouble)mi.n_params,
                   (jdouble)mi.file_size, (jdouble)mi.n_tensors};
    jsize n = (jsize)(sizeof v / sizeof v[0]);
    jdoubleArray a = (*env)->NewDoubleArray(env, n);
    if (a)
        (*env)->SetDoubleArrayRegion(env, a, 0, n, v);
    return a;
}

JNIFN(jbyteArray, modelArchitecture)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    const char *name = NULL;
    if (check(env, lfm2moe_model_architecture((lfm2moe_model *)(intptr_t)h, &name)))
        return NULL;
    return cstr_new(env, name);
}

/* n_vocab, bos, eos, pad, end_of_turn, add_bos */
JNIFN(jintArray, vocabInfo)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    lfm2moe_vocab_info vi;
    memset(&vi, 0, sizeof vi);
    vi.struct_size = sizeof vi;
    if (check(env, lfm2moe_vocab_get_info((lfm2moe_model *)(intptr_t)h, &vi)))
        return NULL;
    jint v[] = {vi.n_vocab, vi.bos, vi.eos, vi.pad, vi.end_of_turn, vi.add_bos};
    jintArray a = (*env)->NewIntArray(env, 6);
    if (a)
        (*env)->SetIntArrayRegion(env, a, 0, 6, v);
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
    if (closed(env, h))
        return NULL;
    char *k = bytes_dup(env, key, NULL);
    if (!k)
        return NULL;
    struct meta_ctx c = {(const lfm2moe_model *)(intptr_t)h, k};
    jbyteArray r = fill_bytes(env, meta_fill, &c, 256);
    free(k);
    return r;
}

/* ---- tokens ------------------------------------------------------------ */

JNIFN(jintArray, tokenize)(JNIEnv *env, jclass cls, jlong h, jbyteArray text, jint flags) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    size_t len;
    char *t = bytes_dup(env, text, &len);
    if (!t)
        return NULL;
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
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL || attempt == 1)
            break;
        free(ids);
        cap = n;
    }
    free(t);
    jintArray a = NULL;
    if (!check(env, st) && n <= INT32_MAX) {
        a = (*env)->NewIntArray(env, (jsize)n);
        if (a)
            (*env)->SetIntArrayRegion(env, a, 0, (jsize)n, (const jint *)ids);
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
    if (closed(env, h))
        return NULL;
    jsize n = (*env)->GetArrayLength(env, ids);
    jint *v = (*env)->GetIntArrayElements(env, ids, NULL);
    if (!v)
        return NULL;
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
    if (closed(env, h))
        return NULL;
    struct tok_ctx c = {(const lfm2moe_model *)(intptr_t)h, token};
    return fill_bytes(env, tok_fill, &c, 64);
}

JNIFN(jint, tokenLookup)(JNIEnv *env, jclass cls, jlong h, jbyteArray text) {
    (void)cls;
    if (closed(env, h))
        return -1;
    size_t len;
    char *t = bytes_dup(env, text, &len);
    if (!t)
        return -1;
    int32_t tok = -1;
    int st = lfm2moe_token_lookup((const lfm2moe_model *)(intptr_t)h, t, len, &tok);
    free(t);
    return check(env, st) ? -1 : tok;
}

JNIFN(jint, tokenAttr)(JNIEnv *env, jclass cls, jlong h, jint token) {
    (void)cls;
    if (closed(env, h))
        return 0;
    uint32_t attr = 0;
    if (check(env, lfm2moe_token_attr((const lfm2moe_model *)(intptr_t)h, token, &attr)))
        return 0;
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
                               (const char *const *)c->tools, c->n_tools, c->flags, buf, size,
                               len);
}

JNIFN(jbyteArray, chatRender)(JNIEnv *env, jclass cls, jlong h, jobjectArray roles,
                              jobjectArray contents, jobjectArray tools, jint flags) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    struct chat_ctx c = {(const lfm2moe_model *)(intptr_t)h, NULL, NULL, NULL, 0, 0,
                         (uint32_t)flags};
    size_t n_contents = 0;
    jbyteArray r = NULL;
    c.roles = strings_dup(env, roles, &c.n_messages);
    if (c.roles)
        c.contents = strings_dup(env, contents, &n_contents);
    if (c.contents)
        c.tools = strings_dup(env, tools, &c.n_tools);
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
        return lfm2moe_chat_render_template(c->m, c->tmpl, c->tmpl_len, c->request,
                                            c->request_len, c->flags, buf, size, len);
    return lfm2moe_chat_render_json(c->m, c->request, c->request_len, c->flags, buf, size, len);
}

JNIFN(jbyteArray, chatRenderJson)(JNIEnv *env, jclass cls, jlong h, jbyteArray request,
                                  jbyteArray tmpl, jint flags) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    struct chat_json_ctx c = {(const lfm2moe_model *)(intptr_t)h, NULL, NULL, 0, 0,
                              (uint32_t)flags};
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

/* ---- session ---------------------------------------------------------- */

JNIFN(jlong, sessionCreate)(JNIEnv *env, jclass cls, jlong model, jint n_ctx, jint n_threads,
                            jint n_batch, jlong max_memory, jint kv_type,
                            jint checkpoint_interval) {
    (void)cls;
    if (closed(env, model))
        return 0;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.n_batch = n_batch;
    sp.max_memory = (uint64_t)max_memory;
    sp.kv_type = kv_type;
    sp.checkpoint_interval = checkpoint_interval;
    lfm2moe_session *s = NULL;
    if (check(env, lfm2moe_session_create((const lfm2moe_model *)(intptr_t)model, &sp, &s)))
        return 0;
    return (jlong)(intptr_t)s;
}

JNIFN(void, sessionFree)(JNIEnv *env, jclass cls, jlong h) {
    (void)env, (void)cls;
    lfm2moe_session_free((lfm2moe_session *)(intptr_t)h);
}

JNIFN(void, sessionReset)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (!closed(env, h))
        check(env, lfm2moe_session_reset((lfm2moe_session *)(intptr_t)h));
}

JNIFN(void, sessionCancel)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (!closed(env, h))
        check(env, lfm2moe_session_cancel((lfm2moe_session *)(intptr_t)h));
}

JNIFN(jint, sessionPosition)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    int32_t pos = 0;
    if (!closed(env, h))
        check(env, lfm2moe_session_position((const lfm2moe_session *)(intptr_t)h, &pos));
    return pos;
}

JNIFN(jint, sessionContextLength)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    int32_t n = 0;
    if (!closed(env, h))
        check(env, lfm2moe_session_context_length((const lfm2moe_session *)(intptr_t)h, &n));
    return n;
}

JNIFN(void, decode)(JNIEnv *env, jclass cls, jlong h, jintArray tokens, jint flags) {
    (void)cls;
    if (closed(env, h))
        return;
    jsize n = (*env)->GetArrayLength(env, tokens);
    jint *v = (*env)->GetIntArrayElements(env, tokens, NULL);
    if (!v)
        return;
    int st = lfm2moe_decode_step((lfm2moe_session *)(intptr_t)h, (const int32_t *)v, n,
                                 (uint32_t)flags);
    (*env)->ReleaseIntArrayElements(env, tokens, v, JNI_ABORT);
    check(env, st);
}

/* Copy the logits of token `index` into out (n_vocab floats). */
JNIFN(void, logits)(JNIEnv *env, jclass cls, jlong h, jint index, jfloatArray out) {
    (void)cls;
    if (closed(env, h))
        return;
    const float *row = NULL;
    if (check(env, lfm2moe_session_logits((const lfm2moe_session *)(intptr_t)h, index, &row)))
        return;
    (*env)->SetFloatArrayRegion(env, out, 0, (*env)->GetArrayLength(env, out), row);
}

/* A direct ByteBuffer over the session's own logits (no copy); valid until
 * the next decode/reset/close of the session. */
JNIFN(jobject, logitsBuffer)(JNIEnv *env, jclass cls, jlong h, jint index, jint n_vocab) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    const float *row = NULL;
    if (check(env, lfm2moe_session_logits((const lfm2moe_session *)(intptr_t)h, index, &row)))
        return NULL;
    return (*env)->NewDirectByteBuffer(env, (void *)row, (jlong)n_vocab * (jlong)sizeof(float));
}

/* ---- generation --------------------------------------------------------- */

/* Float sampling fields in the order of GenerationParams: temperature,
 * top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty. */
enum { N_FPARAMS = 6, N_IPARAMS = 4 }; /* ints: max_tokens, top_k, penalty_last_n, flags */

JNIFN(void, generateDefaults)(JNIEnv *env, jclass cls, jfloatArray f, jintArray i,
                              jlongArray seed) {
    (void)cls;
    lfm2moe_generate_params gp;
    if (check(env, lfm2moe_generate_params_init(&gp)))
        return;
    const lfm2moe_sampling_params *s = &gp.sampling;
    jfloat fv[N_FPARAMS] = {s->temperature,    s->top_p,          s->min_p,
                            s->repeat_penalty, s->frequency_penalty, s->presence_penalty};
    jint iv[N_IPARAMS] = {gp.max_tokens, s->top_k, s->penalty_last_n, (jint)gp.flags};
    jlong sv = (jlong)s->seed;
    (*env)->SetFloatArrayRegion(env, f, 0, N_FPARAMS, fv);
    (*env)->SetIntArrayRegion(env, i, 0, N_IPARAMS, iv);
    (*env)->SetLongArrayRegion(env, seed, 0, 1, &sv);
}

typedef struct stream_ctx {
    jobject sink;
} stream_ctx;

static int on_piece(void *user_data, const char *piece, size_t len, int32_t token) {
    stream_ctx *c = user_data;
    JNIEnv *env = NULL;
    /* The library calls back on the thread that called generate, which is
     * attached; attach anyway should that ever change. */
    if ((*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK &&
        (*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, NULL) != JNI_OK)
        return 1;
    if ((*env)->ExceptionCheck(env))
        return 1;
    jbyteArray b = bytes_new(env, piece, len);
    if (!b)
        return 1;
    jboolean go = (*env)->CallBooleanMethod(env, c->sink, g_sink_piece, b, (jint)token);
    (*env)->DeleteLocalRef(env, b);
    /* An exception stays pending and is thrown when generate returns. */
    if ((*env)->ExceptionCheck(env))
        return 1;
    return go ? 0 : 1;
}

/* Returns {stop_reason, n_prompt_tokens, n_generated, prompt_seconds,
 * generate_seconds}. */
JNIFN(jdoubleArray, generate)(JNIEnv *env, jclass cls, jlong h, jintArray prompt,
                              jint max_tokens, jfloatArray fparams, jintArray iparams,
                              jlong seed, jobjectArray stops, jintArray bias_tokens,
                              jfloatArray bias_values, jobject sink) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    lfm2moe_generate_params gp;
    if (check(env, lfm2moe_generate_params_init(&gp)))
        return NULL;
    jfloat fv[N_FPARAMS];
    jint iv[N_IPARAMS];
    (*env)->GetFloatArrayRegion(env, fparams, 0, N_FPARAMS, fv);
    (*env)->GetIntArrayRegion(env, iparams, 0, N_IPARAMS, iv);
    if ((*env)->ExceptionCheck(env))
        return NULL;
    gp.max_tokens = max_tokens;
    gp.sampling.temperature = fv[0];
    gp.sampling.top_p = fv[1];
    gp.sampling.min_p = fv[2];
    gp.sampling.repeat_penalty = fv[3];
    gp.sampling.frequency_penalty = fv[4];
    gp.sampling.presence_penalty = fv[5];
    gp.sampling.top_k = iv[1];
    gp.sampling.penalty_last_n = iv[2];
    gp.flags = (uint32_t)iv[3];
    gp.sampling.seed = (uint64_t)seed;

    size_t n_stops = 0;
    char **stop_v = strings_dup(env, stops, &n_stops);
    if (!stop_v)
        return NULL;
    gp.stop_strings = (const char *const *)stop_v;
    gp.n_stop_strings = n_stops;

    jsize n_bias = bias_tokens ? (*env)->GetArrayLength(env, bias_tokens) : 0;
    jint *bt = NULL;
    jfloat *bv = NULL;
    if (n_bias) {
        if ((*env)->GetArrayLength(env, bias_values) != n_bias) {
            strings_free(stop_v, n_stops);
            (*env)->ThrowNew(env, g_ise_cls, "logit bias arrays differ in length");
            return NULL;
        }
        bt = (*env)->GetIntArrayElements(env, bias_tokens, NULL);
        bv = (*env)->GetFloatArrayElements(env, bias_values, NULL);
        gp.sampling.logit_bias_tokens = (const int32_t *)bt;
        gp.sampling.logit_bias_values = bv;
        gp.sampling.n_logit_bias = (size_t)n_bias;
    }

    stream_ctx ctx = {sink};
    if (sink) {
        gp.callback = on_piece;
        gp.user_data = &ctx;
    }
    jsize n_prompt = prompt ? (*env)->GetArrayLength(env, prompt) : 0;
    jint *pv = n_prompt ? (*env)->GetIntArrayElements(env, prompt, NULL) : NULL;

    lfm2moe_generate_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    int st = LFM2MOE_ERR_OUT_OF_MEMORY;
    if (!n_prompt || pv)
        st = lfm2moe_generate((lfm2moe_session *)(intptr_t)h, (const int32_t *)pv,
                              (size_t)n_prompt, &gp, &res);
    /* Read the detail now, before any other library call on this thread. */
    if (st != LFM2MOE_OK)
        throw_status(env, st);

    if (pv)
        (*env)->ReleaseIntArrayElements(env, prompt, pv, JNI_ABORT);
    if (bt)
        (*env)->ReleaseIntArrayElements(env, bias_tokens, bt, JNI_ABORT);
    if (bv)
        (*env)->ReleaseFloatArrayElements(env, bias_values, bv, JNI_ABORT);
    strings_free(stop_v, n_stops);
    if ((*env)->ExceptionCheck(env))
        return NULL;

    jdouble out[6] = {res.stop_reason,    res.n_prompt_tokens,  res.n_generated,
                      res.prompt_seconds, res.generate_seconds, res.n_prompt_reused};
    jdoubleArray a = (*env)->NewDoubleArray(env, 6);
    if (a)
        (*env)->SetDoubleArrayRegion(env, a, 0, 6, out);
    return a;
}

/* ---- session history: rewind, tokens, snapshots, copies --------------- */

JNIFN(jintArray, sessionTokens)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    const lfm2moe_session *s = (const lfm2moe_session *)(intptr_t)h;
    size_t n = 0;
    lfm2moe_session_tokens(s, NULL, 0, &n); /* BUFFER_TOO_SMALL with the count */
    int32_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) {
        (*env)->ThrowNew(env, g_oom_cls, "lfm2moe_jni");
        return NULL;
    }
    jintArray a = NULL;
    if (!check(env, lfm2moe_session_tokens(s, t, n, &n)) &&
        (a = (*env)->NewIntArray(env, (jsize)n)) && n)
        (*env)->SetIntArrayRegion(env, a, 0, (jsize)n, (const jint *)t);
    free(t);
    return a;
}

JNIFN(void, sessionRewind)(JNIEnv *env, jclass cls, jlong h, jint pos) {
    (void)cls;
    if (!closed(env, h))
        check(env, lfm2moe_session_rewind((lfm2moe_session *)(intptr_t)h, pos));
}

/* same: the source's parameters; else the given ones. */
JNIFN(jlong, sessionCopy)(JNIEnv *env, jclass cls, jlong h, jboolean same, jint n_ctx,
                          jint n_threads, jint n_batch, jlong max_memory, jint kv_type,
                          jint interval) {
    (void)cls;
    if (closed(env, h))
        return 0;
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.n_batch = n_batch;
    sp.max_memory = (uint64_t)max_memory;
    sp.kv_type = kv_type;
    sp.checkpoint_interval = interval;
    lfm2moe_session *out = NULL;
    if (check(env, lfm2moe_session_copy((const lfm2moe_session *)(intptr_t)h, same ? NULL : &sp,
                                        &out)))
        return 0;
    return (jlong)(intptr_t)out;
}

static int save_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    return lfm2moe_session_save(ctx, buf, size, len);
}

JNIFN(jbyteArray, sessionSave)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h))
        return NULL;
    const lfm2moe_session *s = (const lfm2moe_session *)(intptr_t)h;
    size_t len = 0;
    if (check(env, lfm2moe_session_save(s, NULL, 0, &len)))
        return NULL;
    return fill_bytes(env, save_fill, s, len);
}

JNIFN(void, sessionLoad)(JNIEnv *env, jclass cls, jlong h, jbyteArray data) {
    (void)cls;
    if (closed(env, h))
        return;
    jsize n = (*env)->GetArrayLength(env, data);
    jbyte *d = (*env)->GetByteArrayElements(env, data, NULL);
    if (!d)
        return; /* OutOfMemoryError pending */
    int st = lfm2moe_session_load((lfm2moe_session *)(intptr_t)h, d, (size_t)n);
    if (st)
        throw_status(env, st);
    (*env)->ReleaseByteArrayElements(env, data, d, JNI_ABORT);
}

JNIFN(void, sessionSaveFile)(JNIEnv *env, jclass cls, jlong h, jbyteArray path) {
    (void)cls;
    if (closed(env, h))
        return;
    char *p = bytes_dup(env, path, NULL);
    if (!p)
        return;
    int st = lfm2moe_session_save_file((const lfm2moe_session *)(intptr_t)h, p);
    free(p);
    check(env, st);
}

JNIFN(void, sessionLoadFile)(JNIEnv *env, jclass cls, jlong h, jbyteArray path) {
    (void)cls;
    if (closed(env, h))
        return;
    char *p = bytes_dup(env, path, NULL);
    if (!p)
        return;
    int st = lfm2moe_session_load_file((lfm2moe_session *)(intptr_t)h, p);
    free(p);
    check(env, st);
}
