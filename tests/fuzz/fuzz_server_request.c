/* Fuzz target: the server's request parser (server/request.c and
 * chat_prompt.c), i.e. the JSON bodies of POST /v1/chat/completions (byte 0
 * even) and /v1/completions (odd).  A body is refused with an HTTP status
 * and a message, or accepted with a NUL-terminated prompt of the stated
 * length. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfm2moe.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfm2moe_model *model;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!model && lfm2moe_model_load(GOLDEN_DIR "/tiny-a-f32.gguf", NULL, &model) != LFM2MOE_OK) {
        fprintf(stderr, "fuzz_server_request: %s\n", lfm2moe_last_error());
        abort();
    }
    if (size < 1) return 0;
    request r;
    req_error err;
    req_kind kind = data[0] & 1 ? REQ_COMPLETION : REQ_CHAT;
    if (request_parse(model, kind, (const char *)data + 1, size - 1, &r, &err)) {
        if (err.http_status < 400 || err.http_status > 599 || !err.message[0]) abort();
        return 0;
    }
    if (!r.prompt || strlen(r.prompt) > r.prompt_len || r.n_stops > REQ_MAX_STOPS) abort();
    request_free(&r);
    return 0;
}
