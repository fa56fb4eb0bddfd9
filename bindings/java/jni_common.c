/* JNI_OnLoad / JNI_OnUnload and the helpers of jni_common.h. */
#include "jni_common.h"

#include <stdlib.h>
#include <string.h>

JavaVM *g_vm;
static jclass g_exc_cls;     /* ai.lfm2moe.Lfm2MoeException */
static jmethodID g_exc_ctor; /* (int status, byte[] name, byte[] message) */
jclass g_ise_cls;
jclass g_oom_cls;
jclass g_sink_cls;
jmethodID g_sink_piece;
jmethodID g_sink_part;

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (!local) return NULL;
    jclass g = (*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
    g_vm = vm;
    g_exc_cls = global_class(env, "ai/lfm2moe/Lfm2MoeException");
    g_ise_cls = global_class(env, "java/lang/IllegalStateException");
    g_oom_cls = global_class(env, "java/lang/OutOfMemoryError");
    g_sink_cls = global_class(env, "ai/lfm2moe/Session$Sink");
    if (!g_exc_cls || !g_ise_cls || !g_oom_cls || !g_sink_cls) return JNI_ERR;
    g_exc_ctor = (*env)->GetMethodID(env, g_exc_cls, "<init>", "(I[B[B)V");
    g_sink_piece = (*env)->GetMethodID(env, g_sink_cls, "piece", "([BI)Z");
    g_sink_part = (*env)->GetMethodID(env, g_sink_cls, "part", "(I[BI)Z");
    if (!g_exc_ctor || !g_sink_piece || !g_sink_part) return JNI_ERR;
    return JNI_VERSION_1_8;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return;
    (*env)->DeleteGlobalRef(env, g_exc_cls);
    (*env)->DeleteGlobalRef(env, g_ise_cls);
    (*env)->DeleteGlobalRef(env, g_oom_cls);
    (*env)->DeleteGlobalRef(env, g_sink_cls);
}

jbyteArray bytes_new(JNIEnv *env, const char *p, size_t n) {
    if (n > INT32_MAX) {
        (*env)->ThrowNew(env, g_oom_cls, "text longer than a Java array");
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
    if (a && n) (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)p);
    return a;
}

jbyteArray cstr_new(JNIEnv *env, const char *s) {
    return bytes_new(env, s ? s : "", s ? strlen(s) : 0);
}

/* Throw Lfm2MoeException for a non-OK status (unless an exception is already
 * pending).  Reads lfm2moe_last_error() right away, on the failing thread. */
void throw_status(JNIEnv *env, int st) {
    if ((*env)->ExceptionCheck(env)) return;
    jbyteArray msg = cstr_new(env, lfm2moe_last_error());
    jbyteArray name = cstr_new(env, lfm2moe_status_string(st));
    if (!msg || !name) return;
    jobject e = (*env)->NewObject(env, g_exc_cls, g_exc_ctor, (jint)st, name, msg);
    if (e) (*env)->Throw(env, (jthrowable)e);
}

int check(JNIEnv *env, int st) {
    if (st != LFM2MOE_OK) throw_status(env, st);
    return st;
}

/* A zero handle means the Java object was closed. */
int closed(JNIEnv *env, jlong h) {
    if (h) return 0;
    (*env)->ThrowNew(env, g_ise_cls, "handle is closed");
    return 1;
}

/* Copy a byte[] into a NUL-terminated malloc'd buffer (the C API wants
 * NUL-terminated strings in places).  NULL with an exception on failure. */
char *bytes_dup(JNIEnv *env, jbyteArray a, size_t *len) {
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
    if (len) *len = (size_t)n;
    return s;
}

/* byte[][] -> char*[] of NUL-terminated copies.  Freed by strings_free. */
char **strings_dup(JNIEnv *env, jobjectArray arr, size_t *count) {
    *count = 0;
    if (!arr) return calloc(1, sizeof(char *));
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

void strings_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

jbyteArray fill_bytes(JNIEnv *env, fill_fn call, const void *ctx, size_t guess) {
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
