/* The server's view of the library: N sessions (slots) over one model, the
 * tokens each holds, and one forward step over several slots at once.
 *
 * A step is one lfm2moe_decode_batch over every slot that has tokens (each
 * weight read serves them all); a new prompt keeps the longest prefix it
 * shares with what its slot holds (lfm2moe_session_rewind drops the rest),
 * so the next turn of a conversation evaluates only its new tokens. */
#ifndef LFM_SERVER_ENGINE_H
#define LFM_SERVER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "lfm2moe.h"

typedef struct engine engine;

typedef struct engine_item {
    int slot;
    const int32_t *tokens;
    int32_t n_tokens;
} engine_item;

/* n_ctx 0: the library default.  Returns a status (message via lfm2moe_last_error). */
int engine_open(const lfm2moe_model *model, int n_slots, int n_ctx, int n_threads, engine **out);
void engine_close(engine *e);
int32_t engine_n_ctx(const engine *e);

/* Tokens of `prompt` that slot could keep instead of evaluating them again. */
int32_t engine_reusable(const engine *e, int slot, const int32_t *prompt, int32_t n);
/* Make the slot hold exactly the reusable prefix of prompt (resetting it
 * otherwise); *n_keep gets its length (< n: one token at least is left to
 * evaluate, for its logits). */
int engine_prepare(engine *e, int slot, const int32_t *prompt, int32_t n, int32_t *n_keep);

/* Append items[i].tokens to their slots and run the model; status[i] gets
 * each one's result (a failed item leaves its slot as it was). */
void engine_step(engine *e, const engine_item *items, int n_items, int *status);
/* Logits of the last token of the slot's last step (n_vocab floats). */
const float *engine_logits(const engine *e, int slot);
/* Stop the slot's running step (any thread): it returns LFM2MOE_ERR_CANCELLED. */
void engine_cancel(engine *e, int slot);
/* Position of the slot (tokens held). */
int32_t engine_position(const engine *e, int slot);

#endif
