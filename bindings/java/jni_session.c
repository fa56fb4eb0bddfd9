/* JNI: sessions (create, decode, logits) and their history (tokens,
 * rewind, copies, snapshots). */
#include "jni_common.h"

#include <stdlib.h>
#include <string.h>

/* ---- session ---------------------------------------------------------- */

/* The Java side's session parameters, for sessionCreate and sessionCopy. */
static lfm2moe_session_params session_params(jint n_ctx, jint n_threads, jint n_batch,
                                             jlong max_memory, jint kv_type,
                                             jint checkpoint_interval) {
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.n_batch = n_batch;
    sp.max_memory = (uint64_t)max_memory;
    sp.kv_type = kv_type;
    sp.checkpoint_interval = checkpoint_interval;
    return sp;
}

JNIFN(jlong, sessionCreate)
(JNIEnv *env, jclass cls, jlong model, jint n_ctx, jint n_threads, jint n_batch, jlong max_memory,
 jint kv_type, jint checkpoint_interval) {
    (void)cls;
    if (closed(env, model)) return 0;
    lfm2moe_session_params sp =
        session_params(n_ctx, n_threads, n_batch, max_memory, kv_type, checkpoint_interval);
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
    if (!closed(env, h)) check(env, lfm2moe_session_reset((lfm2moe_session *)(intptr_t)h));
}

JNIFN(void, sessionCancel)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (!closed(env, h)) check(env, lfm2moe_session_cancel((lfm2moe_session *)(intptr_t)h));
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
    if (closed(env, h)) return;
    jsize n = (*env)->GetArrayLength(env, tokens);
    jint *v = (*env)->GetIntArrayElements(env, tokens, NULL);
    if (!v) return;
    int st =
        lfm2moe_decode_step((lfm2moe_session *)(intptr_t)h, (const int32_t *)v, n, (uint32_t)flags);
    (*env)->ReleaseIntArrayElements(env, tokens, v, JNI_ABORT);
    check(env, st);
}

/* Copy the logits of token `index` into out (n_vocab floats). */
JNIFN(void, logits)(JNIEnv *env, jclass cls, jlong h, jint index, jfloatArray out) {
    (void)cls;
    if (closed(env, h)) return;
    const float *row = NULL;
    if (check(env, lfm2moe_session_logits((const lfm2moe_session *)(intptr_t)h, index, &row)))
        return;
    (*env)->SetFloatArrayRegion(env, out, 0, (*env)->GetArrayLength(env, out), row);
}

/* A direct ByteBuffer over the session's own logits (no copy); valid until
 * the next decode/reset/close of the session. */
JNIFN(jobject, logitsBuffer)(JNIEnv *env, jclass cls, jlong h, jint index, jint n_vocab) {
    (void)cls;
    if (closed(env, h)) return NULL;
    const float *row = NULL;
    if (check(env, lfm2moe_session_logits((const lfm2moe_session *)(intptr_t)h, index, &row)))
        return NULL;
    return (*env)->NewDirectByteBuffer(env, (void *)row, (jlong)n_vocab * (jlong)sizeof(float));
}

/* ---- session history: rewind, tokens, snapshots, copies --------------- */

JNIFN(jintArray, sessionTokens)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
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
    if (!closed(env, h)) check(env, lfm2moe_session_rewind((lfm2moe_session *)(intptr_t)h, pos));
}

/* same: the source's parameters; else the given ones. */
JNIFN(jlong, sessionCopy)
(JNIEnv *env, jclass cls, jlong h, jboolean same, jint n_ctx, jint n_threads, jint n_batch,
 jlong max_memory, jint kv_type, jint interval) {
    (void)cls;
    if (closed(env, h)) return 0;
    lfm2moe_session_params sp =
        session_params(n_ctx, n_threads, n_batch, max_memory, kv_type, interval);
    lfm2moe_session *out = NULL;
    if (check(env,
              lfm2moe_session_copy((const lfm2moe_session *)(intptr_t)h, same ? NULL : &sp, &out)))
        return 0;
    return (jlong)(intptr_t)out;
}

static int save_fill(const void *ctx, char *buf, size_t size, size_t *len) {
    return lfm2moe_session_save(ctx, buf, size, len);
}

JNIFN(jbyteArray, sessionSave)(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    if (closed(env, h)) return NULL;
    const lfm2moe_session *s = (const lfm2moe_session *)(intptr_t)h;
    size_t len = 0;
    if (check(env, lfm2moe_session_save(s, NULL, 0, &len))) return NULL;
    return fill_bytes(env, save_fill, s, len);
}

JNIFN(void, sessionLoad)(JNIEnv *env, jclass cls, jlong h, jbyteArray data) {
    (void)cls;
    if (closed(env, h)) return;
    jsize n = (*env)->GetArrayLength(env, data);
    jbyte *d = (*env)->GetByteArrayElements(env, data, NULL);
    if (!d) return; /* OutOfMemoryError pending */
    int st = lfm2moe_session_load((lfm2moe_session *)(intptr_t)h, d, (size_t)n);
    if (st) throw_status(env, st);
    (*env)->ReleaseByteArrayElements(env, data, d, JNI_ABORT);
}

/* save = 1: lfm2moe_session_save_file, else _load_file. */
JNIFN(void, sessionFile)(JNIEnv *env, jclass cls, jlong h, jbyteArray path, jboolean save) {
    (void)cls;
    if (closed(env, h)) return;
    char *p = bytes_dup(env, path, NULL);
    if (!p) return;
    lfm2moe_session *s = (lfm2moe_session *)(intptr_t)h;
    int st = save ? lfm2moe_session_save_file(s, p) : lfm2moe_session_load_file(s, p);
    free(p);
    check(env, st);
}
