/* Fuzz target: a GGUF image from untrusted bytes.  Loading must either fail
 * with a status or give a model every query, a tiny session and the
 * tokenizer can use without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every introspection call on a loaded model. */
static void query_model(const lfm2moe_model *m) {
    lfm2moe_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (lfm2moe_model_get_info(m, &info) != LFM2MOE_OK)
        abort(); /* a loaded model always describes itself */
    for (int32_t b = 0; b < info.n_block; b++) {
        int32_t op = -1, ffn = -1;
        if (lfm2moe_model_block_kind(m, b, &op, &ffn) != LFM2MOE_OK) abort();
    }
    const char *arch = NULL;
    (void)lfm2moe_model_architecture(m, &arch);
    uint64_t n_meta = 0;
    (void)lfm2moe_model_meta_count(m, &n_meta);
    for (uint64_t i = 0; i < n_meta && i < 64; i++) {
        const char *key = NULL;
        if (lfm2moe_model_meta_key(m, i, &key) != LFM2MOE_OK) abort();
        char small[16];
        size_t needed = 0;
        (void)lfm2moe_model_meta_string(m, key, small, sizeof small, &needed);
        if (needed < (1u << 20)) {
            char *full = malloc(needed + 1);
            if (full && lfm2moe_model_meta_string(m, key, full, needed + 1, NULL) != LFM2MOE_OK)
                abort();
            free(full);
        }
    }
    for (uint64_t i = 0; i < info.n_tensors && i < 256; i++) {
        lfm2moe_tensor_info ti;
        memset(&ti, 0, sizeof ti);
        ti.struct_size = sizeof ti;
        if (lfm2moe_model_tensor_info(m, i, &ti) != LFM2MOE_OK) abort();
    }
}

/* Tokenize a short text with special tokens and decode what fits. */
static void use_vocab(const lfm2moe_model *m, lfm2moe_session *s) {
    static const char text[] = "<|im_start|>user\nHi \xc3\xa9 123<|im_end|>\xff";
    int32_t toks[64];
    size_t n = 0;
    if (lfm2moe_tokenize(m, text, sizeof text - 1,
                         LFM2MOE_TOKENIZE_ADD_BOS | LFM2MOE_TOKENIZE_PARSE_SPECIAL, toks, 64,
                         &n) != LFM2MOE_OK)
        return;
    char out[512];
    size_t len = 0;
    (void)lfm2moe_detokenize(m, toks, n, out, sizeof out, &len);
    if (s && n > 0) (void)lfm2moe_decode_step(s, toks, n > 4 ? 4 : (int32_t)n, 0);
    char tmpl[512];
    const char *roles[] = {"system", "user"}, *contents[] = {"s", "u"};
    (void)lfm2moe_chat_render(m, roles, contents, 2, NULL, 0, LFM2MOE_CHAT_ADD_GENERATION_PROMPT,
                              tmpl, sizeof tmpl, &len);
}

/* Greedy generation pushed to the highest token id (the edge of every
 * per-token table: logits, vocabulary pieces and attributes). */
static void generate(lfm2moe_session *s, int32_t n_vocab) {
    lfm2moe_generate_params gp;
    lfm2moe_generate_params_init(&gp);
    gp.max_tokens = 3;
    gp.sampling.temperature = 0;
    int32_t last = n_vocab - 1;
    float bias = 1e4f;
    gp.sampling.logit_bias_tokens = &last;
    gp.sampling.logit_bias_values = &bias;
    gp.sampling.n_logit_bias = 1;
    lfm2moe_generate_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    int st = lfm2moe_generate(s, NULL, 0, &gp, &res);
    /* a status, whatever it is (no tokenizer: NOT_FOUND; fuzzed weights can
     * make every logit NaN: INVALID_ARGUMENT from the sampler) but a bug */
    if (st > 0 || st == LFM2MOE_ERR_INTERNAL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t empty[1];
    lfm2moe_model *m = NULL;
    if (lfm2moe_model_load_from_memory(size ? data : empty, size, NULL, &m) != LFM2MOE_OK) {
        if (m) abort(); /* failure must leave *out NULL */
        return 0;
    }
    query_model(m);

    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 8;
    sp.n_threads = 1;
    sp.max_memory = 64u << 20; /* metadata may ask for huge scratch: the cap must refuse it */
    uint64_t need = 0;
    if (lfm2moe_session_memory_size(m, &sp, &need) != LFM2MOE_OK) abort();
    lfm2moe_session *s = NULL;
    int st = lfm2moe_session_create(m, &sp, &s);
    if (st == LFM2MOE_OK) {
        if (need > sp.max_memory) abort(); /* the cap was not enforced */
        lfm2moe_model_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        lfm2moe_model_get_info(m, &info);
        int32_t toks[2] = {0, info.n_vocab - 1};
        if (lfm2moe_decode_step(s, toks, 2, LFM2MOE_DECODE_ALL_LOGITS) != LFM2MOE_OK)
            abort(); /* valid ids in an empty context must decode */
        const float *logits = NULL;
        if (lfm2moe_session_logits(s, 0, &logits) != LFM2MOE_OK ||
            lfm2moe_session_logits(s, -1, &logits) != LFM2MOE_OK)
            abort();
        if (lfm2moe_decode_step(s, toks + 1, 1, 0) != LFM2MOE_OK) abort();
        int32_t bad = info.n_vocab;
        if (lfm2moe_decode_step(s, &bad, 1, 0) != LFM2MOE_ERR_TOKEN_OUT_OF_RANGE) abort();
        generate(s, info.n_vocab);
    } else if (s || (st != LFM2MOE_ERR_LIMIT && st != LFM2MOE_ERR_OUT_OF_MEMORY)) {
        abort();
    }
    use_vocab(m, s);
    lfm2moe_session_free(s);
    lfm2moe_model_free(m);
    return 0;
}
