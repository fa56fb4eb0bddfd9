/* Fuzz target: untrusted bytes as a session snapshot (lfm2moe_session_load)
 * into a session of tiny-a-f32.gguf (256 tokens, checkpoints every 4) and
 * into one of tiny-d-swa-f32.gguf whose sliding-window KV cache is a ring
 * (64 tokens, chunks of 8: a ring of 16 slots, checkpoints every 8).
 * Each input is tried twice: as it is, and with its last 8 bytes replaced
 * by the right checksum, so the fuzzer reaches the checks behind it.  A
 * refused input must leave the session exactly as it was (same tokens,
 * same tokens); an accepted one must give a session that decodes, rewinds,
 * and saves again (then the known state is restored).
 *
 * Seeds (corpus/session_load/seed-*): snapshots of tiny-a sessions holding
 * 0, 1, 5, 9 and 40 tokens, with checkpoint intervals 4 and 64, written
 * with lfm2moe_session_save_file, plus truncations of them; seed-swa-*:
 * snapshots of the ring session holding 10 tokens (format version 1) and
 * 40 tokens (the ring has wrapped: version 2), and truncations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"
#include "model/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A session the inputs are loaded into, and what it holds between them. */
typedef struct target {
    const char *model_path;
    int32_t n_ctx, n_batch, ckpt;
    lfm2moe_model *model;
    lfm2moe_session *session;
    int32_t n_vocab;
} target;

static target targets[2] = {
    {GOLDEN_DIR "/tiny-a-f32.gguf", 256, 0, 4, NULL, NULL, 0},
    {GOLDEN_DIR "/tiny-d-swa-f32.gguf", 64, 8, 8, NULL, NULL, 0},
};
static const int32_t held[3] = {5, 17, 300}; /* what a session holds between inputs */

/* Put the session in its known state: it holds `held`. */
static void known_state(target *t) {
    if (lfm2moe_session_reset(t->session) != LFM2MOE_OK ||
        lfm2moe_decode_step(t->session, held, 3, 0) != LFM2MOE_OK)
        abort();
}

static void setup(void) {
    if (targets[0].model) return;
    /* loaded once for the whole run (freed at exit by the OS) */
    for (int i = 0; i < 2; i++) {
        target *t = &targets[i];
        lfm2moe_session_params sp;
        lfm2moe_session_params_init(&sp);
        sp.n_ctx = t->n_ctx;
        sp.n_batch = t->n_batch;
        sp.n_threads = 1;
        sp.checkpoint_interval = t->ckpt;
        lfm2moe_model_info mi = {.struct_size = sizeof mi};
        if (lfm2moe_model_load(t->model_path, NULL, &t->model) != LFM2MOE_OK ||
            lfm2moe_session_create(t->model, &sp, &t->session) != LFM2MOE_OK ||
            lfm2moe_model_get_info(t->model, &mi) != LFM2MOE_OK) {
            fprintf(stderr, "fuzz_session_load: %s\n", lfm2moe_last_error());
            abort();
        }
        t->n_vocab = mi.n_vocab;
        known_state(t);
    }
}

static void expect_known_state(const target *t) {
    int32_t toks[4];
    size_t n = 0;
    if (lfm2moe_session_tokens(t->session, toks, 4, &n) != LFM2MOE_OK || n != 3 ||
        memcmp(toks, held, sizeof held))
        abort();
}

static void try_load(target *t, const uint8_t *data, size_t size) {
    lfm2moe_session *session = t->session;
    int st = lfm2moe_session_load(session, data, size);
    if (st != LFM2MOE_OK) {
        if (st != LFM2MOE_ERR_BAD_FORMAT && st != LFM2MOE_ERR_INVALID_ARGUMENT &&
            st != LFM2MOE_ERR_CONTEXT_FULL)
            abort();
        if (!lfm2moe_last_error()[0]) abort(); /* a refusal says why */
        expect_known_state(t);
        return;
    }
    /* accepted: a usable session */
    int32_t pos = -1;
    size_t n = 0;
    if (lfm2moe_session_position(session, &pos) != LFM2MOE_OK || pos < 0 || pos > t->n_ctx) abort();
    int32_t *toks = malloc((size_t)(pos ? pos : 1) * sizeof *toks);
    if (!toks || lfm2moe_session_tokens(session, toks, (size_t)pos, &n) != LFM2MOE_OK ||
        n != (size_t)pos)
        abort();
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= t->n_vocab) abort();
    free(toks);
    size_t len = 0;
    if (lfm2moe_session_save(session, NULL, 0, &len) != LFM2MOE_OK) abort();
    /* a wrapped ring may refuse a rewind whose window it dropped */
    st = lfm2moe_session_rewind(session, pos / 2);
    if (st != LFM2MOE_OK && st != LFM2MOE_ERR_INVALID_ARGUMENT) abort();
    const int32_t next = 7;
    if (pos < t->n_ctx && lfm2moe_decode_step(session, &next, 1, 0) != LFM2MOE_OK) abort();
    known_state(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup(); /* the sessions hold `held` (a refused load leaves them so) */
    for (int i = 0; i < 2; i++)
        try_load(&targets[i], data, size);
    if (size >= 8) {
        uint8_t *sealed = malloc(size);
        if (!sealed) return 0;
        memcpy(sealed, data, size);
        uint64_t sum = lfm_snapshot_checksum(sealed, size - 8);
        memcpy(sealed + size - 8, &sum, 8);
        for (int i = 0; i < 2; i++)
            try_load(&targets[i], sealed, size);
        free(sealed);
    }
    return 0;
}
