/* Shared by the JNI glue files (lfm2moe_jni_*.c) between ai.lfm2moe.Native
 * (Java) and liblfm2moe.so.
 *
 * Text crosses as byte[] holding UTF-8 and is converted in Java with
 * StandardCharsets.UTF_8 (NewStringUTF expects "modified UTF-8" and would
 * mangle NULs and characters outside the BMP).  Handles are jlong; the
 * Java classes check for closed (zero) handles before calling in, and every
 * native function re-checks so a bug cannot become a crash.  A failing
 * library call throws ai.lfm2moe.Lfm2MoeException(status, name, detail).
 * Classes and method ids are cached once in JNI_OnLoad (jni_common.c). */
#ifndef LFM2MOE_JNI_COMMON_H
#define LFM2MOE_JNI_COMMON_H

#include <jni.h>
#include <stddef.h>
#include <stdint.h>

#include "lfm2moe.h"

#define JNIFN(ret, name) JNIEXPORT ret JNICALL Java_ai_lfm2moe_Native_##name

extern JavaVM *g_vm;
extern jclass g_ise_cls;       /* java.lang.IllegalStateException */
extern jclass g_oom_cls;       /* java.lang.OutOfMemoryError */
extern jclass g_sink_cls;      /* ai.lfm2moe.Session$Sink */
extern jmethodID g_sink_piece; /* boolean piece(byte[] utf8, int token) */
extern jmethodID g_sink_part;  /* boolean part(int part, byte[] utf8, int token) */

/* byte[] of p[0..n) (NULL with OutOfMemoryError pending). */
jbyteArray bytes_new(JNIEnv *env, const char *p, size_t n);
/* byte[] of a C string (NULL: empty). */
jbyteArray cstr_new(JNIEnv *env, const char *s);
/* Throw Lfm2MoeException for a non-OK status (unless an exception is
 * already pending), with lfm2moe_last_error() read right away. */
void throw_status(JNIEnv *env, int st);
/* throw_status for a non-OK st; returns st. */
int check(JNIEnv *env, int st);
/* A zero handle means the Java object was closed: IllegalStateException. */
int closed(JNIEnv *env, jlong h);
/* byte[] -> NUL-terminated malloc'd copy; NULL with an exception. */
char *bytes_dup(JNIEnv *env, jbyteArray a, size_t *len);
/* byte[][] -> char*[] of NUL-terminated copies (NULL array: none). */
char **strings_dup(JNIEnv *env, jobjectArray arr, size_t *count);
void strings_free(char **v, size_t n);

/* The library's size protocol: try a buffer, on BUFFER_TOO_SMALL retry with
 * the stored size.  `call` fills buf; returns a byte[] of `*len` bytes. */
typedef int (*fill_fn)(const void *ctx, char *buf, size_t size, size_t *len);
jbyteArray fill_bytes(JNIEnv *env, fill_fn call, const void *ctx, size_t guess);

#endif
