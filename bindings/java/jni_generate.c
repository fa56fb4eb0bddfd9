/* JNI: lfm2moe_generate with streaming to a Session.Sink. */
#include "jni_common.h"

#include <stdlib.h>
#include <string.h>

/* ---- generation --------------------------------------------------------- */

/* Float sampling fields in the order of GenerationParams: temperature,
 * top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty. */
enum {
    N_FPARAMS = 6,
    N_IPARAMS = 5
}; /* ints: max_tokens, top_k, penalty_last_n, flags,
                                          reasoning_budget */

JNIFN(void, generateDefaults)
(JNIEnv *env, jclass cls, jfloatArray f, jintArray i, jlongArray seed) {
    (void)cls;
    lfm2moe_generate_params gp;
    if (check(env, lfm2moe_generate_params_init(&gp))) return;
    const lfm2moe_sampling_params *s = &gp.sampling;
    jfloat fv[N_FPARAMS] = {s->temperature,       s->top_p,           s->min_p, s->repeat_penalty,
                            s->frequency_penalty, s->presence_penalty};
    jint iv[N_IPARAMS] = {gp.max_tokens, s->top_k, s->penalty_last_n, (jint)gp.flags,
                          gp.reasoning_budget};
    jlong sv = (jlong)s->seed;
    (*env)->SetFloatArrayRegion(env, f, 0, N_FPARAMS, fv);
    (*env)->SetIntArrayRegion(env, i, 0, N_IPARAMS, iv);
    (*env)->SetLongArrayRegion(env, seed, 0, 1, &sv);
}

typedef struct stream_ctx {
    jobject sink;
} stream_ctx;

/* Hand a piece to the sink: Sink.piece(bytes, token) for part < 0, else
 * Sink.part(part, bytes, token).  Non-zero stops the generation. */
static int to_sink(stream_ctx *c, int part, const char *piece, size_t len, int32_t token) {
    JNIEnv *env = NULL;
    /* The library calls back on the thread that called generate, which is
     * attached; attach anyway should that ever change. */
    if ((*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK &&
        (*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, NULL) != JNI_OK)
        return 1;
    if ((*env)->ExceptionCheck(env)) return 1;
    /* whole UTF-8 characters, as bytes: decoded in Java (see jni_common.h) */
    jbyteArray b = bytes_new(env, piece, len);
    if (!b) return 1;
    jboolean go =
        part < 0 ? (*env)->CallBooleanMethod(env, c->sink, g_sink_piece, b, (jint)token)
                 : (*env)->CallBooleanMethod(env, c->sink, g_sink_part, (jint)part, b, (jint)token);
    (*env)->DeleteLocalRef(env, b);
    /* An exception stays pending and is thrown when generate returns. */
    if ((*env)->ExceptionCheck(env)) return 1;
    return go ? 0 : 1;
}

static int on_piece(void *user_data, const char *piece, size_t len, int32_t token) {
    return to_sink(user_data, -1, piece, len, token);
}

static int on_part(void *user_data, int part, const char *piece, size_t len, int32_t token) {
    return to_sink(user_data, part, piece, len, token);
}

/* Returns {stop_reason, n_prompt_tokens, n_generated, prompt_seconds,
 * generate_seconds, n_prompt_reused, n_reasoning}.  grammar: a Grammar
 * handle or 0. */
JNIFN(jdoubleArray, generate)
(JNIEnv *env, jclass cls, jlong h, jintArray prompt, jint max_tokens, jfloatArray fparams,
 jintArray iparams, jlong seed, jobjectArray stops, jintArray bias_tokens, jfloatArray bias_values,
 jlong grammar, jobject sink) {
    (void)cls;
    if (closed(env, h)) return NULL;
    lfm2moe_generate_params gp;
    if (check(env, lfm2moe_generate_params_init(&gp))) return NULL;
    jfloat fv[N_FPARAMS];
    jint iv[N_IPARAMS];
    (*env)->GetFloatArrayRegion(env, fparams, 0, N_FPARAMS, fv);
    (*env)->GetIntArrayRegion(env, iparams, 0, N_IPARAMS, iv);
    if ((*env)->ExceptionCheck(env)) return NULL;
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
    gp.reasoning_budget = iv[4];
    gp.sampling.grammar = (const lfm2moe_grammar *)(intptr_t)grammar;
    gp.sampling.seed = (uint64_t)seed;

    size_t n_stops = 0;
    char **stop_v = strings_dup(env, stops, &n_stops);
    if (!stop_v) return NULL;
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
        gp.part_callback = on_part;
        gp.user_data = &ctx;
    }
    jsize n_prompt = prompt ? (*env)->GetArrayLength(env, prompt) : 0;
    jint *pv = n_prompt ? (*env)->GetIntArrayElements(env, prompt, NULL) : NULL;

    lfm2moe_generate_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    int st = LFM2MOE_ERR_OUT_OF_MEMORY;
    if (!n_prompt || pv)
        st = lfm2moe_generate((lfm2moe_session *)(intptr_t)h, (const int32_t *)pv, (size_t)n_prompt,
                              &gp, &res);
    /* Read the detail now, before any other library call on this thread. */
    if (st != LFM2MOE_OK) throw_status(env, st);

    if (pv) (*env)->ReleaseIntArrayElements(env, prompt, pv, JNI_ABORT);
    if (bt) (*env)->ReleaseIntArrayElements(env, bias_tokens, bt, JNI_ABORT);
    if (bv) (*env)->ReleaseFloatArrayElements(env, bias_values, bv, JNI_ABORT);
    strings_free(stop_v, n_stops);
    if ((*env)->ExceptionCheck(env)) return NULL;

    jdouble out[7] = {res.stop_reason,    res.n_prompt_tokens,  res.n_generated,
                      res.prompt_seconds, res.generate_seconds, res.n_prompt_reused,
                      res.n_reasoning};
    jdoubleArray a = (*env)->NewDoubleArray(env, 7);
    if (a) (*env)->SetDoubleArrayRegion(env, a, 0, 7, out);
    return a;
}
