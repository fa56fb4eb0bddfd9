/* Fuzz target: untrusted bytes as a session snapshot (lfm2moe_session_load)
 * into a session of tiny-a-f32.gguf (256 tokens, checkpoints every 4).
 * Each input is tried twice: as it is, and with its last 8 bytes replaced
 * by the right checksum, so the fuzzer reaches the checks behind it.  A
 * refused input must leave the session exactly as it was (same tokens,
 * same tokens); an accepted one must give a session that decodes, rewinds,
 * and saves again (then the known state is restored).
 *
 * Seeds (corpus/session_load/seed-*): snapshots of tiny-a sessions holding
 * 0, 1, 5, 9 and 40 tokens, with checkpoint intervals 4 and 64, written
 * with lfm2moe_session_save_file, plus truncations of them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"
#include "model/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfm2moe_model *model;
static lfm2moe_session *session;
static int32_t n_vocab;
static const int32_t held[3] = {5, 17, 300}; /* what the session holds between inputs */

/* Put the session in its known state: it holds `held`. */
static void known_state(void) {
    if (lfm2moe_session_reset(session) != LFM2MOE_OK ||
        lfm2moe_decode_step(session, held, 3, 0) != LFM2MOE_OK)
        abort();
}

static void setup(void) {
    if (model)
        return;
    /* loaded once for the whole run (freed at exit by the OS) */
    lfm2moe_session_params sp;
    lfm2moe_session_params_init(&sp);
    sp.n_ctx = 256;
    sp.n_threads = 1;
    sp.checkpoint_interval = 4;
    lfm2moe_model_info mi = {.struct_size = sizeof mi};
    if (lfm2moe_model_load(GOLDEN_DIR "/tiny-a-f32.gguf", NULL, &model) != LFM2MOE_OK ||
        lfm2moe_session_create(model, &sp, &session) != LFM2MOE_OK ||
        lfm2moe_model_get_info(model, &mi) != LFM2MOE_OK) {
        fprintf(stderr, "fuzz_session_load: %s\n", lfm2moe_last_error());
        abort();
    }
    n_vocab = mi.n_vocab;
    known_state();
}

static void expect_known_state(void) {
    int32_t toks[4];
    size_t n = 0;
    if (lfm2moe_session_tokens(session, toks, 4, &n) != LFM2MOE_OK || n != 3 ||
        memcmp(toks, held, sizeof held))
        abort();
}

static void try_load(const uint8_t *data, size_t size) {
    int st = lfm2moe_session_load(session, data, size);
    if (st != LFM2MOE_OK) {
        if (st != LFM2MOE_ERR_BAD_FORMAT && st != LFM2MOE_ERR_INVALID_ARGUMENT &&
            st != LFM2MOE_ERR_CONTEXT_FULL)
            abort();
        if (!lfm2moe_last_error()[0])
            abort(); /* a refusal says why */
        expect_known_state();
        return;
    }
    /* accepted: a usable session */
    int32_t pos = -1;
    size_t n = 0;
    if (lfm2moe_session_position(session, &pos) != LFM2MOE_OK || pos < 0 || pos > 256)
        abort();
    int32_t *toks = malloc((size_t)(pos ? pos : 1) * sizeof *toks);
    if (!toks || lfm2moe_session_tokens(session, toks, (size_t)pos, &n) != LFM2MOE_OK ||
        n != (size_t)pos)
        abort();
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= n_vocab)
            abort();
    free(toks);
    size_t len = 0;
    if (lfm2moe_session_save(session, NULL, 0, &len) != LFM2MOE_OK)
        abort();
    if (lfm2moe_session_rewind(session, pos / 2) != LFM2MOE_OK)
        abort();
    const int32_t next = 7;
    if (pos < 256 && lfm2moe_decode_step(session, &next, 1, 0) != LFM2MOE_OK)
        abort();
    known_state();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup(); /* the session holds `held` (a refused load leaves it so) */
    try_load(data, size);
    if (size >= 8) {
        uint8_t *sealed = malloc(size);
        if (!sealed)
            return 0;
        memcpy(sealed, data, size);
        uint64_t sum = lfm_snapshot_checksum(sealed, size - 8);
        memcpy(sealed + size - 8, &sum, 8);
        try_load(sealed, size);
        free(sealed);
    }
    return 0;
}
